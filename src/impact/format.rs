//! Number and text formatting shared by the report headline (`analysis`) and the HTML report
//! (`report`): four significant digits, p-values the way papers print them, HTML escaping.

/// A number with about four significant digits, no trailing zeros, never "-0".
pub(crate) fn number(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let magnitude = x.abs();
    if magnitude == 0.0 {
        return "0".into();
    }
    if !(1e-4..1e9).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 8) as usize;
    let text = format!("{x:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

/// A number with an explicit sign for positive values.
pub(crate) fn signed(x: f64) -> String {
    let text = number(x);
    if x > 0.0 && text != "0" {
        format!("+{text}")
    } else {
        text
    }
}

/// A fraction as a signed percentage with one decimal.
pub(crate) fn percent(fraction: f64) -> String {
    signed((fraction * 1000.0).round() / 10.0) + "%"
}

/// A p-value as it is written in a sentence: "p = 0.046", or "p < 0.001".
pub(crate) fn p_value(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}

/// Escape text for HTML and SVG element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (-1e-12, "-1.000e-12"),
            (1.0, "1"),
            (12.3456, "12.35"),
            (-0.012345, "-0.01235"),
            (1234.6, "1235"),
            (2.5e10, "2.500e10"),
            (f64::NAN, "n/a"),
        ];
        for (x, expected) in cases {
            assert_eq!(number(x), expected, "{x}");
        }
        assert_eq!(signed(0.5), "+0.5");
        assert_eq!(percent(-0.1534), "-15.3%");
        assert_eq!(p_value(0.0004), "p < 0.001");
        assert_eq!(p_value(0.04567), "p = 0.046");
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}

//! ISO 8601:2004 §4.4.3.2 durations as xAPI uses them (`result.duration`):
//! `P[nY][nM][nD][T[nH][nM][nS]]` or `PnW` alone. Called through `datatypes::is_duration`.

/// True for `PT1H0M0.1S`, `P3Y1M29DT4H35M59.14S`, `P4W`; false for the alternative format
/// (`P0003-01-29T...`), `P`, `PT`, `P4W1D`, signs and unknown designators. Only the lowest
/// component given may carry a decimal fraction, as ISO 8601 allows.
pub fn is_duration(value: &str) -> bool {
    let Some(mut rest) = value.strip_prefix('P') else {
        return false;
    };
    // Designators allowed before `T`, then after it, each at most once and in order.
    const DATE: &[u8] = b"YMD";
    const TIME: &[u8] = b"HMS";
    let mut allowed = DATE;
    let mut in_time = false;
    let mut components = 0;
    let mut fraction_seen = false;
    let mut weeks = false;

    while !rest.is_empty() {
        if let Some(after_t) = rest.strip_prefix('T') {
            if in_time || after_t.is_empty() {
                return false;
            }
            in_time = true;
            allowed = TIME;
            rest = after_t;
            continue;
        }
        let Some((has_fraction, designator, after)) = component(rest) else {
            return false;
        };
        if fraction_seen || weeks {
            // Nothing may follow a fractional component or a week count.
            return false;
        }
        if designator == b'W' {
            if components > 0 || in_time {
                return false;
            }
            weeks = true;
        } else {
            match allowed.iter().position(|d| *d == designator) {
                Some(i) => allowed = &allowed[i + 1..],
                None => return false,
            }
        }
        fraction_seen = has_fraction;
        components += 1;
        rest = after;
    }
    // A `T` with nothing after it was refused above, so only a bare `P` is left to refuse.
    components > 0
}

/// Reads `digits[.digits]designator`, returning whether a fraction was present. The
/// designator must be an ASCII letter: any other character (a multi-byte one included)
/// refuses the value, so the remainder is only ever sliced at a character boundary.
fn component(text: &str) -> Option<(bool, u8, &str)> {
    let bytes = text.as_bytes();
    let int_len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if int_len == 0 {
        return None;
    }
    let mut end = int_len;
    let mut has_fraction = false;
    if bytes.get(end) == Some(&b'.') {
        let frac_len = bytes[end + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if frac_len == 0 {
            return None;
        }
        end += 1 + frac_len;
        has_fraction = true;
    }
    let designator = *bytes.get(end).filter(|b| b.is_ascii_alphabetic())?;
    Some((has_fraction, designator, text.get(end + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::is_duration;

    #[test]
    fn accepts_the_durations_the_conformance_suite_sends() {
        for ok in [
            "PT1H0M0.1S",
            "PT4H35M59.14S",
            "PT16559.14S",
            "P3Y1M29DT4H35M59.14S",
            "P3Y",
            "P4W",
            "P1DT12H36M0.12567S",
            "PT0S",
            "P0D",
            "PT1.5H",
            "P1M",
            "PT1M",
        ] {
            assert!(is_duration(ok), "{ok} should be accepted");
        }
    }

    #[test]
    fn refuses_malformed_durations() {
        for (bad, why) in [
            ("PA1H0M0S", "unknown designator A"),
            ("should fail", "not a duration"),
            ("12345", "no P"),
            ("P4W1D", "weeks combined with days"),
            ("PT4W", "weeks after T"),
            ("P", "no component"),
            ("PT", "T without a time component"),
            ("P1DT", "T without a time component after a date"),
            ("P0003-01-29T04:35:59", "alternative format"),
            ("-PT1S", "negative"),
            ("PT-1S", "negative component"),
            ("P1H", "hours before T"),
            ("PT1D", "days after T"),
            ("P1M1Y", "components out of order"),
            ("PT1S1M", "time components out of order"),
            ("P1Y1Y", "component repeated"),
            ("PT1.5H2M", "fraction on a component that is not the lowest"),
            ("PT.5S", "fraction without integer digits"),
            ("PT1.S", "decimal point without digits"),
            ("PT1,5S", "comma decimal sign"),
            ("pt1s", "lower case"),
            ("PT1HT1M", "T twice"),
            ("", "empty"),
            ("P1é", "a multi-byte character as designator (once a panic)"),
            ("PT1.5€", "a three-byte character after a fraction"),
            ("P1😀D", "a four-byte character after the digits"),
            ("P1D\u{301}", "a combining mark after a component"),
            ("P١D", "non-ASCII digits"),
        ] {
            assert!(!is_duration(bad), "{bad:?} should be refused ({why})");
        }
    }
}

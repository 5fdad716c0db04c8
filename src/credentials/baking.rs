//! Baked badge images: an SVG showing the achievement, with the signed credential inside it
//! as the Open Badges 3.0 baking specification says (an `openbadges:credential` element in
//! the `https://purl.imsglobal.org/ob/v3p0` namespace, the credential as its CDATA text), so
//! the image alone is the credential. maud escapes the visible text.

use maud::{html, PreEscaped};
use serde_json::Value;

pub const OB3_NAMESPACE: &str = "https://purl.imsglobal.org/ob/v3p0";

/// The credential's JSON as CDATA content: a `]]>` inside is split across two sections.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// The SVG for `credential` (its achievement's name and its issuer's).
pub fn baked_svg(credential: &Value) -> String {
    let achievement = &credential["credentialSubject"]["achievement"];
    let name = achievement["name"].as_str().unwrap_or("Achievement");
    let issuer = credential["issuer"]["name"].as_str().unwrap_or("");
    // maud writes no namespaced names: the root tag and the credential element by hand.
    let open = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{OB3_NAMESPACE}" width="400" height="400" viewBox="0 0 400 400">"#
    );
    let baked = format!("<openbadges:credential>{}</openbadges:credential>", cdata(&credential.to_string()));
    let markup = html! {
        (PreEscaped(open))
        (PreEscaped(baked))
        title { (name) }
        circle cx="200" cy="200" r="190" fill="#1f4e79" {}
        circle cx="200" cy="200" r="165" fill="none" stroke="#f2c14e" stroke-width="6" {}
        text x="200" y="195" text-anchor="middle" font-family="sans-serif" font-size="26" fill="#ffffff" { (name) }
        text x="200" y="235" text-anchor="middle" font-family="sans-serif" font-size="16" fill="#f2c14e" { (issuer) }
        (PreEscaped("</svg>"))
    };
    markup.into_string()
}

/// The credential baked into an SVG, read back (what a wallet does).
pub fn unbake_svg(svg: &str) -> Option<Value> {
    let start = svg.find("<openbadges:credential>")? + "<openbadges:credential>".len();
    let end = start + svg[start..].find("</openbadges:credential>")?;
    let mut text = String::new();
    let mut rest = &svg[start..end];
    while let Some(open) = rest.find("<![CDATA[") {
        let body = &rest[open + 9..];
        let close = body.find("]]>")?;
        text.push_str(&body[..close]);
        rest = &body[close + 3..];
    }
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_baked_credential_reads_back_exactly_even_with_cdata_ends_and_markup_inside() {
        let credential = json!({"issuer": {"name": "<Acme> & co"}, "credentialSubject": {"achievement": {"name": "x ]]> <script>"}}});
        let svg = baked_svg(&credential);
        assert_eq!(unbake_svg(&svg), Some(credential));
        assert!(svg.contains("xmlns:openbadges=\"https://purl.imsglobal.org/ob/v3p0\""), "{svg}");
        assert!(svg.contains("&lt;Acme&gt; &amp; co"), "visible text is escaped: {svg}");
        assert_eq!(svg.matches("<script>").count(), 1, "only inside the CDATA section: {svg}");
        assert!(svg.ends_with("</svg>"), "{svg}");
    }
}

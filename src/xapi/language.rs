//! `Accept-Language` negotiation for the `canonical` format: RFC 7231 quality values and
//! RFC 4647 basic filtering, applied to one language map at a time. Built by the HTTP
//! layer from the header and used by `format::to_canonical_format`.

use serde_json::{Map, Value};

/// The language ranges a client accepts, best first. Without a header it accepts anything
/// and `pick` falls back to a fixed preference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcceptLanguage {
    /// Ranges with a quality above zero, best first (ties: specific before `*`, then in
    /// header order). Lowercase.
    wanted: Vec<String>,
    /// Ranges sent with `q=0`: tags the client refuses. Lowercase.
    refused: Vec<String>,
}

/// The fallback order when nothing the client asked for is present.
const FALLBACK: [&str; 2] = ["en-us", "en"];

impl AcceptLanguage {
    /// Parses the header value; malformed entries are skipped, as if not sent.
    pub fn parse(header: Option<&str>) -> AcceptLanguage {
        let mut weighted: Vec<(u16, bool, usize, String)> = Vec::new();
        let mut refused = Vec::new();
        let entries = header.unwrap_or("").split(',').map(str::trim).filter(|e| !e.is_empty());
        for (position, entry) in entries.enumerate() {
            let mut parts = entry.split(';').map(str::trim);
            let range = parts.next().unwrap_or("").to_ascii_lowercase();
            if !is_language_range(&range) {
                continue;
            }
            let mut quality = Some(1000);
            for parameter in parts {
                if let Some((name, value)) = parameter.split_once('=') {
                    if name.trim().eq_ignore_ascii_case("q") {
                        quality = parse_quality(value.trim());
                    }
                }
            }
            match quality {
                None => continue,
                Some(0) => refused.push(range),
                Some(q) => weighted.push((q, range == "*", position, range)),
            }
        }
        // Best quality first; at equal quality a named language beats `*`; then header order.
        weighted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let wanted = weighted.into_iter().map(|(_, _, _, range)| range).collect();
        AcceptLanguage { wanted, refused }
    }

    /// The one entry of a language map to return: the best match for the client's ranges
    /// (exact tag, then a tag the range is a prefix of, then the range shortened: `en-GB`
    /// finds `en-US` if nothing better exists), else `en-US`, else any `en`, else the first
    /// entry. `None` only for an empty map.
    pub fn pick<'a>(&self, map: &'a Map<String, Value>) -> Option<(&'a String, &'a Value)> {
        let allowed = |tag: &str| !self.refused.iter().any(|range| matches_range(range, tag));
        let find = |wanted: &str| -> Option<(&'a String, &'a Value)> {
            let tags = || map.iter().filter(|(tag, _)| allowed(tag));
            if wanted == "*" {
                return tags().next();
            }
            tags()
                .find(|(tag, _)| tag.eq_ignore_ascii_case(wanted))
                .or_else(|| tags().find(|(tag, _)| matches_range(wanted, tag)))
        };

        let shortened = self.wanted.iter().flat_map(|range| prefixes(range));
        self.wanted
            .iter()
            .map(String::as_str)
            .chain(shortened)
            .chain(FALLBACK)
            .find_map(find)
            .or_else(|| map.iter().find(|(tag, _)| allowed(tag)))
            .or_else(|| map.iter().next())
    }
}

/// RFC 4647 basic filtering: `en` matches `en` and `en-GB`, `*` matches everything.
fn matches_range(range: &str, tag: &str) -> bool {
    if range == "*" {
        return true;
    }
    let tag = tag.to_ascii_lowercase();
    tag == range || tag.strip_prefix(range).is_some_and(|rest| rest.starts_with('-'))
}

/// `zh-hant-cn` gives `zh-hant`, then `zh`.
fn prefixes(range: &str) -> impl Iterator<Item = &str> {
    range.char_indices().rev().filter(|(_, c)| *c == '-').map(move |(i, _)| &range[..i])
}

/// `*` or `1*8ALPHA *("-" 1*8alphanum)`.
fn is_language_range(range: &str) -> bool {
    if range == "*" {
        return true;
    }
    let mut subtags = range.split('-');
    let primary = subtags.next().unwrap_or("");
    let ok = |s: &str, alphanumeric: bool| {
        (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic() || (alphanumeric && b.is_ascii_digit()))
    };
    ok(primary, false) && subtags.all(|s| ok(s, true))
}

/// RFC 7231 `qvalue`: `0`, `1`, or up to three decimals; in thousandths.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn languages() -> Map<String, Value> {
        json!({"fr-FR": "fr", "en-US": "us", "en-GB": "gb", "de": "de"}).as_object().unwrap().clone()
    }

    fn picked(header: Option<&str>, map: &Map<String, Value>) -> Option<String> {
        AcceptLanguage::parse(header).pick(map).map(|(tag, _)| tag.clone())
    }

    #[test]
    fn picks_one_entry_per_the_header() {
        let cases = [
            ("exact tag", Some("en-GB"), "en-GB"),
            ("case-insensitive", Some("EN-gb"), "en-GB"),
            ("highest quality wins", Some("de;q=0.5, fr-FR;q=0.9"), "fr-FR"),
            ("header order breaks ties", Some("de, fr-FR"), "de"),
            ("prefix range", Some("fr"), "fr-FR"),
            ("unknown first, then known", Some("ja, de;q=0.1"), "de"),
            ("shortened range", Some("de-AT"), "de"),
            ("named range beats star", Some("*, de"), "de"),
            ("star takes the first allowed", Some("*, fr-FR;q=0"), "en-US"),
            ("no header", None, "en-US"),
            ("nothing matches", Some("ja"), "en-US"),
            ("refused fallback", Some("ja, en-US;q=0"), "en-GB"),
            ("malformed entries are ignored", Some("de;q=2, 12, fr-FR;q=0.8"), "fr-FR"),
        ];
        let map = languages();
        for (description, header, expected) in cases {
            assert_eq!(picked(header, &map).as_deref(), Some(expected), "{description}");
        }
    }

    #[test]
    fn falls_back_to_any_english_then_the_first_entry() {
        let english = json!({"fr": "fr", "en-AU": "au"}).as_object().unwrap().clone();
        let other = json!({"ja": "ja", "ko": "ko"}).as_object().unwrap().clone();
        let empty = Map::new();

        assert_eq!(picked(None, &english).as_deref(), Some("en-AU"));
        assert_eq!(picked(Some("de"), &other).as_deref(), Some("ja"));
        assert_eq!(picked(Some("ja;q=0, ko;q=0"), &other).as_deref(), Some("ja"), "one entry even if all refused");
        assert_eq!(picked(None, &empty), None);
    }

    #[test]
    fn quality_values_follow_rfc_7231() {
        for (text, expected) in [("1", Some(1000)), ("1.000", Some(1000)), ("0.5", Some(500)), ("0", Some(0))] {
            assert_eq!(parse_quality(text), expected, "{text}");
        }
        for bad in ["1.5", "0.1234", "2", "-0.1", "x", ".5"] {
            assert_eq!(parse_quality(bad), None, "{bad}");
        }
    }
}

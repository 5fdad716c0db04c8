//! The xAPI string data types (IRI, IRL, UUID, language tag, duration, mailto, hashes,
//! media types) as plain predicates. The JSON Schemas use them as custom formats, and the
//! HTTP layer uses them to check query parameter values the same way as statement values.

use oxilangtag::LanguageTag;
use oxiri::Iri;

pub use super::agents::validate_agent_param;
pub use super::duration::is_duration;

/// An absolute IRI (RFC 3987) with a scheme of the form `ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")`.
pub fn is_iri(value: &str) -> bool {
    // oxiri checks the scheme characters too; the explicit check keeps the rule visible.
    match value.split_once(':') {
        Some((scheme, _)) if is_scheme(scheme) => Iri::parse(value).is_ok(),
        _ => false,
    }
}

/// An absolute URI (RFC 3986): an IRI written in ASCII only, as `openid` requires.
pub fn is_uri(value: &str) -> bool {
    value.is_ascii() && is_iri(value)
}

/// An IRL: an IRI meant to be dereferenced. Locators cannot be checked without fetching
/// them, so the syntax is that of an absolute IRI.
pub fn is_irl(value: &str) -> bool {
    is_iri(value)
}

fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The canonical 8-4-4-4-12 hexadecimal UUID form, in either case and of any version.
pub fn is_canonical_uuid(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A well-formed RFC 5646 language tag without repeated variants or extension singletons
/// (RFC 5646 §2.2.5 and §2.2.6 forbid both; `oxilangtag` checks only the grammar), whose
/// primary language subtag has 2 or 3 letters: 4 letters are reserved and no 5-8 letter
/// subtag is registered, so `english-language` is well-formed but can never be valid.
pub fn is_language_tag(value: &str) -> bool {
    let Ok(tag) = LanguageTag::parse(value) else {
        return false;
    };
    if (4..=8).contains(&tag.primary_language().len()) {
        return false;
    }
    let variants: Vec<&str> = tag.variant_subtags().collect();
    let variants_distinct =
        variants.iter().enumerate().all(|(i, a)| variants[..i].iter().all(|b| !a.eq_ignore_ascii_case(b)));
    let singletons: Vec<char> = tag.extension_subtags().map(|(s, _)| s.to_ascii_lowercase()).collect();
    let singletons_distinct = singletons.iter().enumerate().all(|(i, a)| !singletons[..i].contains(a));
    variants_distinct && singletons_distinct
}

/// A `mailto:` IRI holding one e-mail address: `mailto:local@domain`.
pub fn is_mailto(value: &str) -> bool {
    let Some(address) = value.strip_prefix("mailto:") else {
        return false;
    };
    match address.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@') && is_iri(value),
        None => false,
    }
}

/// The hex SHA-1 of a `mailto:` IRI: 40 hexadecimal digits.
pub fn is_sha1_hex(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A hex SHA-2 digest: SHA-224, SHA-256, SHA-384 or SHA-512 (56, 64, 96 or 128 digits).
pub fn is_sha2_hex(value: &str) -> bool {
    matches!(value.len(), 56 | 64 | 96 | 128) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An Internet media type (RFC 7231 §3.1.1.1): `type/subtype *( OWS ";" OWS name=value )`,
/// where a value is a token or a quoted string.
pub fn is_media_type(value: &str) -> bool {
    let mut parts = value.splitn(2, ';');
    let essence = parts.next().unwrap_or_default().trim_end_matches([' ', '\t']);
    let well_formed_essence = match essence.split_once('/') {
        Some((kind, subtype)) => is_token(kind) && is_token(subtype),
        None => false,
    };
    well_formed_essence && parts.next().is_none_or(are_media_type_parameters)
}

fn are_media_type_parameters(mut rest: &str) -> bool {
    loop {
        let (name, after_name) = match rest.trim_start_matches([' ', '\t']).split_once('=') {
            Some(split) => split,
            None => return false,
        };
        if !is_token(name) {
            return false;
        }
        let (value_ok, remainder) = match after_name.strip_prefix('"') {
            Some(quoted) => match closing_quote(quoted) {
                Some(end) => (true, &quoted[end + 1..]),
                None => return false,
            },
            None => {
                let end = after_name.find(';').unwrap_or(after_name.len());
                let token = after_name[..end].trim_end_matches([' ', '\t']);
                (is_token(token), &after_name[end..])
            }
        };
        if !value_ok {
            return false;
        }
        match remainder.trim_start_matches([' ', '\t']).strip_prefix(';') {
            Some(next) => rest = next,
            None => return remainder.trim_start_matches([' ', '\t']).is_empty(),
        }
    }
}

/// The index of the quote ending a quoted string whose opening quote was already consumed.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `1.0` or `1.0.x`: the statement versions a 1.0.3 request may carry.
pub fn is_version_1_0(value: &str) -> bool {
    version_with_major(value, &["1"])
}

/// `1.0`, `1.0.x`, `2.0` or `2.0.x`: the statement versions a 2.0 request may carry.
pub fn is_version_1_0_or_2_0(value: &str) -> bool {
    version_with_major(value, &["1", "2"])
}

fn version_with_major(value: &str, majors: &[&str]) -> bool {
    let mut parts = value.split('.');
    let major_ok = parts.next().is_some_and(|m| majors.contains(&m));
    let minor_ok = parts.next() == Some("0");
    let patch_ok = parts.next().is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    major_ok && minor_ok && patch_ok && parts.next().is_none()
}

/// An ISO 8601 timestamp as xAPI accepts it (see `crate::xapi::time::parse_timestamp`).
pub fn is_timestamp(value: &str) -> bool {
    crate::xapi::time::parse_timestamp(value).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, predicate: fn(&str) -> bool, accepted: &[&str], refused: &[(&str, &str)]) {
        for value in accepted {
            assert!(predicate(value), "{name}: {value:?} should be accepted");
        }
        for (value, why) in refused {
            assert!(!predicate(value), "{name}: {value:?} should be refused ({why})");
        }
    }

    #[test]
    fn iris_need_a_valid_scheme_and_valid_syntax() {
        check(
            "is_iri",
            is_iri,
            &[
                "http://adlnet.gov/expapi/verbs/attempted",
                "https://example.com/path/../x?q=1#f",
                "urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
                "tag:example.com,2024:x",
                "http://例え.jp/引き続き",
                "a+b-c.d:x",
            ],
            &[
                ("", "empty"),
                ("open.id.com/testUser", "no scheme"),
                ("ab=c://should.fail.com", "'=' in the scheme"),
                ("1http://example.com", "scheme starts with a digit"),
                ("should fail", "no scheme, space"),
                ("http://exa mple.com", "space"),
                ("http://example.com/<x>", "angle brackets"),
                (":foo", "empty scheme"),
            ],
        );
        check("is_irl", is_irl, &["http://example.com/home"], &[("example.com/home", "no scheme")]);
    }

    #[test]
    fn uuids_must_be_canonical_in_either_case_and_any_version() {
        check(
            "is_canonical_uuid",
            is_canonical_uuid,
            &[
                "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
                "FD41C918-B88B-4B20-A0A5-A4C32391AAA0",
                "00000000-0000-0000-0000-000000000000",
                "fd41c918-b88b-1b20-a0a5-a4c32391aaa0",
            ],
            &[
                ("", "empty"),
                ("fd41c918-b88b-4b20-a0a5-a4c32391aaa01", "13 digits in the last group"),
                ("fd41c918-b88b-4b20-a0a5-a4c32391aaaM", "non-hex M"),
                ("fd41c918b88b4b20a0a5a4c32391aaa0", "no hyphens"),
                ("{fd41c918-b88b-4b20-a0a5-a4c32391aaa0}", "braces"),
                ("urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0", "urn form"),
                ("fd41c918-b88b4-b20-a0a5-a4c32391aaa0", "hyphen misplaced"),
            ],
        );
    }

    #[test]
    fn language_tags_follow_rfc_5646() {
        check(
            "is_language_tag",
            is_language_tag,
            &[
                "de",
                "en-GB",
                "en-US",
                "de-DE",
                "zh-Hant",
                "sr-Latn-RS",
                "cmn",
                "ase",
                "tlh",
                "es",
                "es-MX",
                "sr-Cyrl",
                "zh-Hans-CN",
                "ja",
                "fr-CA",
                "ja-JP",
                "ko-KR",
                "x-private",
                "de-CH-1901",
                "en-a-bbb-x-a-ccc",
                "i-klingon",
            ],
            &[
                ("", "empty"),
                ("something", "primary subtag longer than 8"),
                ("a12345678", "digits in the primary subtag"),
                ("zh-z-aaa-z-bbb-c-ccc", "singleton z repeated"),
                ("english-language", "5-8 letter primary subtags are not registered"),
                ("abcd", "4-letter primary subtags are reserved"),
                ("de-DE-1901-1901", "variant repeated"),
                ("en_US", "underscore"),
                ("en-", "trailing hyphen"),
            ],
        );
    }

    #[test]
    fn mailto_needs_the_scheme_and_an_address() {
        check(
            "is_mailto",
            is_mailto,
            &["mailto:a@example.com", "mailto:first.last+tag@sub.example.co.uk"],
            &[
                ("", "empty"),
                ("http://should.fail.com", "not mailto"),
                ("mailto:should.fail.com", "no @"),
                ("a@example.com", "no scheme"),
                ("mailto:@example.com", "no local part"),
                ("mailto:a@", "no domain"),
                ("mailto:a b@example.com", "space"),
            ],
        );
    }

    #[test]
    fn hashes_have_the_right_length_and_digits() {
        let sha1 = "a".repeat(40);
        let sha256 = "0123456789abcdefABCDEF".repeat(3)[..64].to_string();
        check("is_sha1_hex", is_sha1_hex, &[&sha1], &[(&sha1[..39], "39 digits"), ("g".repeat(40).leak(), "not hex")]);
        for len in [56, 64, 96, 128] {
            assert!(is_sha2_hex(&"f".repeat(len)), "sha2 of {len} digits should be accepted");
        }
        assert!(is_sha2_hex(&sha256), "mixed-case sha2 should be accepted");
        for (len, why) in [(0, "empty"), (40, "sha1 length"), (63, "one digit short"), (65, "one digit long")] {
            assert!(!is_sha2_hex(&"f".repeat(len)), "sha2 should be refused ({why})");
        }
        assert!(!is_sha2_hex(&"z".repeat(64)), "sha2 should be refused (not hex)");
    }

    #[test]
    fn media_types_have_a_type_a_subtype_and_well_formed_parameters() {
        check(
            "is_media_type",
            is_media_type,
            &[
                "application/octet-stream",
                "text/plain; charset=ascii",
                "text/plain;charset=\"utf-8\"",
                "application/vnd.example+json; a=1; b=\"x;y\"",
            ],
            &[
                ("", "empty"),
                ("12345", "no slash"),
                ("text/", "no subtype"),
                ("/plain", "no type"),
                ("text/plain; charset", "parameter without value"),
                ("text/plain; charset=\"utf-8", "unterminated quote"),
                ("text plain/x", "space in the type"),
            ],
        );
    }

    #[test]
    fn statement_versions_depend_on_the_request_version() {
        check(
            "is_version_1_0",
            is_version_1_0,
            &["1.0", "1.0.0", "1.0.3", "1.0.9", "1.0.17"],
            &[
                ("", "empty"),
                ("2.0.0", "2.0 under 1.0.3"),
                ("should fail", "not a version"),
                ("0.9.9", "too old"),
                ("1.1.0", "minor 1"),
                ("1.0.", "empty patch"),
                ("1.0.0.1", "four parts"),
                ("1", "major only"),
            ],
        );
        check(
            "is_version_1_0_or_2_0",
            is_version_1_0_or_2_0,
            &["1.0", "1.0.9", "2.0", "2.0.0", "2.0.12"],
            &[("3.0.0", "major 3"), ("2.1.0", "minor 1"), ("0.9.9", "too old"), ("2.0.x", "patch not digits")],
        );
    }

    #[test]
    fn timestamps_use_the_shared_iso_8601_parser() {
        check(
            "is_timestamp",
            is_timestamp,
            &["2013-05-18T05:32:34.804Z", "2013-05-18T05:32:34.804+00:00", "2011-07-15T00:00:00"],
            &[
                ("should fail", "not a date"),
                ("01/011/2015", "US style"),
                ("2013-05-18T05:32:34-00:00", "negative zero"),
                ("2011-07-15", "date only"),
            ],
        );
    }
}

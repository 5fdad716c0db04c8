//! Properties of the string data type predicates (`validation::datatypes`, durations
//! included), agent IFI normalisation, `Accept-Language` negotiation and JWS checks:
//! total over arbitrary Unicode, ASCII-only grammars refuse any non-ASCII character,
//! and generated well-formed values are accepted.

use fluency::validation::datatypes::*;
use fluency::xapi::agent::{ifi_key, normalize_mbox};
use fluency::xapi::language::AcceptLanguage;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::strategies::{config, json_value, non_ascii_char, text_near, unicode, with_non_ascii};

/// Cases per predicate; each case is a few microseconds.
const CASES: u32 = 5000;

const IRIS: &[&str] = &[
    "http://adlnet.gov/expapi/verbs/attempted",
    "https://example.com/path/../x?q=1#f",
    "urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
    "http://例え.jp/引き続き",
    "http://[::1]:80/a",
    "a+b-c.d:x%20y",
];
const UUIDS: &[&str] = &["fd41c918-b88b-4b20-a0a5-a4c32391aaa0", "FD41C918-B88B-4B20-A0A5-A4C32391AAA0"];
const TAGS: &[&str] = &["en-US", "zh-Hant-CN", "de-CH-1901", "en-a-bbb-x-a-ccc", "i-klingon", "x-private"];
const MAILTOS: &[&str] = &["mailto:a@example.com", "mailto:first.last+tag@sub.example.co.uk"];
const SHA1S: &[&str] = &["ABCDEF0123456789abcdef0123456789abcdef01"];
const SHA2S: &[&str] = &[
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef01234567",
];
const MEDIA_TYPES: &[&str] = &["text/plain; charset=\"utf-8\"", "application/vnd.example+json; a=1; b=\"x;y\""];
const VERSIONS: &[&str] = &["1.0", "1.0.3", "2.0.0", "2.0.12"];
const DURATIONS: &[&str] = &["P3Y1M29DT4H35M59.14S", "PT1.5H", "P4W", "PT0S", "P1DT12H36M0.12567S"];
const TIMESTAMPS: &[&str] =
    &["2013-05-18T05:32:34.804+05:30", "2013-05-18T05:32:34-0500", "2013-05-18T05:32Z", "2013-05-18T05:32:34"];

type Predicate = fn(&str) -> bool;

/// One property test per predicate: it returns, whatever the input.
macro_rules! total {
    ($($test:ident: $predicate:ident near $seeds:ident;)*) => {
        proptest! {
            #![proptest_config(config(CASES))]
            $(
                #[test]
                fn $test(value in text_near($seeds)) {
                    let _ = $predicate(&value);
                }
            )*
        }
    };
}

total! {
    is_iri_answers_for_any_unicode: is_iri near IRIS;
    is_uri_answers_for_any_unicode: is_uri near IRIS;
    is_irl_answers_for_any_unicode: is_irl near IRIS;
    is_canonical_uuid_answers_for_any_unicode: is_canonical_uuid near UUIDS;
    is_language_tag_answers_for_any_unicode: is_language_tag near TAGS;
    is_mailto_answers_for_any_unicode: is_mailto near MAILTOS;
    is_sha1_hex_answers_for_any_unicode: is_sha1_hex near SHA1S;
    is_sha2_hex_answers_for_any_unicode: is_sha2_hex near SHA2S;
    is_media_type_answers_for_any_unicode: is_media_type near MEDIA_TYPES;
    is_version_1_0_answers_for_any_unicode: is_version_1_0 near VERSIONS;
    is_version_1_0_or_2_0_answers_for_any_unicode: is_version_1_0_or_2_0 near VERSIONS;
    is_duration_answers_for_any_unicode: is_duration near DURATIONS;
    is_timestamp_answers_for_any_unicode: is_timestamp near TIMESTAMPS;
}

#[test]
fn every_seed_is_accepted_by_its_predicate() {
    let tables: [(&str, Predicate, &[&str]); 12] = [
        ("is_iri", is_iri, IRIS),
        ("is_canonical_uuid", is_canonical_uuid, UUIDS),
        ("is_language_tag", is_language_tag, TAGS),
        ("is_mailto", is_mailto, MAILTOS),
        ("is_sha1_hex", is_sha1_hex, SHA1S),
        ("is_sha2_hex", is_sha2_hex, SHA2S),
        ("is_media_type", is_media_type, MEDIA_TYPES),
        ("is_version_1_0_or_2_0", is_version_1_0_or_2_0, VERSIONS),
        ("is_duration", is_duration, DURATIONS),
        ("is_timestamp", is_timestamp, TIMESTAMPS),
        ("is_irl", is_irl, IRIS),
        ("is_uri", is_uri, &["http://adlnet.gov/expapi/verbs/attempted", "urn:x:y%C3%A9", "a+b-c.d:x%20y"]),
    ];
    for (name, predicate, seeds) in tables {
        for seed in seeds {
            assert!(predicate(seed), "{name} should accept its seed {seed:?}");
        }
    }
}

/// A well-formed duration: date components in order, then time components, the last one
/// possibly fractional; or weeks alone.
fn duration() -> impl Strategy<Value = String> {
    let component = || proptest::option::of(0u32..100_000);
    let weeks = (0u32..1000).prop_map(|w| format!("P{w}W"));
    let full = ([component(), component(), component()], [component(), component(), component()], 0u32..1000).prop_map(
        |(date, mut time, fraction)| {
            if date.iter().chain(&time).all(Option::is_none) {
                time[2] = Some(fraction);
            }
            let mut text = String::from("P");
            for (n, designator) in date.iter().zip(["Y", "M", "D"]) {
                if let Some(n) = n {
                    text.push_str(&format!("{n}{designator}"));
                }
            }
            if time.iter().any(Option::is_some) {
                text.push('T');
                for (n, designator) in time.iter().zip(["H", "M", "S"]) {
                    if let Some(n) = n {
                        text.push_str(&format!("{n}{designator}"));
                    }
                }
            }
            if fraction % 2 == 0 {
                // A fraction on the lowest component given.
                let last = text.pop().expect("a designator");
                text.push_str(&format!(".{fraction}{last}"));
            }
            text
        },
    );
    prop_oneof![1 => weeks, 4 => full]
}

/// Objects shaped like an Agent or Group: an optional objectType, some IFIs with values
/// near good ones, and perhaps members of the same shape.
fn agent_like() -> impl Strategy<Value = Value> {
    let ifi = prop_oneof![
        text_near(MAILTOS).prop_map(|v| ("mbox", Value::from(v))),
        text_near(SHA1S).prop_map(|v| ("mbox_sha1sum", Value::from(v))),
        text_near(IRIS).prop_map(|v| ("openid", Value::from(v))),
        (text_near(IRIS), unicode(8)).prop_map(|(home, name)| ("account", json!({"homePage": home, "name": name}))),
    ];
    let one =
        (proptest::option::of(proptest::sample::select(vec!["Agent", "Group"])), prop::collection::vec(ifi, 0..3))
            .prop_map(|(kind, ifis)| {
                let mut agent: Map<String, Value> = ifis.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                if let Some(kind) = kind {
                    agent.insert("objectType".into(), kind.into());
                }
                Value::Object(agent)
            });
    (one.clone(), proptest::option::of(prop::collection::vec(one, 0..3))).prop_map(|(mut agent, members)| {
        if let Some(members) = members {
            agent["member"] = Value::Array(members);
        }
        agent
    })
}

fn language_tag() -> impl Strategy<Value = String> {
    ("[a-z]{2,3}", proptest::option::of("[A-Z][a-z]{3}"), proptest::option::of("[A-Z]{2}|[0-9]{3}")).prop_map(
        |(language, script, region)| {
            let mut tag = language;
            for subtag in [script, region].into_iter().flatten() {
                tag.push('-');
                tag.push_str(&subtag);
            }
            tag
        },
    )
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn generated_durations_are_accepted_and_any_non_ascii_character_refuses_them(
        (valid, broken) in duration().prop_flat_map(|d| (Just(d.clone()), with_non_ascii(d)))
    ) {
        prop_assert!(is_duration(&valid), "{valid:?} should be accepted");
        prop_assert!(!is_duration(&broken), "{broken:?} should be refused");
    }

    #[test]
    fn canonical_uuids_in_either_case_are_accepted_and_non_ascii_refuses_them(
        (id, upper, broken) in any::<u128>().prop_flat_map(|n| {
            let id = uuid::Uuid::from_u128(n).hyphenated().to_string();
            (Just(id.clone()), Just(id.to_uppercase()), with_non_ascii(id))
        })
    ) {
        prop_assert!(is_canonical_uuid(&id) && is_canonical_uuid(&upper), "{id}");
        prop_assert!(!is_canonical_uuid(&broken), "{broken:?} should be refused");
    }

    #[test]
    fn hex_digests_of_the_right_length_are_accepted_and_non_ascii_refuses_them(
        bytes in prop::collection::vec(any::<u8>(), 64),
        at in any::<prop::sample::Index>(),
        intruder in non_ascii_char(),
    ) {
        let hex = hex::encode(bytes);
        prop_assert!(is_sha1_hex(&hex[..40]));
        for len in [56, 64, 96, 128] {
            prop_assert!(is_sha2_hex(&hex[..len]), "{len} digits");
        }
        let mut broken: Vec<char> = hex[..64].chars().collect();
        broken[at.index(64)] = intruder;
        let broken: String = broken.into_iter().collect();
        prop_assert!(!is_sha2_hex(&broken) && !is_sha1_hex(&broken), "{broken:?}");
    }

    #[test]
    fn simple_language_tags_are_accepted_and_every_accepted_tag_is_ascii(
        tag in language_tag(),
        any_tag in text_near(TAGS),
    ) {
        prop_assert!(is_language_tag(&tag), "{tag:?} should be accepted");
        prop_assert!(!is_language_tag(&any_tag) || any_tag.is_ascii(), "{any_tag:?} is not ASCII");
    }

    #[test]
    fn well_formed_mailto_iris_are_accepted_and_every_accepted_one_is_an_iri(
        local in "[a-z0-9][a-z0-9.+_-]{0,15}",
        domain in "[a-z0-9]{1,10}(\\.[a-z]{2,5}){1,2}",
        any_mailto in text_near(MAILTOS),
    ) {
        let mailto = format!("mailto:{local}@{domain}");
        prop_assert!(is_mailto(&mailto), "{mailto:?} should be accepted");
        prop_assert!(!is_mailto(&any_mailto) || is_iri(&any_mailto), "{any_mailto:?} is not an IRI");
    }

    #[test]
    fn iris_with_unicode_paths_are_accepted_and_uris_are_ascii_iris(
        host in "[a-z]{1,10}",
        path in "[a-z0-9éü例]{0,12}",
        any_iri in text_near(IRIS),
    ) {
        let iri = format!("http://{host}.example/{path}");
        prop_assert!(is_iri(&iri) && is_irl(&iri), "{iri:?} should be accepted");
        prop_assert_eq!(is_irl(&any_iri), is_iri(&any_iri));
        prop_assert!(!is_uri(&any_iri) || (is_iri(&any_iri) && any_iri.is_ascii()), "{:?}", any_iri);
    }

    #[test]
    fn media_types_built_from_tokens_are_accepted(
        kind in "[a-z]{1,8}",
        subtype in "[a-z0-9.+-]{1,12}",
        name in "[a-z]{1,8}",
        value in "[a-z0-9-]{1,8}|\"[a-z0-9 ;=/]{0,8}\"",
    ) {
        let media_type = format!("{kind}/{subtype}; {name}={value}");
        prop_assert!(is_media_type(&media_type), "{media_type:?} should be accepted");
    }

    #[test]
    fn versions_depend_on_the_major_and_refuse_non_ascii(
        patch in 0u32..1000,
        at in any::<prop::sample::Index>(),
        intruder in non_ascii_char(),
    ) {
        let one = format!("1.0.{patch}");
        let two = format!("2.0.{patch}");
        prop_assert!(is_version_1_0(&one) && is_version_1_0_or_2_0(&one));
        prop_assert!(!is_version_1_0(&two) && is_version_1_0_or_2_0(&two));
        let mut broken: Vec<char> = two.chars().collect();
        broken.insert(at.index(broken.len() + 1), intruder);
        let broken: String = broken.into_iter().collect();
        prop_assert!(!is_version_1_0_or_2_0(&broken), "{broken:?}");
    }

    #[test]
    fn mbox_normalisation_and_ifi_keys_answer_for_any_unicode(mbox in text_near(MAILTOS), sha1 in text_near(SHA1S)) {
        prop_assert!(normalize_mbox(&mbox).starts_with("mailto:"));
        for agent in [json!({"mbox": mbox}), json!({"mbox_sha1sum": sha1}), json!({"openid": mbox}),
                      json!({"account": {"homePage": mbox, "name": sha1}})] {
            prop_assert!(ifi_key(&agent).is_some(), "{agent}");
        }
    }

    #[test]
    fn agent_parameters_of_any_shape_are_answered_and_accepted_ones_have_a_key(
        agent in prop_oneof![json_value(), agent_like()],
        allow_group in any::<bool>(),
    ) {
        if validate_agent_param(&agent, allow_group).is_ok() {
            prop_assert!(ifi_key(&agent).is_some(), "accepted {} has no IFI key", agent);
        }
    }

    #[test]
    fn accept_language_picks_an_entry_of_any_non_empty_map(
        header in text_near(&["en-US, de;q=0.5, *;q=0.1", "fr-CA;q=0.9, fr;q=0", "zh-Hant-CN"]),
        tags in prop::collection::vec(text_near(TAGS), 0..4),
    ) {
        let map: Map<String, Value> = tags.into_iter().map(|tag| (tag, Value::from("x"))).collect();
        let picked = AcceptLanguage::parse(Some(&header)).pick(&map);
        prop_assert_eq!(picked.is_some(), !map.is_empty());
    }
}

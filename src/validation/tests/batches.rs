//! Request bodies: one statement or an array, error paths with indexes, duplicate ids,
//! and a timing check run on demand.

use std::time::Instant;

use serde_json::json;

use super::*;
use crate::validation::{parse_json, validate_statements};

#[test]
fn a_body_is_a_statement_or_an_array_of_statements() {
    for (why, body) in [
        ("one statement", base()),
        ("empty array", json!([])),
        ("two statements", json!([base(), with("/id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0"))])),
    ] {
        for version in BOTH {
            assert_eq!(validate_statements(&body, *version), Ok(()), "{why} under {version}");
        }
    }
}

#[test]
fn batch_errors_name_the_statement_index() {
    let cases = [
        ("not a statement", json!("statement"), "must be a statement object or an array of statement objects"),
        ("a number", json!(5), "must be a statement object or an array"),
        ("element not an object", json!([base(), 5]), "[1]: must be an object, not a number"),
        (
            "bad element",
            json!([base(), with("/actor/mbox", json!("a@example.com"))]),
            r#"[1].actor.mbox: must be a "mailto:" IRI"#,
        ),
        (
            "rust rule in element",
            json!([with("/result/score", json!({"scaled": 3}))]),
            "[0].result.score.scaled: must be between -1 and 1",
        ),
        (
            "same id twice, different case",
            json!([
                with("/id", json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0")),
                base(),
                with("/id", json!("FD41C918-B88B-4B20-A0A5-A4C32391AAA0"))
            ]),
            "[2].id: is used by another statement in the same request",
        ),
    ];
    for (why, body, expected) in cases {
        for version in BOTH {
            let error = validate_statements(&body, *version).expect_err(why).to_string();
            assert!(error.starts_with(expected), "{why} under {version}: expected {expected:?}, got {error:?}");
        }
    }
}

#[test]
fn a_single_statement_body_keeps_unprefixed_paths() {
    let error = validate_statements(&with("/verb", json!({})), XapiVersion::V2_0_0).unwrap_err();
    assert_eq!(error.to_string(), r#"verb: required property "id" is missing"#);
    assert_eq!(error.path, "verb");
}

/// A statement of about 1 KB, typical of what learning tools send.
fn kilobyte_statement() -> String {
    json!({
        "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "actor": {"objectType": "Agent", "name": "Team PB", "mbox": "mailto:teampb@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-GB": "attended", "en-US": "attended"}},
        "result": {"score": {"scaled": 0.6, "raw": 60, "min": 0, "max": 100}, "success": true, "completion": true,
                   "response": "We agreed on some example actions.", "duration": "PT1H0M0S"},
        "context": {
            "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
            "instructor": {"name": "Andrew Downes", "account": {"homePage": "http://www.example.com", "name": "13936749"}, "objectType": "Agent"},
            "contextActivities": {"parent": [{"id": "http://www.example.com/meetings/series/267", "objectType": "Activity"}],
                                  "category": [{"id": "http://www.example.com/meetings/categories/teammeeting", "objectType": "Activity",
                                                "definition": {"name": {"en": "team meeting"}, "type": "http://example.com/expapi/activities/meetingcategory"}}]},
            "platform": "Example virtual meeting software", "language": "tlh",
            "extensions": {"http://example.com/profiles/meetings/contextextensions/topic": "Example topic"}
        },
        "timestamp": "2013-05-18T05:32:34.804+00:00",
        "object": {"id": "http://www.example.com/meetings/occurances/34534",
                   "definition": {"name": {"en-GB": "example meeting", "en-US": "example meeting"},
                                  "description": {"en-US": "An example meeting that happened on a specific occasion."},
                                  "type": "http://adlnet.gov/expapi/activities/meeting", "moreInfo": "http://virtualmeeting.example.com/345256"},
                   "objectType": "Activity"}
    })
    .to_string()
}

/// Run with `cargo test --release --lib validation::tests::batches::timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing, run on demand in release mode"]
fn timing() {
    let text = kilobyte_statement();
    let statement = parse_json(text.as_bytes()).unwrap();
    let rounds = 50_000;
    for version in BOTH {
        assert_eq!(validate_statement(&statement, *version), Ok(()));
    }
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(serde_json::from_slice::<serde_json::Value>(text.as_bytes()).unwrap());
    }
    let plain = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(parse_json(text.as_bytes()).unwrap());
    }
    let strict = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let started = Instant::now();
    for _ in 0..rounds {
        validate_statement(std::hint::black_box(&statement), XapiVersion::V2_0_0).unwrap();
    }
    let validate = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let started = Instant::now();
    for _ in 0..rounds {
        crate::validation::schema::check_statement(std::hint::black_box(&statement), XapiVersion::V2_0_0).unwrap();
    }
    let schema_only = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!(
        "{} bytes: serde_json {plain:.2} µs, parse_json {strict:.2} µs, validate_statement {validate:.2} µs (schema {schema_only:.2} µs)",
        text.len()
    );
}

//! Properties of the strict JSON parser (`validation::parse_json`) on arbitrary bytes and
//! on broken JSON texts: it never panics, agrees with `serde_json` on every document
//! without a repeated key, and refuses everything else with a reason.

use fluency::validation::parse_json;
use proptest::prelude::*;
use serde_json::Value;

use crate::strategies::{config, json_value};

const CASES: u32 = 5000;

/// One byte-level change to a text.
fn mutated(text: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = text.len();
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4).prop_map(move |edits| {
        let mut bytes = text.clone();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => bytes[i] = byte,
                _ => bytes.truncate(i.max(len / 2)),
            }
        }
        bytes
    })
}

fn check_against_serde(bytes: &[u8]) -> Result<(), TestCaseError> {
    let reference = serde_json::from_slice::<Value>(bytes);
    match parse_json(bytes) {
        Ok(value) => {
            let reference = reference.map_err(|e| TestCaseError::fail(format!("serde_json refused it: {e}")))?;
            prop_assert_eq!(value, reference);
        }
        Err(error) if error.rule == "appears more than once" => {
            prop_assert!(!error.path.is_empty(), "a repeated key must be named");
        }
        Err(error) => {
            prop_assert!(reference.is_err(), "refused ({error}) what serde_json accepts");
            prop_assert!(error.rule.starts_with("is not well-formed JSON"), "{}", error);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn arbitrary_bytes_are_parsed_or_refused_like_serde_json(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        check_against_serde(&bytes)?;
    }

    #[test]
    fn broken_json_texts_are_parsed_or_refused_like_serde_json(
        bytes in json_value().prop_flat_map(|v| mutated(v.to_string().into_bytes()))
    ) {
        check_against_serde(&bytes)?;
    }

    #[test]
    fn every_generated_document_is_accepted_as_serde_json_reads_it(value in json_value()) {
        // Compared with serde_json's reading, not `value`: a float may come back one ULP off.
        let text = value.to_string();
        let reference: Value = serde_json::from_str(&text).expect("serde_json reads its own output");
        prop_assert_eq!(parse_json(text.as_bytes()).ok(), Some(reference));
    }
}

#[test]
fn deeply_nested_documents_are_refused_without_overflowing_the_stack() {
    for (description, body) in [
        ("arrays", "[".repeat(100_000)),
        ("objects", "{\"a\":".repeat(100_000)),
        ("closed arrays", format!("{}{}", "[".repeat(5000), "]".repeat(5000))),
    ] {
        let error = parse_json(body.as_bytes()).expect_err(description);
        assert!(error.rule.contains("not well-formed JSON"), "{description}: {error}");
    }
}

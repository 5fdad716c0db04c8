//! Result, score and duration.

use serde_json::{json, Value};

use super::*;

fn result(key: &str, value: Value) -> Value {
    with(&format!("/result/{key}"), value)
}

#[test]
fn result_properties_have_their_types() {
    accept_all(
        vec![
            (
                "full result",
                with(
                    "/result",
                    json!({
                        "score": {"scaled": 0.12123434, "raw": 12.125, "min": 0.12123434, "max": 45.45},
                        "success": true, "completion": false, "response": "We agreed", "duration": "PT1H0M0S",
                        "extensions": {"http://example.com/ext": null}
                    }),
                ),
            ),
            ("empty result", with("/result", json!({}))),
            ("empty score", result("score", json!({}))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "success as a string",
                result("success", json!("true")),
                "result.success: must be true or false, not a string",
            ),
            (
                "completion as a string",
                result("completion", json!("false")),
                "result.completion: must be true or false, not a string",
            ),
            ("response a number", result("response", json!(5)), "result.response: must be a string, not a number"),
            ("response an object", result("response", json!({})), "result.response: must be a string, not an object"),
            ("score a number", result("score", json!(5)), "result.score: must be an object, not a number"),
            ("score a string", result("score", json!("5")), "result.score: must be an object, not a string"),
            (
                "raw a string",
                result("score", json!({"raw": "100"})),
                "result.score.raw: must be a number, not a string",
            ),
            ("score extra", result("score", json!({"points": 1})), "result.score.points: is not an allowed property"),
            ("result extra", result("grade", json!("A")), "result.grade: is not an allowed property"),
            (
                "extensions key",
                result("extensions", json!({"example.com/extension/wrong": 1})),
                r#"result.extensions: key "example.com/extension/wrong" must be an absolute IRI"#,
            ),
            (
                "extensions an array",
                result("extensions", json!([])),
                "result.extensions: must be an object, not an array",
            ),
        ],
        BOTH,
    );
}

#[test]
fn score_values_respect_their_bounds() {
    accept_all(
        vec![
            ("scaled 1", result("score", json!({"scaled": 1}))),
            ("scaled -1", result("score", json!({"scaled": -1}))),
            ("raw at min", result("score", json!({"raw": 0, "min": 0, "max": 10}))),
            ("raw at max", result("score", json!({"raw": 10, "min": 0, "max": 10}))),
            ("raw with only max", result("score", json!({"raw": -5, "max": 10}))),
            ("negative raw and min", result("score", json!({"raw": -5, "min": -10}))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            ("scaled 1.01", result("score", json!({"scaled": 1.01})), "result.score.scaled: must be between -1 and 1"),
            (
                "scaled -1.00001",
                result("score", json!({"scaled": -1.00001})),
                "result.score.scaled: must be between -1 and 1",
            ),
            (
                "raw below min",
                result("score", json!({"raw": 1, "min": 2})),
                "result.score.raw: must not be less than min (2)",
            ),
            (
                "raw above max",
                result("score", json!({"raw": 11, "max": 10})),
                "result.score.raw: must not be greater than max (10)",
            ),
            (
                "min above max",
                result("score", json!({"min": 10, "max": 1})),
                "result.score.min: must be less than max (1)",
            ),
            (
                "min equal to max",
                result("score", json!({"min": 5, "max": 5})),
                "result.score.min: must be less than max",
            ),
        ],
        BOTH,
    );
}

#[test]
fn durations_are_iso_8601() {
    let accepted =
        ["PT1H0M0.1S", "PT4H35M59.14S", "PT16559.14S", "P3Y1M29DT4H35M59.14S", "P3Y", "P4W", "P1DT12H36M0.12567S"]
            .map(|d| (d, result("duration", json!(d))));
    accept_all(accepted.to_vec(), BOTH);
    refuse_all(
        vec![
            (
                "unknown designator",
                result("duration", json!("PA1H0M0S")),
                "result.duration: must be an ISO 8601 duration",
            ),
            ("words", result("duration", json!("should fail")), "result.duration: must be an ISO 8601 duration"),
            ("weeks and days", result("duration", json!("P4W1D")), "result.duration: must be an ISO 8601 duration"),
            ("bare P", result("duration", json!("P")), "result.duration: must be an ISO 8601 duration"),
            ("bare PT", result("duration", json!("PT")), "result.duration: must be an ISO 8601 duration"),
            (
                "alternative format",
                result("duration", json!("P0003-01-29T04:35:59")),
                "result.duration: must be an ISO 8601 duration",
            ),
            (
                "a multi-byte character after the digits (once a panic)",
                result("duration", json!("P1é")),
                "result.duration: must be an ISO 8601 duration",
            ),
            ("number", result("duration", json!(12345)), "result.duration: must be a string, not a number"),
            ("object", result("duration", json!({})), "result.duration: must be a string, not an object"),
        ],
        BOTH,
    );
}

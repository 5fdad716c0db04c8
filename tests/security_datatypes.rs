//! Issue #20, finding 2, against the real server: values that once made a datatype check
//! panic (a dropped connection) or slipped through must get a 400 JSON error naming the
//! field, and the server must go on answering.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::{statement, TestApp};
use reqwest::{Method, Response};
use serde_json::Value;

const VERB: &str = "http://adlnet.gov/expapi/verbs/attempted";

/// (description, JSON pointer, value, the error message must start with this).
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "a two-byte character after a duration's digits (once a panic)",
        "/result/duration",
        "P1é",
        "result.duration: must be an ISO 8601 duration",
    ),
    (
        "a three-byte character after a fraction (once a panic)",
        "/result/duration",
        "PT1.5€",
        "result.duration: must be an ISO 8601 duration",
    ),
    (
        "a four-byte character between components (once a panic)",
        "/result/duration",
        "PT1😀30M",
        "result.duration: must be an ISO 8601 duration",
    ),
    (
        "a no-break space padding the year (once accepted)",
        "/timestamp",
        "\u{a0}013-05-8T05:32:34+05",
        "timestamp: must be an ISO 8601 timestamp",
    ),
    ("a space padding the day (once accepted)", "/timestamp", "2013-05- 8T05:32:34Z", "timestamp: must be"),
    (
        "an instant whose UTC form is in year -1 (once stored unreadable)",
        "/timestamp",
        "0000-01-01T00:30+01:00",
        "timestamp: must be an ISO 8601 timestamp",
    ),
];

fn with_value(pointer: &str, value: &str) -> Value {
    let mut body = statement(VERB);
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let map = body.as_object_mut().expect("a statement object");
    let target = match parent {
        "" => map,
        _ => map
            .entry(parent.trim_start_matches('/'))
            .or_insert_with(|| serde_json::json!({}))
            .as_object_mut()
            .expect("an object"),
    };
    target.insert(key.into(), value.into());
    body
}

/// The response, or a failure saying the connection dropped (what a panic looks like).
async fn answered(description: &str, request: reqwest::RequestBuilder) -> Response {
    match request.send().await {
        Ok(response) => response,
        Err(error) => panic!("{description}: no answer, the connection dropped ({error})"),
    }
}

async fn assert_refused_naming(description: &str, response: Response, expected: &str) {
    assert_eq!(response.status(), 400, "{description}");
    let body: Value = response.json().await.unwrap_or_else(|e| panic!("{description}: not a JSON body ({e})"));
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(expected), "{description}: expected {expected:?} at the start of {body}");
}

async fn assert_still_answering(app: &TestApp, after: &str) {
    let response = answered(after, app.request(Method::GET, "about")).await;
    assert_eq!(response.status(), 200, "the server stopped answering after {after}");
}

#[tokio::test]
async fn each_once_fatal_or_lax_value_gets_a_400_naming_its_field_and_the_server_goes_on() {
    // Arrange
    let app = TestApp::spawn().await;

    for (description, pointer, value, expected) in CASES {
        // Act
        let response =
            answered(description, app.request(Method::POST, "statements").json(&with_value(pointer, value))).await;

        // Assert
        assert_refused_naming(description, response, expected).await;
        assert_still_answering(&app, description).await;
    }
    let valid = app.post_statements(&statement(VERB)).await;
    assert_eq!(valid.status(), 200, "a valid statement after the refused ones");
}

#[tokio::test]
async fn a_multipart_statement_with_a_fatal_duration_gets_a_400_naming_the_field() {
    // Arrange
    let app = TestApp::spawn().await;
    let json = with_value("/result/duration", "P1é").to_string();
    let body = format!("--b\r\nContent-Type: application/json\r\n\r\n{json}\r\n--b--\r\n");

    // Act
    let request = app
        .request(Method::POST, "statements")
        .header("Content-Type", "multipart/mixed; boundary=b")
        .body(body.into_bytes());
    let response = answered("multipart P1é", request).await;

    // Assert
    assert_refused_naming("multipart P1é", response, "result.duration: must be an ISO 8601 duration").await;
    assert_still_answering(&app, "multipart P1é").await;
}

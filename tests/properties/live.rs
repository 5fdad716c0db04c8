//! The statement and body generators, sent to the real server (`TestApp`, port 0): every
//! answer is a 2xx or a 4xx JSON error, never a dropped connection (a panic) or a 500, and a
//! refused field is named at the start of the error message. Fewer cases than the in-process
//! properties, since each one is an HTTP round trip and a database write.

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::statements::{field_and_text, with_field, FIELDS};
use crate::strategies::{config, text_near, unicode};

/// About 1 ms a case in a debug build (an HTTP round trip and a SQLite write).
const CASES: u32 = 1000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

/// Whether an error message starts with `field` (or a path below it) followed by the rule.
fn message_names(message: &str, field: &str) -> bool {
    message.strip_prefix(field).is_some_and(|rest| rest.starts_with([':', '.', '[']))
}

async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Value), TestCaseError> {
    let response = request.send().await.map_err(|e| TestCaseError::fail(format!("the connection dropped: {e}")))?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

#[test]
fn posted_statements_with_any_field_value_get_200_or_a_400_naming_the_field() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let mut runner = TestRunner::new(config(CASES));

    let outcome = runner.run(&(field_and_text(), any::<bool>()), |((index, text), two)| {
        let field = &FIELDS[index];
        let mut statement = with_field(field, &text);
        if field.pointer != "/id" {
            // A fresh id each time, so that no case conflicts with an earlier one.
            statement["id"] = Value::from(uuid::Uuid::new_v4().to_string());
        }
        let version = if two { "2.0.0" } else { "1.0.3" };
        let request = app.request(Method::POST, "statements").header("X-Experience-API-Version", version);
        let (status, body) = runtime.block_on(send(request.json(&statement)))?;
        let message = body["message"].as_str().unwrap_or_default();
        match status {
            200 => {}
            400 => prop_assert!(message_names(message, field.path), "{} = {:?}: {}", field.path, text, body),
            _ => prop_assert!(false, "{} = {:?} under {}: status {} {}", field.path, text, version, status, body),
        }
        Ok(())
    });

    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn any_content_type_and_body_gets_a_json_answer_below_500() {
    let runtime = runtime();
    let app = runtime.block_on(TestApp::spawn());
    let mut runner = TestRunner::new(config(CASES));
    let content_types = text_near(&["application/json", "multipart/mixed; boundary=abc", "text/plain"]);
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        unicode(64).prop_map(String::into_bytes),
        Just(b"--abc\r\nContent-Type: application/json\r\n\r\n{}\r\n--abc--".to_vec()),
    ];

    let outcome = runner.run(&(content_types, bodies), |(content_type, body)| {
        // reqwest refuses header values with control characters; those never reach a server.
        let Ok(header) = reqwest::header::HeaderValue::from_str(&content_type) else { return Ok(()) };
        let request = app.request(Method::POST, "statements").header("Content-Type", header).body(body.clone());
        let (status, answer) = runtime.block_on(send(request))?;
        prop_assert!(status < 500, "{:?} with {} bytes: status {} {}", content_type, body.len(), status, answer);
        if status >= 400 {
            prop_assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "no JSON error: {}", answer);
        }
        Ok(())
    });

    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

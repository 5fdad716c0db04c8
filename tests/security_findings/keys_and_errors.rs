//! Finding 7: the cursor key is its owner's alone and synced; `statements/read/mine`
//! fails closed; every admin API error is the documented JSON error.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use fluency::auth::{Principal, Scope};
use fluency::storage::StatementQuery;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{statement, TestApp};

#[tokio::test]
async fn the_cursor_key_file_is_readable_by_its_owner_only() {
    // Arrange and Act
    let app = TestApp::spawn().await;

    // Assert
    let keys = app.data_dir.path().join("cursor-keys.json");
    let mode = std::fs::metadata(&keys).expect("the key file exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {:o}", mode & 0o777);
    let file: Value = serde_json::from_slice(&std::fs::read(&keys).unwrap()).unwrap();
    assert!(file["keys"][0]["id"].as_str().is_some_and(|id| !id.is_empty()), "keys carry ids: {file}");
    assert!(!app.data_dir.path().join("cursor.key").exists());
}

#[tokio::test]
async fn a_read_mine_reader_without_an_identifier_sees_nothing() {
    // Arrange: a statement to hide, and a reader whose authority has no IFI.
    let app = TestApp::spawn().await;
    assert_eq!(app.post_statements(&statement("http://example.com/verbs/did")).await.status(), 200);
    let reader = Principal {
        key: "anonymous-reader".into(),
        scopes: vec![Scope::StatementsReadMine],
        authority: Arc::new(json!({"objectType": "Agent", "name": "no identifier"})),
    };

    // Act
    let page = app.statements.query_statements(&reader, &StatementQuery { limit: 10, ..Default::default() }).await;

    // Assert
    match page {
        Ok((statements, _)) => panic!("read/mine without an identifier saw {} statements", statements.len()),
        Err(error) => assert_eq!(error.status(), 403, "{error}"),
    }
}

#[tokio::test]
async fn admin_api_errors_are_json_naming_the_problem() {
    // Arrange
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4096).await;

    // Act
    let unknown_path = app.api(Method::GET, "no-such-endpoint").send().await.unwrap();
    let wrong_method = app.api(Method::DELETE, "outbox").send().await.unwrap();
    let too_large = app.api(Method::PUT, "rules/big").body("x".repeat(5000)).send().await.unwrap();
    let repeated = app.api(Method::GET, "outbox?status=pending&status=dead_letter").send().await.unwrap();
    let outside = app.client.get(format!("{}/nothing-here", app.address)).send().await.unwrap();

    // Assert
    for (what, response, status, code, names) in [
        ("an unknown path", unknown_path, 404, "not_found", "/api/no-such-endpoint"),
        ("a method the path lacks", wrong_method, 404, "not_found", "DELETE"),
        ("a body past max_body_bytes", too_large, 413, "payload_too_large", "max_body_bytes"),
        ("a repeated parameter", repeated, 400, "invalid_parameter", "status"),
        ("a path outside every API", outside, 404, "not_found", "/nothing-here"),
    ] {
        assert_eq!(response.status(), status, "{what}");
        let content_type = response.headers()["Content-Type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("application/json"), "{what}: {content_type}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{what}: {body}");
        assert!(body["message"].as_str().unwrap().contains(names), "{what}: {body}");
    }
}

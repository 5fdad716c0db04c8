//! Rules and delivery end to end, on the real binary: a rule's notification reaches a
//! signed webhook receiver that fails the first attempts, exactly once from the
//! receiver's view; a kill in the middle of the retries loses nothing; a dead letter is
//! listed and re-driven through the API.

use std::time::Duration;

use fluency::delivery::verify;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{basic, eventually, statement, ADMIN_KEY, ADMIN_SECRET};
use crate::process::{start_with_config, Server};
use crate::receiver::{reply, Receiver};

const SECRET: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
const RULE: &str = "//! name = \"hook-on-failure\"\n//! [trigger]\n//! verbs = [\"http://adlnet.gov/expapi/verbs/failed\"]\nnotify(\"lms-hook\", `failed: ${activity_id(statement)}`);\n";

/// A configuration with one signed webhook target and fast retries.
fn config(dir: &std::path::Path, url: &str, max_attempts: u32) -> std::path::PathBuf {
    let path = dir.join("fluency.toml");
    let text = format!(
        "[targets.lms-hook]\nkind = \"webhook\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         [delivery]\npoll_interval_ms = 50\n\
         [delivery.retry]\nbase_seconds = 0.2\ncap_seconds = 0.5\nmax_attempts = {max_attempts}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn call(server: &Server, method: Method, path: &str, body: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, server.api(path))
        .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET));
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    request.send().await.unwrap()
}

async fn post_failure(server: &Server) {
    let response = reqwest::Client::new()
        .post(format!("{}/statements", server.base))
        .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
        .header("X-Experience-API-Version", "1.0.3")
        .json(&statement(FAILED))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn outbox(server: &Server, status: &str) -> Vec<Value> {
    let body: Value = call(server, Method::GET, &format!("outbox?status={status}"), None).await.json().await.unwrap();
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_notification_survives_failures_and_a_kill_and_is_processed_once() {
    // Arrange: the receiver fails until told otherwise.
    let receiver = Receiver::start([], reply(503));
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &receiver.url, 50);
    let data = dir.path().join("data");
    let server = start_with_config(&data, Some(&config));
    assert_eq!(call(&server, Method::PUT, "rules/hook-on-failure", Some(RULE)).await.status(), 201);

    // Act: a failure is posted; after two failed attempts the server is killed.
    post_failure(&server).await;
    receiver.wait_for(2).await;
    server.kill();
    receiver.answer_otherwise(reply(200));
    let restarted = start_with_config(&data, Some(&config));

    // Assert
    let delivered = eventually(15, "the delivery after the restart", || async {
        let items = outbox(&restarted, "delivered").await;
        (!items.is_empty()).then_some(items)
    })
    .await;
    assert_eq!(receiver.processed(), 1, "one delivery from the receiver's view");
    let requests = receiver.state.requests.lock().unwrap();
    let key = delivered[0]["key"].as_str().unwrap();
    for request in requests.iter() {
        assert_eq!(request.headers["webhook-id"], key, "every attempt carries the same id");
        let (timestamp, signature) = (&request.headers["webhook-timestamp"], &request.headers["webhook-signature"]);
        let secret = fluency::delivery::WebhookSecret::parse(SECRET).unwrap();
        let now = timestamp.parse::<i64>().unwrap();
        verify(&secret, key, timestamp, signature, request.body.as_bytes(), now).expect("the signature verifies");
    }
    let body: Value = serde_json::from_str(&requests.last().unwrap().body).unwrap();
    assert_eq!(body["type"], "fluency.notify");
    assert_eq!(body["data"]["rule"], "hook-on-failure");
    assert!(requests.len() >= 3, "at least two failures before the kill and one success: {}", requests.len());
}

#[tokio::test]
async fn the_last_failed_attempt_dead_letters_and_a_redrive_delivers() {
    // Arrange
    let receiver = Receiver::start([], reply(500));
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &receiver.url, 3);
    let server = start_with_config(&dir.path().join("data"), Some(&config));
    call(&server, Method::PUT, "rules/hook-on-failure", Some(RULE)).await;

    // Act
    post_failure(&server).await;
    let dead = eventually(15, "the dead letter", || async {
        let items = outbox(&server, "dead_letter").await;
        (!items.is_empty()).then_some(items)
    })
    .await;
    let attempts_before_redrive = receiver.count();
    receiver.answer_otherwise(reply(200));
    let key = dead[0]["key"].as_str().unwrap().to_string();
    let redriven = call(&server, Method::POST, &format!("outbox/{key}/redrive"), None).await;
    let missing = call(&server, Method::POST, "outbox/no-such-key/redrive", None).await;

    // Assert
    assert_eq!(
        (dead[0]["attempts"].clone(), dead[0]["last_error"].as_str().unwrap().contains("500")),
        (json!(3), true)
    );
    assert_eq!(attempts_before_redrive, 3, "exactly max_attempts attempts before the dead letter");
    assert_eq!(redriven.status(), 200);
    assert_eq!(missing.status(), 404);
    eventually(15, "the re-driven delivery", || async { (receiver.processed() == 1).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 4, "one more attempt, then nothing");
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", server.base.trim_end_matches("/xapi")))
        .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("fluency_intents_dead_lettered_total 1"), "{metrics}");
    assert!(metrics.contains("fluency_intents_delivered_total 1"), "{metrics}");
}

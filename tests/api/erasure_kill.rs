//! Erasure interrupted by SIGKILL at random points: whatever the moment, once an erasure
//! was recorded the restarted server completes it (no statement, document or byte of the
//! person left); an erasure killed before it was recorded left everything, and is asked
//! again, as a client whose request failed would.

use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{basic, ADMIN_KEY, ADMIN_SECRET};
use crate::process::{start_with_config, Server};
use crate::scan::scan;

const ADA: &str = "ada.killed.erasure@example.com";
const STATEMENTS: usize = 3_000;
const RUNS: usize = 10;

fn client_request(client: &reqwest::Client, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    client
        .request(method, url)
        .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
        .header("X-Experience-API-Version", "1.0.3")
}

fn by(person: &str, n: usize) -> Value {
    json!({"actor": {"mbox": format!("mailto:{person}"), "name": "Ada Killed-Erasure"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}, "object": {"id": format!("https://lms.example.com/m/{n}")}})
}

async fn fill(client: &reqwest::Client, server: &Server) {
    for chunk in (0..STATEMENTS).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<Value> =
            chunk.iter().flat_map(|&n| [by(ADA, n), by(&format!("other-{}@example.com", n % 50), n)]).collect();
        let response = client_request(client, reqwest::Method::POST, format!("{}/statements", server.base))
            .json(&batch)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

fn erase_url(server: &Server) -> String {
    let agent = json!({"mbox": format!("mailto:{ADA}")}).to_string();
    format!(
        "{}?agent={}",
        server.api("people"),
        percent_encoding::utf8_percent_encode(&agent, percent_encoding::NON_ALPHANUMERIC)
    )
}

async fn ada_statements(client: &reqwest::Client, server: &Server) -> usize {
    let agent = json!({"mbox": format!("mailto:{ADA}")}).to_string();
    let response = client_request(client, reqwest::Method::GET, format!("{}/statements", server.base))
        .query(&[("agent", agent.as_str()), ("limit", "10")])
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    page["statements"].as_array().unwrap().len()
}

async fn erasure_recorded(client: &reqwest::Client, server: &Server) -> bool {
    let audit: Value =
        client_request(client, reqwest::Method::GET, server.api("audit")).send().await.unwrap().json().await.unwrap();
    audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "people.erase")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_killed_at_any_point_completes_on_restart() {
    let client = reqwest::Client::new();
    // How long an uninterrupted erasure takes: the kills fall within it.
    let calibration = tempfile::tempdir().unwrap();
    let server = start_with_config(calibration.path(), None);
    fill(&client, &server).await;
    let started = Instant::now();
    let answer = client_request(&client, reqwest::Method::DELETE, erase_url(&server)).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let duration = started.elapsed();
    server.kill();

    let mut interrupted_after_recording = 0;
    for run in 0..RUNS {
        let dir = tempfile::tempdir().unwrap();
        let server = start_with_config(dir.path(), None);
        fill(&client, &server).await;
        let delay = Duration::from_micros(rand::thread_rng().gen_range(0..=duration.as_micros() as u64 + 1));
        let request = client_request(&client, reqwest::Method::DELETE, erase_url(&server)).send();
        let _ = tokio::time::timeout(delay, request).await;
        server.kill();

        let server = start_with_config(dir.path(), None);
        let replay = client_request(&client, reqwest::Method::POST, format!("{}/statements", server.base))
            .json(&json!([by(ADA, 1_000_000 + run)]))
            .send()
            .await
            .unwrap();
        if replay.status() == StatusCode::FORBIDDEN {
            interrupted_after_recording += 1;
        } else {
            // Killed before the erasure was recorded: nothing was erased; ask again.
            assert_eq!(replay.status(), StatusCode::OK);
            assert!(ada_statements(&client, &server).await > 0, "run {run}: nothing is half-erased");
            let answer = client_request(&client, reqwest::Method::DELETE, erase_url(&server)).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !erasure_recorded(&client, &server).await {
            assert!(Instant::now() < deadline, "run {run} (killed after {delay:?}): the erasure did not complete");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(ada_statements(&client, &server).await, 0, "run {run}: no statement of Ada is left");
        server.kill();
        assert_eq!(scan(dir.path(), &[ADA.as_bytes()]), vec![], "run {run} (killed after {delay:?})");
    }
    assert!(
        interrupted_after_recording >= RUNS / 3,
        "only {interrupted_after_recording} of {RUNS} kills fell inside an erasure"
    );
}

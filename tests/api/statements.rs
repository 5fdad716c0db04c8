use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{statement, TestApp};

const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

fn fresh_verb() -> String {
    format!("http://example.com/verbs/{}", uuid::Uuid::new_v4())
}

async fn ids_of(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_posted_statement_comes_back_exactly_with_the_lrs_fields_added() {
    let app = TestApp::spawn().await;
    let sent = statement("http://adlnet.gov/expapi/verbs/attempted");

    let ids = ids_of(app.post_statements(&sent).await).await;
    let response = app.get_statement(&ids[0]).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-experience-api-version"], "1.0.3");
    assert!(response.headers().contains_key("x-experience-api-consistent-through"));
    assert!(response.headers().contains_key("last-modified"));
    let got: Value = response.json().await.unwrap();
    for key in ["actor", "verb", "object"] {
        assert_eq!(got[key], sent[key], "{key} must come back as sent");
    }
    assert_eq!(got["id"], ids[0].as_str());
    assert_eq!(got["version"], "1.0.0");
    assert_eq!(got["authority"]["account"]["name"], crate::helpers::ADMIN_KEY);
    assert_eq!(got["timestamp"], got["stored"], "a missing timestamp is set to stored");
}

#[tokio::test]
async fn an_invalid_statement_is_refused_naming_the_property_and_the_rule() {
    let app = TestApp::spawn().await;
    let mut bad = statement("http://adlnet.gov/expapi/verbs/attempted");
    bad["actor"]["mbox"] = json!("learner@example.com");

    let response = app.post_statements(&bad).await;

    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("actor.mbox"), "{body}");
    assert_eq!(body["code"], "invalid_statement");
}

#[tokio::test]
async fn a_batch_with_one_invalid_statement_stores_nothing() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::new_v4().to_string();
    let mut good = statement("http://adlnet.gov/expapi/verbs/attempted");
    good["id"] = json!(id);
    let mut bad = statement("http://adlnet.gov/expapi/verbs/attempted");
    bad["verb"] = json!({"display": {"en-US": "no id"}});

    let response = app.post_statements(&json!([good, bad])).await;

    assert_eq!(response.status(), 400);
    assert_eq!(app.get_statement(&id).await.status(), 404);
}

#[tokio::test]
async fn resending_an_id_is_accepted_when_equivalent_and_refused_when_different() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::new_v4().to_string();
    let original = statement("http://adlnet.gov/expapi/verbs/attempted");
    assert_eq!(app.put_statement(&id, &original).await.status(), 204);

    let replay = app.put_statement(&id, &original).await;
    let mut different = original.clone();
    different["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/passed");
    let conflict = app.put_statement(&id, &different).await;

    assert_eq!(replay.status(), 204);
    assert_eq!(conflict.status(), 409);
    let stored: Value = app.get_statement(&id).await.json().await.unwrap();
    assert_eq!(stored["verb"]["id"], "http://adlnet.gov/expapi/verbs/attempted");
}

#[tokio::test]
async fn a_voided_statement_is_hidden_but_reachable_by_voided_statement_id() {
    let app = TestApp::spawn().await;
    let target = ids_of(app.post_statements(&statement("http://adlnet.gov/expapi/verbs/attempted")).await).await;
    let mut voiding = statement(VOIDED);
    voiding["object"] = json!({"objectType": "StatementRef", "id": target[0]});

    ids_of(app.post_statements(&voiding).await).await;

    assert_eq!(app.get_statement(&target[0]).await.status(), 404);
    let voided = app.get_statements(&[("voidedStatementId", &target[0])]).await;
    assert_eq!(voided.status(), 200);
}

#[tokio::test]
async fn a_voiding_statement_that_arrives_first_still_voids_its_target() {
    let app = TestApp::spawn().await;
    let target_id = uuid::Uuid::new_v4().to_string();
    let mut voiding = statement(VOIDED);
    voiding["object"] = json!({"objectType": "StatementRef", "id": target_id});
    ids_of(app.post_statements(&voiding).await).await;

    assert_eq!(
        app.put_statement(&target_id, &statement("http://adlnet.gov/expapi/verbs/attempted")).await.status(),
        204
    );

    assert_eq!(app.get_statement(&target_id).await.status(), 404);
    assert_eq!(app.get_statements(&[("voidedStatementId", &target_id)]).await.status(), 200);
}

#[tokio::test]
async fn more_links_page_through_everything_once_even_while_statements_arrive() {
    let app = TestApp::spawn().await;
    let verb = fresh_verb();
    let batch: Vec<Value> = (0..7).map(|_| statement(&verb)).collect();
    let posted: HashSet<String> = ids_of(app.post_statements(&json!(batch)).await).await.into_iter().collect();

    let mut seen = Vec::new();
    let mut page: Value = app.get_statements(&[("verb", &verb), ("limit", "3")]).await.json().await.unwrap();
    loop {
        seen.extend(page["statements"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()));
        // Newer statements must not shift the pages being read.
        ids_of(app.post_statements(&statement(&verb)).await).await;
        let more = page["more"].as_str().unwrap_or("").to_string();
        if more.is_empty() {
            break;
        }
        assert!(more.starts_with("/xapi/statements/more/"), "{more}");
        // Followed without credentials or version header, as some clients do.
        let next = app.client.get(format!("{}{more}", app.address)).send().await.unwrap();
        assert_eq!(next.status(), 200);
        page = next.json().await.unwrap();
    }

    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), posted);
}

#[tokio::test]
async fn a_body_over_the_configured_limit_gets_413() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4096).await;
    let mut big = statement("http://adlnet.gov/expapi/verbs/attempted");
    big["result"] = json!({"response": "x".repeat(10_000)});

    let response = app.post_statements(&big).await;

    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("4096"), "{body}");
}

#[tokio::test]
async fn each_commit_is_announced_with_the_latest_stored_time() {
    let app = TestApp::spawn().await;
    let mut committed = app.statements.watch_committed();
    let before = *committed.borrow_and_update();

    let ids = ids_of(app.post_statements(&statement("http://adlnet.gov/expapi/verbs/attempted")).await).await;

    tokio::time::timeout(Duration::from_secs(5), committed.changed()).await.unwrap().unwrap();
    let announced = *committed.borrow();
    let stored = app.statements.store().find_statements(&[ids[0].parse().unwrap()]).await.unwrap()[0].stored;
    assert!(before < announced && announced == stored, "{before} {announced} {stored}");
}

#[tokio::test]
async fn the_2_0_line_converts_timestamps_to_utc_and_refuses_the_alternate_syntax() {
    let app = TestApp::spawn().await.with_version("2.0.0");
    let mut sent = statement("http://adlnet.gov/expapi/verbs/attempted");
    sent["timestamp"] = json!("2023-05-04T12:00:00-05:00");

    let ids = ids_of(app.post_statements(&sent).await).await;
    let got: Value = app.get_statement(&ids[0]).await.json().await.unwrap();
    let alternate = app
        .request(Method::POST, "statements?method=GET")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("limit=1")
        .send()
        .await
        .unwrap();

    assert_eq!(got["timestamp"], "2023-05-04T17:00:00.000Z");
    assert_eq!(got["version"], "2.0.0");
    assert_eq!(alternate.status(), 400);
}

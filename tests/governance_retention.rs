//! Retention and export against a live server: a dry run lists what a policy would delete
//! and deletes nothing; a run deletes exactly that (from every query, and its attachment
//! file), keeps the rest and is in the audit log; a pseudonymised export names nobody.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use fluency::config::RetentionPolicy;
use fluency::governance::retention::run_at;
use helpers::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const DAY: i64 = 86_400 * 1_000_000;

fn statement(person: &str, verb: &str, activity: &str) -> Value {
    json!({"actor": {"mbox": format!("mailto:{person}@example.com"), "name": person},
        "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")}, "object": {"id": activity}})
}

async fn stored_ids(app: &TestApp) -> Vec<String> {
    let page: Value = app.get_statements(&[("limit", "100")]).await.json().await.unwrap();
    page["statements"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_policy_deletes_only_what_its_dry_run_listed() {
    let app = TestApp::spawn().await;
    let body = json!([
        statement("ada", "experienced", "https://lms.example.com/old-course/1"),
        statement("bo", "experienced", "https://lms.example.com/old-course/2"),
        statement("ada", "passed", "https://lms.example.com/old-course/3"),
        statement("ada", "experienced", "https://crm.example.com/kpi/1"),
    ]);
    let ids: Vec<String> = app.post_statements(&body).await.json().await.unwrap();
    let policy = RetentionPolicy {
        name: "old-course-views".into(),
        older_than_days: 30,
        verb: Some("http://adlnet.gov/expapi/verbs/experienced".into()),
        activity_prefix: Some("https://lms.example.com/old-course/".into()),
        source: None,
        delete_credential_evidence: false,
    };
    let later = fluency::xapi::time::now_micros() + 31 * DAY;

    let too_soon = run_at(&app.statements, std::slice::from_ref(&policy), true, "test", later - 2 * DAY).await.unwrap();
    let dry = run_at(&app.statements, std::slice::from_ref(&policy), true, "test", later).await.unwrap();
    assert_eq!(too_soon.policies[0].statements, 0, "nothing is old enough yet");
    assert_eq!(dry.policies[0].statements, 2);
    assert_eq!(stored_ids(&app).await.len(), 4, "a dry run deletes nothing");

    let done = run_at(&app.statements, &[policy], false, "test", later).await.unwrap();

    assert_eq!(done.deleted, 2);
    let mut listed: Vec<String> = dry.policies[0].examples.iter().map(ToString::to_string).collect();
    listed.sort();
    let mut expected = vec![ids[0].clone(), ids[1].clone()];
    expected.sort();
    assert_eq!(listed, expected);
    let mut left = stored_ids(&app).await;
    left.sort();
    let mut kept = vec![ids[2].clone(), ids[3].clone()];
    kept.sort();
    assert_eq!(left, kept);
    assert_eq!(app.get_statement(&ids[0]).await.status(), 404);
    let audit: Value = app.api_json("audit").await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "retention.run"));

    // Over HTTP, with no policy configured, a run selects nothing; a bad flag is refused.
    let response = app.api(Method::POST, "retention/run").query(&[("dry_run", "true")]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = app.api(Method::POST, "retention/run").query(&[("dry_run", "yes")]).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("dry_run"));
}

#[test]
fn a_pseudonymised_export_names_nobody_and_keeps_people_apart() {
    let dir = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_fluency");
    let statements = json!([
        statement("ada", "passed", "https://lms.example.com/a"),
        statement("ada", "failed", "https://lms.example.com/b"),
        statement("bo", "passed", "https://lms.example.com/a")
    ]);
    let data = dir.path().join("data");
    // Stored through the library, exported by the binary.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let layer = fluency::config::SettingsLayer { data_dir: Some(data.clone()), ..Default::default() };
        let settings = fluency::config::Settings::resolve([layer]).unwrap();
        let store = fluency::startup::open_store(&settings).unwrap();
        let service = fluency::startup::open_statement_service(&settings, store).unwrap();
        let principal =
            fluency::auth::Principal::for_account("http://lrs", "importer", vec![fluency::auth::Scope::All]);
        service
            .store_statements(&principal, fluency::xapi::XapiVersion::V1_0_3, statements, None, vec![])
            .await
            .unwrap();
    });
    let out = dir.path().join("export.jsonl");
    let status = std::process::Command::new(binary)
        .args(["--data-dir"])
        .arg(&data)
        .args(["export", "--pseudonymise", "--output"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("@example.com") && !text.contains("\"ada\"") && !text.contains("\"bo\""), "{text}");
    let actors: Vec<String> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["actor"]["account"]["name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(actors.len(), 3);
    assert_eq!(actors[0], actors[1], "one person, one pseudonym");
    assert_ne!(actors[0], actors[2], "two people, two pseudonyms");
}

#[tokio::test]
async fn the_earned_statement_of_an_active_credential_is_kept_unless_the_policy_says_otherwise() {
    let app = TestApp::spawn().await;
    let achievement = json!({"id": "sql", "name": "SQL", "description": "Queries.", "criteria": "Passed.",
        "image": "https://badges.example.com/sql.png", "achievement_type": "Badge", "tags": []});
    assert_eq!(app.api(Method::PUT, "badges/achievements/sql").json(&achievement).send().await.unwrap().status(), 200);
    let award = json!({"agent": {"mbox": "mailto:ada@example.com"}, "achievement": "sql"});
    assert_eq!(app.api(Method::POST, "badges/awards").json(&award).send().await.unwrap().status(), 201);
    assert_eq!(
        app.post_statements(&json!([statement("ada", "experienced", "https://lms.example.com/x")])).await.status(),
        200
    );
    let everything = RetentionPolicy {
        name: "everything".into(),
        older_than_days: 1,
        verb: None,
        activity_prefix: None,
        source: None,
        delete_credential_evidence: false,
    };
    let later = fluency::xapi::time::now_micros() + 2 * DAY;

    let kept = run_at(&app.statements, std::slice::from_ref(&everything), false, "test", later).await.unwrap();

    assert_eq!((kept.deleted, kept.kept_as_evidence), (1, 1), "{kept:?}");
    let left: Value = app.get_statements(&[("limit", "10")]).await.json().await.unwrap();
    let verbs: Vec<&str> =
        left["statements"].as_array().unwrap().iter().map(|s| s["verb"]["id"].as_str().unwrap()).collect();
    assert_eq!(verbs, vec!["https://fluency.dev/xapi/verbs/earned"]);

    let unprotected = RetentionPolicy { delete_credential_evidence: true, ..everything };
    let gone = run_at(&app.statements, &[unprotected], false, "test", later).await.unwrap();
    assert_eq!((gone.deleted, gone.kept_as_evidence), (1, 0));
}

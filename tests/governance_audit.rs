//! The audit log against a live server: administrative actions are appended in order,
//! chained by hashes, and `verify` finds an entry changed, removed or re-hashed in the
//! database behind the server's back.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::TestApp;
use reqwest::Method;
use serde_json::Value;

const RULE: &str = "//! name = \"audited\"\n//! [trigger]\n//! verbs = [\"http://example.com/verbs/x\"]\n1\n";

async fn actions(app: &TestApp) {
    assert_eq!(app.put_rule("audited", RULE).await.status(), 201);
    let disabled = app.api(Method::POST, "rules/audited/disable").send().await.unwrap();
    assert_eq!(disabled.status(), 200);
    let framework = "[[skill]]\niri = \"https://skills.example.com/sql\"\n";
    let put = app.api(Method::PUT, "skills/framework/core.toml").body(framework).send().await.unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(app.api(Method::DELETE, "rules/audited").send().await.unwrap().status(), 204);
}

fn tamper(app: &TestApp, sql: &str) {
    let connection = rusqlite::Connection::open(app.data_dir.path().join("fluency.db")).unwrap();
    connection.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    connection.execute_batch(sql).unwrap();
}

#[tokio::test]
async fn administrative_actions_are_logged_in_order_and_chained() {
    // Arrange
    let app = TestApp::spawn().await;

    // Act
    actions(&app).await;
    let log = app.api_json("audit").await;
    let verification = app.api_json("audit/verify").await;

    // Assert
    let entries = log["entries"].as_array().unwrap();
    let summary: Vec<(u64, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["sequence"].as_u64().unwrap(),
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "rule.put", "audited", helpers::ADMIN_KEY),
            (2, "rule.disable", "audited", helpers::ADMIN_KEY),
            (3, "skills.framework.put", "core.toml", helpers::ADMIN_KEY),
            (4, "rule.delete", "audited", helpers::ADMIN_KEY),
        ]
    );
    for pair in entries.windows(2) {
        assert_eq!(pair[1]["previous"], pair[0]["hash"], "each entry names the one before");
    }
    assert_eq!(verification["valid"], true, "{verification}");
    assert_eq!(verification["entries"], 4);
    assert_eq!(verification["head"], entries[3]["hash"]);
}

#[tokio::test]
async fn verify_finds_an_entry_changed_removed_or_rehashed_behind_the_servers_back() {
    for (what, sql, broken) in [
        ("a changed target", "UPDATE audit_log SET target = 'innocent' WHERE sequence = 2", 2),
        ("a removed entry", "DELETE FROM audit_log WHERE sequence = 3", 3),
        ("a re-hashed entry", "UPDATE audit_log SET actor = 'someone', hash = 'ffff' WHERE sequence = 1", 1),
    ] {
        // Arrange
        let app = TestApp::spawn().await;
        actions(&app).await;
        assert_eq!(app.api_json("audit/verify").await["valid"], true);

        // Act
        tamper(&app, sql);
        let verification: Value = app.api_json("audit/verify").await;

        // Assert
        assert_eq!(verification["valid"], false, "{what}: {verification}");
        assert_eq!(verification["first_broken"], broken, "{what}: {verification}");
    }
}

#[tokio::test]
async fn the_audit_log_is_for_administrators_only() {
    let app = TestApp::spawn().await;
    let store = app.statements.store();
    let lms = fluency::auth::create_credential(store, vec![fluency::auth::Scope::All], "LMS", None).await.unwrap();
    let response = app
        .client
        .get(format!("{}/api/audit", app.address))
        .header("Authorization", helpers::basic(&lms.key, &lms.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let bad = app.api(Method::GET, "audit?limit=lots").send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

//! Skill events end to end: a rising estimate is announced as `reached-level` statements,
//! a rule triggered by that verb runs on them, and a rebuild announces nothing twice.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, TestApp};
use crate::{caught_up, put_framework};

const FRAMEWORK: &str = "[[skill]]\niri = \"https://skills.example.com/sql\"\nname = { en = \"SQL\" }\n\n[[mapping]]\nactivity_prefix = \"https://lms.example.com/sql/\"\nskills = [{ skill = \"https://skills.example.com/sql\" }]\n";
const REACHED: &str = "https://fluency.dev/xapi/verbs/reached-level";
const RULE: &str = "//! name = \"celebrate-level\"\n//! [trigger]\n//! verbs = [\"https://fluency.dev/xapi/verbs/reached-level\"]\nlet level = statement.result.extensions[\"https://fluency.dev/xapi/extensions/skill-level\"];\nstate_set(`level-${actor_id(statement)}`, level);\nlevel\n";

async fn reached_levels(app: &TestApp) -> Vec<Value> {
    let page: Value = app.get_statements(&[("verb", REACHED), ("limit", "50")]).await.json().await.unwrap();
    page["statements"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_rising_estimate_is_announced_once_and_rules_run_on_it() {
    // Arrange
    let app = TestApp::spawn().await;
    put_framework(&app, "core.toml", FRAMEWORK).await;
    assert_eq!(app.put_rule("celebrate-level", RULE).await.status(), 201);
    let quizzes: Vec<Value> = (0..8)
        .map(|i| json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
            "object": {"id": format!("https://lms.example.com/sql/quiz-{i}")},
            "result": {"score": {"raw": 9, "min": 0, "max": 10}},
        }))
        .collect();

    // Act
    assert_eq!(app.post_statements(&Value::Array(quizzes)).await.status(), 200);
    caught_up(&app).await;
    let announced = eventually(15, "the events", || async {
        let found = reached_levels(&app).await;
        (!found.is_empty()).then_some(found)
    })
    .await;

    // Assert
    let levels: Vec<i64> = announced
        .iter()
        .map(|s| s["result"]["extensions"]["https://fluency.dev/xapi/extensions/skill-level"].as_i64().unwrap())
        .collect();
    assert!(levels.contains(&3), "{levels:?}");
    assert!(announced.iter().all(|s| s["actor"]["mbox"] == "mailto:ada@example.com"
        && s["object"]["id"] == "https://skills.example.com/sql"
        && s["authority"]["account"]["name"] == "fluency:skills"));
    let rule = eventually(15, "the rule to run on the events", || async {
        let rule: Value = app.api_json("rules/celebrate-level").await;
        (rule["health"]["runs"].as_u64().unwrap_or(0) >= levels.len() as u64).then_some(rule)
    })
    .await;
    assert_eq!(rule["health"]["failures"].as_u64().unwrap_or(0), 0, "{rule}");

    // A rebuild folds everything again: the same events, nothing new.
    let rebuild = app.api(Method::POST, "skills/rebuild").send().await.unwrap();
    assert_eq!(rebuild.status(), 202);
    caught_up(&app).await;
    assert_eq!(reached_levels(&app).await.len(), announced.len(), "announced once");
}

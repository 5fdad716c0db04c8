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
        .map(|i| {
            json!({
                "actor": {"mbox": "mailto:ada@example.com"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
                "object": {"id": format!("https://lms.example.com/sql/quiz-{i}")},
                "result": {"score": {"raw": 9, "min": 0, "max": 10}},
            })
        })
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

    // A rebuild folds everything again: the same map, bit for bit, and nothing announced twice.
    let profile = || async {
        let query = [("agent", r#"{"mbox":"mailto:ada@example.com"}"#), ("at", "2030-01-01T00:00:00Z")];
        app.api(Method::GET, "skills/profile").query(&query).send().await.unwrap().text().await.unwrap()
    };
    let before = profile().await;
    let rebuild = app.api(Method::POST, "skills/rebuild").send().await.unwrap();
    assert_eq!(rebuild.status(), 202);
    caught_up(&app).await;
    assert_eq!(profile().await, before, "the same estimates and explanations, to the last digit");
    assert_eq!(reached_levels(&app).await.len(), announced.len(), "announced once");
}

const GAP_RULE: &str = r#"//! name = "assign-on-gap"
//! [trigger]
//! verbs = ["http://example.com/verbs/checked-in"]
let person = actor_id(statement);
let sql = skill_level(person, "https://skills.example.com/sql");
for gap in skill_gaps(person) {
    assign(statement.actor, "https://lms.example.com/sql/refresher", `${gap.skill} ${gap.target} gap ${gap.gap} level ${sql.level}`);
}
"#;

#[tokio::test]
async fn rules_read_a_persons_skill_level_and_gaps() {
    // Arrange: bo fails SQL quizzes and is an analyst, whose role needs SQL at level 3.
    let app = TestApp::spawn().await;
    let framework = format!("{FRAMEWORK}\n[[role]]\nid = \"https://roles.example.com/analyst\"\nrequires = [{{ skill = \"https://skills.example.com/sql\", level = 3 }}]\n");
    put_framework(&app, "core.toml", &framework).await;
    let bo = fluency::storage::PersonRecord {
        person: "mbox:mailto:bo@example.com".into(),
        role: Some("https://roles.example.com/analyst".into()),
        team: Some("Data".into()),
        ..Default::default()
    };
    app.statements.store().upsert_people(vec![bo]).await.unwrap();
    assert_eq!(app.put_rule("assign-on-gap", GAP_RULE).await.status(), 201);
    let quizzes: Vec<Value> = (0..6)
        .map(|i| {
            json!({
                "actor": {"mbox": "mailto:bo@example.com"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"},
                "object": {"id": format!("https://lms.example.com/sql/quiz-{i}")},
                "result": {"score": {"raw": 2, "min": 0, "max": 10}},
            })
        })
        .collect();
    assert_eq!(app.post_statements(&Value::Array(quizzes)).await.status(), 200);
    caught_up(&app).await;

    // Act: a statement the rule triggers on, once the estimate exists.
    let check_in = json!({"actor": {"mbox": "mailto:bo@example.com"}, "verb": {"id": "http://example.com/verbs/checked-in"},
        "object": {"id": "https://work.example.com/standup"}});
    assert_eq!(app.post_statements(&check_in).await.status(), 200);

    // Assert
    let interventions = eventually(15, "the rule's assignment", || async {
        let found: Value = app.api_json("interventions?rule=assign-on-gap").await;
        found["interventions"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await;
    let reason = interventions[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("https://skills.example.com/sql 3.0 gap"), "{reason}");
    let level: f64 = reason.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(level < 1.5, "bo's SQL level as the rule saw it: {reason}");
}

const EVIDENCE_RULE: &str = r#"//! name = "deals-are-sql-evidence"
//! [trigger]
//! verbs = ["https://crm.example.com/verbs/closed"]
emit_statement(#{
    actor: statement.actor,
    verb: #{ id: "https://fluency.dev/xapi/verbs/performed", display: #{ en: "performed" } },
    object: #{ id: activity_id(statement), definition: #{ extensions: #{
        "https://fluency.dev/xapi/extensions/skills": [#{ skill: "https://skills.example.com/sql", weight: 1.0 }] } } },
    result: #{ success: true },
});
"#;

#[tokio::test]
async fn a_rule_records_evidence_from_any_statement_by_emitting_it() {
    // Arrange
    let app = TestApp::spawn().await;
    put_framework(&app, "core.toml", FRAMEWORK).await;
    assert_eq!(app.put_rule("deals-are-sql-evidence", EVIDENCE_RULE).await.status(), 201);
    let deal = json!({"actor": {"mbox": "mailto:cy@example.com"}, "verb": {"id": "https://crm.example.com/verbs/closed"},
        "object": {"id": "https://crm.example.com/deals/42"}});

    // Act
    assert_eq!(app.post_statements(&deal).await.status(), 200);

    // Assert
    let agent = json!({"mbox": "mailto:cy@example.com"}).to_string();
    let sql = eventually(20, "the emitted evidence to be inferred", || async {
        let response = app.api(Method::GET, "skills/profile").query(&[("agent", agent.as_str())]).send().await.unwrap();
        let profile: Value = response.json().await.unwrap();
        profile["skills"].as_array().and_then(|s| s.first().cloned())
    })
    .await;
    assert_eq!(sql["skill"], "https://skills.example.com/sql");
    assert_eq!(sql["contributions"][0]["weight"], 1.25, "work evidence");
    assert!(sql["level"].as_f64().unwrap() > 2.5);
}

//! Consent against a live server: a person who opted out gets no skill estimates, no rule
//! runs on their statements, and is left out of impact analyses, which count them as
//! excluded; the change takes effect on the next statement.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use fluency::kpi::{demo_impact_spec, generate_demo, DemoSpec};
use fluency::service::impact::ImpactRequest;
use helpers::{eventually, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const FRAMEWORK: &str = "[[skill]]\niri = \"https://skills.example.com/sql\"\n\n[[mapping]]\nactivity_prefix = \"https://lms.example.com/sql/\"\nskills = [{ skill = \"https://skills.example.com/sql\" }]\n";
const RULE: &str = "//! name = \"count-passes\"\n//! [trigger]\n//! verbs = [\"http://adlnet.gov/expapi/verbs/passed\"]\nstate_set(`n-${actor_id(statement)}`, 1);\n";

fn pass(person: &str, quiz: u32) -> Value {
    json!({"actor": {"mbox": format!("mailto:{person}@example.com")}, "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": format!("https://lms.example.com/sql/quiz-{quiz}")}, "result": {"success": true}})
}

async fn set_consent(app: &TestApp, person: &str, inference: bool, nudges: bool) -> Value {
    let body = json!({"agent": {"mbox": format!("mailto:{person}")}, "inference": inference, "nudges": nudges});
    let response = app.api(Method::PUT, "people/consent").json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn sql_evidence(app: &TestApp, person: &str) -> usize {
    let agent = json!({"mbox": format!("mailto:{person}@example.com")}).to_string();
    let profile: Value = app
        .api(Method::GET, "skills/profile")
        .query(&[("agent", agent.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    profile["skills"].as_array().unwrap().iter().map(|s| s["contributions"].as_array().unwrap().len()).sum()
}

#[tokio::test]
async fn an_opted_out_person_gets_no_inference_and_no_rule_runs() {
    // Arrange
    let app = TestApp::spawn().await;
    let framework = app.api(Method::PUT, "skills/framework/core.toml").body(FRAMEWORK).send().await.unwrap();
    assert_eq!(framework.status(), 200);
    assert_eq!(app.put_rule("count-passes", RULE).await.status(), 201);
    let consent = set_consent(&app, "ada@example.com", false, false).await;

    // Act
    let statements: Vec<Value> = (0..3).map(|i| pass("ada", i)).chain((0..2).map(|i| pass("bo", i))).collect();
    assert_eq!(app.post_statements(&Value::Array(statements)).await.status(), 200);

    // Assert
    assert_eq!(consent, json!({"person": "mbox:mailto:ada@example.com", "inference": false, "nudges": false}));
    eventually(20, "bo's evidence", || async { (sql_evidence(&app, "bo").await == 2).then_some(()) }).await;
    let newest = app.newest_stored().await.expect("statements are stored");
    eventually(20, "the rules to pass every statement", || async {
        let through = app.statements.store().rules_evaluated_through().await.unwrap().unwrap_or(0);
        (through >= newest).then_some(())
    })
    .await;
    let rule: Value = app.api_json("rules/count-passes").await;
    let runs = rule["health"]["runs"].as_u64().unwrap_or(0);
    assert_eq!(sql_evidence(&app, "ada").await, 0, "no inference about ada");
    assert_eq!(runs, 2, "the rule ran on bo's two statements, not on ada's three");
    let audit = app.api_json("audit").await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "consent.set"), "{audit}");

    // Opting in again applies from the next inference: ada's evidence comes back.
    set_consent(&app, "ada@example.com", true, true).await;
    eventually(20, "ada's evidence after opting in", || async { (sql_evidence(&app, "ada").await == 3).then_some(()) })
        .await;
}

#[tokio::test]
async fn an_opted_out_person_is_left_out_of_an_analysis_and_counted_as_excluded() {
    // Arrange
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 60, seed: 5, ..DemoSpec::default() };
    let data = generate_demo(&spec);
    for batch in data.statements.chunks(500) {
        assert_eq!(app.post_statements(&Value::Array(batch.to_vec())).await.status(), 200);
    }
    let request: ImpactRequest = toml::from_str(&demo_impact_spec(&spec)).unwrap();
    let analyse = || async {
        app.api(Method::POST, "impact").json(&request).send().await.unwrap().json::<Value>().await.unwrap()
    };
    let before = analyse().await;
    let trained = data.truth.completions.keys().next().unwrap().strip_prefix("mbox:").unwrap().to_string();
    set_consent(&app, trained.strip_prefix("mailto:").unwrap(), false, true).await;

    // Act
    let after = analyse().await;

    // Assert
    assert_eq!(before["excluded_persons"], 0);
    assert_eq!(after["excluded_persons"], 1, "{after}");
    assert_eq!(after["treated_persons"].as_u64().unwrap() + 1, before["treated_persons"].as_u64().unwrap());
}

#[tokio::test]
async fn the_transparency_report_lists_what_is_held_about_a_person_and_why() {
    // Arrange: statements, a profile document, skill evidence and a consent change for ada.
    let app = TestApp::spawn().await;
    let framework = app.api(Method::PUT, "skills/framework/core.toml").body(FRAMEWORK).send().await.unwrap();
    assert_eq!(framework.status(), 200);
    let statements: Vec<Value> = (0..3).map(|i| pass("ada", i)).chain([pass("bo", 9)]).collect();
    assert_eq!(app.post_statements(&Value::Array(statements)).await.status(), 200);
    let agent = json!({"mbox": "mailto:ada@example.com"}).to_string();
    let document = app
        .request(Method::PUT, "agents/profile")
        .query(&[("agent", agent.as_str()), ("profileId", "preferences")])
        .header("If-None-Match", "*")
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(document.status(), 204);
    set_consent(&app, "ada@example.com", true, false).await;
    eventually(20, "ada's evidence", || async { (sql_evidence(&app, "ada").await == 3).then_some(()) }).await;

    // Act
    let report: Value = app
        .api(Method::GET, "people/report")
        .query(&[("agent", agent.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = app
        .api(Method::GET, "people/report")
        .query(&[("agent", agent.as_str()), ("format", "html")])
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(report["person"], "mbox:mailto:ada@example.com");
    let counted = report["statements"]["data"].as_array().unwrap();
    let passed =
        json!({"source": helpers::ADMIN_KEY, "verb": "http://adlnet.gov/expapi/verbs/passed", "statements": 3});
    assert!(counted.contains(&passed), "ada's three passes, not bo's one, by source and verb: {counted:?}");
    assert!(
        counted.iter().all(|row| row == &passed || row["source"] == "fluency:skills"),
        "besides them only the skill events inference sent about her: {counted:?}"
    );
    assert_eq!(report["documents"]["data"][0]["id"], "preferences");
    assert_eq!(report["documents"]["data"][0]["kind"], "agent_profile");
    assert_eq!(report["consent"]["data"]["nudges"], false);
    assert_eq!(report["skills"]["data"]["skills"][0]["skill"], "https://skills.example.com/sql");
    assert_eq!(report["administrative_actions"]["data"][0]["action"], "consent.set");
    for section in [
        "consent",
        "statements",
        "skills",
        "interventions",
        "documents",
        "rule_state",
        "notifications",
        "credentials",
        "analyses",
    ] {
        assert!(report[section]["purpose"].as_str().is_some_and(|p| !p.is_empty()), "{section} says what it is for");
    }
    assert_eq!(page.status(), 200);
    assert!(page.headers()["Content-Type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("What Fluency holds about you") && html.contains("Nudges: you opted out"), "{html}");
}

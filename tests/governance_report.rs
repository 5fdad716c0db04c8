//! The transparency report's other sections (State documents, rule state, notifications,
//! the analyses a person was in) and the personal link a person opens without a credential.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use fluency::kpi::{demo_impact_spec, generate_demo, DemoSpec};
use fluency::service::impact::ImpactRequest;
use helpers::{eventually, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const RULE: &str = "//! name = \"remember-attempts\"\n//! [trigger]\n//! verbs = [\"http://adlnet.gov/expapi/verbs/experienced\"]\nstate_set(`seen-${actor_id(statement)}`, 1);\n";

async fn report_of(app: &TestApp, agent: &Value) -> Value {
    let agent = agent.to_string();
    let response = app.api(Method::GET, "people/report").query(&[("agent", agent.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_report_lists_state_rule_state_and_the_analyses_the_person_was_in() {
    // Arrange: the demo helpdesk, analysed once; one of its agents has a State document
    // and rule state.
    let app = TestApp::spawn().await;
    assert_eq!(app.put_rule("remember-attempts", RULE).await.status(), 201);
    let spec = DemoSpec { agents: 40, seed: 9, ..DemoSpec::default() };
    let data = generate_demo(&spec);
    for batch in data.statements.chunks(500) {
        assert_eq!(app.post_statements(&Value::Array(batch.to_vec())).await.status(), 200);
    }
    let request: ImpactRequest = toml::from_str(&demo_impact_spec(&spec)).unwrap();
    let analysis = app.api(Method::POST, "impact").json(&request).send().await.unwrap();
    assert_eq!(analysis.status(), 200);
    let person = data.statements.iter().find(|s| s["verb"]["id"].as_str().unwrap().ends_with("completed")).unwrap()
        ["actor"]
        .clone();
    let agent = json!({"mbox": person["mbox"]});
    let state = [
        ("agent", agent.to_string()),
        ("activityId", "https://lms.example.com/course".into()),
        ("stateId", "bookmark".into()),
    ];
    let put =
        app.request(Method::PUT, "activities/state").query(&state).json(&json!({"page": 3})).send().await.unwrap();
    assert_eq!(put.status(), 204);
    let seen = json!({"actor": agent, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}, "object": {"id": "https://lms.example.com/course"}});
    assert_eq!(app.post_statements(&json!([seen])).await.status(), 200);

    // Act
    let report = eventually(20, "the rule state", || async {
        let report = report_of(&app, &agent).await;
        (!report["rule_state"]["data"].as_array().unwrap().is_empty()).then_some(report)
    })
    .await;

    // Assert
    let documents = report["documents"]["data"].as_array().unwrap();
    assert!(
        documents.iter().any(|d| d["kind"] == "state"
            && d["id"] == "bookmark"
            && d["activity_id"] == "https://lms.example.com/course"),
        "{report}"
    );
    assert_eq!(report["rule_state"]["data"][0]["rule"], "remember-attempts");
    let analyses = report["analyses"]["data"].as_array().unwrap();
    assert_eq!(analyses.len(), 1, "{report}");
    assert!(analyses[0]["details"].get("people").is_none(), "the other participants are not listed");
    let stranger = report_of(&app, &json!({"mbox": "mailto:not-in-it@example.com"})).await;
    assert!(stranger["analyses"]["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_personal_link_shows_the_report_without_a_credential_until_it_expires() {
    let app = TestApp::spawn().await;
    let agent = json!({"mbox": "mailto:ada@example.com"});
    let made =
        app.api(Method::POST, "people/report-link").json(&json!({"agent": agent, "hours": 2})).send().await.unwrap();
    assert_eq!(made.status(), 200);
    let made: Value = made.json().await.unwrap();
    let url = made["url"].as_str().unwrap();
    let path = &url[url.find("/api/").unwrap()..];

    let page = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("mbox:mailto:ada@example.com"));
    let json_page: Value =
        app.client.get(format!("{}{path}&format=json", app.address)).send().await.unwrap().json().await.unwrap();
    assert_eq!(json_page["person"], "mbox:mailto:ada@example.com");

    let mut forged = path.to_string();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let refused = app.client.get(format!("{}{forged}", app.address)).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("token"));

    let token = "an-expired-token-for-the-test";
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    app.statements.store().insert_report_link(&hash, "mbox:mailto:ada@example.com", 1).await.unwrap();
    let expired =
        app.client.get(format!("{}/api/people/report/shared?token={token}", app.address)).send().await.unwrap();
    assert_eq!(expired.status(), 401);
    assert!(expired.text().await.unwrap().contains("expired"));

    for (body, field) in [
        (json!({"agent": agent, "hours": 0}), "hours"),
        (json!({"agent": agent, "target": "nowhere"}), "target"),
        (json!({"agent": {"mbox": "ada"}}), "agent"),
    ] {
        let response = app.api(Method::POST, "people/report-link").json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let message: Value = response.json().await.unwrap();
        assert!(message["message"].as_str().unwrap().starts_with(field), "{body}: {message}");
    }
}

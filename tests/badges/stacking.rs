//! Statements to a verified stacked credential: quiz statements raise a skill level, which
//! earns a skill badge; a certification pass makes a rule award another; holding both
//! earns the stack, and Digital Bazaar's verifier accepts it.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::eventually;
use crate::{fetch_public, put_achievement, spawn_app, verify_with_digital_bazaar};

const FRAMEWORK: &str = "[[skill]]\niri = \"https://skills.example.com/sql\"\nname = { en = \"SQL\" }\n\n[[mapping]]\nactivity_prefix = \"https://lms.example.com/sql/\"\nskills = [{ skill = \"https://skills.example.com/sql\" }]\n";
const SQL: &str = "https://skills.example.com/sql";

fn definition(id: &str, requires: Value) -> Value {
    let mut achievement = crate::achievement(id);
    achievement["requires"] = requires;
    achievement
}

#[tokio::test]
async fn statements_raise_a_skill_level_that_earns_a_badge_and_with_a_rule_award_completes_a_verified_stack() {
    // Arrange
    let app = spawn_app().await;
    let framework = app.api(Method::PUT, "skills/framework/core.toml").body(FRAMEWORK).send().await.unwrap();
    assert_eq!(framework.status(), 200);
    let mut practitioner = definition("sql-practitioner", json!({"skills": [{"skill": SQL, "level": 3}]}));
    practitioner["alignments"] = json!([SQL]);
    put_achievement(&app, &practitioner).await;
    put_achievement(&app, &crate::achievement("data-protection-officer")).await;
    put_achievement(
        &app,
        &definition(
            "data-steward",
            json!({"achievements": ["sql-practitioner", "data-protection-officer"], "at_least": 2}),
        ),
    )
    .await;
    let rule =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/award-certification-badge.rhai")).unwrap();
    assert_eq!(app.put_rule("award-certification-badge", &rule).await.status(), 201);
    let quizzes: Vec<Value> = (0..8)
        .map(|i| {
            json!({
                "actor": {"mbox": "mailto:ada@example.com", "name": "Ada"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
                "object": {"id": format!("https://lms.example.com/sql/quiz-{i}")},
                "result": {"score": {"raw": 9, "min": 0, "max": 10}},
            })
        })
        .collect();
    let certification = json!({
        "actor": {"mbox": "mailto:ada@example.com", "name": "Ada"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://lms.example.com/certifications/data-protection-officer"},
        "result": {"success": true},
    });
    let held = || async {
        let query = [("agent", r#"{"mbox":"mailto:ada@example.com"}"#)];
        let listed: Value =
            app.api(Method::GET, "badges/awards").query(&query).send().await.unwrap().json().await.unwrap();
        listed.as_array().unwrap().clone()
    };

    // Act: the skill badge first, then the rule's award, then the stack.
    assert_eq!(app.post_statements(&Value::Array(quizzes)).await.status(), 200);
    eventually(60, "the skill badge", || async {
        held().await.iter().any(|b| b["achievement"] == "sql-practitioner").then_some(())
    })
    .await;
    assert!(!held().await.iter().any(|b| b["achievement"] == "data-steward"), "one of two is not the stack");
    assert_eq!(app.post_statements(&certification).await.status(), 200);
    let badges = eventually(60, "the stacked badge", || async {
        let badges = held().await;
        badges.iter().any(|b| b["achievement"] == "data-steward").then_some(badges)
    })
    .await;

    // Assert
    let mut achievements: Vec<&str> = badges.iter().map(|b| b["achievement"].as_str().unwrap()).collect();
    achievements.sort();
    assert_eq!(achievements, ["data-protection-officer", "data-steward", "sql-practitioner"], "each once");
    let steward = badges.iter().find(|b| b["achievement"] == "data-steward").unwrap();
    let credential = fetch_public(steward["url"].as_str().unwrap()).await;
    let practitioner = badges.iter().find(|b| b["achievement"] == "sql-practitioner").unwrap();
    let alignment = &practitioner["credential"]["credentialSubject"]["achievement"]["alignment"][0];
    assert_eq!((alignment["targetUrl"].as_str(), alignment["targetName"].as_str()), (Some(SQL), Some("SQL")));
    let verdict: Value = app
        .client
        .post(format!("{}/api/badges/verify", app.address))
        .json(&credential)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verdict["verified"], true, "{verdict}");
    if let Some(results) = verify_with_digital_bazaar(&[("data-steward", credential, None)]) {
        assert_eq!(results[0]["verified"], true, "{}", results[0]);
    }
}

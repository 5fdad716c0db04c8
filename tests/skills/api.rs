//! The skills API: frameworks refused with file, line and rule (and nothing half-loaded),
//! scopes, explained profiles, team maps with gaps, and talent search across adjacent skills.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{basic, TestApp};
use crate::{caught_up, put_framework};

const FRAMEWORK: &str = r#"
[[skill]]
iri = "https://skills.example.com/data"
name = { en = "Data" }

[[skill]]
iri = "https://skills.example.com/sql"
name = { en = "SQL" }
broader = ["https://skills.example.com/data"]

[[skill]]
iri = "https://skills.example.com/joins"
name = { en = "Joins" }
broader = ["https://skills.example.com/sql"]

[[role]]
id = "https://roles.example.com/analyst"
name = { en = "Analyst" }
requires = [{ skill = "https://skills.example.com/sql", level = 3 }, { skill = "https://skills.example.com/data", level = 3 }]

[[mapping]]
activity_prefix = "https://lms.example.com/sql/"
skills = [{ skill = "https://skills.example.com/sql" }]
"#;

fn quiz(person: &str, quiz: u32, passed: bool) -> Value {
    let verb = if passed { "passed" } else { "failed" };
    json!({
        "actor": {"mbox": format!("mailto:{person}@example.com")},
        "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")},
        "object": {"id": format!("https://lms.example.com/sql/quiz-{quiz}")},
        "result": {"success": passed},
    })
}

fn agent(person: &str) -> String {
    json!({"mbox": format!("mailto:{person}@example.com")}).to_string()
}

async fn profile(app: &TestApp, person: &str) -> Value {
    let response = app.api(Method::GET, "skills/profile").query(&[("agent", agent(person))]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_bad_framework_file_is_refused_with_file_line_and_rule_and_nothing_changes() {
    // Arrange
    let app = TestApp::spawn().await;
    put_framework(&app, "core.toml", FRAMEWORK).await;
    let cases = [
        ("cycle.toml", "[[skill]]\niri = \"https://skills.example.com/data2\"\nbroader = [\"https://skills.example.com/joins\"]\n[[skill]]\niri = \"https://skills.example.com/extra\"\n\n[[mapping]]\nverb = \"http://v.example/x\"\nskills = [{ skill = \"https://skills.example.com/nope\" }]\n", "cycle.toml:7: skills: https://skills.example.com/nope is not a skill"),
        ("dup.toml", "\n\n[[skill]]\niri = \"https://skills.example.com/sql\"\n", "dup.toml:3: skill https://skills.example.com/sql: the IRI is already defined at core.toml:"),
        ("syntax.toml", "[[skill]\n", "syntax.toml:1:"),
        ("notes.txt", "anything", "name: a framework file ends in .toml"),
    ];

    for (file, text, expected) in cases {
        // Act
        let response = app.api(Method::PUT, &format!("skills/framework/{file}")).body(text).send().await.unwrap();

        // Assert
        assert_eq!(response.status(), 400, "{file}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_framework", "{file}: {body}");
        assert!(body["message"].as_str().unwrap().contains(expected), "{file}: {body}");
    }
    let framework = app.api_json("skills/framework").await;
    assert_eq!(framework["skills"].as_object().unwrap().len(), 3, "nothing half-loaded");
    assert!(!app.data_dir.path().join("skills/cycle.toml").exists());
}

#[tokio::test]
async fn skills_need_the_skills_or_admin_scope() {
    // Arrange
    let app = TestApp::spawn().await;
    let store = app.statements.store();
    let lms = fluency::auth::create_credential(store, vec![fluency::auth::Scope::All], "LMS", None).await.unwrap();
    let reader =
        fluency::auth::create_credential(store, vec![fluency::auth::Scope::Skills], "console", None).await.unwrap();
    let get = |key: &str, secret: &str| {
        app.client
            .get(format!("{}/api/skills/framework", app.address))
            .header("Authorization", basic(key, secret))
            .send()
    };

    // Act
    let as_lms = get(&lms.key, &lms.secret).await.unwrap();
    let as_reader = get(&reader.key, &reader.secret).await.unwrap();
    let reader_writes = app
        .client
        .put(format!("{}/api/skills/framework/core.toml", app.address))
        .header("Authorization", basic(&reader.key, &reader.secret))
        .body(FRAMEWORK)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(as_lms.status(), 403, "the xAPI scope `all` does not read skills");
    assert_eq!(as_reader.status(), 200);
    assert_eq!(reader_writes.status(), 403, "changing the framework needs admin");
}

#[tokio::test]
async fn profiles_are_explained_team_maps_show_gaps_and_search_follows_adjacent_skills() {
    // Arrange: ada passes nine of ten SQL quizzes, bo fails most, cy has only a joins score.
    let app = TestApp::spawn().await;
    put_framework(&app, "core.toml", FRAMEWORK).await;
    let mut statements: Vec<Value> = (0..10).map(|i| quiz("ada", i, i != 3)).collect();
    statements.extend((0..10).map(|i| quiz("bo", i, i == 5)));
    let mut joins = json!({
        "actor": {"mbox": "mailto:cy@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://other.example.com/joins-lab", "definition": {"extensions": {
            "https://fluency.dev/xapi/extensions/skills": [{"skill": "https://skills.example.com/joins", "weight": 1}]}}},
        "result": {"score": {"scaled": 0.95}},
    });
    statements.push(joins.take());
    assert_eq!(app.post_statements(&Value::Array(statements)).await.status(), 200);
    caught_up(&app).await;

    // Act
    let ada = profile(&app, "ada").await;
    let bo = profile(&app, "bo").await;
    let members: Vec<Value> = ["ada", "bo"]
        .iter()
        .map(|p| json!({"agent": {"mbox": format!("mailto:{p}@example.com")}, "role": "https://roles.example.com/analyst"}))
        .collect();
    let map: Value = app
        .api(Method::POST, "skills/map")
        .json(&json!({"members": members}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let search = app.api_json("skills/search?skill=https%3A%2F%2Fskills.example.com%2Fjoins").await;

    // Assert
    let skill =
        |profile: &Value, iri: &str| profile["skills"].as_array().unwrap().iter().find(|s| s["skill"] == iri).cloned();
    let ada_sql = skill(&ada, "https://skills.example.com/sql").expect("ada has an SQL estimate");
    let bo_sql = skill(&bo, "https://skills.example.com/sql").unwrap();
    assert!(ada_sql["level"].as_f64().unwrap() > 3.5 && bo_sql["level"].as_f64().unwrap() < 1.5, "{ada_sql} {bo_sql}");
    assert_eq!(ada_sql["contributions"].as_array().unwrap().len(), 10, "every statement that moved it is listed");
    let explained: f64 =
        ada_sql["contributions"].as_array().unwrap().iter().map(|c| c["change_now"].as_f64().unwrap()).sum();
    assert!((explained - ada_sql["mean"].as_f64().unwrap()).abs() < 1e-9, "the contributions add up to the estimate");
    let ada_data = skill(&ada, "https://skills.example.com/data").expect("SQL evidence counts for its broader skill");
    assert!(
        ada_data["contributions"][0]["steps_up"] == 1
            && ada_data["level"].as_f64().unwrap() < ada_sql["level"].as_f64().unwrap()
    );

    assert_eq!(map["members"], 2);
    let sql_row =
        map["skills"].as_array().unwrap().iter().find(|s| s["skill"] == "https://skills.example.com/sql").unwrap();
    assert_eq!(
        (sql_row["people"].clone(), sql_row["suppressed"].clone(), sql_row["mean_level"].clone()),
        (json!(2), json!(true), Value::Null),
        "two people's mean is not shown: {sql_row}"
    );
    let gaps = map["gaps"].as_array().unwrap();
    assert!(
        gaps.iter()
            .any(|g| g["person"] == "mbox:mailto:bo@example.com" && g["skill"] == "https://skills.example.com/sql"),
        "{map}"
    );
    assert!(
        !gaps
            .iter()
            .any(|g| g["person"] == "mbox:mailto:ada@example.com" && g["skill"] == "https://skills.example.com/sql"),
        "{map}"
    );

    let candidates = search["candidates"].as_array().unwrap();
    assert_eq!(candidates[0]["person"], "mbox:mailto:cy@example.com", "the one direct match first: {search}");
    let ada =
        candidates.iter().find(|c| c["person"] == "mbox:mailto:ada@example.com").expect("an adjacent skill's holder");
    assert_eq!(
        ada["path"],
        json!([{"skill": "https://skills.example.com/joins", "link": ""}, {"skill": "https://skills.example.com/sql", "link": "broader"}])
    );
    assert!(candidates.iter().all(|c| c["person"] != "mbox:mailto:bo@example.com"
        || c["score"].as_f64().unwrap() < ada["score"].as_f64().unwrap()));
    let bad = app.api(Method::GET, "skills/search?skill=https%3A%2F%2Fnope.example%2Fx").send().await.unwrap();
    assert_eq!(bad.status(), 400);

    let demand = app.api_json("skills/demand?months=3").await;
    let sql =
        demand["skills"].as_array().unwrap().iter().find(|s| s["skill"] == "https://skills.example.com/sql").unwrap();
    let this_month = sql["months"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (this_month[1].clone(), this_month[2].clone()),
        (json!(20), json!(2)),
        "direct evidence and people: {sql}"
    );
    assert_eq!(sql["roles_requiring"], 1);
    let too_short = app.api(Method::GET, "skills/demand?months=2").send().await.unwrap();
    assert_eq!(too_short.status(), 400);
}

#[tokio::test]
async fn teams_named_by_statements_get_a_map_and_an_unknown_team_is_not_found() {
    // Arrange: two quizzes sent with context.team, one from a Group actor; groups of one shown.
    let app = TestApp::spawn_with(|s| s.min_group_size = 1).await;
    put_framework(&app, "core.toml", FRAMEWORK).await;
    let mut from_team = quiz("dee", 1, true);
    from_team["context"] =
        json!({"team": {"objectType": "Group", "name": "Data desk", "mbox": "mailto:desk@example.com"}});
    let mut by_group = quiz("unused", 2, true);
    by_group["actor"] =
        json!({"objectType": "Group", "name": "Data desk", "member": [{"mbox": "mailto:eli@example.com"}]});
    assert_eq!(app.post_statements(&json!([from_team, by_group])).await.status(), 200);
    caught_up(&app).await;

    // Act
    let teams = app.api_json("skills/teams").await;
    let map = app.api_json("skills/teams/Data%20desk").await;
    let unknown = app.api(Method::GET, "skills/teams/nobody").send().await.unwrap();

    // Assert
    assert_eq!(teams["teams"], json!([{"team": "Data desk", "members": 2}]));
    assert_eq!(map["members"], 2);
    // Only dee's own quiz is evidence (an anonymous Group's members are not the actor).
    let sql =
        map["skills"].as_array().unwrap().iter().find(|s| s["skill"] == "https://skills.example.com/sql").unwrap();
    assert_eq!((sql["suppressed"].clone(), sql["people"].clone()), (json!(false), json!(1)), "{map}");
    assert!(sql["mean_level"].as_f64().is_some());
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn bad_skills_requests_are_refused_naming_the_parameter_and_rule() {
    // Arrange
    let app = TestApp::spawn().await;
    put_framework(&app, "core.toml", FRAMEWORK).await;
    let cases: Vec<(&str, reqwest::RequestBuilder, &str)> = vec![
        ("an agent that is not JSON", app.api(Method::GET, "skills/profile?agent=ada"), "agent:"),
        (
            "an agent without an IFI",
            app.api(Method::GET, "skills/profile").query(&[("agent", r#"{"name":"Ada"}"#)]),
            "agent:",
        ),
        ("an unknown parameter", app.api(Method::GET, "skills/profile?agent=x&colour=red"), "colour"),
        ("a repeated parameter", app.api(Method::GET, "skills/search?skill=a&skill=b"), "skill"),
        (
            "a bad instant",
            app.api(Method::GET, "skills/search?skill=https%3A%2F%2Fskills.example.com%2Fsql&at=yesterday"),
            "at:",
        ),
        (
            "a search limit of 0",
            app.api(Method::GET, "skills/search?skill=https%3A%2F%2Fskills.example.com%2Fsql&limit=0"),
            "limit",
        ),
        (
            "a map member's bad agent",
            app.api(Method::POST, "skills/map").json(&json!({"members": [{"agent": {"mbox": "ada"}}]})),
            "members[0].agent",
        ),
        (
            "a map member's unknown role",
            app.api(Method::POST, "skills/map")
                .json(&json!({"members": [{"agent": {"mbox": "mailto:a@b.c"}, "role": "https://nope.example/r"}]})),
            "members[0].role",
        ),
        ("a map body that is not a request", app.api(Method::POST, "skills/map").body("[1]"), "body:"),
    ];

    for (what, request, names) in cases {
        // Act
        let response = request.send().await.unwrap();

        // Assert
        assert_eq!(response.status(), 400, "{what}");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains(names), "{what}: {body}");
    }
}

#[tokio::test]
async fn a_framework_changed_while_the_server_was_stopped_is_inferred_again_at_start() {
    // Arrange: SQL quizzes count fully, then the file is edited on disk with the server down.
    let app = TestApp::spawn().await;
    put_framework(&app, "core.toml", FRAMEWORK).await;
    let statements: Vec<Value> = (0..4).map(|i| quiz("ada", i, true)).collect();
    assert_eq!(app.post_statements(&Value::Array(statements)).await.status(), 200);
    caught_up(&app).await;
    let before = profile(&app, "ada").await;
    let file = app.data_dir.path().join("skills/core.toml");
    let app = {
        let stopped = app.restart_with(|| {
            let halved = FRAMEWORK.replace(
                "skills = [{ skill = \"https://skills.example.com/sql\" }]",
                "skills = [{ skill = \"https://skills.example.com/sql\", weight = 0.5 }]",
            );
            std::fs::write(&file, halved).unwrap();
        });
        stopped.await
    };

    // Act
    caught_up(&app).await;
    let after = profile(&app, "ada").await;

    // Assert
    let weight = |p: &Value| {
        p["skills"].as_array().unwrap().iter().find(|s| s["skill"] == "https://skills.example.com/sql").unwrap()
            ["contributions"][0]["weight"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(weight(&before), 1.0);
    assert_eq!(weight(&after), 0.5, "the estimates follow the framework in force, not the one before the stop");
}

#[tokio::test]
async fn voiding_a_statement_that_was_evidence_takes_it_out_of_the_estimate() {
    // Arrange
    let app = TestApp::spawn().await;
    put_framework(&app, "core.toml", FRAMEWORK).await;
    let statements: Vec<Value> = (0..5).map(|i| quiz("ada", i, true)).collect();
    let ids: Vec<String> = app.post_statements(&Value::Array(statements)).await.json().await.unwrap();
    caught_up(&app).await;
    // While inference starts over the estimate is briefly absent: count that as none.
    let evidence = |p: &Value| {
        let sql = p["skills"].as_array().unwrap().iter().find(|s| s["skill"] == "https://skills.example.com/sql");
        sql.and_then(|s| s["contributions"].as_array()).map_or(0, Vec::len)
    };
    assert_eq!(evidence(&profile(&app, "ada").await), 5);

    // Act
    let voiding = json!({"actor": {"mbox": "mailto:lms@example.com"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": ids[2]}});
    assert_eq!(app.post_statements(&voiding).await.status(), 200);

    // Assert
    let left = crate::helpers::eventually(20, "inference without the voided statement", || async {
        let count = evidence(&profile(&app, "ada").await);
        (count == 4).then_some(count)
    })
    .await;
    assert_eq!(left, 4);
    let profile = profile(&app, "ada").await;
    let sql = profile["skills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skill"] == "https://skills.example.com/sql")
        .unwrap()
        .clone();
    assert!(sql["contributions"].as_array().unwrap().iter().all(|c| c["statement"] != ids[2]), "{sql}");
}

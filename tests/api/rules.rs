//! The rules engine inside the server: rules installed through the admin API run on
//! statements posted over HTTP, and what they produce (interventions, run records, health,
//! metrics) is visible through the API. Also: the admin scope, refused rules, reloading
//! from disk, and a runaway rule failing alone while the server keeps answering.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{basic, eventually, statement, TestApp, ADMIN_KEY, ADMIN_SECRET};

const SCORED: &str = "http://adlnet.gov/expapi/verbs/scored";
const FCR_KPI: &str = "https://crm.example.com/kpi/first-call-resolution";
const LESSON: &str = "https://lms.example.com/micro-lessons/objection-handling";

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/rules/{name}.rhai", env!("CARGO_MANIFEST_DIR"))).expect("example rule")
}

fn kpi_statement(mbox: &str, rate: f64) -> Value {
    json!({
        "actor": {"objectType": "Agent", "mbox": mbox},
        "verb": {"id": SCORED, "display": {"en-US": "scored"}},
        "object": {"objectType": "Activity", "id": FCR_KPI},
        "result": {"score": {"scaled": rate}}
    })
}

#[tokio::test]
async fn an_example_rule_installed_through_the_api_records_an_intervention() {
    // Arrange
    let app = TestApp::spawn().await;
    let installed = app.put_rule("kpi-triggered-assignment", &example("kpi-triggered-assignment")).await;
    assert_eq!(installed.status(), 201);
    let on_target = kpi_statement("mailto:on-target@example.com", 0.9);
    let under = kpi_statement("mailto:under@example.com", 0.5);

    // Act
    assert_eq!(app.post_statements(&json!([on_target, under])).await.status(), 200);

    // Assert
    let interventions = eventually(10, "the intervention", || async {
        let found = app.api_json(&format!("interventions?activity={LESSON}")).await;
        let list = found["interventions"].as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(interventions.len(), 1, "{interventions:?}");
    assert_eq!(interventions[0]["actor_id"], "mbox:mailto:under@example.com");
    assert_eq!(interventions[0]["rule"], "kpi-triggered-assignment");
    assert!(interventions[0]["reason"].as_str().unwrap().contains("50%"), "{interventions:?}");
    let rule = app.api_json("rules/kpi-triggered-assignment").await;
    assert_eq!(rule["health"]["runs"], 2);
    assert_eq!(rule["recent_runs"].as_array().unwrap().len(), 1, "only runs that produced something: {rule}");
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("fluency_rule_evaluations_total{rule=\"kpi-triggered-assignment\"} 2"), "{metrics}");
    assert!(metrics.contains("fluency_statements_stored_total 2"), "{metrics}");
}

#[tokio::test]
async fn rules_are_managed_only_with_the_admin_scope_and_refused_with_their_position() {
    // Arrange
    let app = TestApp::spawn().await;
    let lms = app
        .api(Method::POST, "../xapi/statements")
        .header("X-Experience-API-Version", "1.0.3")
        .json(&statement(SCORED))
        .send()
        .await
        .unwrap();
    assert_eq!(lms.status(), 200, "the admin credential also holds the xAPI scope `all`");
    let created =
        fluency::auth::create_credential(app.statements.store(), vec![fluency::auth::Scope::All], "an LMS", None)
            .await
            .unwrap();

    // Act
    let as_lms = app
        .client
        .get(format!("{}/api/rules", app.address))
        .header("Authorization", basic(&created.key, &created.secret))
        .send()
        .await
        .unwrap();
    let broken = app.put_rule("broken", "//! name = \"broken\"\nlet x = 1;\nlet y = ;\n").await;
    let missing = app.api(Method::POST, "rules/missing/enable").send().await.unwrap();

    // Assert
    assert_eq!(as_lms.status(), 403, "`all` is the xAPI scope; rules need `admin`");
    assert_eq!(broken.status(), 400);
    let error: Value = broken.json().await.unwrap();
    assert_eq!(error["code"], "invalid_rule");
    assert!(error["message"].as_str().unwrap().contains("broken.rhai:3:9"), "file, line and column: {error}");
    assert_eq!(missing.status(), 404);
    assert_eq!(app.api_json("rules").await["rules"], json!([]), "nothing was installed");
}

#[tokio::test]
async fn a_rule_is_disabled_enabled_and_deleted_through_the_api() {
    // Arrange
    let app = TestApp::spawn().await;
    app.put_rule("kpi-triggered-assignment", &example("kpi-triggered-assignment")).await;

    // Act
    let disabled: Value =
        app.api(Method::POST, "rules/kpi-triggered-assignment/disable").send().await.unwrap().json().await.unwrap();
    let posted: Vec<String> =
        app.post_statements(&kpi_statement("mailto:while-disabled@example.com", 0.1)).await.json().await.unwrap();
    // The runner applies the rules in force when it evaluates a statement: let it pass
    // this one before the rule is enabled again.
    let store = app.statements.store();
    let id = posted[0].parse().unwrap();
    let stored = store.find_statements(&[id]).await.unwrap()[0].stored;
    eventually(10, "the runner to evaluate the statement", || async {
        (store.rules_evaluated_through().await.unwrap().unwrap_or(0) >= stored).then_some(())
    })
    .await;
    let enabled: Value =
        app.api(Method::POST, "rules/kpi-triggered-assignment/enable").send().await.unwrap().json().await.unwrap();
    app.post_statements(&kpi_statement("mailto:while-enabled@example.com", 0.1)).await;

    // Assert
    assert_eq!((disabled["enabled"].clone(), enabled["enabled"].clone()), (json!(false), json!(true)));
    let interventions = eventually(10, "the intervention", || async {
        let list = app.api_json("interventions").await["interventions"].as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    })
    .await;
    let actors: Vec<&str> = interventions.iter().map(|i| i["actor_id"].as_str().unwrap()).collect();
    assert_eq!(actors, ["mbox:mailto:while-enabled@example.com"]);
    let deleted = app.api(Method::DELETE, "rules/kpi-triggered-assignment").send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.api(Method::GET, "rules/kpi-triggered-assignment").send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn rule_files_written_to_the_directory_are_loaded_without_a_restart() {
    // Arrange
    let app = TestApp::spawn_with(|settings| settings.rules.reload_seconds = 1).await;
    let path = app.data_dir.path().join("rules/pathway-completion.rhai");

    // Act
    std::fs::write(&path, example("pathway-completion")).unwrap();
    std::fs::write(app.data_dir.path().join("rules/broken.rhai"), "//! name = \"broken\"\nlet = 2;\n").unwrap();

    // Assert
    let listing = eventually(10, "the reload", || async {
        let listing = app.api_json("rules").await;
        (listing["rules"].as_array().is_some_and(|r| !r.is_empty())).then_some(listing)
    })
    .await;
    assert_eq!(listing["rules"][0]["name"], "pathway-completion");
    assert_eq!(listing["refused"][0]["line"], 2, "{listing}");
}

#[tokio::test]
async fn a_runaway_rule_fails_alone_and_is_disabled_while_the_server_keeps_answering() {
    // Arrange
    let app = TestApp::spawn().await;
    let runaway = "//! name = \"runaway\"\n//! [trigger]\n//! verbs = [\"http://example.com/verbs/spin\"]\nloop { }\n";
    assert_eq!(app.put_rule("runaway", runaway).await.status(), 201);
    app.put_rule("kpi-triggered-assignment", &example("kpi-triggered-assignment")).await;
    let spins: Vec<Value> = (0..6).map(|_| statement("http://example.com/verbs/spin")).collect();

    // Act
    let started = std::time::Instant::now();
    assert_eq!(app.post_statements(&Value::Array(spins)).await.status(), 200);
    let about = app.request(Method::GET, "about").send().await.unwrap();
    app.post_statements(&kpi_statement("mailto:after-the-runaway@example.com", 0.2)).await;

    // Assert
    assert_eq!(about.status(), 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "ingestion waited for the rule");
    let health = eventually(10, "the runaway rule to be disabled", || async {
        let health = app.api_json("rules/runaway").await["health"].clone();
        (health["disabled"] == json!(true)).then_some(health)
    })
    .await;
    assert_eq!(health["consecutive_failures"], 5, "disabled at the configured count: {health}");
    assert!(["limit", "timeout"].contains(&health["last_error"]["kind"].as_str().unwrap()), "{health}");
    let other_rule = eventually(10, "the other rule's intervention", || async {
        let list = app.api_json("interventions").await["interventions"].as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(other_rule[0]["actor_id"], "mbox:mailto:after-the-runaway@example.com");
}

#[tokio::test]
async fn rules_and_their_run_records_are_kept_across_a_restart_and_not_run_again() {
    // Arrange
    let app = TestApp::spawn().await;
    let failing =
        "//! name = \"fails\"\n//! [trigger]\n//! verbs = [\"http://example.com/verbs/fail\"]\nthrow \"no\";\n";
    assert_eq!(app.put_rule("fails", failing).await.status(), 201);
    app.post_statements(&statement("http://example.com/verbs/fail")).await;
    eventually(10, "the failed run", || async { (recent_runs(&app).await == 1).then_some(()) }).await;

    // Act
    let app = app.restart().await;
    app.post_statements(&statement("http://example.com/verbs/other")).await;
    let store = app.statements.store();
    eventually(10, "the runner to pass every statement", || async {
        let through = store.rules_evaluated_through().await.unwrap().unwrap_or(0);
        store.statements_stored_after(through, 1).await.unwrap().is_empty().then_some(())
    })
    .await;

    // Assert
    assert_eq!(recent_runs(&app).await, 1, "the statement evaluated before the restart is not evaluated again");
    assert_eq!(app.api_json("rules").await["rules"][0]["name"], "fails");
}

async fn recent_runs(app: &TestApp) -> usize {
    app.api_json("rules/fails").await["recent_runs"].as_array().map_or(0, Vec::len)
}

//! Impact analytics end to end: a seeded synthetic helpdesk (KPI statements and course
//! completions for a few hundred agents) is posted through the xAPI API, then
//! `POST /api/impact` must recover the true effect within its confidence interval, and
//! find nothing where there is nothing. Bad requests get clear errors.

use fluency::kpi::{demo_impact_spec, generate_demo, DemoSpec};
use fluency::service::impact::ImpactRequest;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{basic, TestApp};

async fn load_demo(app: &TestApp, spec: &DemoSpec) -> ImpactRequest {
    let data = generate_demo(spec);
    for batch in data.statements.chunks(500) {
        let response = app.post_statements(&Value::Array(batch.to_vec())).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    toml::from_str(&demo_impact_spec(spec)).unwrap()
}

async fn analyse(app: &TestApp, request: &Value) -> (u16, Value) {
    let response = app.api(Method::POST, "impact").json(request).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_analysis_recovers_a_true_effect_within_its_interval() {
    // Arrange
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 200, effect: -30.0, seed: 7, ..DemoSpec::default() };
    let request = load_demo(&app, &spec).await;

    // Act
    let (status, answer) = analyse(&app, &serde_json::to_value(&request).unwrap()).await;

    // Assert
    assert_eq!(status, 200, "{answer}");
    let did = &answer["report"]["did_test"];
    let (low, high) = (did["ci_low"].as_f64().unwrap(), did["ci_high"].as_f64().unwrap());
    assert!(low <= -30.0 && -30.0 <= high, "the true effect is inside [{low}, {high}]");
    assert!(high < 0.0, "and the interval excludes zero");
    assert_eq!(answer["report"]["verdict"]["kind"], "improved");
    assert_eq!(answer["treated_persons"], 100);
    assert!(answer["roi"]["roi_percent"].as_f64().is_some(), "{answer}");
    assert!(!answer["trend"]["treated"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn no_true_effect_gives_an_interval_containing_zero() {
    // Arrange
    let app = TestApp::spawn().await;
    // A 95% interval misses the truth for about one seed in twenty; this seed is not one.
    let spec = DemoSpec { agents: 200, effect: 0.0, seed: 12, ..DemoSpec::default() };
    let request = load_demo(&app, &spec).await;

    // Act
    let (status, answer) = analyse(&app, &serde_json::to_value(&request).unwrap()).await;

    // Assert
    assert_eq!(status, 200, "{answer}");
    let did = &answer["report"]["did_test"];
    let (low, high) = (did["ci_low"].as_f64().unwrap(), did["ci_high"].as_f64().unwrap());
    assert!(low < 0.0 && 0.0 < high, "zero is inside [{low}, {high}]");
    let overall = &answer["report"]["event_study"]["overall"];
    let (low, high) = (overall["ci_low"].as_f64().unwrap(), overall["ci_high"].as_f64().unwrap());
    assert!(low < 0.0 && 0.0 < high, "and inside the staggered design's [{low}, {high}]");
    assert_eq!(answer["report"]["verdict"]["kind"], "no_detectable_effect");
    assert_eq!(answer["claim"]["verdict"], "not_improved", "{}", answer["claim"]);
    assert!(answer["roi_warning"].as_str().unwrap().contains("not statistically significant"), "{answer}");
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_and_small_groups_are_insufficient() {
    // Arrange
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 8, seed: 3, ..DemoSpec::default() };
    let request = serde_json::to_value(load_demo(&app, &spec).await).unwrap();
    let xapi_only =
        fluency::auth::create_credential(app.statements.store(), vec![fluency::auth::Scope::All], "an LMS", None)
            .await
            .unwrap();
    let mut unknown_kpi = request.clone();
    unknown_kpi["kpi"] = json!("https://example.com/kpi/nothing");
    let mut nobody = request.clone();
    nobody["treated"] =
        json!({"verb": "http://adlnet.gov/expapi/verbs/completed", "activity": "https://example.com/none"});
    let mut bad_window = request.clone();
    bad_window["windows"]["pre_days"] = json!(0);

    // Act
    let small = analyse(&app, &request).await;
    let unknown = analyse(&app, &unknown_kpi).await;
    let empty = analyse(&app, &nobody).await;
    let window = analyse(&app, &bad_window).await;
    let typo = analyse(&app, &json!({"kpi": "x", "treatd": {}})).await;
    let forbidden = app
        .client
        .post(format!("{}/api/impact", app.address))
        .header("Authorization", basic(&xapi_only.key, &xapi_only.secret))
        .json(&request)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(small.0, 200);
    assert_eq!(small.1["report"]["verdict"]["kind"], "insufficient_data", "{}", small.1);
    assert!(!small.1.to_string().contains("NaN"));
    assert_eq!(unknown.0, 404);
    assert!(unknown.1["message"].as_str().unwrap().starts_with("kpi:"), "{}", unknown.1);
    assert_eq!(empty.0, 400);
    assert!(empty.1["message"].as_str().unwrap().starts_with("treated:"), "{}", empty.1);
    assert_eq!(window.0, 400);
    assert!(window.1["message"].as_str().unwrap().contains("pre_days"), "{}", window.1);
    assert_eq!(typo.0, 400);
    assert!(typo.1["message"].as_str().unwrap().contains("treatd"), "{}", typo.1);
    assert_eq!(forbidden.status(), 403, "`all` is the xAPI scope; analyses need `analytics`");
}

#[tokio::test]
async fn a_rule_can_ask_for_an_impact_analysis_and_post_its_headline() {
    // Arrange: the demo data, and a rule that answers report requests with the headline.
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 60, seed: 5, ..DemoSpec::default() };
    let request = serde_json::to_value(load_demo(&app, &spec).await).unwrap();
    let rule = format!(
        "//! name = \"impact-on-request\"\n//! [trigger]\n//! verbs = [\"http://example.com/verbs/requested-report\"]\n\
         let answer = impact({});\nnotify(\"ld-team\", answer.report.headline);\nanswer.report.verdict.kind\n",
        rhai_map(&request)
    );
    assert_eq!(app.put_rule("impact-on-request", &rule).await.status(), 201);

    // Act
    let asked = crate::helpers::statement("http://example.com/verbs/requested-report");
    assert_eq!(app.post_statements(&asked).await.status(), 200);

    // Assert: the notification is queued (its target is not configured, so it ends as a
    // dead letter) with the analysis's headline.
    let items = crate::helpers::eventually(15, "the notification", || async {
        let items = app.api_json("outbox?status=dead_letter").await["items"].as_array().cloned().unwrap_or_default();
        (!items.is_empty()).then_some(items)
    })
    .await;
    let text = items[0]["intent"]["intent"]["message"]["text"].as_str().unwrap().to_string();
    assert!(text.starts_with("Improved"), "{text}");
    let health = app.api_json("rules/impact-on-request").await["health"].clone();
    assert_eq!(health["failures"], 0, "{health}");
}

/// A JSON object as a Rhai map literal.
fn rhai_map(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k:?}: {}", rhai_map(v))).collect();
            format!("#{{{}}}", entries.join(", "))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(rhai_map).collect::<Vec<_>>().join(", ")),
        Value::Null => "()".into(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn the_impact_command_can_ask_a_running_server() {
    // Arrange
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 60, seed: 9, ..DemoSpec::default() };
    load_demo(&app, &spec).await;
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("study.toml");
    std::fs::write(&spec_path, demo_impact_spec(&spec)).unwrap();

    // Act: the server holds the store, so the command must go through its API.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fluency"));
    command
        .args(["impact", "--spec", spec_path.to_str().unwrap(), "--url", &app.url(""), "--key"])
        .args([crate::helpers::ADMIN_KEY, "--secret", crate::helpers::ADMIN_SECRET])
        .env("FLUENCY_DATA_DIR", dir.path().join("unused"));
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Verdict: improved"), "{stdout}");
    assert!(dir.path().join("study.html").exists());
}

#[tokio::test]
async fn a_group_smaller_than_the_minimum_is_suppressed_even_when_the_request_asks_for_less() {
    // Arrange: 8 agents, 4 treated; the request lowers its own minimum to 2.
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 8, seed: 5, ..DemoSpec::default() };
    let mut request = serde_json::to_value(load_demo(&app, &spec).await).unwrap();
    request["min_persons_per_group"] = json!(2);

    // Act
    let (status, answer) = analyse(&app, &request).await;

    // Assert
    assert_eq!(status, 200, "{answer}");
    let report = &answer["report"];
    assert!(report["treated"]["persons_analyzed"].as_u64().unwrap() < 5, "{answer}");
    assert!(report["treated"]["post_mean"].is_null() && report["did_test"].is_null(), "{answer}");
    assert!(report["difference_in_differences"].is_null() && answer["roi"].is_null());
    assert_eq!(report["verdict"]["kind"], "insufficient_data");
    let suppressed = answer["suppressed"].as_array().unwrap();
    assert!(suppressed.iter().any(|s| s.as_str().unwrap().starts_with("treated:")), "{answer}");
    let trend = &answer["trend"];
    for point in trend["treated"].as_array().unwrap().iter().chain(trend["comparison"].as_array().unwrap()) {
        assert!(point["persons"].as_u64().unwrap() >= 5, "a trend point of fewer than 5 people: {point}");
    }
}

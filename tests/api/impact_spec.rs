//! Hostile and mistaken impact specs over HTTP: every refusal is a 400 (or 404 for a KPI with
//! no data) whose message starts with the path of the field at fault, for the guardrail,
//! staggered, dose and secondary sections as for the rest.

use fluency::kpi::{demo_impact_spec, generate_demo, DemoSpec};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

#[tokio::test]
async fn every_bad_spec_is_refused_naming_its_field() {
    // Arrange: a small demo and its (valid) spec, then one mistake per case.
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 12, seed: 4, ..DemoSpec::default() };
    for batch in generate_demo(&spec).statements.chunks(500) {
        assert_eq!(app.post_statements(&Value::Array(batch.to_vec())).await.status(), 200);
    }
    let valid: Value = serde_json::to_value(
        toml::from_str::<fluency::service::impact::ImpactRequest>(&demo_impact_spec(&spec)).unwrap(),
    )
    .unwrap();
    let csat = valid["guardrails"][0]["kpi"].clone();
    type Mutation = fn(&mut Value, &Value);
    let cases: Vec<(&str, Mutation, u16, &str)> = vec![
        (
            "a window of the wrong type",
            |r, _| r["windows"]["pre_days"] = json!("28"),
            400,
            "windows.pre_days: invalid type",
        ),
        (
            "an unknown window field",
            |r, _| r["windows"]["pre_dayz"] = json!(3),
            400,
            "windows.pre_dayz: unknown field `pre_dayz`",
        ),
        ("a zero window", |r, _| r["windows"]["post_days"] = json!(0), 400, "windows.post_days: must be between"),
        (
            "a negative margin",
            |r, _| r["guardrails"][0]["margin"] = json!(-2.0),
            400,
            "guardrails[0].margin: must be a positive",
        ),
        ("a zero margin", |r, _| r["guardrails"][0]["margin"] = json!(0.0), 400, "guardrails[0].margin"),
        (
            "a margin that is a string",
            |r, _| r["guardrails"][0]["margin"] = json!("2"),
            400,
            "guardrails[0].margin: invalid type",
        ),
        (
            "a guardrail without its KPI",
            |r, _| r["guardrails"][0] = json!({"margin": 2.0}),
            400,
            "guardrails[0]: missing field `kpi`",
        ),
        (
            "an unknown guardrail field",
            |r, _| r["guardrails"][0]["marginn"] = json!(1),
            400,
            "guardrails[0].marginn: unknown field",
        ),
        (
            "a guardrail KPI with no data",
            |r, _| r["guardrails"][0]["kpi"] = json!("https://example.com/kpi/none"),
            404,
            "guardrails[0]: no observations",
        ),
        (
            "the primary KPI as its own guardrail",
            |r, _| r["guardrails"][0]["kpi"] = r["kpi"].clone(),
            400,
            "guardrails[0].kpi: ",
        ),
        ("a secondary KPI twice", |r, c| r["secondary"] = json!([c, c]), 400, "secondary[0]: "),
        (
            "a secondary KPI with no data",
            |r, _| r["secondary"] = json!(["https://example.com/kpi/none"]),
            404,
            "secondary[0]: no observations",
        ),
        (
            "too many KPIs",
            |r, _| r["secondary"] = json!((0..25).map(|i| format!("https://example.com/kpi/{i}")).collect::<Vec<_>>()),
            400,
            "guardrails: at most 20 KPIs",
        ),
        (
            "a zero period",
            |r, _| r["staggered"]["period_days"] = json!(0),
            400,
            "staggered.period_days: must be between",
        ),
        (
            "a huge event window",
            |r, _| r["staggered"]["periods_after"] = json!(100_000),
            400,
            "staggered.periods_after: must be between",
        ),
        (
            "a negative period count",
            |r, _| r["staggered"]["periods_before"] = json!(-1),
            400,
            "staggered.periods_before: invalid value",
        ),
        (
            "an unknown comparison",
            |r, _| r["staggered"]["comparison"] = json!("everyone"),
            400,
            "staggered.comparison: unknown variant",
        ),
        (
            "an unknown staggered field",
            |r, _| r["staggered"]["cohorts"] = json!(3),
            400,
            "staggered.cohorts: unknown field",
        ),
        ("a dose with nothing to count", |r, _| r["dose"] = json!({"levels": 3}), 400, "dose: give a verb"),
        ("zero dose levels", |r, _| r["dose"]["levels"] = json!(0), 400, "dose.levels: must be between"),
        ("a dose date that is no date", |r, _| r["dose"]["since"] = json!("yesterday"), 400, "dose.since: "),
        (
            "a negative ROI cost",
            |r, _| r["roi"]["program_cost"] = json!(-1.0),
            400,
            "roi.program_cost: must be positive",
        ),
    ];

    for (description, mutate, status, prefix) in cases {
        let mut request = valid.clone();
        mutate(&mut request, &csat);

        // Act
        let response = app.api(Method::POST, "impact").json(&request).send().await.unwrap();
        let code = response.status().as_u16();
        let body: Value = response.json().await.unwrap();

        // Assert
        let message = body["message"].as_str().unwrap_or_default();
        let message = message.strip_prefix("body: not an impact request: ").unwrap_or(message);
        assert_eq!(code, status, "{description}: {body}");
        assert!(message.starts_with(prefix), "{description}: {message:?} should start with {prefix:?}");
    }
}

#[tokio::test]
async fn the_answer_carries_the_claim_guardrail_event_study_and_adjusted_p_values() {
    // Arrange
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 120, seed: 8, ..DemoSpec::default() };
    for batch in generate_demo(&spec).statements.chunks(500) {
        assert_eq!(app.post_statements(&Value::Array(batch.to_vec())).await.status(), 200);
    }
    let request: fluency::service::impact::ImpactRequest = toml::from_str(&demo_impact_spec(&spec)).unwrap();

    // Act
    let response = app.api(Method::POST, "impact").json(&request).send().await.unwrap();
    let answer: Value = response.json().await.unwrap();

    // Assert
    assert_eq!(answer["claim"]["verdict"], "supported", "{}", answer["claim"]);
    let guardrail = &answer["guardrails"][0];
    assert_eq!(guardrail["non_inferiority"]["status"], "held", "{guardrail}");
    assert_eq!(guardrail["kpi"]["unit"], "points");
    let curve = answer["report"]["event_study"]["curve"].as_array().unwrap();
    assert_eq!(curve.len(), 11, "4 weeks before (less the base week) and 8 after");
    let findings = answer["multiplicity"]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "the primary KPI and the guardrail");
    assert_eq!(findings[0]["survives_holm"], true);
    assert!(answer["cohort_multiplicity"]["findings"].as_array().unwrap().len() >= 4, "one per training wave");
    let levels = answer["report"]["dose_response"]["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 4, "1 to 4 modules");
    assert!(answer["report"]["adjusted"]["test"]["ci_low"].is_number());
    assert!(
        answer["roi_interval"]["roi_percent_low"].as_f64().unwrap() < answer["roi"]["roi_percent"].as_f64().unwrap()
    );
    assert!(answer["roi_warning"].is_null(), "the effect is significant: {}", answer["roi_warning"]);
}

#[tokio::test]
async fn a_harmed_guardrail_turns_the_claim_though_the_primary_kpi_improved() {
    // Arrange: the course now costs 4 points of satisfaction, twice the 2-point margin.
    let app = TestApp::spawn().await;
    let spec = DemoSpec { agents: 120, seed: 8, csat_effect: -4.0, ..DemoSpec::default() };
    for batch in generate_demo(&spec).statements.chunks(500) {
        assert_eq!(app.post_statements(&Value::Array(batch.to_vec())).await.status(), 200);
    }
    let request: fluency::service::impact::ImpactRequest = toml::from_str(&demo_impact_spec(&spec)).unwrap();

    // Act
    let response = app.api(Method::POST, "impact").json(&request).send().await.unwrap();
    let answer: Value = response.json().await.unwrap();

    // Assert
    assert_eq!(answer["report"]["verdict"]["kind"], "improved", "handling time still improved");
    assert_eq!(answer["guardrails"][0]["non_inferiority"]["status"], "harmed", "{}", answer["guardrails"][0]);
    assert_eq!(answer["claim"]["verdict"], "guardrail_harmed");
    let sentence = answer["claim"]["sentence"].as_str().unwrap();
    assert!(sentence.starts_with("A guardrail was harmed: Average handling time improved by "), "{sentence}");
    assert!(sentence.contains("Customer satisfaction worsened by "), "{sentence}");
}

#[tokio::test]
async fn nudges_count_as_doses_only_when_acted_on_after_the_nudge() {
    use chrono::{Duration, Utc};
    use fluency::kpi::profile::{kpi_statement, Direction, KpiDefinition, KpiObservation};

    // Arrange: a rule that assigns whatever lesson a nudge request names; six persons get three
    // nudges each; p_i then launches i mod 4 of them (p0 launched one before being nudged,
    // which does not count, and p1 one it was never nudged to, which does not either).
    const NUDGE: &str = "http://example.com/verbs/nudge-requested";
    const LAUNCHED: &str = "http://adlnet.gov/expapi/verbs/launched";
    let app = TestApp::spawn().await;
    let rule = format!(
        "//! name = \"nudge\"\n//! [trigger]\n//! verbs = [\"{NUDGE}\"]\nassign(statement.actor, statement.object.id, \"a nudge\");\n\"assigned\"\n"
    );
    assert_eq!(app.put_rule("nudge", &rule).await.status(), 201);
    let lesson = |k: usize| format!("https://lms.example.com/micro-lessons/{k}");
    let agent = |who: &str| json!({"objectType": "Agent", "mbox": format!("mailto:{who}@example.com")});
    let now = Utc::now();
    let at = |days: i64| fluency::xapi::time::format_utc(&(now + Duration::days(days)).fixed_offset());
    let nudges: Vec<Value> = (0..6)
        .flat_map(|p| (0..3).map(move |k| (p, k)))
        .map(|(p, k)| json!({"actor": agent(&format!("p{p}")), "verb": {"id": NUDGE}, "object": {"id": lesson(k)}}))
        .collect();
    assert_eq!(app.post_statements(&Value::Array(nudges)).await.status(), 200);
    crate::helpers::eventually(15, "eighteen nudges", || async {
        let found = app.api_json("interventions?rule=nudge").await;
        (found["interventions"].as_array().map_or(0, Vec::len) == 18).then_some(())
    })
    .await;
    let launch = |p: usize, k: usize, days: i64| json!({"actor": agent(&format!("p{p}")), "verb": {"id": LAUNCHED}, "object": {"id": lesson(k)}, "timestamp": at(days)});
    let mut launches: Vec<Value> =
        (0..6).flat_map(|p| (0..p % 4).map(move |k| (p, k))).map(|(p, k)| launch(p, k, 1)).collect();
    launches.push(launch(0, 0, -10));
    launches.push(launch(1, 7, 1));
    assert_eq!(app.post_statements(&Value::Array(launches)).await.status(), 200);
    let definition = KpiDefinition {
        id: "https://crm.example.com/kpi/handle-time".into(),
        name: Some("Handle time".into()),
        unit: Some("seconds".into()),
        direction: Some(Direction::LowerIsBetter),
    };
    let mut observations = Vec::new();
    for (who, gain) in
        (0..6).map(|p| (format!("p{p}"), -5.0 * (p % 4) as f64)).chain((0..6).map(|c| (format!("c{c}"), 0.0)))
    {
        for (i, days) in [-20, -13, -6, 3, 10, 17].into_iter().enumerate() {
            let wobble = [0.4, -0.3, 0.1, -0.2, 0.3, -0.1][(i + who.len()) % 6];
            let value = 300.0 + wobble + if days > 0 { gain } else { 0.0 };
            let observation = KpiObservation {
                actor: agent(&who),
                value,
                timestamp: now + Duration::days(days),
                period: None,
                team: None,
            };
            observations.push(kpi_statement(&definition, &observation));
        }
    }
    assert_eq!(app.post_statements(&Value::Array(observations)).await.status(), 200);
    let request = json!({
        "kpi": definition.id,
        "treated": {"rule": "nudge"},
        "windows": {"pre_days": 28, "post_days": 28},
        "min_persons_per_group": 2,
        "dose": {"rule": "nudge", "verb": LAUNCHED, "levels": 3},
    });

    // Act
    let response = app.api(Method::POST, "impact").json(&request).send().await.unwrap();
    let answer: Value = response.json().await.unwrap();

    // Assert: doses 0, 1, 2, 3, 0, 1.
    let levels: Vec<(u64, u64)> = answer["report"]["dose_response"]["levels"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|l| (l["dose"].as_u64().unwrap(), l["persons"].as_u64().unwrap()))
        .collect();
    assert_eq!(levels, [(0, 2), (1, 2), (2, 1), (3, 1)], "{}", answer["report"]["dose_response"]);
    assert_eq!(answer["treated_persons"], 6);
}

//! The OpenAPI description against a validator and against the real answers: the document
//! passes `openapi-spec-validator` (PyPI, installed by .ci/run), and every documented
//! operation is called on a server holding demo data, its status must be one the document
//! lists, and its JSON body must validate against the documented schema.

use std::collections::BTreeSet;

use fluency::skills::demo::{demo_framework, demo_role, DEMO_FRAMEWORK_FILE};
use fluency::storage::PersonRecord;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

async fn document(app: &TestApp) -> Value {
    let answer = app.client.get(format!("{}/api/openapi.json", app.address)).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

#[tokio::test]
async fn the_description_is_openapi_3_1_and_passes_a_validator() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let file = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(file.path(), document.to_string()).unwrap();

    let installed = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        let reason = "openapi-spec-validator is missing: pip install -r tests/openapi-requirements.txt";
        assert!(std::env::var_os("CI").is_none(), "{reason} (.ci/run does this before cargo test)");
        eprintln!("SKIPPED: validating the OpenAPI document ({reason}; CI runs it)");
        return;
    }
    let validated = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(file.path())
        .output()
        .expect("python3 runs");

    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    assert!(
        validated.status.success(),
        "openapi-spec-validator (pip install -r tests/openapi-requirements.txt): {}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
}

#[tokio::test]
async fn the_browsable_page_lists_every_documented_path_and_loads_nothing_from_elsewhere() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;

    let page = app.client.get(format!("{}/api/docs", app.address)).send().await.unwrap();

    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    let html = page.text().await.unwrap();
    for path in document["paths"].as_object().unwrap().keys() {
        assert!(html.contains(&format!(" {path}</code>")), "{path} is on the page");
    }
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"), "nothing external");
    assert!(csp.contains("default-src 'none'"), "{csp}");
}

/// One call of a documented operation: method, path template, and the real request.
struct Call {
    method: Method,
    template: &'static str,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<(&'static str, String)>,
}

fn call(method: Method, template: &'static str) -> Call {
    Call { method, template, path: template.to_string(), query: Vec::new(), body: None }
}

impl Call {
    fn path(mut self, path: &str) -> Self {
        self.path = path.to_string();
        self
    }
    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
    fn json(mut self, body: Value) -> Self {
        self.body = Some(("application/json", body.to_string()));
        self
    }
    fn text(mut self, body: impl Into<String>) -> Self {
        self.body = Some(("text/plain", body.into()));
        self
    }
}

/// Checks `instance` against the schema at `pointer` in the document (references resolve
/// within the document), with JSON Schema 2020-12 as OpenAPI 3.1 says.
fn check_schema(document: &Value, pointer: &str, instance: &Value, what: &str) {
    let mut root = document.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    // A URI fragment: the braces of path templates are percent-encoded.
    root["$ref"] = json!(format!("#{}", pointer.replace('{', "%7B").replace('}', "%7D")));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .unwrap_or_else(|e| panic!("{what}: the schema compiles: {e}"));
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "{what}: the answer differs from its schema: {errors:#?}\n{instance:#}");
}

fn escape_pointer(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

#[tokio::test]
async fn the_schema_check_refuses_answers_that_differ_from_the_description() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let listing = "/paths/~1api~1rules/get/responses/200/content/application~1json/schema";

    let refused =
        std::panic::catch_unwind(|| check_schema(&document, listing, &json!({"rules": [{"name": 7}]}), "probe"));

    assert!(refused.is_err(), "a wrong type and missing fields are caught");
    check_schema(&document, listing, &json!({"rules": [], "refused": []}), "an empty listing");
}

#[tokio::test]
async fn every_documented_operation_answers_as_described() {
    // Arrange: demo statements, the demo framework and teams, and a rule.
    let app = TestApp::spawn().await;
    let spec = fluency::kpi::DemoSpec { agents: 60, effect: -30.0, seed: 5, ..Default::default() };
    let mut data = fluency::kpi::generate_demo(&spec);
    let (_, post) = fluency::kpi::demo::demo_windows(&spec);
    data.statements.extend(fluency::skills::demo::demo_skill_statements(&data, spec.seed, post.end));
    for batch in data.statements.chunks(500) {
        assert_eq!(app.post_statements(&Value::Array(batch.to_vec())).await.status(), 200);
    }
    let people = data.truth.agents.iter().enumerate().map(|(index, person)| PersonRecord {
        person: person.clone(),
        team: Some(format!("Team {}", index % 3 + 1)),
        role: Some(demo_role(index).to_string()),
        ..Default::default()
    });
    app.statements.store().upsert_people(people.collect()).await.unwrap();
    let impact: Value = serde_json::to_value(
        toml::from_str::<fluency::service::impact::ImpactRequest>(&fluency::kpi::demo_impact_spec(&spec)).unwrap(),
    )
    .unwrap();
    let rule =
        std::fs::read_to_string(format!("{}/rules/kpi-triggered-assignment.rhai", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let agent = json!({"mbox": "mailto:agent001@helpdesk.example.com"}).to_string();
    let skill = "https://helpdesk.example.com/skills/de-escalation";
    let name = "kpi-triggered-assignment";
    let rule_path = format!("/api/rules/{name}");

    // A credential, for the paths that name one.
    let achievement = json!({"id": "sql", "name": "SQL", "description": "Queries.", "criteria": "Passed.",
        "image": "https://badges.example.com/sql.png", "achievement_type": "Badge", "tags": []});
    let put = app.api(Method::PUT, "badges/achievements/sql").json(&achievement).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let award = json!({"agent": {"mbox": "mailto:agent001@helpdesk.example.com"}, "achievement": "sql"});
    let awarded: Value =
        app.api(Method::POST, "badges/awards").json(&award).send().await.unwrap().json().await.unwrap();
    let credential_id = awarded["id"].as_str().unwrap().to_string();
    let credential_path = format!("/api/badges/credentials/{credential_id}");
    let credential: Value =
        app.client.get(format!("{}{credential_path}", app.address)).send().await.unwrap().json().await.unwrap();
    let status_url = credential["credentialStatus"]["statusListCredential"].as_str().unwrap().to_string();
    let status_path = status_url[status_url.find("/api/badges/status/").unwrap()..].to_string();

    // In an order where each call finds what it needs.
    let calls = vec![
        call(Method::PUT, "/api/skills/framework/{file}")
            .path(&format!("/api/skills/framework/{DEMO_FRAMEWORK_FILE}"))
            .text(demo_framework()),
        call(Method::GET, "/api/skills/framework"),
        call(Method::GET, "/api/skills/status"),
        call(Method::GET, "/api/skills/profile").query("agent", agent.clone()),
        call(Method::POST, "/api/skills/map")
            .json(json!({"members": [{"agent": {"mbox": "mailto:agent001@helpdesk.example.com"}}]})),
        call(Method::GET, "/api/skills/teams"),
        call(Method::GET, "/api/skills/teams/{team}").path("/api/skills/teams/Team%201"),
        call(Method::GET, "/api/skills/search").query("skill", skill),
        call(Method::GET, "/api/skills/demand"),
        call(Method::POST, "/api/skills/rebuild"),
        call(Method::PUT, "/api/rules/{name}").path(&rule_path).text(rule.clone()),
        call(Method::PUT, "/api/rules/{name}").path(&rule_path).text(rule),
        call(Method::GET, "/api/rules"),
        call(Method::GET, "/api/rules/{name}").path(&rule_path),
        call(Method::POST, "/api/rules/{name}/disable").path(&format!("{rule_path}/disable")),
        call(Method::POST, "/api/rules/{name}/enable").path(&format!("{rule_path}/enable")),
        call(Method::GET, "/api/interventions").query("limit", "5"),
        call(Method::GET, "/api/outbox").query("status", "pending"),
        call(Method::POST, "/api/outbox/{key}/redrive").path("/api/outbox/no-such-key/redrive"),
        call(Method::POST, "/api/impact").json(impact.clone()),
        call(Method::POST, "/api/impact").json(json!({"kpi": impact["kpi"]})),
        call(Method::PUT, "/api/people/consent")
            .json(json!({"agent": {"mbox": "mailto:someone@example.com"}, "inference": false, "nudges": true})),
        call(Method::GET, "/api/people/consent")
            .query("agent", json!({"mbox": "mailto:someone@example.com"}).to_string()),
        call(Method::GET, "/api/people/report").query("agent", agent.clone()),
        call(Method::GET, "/api/people/report").query("agent", agent).query("format", "html"),
        call(Method::POST, "/api/people/report-link").json(json!({"agent": {"mbox": "mailto:someone@example.com"}})),
        call(Method::GET, "/api/people/report/shared").query("token", "not-a-link"),
        call(Method::POST, "/api/retention/run").query("dry_run", "true"),
        call(Method::DELETE, "/api/people").query("agent", json!({"mbox": "mailto:someone@example.com"}).to_string()),
        call(Method::GET, "/api/audit").query("limit", "10"),
        call(Method::GET, "/api/audit/verify"),
        call(Method::GET, "/api/rules/{name}").path("/api/rules/no-such-rule"),
        call(Method::DELETE, "/api/rules/{name}").path(&rule_path),
        call(Method::GET, "/api/badges/achievements"),
        call(Method::GET, "/api/badges/achievements/{id}").path("/api/badges/achievements/sql"),
        call(Method::PUT, "/api/badges/achievements/{id}").path("/api/badges/achievements/sql").json(achievement),
        call(Method::POST, "/api/badges/awards")
            .json(json!({"agent": {"mbox": "mailto:agent002@helpdesk.example.com"}, "achievement": "sql"})),
        call(Method::GET, "/api/badges/awards").query("achievement", "sql"),
        call(Method::GET, "/api/badges/credentials/{id}").path(&credential_path),
        call(Method::GET, "/api/badges/credentials/{id}/badge.svg").path(&format!("{credential_path}/badge.svg")),
        call(Method::GET, "/api/badges/status/{key}/{list}").path(&status_path),
        call(Method::POST, "/api/badges/verify").json(credential),
        call(Method::POST, "/api/badges/credentials/{id}/revoke")
            .path(&format!("{credential_path}/revoke"))
            .json(json!({"reason": "awarded by mistake"})),
        call(Method::POST, "/api/badges/keys/rotate"),
        call(Method::GET, "/api/openapi.json"),
        call(Method::GET, "/api/docs"),
    ];
    let document = document(&app).await;

    // Act and assert, call by call.
    let mut covered = BTreeSet::new();
    for call in calls {
        let what = format!("{} {}", call.method, call.path);
        let operation_pointer =
            format!("/paths/{}/{}", escape_pointer(call.template), call.method.as_str().to_lowercase());
        let operation = document.pointer(&operation_pointer).unwrap_or_else(|| panic!("{what}: not documented"));
        let mut request = app.api(call.method.clone(), call.path.trim_start_matches("/api")).query(&call.query);
        if let Some((content_type, body)) = &call.body {
            request = request.header("Content-Type", *content_type).body(body.clone());
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16().to_string();
        let content_type =
            answer.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let text = answer.text().await.unwrap();
        let response = operation["responses"]
            .get(&status)
            .unwrap_or_else(|| panic!("{what}: answered {status}, which is not documented: {text}"));
        let media = content_type.split(';').next().unwrap().trim().to_string();
        match response.get("content") {
            None => assert!(text.is_empty(), "{what}: {status} is documented without a body: {text}"),
            Some(content) => {
                let documented =
                    content.get(&media).unwrap_or_else(|| panic!("{what}: {media} is not documented for {status}"));
                if media == "application/json" && documented.get("schema").is_some() {
                    let pointer =
                        format!("{operation_pointer}/responses/{status}/content/{}/schema", escape_pointer(&media));
                    check_schema(&document, &pointer, &serde_json::from_str(&text).unwrap(), &what);
                }
            }
        }
        covered.insert(format!("{} {}", call.method.as_str().to_lowercase(), call.template));
    }
    let documented: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, operations)| {
            operations.as_object().unwrap().keys().map(move |method| format!("{method} {path}"))
        })
        .collect();
    assert_eq!(documented, covered, "every documented operation is called once at least");
}

//! Erasure against a live server: a person with statements (as actor, as group member, as
//! object, as instructor), documents, an attachment, rule state, an intervention and skill
//! estimates is erased while other people's statements keep arriving; afterwards no byte
//! of the data directory holds their identifiers or name, every other acknowledged
//! statement is still there, and a replay of their statements is refused.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[path = "support/scan.rs"]
mod scan;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use helpers::{eventually, TestApp};
use reqwest::Method;
use scan::scan;
use serde_json::{json, Value};
use sha1::Digest;

const ADA: &str = "ada.lovelace.erasure@example.com";
const ADA_NAME: &str = "Augusta Ada Lovelace-Erasure";
const ATTACHMENT: &[u8] = b"ADA-PRIVATE-APPRAISAL-NOTE: exceptional analytical engine work";
const SHARED: &[u8] = b"company handbook, attached by everyone";
const FRAMEWORK: &str = "[[skill]]\niri = \"https://skills.example.com/sql\"\n\n[[mapping]]\nactivity_prefix = \"https://lms.example.com/sql/\"\nskills = [{ skill = \"https://skills.example.com/sql\" }]\n";
const RULE: &str = "//! name = \"remedial\"\n//! [trigger]\n//! verbs = [\"http://adlnet.gov/expapi/verbs/failed\"]\nstate_set(`fails-${actor_id(statement)}`, #{ who: statement.actor });\nassign(statement.actor, \"https://lms.example.com/remedial\", \"failed a quiz\");\n";

fn ada() -> Value {
    json!({"mbox": format!("mailto:{ADA}"), "name": ADA_NAME})
}

fn someone(n: usize) -> Value {
    json!({"mbox": format!("mailto:worker-{n}@example.com"), "name": format!("Worker {n}")})
}

fn statement(actor: Value, verb: &str, object: Value) -> Value {
    json!({"actor": actor, "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")}, "object": object})
}

fn quiz(n: u32) -> Value {
    json!({"id": format!("https://lms.example.com/sql/quiz-{n}")})
}

async fn post_with_attachments(app: &TestApp, actor: Value, payloads: &[&[u8]]) -> reqwest::Response {
    let mut value = statement(actor, "attached", json!({"id": "https://hr.example.com/appraisal"}));
    let described: Vec<Value> = payloads
        .iter()
        .map(|bytes| {
            json!({"usageType": "http://example.com/usage/evidence", "display": {"en-US": "note"},
                "contentType": "text/plain", "length": bytes.len(), "sha2": hex::encode(sha2::Sha256::digest(bytes))})
        })
        .collect();
    value["attachments"] = Value::Array(described);
    let boundary = "erasuretestboundary";
    let mut body = format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n{value}\r\n").into_bytes();
    for bytes in payloads {
        let sha2 = hex::encode(sha2::Sha256::digest(bytes));
        body.extend(format!("--{boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha2}\r\n\r\n").bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend(format!("--{boundary}--").bytes());
    app.request(Method::POST, "statements")
        .header("Content-Type", format!("multipart/mixed; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn ids_of(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Ada's data of every kind, beside Worker 1's.
async fn arrange(app: &TestApp) -> (Vec<String>, String) {
    assert_eq!(app.api(Method::PUT, "skills/framework/core.toml").body(FRAMEWORK).send().await.unwrap().status(), 200);
    assert_eq!(app.put_rule("remedial", RULE).await.status(), 201);
    let group = json!({"objectType": "Group", "name": "Analysts", "member": [ada(), someone(1)]});
    let mut instructed = statement(someone(1), "attended", json!({"id": "https://lms.example.com/class"}));
    instructed["context"] = json!({"instructor": ada()});
    let ada_statements = json!([
        statement(ada(), "passed", quiz(1)),
        statement(ada(), "passed", quiz(2)),
        statement(ada(), "failed", quiz(3)),
        statement(group, "completed", json!({"id": "https://lms.example.com/team-project"})),
        statement(someone(1), "mentored", json!({"objectType": "Agent", "mbox": format!("mailto:{ADA}")})),
        instructed,
    ]);
    let mut kept = ids_of(app.post_statements(&json!([statement(someone(1), "passed", quiz(1))])).await).await;
    let ada_ids = ids_of(app.post_statements(&ada_statements).await).await;
    let voiding = statement(someone(99), "voided", json!({"objectType": "StatementRef", "id": ada_ids[0]}));
    assert_eq!(app.post_statements(&json!([voiding])).await.status(), 200);
    assert_eq!(post_with_attachments(app, ada(), &[ATTACHMENT, SHARED]).await.status(), 200);
    kept.extend(ids_of(post_with_attachments(app, someone(1), &[SHARED]).await).await);

    let agent = json!({"mbox": format!("mailto:{ADA}")}).to_string();
    let profile = [("agent", agent.as_str()), ("profileId", "preferences")];
    let put = app.request(Method::POST, "agents/profile").query(&profile).json(&json!({"nickname": ADA_NAME})).send();
    assert_eq!(put.await.unwrap().status(), 204);
    let state =
        [("agent", agent.as_str()), ("activityId", "https://lms.example.com/sql/quiz-1"), ("stateId", "bookmark")];
    let put = app.request(Method::PUT, "activities/state").query(&state).json(&json!({"learner": ADA})).send();
    assert_eq!(put.await.unwrap().status(), 204);
    let people = "person,name,team\nmailto:".to_string() + ADA + "," + ADA_NAME + ",analysts\n";
    let path = app.data_dir.path().join("people.csv");
    std::fs::write(&path, people).unwrap();
    let store = app.statements.store();
    let record = fluency::storage::PersonRecord {
        person: format!("mbox:mailto:{ADA}"),
        name: Some(ADA_NAME.into()),
        team: Some("analysts".into()),
        ..Default::default()
    };
    store.upsert_people(vec![record]).await.unwrap();
    std::fs::remove_file(path).unwrap();

    // A credential.
    let achievement = json!({"id": "analytical-engines", "name": "Analytical engines", "description": "Programs them.",
        "criteria": "Wrote the first program.", "image": "https://badges.example.com/engine.png",
        "achievement_type": "Badge", "tags": ["history"]});
    let put = app.api(Method::PUT, "badges/achievements/analytical-engines").json(&achievement).send().await.unwrap();
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    let award =
        json!({"agent": {"mbox": format!("mailto:{ADA}"), "name": ADA_NAME}, "achievement": "analytical-engines"});
    let awarded = app.api(Method::POST, "badges/awards").json(&award).send().await.unwrap();
    assert_eq!(awarded.status(), 201);
    let credential: Value = awarded.json().await.unwrap();
    let credential_id = credential["id"].as_str().unwrap().to_string();

    // Inference and the rule have seen Ada's statements.
    let ada_key = format!("mbox:mailto:{ADA}");
    eventually(30, "ada's skill estimate", || async {
        let filter = fluency::storage::EstimateFilter { person: Some(ada_key.clone()), ..Default::default() };
        (!store.skill_estimates(&filter).await.unwrap().is_empty()).then_some(())
    })
    .await;
    eventually(30, "ada's intervention", || async {
        let found: Value = app.api_json("interventions").await;
        found["interventions"].as_array().is_some_and(|list| !list.is_empty()).then_some(())
    })
    .await;
    (kept, credential_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erased_person_leaves_no_byte_behind_while_everyone_elses_statements_stay() {
    let app = TestApp::spawn().await;
    let (mut kept, credential_id) = arrange(&app).await;

    // Act: erase Ada while other people's statements keep arriving.
    let writing = Arc::new(AtomicBool::new(true));
    let load = {
        let (client, url, writing) = (app.client.clone(), app.url("statements"), writing.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                n += 1;
                let batch: Vec<Value> =
                    (0..20).map(|i| statement(someone(n * 20 + i), "experienced", quiz(9))).collect();
                let response = client
                    .post(&url)
                    .header("Authorization", helpers::basic(helpers::ADMIN_KEY, helpers::ADMIN_SECRET))
                    .header("X-Experience-API-Version", "1.0.3")
                    .json(&batch)
                    .send()
                    .await
                    .unwrap();
                if response.status() == 200 {
                    acknowledged.extend(response.json::<Vec<String>>().await.unwrap());
                }
            }
            acknowledged
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let agent = json!({"mbox": format!("mailto:{ADA}")}).to_string();
    let response = app.api(Method::DELETE, "people").query(&[("agent", agent.as_str())]).send().await.unwrap();
    let status = response.status();
    let report: Value = response.json().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    writing.store(false, Ordering::Relaxed);
    kept.extend(load.await.unwrap());

    // Assert: the report, the replay refusal, every other statement.
    assert_eq!(status, 200, "{report}");
    assert!(report["statements"].as_u64().unwrap() >= 8, "{report}");
    assert_eq!(report["attachment_files"], 1, "the shared attachment stays: {report}");
    assert_eq!(report["verified"], true, "{report}");
    assert!(report["person"].as_str().unwrap().starts_with("person:"));
    let replay = app.post_statements(&json!([statement(ada(), "passed", quiz(7))])).await;
    assert_eq!(replay.status(), 403);
    assert!(replay.text().await.unwrap().contains("erased"));
    assert!(kept.len() > 100, "the load kept writing during the erasure ({} statements)", kept.len());
    for chunk in kept.chunks(50) {
        for id in chunk {
            assert_eq!(app.get_statement(id).await.status(), 200, "acknowledged statement {id} is still there");
        }
    }
    let audit: Value = app.api_json("audit").await;
    let erasure = audit["entries"].as_array().unwrap().iter().find(|e| e["action"] == "people.erase").cloned();
    assert!(erasure.is_some_and(|e| !e.to_string().contains(ADA)), "the audit log names the erasure, not Ada");
    let verified: Value = app.api_json("audit/verify").await;
    assert_eq!(verified["valid"], true);
    let credential =
        app.client.get(format!("{}/api/badges/credentials/{credential_id}", app.address)).send().await.unwrap();
    assert_eq!(credential.status(), 404, "the credential is gone from its URL");
    let row = app.statements.store().find_badge(&credential_id).await.unwrap().expect("its revoked place stays");
    assert!(row.revoked.is_some() && row.person.is_empty(), "revoked, then emptied: {row:?}");
    assert_eq!(report["records"]["credentials"], 1, "{report}");

    // Assert: at rest, no byte of the data directory holds Ada.
    let dir = app.data_dir.path().to_path_buf();
    let app = app.restart().await;
    let sha1 = hex::encode(sha1::Sha1::digest(format!("mailto:{ADA}").as_bytes()));
    let needles: [&[u8]; 5] = [ADA.as_bytes(), ADA_NAME.as_bytes(), sha1.as_bytes(), ATTACHMENT, b"ADA-PRIVATE"];
    assert_eq!(scan(&dir, &needles), vec![], "nothing of Ada is left in {}", dir.display());
    assert_eq!(scan(&dir, &[SHARED]).len(), 1, "the attachment others use stays");
    let store = app.statements.store();
    let filter = fluency::storage::EstimateFilter { person: Some(format!("mbox:mailto:{ADA}")), ..Default::default() };
    assert!(store.skill_estimates(&filter).await.unwrap().is_empty());
}

#[tokio::test]
async fn erasing_twice_is_harmless_and_bad_requests_name_the_field() {
    let app = TestApp::spawn().await;
    assert_eq!(app.post_statements(&json!([statement(ada(), "passed", quiz(1))])).await.status(), 200);
    let path = format!(
        "people/{}",
        percent_encoding::utf8_percent_encode(&format!("mailto:{ADA}"), percent_encoding::NON_ALPHANUMERIC)
    );
    let first: Value = app.api(Method::DELETE, &path).send().await.unwrap().json().await.unwrap();
    let second: Value = app.api(Method::DELETE, &path).send().await.unwrap().json().await.unwrap();
    assert_eq!((first["statements"].as_u64(), second["statements"].as_u64()), (Some(1), Some(0)), "{first} {second}");

    assert_eq!(app.post_statements(&json!([statement(someone(2), "passed", quiz(1))])).await.status(), 200);
    let page: Value = app.get_statements(&[("limit", "1")]).await.json().await.unwrap();
    let admin_account = page["statements"][0]["authority"].to_string();
    for (query, field) in [
        (vec![], "agent"),
        (vec![("agent", "not json")], "agent"),
        (vec![("agent", r#"{"mbox": "ada@example.com"}"#)], "agent.mbox"),
        (vec![("agent", r#"{"objectType": "Person", "mbox": "mailto:a@x.org"}"#)], "agent.mbox"),
        (vec![("agent", r#"{"mbox": "mailto:a@x.org"}"#), ("dry", "1")], "dry"),
        (vec![("agent", &admin_account)], "agent.account"),
    ] {
        let response = app.api(Method::DELETE, "people").query(&query).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query:?}");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().starts_with(field), "{query:?}: {body}");
    }
    let anonymous = app.client.delete(format!("{}/api/people", app.address)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

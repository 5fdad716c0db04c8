use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{statement, unique_mbox, TestApp};

fn agent_param(mbox: &str) -> String {
    json!({"objectType": "Agent", "mbox": mbox}).to_string()
}

struct StateDoc<'a> {
    app: &'a TestApp,
    activity: String,
    agent: String,
}

impl<'a> StateDoc<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            activity: format!("http://example.com/activities/{}", uuid::Uuid::new_v4()),
            agent: agent_param(&unique_mbox()),
        }
    }

    async fn send(
        &self,
        method: Method,
        state_id: Option<&str>,
        body: Option<(&str, &str)>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut query = vec![("activityId", self.activity.clone()), ("agent", self.agent.clone())];
        if let Some(id) = state_id {
            query.push(("stateId", id.to_string()));
        }
        let mut request = self.app.request(method, "activities/state").query(&query);
        if let Some((content_type, content)) = body {
            request = request.header("Content-Type", content_type).body(content.to_string());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn a_state_document_comes_back_byte_for_byte_with_its_type_etag_and_date() {
    let app = TestApp::spawn().await;
    let doc = StateDoc::new(&app);

    let put = doc.send(Method::PUT, Some("bookmark"), Some(("text/plain; charset=utf-8", "page 7")), &[]).await;
    let got = doc.send(Method::GET, Some("bookmark"), None, &[]).await;

    assert_eq!(put.status(), 204);
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "text/plain; charset=utf-8");
    let etag = got.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag.len(), 42, "quoted 40-hex SHA-1: {etag}");
    assert!(got.headers().contains_key("last-modified"));
    assert_eq!(got.text().await.unwrap(), "page 7");
}

#[tokio::test]
async fn post_merges_json_objects_and_refuses_to_merge_anything_else() {
    let app = TestApp::spawn().await;
    let doc = StateDoc::new(&app);
    doc.send(Method::PUT, Some("prefs"), Some(("application/json", r#"{"car":"Honda","seat":{"x":1}}"#)), &[]).await;

    let merged = doc
        .send(Method::POST, Some("prefs"), Some(("application/json", r#"{"seat":{"y":2},"type":"Civic"}"#)), &[])
        .await;
    let refused = doc.send(Method::POST, Some("prefs"), Some(("text/plain", "abc")), &[]).await;

    assert_eq!(merged.status(), 204);
    assert_eq!(refused.status(), 400);
    let body: Value = doc.send(Method::GET, Some("prefs"), None, &[]).await.json().await.unwrap();
    assert_eq!(body, json!({"car": "Honda", "seat": {"y": 2}, "type": "Civic"}));
}

#[tokio::test]
async fn if_match_guards_updates_and_a_bare_put_over_a_2_0_document_conflicts() {
    let app = TestApp::spawn().await.with_version("2.0.0");
    let doc = StateDoc::new(&app);
    doc.send(Method::PUT, Some("s"), Some(("application/json", "{\"a\":1}")), &[]).await;
    let etag = doc.send(Method::GET, Some("s"), None, &[]).await.headers()["etag"].to_str().unwrap().to_string();

    let stale =
        doc.send(Method::PUT, Some("s"), Some(("application/json", "{\"a\":2}")), &[("If-Match", "\"0000\"")]).await;
    let bare = doc.send(Method::PUT, Some("s"), Some(("application/json", "{\"a\":3}")), &[]).await;
    let fresh = doc.send(Method::PUT, Some("s"), Some(("application/json", "{\"a\":4}")), &[("If-Match", &etag)]).await;
    let create_only =
        doc.send(Method::PUT, Some("s"), Some(("application/json", "{}")), &[("If-None-Match", "*")]).await;

    assert_eq!(stale.status(), 412);
    assert_eq!(bare.status(), 409);
    assert_eq!(fresh.status(), 204);
    assert_eq!(create_only.status(), 412);
    let body: Value = doc.send(Method::GET, Some("s"), None, &[]).await.json().await.unwrap();
    assert_eq!(body, json!({"a": 4}));
}

#[tokio::test]
async fn state_ids_are_listed_and_deleted_together() {
    let app = TestApp::spawn().await;
    let doc = StateDoc::new(&app);
    for id in ["one", "two"] {
        assert_eq!(doc.send(Method::PUT, Some(id), Some(("application/json", "{}")), &[]).await.status(), 204);
    }

    let mut ids: Vec<String> = doc.send(Method::GET, None, None, &[]).await.json().await.unwrap();
    let deleted = doc.send(Method::DELETE, None, None, &[]).await;
    let after: Vec<String> = doc.send(Method::GET, None, None, &[]).await.json().await.unwrap();

    ids.sort();
    assert_eq!(ids, ["one", "two"]);
    assert_eq!(deleted.status(), 204);
    assert!(after.is_empty());
}

#[tokio::test]
async fn a_1_0_3_profile_put_needs_a_concurrency_header() {
    let app = TestApp::spawn().await;
    let query = [("activityId", "http://example.com/profiled"), ("profileId", &uuid::Uuid::new_v4().to_string())];
    let bare = app.request(Method::PUT, "activities/profile").query(&query).body("{}").send().await.unwrap();
    let created = app
        .request(Method::PUT, "activities/profile")
        .query(&query)
        .header("If-None-Match", "*")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();

    assert_eq!(bare.status(), 400);
    assert_eq!(created.status(), 204);
}

#[tokio::test]
async fn activities_and_agents_describe_what_statements_taught_the_lrs() {
    let app = TestApp::spawn().await;
    let mut sent = statement("http://adlnet.gov/expapi/verbs/attempted");
    let activity = format!("http://example.com/activities/{}", uuid::Uuid::new_v4());
    sent["object"] = json!({"objectType": "Activity", "id": activity, "definition": {"name": {"en-US": "Safety"}}});
    let mut french = sent.clone();
    french["object"]["definition"] = json!({"name": {"fr-FR": "Sécurité"}});
    assert_eq!(app.post_statements(&json!([sent, french])).await.status(), 200);

    let activity_doc: Value = app
        .request(Method::GET, "activities")
        .query(&[("activityId", &activity)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mbox = sent["actor"]["mbox"].as_str().unwrap();
    let person: Value = app
        .request(Method::GET, "agents")
        .query(&[("agent", agent_param(mbox))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(activity_doc["definition"]["name"], json!({"en-US": "Safety", "fr-FR": "Sécurité"}));
    assert_eq!(person["objectType"], "Person");
    assert_eq!(person["mbox"], json!([mbox]));
    assert_eq!(person["name"], json!(["Learner"]));
}

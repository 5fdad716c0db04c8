//! Finding 6: reads whose answer could be huge are bounded: an `attachments=true` page
//! stops at a byte cap (the rest follows through `more`) and is streamed from the files;
//! an analysis reading past its statement cap is refused with a clear error.

use fluency::kpi::{demo_impact_spec, generate_demo, DemoSpec};
use fluency::service::impact::ImpactRequest;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{basic, statement, TestApp, ADMIN_KEY, ADMIN_SECRET};

fn with_attachment(bytes: &[u8]) -> (Value, String) {
    let sha2 = hex::encode(Sha256::digest(bytes));
    let mut value = statement("http://example.com/verbs/uploaded");
    value["attachments"] = json!([{
        "usageType": "http://example.com/usage/evidence",
        "display": {"en-US": "evidence"},
        "contentType": "application/octet-stream",
        "length": bytes.len(),
        "sha2": sha2,
    }]);
    (value, sha2)
}

async fn post_with_attachment(app: &TestApp, bytes: &[u8]) {
    let (value, sha2) = with_attachment(bytes);
    let boundary = "securitytestboundary";
    let mut body = format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n{value}\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha2}\r\n\r\n").into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
    let response = app
        .request(Method::POST, "statements")
        .header("Content-Type", format!("multipart/mixed; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn an_attachments_page_stops_at_its_byte_cap_and_the_rest_follows_through_more() {
    // Arrange: three statements with 3,000-byte attachments, and a 4,096-byte cap.
    let app = TestApp::spawn_with(|s| s.max_attachment_page_bytes = 4096).await;
    for fill in [b'a', b'b', b'c'] {
        post_with_attachment(&app, &[fill; 3000]).await;
    }

    // Act
    let mut pages = Vec::new();
    let mut next = Some(app.url("statements?attachments=true&limit=10"));
    while let Some(url) = next.take() {
        let response = app
            .client
            .get(url)
            .header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET))
            .header("X-Experience-API-Version", "1.0.3")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let length = response.headers().get("Content-Length").map(|v| v.to_str().unwrap().to_string());
        let body = response.bytes().await.unwrap();
        assert_eq!(length, Some(body.len().to_string()), "a streamed page still says its length");
        let text = String::from_utf8_lossy(&body).to_string();
        let json_start = text.find('{').unwrap();
        let json_end = text[json_start..].find("\r\n--").unwrap() + json_start;
        let page: Value = serde_json::from_str(&text[json_start..json_end]).unwrap();
        let more = page["more"].as_str().unwrap().to_string();
        next = (!more.is_empty()).then(|| format!("{}{more}", app.address));
        pages.push((page["statements"].as_array().unwrap().len(), body.len()));
        assert!(pages.len() <= 3, "paging ends");
    }

    // Assert
    let counts: Vec<usize> = pages.iter().map(|(count, _)| *count).collect();
    assert_eq!(counts, vec![1, 1, 1], "one 3,000-byte attachment per 4,096-byte page");
    assert!(pages.iter().all(|(_, bytes)| *bytes < 3000 + 4096), "{pages:?}");
}

#[tokio::test]
async fn an_analysis_reading_past_its_statement_cap_is_refused_naming_the_setting() {
    // Arrange
    let app = TestApp::spawn_with(|s| s.max_analysis_statements = 50).await;
    let spec = DemoSpec { agents: 20, seed: 3, ..DemoSpec::default() };
    let data = generate_demo(&spec);
    for batch in data.statements.chunks(500) {
        assert_eq!(app.post_statements(&Value::Array(batch.to_vec())).await.status(), 200);
    }
    let request: ImpactRequest = toml::from_str(&demo_impact_spec(&spec)).unwrap();

    // Act
    let response = app.api(Method::POST, "impact").json(&request).send().await.unwrap();

    // Assert
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("more than 50 statements") && message.contains("max_analysis_statements"), "{message}");
}

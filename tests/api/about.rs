use crate::helpers::TestApp;

#[tokio::test]
async fn about_answers_without_any_headers_and_lists_both_versions() {
    let app = TestApp::spawn().await;

    let response = app.client.get(app.url("about")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-experience-api-version"));
    let body: serde_json::Value = response.json().await.unwrap();
    let versions: Vec<&str> = body["version"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(versions.contains(&"1.0.3") && versions.contains(&"2.0.0"), "{versions:?}");
    assert_eq!(body.as_object().unwrap().len(), 2, "only version and extensions: {body}");
}

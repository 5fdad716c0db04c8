use reqwest::Method;

use crate::helpers::{basic, statement, TestApp};

#[tokio::test]
async fn requests_without_or_with_bad_credentials_get_401_with_a_challenge() {
    let app = TestApp::spawn().await;
    let cases = [
        ("no Authorization header", None),
        ("malformed header", Some("Basic:xxxx".to_string())),
        ("unknown key", Some(basic("nobody", "nothing"))),
        ("wrong secret", Some(basic(crate::helpers::ADMIN_KEY, "wrong"))),
    ];
    for (description, header) in cases {
        let mut request = app.client.get(app.url("statements")).header("X-Experience-API-Version", "1.0.3");
        if let Some(header) = header {
            request = request.header("Authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{description}");
        assert!(response.headers().contains_key("www-authenticate"), "{description}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("Authorization"), "{description}: {body}");
    }
}

#[tokio::test]
async fn a_read_only_credential_cannot_write_statements() {
    let app = TestApp::spawn().await;
    let store = fluency::startup::open_store_shared(&settings_for(&app)).unwrap();
    let reader = fluency::auth::create_credential(&store, vec![fluency::auth::Scope::StatementsRead], "reader", None)
        .await
        .unwrap();

    let response = app
        .client
        .request(Method::POST, app.url("statements"))
        .header("Authorization", basic(&reader.key, &reader.secret))
        .header("X-Experience-API-Version", "1.0.3")
        .json(&statement("http://adlnet.gov/expapi/verbs/attempted"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
    let read = app
        .client
        .get(app.url("statements"))
        .header("Authorization", basic(&reader.key, &reader.secret))
        .header("X-Experience-API-Version", "1.0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
}

fn settings_for(app: &TestApp) -> fluency::config::Settings {
    let layer =
        fluency::config::SettingsLayer { data_dir: Some(app.data_dir.path().to_path_buf()), ..Default::default() };
    fluency::config::Settings::resolve([layer]).unwrap()
}

#[tokio::test]
async fn browsers_get_cors_preflights_answered_without_credentials() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .request(Method::OPTIONS, app.url("statements"))
        .header("Origin", "https://content.example.com")
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "authorization,x-experience-api-version,content-type")
        .send()
        .await
        .unwrap();

    assert!(response.status().is_success(), "{}", response.status());
    let allowed = response.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("x-experience-api-version"), "{allowed}");
    let actual =
        app.request(Method::GET, "statements").header("Origin", "https://content.example.com").send().await.unwrap();
    let exposed = actual.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("x-experience-api-consistent-through"), "{exposed}");
}

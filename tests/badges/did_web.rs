//! did:web: the issuer named by the public URL's host, its DID document at
//! `/.well-known/did.json` listing every key, so a credential signed before a key rotation
//! still verifies with Digital Bazaar's libraries after it.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::{award, put_achievement, spawn_app_with, verify_with_digital_bazaar_at};

const PUBLIC: &str = "https://badges.example.com";

/// A credential as issued, fetched from the loopback server standing for the public URL.
async fn fetch(app: &TestApp, url: &str) -> Value {
    let path = url.strip_prefix(PUBLIC).expect("a public URL");
    reqwest::get(format!("{}{path}", app.address)).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_did_web_issuer_serves_every_key_and_credentials_from_before_a_rotation_still_verify() {
    // Arrange
    let app = spawn_app_with(|settings| {
        settings.public_url = PUBLIC.into();
        settings.credentials.did_method = fluency::credentials::issuer::DidMethod::Web;
    })
    .await;
    put_achievement(&app, &crate::achievement("sql-basics")).await;
    let (_, before) = award(&app, "mailto:ada@example.com", "sql-basics").await;

    // Act
    let rotated = app.api(Method::POST, "badges/keys/rotate").send().await.unwrap();
    assert_eq!(rotated.status(), 200);
    let (_, after) = award(&app, "mailto:bo@example.com", "sql-basics").await;
    let document: Value =
        reqwest::get(format!("{}/.well-known/did.json", app.address)).await.unwrap().json().await.unwrap();

    // Assert
    let before = fetch(&app, before["url"].as_str().unwrap()).await;
    let after = fetch(&app, after["url"].as_str().unwrap()).await;
    assert_eq!(before["issuer"]["id"], "did:web:badges.example.com");
    assert_eq!(after["issuer"]["id"], before["issuer"]["id"], "one issuer across keys");
    let methods = [&before, &after].map(|c| c["proof"]["verificationMethod"].as_str().unwrap().to_string());
    assert_ne!(methods[0], methods[1], "signed by different keys");
    assert_eq!(document["id"], "did:web:badges.example.com");
    for method in &methods {
        assert!(document["assertionMethod"].as_array().unwrap().contains(&json!(method)), "{document}");
    }
    let origins = json!({PUBLIC: app.address});
    let Some(results) =
        verify_with_digital_bazaar_at(&[("before", before.clone(), None), ("after", after.clone(), None)], origins)
    else {
        return;
    };
    for result in &results {
        assert_eq!(result["verified"], true, "{result}");
    }
}

#[tokio::test]
async fn did_web_needs_an_https_public_url_without_a_path() {
    for (url, expected) in
        [("http://lrs.example.com", "needs an https public_url"), ("https://lrs.example.com/badges", "without a path")]
    {
        let error = fluency::credentials::issuer::did_web(url).unwrap_err().to_string();
        assert!(error.contains(expected), "{url}: {error}");
    }
    assert_eq!(
        fluency::credentials::issuer::did_web("https://lrs.example.com:8443").unwrap(),
        "did:web:lrs.example.com%3A8443"
    );
}

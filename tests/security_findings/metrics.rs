//! Finding 4: `/metrics` names rules and shows traffic volumes, so it is an
//! administrator's to read.

use crate::helpers::{basic, TestApp, ADMIN_KEY, ADMIN_SECRET};

#[tokio::test]
async fn metrics_answer_only_an_administrator() {
    // Arrange
    let app = TestApp::spawn().await;
    let lms = fluency::auth::create_credential(app.statements.store(), vec![fluency::auth::Scope::All], "LMS", None)
        .await
        .unwrap();
    let metrics = || app.client.get(format!("{}/metrics", app.address));

    // Act
    let anonymous = metrics().send().await.unwrap();
    let as_lms = metrics().header("Authorization", basic(&lms.key, &lms.secret)).send().await.unwrap();
    let as_admin = metrics().header("Authorization", basic(ADMIN_KEY, ADMIN_SECRET)).send().await.unwrap();

    // Assert
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.json::<serde_json::Value>().await.unwrap()["code"], "missing_credentials");
    assert_eq!(as_lms.status(), 403, "the xAPI scope `all` does not include metrics");
    assert_eq!(as_admin.status(), 200);
    assert!(as_admin.text().await.unwrap().contains("fluency_statements_stored_total"));
}

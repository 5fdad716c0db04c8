//! Skills inference end to end: statements posted through the xAPI API, frameworks sent
//! through the admin API, and the estimates, explanations, team maps and searches read
//! back; plus recovery of known abilities from simulated data.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod api;
mod events;
mod recovery;

use reqwest::Method;

use helpers::TestApp;

/// Installs a framework file through the admin API, failing on anything but 200.
pub async fn put_framework(app: &TestApp, name: &str, text: &str) {
    let response =
        app.api(Method::PUT, &format!("skills/framework/{name}")).body(text.to_string()).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Waits until inference has gone through every statement stored so far.
pub async fn caught_up(app: &TestApp) {
    let Some(stored) = app.newest_stored().await else { return };
    helpers::eventually(120, "inference to catch up", || async {
        let status = app.api_json("skills/status").await;
        let current = status["inferred_version"] == status["framework_version"];
        (current && status["evaluated_through"].as_i64().unwrap_or(0) >= stored).then_some(())
    })
    .await;
}

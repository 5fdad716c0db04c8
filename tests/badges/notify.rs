//! An award's notification goes out through the outbox, like a rule's: to a signed webhook
//! receiver, once, even when the award is asked for again.

use serde_json::Value;

use crate::helpers::eventually;
use crate::receiver::{reply, Receiver};
use crate::{award, put_achievement, spawn_app_with};

const SECRET: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

#[tokio::test]
async fn an_award_notifies_the_configured_targets_once() {
    // Arrange
    let receiver = Receiver::start([], reply(200));
    let url = receiver.url.clone();
    let app = spawn_app_with(move |settings| {
        let target = format!("kind = \"webhook\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n");
        settings.targets.insert("ld-hook".into(), toml::from_str(&target).unwrap());
        settings.delivery.poll_interval_ms = Some(50);
        settings.credentials.notify = vec!["ld-hook".into()];
    })
    .await;
    put_achievement(&app, &crate::achievement("sql-basics")).await;

    // Act
    let (_, first) = award(&app, "mailto:ada@example.com", "sql-basics").await;
    let (again, _) = award(&app, "mailto:ada@example.com", "sql-basics").await;
    receiver.wait_for(1).await;

    // Assert
    assert_eq!(again, 200);
    let body: Value = serde_json::from_str(&receiver.body(0)).unwrap();
    let text = body.to_string();
    assert!(text.contains("earned \\\"sql-basics badge\\\""), "{text}");
    assert!(text.contains(first["url"].as_str().unwrap()), "{text}");
    let outbox = eventually(10, "the delivered item", || async {
        let listed = app.api_json("outbox?status=delivered").await;
        let items = listed["items"].as_array().cloned().unwrap_or_default();
        (!items.is_empty()).then_some(items)
    })
    .await;
    assert_eq!(outbox.len(), 1, "one notification for one credential");
    assert_eq!(receiver.header(0, "webhook-id").as_deref(), outbox[0]["key"].as_str());
    let pending = app.api_json("outbox?status=pending").await;
    assert_eq!(pending["items"].as_array().map_or(0, Vec::len), 0, "the repeated award queued nothing: {pending}");
}

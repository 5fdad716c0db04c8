//! Finding 5: the markers rules put on the statements they emit switch off loop
//! protection, so a client sending them itself must not be believed.

use serde_json::{json, Value};

use crate::helpers::{eventually, statement, TestApp};

const VERB: &str = "http://example.com/verbs/spoofed";
const RULE: &str = "//! name = \"count-spoofed\"\n//! [trigger]\n//! verbs = [\"http://example.com/verbs/spoofed\"]\nstate_set(\"seen\", (state_get(\"seen\") ?? 0) + 1);\n";

#[tokio::test]
async fn a_client_cannot_switch_off_a_rule_by_sending_emission_markers() {
    // Arrange
    let app = TestApp::spawn().await;
    assert_eq!(app.put_rule("count-spoofed", RULE).await.status(), 201);
    let marked = |rule: &str, depth: u64| {
        let mut spoofed = statement(VERB);
        spoofed["context"] = json!({"extensions": {
            "https://fluency.dev/xapi/extensions/emitted-by": rule,
            "https://fluency.dev/xapi/extensions/emitted-depth": depth,
        }});
        spoofed
    };

    // Act: one claims the rule emitted it (a rule never runs on its own statements),
    // one claims a depth past the chain limit (no rule runs on those).
    for spoofed in [marked("count-spoofed", 1), marked("other", 1000)] {
        assert_eq!(app.post_statements(&spoofed).await.status(), 200);
    }

    // Assert
    let runs = eventually(15, "the rule to run on both statements", || async {
        let rule: Value = app.api_json("rules/count-spoofed").await;
        let runs = rule["health"]["runs"].as_u64().unwrap_or(0);
        (runs >= 2).then_some(runs)
    })
    .await;
    assert_eq!(runs, 2);
}

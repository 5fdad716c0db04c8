//! The exact JSON body each kind of target receives for an intent: Slack message, Teams
//! Workflows Adaptive Card envelope, or a Standard Webhooks event. Called by `sender`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::target::TargetKind;
use crate::rules::intent::{Intent, IntentRecord, NotifyMessage};

/// Event type of a notification sent to a webhook target.
pub const NOTIFY_EVENT: &str = "fluency.notify";
/// Event type of an assignment sent to a webhook target.
pub const ASSIGN_EVENT: &str = "fluency.assign";

/// An intent that this kind of target cannot carry; retrying cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(String);

/// The request body for `record` sent to a `kind` target. `occurred_at` is when the intent
/// was recorded, so every retry sends the same bytes.
pub fn request_body(
    kind: TargetKind,
    record: &IntentRecord,
    occurred_at: DateTime<Utc>,
) -> Result<Value, PayloadError> {
    match (&record.intent, kind) {
        (Intent::Notify { message, .. }, TargetKind::Slack) => slack_body(message),
        (Intent::Notify { message, .. }, TargetKind::Teams) => Ok(teams_body(message)),
        (Intent::Notify { message, .. }, TargetKind::Webhook) => {
            Ok(webhook_event(NOTIFY_EVENT, record, occurred_at, [("message", json!(message))]))
        }
        (Intent::Assign { actor, actor_id, activity, reason }, TargetKind::Webhook) => Ok(webhook_event(
            ASSIGN_EVENT,
            record,
            occurred_at,
            [
                ("actor", actor.clone()),
                ("actor_id", json!(actor_id)),
                ("activity", json!(activity)),
                ("reason", json!(reason)),
            ],
        )),
        (Intent::Assign { .. }, kind) => {
            Err(PayloadError(format!("an assignment can only go to a webhook target, not a {kind} target")))
        }
        (Intent::Award { .. }, _) => Err(PayloadError("awards are issued by the LRS, not sent to a target".into())),
        (Intent::EmitStatement { .. }, _) => {
            Err(PayloadError("emitted statements are stored by the LRS, not sent to a target".into()))
        }
    }
}

/// `{"text": ..}`, or `{"text": .., "blocks": [..]}` where `text` is the notification fallback.
fn slack_body(message: &NotifyMessage) -> Result<Value, PayloadError> {
    match message {
        NotifyMessage::Text { text } => Ok(json!({ "text": text })),
        NotifyMessage::Blocks { text, blocks } => Ok(json!({ "text": text, "blocks": blocks })),
        // Slack cannot render cards; their text is better than losing the message.
        NotifyMessage::AdaptiveCard { card } => match card_text(card) {
            Some(text) => Ok(json!({ "text": text })),
            None => Err(PayloadError("this Adaptive Card has no text for Slack (no fallbackText or TextBlock)".into())),
        },
    }
}

/// The Teams Workflows envelope around an Adaptive Card; text becomes a one-TextBlock card.
fn teams_body(message: &NotifyMessage) -> Value {
    let card = match message {
        NotifyMessage::AdaptiveCard { card } => card.clone(),
        NotifyMessage::Text { text } | NotifyMessage::Blocks { text, .. } => text_card(text),
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

fn text_card(text: &str) -> Value {
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [{ "type": "TextBlock", "text": text, "wrap": true }],
    })
}

/// A card's `fallbackText`, else its TextBlocks' texts (containers included), one per line.
fn card_text(card: &Value) -> Option<String> {
    if let Some(text) = card.get("fallbackText").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        return Some(text.to_string());
    }
    fn collect<'a>(value: &'a Value, texts: &mut Vec<&'a str>) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| collect(item, texts)),
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("TextBlock") {
                    texts.extend(map.get("text").and_then(Value::as_str));
                }
                for key in ["body", "items", "columns"] {
                    map.get(key).into_iter().for_each(|child| collect(child, texts));
                }
            }
            _ => {}
        }
    }
    let mut texts = Vec::new();
    collect(card, &mut texts);
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// `{"type", "timestamp", "data"}` as Standard Webhooks suggests; `data` says which rule
/// reacted to which statement, then the intent's own fields.
fn webhook_event<const N: usize>(
    event: &str,
    record: &IntentRecord,
    occurred_at: DateTime<Utc>,
    fields: [(&str, Value); N],
) -> Value {
    let mut data = Map::new();
    data.insert("idempotency_key".into(), json!(record.key));
    data.insert("rule".into(), json!(record.rule));
    data.insert("rule_version".into(), json!(record.rule_version));
    data.insert("statement_id".into(), json!(record.trigger.hyphenated().to_string()));
    for (name, value) in fields {
        data.insert(name.into(), value);
    }
    json!({
        "type": event,
        "timestamp": occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn record(intent: Intent) -> IntentRecord {
        IntentRecord {
            key: "k".repeat(64),
            rule: "nudge".into(),
            rule_version: "3".into(),
            trigger: Uuid::from_u128(0x1234),
            index: 0,
            intent,
        }
    }

    fn notify(message: NotifyMessage) -> IntentRecord {
        record(Intent::Notify { target: "t".into(), message })
    }

    fn text(text: &str) -> NotifyMessage {
        NotifyMessage::Text { text: text.into() }
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-06-10T06:13:20Z").unwrap().with_timezone(&Utc)
    }

    fn body(kind: TargetKind, record: &IntentRecord) -> String {
        request_body(kind, record, at()).unwrap().to_string()
    }

    #[test]
    fn slack_gets_text_or_text_with_blocks() {
        let blocks = NotifyMessage::Blocks {
            text: "fallback".into(),
            blocks: json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*Nudge*"}}]),
        };

        assert_eq!(body(TargetKind::Slack, &notify(text("Hello \"Ada\""))), r#"{"text":"Hello \"Ada\""}"#);
        assert_eq!(
            body(TargetKind::Slack, &notify(blocks)),
            r#"{"text":"fallback","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*Nudge*"}}]}"#
        );
    }

    #[test]
    fn slack_gets_the_text_of_an_adaptive_card() {
        let card = json!({"type": "AdaptiveCard", "body": [
            {"type": "TextBlock", "text": "Title"},
            {"type": "Container", "items": [{"type": "TextBlock", "text": "Line"}]},
        ]});
        let fallback = json!({"type": "AdaptiveCard", "fallbackText": "Short", "body": []});
        let empty = json!({"type": "AdaptiveCard", "body": [{"type": "Image", "url": "https://x/y.png"}]});

        assert_eq!(body(TargetKind::Slack, &notify(NotifyMessage::AdaptiveCard { card })), r#"{"text":"Title\nLine"}"#);
        assert_eq!(
            body(TargetKind::Slack, &notify(NotifyMessage::AdaptiveCard { card: fallback })),
            r#"{"text":"Short"}"#
        );
        assert!(request_body(TargetKind::Slack, &notify(NotifyMessage::AdaptiveCard { card: empty }), at()).is_err());
    }

    #[test]
    fn teams_gets_text_as_a_one_textblock_card_in_the_workflows_envelope() {
        let expected = concat!(
            r#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","#,
            r#""contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","#,
            r#""type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"Hi","wrap":true}]}}]}"#
        );
        let blocks = NotifyMessage::Blocks { text: "Hi".into(), blocks: json!([{"type": "divider"}]) };

        assert_eq!(body(TargetKind::Teams, &notify(text("Hi"))), expected);
        assert_eq!(body(TargetKind::Teams, &notify(blocks)), expected, "blocks fall back to their text");
    }

    #[test]
    fn teams_gets_an_adaptive_card_as_written() {
        let card = json!({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]});

        let sent = request_body(TargetKind::Teams, &notify(NotifyMessage::AdaptiveCard { card: card.clone() }), at());

        assert_eq!(sent.unwrap()["attachments"][0]["content"], card);
    }

    #[test]
    fn webhooks_get_a_notify_event() {
        let expected = concat!(
            r#"{"type":"fluency.notify","timestamp":"2024-06-10T06:13:20.000Z","data":{"#,
            r#""idempotency_key":"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk","rule":"nudge","#,
            r#""rule_version":"3","statement_id":"00000000-0000-0000-0000-000000001234","#,
            r#""message":{"format":"text","text":"Hi"}}}"#
        );

        assert_eq!(body(TargetKind::Webhook, &notify(text("Hi"))), expected);
    }

    #[test]
    fn webhooks_get_an_assign_event() {
        let assign = record(Intent::Assign {
            actor: json!({"mbox": "mailto:ada@example.com"}),
            actor_id: "mbox::mailto:ada@example.com".into(),
            activity: "https://lms.example.com/course/7".into(),
            reason: "low score".into(),
        });
        let expected = concat!(
            r#"{"type":"fluency.assign","timestamp":"2024-06-10T06:13:20.000Z","data":{"#,
            r#""idempotency_key":"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk","rule":"nudge","#,
            r#""rule_version":"3","statement_id":"00000000-0000-0000-0000-000000001234","#,
            r#""actor":{"mbox":"mailto:ada@example.com"},"actor_id":"mbox::mailto:ada@example.com","#,
            r#""activity":"https://lms.example.com/course/7","reason":"low score"}}"#
        );

        assert_eq!(body(TargetKind::Webhook, &assign), expected);
    }

    #[test]
    fn intents_a_target_cannot_carry_are_refused() {
        let assign = record(Intent::Assign {
            actor: json!({}),
            actor_id: "x".into(),
            activity: "https://x".into(),
            reason: String::new(),
        });
        let emit = record(Intent::EmitStatement { statement: json!({}) });

        for (description, kind, record) in [
            ("assign to slack", TargetKind::Slack, &assign),
            ("assign to teams", TargetKind::Teams, &assign),
            ("emit to a webhook", TargetKind::Webhook, &emit),
        ] {
            assert!(request_body(kind, record, at()).is_err(), "{description}");
        }
    }
}

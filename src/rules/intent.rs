//! Intents: what a rule asks the host to do (emit a statement, notify a destination, assign
//! an activity), checked when the script records them and keyed for idempotent delivery.
//! Built by the Rhai functions in `functions`; performed later by the delivery layer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::statement::{EMITTED_BY, EMITTED_DEPTH};
use crate::validation::{is_iri, validate_statement};
use crate::xapi::agent::ifi_key;
use crate::xapi::XapiVersion;

/// Something a rule asks for; nothing happens until the host performs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Intent {
    /// Store a derived statement (through the normal write path, as the rules credential).
    EmitStatement { statement: Value },
    /// Send a message to a named destination (configured outside rules, with its secret URL).
    Notify { target: String, message: NotifyMessage },
    /// Ask the LMS (or any system behind a webhook) to assign an activity to a learner.
    Assign { actor: Value, actor_id: String, activity: String, reason: String },
    /// Award an Open Badges credential for a defined achievement (see `credentials`).
    Award { actor: Value, actor_id: String, achievement: String },
}

/// A notification's content, in the shape each destination needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum NotifyMessage {
    /// Plain text: Slack's `text`, a one-TextBlock card for Teams, a webhook's `text`.
    Text { text: String },
    /// Slack Block Kit `blocks`, with `text` as the notification fallback.
    Blocks { text: String, blocks: Value },
    /// An Adaptive Card (Teams Workflows accept only these); delivery wraps it in the
    /// `{"type":"message","attachments":[...]}` envelope.
    AdaptiveCard { card: Value },
}

/// An intent with everything delivery needs: who asked, in reaction to what, and the
/// idempotency key that makes at-least-once delivery safe (sent as `webhook-id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentRecord {
    pub key: String,
    pub rule: String,
    pub rule_version: String,
    pub trigger: Uuid,
    /// Position among the intents of this run.
    pub index: usize,
    pub intent: Intent,
}

/// `sha256(rule ‖ rule version ‖ trigger statement id ‖ intent index)` in hex. Rule names
/// and versions cannot contain a newline, so the separator keeps the parts apart.
pub fn idempotency_key(rule: &str, rule_version: &str, trigger: Uuid, index: usize) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("{rule}\n{rule_version}\n{}\n{index}", trigger.hyphenated()));
    hex::encode(hash.finalize())
}

/// The id of an emitted statement that has none: derived from the intent's key, so a
/// retried delivery stores the same statement (the LRS accepts an identical replay).
pub fn emitted_statement_id(key: &str) -> Uuid {
    let bytes = hex::decode(&key[..32]).expect("keys are hex");
    uuid::Builder::from_custom_bytes(bytes.try_into().expect("16 bytes")).into_uuid()
}

/// A destination name: what `notify` targets are (the URL is configuration, never code).
pub fn is_destination_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

impl Intent {
    /// A statement to emit, marked with the emitting rule and chain depth (so no rule
    /// reacts to its own statements and chains stay bounded), given `id` unless it has
    /// one, and validated as xAPI 2.0.0.
    pub fn emit_statement(statement: Value, rule: &str, depth: u64, id: Uuid) -> Result<Self, String> {
        let Value::Object(mut statement) = statement else {
            return Err("emit_statement: the statement must be a map".into());
        };
        statement.entry("id").or_insert_with(|| Value::from(id.to_string()));
        let context = statement.entry("context").or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(context) = context else { return Err("emit_statement: context: must be a map".into()) };
        let extensions = context.entry("extensions").or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(extensions) = extensions else {
            return Err("emit_statement: context.extensions: must be a map".into());
        };
        extensions.insert(EMITTED_BY.to_string(), Value::from(rule));
        extensions.insert(EMITTED_DEPTH.to_string(), Value::from(depth));
        let statement = Value::Object(statement);
        validate_statement(&statement, XapiVersion::V2_0_0).map_err(|e| format!("emit_statement: {e}"))?;
        Ok(Self::EmitStatement { statement })
    }

    /// A notification to `target`: `message` is text, a map with `text` and Slack `blocks`,
    /// or an Adaptive Card map (`type: "AdaptiveCard"`).
    pub fn notify(target: &str, message: Value) -> Result<Self, String> {
        if !is_destination_name(target) {
            return Err(format!(
                "notify: target {target:?} must be a destination name (letters, digits, '-', '_', '.'), not a URL"
            ));
        }
        let message =
            match message {
                Value::String(text) if !text.is_empty() => NotifyMessage::Text { text },
                Value::Object(card) if card.get("type").and_then(Value::as_str) == Some("AdaptiveCard") => {
                    if !card.get("body").is_some_and(Value::is_array) {
                        return Err("notify: an Adaptive Card needs a `body` array".into());
                    }
                    NotifyMessage::AdaptiveCard { card: Value::Object(card) }
                }
                Value::Object(mut map) => {
                    let text = match map.remove("text") {
                        Some(Value::String(text)) if !text.is_empty() => text,
                        _ => return Err("notify: a message map needs `text` (the notification fallback)".into()),
                    };
                    match map.remove("blocks") {
                        None if map.is_empty() => NotifyMessage::Text { text },
                        Some(blocks @ Value::Array(_)) if map.is_empty() => NotifyMessage::Blocks { text, blocks },
                        Some(Value::Array(_)) | None => {
                            let extra: Vec<&String> = map.keys().collect();
                            return Err(format!("notify: unknown message keys {extra:?} (expected `text`, `blocks`)"));
                        }
                        Some(_) => return Err("notify: `blocks` must be an array".into()),
                    }
                }
                _ => return Err(
                    "notify: the message must be non-empty text, a map with `text` (and `blocks`), or an Adaptive Card"
                        .into(),
                ),
            };
        Ok(Self::Notify { target: target.to_string(), message })
    }

    /// An assignment of `activity` (an IRI) to `actor` (an xAPI Agent with an identifier).
    pub fn assign(actor: Value, activity: &str, reason: &str) -> Result<Self, String> {
        let actor_id = ifi_key(&actor).ok_or("assign: the actor must be an agent with mbox, openid or account")?;
        if !is_iri(activity) {
            return Err(format!("assign: activity {activity:?} must be an IRI"));
        }
        Ok(Self::Assign { actor, actor_id, activity: activity.to_string(), reason: reason.to_string() })
    }

    /// A credential for `achievement` (an achievement id) to `actor` (an identified Agent).
    pub fn award(actor: Value, achievement: &str) -> Result<Self, String> {
        let actor_id = ifi_key(&actor).ok_or("award: the actor must be an agent with mbox, openid or account")?;
        if !crate::credentials::achievement::is_achievement_id(achievement) {
            return Err(format!(
                "award: achievement {achievement:?} must be an achievement id (lowercase letters, digits, '-', '_')"
            ));
        }
        Ok(Self::Award { actor, actor_id, achievement: achievement.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_deterministic_and_differ_by_every_part() {
        let id = Uuid::from_u128(7);
        let key = idempotency_key("nudge", "v1", id, 0);

        assert_eq!(key, idempotency_key("nudge", "v1", id, 0));
        assert_eq!(key.len(), 64);
        for other in [
            idempotency_key("nudge2", "v1", id, 0),
            idempotency_key("nudge", "v2", id, 0),
            idempotency_key("nudge", "v1", Uuid::from_u128(8), 0),
            idempotency_key("nudge", "v1", id, 1),
        ] {
            assert_ne!(key, other);
        }
    }

    #[test]
    fn emitted_statements_are_marked_identified_and_validated() {
        let statement = json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "http://example.com/pathway"},
        });
        let id = emitted_statement_id(&idempotency_key("r", "v", Uuid::nil(), 0));

        let Intent::EmitStatement { statement } = Intent::emit_statement(statement, "r", 1, id).unwrap() else {
            panic!("an emit intent")
        };

        assert_eq!(statement["id"], json!(id.to_string()));
        assert_eq!(statement["context"]["extensions"][EMITTED_BY], json!("r"));
        let error = Intent::emit_statement(json!({"verb": {}}), "r", 1, id).unwrap_err();
        assert!(error.starts_with("emit_statement: "), "{error}");
    }

    #[test]
    fn notify_messages_take_three_shapes_and_refuse_the_rest() {
        let text = Intent::notify("ld-team", json!("hello")).unwrap();
        assert!(matches!(text, Intent::Notify { message: NotifyMessage::Text { .. }, .. }));
        let blocks = Intent::notify("slack", json!({"text": "t", "blocks": []})).unwrap();
        assert!(matches!(blocks, Intent::Notify { message: NotifyMessage::Blocks { .. }, .. }));
        let card = Intent::notify("teams", json!({"type": "AdaptiveCard", "body": []})).unwrap();
        assert!(matches!(card, Intent::Notify { message: NotifyMessage::AdaptiveCard { .. }, .. }));

        let refused = [
            ("a URL as target", "https://hooks.slack.com/x", json!("hi")),
            ("empty text", "t", json!("")),
            ("blocks without text", "t", json!({"blocks": []})),
            ("unknown key", "t", json!({"text": "x", "colour": "red"})),
            ("card without body", "t", json!({"type": "AdaptiveCard"})),
            ("a number", "t", json!(3)),
        ];
        for (description, target, message) in refused {
            assert!(Intent::notify(target, message).is_err(), "{description}");
        }
    }

    #[test]
    fn assignments_need_an_identified_actor_and_an_iri() {
        let actor = json!({"mbox": "mailto:ada@example.com"});

        assert!(Intent::assign(actor.clone(), "http://example.com/course", "low score").is_ok());
        assert!(Intent::assign(json!({"name": "Ada"}), "http://example.com/course", "").is_err());
        assert!(Intent::assign(actor, "not an iri", "").is_err());
    }

    #[test]
    fn awards_need_an_identified_actor_and_an_achievement_id() {
        let actor = json!({"mbox": "mailto:ada@example.com"});

        let award = Intent::award(actor.clone(), "sql-basics").unwrap();
        assert!(matches!(award, Intent::Award { ref actor_id, .. } if actor_id == "mbox:mailto:ada@example.com"));
        assert!(Intent::award(json!({"name": "Ada"}), "sql-basics").unwrap_err().contains("actor"));
        assert!(Intent::award(actor, "../etc/passwd").unwrap_err().contains("achievement id"));
    }
}

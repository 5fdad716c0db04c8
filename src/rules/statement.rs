//! Read-only accessors over a statement's JSON: the ids triggers match on, the score and
//! success that rules and history summaries read, the time a rule evaluates "now" at, and
//! the loop-protection marker. Used by `trigger`, `host`, `runtime` and the Rhai helpers.

use serde_json::Value;

use crate::xapi::agent::ifi_key;
use crate::xapi::time::{parse_timestamp, to_micros, Micros};

/// Context extension a rule's emitted statement carries: the emitting rule's name.
pub const EMITTED_BY: &str = "https://fluency.dev/xapi/extensions/emitted-by";
/// Context extension counting how many rule emissions led to a statement (1 for a statement
/// emitted in reaction to a learner's statement), so chains between rules stay bounded.
pub const EMITTED_DEPTH: &str = "https://fluency.dev/xapi/extensions/emitted-depth";

pub fn verb_id(statement: &Value) -> Option<&str> {
    statement.get("verb")?.get("id")?.as_str()
}

/// The object's id when the object is an Activity (`objectType` absent or `Activity`).
pub fn activity_id(statement: &Value) -> Option<&str> {
    let object = statement.get("object")?;
    match object.get("objectType").and_then(Value::as_str) {
        None | Some("Activity") => object.get("id")?.as_str(),
        Some(_) => None,
    }
}

/// The activity type (`object.definition.type`) when the object is an Activity.
pub fn activity_type(statement: &Value) -> Option<&str> {
    activity_id(statement)?;
    statement.get("object")?.get("definition")?.get("type")?.as_str()
}

/// The actor's normalised IFI key (`mbox:mailto:ada@example.com`), as `ifi_key` builds it.
pub fn actor_id(statement: &Value) -> Option<String> {
    ifi_key(statement.get("actor")?)
}

/// `result.score.scaled` when present, else `result.score.raw`.
pub fn score(statement: &Value) -> Option<f64> {
    let score = statement.get("result")?.get("score")?;
    score.get("scaled").and_then(Value::as_f64).or_else(|| score.get("raw").and_then(Value::as_f64))
}

pub fn success(statement: &Value) -> Option<bool> {
    statement.get("result")?.get("success")?.as_bool()
}

/// The extension `iri`, looked for in `result`, then `context`, then the activity definition.
pub fn extension<'a>(statement: &'a Value, iri: &str) -> Option<&'a Value> {
    let places =
        [statement.get("result"), statement.get("context"), statement.get("object").and_then(|o| o.get("definition"))];
    places.into_iter().flatten().find_map(|place| place.get("extensions")?.get(iri))
}

/// The instant a rule sees as "now" for this statement: `stored`, else `timestamp`.
pub fn statement_time(statement: &Value) -> Option<Micros> {
    ["stored", "timestamp"]
        .iter()
        .find_map(|name| statement.get(*name)?.as_str().and_then(parse_timestamp).map(|t| to_micros(&t)))
}

/// The authority account name of the statements `rule` emits. The colon keeps it apart
/// from every credential key: HTTP Basic ends a key at its first colon.
pub fn rule_account_name(rule: &str) -> String {
    format!("rule:{rule}")
}

/// The rule that emitted this statement and how deep in a chain of emissions it is, if a
/// rule emitted it. The markers are believed only on a statement whose `authority` is that
/// rule's own account (the LRS sets `authority`), so no client can switch off loop
/// protection or a rule by sending them itself.
pub fn emission(statement: &Value) -> Option<(&str, u64)> {
    let extensions = statement.get("context")?.get("extensions")?;
    let rule = extensions.get(EMITTED_BY)?.as_str()?;
    let authority = statement.get("authority")?.get("account")?.get("name")?.as_str()?;
    if authority.strip_prefix("rule:") != Some(rule) {
        return None;
    }
    let depth = extensions.get(EMITTED_DEPTH).and_then(Value::as_u64).unwrap_or(1);
    Some((rule, depth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_read_the_usual_places_and_tolerate_absence() {
        let statement = json!({
            "actor": {"mbox": "mailto:Ada@Example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
            "object": {"id": "http://example.com/quiz", "definition": {"type": "http://example.com/t/quiz",
                "extensions": {"http://example.com/x/level": 3}}},
            "result": {"score": {"raw": 7}, "success": false},
            "timestamp": "2024-05-01T10:00:00Z",
        });

        assert_eq!(verb_id(&statement), Some("http://adlnet.gov/expapi/verbs/scored"));
        assert_eq!(activity_id(&statement), Some("http://example.com/quiz"));
        assert_eq!(activity_type(&statement), Some("http://example.com/t/quiz"));
        assert_eq!(actor_id(&statement).as_deref(), Some("mbox:mailto:Ada@example.com"));
        assert_eq!(score(&statement), Some(7.0));
        assert_eq!(success(&statement), Some(false));
        assert_eq!(extension(&statement, "http://example.com/x/level"), Some(&json!(3)));
        assert_eq!(statement_time(&statement), Some(1_714_557_600_000_000));
        assert_eq!(emission(&statement), None);
        assert_eq!(score(&json!({})), None);
    }

    #[test]
    fn emission_markers_count_only_under_the_emitting_rules_own_authority() {
        let marked = |authority: Value| json!({"context": {"extensions": {EMITTED_BY: "nudge", EMITTED_DEPTH: 7}}, "authority": authority});
        let account = |name: &str| json!({"account": {"homePage": "http://lrs.example", "name": name}});

        assert_eq!(emission(&marked(account(&rule_account_name("nudge")))), Some(("nudge", 7)));
        for (authority, why) in [
            (account("lms-key"), "a client credential"),
            (account(&rule_account_name("other")), "another rule"),
            (account("rule:"), "an empty rule name"),
            (json!({"mbox": "mailto:rule:nudge@example.com"}), "an agent without an account"),
            (Value::Null, "no authority"),
        ] {
            assert_eq!(emission(&marked(authority)), None, "markers believed under {why}");
        }
    }

    #[test]
    fn a_statement_about_an_agent_has_no_activity() {
        let statement = json!({"object": {"objectType": "Agent", "mbox": "mailto:a@b.c"}});

        assert_eq!(activity_id(&statement), None);
        assert_eq!(activity_type(&statement), None);
    }

    #[test]
    fn scaled_score_wins_over_raw_and_stored_over_timestamp() {
        let statement = json!({
            "result": {"score": {"raw": 70, "scaled": 0.7}},
            "timestamp": "2024-05-01T10:00:00Z",
            "stored": "2024-05-01T10:00:01Z",
        });

        assert_eq!(score(&statement), Some(0.7));
        assert_eq!(statement_time(&statement), Some(1_714_557_601_000_000));
    }
}

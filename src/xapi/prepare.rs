//! Statement preparation: the only changes the LRS makes to a validated statement before
//! storing it (xAPI's permitted modifications). Called by the service on PUT and POST.
//! Everything not listed here stays exactly as received, key order included, because the
//! `exact` format returns the stored JSON.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::xapi::time::{format_utc, parse_timestamp};
use crate::xapi::XapiVersion;

pub struct PrepareContext<'a> {
    /// The request's version line; gives the default `version`.
    pub version: XapiVersion,
    /// The authority derived from the credentials; always replaces a submitted one.
    pub authority: &'a Value,
    /// A PUT's `statementId`, used when the statement has no `id`.
    pub statement_id: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    pub id: Uuid,
    pub statement: Value,
    /// The statement had no `timestamp`: the store sets it to `stored`.
    pub timestamp_from_stored: bool,
}

/// Applies the permitted modifications: assigns the id, drops `stored`, sets `authority`,
/// defaults `version`, converts timestamps to UTC and wraps single context activities.
pub fn prepare_statement(statement: Value, ctx: &PrepareContext) -> Prepared {
    let Value::Object(mut map) = statement else {
        // Validation only lets objects through; anything else is passed on untouched.
        let id = ctx.statement_id.unwrap_or_else(Uuid::new_v4);
        return Prepared { id, statement, timestamp_from_stored: false };
    };

    let id = assign_id(&mut map, ctx.statement_id);
    // `shift_remove` keeps the order of the remaining keys (plain `remove` swaps).
    map.shift_remove("stored");
    match map.get_mut("authority") {
        Some(authority) => *authority = ctx.authority.clone(),
        None => {
            map.insert("authority".into(), ctx.authority.clone());
        }
    }
    if !map.contains_key("version") {
        map.insert("version".into(), ctx.version.default_statement_version().into());
    }
    let timestamp_from_stored = !map.contains_key("timestamp");
    normalize_statement_body(&mut map);
    if let Some(Value::Object(sub)) = map.get_mut("object") {
        if sub.get("objectType").is_some_and(|kind| kind == "SubStatement") {
            normalize_statement_body(sub);
        }
    }

    Prepared { id, statement: Value::Object(map), timestamp_from_stored }
}

/// Uses the statement's own id, else the PUT's, else a fresh one; an added id goes first.
fn assign_id(map: &mut Map<String, Value>, statement_id: Option<Uuid>) -> Uuid {
    if let Some(id) = map.get("id").and_then(Value::as_str).and_then(|id| Uuid::parse_str(id).ok()) {
        return id;
    }
    let id = statement_id.unwrap_or_else(Uuid::new_v4);
    // Hyphenated lowercase, the canonical form validation asks of clients.
    let text = Value::String(id.hyphenated().to_string());
    match map.get_mut("id") {
        Some(existing) => *existing = text,
        None => {
            map.shift_insert(0, "id".into(), text);
        }
    }
    id
}

/// The changes shared by a statement and its SubStatement: UTC timestamp and
/// array-valued context activities.
fn normalize_statement_body(map: &mut Map<String, Value>) {
    if let Some(Value::String(timestamp)) = map.get_mut("timestamp") {
        if !timestamp.ends_with('Z') {
            if let Some(instant) = parse_timestamp(timestamp) {
                *timestamp = format_utc(&instant);
            }
        }
    }
    let context_activities =
        map.get_mut("context").and_then(|context| context.get_mut("contextActivities")).and_then(Value::as_object_mut);
    for value in context_activities.into_iter().flat_map(Map::values_mut) {
        if !value.is_array() {
            *value = Value::Array(vec![value.take()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "8f87ccde-bb56-4c2e-ab83-44982ef22df0";

    fn authority() -> Value {
        json!({"objectType": "Agent", "account": {"homePage": "http://lrs.example.com", "name": "client"}})
    }

    fn prepare(statement: Value, statement_id: Option<Uuid>) -> Prepared {
        let authority = authority();
        let ctx = PrepareContext { version: XapiVersion::V2_0_0, authority: &authority, statement_id };
        prepare_statement(statement, &ctx)
    }

    fn keys(value: &Value) -> Vec<&str> {
        value.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn keeps_key_order_and_converts_a_non_utc_timestamp() {
        let statement = json!({
            "id": ID,
            "timestamp": "2023-05-04T12:00:00-05:00",
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://example.com/v", "display": {"en-US": "did"}},
            "stored": "2011-07-15T00:00:00Z",
            "object": {"id": "http://example.com/a"}
        });

        let prepared = prepare(statement, None);

        assert_eq!(prepared.id, Uuid::parse_str(ID).unwrap());
        assert_eq!(prepared.statement["timestamp"], "2023-05-04T17:00:00.000Z");
        assert_eq!(
            keys(&prepared.statement),
            vec!["id", "timestamp", "actor", "verb", "object", "authority", "version"]
        );
        assert!(!prepared.timestamp_from_stored);
    }

    #[test]
    fn leaves_a_utc_timestamp_exactly_as_received() {
        let statement =
            json!({"id": ID, "timestamp": "2023-05-04T17:00:00.1234567Z", "object": {"id": "http://e.com/a"}});

        let prepared = prepare(statement, None);

        assert_eq!(prepared.statement["timestamp"], "2023-05-04T17:00:00.1234567Z");
    }

    #[test]
    fn a_missing_timestamp_is_left_for_the_store() {
        let prepared = prepare(json!({"object": {"id": "http://e.com/a"}}), None);

        assert!(prepared.timestamp_from_stored);
        assert!(prepared.statement.get("timestamp").is_none());
    }

    #[test]
    fn the_id_comes_from_the_statement_then_the_put_parameter_then_a_new_uuid() {
        let put_id = Uuid::new_v4();
        let upper = ID.to_uppercase();

        let own = prepare(json!({"id": upper.clone()}), Some(put_id));
        let from_put = prepare(json!({"actor": {}}), Some(put_id));
        let generated = prepare(json!({"actor": {}}), None);

        assert_eq!(own.id, Uuid::parse_str(ID).unwrap());
        assert_eq!(own.statement["id"], upper.as_str(), "the received text is kept");
        assert_eq!(from_put.id, put_id);
        assert_eq!(from_put.statement["id"], put_id.to_string());
        assert_eq!(keys(&from_put.statement)[0], "id");
        assert_eq!(generated.statement["id"], generated.id.to_string());
        assert_eq!(generated.id.get_version_num(), 4);
        let text = generated.statement["id"].as_str().unwrap().to_string();
        assert_eq!(text, text.to_lowercase());
    }

    #[test]
    fn authority_is_overwritten_in_place_and_version_defaults_per_line() {
        let statement = json!({"authority": {"mbox": "mailto:forged@example.com"}, "actor": {}});
        let authority = authority();
        let ctx = PrepareContext { version: XapiVersion::V1_0_3, authority: &authority, statement_id: None };

        let prepared = prepare_statement(statement, &ctx);

        assert_eq!(prepared.statement["authority"], authority);
        assert_eq!(prepared.statement["version"], "1.0.0");
        assert_eq!(keys(&prepared.statement), vec!["id", "authority", "actor", "version"]);
    }

    #[test]
    fn a_submitted_version_is_kept() {
        let prepared = prepare(json!({"version": "1.0.3"}), None);

        assert_eq!(prepared.statement["version"], "1.0.3");
    }

    #[test]
    fn single_context_activities_become_arrays_also_in_a_substatement() {
        let statement = json!({
            "object": {
                "objectType": "SubStatement",
                "timestamp": "2023-05-04T12:00:00+01:00",
                "context": {"contextActivities": {"parent": {"id": "http://e.com/p"}, "other": [{"id": "http://e.com/o"}]}}
            },
            "context": {"contextActivities": {"category": {"id": "http://e.com/c"}, "grouping": [{"id": "http://e.com/g"}]}}
        });

        let prepared = prepare(statement, None);

        let top = &prepared.statement["context"]["contextActivities"];
        assert_eq!(top["category"], json!([{"id": "http://e.com/c"}]));
        assert_eq!(top["grouping"], json!([{"id": "http://e.com/g"}]));
        let sub = &prepared.statement["object"];
        assert_eq!(sub["context"]["contextActivities"]["parent"], json!([{"id": "http://e.com/p"}]));
        assert_eq!(sub["context"]["contextActivities"]["other"], json!([{"id": "http://e.com/o"}]));
        assert_eq!(sub["timestamp"], "2023-05-04T11:00:00.000Z");
        assert_eq!(keys(top), vec!["category", "grouping"]);
    }

    #[test]
    fn nothing_else_changes() {
        let statement = json!({
            "id": ID,
            "actor": {"objectType": "Agent", "name": "A", "mbox": "mailto:A@EXAMPLE.com"},
            "verb": {"id": "http://example.com/v", "display": {"en-US": "did", "fr-FR": "a fait"}},
            "object": {"id": "http://example.com/a", "definition": {"name": {"en": "x"}}},
            "result": {"score": {"raw": 1.0}, "duration": "PT1.23456S"},
            "timestamp": "2023-05-04T17:00:00Z",
            "version": "2.0.0"
        });
        let expected = {
            let mut expected = statement.clone();
            expected["authority"] = authority();
            serde_json::to_string(&expected).unwrap()
        };

        let prepared = prepare(statement, None);

        assert_eq!(serde_json::to_string(&prepared.statement).unwrap(), expected);
    }
}

//! Statement equivalence: xAPI's comparison rule for a statement id sent again (PUT or
//! POST replay) and for signatures. Called by the service before reporting a conflict.
//! Both statements are first reduced to what the rule compares, then compared strictly,
//! with JSON numbers compared by value.

use serde_json::{Map, Value};

use crate::xapi::activity::is_substatement;
use crate::xapi::agent::{ifi_key, normalize_mbox};
use crate::xapi::time::{format_utc, parse_timestamp};

/// Whether `incoming` says the same as the `stored` statement, ignoring what the LRS may
/// change or add (id, stored, authority, version, timestamp form, member order, single vs
/// array context activities, case of case-insensitive values, verb display, activity
/// definitions, attachments, duration digits below 0.01 s).
pub fn statements_equivalent(stored: &Value, incoming: &Value) -> bool {
    // Without an incoming timestamp the LRS set the stored one; there is nothing to compare.
    let compare_timestamps = incoming.get("timestamp").is_some();
    let stored = comparable(stored, compare_timestamps);
    let incoming = comparable(incoming, compare_timestamps);
    same(&stored, &incoming)
}

/// The statement reduced to the parts the comparison rule looks at, in a normal form.
fn comparable(statement: &Value, keep_timestamp: bool) -> Value {
    let mut statement = statement.clone();
    if let Some(map) = statement.as_object_mut() {
        for ignored in ["id", "stored", "authority", "version"] {
            map.remove(ignored);
        }
        if !keep_timestamp {
            map.remove("timestamp");
        }
        normalize_body(map);
    }
    statement
}

/// Normalises the parts a statement and a SubStatement share.
fn normalize_body(map: &mut Map<String, Value>) {
    map.remove("attachments");
    if let Some(Value::String(timestamp)) = map.get_mut("timestamp") {
        if let Some(instant) = parse_timestamp(timestamp) {
            *timestamp = format_utc(&instant);
        }
    }
    if let Some(actor) = map.get_mut("actor") {
        normalize_agent(actor);
    }
    if let Some(Value::Object(verb)) = map.get_mut("verb") {
        verb.remove("display");
    }
    if let Some(object) = map.get_mut("object") {
        normalize_object(object);
    }
    if let Some(Value::String(duration)) = map.get_mut("result").and_then(|r| r.get_mut("duration")) {
        *duration = normalize_duration(duration);
    }
    if let Some(Value::Object(context)) = map.get_mut("context") {
        normalize_context(context);
    }
}

fn normalize_object(object: &mut Value) {
    match object.get("objectType").and_then(Value::as_str) {
        None | Some("Activity") => normalize_activity(object),
        Some("Agent" | "Group") => normalize_agent(object),
        Some("StatementRef") => lowercase_string(object.get_mut("id")),
        Some(_) if is_substatement(object) => {
            if let Some(sub) = object.as_object_mut() {
                normalize_body(sub);
            }
        }
        Some(_) => {}
    }
}

/// Definitions may change through the canonical definition, so only the id counts;
/// `objectType: "Activity"` is the default and says nothing.
fn normalize_activity(activity: &mut Value) {
    if let Some(map) = activity.as_object_mut() {
        map.remove("definition");
        if map.get("objectType").is_some_and(|kind| kind == "Activity") {
            map.remove("objectType");
        }
    }
}

/// Case-insensitive IFI parts lowered, a default `objectType: "Agent"` dropped, and
/// members sorted by IFI so that they compare as a set.
fn normalize_agent(agent: &mut Value) {
    let Some(map) = agent.as_object_mut() else {
        return;
    };
    if map.get("objectType").is_some_and(|kind| kind == "Agent") {
        map.remove("objectType");
    }
    if let Some(Value::String(mbox)) = map.get_mut("mbox") {
        *mbox = normalize_mbox(mbox);
    }
    lowercase_string(map.get_mut("mbox_sha1sum"));
    if let Some(Value::Array(members)) = map.get_mut("member") {
        members.iter_mut().for_each(normalize_agent);
        members.sort_by_cached_key(|member| (ifi_key(member), member.to_string()));
        members.dedup();
    }
}

fn normalize_context(context: &mut Map<String, Value>) {
    lowercase_string(context.get_mut("registration"));
    lowercase_string(context.get_mut("language"));
    lowercase_string(context.get_mut("statement").and_then(|s| s.get_mut("id")));
    for place in ["instructor", "team"] {
        if let Some(agent) = context.get_mut(place) {
            normalize_agent(agent);
        }
    }
    for (list, property) in [("contextAgents", "agent"), ("contextGroups", "group")] {
        if let Some(Value::Array(entries)) = context.get_mut(list) {
            entries.iter_mut().filter_map(|entry| entry.get_mut(property)).for_each(normalize_agent);
        }
    }
    if let Some(Value::Object(activities)) = context.get_mut("contextActivities") {
        for value in activities.values_mut() {
            if !value.is_array() {
                *value = Value::Array(vec![value.take()]);
            }
            if let Value::Array(items) = value {
                items.iter_mut().for_each(normalize_activity);
            }
        }
    }
}

/// Seconds truncated to hundredths, trailing zeros of the fraction dropped:
/// `PT1.234S` and `PT1.230S` become `PT1.23S`. Other components stay as written, so
/// `PT1H` and `PT60M` stay different.
fn normalize_duration(duration: &str) -> String {
    let Some(body) = duration.strip_suffix('S') else {
        return duration.to_string();
    };
    let Some(separator) = body.rfind(['.', ',']) else {
        return duration.to_string();
    };
    let (whole, fraction) = (&body[..separator], &body[separator + 1..]);
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return duration.to_string();
    }
    let kept = fraction.get(..2).unwrap_or(fraction).trim_end_matches('0');
    if kept.is_empty() {
        format!("{whole}S")
    } else {
        format!("{whole}.{kept}S")
    }
}

fn lowercase_string(value: Option<&mut Value>) {
    if let Some(Value::String(text)) = value {
        *text = text.to_lowercase();
    }
}

/// Structural equality in which numbers compare by value (`1 == 1.0`) and object key
/// order does not matter.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return x == y;
            }
            if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                return x == y;
            }
            x.as_f64().zip(y.as_f64()).is_some_and(|(x, y)| x == y)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, x)| y.get(key).is_some_and(|y| same(x, y)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0",
            "actor": {"objectType": "Group", "name": "team", "member": [
                {"mbox": "mailto:a@example.com"},
                {"account": {"homePage": "http://example.com", "name": "b"}}
            ]},
            "verb": {"id": "http://example.com/verb", "display": {"en-US": "did"}},
            "object": {"id": "http://example.com/activity", "definition": {"name": {"en-US": "Activity"}}},
            "result": {"score": {"raw": 1, "max": 10}, "success": true, "duration": "PT1.234S"},
            "context": {
                "registration": "8f87ccde-bb56-4c2e-ab83-44982ef22df0",
                "contextActivities": {"parent": [{"id": "http://example.com/parent", "definition": {"type": "http://example.com/t"}}]}
            },
            "timestamp": "2023-05-04T17:00:00.000Z",
            "stored": "2023-05-04T17:00:01.000Z",
            "authority": {"mbox": "mailto:lrs@example.com"},
            "version": "2.0.0"
        })
    }

    /// Applies one change to the base statement.
    fn changed(path: &str, value: Value) -> Value {
        let mut statement = base();
        let (parent, key) = path.rsplit_once('/').unwrap();
        let target = statement.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.to_string(), value);
        }
        statement
    }

    #[test]
    fn differences_the_lrs_may_introduce_are_ignored() {
        let cases = [
            ("no id", changed("/id", Value::Null)),
            ("other stored", changed("/stored", json!("2024-01-01T00:00:00Z"))),
            ("other authority", changed("/authority", json!({"openid": "http://x.example.com"}))),
            ("no version", changed("/version", Value::Null)),
            ("no timestamp in the incoming statement", changed("/timestamp", Value::Null)),
            ("same instant, other offset", changed("/timestamp", json!("2023-05-04T12:00:00-05:00"))),
            ("no verb display", changed("/verb/display", Value::Null)),
            ("other verb display", changed("/verb/display", json!({"fr-FR": "a fait"}))),
            ("no activity definition", changed("/object/definition", Value::Null)),
            ("explicit Activity objectType", changed("/object/objectType", json!("Activity"))),
            (
                "members in another order",
                changed(
                    "/actor/member",
                    json!([{"account": {"homePage": "http://example.com", "name": "b"}}, {"mbox": "mailto:a@EXAMPLE.com"}]),
                ),
            ),
            (
                "single context activity without definition",
                changed("/context/contextActivities/parent", json!({"id": "http://example.com/parent"})),
            ),
            (
                "upper-case registration",
                changed("/context/registration", json!("8F87CCDE-BB56-4C2E-AB83-44982EF22DF0")),
            ),
            ("duration below 0.01 s", changed("/result/duration", json!("PT1.23S"))),
            ("raw as 1.0", changed("/result/score/raw", json!(1.0))),
            ("attachments", changed("/attachments", json!([{"usageType": "http://example.com/u"}]))),
        ];
        for (description, incoming) in cases {
            assert!(statements_equivalent(&base(), &incoming), "{description} should be equivalent");
        }
    }

    #[test]
    fn real_differences_are_detected() {
        let cases = [
            ("other result", changed("/result/success", json!(false))),
            ("other score", changed("/result/score/raw", json!(2))),
            ("other instant", changed("/timestamp", json!("2023-05-04T17:00:00.001Z"))),
            ("other verb", changed("/verb/id", json!("http://example.com/other"))),
            ("other activity", changed("/object/id", json!("http://example.com/other"))),
            ("other group name", changed("/actor/name", json!("other team"))),
            ("fewer members", changed("/actor/member", json!([{"mbox": "mailto:a@example.com"}]))),
            (
                "mbox local part case",
                changed(
                    "/actor/member",
                    json!([{"mbox": "mailto:A@example.com"}, {"account": {"homePage": "http://example.com", "name": "b"}}]),
                ),
            ),
            ("duration above 0.01 s", changed("/result/duration", json!("PT1.24S"))),
            ("other registration", changed("/context/registration", json!("00000000-bb56-4c2e-ab83-44982ef22df0"))),
            ("added context extension", changed("/context/extensions", json!({"http://example.com/x": 1}))),
            ("removed result", changed("/result", Value::Null)),
        ];
        for (description, incoming) in cases {
            assert!(!statements_equivalent(&base(), &incoming), "{description} should differ");
        }
    }

    #[test]
    fn durations_ignore_only_digits_below_a_hundredth() {
        let cases = [
            ("PT1.234S", "PT1.23S"),
            ("PT1.2S", "PT1.20S"),
            ("PT1S", "PT1.004S"),
            ("P1DT12H36M0.12567S", "P1DT12H36M0.12S"),
            ("PT1H", "PT1H"),
        ];
        for (a, b) in cases {
            assert_eq!(normalize_duration(a), normalize_duration(b), "{a} vs {b}");
        }
        assert_ne!(normalize_duration("PT1H"), normalize_duration("PT60M"));
        assert_ne!(normalize_duration("PT1.23S"), normalize_duration("PT1.24S"));
    }

    #[test]
    fn substatements_are_compared_with_the_same_rules() {
        let sub = |display: &str, timestamp: &str, raw: Value| {
            json!({
                "actor": {"mbox": "mailto:a@example.com"},
                "verb": {"id": "http://example.com/v"},
                "object": {
                    "objectType": "SubStatement",
                    "actor": {"objectType": "Agent", "mbox": "mailto:b@Example.com"},
                    "verb": {"id": "http://example.com/v", "display": {"en-US": display}},
                    "object": {"id": "http://example.com/a", "definition": {"name": {"en-US": display}}},
                    "result": {"score": {"raw": raw}},
                    "timestamp": timestamp
                }
            })
        };

        let stored = sub("one", "2023-05-04T17:00:00Z", json!(5));

        assert!(statements_equivalent(&stored, &sub("two", "2023-05-04T18:00:00+01:00", json!(5.0))));
        assert!(!statements_equivalent(&stored, &sub("one", "2023-05-04T17:00:00Z", json!(6))));
        assert!(!statements_equivalent(&stored, &sub("one", "2023-05-04T17:00:01Z", json!(5))));
    }
}

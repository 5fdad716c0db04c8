//! The statement rules that relate several properties, checked in Rust after the schema
//! accepted the structure: identifiers, voiding, score bounds, interaction components,
//! context restrictions, authority and signature attachments. Called by `validate_statement`.

use serde_json::Value;

use super::agents::{check_actor, check_agent, check_authority, check_group};
use super::path::Path;
use super::ValidationError;

const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";
const SIGNATURE: &str = "http://adlnet.gov/expapi/attachments/signature";
const INTERACTION_LISTS: [&str; 5] = ["choices", "scale", "source", "target", "steps"];
const INTERACTION_PROPERTIES: [&str; 6] = ["correctResponsesPattern", "choices", "scale", "source", "target", "steps"];

/// A statement (or, with `sub`, a SubStatement) whose structure is already known good.
pub fn check_statement(statement: &Value, path: &Path, sub: bool) -> Result<(), ValidationError> {
    if let Some(actor) = statement.get("actor") {
        check_actor(actor, &path.key("actor"))?;
    }
    let object = statement.get("object");
    if let Some(object) = object {
        check_object(object, &path.key("object"), sub)?;
    }
    let verb_id = statement.pointer("/verb/id").and_then(Value::as_str);
    if !sub && verb_id == Some(VOIDED) && object_type(object) != Some("StatementRef") {
        return Err(path
            .key("object")
            .error(format!(r#"must be a StatementRef when the verb is "{VOIDED}" (a voiding statement)"#)));
    }
    if let Some(score) = statement.pointer("/result/score") {
        let result = path.key("result");
        check_score(score, &result.key("score"))?;
    }
    if let Some(context) = statement.get("context") {
        check_context(context, object, &path.key("context"))?;
    }
    if let Some(authority) = statement.get("authority") {
        check_authority(authority, &path.key("authority"))?;
    }
    if let Some(attachments) = statement.get("attachments").and_then(Value::as_array) {
        check_attachments(attachments, &path.key("attachments"))?;
    }
    Ok(())
}

fn object_type(object: Option<&Value>) -> Option<&str> {
    object?.get("objectType")?.as_str()
}

fn check_object(object: &Value, path: &Path, sub: bool) -> Result<(), ValidationError> {
    match object_type(Some(object)) {
        Some("Agent") => check_agent(object, path),
        Some("Group") => check_group(object, path),
        Some("SubStatement") if sub => {
            Err(path.error("must not be a SubStatement: a SubStatement cannot contain another SubStatement"))
        }
        Some("SubStatement") => check_statement(object, path, true),
        Some("StatementRef") => Ok(()),
        _ => check_activity(object, path),
    }
}

/// Interaction properties need `interactionType`, and component ids are distinct per list.
fn check_activity(activity: &Value, path: &Path) -> Result<(), ValidationError> {
    let Some(definition) = activity.get("definition") else {
        return Ok(());
    };
    let definition_path = path.key("definition");
    if definition.get("interactionType").is_none() {
        if let Some(name) = INTERACTION_PROPERTIES.iter().find(|p| definition.get(**p).is_some()) {
            return Err(definition_path
                .key(name)
                .error(r#"is only allowed together with "interactionType" in the same definition"#));
        }
    }
    for list in INTERACTION_LISTS {
        let Some(components) = definition.get(list).and_then(Value::as_array) else {
            continue;
        };
        let list_path = definition_path.key(list);
        for (i, component) in components.iter().enumerate() {
            let id = component.get("id").and_then(Value::as_str);
            if components[..i].iter().any(|earlier| earlier.get("id").and_then(Value::as_str) == id) {
                let item = list_path.index(i);
                return Err(item.key("id").error(format!(
                    "must be unique within {list}; {} is used more than once",
                    Value::from(id.unwrap_or_default())
                )));
            }
        }
    }
    Ok(())
}

/// `-1 <= scaled <= 1`, `min < max`, and `raw` between them (inclusive).
fn check_score(score: &Value, path: &Path) -> Result<(), ValidationError> {
    let number = |name: &str| score.get(name).and_then(Value::as_f64);
    if let Some(scaled) = number("scaled") {
        if !(-1.0..=1.0).contains(&scaled) {
            return Err(path.key("scaled").error("must be between -1 and 1"));
        }
    }
    let (raw, min, max) = (number("raw"), number("min"), number("max"));
    if let (Some(min), Some(max)) = (min, max) {
        if min >= max {
            return Err(path.key("min").error(format!("must be less than max ({max})")));
        }
    }
    if let (Some(raw), Some(min)) = (raw, min) {
        if raw < min {
            return Err(path.key("raw").error(format!("must not be less than min ({min})")));
        }
    }
    if let (Some(raw), Some(max)) = (raw, max) {
        if raw > max {
            return Err(path.key("raw").error(format!("must not be greater than max ({max})")));
        }
    }
    Ok(())
}

fn check_context(context: &Value, object: Option<&Value>, path: &Path) -> Result<(), ValidationError> {
    let object_is_activity = matches!(object_type(object), None | Some("Activity"));
    for name in ["revision", "platform"] {
        if context.get(name).is_some() && !object_is_activity {
            return Err(path.key(name).error("is only allowed when the object is an Activity"));
        }
    }
    if let Some(instructor) = context.get("instructor") {
        check_actor(instructor, &path.key("instructor"))?;
    }
    if let Some(team) = context.get("team") {
        check_group(team, &path.key("team"))?;
    }
    if let Some(lists) = context.get("contextActivities").and_then(Value::as_object) {
        let lists_path = path.key("contextActivities");
        for (key, value) in lists {
            let list_path = lists_path.key(key);
            match value {
                Value::Array(activities) => {
                    for (i, activity) in activities.iter().enumerate() {
                        check_activity(activity, &list_path.index(i))?;
                    }
                }
                activity => check_activity(activity, &list_path)?,
            }
        }
    }
    for (list, member, check) in [
        ("contextAgents", "agent", check_agent as fn(&Value, &Path) -> Result<(), ValidationError>),
        ("contextGroups", "group", check_group),
    ] {
        let Some(entries) = context.get(list).and_then(Value::as_array) else {
            continue;
        };
        let list_path = path.key(list);
        for (i, entry) in entries.iter().enumerate() {
            if let Some(agent) = entry.get(member) {
                let entry_path = list_path.index(i);
                check(agent, &entry_path.key(member))?;
            }
        }
    }
    Ok(())
}

/// A signature attachment carries a JWS, so its content type is fixed.
fn check_attachments(attachments: &[Value], path: &Path) -> Result<(), ValidationError> {
    for (i, attachment) in attachments.iter().enumerate() {
        let usage = attachment.get("usageType").and_then(Value::as_str);
        let content_type = attachment.get("contentType").and_then(Value::as_str).unwrap_or_default();
        if usage == Some(SIGNATURE) && !content_type.eq_ignore_ascii_case("application/octet-stream") {
            let item = path.index(i);
            return Err(item.key("contentType").error(format!(
                r#"must be "application/octet-stream" for a signature attachment (usageType "{SIGNATURE}")"#
            )));
        }
    }
    Ok(())
}

//! Activities inside a statement and their definitions: where activities appear (used by
//! `terms`, `format` and `equivalence`), which definitions a statement brings, and how an
//! incoming definition merges into the canonical one (passed to storage as
//! `StatementBatch::merge_definition`).

use serde_json::{Map, Value};

/// Definition properties that are language maps and so merge by union of languages.
const LANGUAGE_MAP_PROPERTIES: [&str; 2] = ["name", "description"];

/// An Activity object: an object whose `objectType` is absent or `"Activity"`.
pub fn is_activity(object: &Value) -> bool {
    match object.get("objectType") {
        None => object.is_object(),
        Some(kind) => kind == "Activity",
    }
}

pub fn is_substatement(object: &Value) -> bool {
    object.get("objectType").is_some_and(|kind| kind == "SubStatement")
}

/// Every Activity of a statement, in document order: the object, the SubStatement's
/// object and context activities, then the context activities (single or array).
pub(crate) fn statement_activities(statement: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    collect(statement, &mut found, true);
    found
}

fn collect<'a>(statement: &'a Value, found: &mut Vec<&'a Value>, may_nest: bool) {
    if let Some(object) = statement.get("object") {
        if is_activity(object) {
            found.push(object);
        } else if may_nest && is_substatement(object) {
            collect(object, found, false);
        }
    }
    let context_activities =
        statement.get("context").and_then(|context| context.get("contextActivities")).and_then(Value::as_object);
    for value in context_activities.into_iter().flat_map(Map::values) {
        match value {
            Value::Array(items) => found.extend(items.iter()),
            single => found.push(single),
        }
    }
}

/// The same activities as `statement_activities`, mutable, for output formats and
/// comparison.
pub(crate) fn statement_activities_mut(statement: &mut Value) -> Vec<&mut Value> {
    let mut found = Vec::new();
    collect_mut(statement, &mut found, true);
    found
}

fn collect_mut<'a>(statement: &'a mut Value, found: &mut Vec<&'a mut Value>, may_nest: bool) {
    let Some(map) = statement.as_object_mut() else {
        return;
    };
    for (key, value) in map.iter_mut() {
        match key.as_str() {
            "object" if is_activity(value) => found.push(value),
            "object" if may_nest && is_substatement(value) => collect_mut(value, found, false),
            "context" => {
                let context_activities = value.get_mut("contextActivities").and_then(Value::as_object_mut);
                for value in context_activities.into_iter().flat_map(Map::values_mut) {
                    match value {
                        Value::Array(items) => found.extend(items.iter_mut()),
                        single => found.push(single),
                    }
                }
            }
            _ => {}
        }
    }
}

/// `(id, definition)` for every Activity of the statement that carries a `definition`,
/// in document order, so storage can merge them into the canonical definitions in turn.
pub fn activity_definitions(statement: &Value) -> Vec<(&str, &Value)> {
    statement_activities(statement)
        .into_iter()
        .filter_map(|activity| Some((activity.get("id")?.as_str()?, activity.get("definition")?)))
        .collect()
}

/// Merges an incoming definition into the stored one: `name` and `description` gain the
/// incoming languages (incoming text wins for a language both have); every other property
/// the incoming definition has replaces the stored one, and the rest is kept.
pub fn merge_definition(existing: &mut Value, incoming: &Value) {
    let Some(incoming) = incoming.as_object() else {
        return;
    };
    if !existing.is_object() {
        *existing = Value::Object(Map::new());
    }
    let Some(existing) = existing.as_object_mut() else {
        return;
    };
    for (key, value) in incoming {
        let stored = existing.get_mut(key);
        match stored {
            Some(Value::Object(languages)) if LANGUAGE_MAP_PROPERTIES.contains(&key.as_str()) && value.is_object() => {
                for (language, text) in value.as_object().into_iter().flatten() {
                    languages.insert(language.clone(), text.clone());
                }
            }
            Some(stored) => *stored = value.clone(),
            None => {
                existing.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement_with_activities_everywhere() -> Value {
        json!({
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://example.com/v"},
            "object": {
                "objectType": "SubStatement",
                "actor": {"mbox": "mailto:b@example.com"},
                "verb": {"id": "http://example.com/v"},
                "object": {"id": "http://example.com/sub", "definition": {"type": "http://example.com/t1"}},
                "context": {"contextActivities": {"parent": {"id": "http://example.com/sub-parent", "definition": {}}}}
            },
            "context": {
                "contextActivities": {
                    "grouping": [
                        {"id": "http://example.com/g1", "definition": {"name": {"en": "G"}}},
                        {"id": "http://example.com/g2"}
                    ],
                    "category": {"objectType": "Activity", "id": "http://example.com/c", "definition": {"type": "http://example.com/t2"}}
                }
            }
        })
    }

    #[test]
    fn definitions_are_collected_from_every_place_an_activity_appears() {
        let statement = statement_with_activities_everywhere();

        let ids: Vec<&str> = activity_definitions(&statement).into_iter().map(|(id, _)| id).collect();

        assert_eq!(
            ids,
            vec![
                "http://example.com/sub",
                "http://example.com/sub-parent",
                "http://example.com/g1",
                "http://example.com/c"
            ]
        );
    }

    #[test]
    fn agents_and_statement_refs_bring_no_definitions() {
        let statement = json!({
            "object": {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
            "context": {"contextActivities": {}}
        });

        assert!(activity_definitions(&statement).is_empty());
    }

    #[test]
    fn merging_unions_language_maps_and_replaces_other_properties() {
        let mut existing = json!({
            "name": {"en-US": "old", "fr-FR": "vieux"},
            "type": "http://example.com/old-type",
            "moreInfo": "http://example.com/info",
            "extensions": {"http://example.com/x": 1}
        });
        let incoming = json!({
            "name": {"en-US": "new", "de-DE": "neu"},
            "description": {"en-US": "described"},
            "type": "http://example.com/new-type",
            "extensions": {"http://example.com/y": 2}
        });

        merge_definition(&mut existing, &incoming);
        let once = existing.clone();
        merge_definition(&mut existing, &incoming);

        assert_eq!(existing, once, "idempotent, as StatementBatch::merge_definition requires");
        assert_eq!(
            existing,
            json!({
                "name": {"en-US": "new", "fr-FR": "vieux", "de-DE": "neu"},
                "type": "http://example.com/new-type",
                "moreInfo": "http://example.com/info",
                "extensions": {"http://example.com/y": 2},
                "description": {"en-US": "described"}
            })
        );
    }

    #[test]
    fn merging_into_nothing_takes_the_incoming_definition() {
        let mut existing = Value::Null;
        let incoming = json!({"name": {"en": "x"}, "interactionType": "choice"});

        merge_definition(&mut existing, &incoming);

        assert_eq!(existing, incoming);
    }

    #[test]
    fn merge_definition_fits_the_storage_function_pointer() {
        let merge: fn(&mut Value, &Value) = merge_definition;
        let mut existing = json!({});

        merge(&mut existing, &json!({"type": "http://example.com/t"}));

        assert_eq!(existing, json!({"type": "http://example.com/t"}));
    }
}

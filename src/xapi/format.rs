//! The `ids` and `canonical` statement formats (`exact` is the stored JSON itself).
//! Called by the service when it answers `GET statements`; `activity_ids` tells it which
//! canonical definitions to fetch first.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

pub use crate::xapi::language::AcceptLanguage;

use crate::xapi::activity::{is_activity, is_substatement, statement_activities, statement_activities_mut};
use crate::xapi::agent::ifi_entry;

/// Interaction component lists, whose entries carry a `description` language map.
const COMPONENT_LISTS: [&str; 5] = ["choices", "scale", "source", "target", "steps"];

/// Every Agent, Group, Verb and Activity reduced to what identifies it; the rest of the
/// statement (result, timestamps, attachments, ...) unchanged.
pub fn to_ids_format(statement: &Value) -> Value {
    let mut statement = statement.clone();
    if let Some(map) = statement.as_object_mut() {
        reduce_body(map);
        if let Some(authority) = map.get_mut("authority") {
            *authority = agent_ids(authority);
        }
    }
    statement
}

/// The reductions shared by a statement and its SubStatement.
fn reduce_body(map: &mut Map<String, Value>) {
    if let Some(actor) = map.get_mut("actor") {
        *actor = agent_ids(actor);
    }
    if let Some(verb) = map.get_mut("verb") {
        *verb = keep_keys(verb, |key| key == "id");
    }
    if let Some(object) = map.get_mut("object") {
        if is_activity(object) {
            *object = keep_keys(object, |key| key == "id");
        } else if is_substatement(object) {
            if let Some(sub) = object.as_object_mut() {
                reduce_body(sub);
            }
        } else if object.get("objectType").is_some_and(|kind| kind == "Agent" || kind == "Group") {
            *object = agent_ids(object);
        }
    }
    if let Some(Value::Object(context)) = map.get_mut("context") {
        for place in ["instructor", "team"] {
            if let Some(agent) = context.get_mut(place) {
                *agent = agent_ids(agent);
            }
        }
        for (list, property) in [("contextAgents", "agent"), ("contextGroups", "group")] {
            if let Some(Value::Array(entries)) = context.get_mut(list) {
                for agent in entries.iter_mut().filter_map(|entry| entry.get_mut(property)) {
                    *agent = agent_ids(agent);
                }
            }
        }
        if let Some(Value::Object(activities)) = context.get_mut("contextActivities") {
            for value in activities.values_mut() {
                match value {
                    Value::Array(items) => items.iter_mut().for_each(|a| *a = keep_keys(a, |k| k == "id")),
                    single => *single = keep_keys(single, |key| key == "id"),
                }
            }
        }
    }
}

/// An Agent or identified Group: `objectType` (if sent) and the IFI. An anonymous Group:
/// `objectType` and its members, each reduced the same way.
fn agent_ids(agent: &Value) -> Value {
    if let Some((ifi, _)) = ifi_entry(agent) {
        return keep_keys(agent, |key| key == "objectType" || key == ifi);
    }
    let mut group = keep_keys(agent, |key| key == "objectType" || key == "member");
    if let Some(Value::Array(members)) = group.get_mut("member") {
        members.iter_mut().for_each(|member| *member = agent_ids(member));
    }
    group
}

/// A copy of the object with only the wanted keys, in their received order.
fn keep_keys(value: &Value, wanted: impl Fn(&str) -> bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(key, _)| wanted(key)).map(|(key, value)| (key.clone(), value.clone())).collect(),
        ),
        other => other.clone(),
    }
}

/// Every Activity given its canonical definition (from `definitions`, by id; its own when
/// none is known) with each language map reduced to the one entry `languages` picks; verb
/// `display` reduced the same way. Agents and everything else are returned as stored.
pub fn to_canonical_format(
    statement: &Value,
    definitions: &HashMap<String, Value>,
    languages: &AcceptLanguage,
) -> Value {
    let mut statement = statement.clone();
    for activity in statement_activities_mut(&mut statement) {
        canonical_activity(activity, definitions, languages);
    }
    if let Some(sub) = statement.get_mut("object").filter(|object| is_substatement(object)) {
        reduce_language_map(sub.pointer_mut("/verb/display"), languages);
    }
    reduce_language_map(statement.pointer_mut("/verb/display"), languages);
    statement
}

fn canonical_activity(activity: &mut Value, definitions: &HashMap<String, Value>, languages: &AcceptLanguage) {
    let Some(map) = activity.as_object_mut() else {
        return;
    };
    let canonical = map.get("id").and_then(Value::as_str).and_then(|id| definitions.get(id));
    if let Some(canonical) = canonical.cloned() {
        match map.get_mut("definition") {
            Some(definition) => *definition = canonical,
            None => {
                map.insert("definition".into(), canonical);
            }
        }
    }
    let Some(Value::Object(definition)) = map.get_mut("definition") else {
        return;
    };
    reduce_language_map(definition.get_mut("name"), languages);
    reduce_language_map(definition.get_mut("description"), languages);
    for list in COMPONENT_LISTS {
        if let Some(Value::Array(components)) = definition.get_mut(list) {
            for component in components {
                reduce_language_map(component.get_mut("description"), languages);
            }
        }
    }
}

/// Replaces a language map by a map of the one entry `languages` picks.
fn reduce_language_map(map: Option<&mut Value>, languages: &AcceptLanguage) {
    let Some(Value::Object(map)) = map else {
        return;
    };
    if let Some((tag, text)) = languages.pick(map) {
        let (tag, text) = (tag.clone(), text.clone());
        map.clear();
        map.insert(tag, text);
    }
}

/// Every distinct activity id in the statement (object, context activities, and both in a
/// SubStatement), to fetch canonical definitions before `to_canonical_format`.
pub fn activity_ids(statement: &Value) -> Vec<String> {
    let mut seen = HashSet::new();
    statement_activities(statement)
        .into_iter()
        .filter_map(|activity| activity.get("id")?.as_str())
        .filter(|id| seen.insert(*id))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(value: &Value) -> Vec<&str> {
        value.as_object().unwrap().keys().map(String::as_str).collect()
    }

    fn activity(id: &str) -> Value {
        json!({
            "objectType": "Activity",
            "id": id,
            "definition": {
                "name": {"en-US": "US name", "en-GB": "GB name"},
                "description": {"en-US": "US text", "en-GB": "GB text"},
                "type": "http://example.com/type",
                "interactionType": "choice",
                "correctResponsesPattern": ["a"],
                "choices": [{"id": "a", "description": {"en-US": "US a", "en-GB": "GB a"}}],
                "extensions": {"http://example.com/x": {"en-US": "not a language map"}}
            }
        })
    }

    fn full_statement() -> Value {
        json!({
            "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0",
            "actor": {"objectType": "Agent", "name": "Ann", "mbox": "mailto:ann@example.com"},
            "verb": {"id": "http://example.com/verb", "display": {"en-US": "did", "en-GB": "did (GB)"}},
            "object": {
                "objectType": "SubStatement",
                "actor": {"objectType": "Group", "name": "Known", "openid": "http://g.example.com", "member": [{"mbox": "mailto:m@example.com"}]},
                "verb": {"id": "http://example.com/subverb", "display": {"en-US": "sub", "en-GB": "sub (GB)"}},
                "object": activity("http://example.com/sub-activity"),
                "context": {"contextActivities": {"parent": [activity("http://example.com/sub-parent")]}}
            },
            "result": {"score": {"raw": 1.0}, "response": "a"},
            "context": {
                "instructor": {"name": "Ian", "account": {"homePage": "http://example.com", "name": "ian"}},
                "team": {"objectType": "Group", "name": "Anonymous", "member": [
                    {"objectType": "Agent", "name": "Tom", "mbox": "mailto:tom@example.com"},
                    {"name": "Tim", "openid": "http://tim.example.com"}
                ]},
                "contextAgents": [{"objectType": "contextAgent", "agent": {"name": "Cat", "mbox": "mailto:cat@example.com"}}],
                "contextActivities": {"category": [activity("http://example.com/category")]},
                "statement": {"objectType": "StatementRef", "id": "9f87ccde-bb56-4c2e-ab83-44982ef22df0"}
            },
            "timestamp": "2023-05-04T17:00:00.000Z",
            "authority": {"objectType": "Agent", "name": "LRS", "mbox": "mailto:lrs@example.com"}
        })
    }

    #[test]
    fn ids_format_drops_definitions_display_and_names() {
        let statement = full_statement();

        let ids = to_ids_format(&statement);

        assert_eq!(ids["verb"], json!({"id": "http://example.com/verb"}));
        assert_eq!(ids["actor"], json!({"objectType": "Agent", "mbox": "mailto:ann@example.com"}));
        assert_eq!(ids["authority"], json!({"objectType": "Agent", "mbox": "mailto:lrs@example.com"}));
        let sub = &ids["object"];
        assert_eq!(sub["objectType"], "SubStatement");
        assert_eq!(sub["verb"], json!({"id": "http://example.com/subverb"}));
        assert_eq!(sub["object"], json!({"id": "http://example.com/sub-activity"}));
        assert_eq!(sub["context"]["contextActivities"]["parent"], json!([{"id": "http://example.com/sub-parent"}]));
        let context = &ids["context"];
        assert_eq!(context["instructor"], json!({"account": {"homePage": "http://example.com", "name": "ian"}}));
        assert_eq!(context["contextAgents"][0]["agent"], json!({"mbox": "mailto:cat@example.com"}));
        assert_eq!(context["contextAgents"][0]["objectType"], "contextAgent");
        assert_eq!(context["contextActivities"]["category"], json!([{"id": "http://example.com/category"}]));
    }

    #[test]
    fn an_identified_group_in_ids_format_has_exactly_two_keys() {
        let ids = to_ids_format(&full_statement());

        let group = &ids["object"]["actor"];

        assert_eq!(keys(group), vec!["objectType", "openid"]);
    }

    #[test]
    fn an_anonymous_group_keeps_its_members_reduced_to_their_ifi() {
        let ids = to_ids_format(&full_statement());

        assert_eq!(
            ids["context"]["team"],
            json!({"objectType": "Group", "member": [
                {"objectType": "Agent", "mbox": "mailto:tom@example.com"},
                {"openid": "http://tim.example.com"}
            ]})
        );
    }

    #[test]
    fn ids_format_leaves_everything_else_as_stored() {
        let statement = full_statement();

        let ids = to_ids_format(&statement);

        for unchanged in ["id", "result", "timestamp"] {
            assert_eq!(ids[unchanged], statement[unchanged], "{unchanged}");
        }
        assert_eq!(ids["context"]["statement"], statement["context"]["statement"]);
        assert_eq!(keys(&ids), keys(&statement));
    }

    #[test]
    fn ids_format_reduces_agent_objects_and_single_context_activities() {
        let statement = json!({
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://example.com/v"},
            "object": {"objectType": "Agent", "name": "Bo", "mbox": "mailto:bo@example.com"},
            "context": {"contextActivities": {"other": {"id": "http://example.com/o", "definition": {}}}}
        });

        let ids = to_ids_format(&statement);

        assert_eq!(ids["object"], json!({"objectType": "Agent", "mbox": "mailto:bo@example.com"}));
        assert_eq!(ids["context"]["contextActivities"]["other"], json!({"id": "http://example.com/o"}));
    }

    #[test]
    fn canonical_picks_en_gb_for_an_en_gb_header_in_every_language_map() {
        let languages = AcceptLanguage::parse(Some("en-GB"));

        let canonical = to_canonical_format(&full_statement(), &HashMap::new(), &languages);

        assert_eq!(canonical["verb"]["display"], json!({"en-GB": "did (GB)"}));
        assert_eq!(canonical["object"]["verb"]["display"], json!({"en-GB": "sub (GB)"}));
        let definition = &canonical["object"]["object"]["definition"];
        assert_eq!(definition["name"], json!({"en-GB": "GB name"}));
        assert_eq!(definition["description"], json!({"en-GB": "GB text"}));
        assert_eq!(definition["choices"][0]["description"], json!({"en-GB": "GB a"}));
        assert_eq!(definition["extensions"], json!({"http://example.com/x": {"en-US": "not a language map"}}));
        assert_eq!(definition["correctResponsesPattern"], json!(["a"]));
        let category = &canonical["context"]["contextActivities"]["category"][0]["definition"];
        assert_eq!(category["name"], json!({"en-GB": "GB name"}));
        let sub_parent = &canonical["object"]["context"]["contextActivities"]["parent"][0]["definition"];
        assert_eq!(sub_parent["description"], json!({"en-GB": "GB text"}));
    }

    #[test]
    fn canonical_uses_the_stored_definition_and_keeps_agents_as_stored() {
        let statement = full_statement();
        let canonical_definition =
            json!({"name": {"fr-FR": "nom", "en-US": "canonical"}, "type": "http://example.com/canonical"});
        let definitions = HashMap::from([("http://example.com/category".to_string(), canonical_definition)]);

        let canonical = to_canonical_format(&statement, &definitions, &AcceptLanguage::parse(None));

        assert_eq!(
            canonical["context"]["contextActivities"]["category"][0]["definition"],
            json!({"name": {"en-US": "canonical"}, "type": "http://example.com/canonical"})
        );
        assert_eq!(canonical["object"]["object"]["definition"]["name"], json!({"en-US": "US name"}));
        assert_eq!(canonical["actor"], statement["actor"]);
        assert_eq!(canonical["context"]["team"], statement["context"]["team"]);
        assert_eq!(canonical["result"], statement["result"]);
    }

    #[test]
    fn canonical_adds_a_known_definition_to_an_activity_sent_without_one() {
        let statement = json!({"verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/a"}});
        let definitions =
            HashMap::from([("http://example.com/a".to_string(), json!({"type": "http://example.com/t"}))]);

        let canonical = to_canonical_format(&statement, &definitions, &AcceptLanguage::default());

        assert_eq!(
            canonical["object"],
            json!({"id": "http://example.com/a", "definition": {"type": "http://example.com/t"}})
        );
        assert_eq!(canonical["verb"], statement["verb"]);
    }

    #[test]
    fn activity_ids_lists_each_activity_once() {
        let mut statement = full_statement();
        statement["context"]["contextActivities"]["other"] = json!({"id": "http://example.com/sub-activity"});

        let ids = activity_ids(&statement);

        assert_eq!(
            ids,
            vec!["http://example.com/sub-activity", "http://example.com/sub-parent", "http://example.com/category"]
        );
    }
}

//! Context: types, contextActivities, revision/platform, and the 2.0 context agents and
//! groups.

use serde_json::{json, Value};

use super::*;

fn context(key: &str, value: Value) -> Value {
    with(&format!("/context/{key}"), value)
}

const UUID: &str = "ec531277-b57b-4c15-8d91-d292c5b2b8f7";

#[test]
fn context_properties_have_their_types() {
    accept_all(
        vec![
            (
                "full context",
                with(
                    "/context",
                    json!({
                        "registration": UUID,
                        "instructor": {"mbox": "mailto:i@example.com"},
                        "team": {"objectType": "Group", "member": [{"mbox": "mailto:t@example.com"}]},
                        "contextActivities": {"parent": {"id": "http://example.com/p"}, "grouping": [{"id": "http://example.com/g"}],
                                              "category": [], "other": [{"objectType": "Activity", "id": "http://example.com/o"}]},
                        "revision": "r1", "platform": "Example virtual meeting software", "language": "tlh",
                        "statement": {"objectType": "StatementRef", "id": UUID},
                        "extensions": {"http://example.com/null": null}
                    }),
                ),
            ),
            ("empty contextActivities", context("contextActivities", json!({}))),
            ("group instructor", context("instructor", json!({"objectType": "Group", "mbox": "mailto:g@example.com"}))),
            ("language cmn", context("language", json!("cmn"))),
            ("language fr-CA", context("language", json!("fr-CA"))),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "registration words",
                context("registration", json!("should fail")),
                "context.registration: must be a UUID",
            ),
            (
                "registration object",
                context("registration", json!({})),
                "context.registration: must be a string, not an object",
            ),
            (
                "instructor a string",
                context("instructor", json!("mailto:i@example.com")),
                "context.instructor: must be an object, not a string",
            ),
            (
                "instructor without IFI",
                context("instructor", json!({"name": "x"})),
                "context.instructor: an Agent needs exactly one identifier",
            ),
            (
                "team an agent",
                context("team", json!({"mbox": "mailto:t@example.com"})),
                r#"context.team: required property "objectType" is missing"#,
            ),
            (
                "team an Agent with objectType",
                context("team", json!({"objectType": "Agent", "mbox": "mailto:t@example.com"})),
                r#"context.team.objectType: must be "Group""#,
            ),
            ("team a string", context("team", json!("team")), "context.team: must be an object, not a string"),
            (
                "anonymous team without members",
                context("team", json!({"objectType": "Group"})),
                "context.team: an anonymous Group",
            ),
            (
                "contextActivities a string",
                context("contextActivities", json!("parent")),
                "context.contextActivities: must be an object, not a string",
            ),
            (
                "unknown contextActivities key",
                context("contextActivities", json!({"Parent": []})),
                r#"context.contextActivities.Parent: is not an allowed property (names are case-sensitive: did you mean "parent"?)"#,
            ),
            (
                "context activity without id",
                context("contextActivities", json!({"parent": [{"id": "http://example.com/p"}, {"definition": {}}]})),
                r#"context.contextActivities.parent[1]: required property "id" is missing"#,
            ),
            (
                "context activity bad id",
                context("contextActivities", json!({"category": {"id": "category"}})),
                "context.contextActivities.category.id: must be an absolute IRI",
            ),
            (
                "context activities a string",
                context("contextActivities", json!({"other": "http://example.com/o"})),
                "context.contextActivities.other: must be an array or an object, not a string",
            ),
            (
                "context activity interaction without type",
                context(
                    "contextActivities",
                    json!({"grouping": [{"id": "http://example.com/g", "definition": {"choices": []}}]}),
                ),
                "context.contextActivities.grouping[0].definition.choices: is only allowed together",
            ),
            ("revision a number", context("revision", json!(1)), "context.revision: must be a string, not a number"),
            ("platform an object", context("platform", json!({})), "context.platform: must be a string, not an object"),
            (
                "language something",
                context("language", json!("something")),
                "context.language: must be an RFC 5646 language tag",
            ),
            ("language a number", context("language", json!(5)), "context.language: must be a string"),
            (
                "statement lower-case type",
                context("statement", json!({"objectType": "statementref", "id": UUID})),
                r#"context.statement.objectType: must be "StatementRef""#,
            ),
            (
                "statement bad id",
                context("statement", json!({"objectType": "StatementRef", "id": "should fail"})),
                "context.statement.id: must be a UUID",
            ),
            (
                "unknown context property",
                context("location", json!("x")),
                "context.location: is not an allowed property",
            ),
        ],
        BOTH,
    );
}

#[test]
fn revision_and_platform_need_an_activity_object() {
    let agent_object = with("/object", json!({"objectType": "Agent", "mbox": "mailto:o@example.com"}));
    let ref_object = with("/object", json!({"objectType": "StatementRef", "id": UUID}));
    accept_all(
        vec![
            ("revision with activity", context("revision", json!("r1"))),
            (
                "platform with activity without objectType",
                set(with("/object", json!({"id": "http://example.com/a"})), "/context/platform", json!("p")),
            ),
        ],
        BOTH,
    );
    refuse_all(
        vec![
            (
                "revision with agent",
                set(agent_object.clone(), "/context/revision", json!("r1")),
                "context.revision: is only allowed when the object is an Activity",
            ),
            (
                "platform with agent",
                set(agent_object, "/context/platform", json!("p")),
                "context.platform: is only allowed when the object is an Activity",
            ),
            (
                "platform with statement ref",
                set(ref_object, "/context/platform", json!("p")),
                "context.platform: is only allowed",
            ),
        ],
        BOTH,
    );
}

fn context_agent(entry: Value) -> Value {
    context("contextAgents", json!([entry]))
}

fn context_group(entry: Value) -> Value {
    context("contextGroups", json!([entry]))
}

#[test]
fn context_agents_and_groups_exist_only_in_2_0() {
    let agent = json!({"objectType": "contextAgent", "agent": {"mbox": "mailto:c@example.com"}, "relevantTypes": ["http://example.com/types/coach"]});
    let group = json!({"objectType": "contextGroup", "group": {"objectType": "Group", "member": [{"mbox": "mailto:c@example.com"}]}, "relevantTypes": ["http://example.com/types/class"]});
    accept_all(
        vec![
            ("context agent", context_agent(agent.clone())),
            ("context group", context_group(group.clone())),
            (
                "no relevantTypes",
                context_agent(json!({"objectType": "contextAgent", "agent": {"mbox": "mailto:c@example.com"}})),
            ),
            (
                "identified group",
                context_group(
                    json!({"objectType": "contextGroup", "group": {"objectType": "Group", "mbox": "mailto:g@example.com"}}),
                ),
            ),
            (
                "in a substatement",
                with(
                    "/object",
                    json!({
                        "objectType": "SubStatement", "actor": {"mbox": "mailto:s@example.com"},
                        "verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/a"},
                        "context": {"contextAgents": [agent.clone()], "contextGroups": [group.clone()]}
                    }),
                ),
            ),
        ],
        V2,
    );
    refuse_all(
        vec![
            (
                "contextAgents under 1.0.3",
                context_agent(agent.clone()),
                "context.contextAgents: is not an allowed property in xAPI 1.0.3",
            ),
            (
                "contextGroups under 1.0.3",
                context_group(group.clone()),
                "context.contextGroups: is not an allowed property in xAPI 1.0.3",
            ),
        ],
        V1,
    );
    refuse_all(
        vec![
            (
                "wrong objectType",
                context_agent(set(agent.clone(), "/objectType", json!("contextagent"))),
                r#"context.contextAgents[0].objectType: must be "contextAgent""#,
            ),
            (
                "Agent objectType",
                context_agent(set(agent.clone(), "/objectType", json!("Agent"))),
                r#"context.contextAgents[0].objectType: must be "contextAgent""#,
            ),
            (
                "missing objectType",
                context_agent(json!({"agent": {"mbox": "mailto:c@example.com"}})),
                r#"context.contextAgents[0]: required property "objectType" is missing"#,
            ),
            (
                "missing agent",
                context_agent(json!({"objectType": "contextAgent"})),
                r#"context.contextAgents[0]: required property "agent" is missing"#,
            ),
            (
                "agent without IFI",
                context_agent(set(agent.clone(), "/agent", json!({"name": "x"}))),
                "context.contextAgents[0].agent: an Agent needs exactly one identifier",
            ),
            (
                "agent is a group",
                context_agent(set(
                    agent.clone(),
                    "/agent",
                    json!({"objectType": "Group", "mbox": "mailto:g@example.com"}),
                )),
                r#"context.contextAgents[0].agent.objectType: must be "Agent""#,
            ),
            (
                "empty relevantTypes",
                context_agent(set(agent.clone(), "/relevantTypes", json!([]))),
                "context.contextAgents[0].relevantTypes: must have at least 1 item",
            ),
            (
                "relevantTypes not IRIs",
                context_agent(set(agent.clone(), "/relevantTypes", json!(["abc"]))),
                "context.contextAgents[0].relevantTypes[0]: must be an absolute IRI",
            ),
            (
                "extra property",
                context_agent(set(agent, "/role", json!("x"))),
                "context.contextAgents[0].role: is not an allowed property",
            ),
            (
                "contextAgents an object",
                context("contextAgents", json!({})),
                "context.contextAgents: must be an array, not an object",
            ),
            (
                "group wrong objectType",
                context_group(set(group.clone(), "/objectType", json!("ContextGroup"))),
                r#"context.contextGroups[0].objectType: must be "contextGroup""#,
            ),
            (
                "group an agent",
                context_group(set(group.clone(), "/group", json!({"mbox": "mailto:c@example.com"}))),
                r#"context.contextGroups[0].group: required property "objectType" is missing"#,
            ),
            (
                "anonymous group without members",
                context_group(set(group.clone(), "/group", json!({"objectType": "Group"}))),
                "context.contextGroups[0].group: an anonymous Group",
            ),
            (
                "group empty relevantTypes",
                context_group(set(group.clone(), "/relevantTypes", json!([]))),
                "context.contextGroups[0].relevantTypes: must have at least 1 item",
            ),
            (
                "group relevantTypes not IRIs",
                context_group(set(group, "/relevantTypes", json!(["abc"]))),
                "context.contextGroups[0].relevantTypes[0]: must be an absolute IRI",
            ),
        ],
        V2,
    );
}

//! Index terms: what a statement can be found by (agent, verb, activity, registration,
//! authority), computed once when the service prepares a statement for storage. Storage
//! only stores and matches them; the StatementRef targeting rule is storage's part.

use serde_json::Value;
use uuid::Uuid;

use crate::storage::IndexTerm;
use crate::xapi::activity::{is_activity, is_substatement, statement_activities};
use crate::xapi::agent::agent_keys_with_members;

pub const VOIDED_VERB: &str = "http://adlnet.gov/expapi/verbs/voided";

/// The statement's own terms, without duplicates, in a stable order.
pub fn index_terms(statement: &Value) -> Vec<IndexTerm> {
    let mut terms = Terms::default();

    for agent in primary_agents(statement) {
        for key in agent_keys_with_members(agent) {
            terms.push(IndexTerm::Agent(key.clone()));
            terms.push(IndexTerm::RelatedAgent(key));
        }
    }
    for agent in related_agents(statement) {
        for key in agent_keys_with_members(agent) {
            terms.push(IndexTerm::RelatedAgent(key));
        }
    }
    if let Some(verb) = statement.pointer("/verb/id").and_then(Value::as_str) {
        terms.push(IndexTerm::Verb(verb.to_string()));
    }
    if let Some(object) = statement.get("object").filter(|object| is_activity(object)) {
        if let Some(id) = object.get("id").and_then(Value::as_str) {
            terms.push(IndexTerm::Activity(id.to_string()));
        }
    }
    for activity in statement_activities(statement) {
        if let Some(id) = activity.get("id").and_then(Value::as_str) {
            terms.push(IndexTerm::RelatedActivity(id.to_string()));
        }
    }
    // Only the statement's own registration: a SubStatement's context is not a filter target.
    if let Some(registration) = statement.pointer("/context/registration").and_then(Value::as_str) {
        terms.push(IndexTerm::Registration(registration.to_ascii_lowercase()));
    }
    if let Some(authority) = statement.get("authority") {
        // An anonymous two-member authority group (OAuth) is known by both members.
        for key in agent_keys_with_members(authority) {
            terms.push(IndexTerm::Authority(key));
        }
    }
    terms.list
}

/// The id of the statement a StatementRef object points to.
pub fn object_statement_ref(statement: &Value) -> Option<Uuid> {
    let object = statement.get("object")?;
    if object.get("objectType")? != "StatementRef" {
        return None;
    }
    Uuid::parse_str(object.get("id")?.as_str()?).ok()
}

/// Whether the verb is exactly `http://adlnet.gov/expapi/verbs/voided`.
pub fn is_voiding(statement: &Value) -> bool {
    statement.pointer("/verb/id").and_then(Value::as_str) == Some(VOIDED_VERB)
}

/// A statement has a dozen terms or so: a linear search dedups them more cheaply than a
/// hash set would.
#[derive(Default)]
struct Terms {
    list: Vec<IndexTerm>,
}

impl Terms {
    fn push(&mut self, term: IndexTerm) {
        if !self.list.contains(&term) {
            self.list.push(term);
        }
    }
}

/// What the `agent` filter looks at: the actor, and the object when it is an Agent or Group.
fn primary_agents(statement: &Value) -> Vec<&Value> {
    let mut agents: Vec<&Value> = statement.get("actor").into_iter().collect();
    agents.extend(statement.get("object").filter(|object| is_agent_or_group(object)));
    agents
}

/// What `related_agents=true` adds: authority, the context's agents, and every agent place
/// inside a SubStatement object.
fn related_agents(statement: &Value) -> Vec<&Value> {
    let mut agents: Vec<&Value> = statement.get("authority").into_iter().collect();
    agents.extend(context_agents(statement));
    if let Some(sub) = statement.get("object").filter(|object| is_substatement(object)) {
        agents.extend(primary_agents(sub));
        agents.extend(context_agents(sub));
    }
    agents
}

/// `instructor`, `team`, `contextAgents[].agent` and `contextGroups[].group`.
fn context_agents(statement: &Value) -> Vec<&Value> {
    let Some(context) = statement.get("context") else {
        return Vec::new();
    };
    let mut agents: Vec<&Value> = ["instructor", "team"].iter().filter_map(|place| context.get(*place)).collect();
    for (list, property) in [("contextAgents", "agent"), ("contextGroups", "group")] {
        let entries = context.get(list).and_then(Value::as_array);
        agents.extend(entries.into_iter().flatten().filter_map(|entry| entry.get(property)));
    }
    agents
}

fn is_agent_or_group(object: &Value) -> bool {
    object.get("objectType").is_some_and(|kind| kind == "Agent" || kind == "Group")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mbox(name: &str) -> Value {
        json!({"mbox": format!("mailto:{name}@example.com")})
    }

    fn key(name: &str) -> String {
        format!("mbox:mailto:{name}@example.com")
    }

    fn rich_statement() -> Value {
        json!({
            "actor": {"objectType": "Group", "member": [mbox("m1"), mbox("m2")]},
            "verb": {"id": "http://example.com/verb"},
            "object": {
                "objectType": "SubStatement",
                "actor": mbox("subactor"),
                "verb": {"id": "http://example.com/subverb"},
                "object": {"objectType": "Agent", "mbox": "mailto:subobject@example.com"},
                "context": {
                    "registration": "AAAAAAAA-bbbb-4ccc-8ddd-eeeeeeeeeeee",
                    "instructor": mbox("subinstructor"),
                    "contextActivities": {"parent": [{"id": "http://example.com/sub-parent"}]}
                }
            },
            "context": {
                "registration": "8F87CCDE-bb56-4c2e-ab83-44982ef22df0",
                "instructor": mbox("instructor"),
                "team": {"objectType": "Group", "openid": "http://team.example.com", "member": [mbox("teammate")]},
                "contextAgents": [{"objectType": "contextAgent", "agent": mbox("ctxagent")}],
                "contextGroups": [{"objectType": "contextGroup", "group": {"objectType": "Group", "member": [mbox("ctxmember")]}}],
                "contextActivities": {"category": {"id": "http://example.com/category"}}
            },
            "authority": {"objectType": "Group", "member": [
                {"account": {"homePage": "http://lrs.example.com", "name": "app"}},
                mbox("user")
            ]}
        })
    }

    fn of_kind(terms: &[IndexTerm], pick: fn(&IndexTerm) -> Option<&String>) -> Vec<String> {
        terms.iter().filter_map(pick).cloned().collect()
    }

    #[test]
    fn context_agents_and_substatement_actors_are_related_agents_but_not_agents() {
        let terms = index_terms(&rich_statement());

        let agents = of_kind(&terms, |t| if let IndexTerm::Agent(k) = t { Some(k) } else { None });
        let related = of_kind(&terms, |t| if let IndexTerm::RelatedAgent(k) = t { Some(k) } else { None });

        assert_eq!(agents, vec![key("m1"), key("m2")]);
        for name in [
            "m1",
            "m2",
            "instructor",
            "teammate",
            "ctxagent",
            "ctxmember",
            "subactor",
            "subobject",
            "subinstructor",
            "user",
        ] {
            assert!(related.contains(&key(name)), "{name} should be a related agent");
        }
        assert!(related.contains(&"openid:http://team.example.com".to_string()));
    }

    #[test]
    fn an_agent_object_is_an_agent_term() {
        let statement = json!({"actor": mbox("a"), "verb": {"id": "http://e.com/v"}, "object": {"objectType": "Agent", "mbox": "mailto:b@example.com"}});

        let terms = index_terms(&statement);

        assert!(terms.contains(&IndexTerm::Agent(key("b"))));
        assert!(!terms.iter().any(|t| matches!(t, IndexTerm::Activity(_))));
    }

    #[test]
    fn activities_registration_verb_and_authority_terms() {
        let terms = index_terms(&rich_statement());

        let related = of_kind(&terms, |t| if let IndexTerm::RelatedActivity(k) = t { Some(k) } else { None });
        assert_eq!(related, vec!["http://example.com/sub-parent", "http://example.com/category"]);
        assert!(!terms.iter().any(|t| matches!(t, IndexTerm::Activity(_))), "a SubStatement is no Activity object");
        assert!(terms.contains(&IndexTerm::Verb("http://example.com/verb".into())));
        assert!(!terms.contains(&IndexTerm::Verb("http://example.com/subverb".into())));
        let registrations = of_kind(&terms, |t| if let IndexTerm::Registration(k) = t { Some(k) } else { None });
        assert_eq!(registrations, vec!["8f87ccde-bb56-4c2e-ab83-44982ef22df0"]);
        let authorities = of_kind(&terms, |t| if let IndexTerm::Authority(k) = t { Some(k) } else { None });
        assert_eq!(authorities, vec![r#"account:["http://lrs.example.com","app"]"#.to_string(), key("user")]);
    }

    #[test]
    fn an_activity_object_is_both_activity_and_related_activity() {
        let statement = json!({
            "actor": mbox("a"),
            "verb": {"id": "http://e.com/v"},
            "object": {"objectType": "Activity", "id": "http://e.com/act"},
            "context": {"contextActivities": {"parent": [{"id": "http://e.com/act"}]}}
        });

        let terms = index_terms(&statement);

        assert_eq!(
            terms,
            vec![
                IndexTerm::Agent(key("a")),
                IndexTerm::RelatedAgent(key("a")),
                IndexTerm::Verb("http://e.com/v".into()),
                IndexTerm::Activity("http://e.com/act".into()),
                IndexTerm::RelatedActivity("http://e.com/act".into()),
            ]
        );
    }

    #[test]
    fn statement_refs_and_voiding_are_recognised() {
        let id = "8f87ccde-bb56-4c2e-ab83-44982ef22df0";
        let voiding = json!({"verb": {"id": VOIDED_VERB}, "object": {"objectType": "StatementRef", "id": id}});
        let near_miss = json!({"verb": {"id": "http://adlnet.gov/expapi/verbs/voided/"}, "object": {"id": id}});

        assert!(is_voiding(&voiding));
        assert_eq!(object_statement_ref(&voiding), Some(Uuid::parse_str(id).unwrap()));
        assert!(!is_voiding(&near_miss));
        assert_eq!(object_statement_ref(&near_miss), None, "an Activity is no StatementRef");
    }
}

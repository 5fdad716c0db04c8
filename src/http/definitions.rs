//! Handlers of the `activities` resource (the canonical Activity) and the `agents`
//! resource (the Person known for an agent).

use serde_json::{json, Map, Value};

use super::call::XapiCall;
use super::documents::activity_param;
use super::reply::Reply;
use super::statement_params::parse_agent;
use super::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ErrorCode};

fn reads_only(call: &XapiCall, resource: &str) -> Result<(), ApiError> {
    if call.method.reads() {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::MethodNotAllowed, format!("{resource}: supports GET and HEAD")))
    }
}

pub async fn get_activity(state: &AppState, call: &XapiCall, principal: &Principal) -> Result<Reply, ApiError> {
    reads_only(call, "activities")?;
    call.check_params(&["activityId"])?;
    principal.require(Access::ReadDefinitions)?;
    let id = activity_param(call)?;
    let definitions = state.statements.store().find_activity_definitions(std::slice::from_ref(&id)).await?;
    let mut activity = json!({"objectType": "Activity", "id": id});
    if let Some((_, definition)) = definitions.into_iter().next() {
        activity["definition"] = definition;
    }
    Ok(Reply::json(200, &activity))
}

pub async fn get_person(state: &AppState, call: &XapiCall, principal: &Principal) -> Result<Reply, ApiError> {
    reads_only(call, "agents")?;
    call.check_params(&["agent"])?;
    principal.require(Access::ReadDefinitions)?;
    let (agent, key) = parse_agent(call.required_param("agent")?, false)?;
    let known = state.statements.store().find_agents(&[key]).await?;
    Ok(Reply::json(200, &person(std::iter::once(&agent).chain(known.iter()))))
}

/// A Person object: each property an array of the distinct values seen.
fn person<'a>(agents: impl Iterator<Item = &'a Value>) -> Value {
    let mut person = Map::new();
    person.insert("objectType".into(), json!("Person"));
    for agent in agents {
        for property in ["name", "mbox", "mbox_sha1sum", "openid", "account"] {
            let Some(value) = agent.get(property) else { continue };
            let list = person.entry(property).or_insert_with(|| json!([])).as_array_mut().expect("arrays only");
            if !list.contains(value) {
                list.push(value.clone());
            }
        }
    }
    Value::Object(person)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_lists_each_distinct_value_once() {
        let a = json!({"name": "Ann", "mbox": "mailto:ann@example.com"});
        let b = json!({"name": "Ann B.", "mbox": "mailto:ann@example.com"});
        let person = person([&a, &b, &a].into_iter());
        assert_eq!(
            person,
            json!({"objectType": "Person", "name": ["Ann", "Ann B."], "mbox": ["mailto:ann@example.com"]})
        );
    }
}

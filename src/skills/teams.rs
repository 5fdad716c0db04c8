//! Team membership named by statements: a Group actor's members are in that Group, and the
//! actor of a statement with `context.team` is in that team. A team is named by the
//! Group's `name`, else its identifier. Recorded for people whose team nobody imported
//! (`fluency people import` wins). Called by the skills runner on each batch.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::storage::{PersonRecord, Store, StoreResult};
use crate::xapi::agent::ifi_key;
use crate::xapi::time::Micros;

fn team_name(group: &Value) -> Option<String> {
    group.get("name").and_then(Value::as_str).map(str::to_string).or_else(|| ifi_key(group))
}

/// (person IFI key, team) pairs the statement names.
pub fn memberships(statement: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let actor = statement.get("actor");
    if let Some(group) = actor.filter(|a| a.get("objectType").and_then(Value::as_str) == Some("Group")) {
        if let Some(team) = team_name(group) {
            for member in group.get("member").and_then(Value::as_array).into_iter().flatten() {
                found.extend(ifi_key(member).map(|person| (person, team.clone())));
            }
        }
    } else if let Some(team) = statement.get("context").and_then(|c| c.get("team")).and_then(team_name) {
        found.extend(actor.and_then(ifi_key).map(|person| (person, team)));
    }
    found
}

/// Records the teams of the people the statements name who have none yet.
pub async fn record(store: &dyn Store, named: Vec<(String, String)>, now: Micros) -> StoreResult<()> {
    if named.is_empty() {
        return Ok(());
    }
    // The latest statement's team wins within a batch.
    let named: BTreeMap<String, String> = named.into_iter().collect();
    let keys: Vec<String> = named.keys().cloned().collect();
    let known = store.find_people(&keys).await?;
    let fresh: Vec<PersonRecord> = named
        .into_iter()
        .filter(|(person, _)| !known.iter().any(|k| &k.person == person && k.team.is_some()))
        .map(|(person, team)| PersonRecord { person, team: Some(team), updated: now, ..Default::default() })
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    store.upsert_people(fresh).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn group_actors_and_context_teams_name_memberships() {
        let group = json!({"actor": {"objectType": "Group", "name": "Tier 1", "member": [
            {"mbox": "mailto:a@example.com"}, {"mbox": "mailto:b@example.com"}]}});
        let context = json!({"actor": {"mbox": "mailto:c@example.com"},
            "context": {"team": {"objectType": "Group", "account": {"homePage": "https://hr.example", "name": "t2"}}}});
        let neither = json!({"actor": {"mbox": "mailto:d@example.com"}});

        assert_eq!(
            memberships(&group),
            vec![
                ("mbox:mailto:a@example.com".into(), "Tier 1".into()),
                ("mbox:mailto:b@example.com".into(), "Tier 1".into())
            ]
        );
        let team_key = ifi_key(&context["context"]["team"]).unwrap();
        assert_eq!(
            memberships(&context),
            vec![("mbox:mailto:c@example.com".into(), team_key)],
            "a Group without a name"
        );
        assert!(memberships(&neither).is_empty());
    }
}

//! Statement export, optionally pseudonymised: every stored statement as one JSON line,
//! oldest first. Pseudonymised, each agent's identifier becomes an account on
//! `urn:fluency:pseudonym` named by the keyed hash of its IFI key (the same person, the same
//! pseudonym, in every export from this data directory), and names are dropped: analysts
//! can follow people across statements without knowing who they are.

use std::io::Write;

use serde_json::{json, Value};

use super::pseudonym::Pseudonyms;
use crate::storage::Store;
use crate::xapi::agent::{ifi_key, IFI_PROPERTIES};

/// The home page of pseudonymous accounts.
pub const PSEUDONYM_HOME: &str = "urn:fluency:pseudonym";
const PAGE: usize = 1_000;

/// Replaces the identifier and drops the name of an Agent or Group (and its members).
fn pseudonymise_agent(agent: &mut Value, pseudonyms: &Pseudonyms) {
    let Some(object) = agent.as_object_mut() else { return };
    object.remove("name");
    if let Some(key) = ifi_key(&Value::Object(object.clone())) {
        for property in IFI_PROPERTIES {
            object.remove(property);
        }
        object.insert("account".into(), json!({"homePage": PSEUDONYM_HOME, "name": pseudonyms.export_name(&key)}));
    }
    if let Some(members) = object.get_mut("member").and_then(Value::as_array_mut) {
        for member in members {
            pseudonymise_agent(member, pseudonyms);
        }
    }
}

fn is_agent(value: &Value) -> bool {
    matches!(value.get("objectType").and_then(Value::as_str), None | Some("Agent") | Some("Group"))
        && (IFI_PROPERTIES.iter().any(|p| value.get(*p).is_some()) || value.get("member").is_some())
}

/// The statement with every agent in it pseudonymised: actor, authority, an Agent or Group
/// object, instructor, team, and the same inside a SubStatement.
pub fn pseudonymise(statement: &mut Value, pseudonyms: &Pseudonyms) {
    for pointer in ["/actor", "/authority", "/context/instructor", "/context/team"] {
        if let Some(agent) = statement.pointer_mut(pointer) {
            pseudonymise_agent(agent, pseudonyms);
        }
    }
    if let Some(object) = statement.get_mut("object") {
        match object.get("objectType").and_then(Value::as_str) {
            Some("SubStatement") => pseudonymise(object, pseudonyms),
            _ if is_agent(object) => pseudonymise_agent(object, pseudonyms),
            _ => {}
        }
    }
}

/// Writes every statement (voided ones too, as stored) to `out`, one per line; returns how
/// many.
pub async fn export(store: &dyn Store, pseudonyms: Option<&Pseudonyms>, out: &mut dyn Write) -> anyhow::Result<u64> {
    let (mut after, mut written) = (0, 0);
    loop {
        let page = store.statements_stored_after(after, PAGE).await?;
        let Some(last) = page.last().map(|s| s.stored) else { return Ok(written) };
        for stored in &page {
            match pseudonyms {
                None => writeln!(out, "{}", stored.json)?,
                Some(pseudonyms) => {
                    let mut value: Value = serde_json::from_str(&stored.json)?;
                    pseudonymise(&mut value, pseudonyms);
                    writeln!(out, "{value}")?;
                }
            }
            written += 1;
        }
        after = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_is_replaced_by_the_same_pseudonym_and_names_are_dropped() {
        let pseudonyms = Pseudonyms::with_key([3; 32]);
        let ada = json!({"mbox": "mailto:ada@example.com", "name": "Ada"});
        let mut statement = json!({
            "actor": {"objectType": "Group", "name": "Team", "member": [ada, {"account": {"homePage": "https://x", "name": "bo"}}]},
            "verb": {"id": "http://x/v"},
            "object": {"objectType": "SubStatement", "actor": ada, "verb": {"id": "http://x/v"},
                       "object": {"objectType": "Agent", "mbox": "mailto:ada@example.com"}},
            "context": {"instructor": ada, "team": {"objectType": "Group", "member": [ada]}},
            "authority": {"objectType": "Agent", "account": {"homePage": "http://lrs", "name": "lms"}},
        });

        pseudonymise(&mut statement, &pseudonyms);

        let text = statement.to_string();
        assert!(!text.contains("ada@example.com") && !text.contains("Ada"), "{text}");
        let pseudonym = pseudonyms.export_name("mbox:mailto:ada@example.com");
        assert_ne!(pseudonym, pseudonyms.hash("mbox:mailto:ada@example.com"), "not the tombstone");
        for pointer in
            ["/actor/member/0", "/object/actor", "/object/object", "/context/instructor", "/context/team/member/0"]
        {
            assert_eq!(statement.pointer(pointer).unwrap()["account"]["name"], pseudonym, "{pointer}");
        }
        assert_ne!(statement["actor"]["member"][1]["account"]["name"], pseudonym);
        assert_eq!(statement["actor"]["member"][1]["account"]["homePage"], PSEUDONYM_HOME);
        assert_eq!(statement["verb"]["id"], "http://x/v", "the rest is untouched");
    }
}

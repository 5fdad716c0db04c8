//! The erased: keyed hashes (tombstones) of the identifiers of everyone erased, checked
//! against every incoming statement so that an LMS replaying an erased person's statements
//! does not bring them back. Refused (403 `erased_person`) or, when configured, stored and
//! flagged in the log and the metrics. Costs nothing until someone is erased.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::Value;

use super::pseudonym::Pseudonyms;
use crate::error::{ApiError, ErrorCode};
use crate::storage::{IndexTerm, Store, StoreResult};
use crate::xapi::terms::index_terms;

/// What happens to a statement naming an erased person.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayPolicy {
    /// Refused with 403; the batch is not stored.
    #[default]
    Refuse,
    /// Stored, and counted and logged as a replay for an administrator to look at.
    Flag,
}

pub struct ErasedIdentities {
    pseudonyms: Pseudonyms,
    policy: ReplayPolicy,
    hashes: RwLock<HashSet<String>>,
    flagged: AtomicU64,
}

impl ErasedIdentities {
    pub async fn load(store: &dyn Store, pseudonyms: Pseudonyms, policy: ReplayPolicy) -> StoreResult<Arc<Self>> {
        let hashes = store.tombstones().await?.into_iter().map(|t| t.hash).collect();
        Ok(Arc::new(Self { pseudonyms, policy, hashes: RwLock::new(hashes), flagged: AtomicU64::new(0) }))
    }

    pub fn pseudonyms(&self) -> &Pseudonyms {
        &self.pseudonyms
    }

    /// The tombstones of an erasure that has begun: its person's statements stop coming in.
    pub fn add(&self, hashes: &[String]) {
        self.hashes.write().expect("tombstone lock").extend(hashes.iter().cloned());
    }

    /// Statements accepted although they name an erased person (policy `flag`).
    pub fn flagged(&self) -> u64 {
        self.flagged.load(Relaxed)
    }

    fn names_erased(&self, statement: &Value, hashes: &HashSet<String>) -> bool {
        index_terms(statement).iter().any(|term| match term {
            IndexTerm::Agent(key) | IndexTerm::RelatedAgent(key) | IndexTerm::Authority(key) => {
                hashes.contains(&self.pseudonyms.hash(key))
            }
            _ => false,
        })
    }

    /// Refuses (or flags) statements naming an erased person.
    pub fn check(&self, statements: &[Value]) -> Result<(), ApiError> {
        let hashes = self.hashes.read().expect("tombstone lock");
        if hashes.is_empty() {
            return Ok(());
        }
        let Some(index) = statements.iter().position(|s| self.names_erased(s, &hashes)) else { return Ok(()) };
        match self.policy {
            ReplayPolicy::Refuse => Err(ApiError::new(
                ErrorCode::ErasedPerson,
                format!(
                    "statements[{index}]: names a person whose data was erased (right to be forgotten); \
                     their statements are refused"
                ),
            )),
            ReplayPolicy::Flag => {
                self.flagged.fetch_add(1, Relaxed);
                tracing::warn!(
                    statement = index,
                    "Stored a statement naming an erased person (erased_replays = flag)."
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn erased(policy: ReplayPolicy, keys: &[&str]) -> ErasedIdentities {
        let pseudonyms = Pseudonyms::with_key([1; 32]);
        let hashes = keys.iter().map(|k| pseudonyms.hash(k)).collect();
        ErasedIdentities { pseudonyms, policy, hashes: RwLock::new(hashes), flagged: AtomicU64::new(0) }
    }

    fn statement(actor: &str, instructor: &str) -> Value {
        json!({"actor": {"mbox": actor}, "verb": {"id": "http://x/v"}, "object": {"id": "http://x/a"},
               "context": {"instructor": {"mbox": instructor}}})
    }

    #[test]
    fn a_statement_naming_an_erased_person_anywhere_is_refused_with_its_index() {
        let guard = erased(ReplayPolicy::Refuse, &["mbox:mailto:gone@x.org"]);
        let fine = statement("mailto:a@x.org", "mailto:b@x.org");
        assert!(guard.check(std::slice::from_ref(&fine)).is_ok());
        let error = guard.check(&[fine, statement("mailto:a@x.org", "mailto:gone@x.org")]).unwrap_err();
        assert_eq!(error.code, ErrorCode::ErasedPerson);
        assert!(error.message.starts_with("statements[1]"), "{}", error.message);
    }

    #[test]
    fn flagging_stores_and_counts() {
        let guard = erased(ReplayPolicy::Flag, &["mbox:mailto:gone@x.org"]);
        assert!(guard.check(&[statement("mailto:gone@x.org", "mailto:b@x.org")]).is_ok());
        assert_eq!(guard.flagged(), 1);
    }
}

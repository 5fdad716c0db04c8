//! The audit log's records: administrative actions, each chained to the one before by a
//! SHA-256 hash, so that changing, removing or reordering an entry breaks the chain.
//! Backends assign the sequence number and compute the hash with `chain_hash` in the same
//! transaction as the append. Backend-neutral; `Store` has the operations.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::xapi::time::Micros;

/// What happened, as the caller records it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditDraft {
    pub at: Micros,
    /// Who did it: a credential key, `cli`, or an account like `fluency:skills`.
    pub actor: String,
    /// What, e.g. `rule.put`, `credential.revoke`, `skills.framework.put`.
    pub action: String,
    /// What it was done to (a rule name, a key, a file).
    pub target: String,
    pub details: Value,
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// 1, 2, 3... in append order.
    pub sequence: u64,
    #[serde(flatten)]
    pub draft: AuditDraft,
    /// `hash` of the entry before (64 zeros for the first).
    pub previous: String,
    /// `chain_hash(previous, sequence, draft)`.
    pub hash: String,
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 over the previous hash, the sequence number and the draft's fields, each
/// length-prefixed so no two different entries hash alike.
pub fn chain_hash(previous: &str, sequence: u64, draft: &AuditDraft) -> String {
    let mut hasher = Sha256::new();
    let details = draft.details.to_string();
    for field in
        [previous, &sequence.to_string(), &draft.at.to_string(), &draft.actor, &draft.action, &draft.target, &details]
    {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The first entry (by sequence) whose link or hash does not hold, if any.
pub fn first_broken(entries: &[AuditEntry], previous_hash: &str, previous_sequence: u64) -> Option<u64> {
    let (mut previous, mut sequence) = (previous_hash.to_string(), previous_sequence);
    for entry in entries {
        sequence += 1;
        let intact = entry.sequence == sequence
            && entry.previous == previous
            && entry.hash == chain_hash(&previous, entry.sequence, &entry.draft);
        if !intact {
            return Some(sequence);
        }
        previous = entry.hash.clone();
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chain(count: u64) -> Vec<AuditEntry> {
        let mut previous = GENESIS.to_string();
        (1..=count)
            .map(|sequence| {
                let draft = AuditDraft {
                    at: sequence as i64,
                    actor: "admin".into(),
                    action: "rule.put".into(),
                    target: format!("rule-{sequence}"),
                    details: json!({"n": sequence}),
                };
                let hash = chain_hash(&previous, sequence, &draft);
                let entry = AuditEntry { sequence, draft, previous: previous.clone(), hash: hash.clone() };
                previous = hash;
                entry
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_any_change_is_found_where_it_is() {
        let intact = chain(5);
        assert_eq!(first_broken(&intact, GENESIS, 0), None);

        let mut edited = intact.clone();
        edited[2].draft.target = "something else".into();
        let mut removed = intact.clone();
        removed.remove(1);
        let mut swapped = intact.clone();
        swapped.swap(3, 4);
        let mut rehashed = intact.clone();
        rehashed[2].draft.actor = "intruder".into();
        rehashed[2].hash = chain_hash(&rehashed[2].previous, 3, &rehashed[2].draft);

        assert_eq!(first_broken(&edited, GENESIS, 0), Some(3));
        assert_eq!(first_broken(&removed, GENESIS, 0), Some(2));
        assert_eq!(first_broken(&swapped, GENESIS, 0), Some(4));
        assert_eq!(first_broken(&rehashed, GENESIS, 0), Some(4), "a recomputed hash breaks the next link");
    }
}

//! Recording administrative actions in the audit log and verifying its chain. The store
//! chains each entry to the one before (`storage::audit`); `verify` walks the whole log and
//! names the first entry whose link or hash does not hold. Called by the admin API and the
//! CLI after an action succeeded.

use serde::Serialize;
use serde_json::Value;

use crate::storage::audit::{first_broken, GENESIS};
use crate::storage::{AuditDraft, AuditEntry, Store, StoreResult};
use crate::xapi::time::now_micros;

/// Entries read per page while verifying.
const PAGE: usize = 1000;

/// Appends `action` on `target` by `actor` (a credential key, or `cli`).
pub async fn record(
    store: &dyn Store,
    actor: &str,
    action: &str,
    target: &str,
    details: Value,
) -> StoreResult<AuditEntry> {
    let draft = AuditDraft {
        at: now_micros(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        details,
    };
    store.append_audit(draft).await
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub entries: u64,
    pub valid: bool,
    /// The sequence number of the first entry that was changed, removed or moved.
    pub first_broken: Option<u64>,
    /// The last entry's hash: keep it elsewhere to detect a log cut short or replaced whole.
    pub head: String,
}

/// Checks every link of the chain, oldest first.
pub async fn verify(store: &dyn Store) -> StoreResult<Verification> {
    let (mut previous, mut sequence, mut entries) = (GENESIS.to_string(), 0u64, 0u64);
    loop {
        let page = store.audit_entries(sequence, PAGE).await?;
        if let Some(broken) = first_broken(&page, &previous, sequence) {
            return Ok(Verification {
                entries: entries + page.len() as u64,
                valid: false,
                first_broken: Some(broken),
                head: previous,
            });
        }
        let Some(last) = page.last() else {
            return Ok(Verification { entries, valid: true, first_broken: None, head: previous });
        };
        (previous, sequence) = (last.hash.clone(), last.sequence);
        entries += page.len() as u64;
    }
}

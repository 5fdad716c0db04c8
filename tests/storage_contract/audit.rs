//! Contract cases for the audit log: appends get consecutive sequence numbers and a chain
//! of hashes (`storage::audit::chain_hash`), even when concurrent, and survive reopening.

use fluency::storage::audit::{chain_hash, first_broken, GENESIS};
use fluency::storage::AuditDraft;
use serde_json::json;

use super::support::Harness;

fn draft(target: &str) -> AuditDraft {
    AuditDraft {
        at: 7,
        actor: "admin".into(),
        action: "rule.put".into(),
        target: target.into(),
        details: json!({"v": 1}),
    }
}

pub async fn audit_entries_are_numbered_chained_and_kept_across_concurrent_appends_and_reopening(h: Harness) {
    // Arrange and Act
    let first = h.store.append_audit(draft("a")).await.unwrap();
    let appends = (0..8).map(|i| {
        let store = h.store.clone();
        tokio::spawn(async move { store.append_audit(draft(&format!("r{i}"))).await.unwrap() })
    });
    futures_util::future::join_all(appends).await;
    let h = h.reopen().await;
    let entries = h.store.audit_entries(0, 100).await.unwrap();

    // Assert
    assert_eq!((first.sequence, first.previous.as_str()), (1, GENESIS));
    assert_eq!(first.hash, chain_hash(GENESIS, 1, &draft("a")));
    assert_eq!(entries.len(), 9);
    assert_eq!(first_broken(&entries, GENESIS, 0), None, "one unbroken chain");
    assert_eq!(h.store.audit_entries(7, 100).await.unwrap().iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![8, 9]);
    assert_eq!(h.store.audit_entries(0, 2).await.unwrap().len(), 2);
}

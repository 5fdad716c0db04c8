//! The outbox contract: the durable queue of intents awaiting delivery, as the worker sees
//! it. The store implements `Outbox` (one table, each method atomic); `MemoryOutbox` is the
//! reference implementation for tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::rules::intent::{Intent, IntentRecord};

/// An entry's id: its intent's idempotency key, unique in the outbox.
pub type EntryId = String;

/// One intent awaiting delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub id: EntryId,
    pub record: IntentRecord,
    /// Target name for `notify` and `assign` intents (see `route`); `None` for statements.
    pub target: Option<String>,
    /// Attempts made so far (0 for a new entry).
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// When the intent was queued: the `timestamp` of webhook events, the same on retries.
    pub created_at: DateTime<Utc>,
}

/// The target an intent is delivered to: a notification's own target, the configured
/// `assign_target` for assignments, none for statements (they are stored, not sent).
pub fn route(intent: &Intent, assign_target: Option<&str>) -> Option<String> {
    match intent {
        Intent::Notify { target, .. } => Some(target.clone()),
        Intent::Assign { .. } => assign_target.map(str::to_string),
        Intent::EmitStatement { .. } | Intent::Award { .. } => None,
    }
}

/// What the worker needs from the queue. Every method is atomic; the three updates may be
/// called again for the same entry after a crash and must then simply overwrite.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Pending entries with `next_attempt_at <= now`, earliest first, at most `limit`.
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> anyhow::Result<Vec<OutboxEntry>>;
    /// The entry was delivered; it is never due again.
    async fn delivered(&self, id: &str, attempts: u32) -> anyhow::Result<()>;
    /// The attempt failed but may succeed later: due again at `next_attempt_at`.
    async fn retry_later(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        last_error: &str,
    ) -> anyhow::Result<()>;
    /// Given up: kept with its last error for an operator to inspect or replay, never due again.
    async fn dead_letter(&self, id: &str, attempts: u32, last_error: &str) -> anyhow::Result<()>;
}

/// Where an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryStatus {
    Pending,
    Delivered,
    DeadLettered,
}

/// An entry as a `MemoryOutbox` keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntry {
    pub entry: OutboxEntry,
    pub status: EntryStatus,
    pub last_error: Option<String>,
}

/// An outbox in memory: for tests, and the model every store's outbox must behave like.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    entries: Mutex<BTreeMap<EntryId, StoredEntry>>,
}

impl MemoryOutbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `record` for `target`, due at `now`; returns its id.
    pub fn push(&self, record: IntentRecord, target: Option<&str>, now: DateTime<Utc>) -> EntryId {
        let mut entries = self.entries.lock().expect("outbox lock");
        let id = record.key.clone();
        let entry = OutboxEntry {
            id: id.clone(),
            record,
            target: target.map(str::to_string),
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        };
        entries.insert(id.clone(), StoredEntry { entry, status: EntryStatus::Pending, last_error: None });
        id
    }

    pub fn get(&self, id: &str) -> Option<StoredEntry> {
        self.entries.lock().expect("outbox lock").get(id).cloned()
    }

    pub fn all(&self) -> Vec<StoredEntry> {
        self.entries.lock().expect("outbox lock").values().cloned().collect()
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut StoredEntry)) -> anyhow::Result<()> {
        let mut entries = self.entries.lock().expect("outbox lock");
        let stored = entries.get_mut(id).ok_or_else(|| anyhow::anyhow!("no outbox entry {id}"))?;
        change(stored);
        Ok(())
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> anyhow::Result<Vec<OutboxEntry>> {
        let entries = self.entries.lock().expect("outbox lock");
        let mut due: Vec<OutboxEntry> = entries
            .values()
            .filter(|s| s.status == EntryStatus::Pending && s.entry.next_attempt_at <= now)
            .map(|s| s.entry.clone())
            .collect();
        due.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        due.truncate(limit);
        Ok(due)
    }

    async fn delivered(&self, id: &str, attempts: u32) -> anyhow::Result<()> {
        self.update(id, |s| {
            s.entry.attempts = attempts;
            s.status = EntryStatus::Delivered;
        })
    }

    async fn retry_later(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        last_error: &str,
    ) -> anyhow::Result<()> {
        self.update(id, |s| {
            s.entry.attempts = attempts;
            s.entry.next_attempt_at = next_attempt_at;
            s.last_error = Some(last_error.to_string());
        })
    }

    async fn dead_letter(&self, id: &str, attempts: u32, last_error: &str) -> anyhow::Result<()> {
        self.update(id, |s| {
            s.entry.attempts = attempts;
            s.status = EntryStatus::DeadLettered;
            s.last_error = Some(last_error.to_string());
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;
    use uuid::Uuid;

    fn record(index: usize) -> IntentRecord {
        IntentRecord {
            key: format!("key-{index}"),
            rule: "r".into(),
            rule_version: "1".into(),
            trigger: Uuid::nil(),
            index,
            intent: Intent::EmitStatement { statement: json!({}) },
        }
    }

    #[tokio::test]
    async fn due_entries_come_earliest_first_and_leave_once_settled() {
        let outbox = MemoryOutbox::new();
        let now = Utc::now();
        let first = outbox.push(record(0), None, now);
        let second = outbox.push(record(1), None, now);
        let third = outbox.push(record(2), None, now);

        outbox.retry_later(&first, 1, now + Duration::seconds(10), "HTTP 503").await.unwrap();
        outbox.delivered(&second, 1).await.unwrap();

        let due: Vec<EntryId> = outbox.due(now, 10).await.unwrap().iter().map(|e| e.id.clone()).collect();
        assert_eq!(due, std::slice::from_ref(&third));
        let later: Vec<EntryId> =
            outbox.due(now + Duration::seconds(10), 10).await.unwrap().iter().map(|e| e.id.clone()).collect();
        assert_eq!(later, [third.clone(), first]);
        assert_eq!(outbox.due(now, 0).await.unwrap(), []);
        outbox.dead_letter(&third, 1, "HTTP 400").await.unwrap();
        let stored = outbox.get(&third).unwrap();
        assert_eq!((stored.status, stored.last_error.as_deref()), (EntryStatus::DeadLettered, Some("HTTP 400")));
    }

    #[test]
    fn records_survive_a_json_round_trip_as_a_store_keeps_them() {
        let message = crate::rules::NotifyMessage::Blocks { text: "t".into(), blocks: json!([{"type": "divider"}]) };
        let records = [
            record(0),
            IntentRecord { intent: Intent::Notify { target: "slack".into(), message }, ..record(1) },
            IntentRecord {
                intent: Intent::Assign {
                    actor: json!({"mbox": "mailto:a@example.com"}),
                    actor_id: "mbox::mailto:a@example.com".into(),
                    activity: "https://x".into(),
                    reason: "r".into(),
                },
                ..record(2)
            },
        ];

        for record in records {
            let stored = serde_json::to_string(&record).unwrap();
            assert_eq!(serde_json::from_str::<IntentRecord>(&stored).unwrap(), record, "{stored}");
        }
    }

    #[test]
    fn intents_are_routed_to_their_target() {
        let notify =
            Intent::Notify { target: "slack".into(), message: crate::rules::NotifyMessage::Text { text: "x".into() } };
        let assign =
            Intent::Assign { actor: json!({}), actor_id: "a".into(), activity: "https://x".into(), reason: "".into() };

        assert_eq!(route(&notify, Some("lms")).as_deref(), Some("slack"));
        assert_eq!(route(&assign, Some("lms")).as_deref(), Some("lms"));
        assert_eq!(route(&assign, None), None);
        assert_eq!(route(&Intent::EmitStatement { statement: json!({}) }, Some("lms")), None);
    }
}

//! What the delivery worker needs from the running LRS: the store's outbox seen as a
//! `delivery::Outbox`, and a `StatementEmitter` writing rule-emitted statements through
//! the ordinary write path, with the emitting rule as their authority.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::auth::{Principal, Scope};
use crate::delivery::{EmitError, Outbox, OutboxEntry, StatementEmitter};
use crate::rules::statement::{rule_account_name, EMITTED_BY};
use crate::rules::IntentRecord;
use crate::service::StatementService;
use crate::storage::{OutboxItem, OutboxUpdate, Store};
use crate::xapi::time::{now_micros, Micros};
use crate::xapi::XapiVersion;

pub struct StoreOutbox {
    store: Arc<dyn Store>,
}

impl StoreOutbox {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    async fn update(&self, key: &str, update: OutboxUpdate) -> anyhow::Result<()> {
        // False means the item is no longer pending (re-driven or settled meanwhile): nothing to do.
        self.store.update_outbox(key, update).await?;
        Ok(())
    }
}

fn time(micros: Micros) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

#[async_trait]
impl Outbox for StoreOutbox {
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> anyhow::Result<Vec<OutboxEntry>> {
        let items = self.store.outbox_due(now.timestamp_micros(), limit).await?;
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            match serde_json::from_value::<IntentRecord>(item.intent.clone()) {
                Ok(record) => entries.push(entry(item, record)),
                Err(error) => {
                    let error = format!("the queued intent cannot be read: {error}");
                    let update = OutboxUpdate::DeadLetter { attempts: item.attempts, error, at: now_micros() };
                    self.update(&item.key, update).await?;
                }
            }
        }
        Ok(entries)
    }

    async fn delivered(&self, id: &str, attempts: u32) -> anyhow::Result<()> {
        self.update(id, OutboxUpdate::Delivered { attempts, at: now_micros() }).await
    }

    async fn retry_later(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        last_error: &str,
    ) -> anyhow::Result<()> {
        let update = OutboxUpdate::RetryLater {
            attempts,
            next_attempt: next_attempt_at.timestamp_micros(),
            error: last_error.to_string(),
            at: now_micros(),
        };
        self.update(id, update).await
    }

    async fn dead_letter(&self, id: &str, attempts: u32, last_error: &str) -> anyhow::Result<()> {
        let update = OutboxUpdate::DeadLetter { attempts, error: last_error.to_string(), at: now_micros() };
        self.update(id, update).await
    }
}

fn entry(item: OutboxItem, record: IntentRecord) -> OutboxEntry {
    OutboxEntry {
        id: item.key,
        record,
        target: item.target,
        attempts: item.attempts,
        next_attempt_at: time(item.next_attempt),
        created_at: time(item.created),
    }
}

/// Stores emitted statements as xAPI 2.0.0, with the authority
/// `{"account": {"homePage": <public_url>, "name": "rule:<rule>"}}`.
pub struct LrsEmitter {
    statements: Arc<StatementService>,
    public_url: String,
}

impl LrsEmitter {
    pub fn new(statements: Arc<StatementService>, public_url: String) -> Self {
        Self { statements, public_url }
    }

    fn principal(&self, rule: &str) -> Principal {
        Principal::for_account(&self.public_url, &rule_account_name(rule), vec![Scope::StatementsWrite])
    }
}

#[async_trait]
impl StatementEmitter for LrsEmitter {
    async fn emit(&self, statement: Value) -> Result<(), EmitError> {
        // The marker our own intent carries names the rule whose account stores it.
        let rule = statement["context"]["extensions"][EMITTED_BY].as_str().unwrap_or("unknown").to_string();
        let principal = self.principal(&rule);
        match self.statements.store_statements(&principal, XapiVersion::V2_0_0, statement, None, Vec::new()).await {
            Ok(_) => Ok(()),
            Err(error) if error.status() >= 500 => Err(EmitError::Retryable(error.message)),
            Err(error) => Err(EmitError::Permanent(format!("{} ({})", error.message, error.code.wire_name()))),
        }
    }
}

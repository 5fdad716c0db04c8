//! Erasure (the right to be forgotten): removes every trace of one person, by every
//! identifier they are known by, and proves it by scanning the store's files. The order:
//!
//! 1. record the job and the tombstones (from then on, their statements are refused and
//!    no runner infers from or nudges them);
//! 2. remove their statements in short steps (ingestion keeps going in between);
//! 3. wait for the rules and skills runners to pass what was stored meanwhile, then sweep
//!    again and remove their other records;
//! 4. delete attachment files no other statement carries, start skills inference over;
//! 5. mark the job as purging (the record then holds no identifier), purge the files,
//!    scan them for the person's identifiers and names, rewrite the store if any remain,
//!    and finish.
//!
//! Every step can run again, so a job recorded and not finished (a crash, kill -9) is simply
//! run again when the server starts (`resume_pending`).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::consent::ConsentRegistry;
use super::erased::ErasedIdentities;
use super::subject::Subject;
use crate::error::ApiError;
use crate::service::StatementService;
use crate::storage::{ErasedRecords, ErasureJob, Store};
use crate::xapi::time::now_micros;

/// Statements removed per transaction: short enough that ingestion hardly notices.
const STATEMENTS_PER_STEP: usize = 500;
/// How long the erasure waits for the runners to pass what was stored while it ran.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
const SETTLE_POLL: Duration = Duration::from_millis(50);
/// A purge held back by readers is tried this many times, this far apart.
const PURGE_ATTEMPTS: u32 = 10;
const PURGE_RETRY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ErasureReport {
    pub id: String,
    /// The person as the audit log names them (a keyed hash).
    pub person: String,
    pub statements: u64,
    /// Rule runs, outbox entries and interventions their statements triggered.
    pub triggered: u64,
    pub attachment_files: u64,
    pub records: ErasedRecords,
    /// The whole store was rewritten because a scan still found an identifier.
    pub rewritten: bool,
    /// A scan of the store's files after the purge found none of the identifiers or names;
    /// `None` when the job resumed past the point where it still knew them.
    pub verified: Option<bool>,
    /// The identifiers or names the final scan still found (elsewhere than in the person's
    /// own data, e.g. a name in another person's free-text answer).
    pub still_found: Vec<String>,
    /// The job was recorded earlier and completed now.
    pub resumed: bool,
}

/// Who else must know that a person is being erased.
pub struct Eraser {
    pub statements: Arc<StatementService>,
    pub consent: Arc<ConsentRegistry>,
    pub erased: Arc<ErasedIdentities>,
    /// Asks skills inference to start over (it then leaves the erased person out).
    pub restart_inference: Option<Box<dyn Fn() + Send + Sync>>,
    /// The rules runner is running: wait for it to pass what was stored meanwhile.
    pub rules_running: bool,
}

impl Eraser {
    fn store(&self) -> &Arc<dyn Store> {
        self.statements.store()
    }

    /// Erases the person named by `subject`; `requested_by` is a credential key or `cli`.
    pub async fn erase(&self, subject: Subject, requested_by: &str) -> Result<ErasureReport, ApiError> {
        let pseudonyms = self.erased.pseudonyms();
        let names = self.names(&subject.keys).await?;
        let job = ErasureJob {
            id: uuid::Uuid::new_v4().to_string(),
            names,
            tombstones: subject.keys.iter().map(|key| pseudonyms.hash(key)).collect(),
            keys: subject.keys,
            needles: subject.needles,
            requested: now_micros(),
            requested_by: requested_by.to_string(),
            purging: false,
        };
        self.store().begin_erasure(job.clone()).await?;
        self.run(job, false).await
    }

    /// Completes every erasure recorded and not finished (called at start).
    pub async fn resume_pending(&self) -> Result<Vec<ErasureReport>, ApiError> {
        let mut reports = Vec::new();
        for job in self.store().pending_erasures().await? {
            tracing::info!(job = %job.id, "Resuming an interrupted erasure.");
            reports.push(self.run(job, true).await?);
        }
        Ok(reports)
    }

    async fn run(&self, job: ErasureJob, resumed: bool) -> Result<ErasureReport, ApiError> {
        let label = match job.tombstones.first() {
            Some(hash) => format!("person:{}", &hash[..32.min(hash.len())]),
            None => format!("erasure:{}", job.id),
        };
        let mut report = ErasureReport { id: job.id.clone(), person: label, resumed, ..Default::default() };
        self.erased.add(&job.tombstones);
        let needles: Vec<String> = job.needles.iter().chain(&job.names).cloned().collect();
        if !job.purging {
            self.consent.exclude(&job.keys);
            let mut attachments = self.erase_statements(&job, &mut report).await?;
            self.settle().await?;
            attachments.extend(self.erase_statements(&job, &mut report).await?);
            report.records = self.store().erase_records(&job).await?;
            // A statement that passed the tombstone check just before the erasure began may
            // land only now.
            attachments.extend(self.erase_statements(&job, &mut report).await?);
            attachments.sort();
            attachments.dedup();
            report.attachment_files = self.statements.remove_unused_attachments(&attachments).await?;
            if let Some(restart) = &self.restart_inference {
                restart();
            }
            // From here the record names nobody: the purge removes the old copies of it too.
            let purging =
                ErasureJob { keys: Vec::new(), needles: Vec::new(), names: Vec::new(), purging: true, ..job.clone() };
            self.store().begin_erasure(purging).await?;
        }
        self.purge(&needles, &mut report).await?;
        self.store().finish_erasure(&job.id).await?;
        self.purge_with_retries(false).await?;
        let details = json!({
            "statements": report.statements, "triggered": report.triggered,
            "attachment_files": report.attachment_files, "records": report.records,
            "rewritten": report.rewritten, "verified": report.verified, "resumed": resumed,
        });
        super::record(&**self.store(), &job.requested_by, "people.erase", &report.person, details).await?;
        tracing::info!(job = %job.id, statements = report.statements, verified = ?report.verified, "Erased a person.");
        Ok(report)
    }

    /// The names the person was known by (in statements and in the people records): the
    /// final scan looks for them too.
    async fn names(&self, keys: &[String]) -> Result<Vec<String>, ApiError> {
        let mut names: Vec<String> = Vec::new();
        for agent in self.store().find_agents(keys).await? {
            if let Some(name) = agent.get("name").and_then(Value::as_str) {
                names.push(name.to_string());
            }
        }
        for person in self.store().find_people(keys).await? {
            names.extend(person.name);
        }
        names.retain(|name| !name.trim().is_empty());
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn erase_statements(&self, job: &ErasureJob, report: &mut ErasureReport) -> Result<Vec<String>, ApiError> {
        let mut attachments = Vec::new();
        loop {
            let step = self.store().erase_statements(&job.keys, STATEMENTS_PER_STEP).await?;
            report.statements += step.statements;
            report.triggered += step.triggered;
            attachments.extend(step.attachments);
            if !step.more {
                return Ok(attachments);
            }
        }
    }

    /// Waits until the rules runner has evaluated everything stored so far (a batch it read
    /// before the erasure began commits its runs and intents by then), or `SETTLE_TIMEOUT`.
    async fn settle(&self) -> Result<(), ApiError> {
        if !self.rules_running {
            return Ok(());
        }
        let through = *self.statements.watch_committed().borrow();
        let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if self.store().rules_evaluated_through().await?.is_some_and(|done| done >= through) {
                return Ok(());
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
        tracing::warn!("The rules runner did not catch up during an erasure; sweeping anyway.");
        Ok(())
    }

    /// Purges freed space, then scans the store's files for the person; rewrites the store
    /// when something is still found.
    async fn purge(&self, needles: &[String], report: &mut ErasureReport) -> Result<(), ApiError> {
        self.purge_with_retries(false).await?;
        if needles.is_empty() {
            return Ok(());
        }
        let mut found = self.scan(needles).await?;
        if !found.is_empty() {
            tracing::info!(remaining = found.len(), "Erased data left copies in free space; rewriting the store.");
            self.purge_with_retries(true).await?;
            report.rewritten = true;
            found = self.scan(needles).await?;
        }
        report.verified = Some(found.is_empty());
        report.still_found = found;
        Ok(())
    }

    /// Long reads can hold the journal for a while: a purge they held back is tried again.
    async fn purge_with_retries(&self, rewrite: bool) -> Result<(), ApiError> {
        let mut attempt = 1;
        loop {
            match self.store().purge_deleted(rewrite).await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < PURGE_ATTEMPTS => {
                    tracing::warn!(error = %error, attempt, "Purging after an erasure failed; trying again.");
                    tokio::time::sleep(PURGE_RETRY).await;
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    async fn scan(&self, needles: &[String]) -> Result<Vec<String>, ApiError> {
        let files = self.store().data_files();
        let needles = needles.to_vec();
        tokio::task::spawn_blocking(move || super::scan::files_containing(&files, &needles))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }
}

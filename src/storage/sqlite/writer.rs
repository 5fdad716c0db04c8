//! The single writer: an OS thread owning the write connection, fed by a channel of jobs.
//! It drains what is queued and commits it in one transaction (group commit), and answers
//! only after COMMIT; a job failing after it wrote sends its group's jobs through one
//! transaction each. `SqliteStore` submits jobs here.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{anyhow, Context};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::consistency::{Consistency, StoredClock};
use super::insert::{InsertContext, KeyedBatch};
use super::{audit, automation, badges, credentials, documents, erasure, insert, people, skills};
use crate::storage::audit::{AuditDraft, AuditEntry};
use crate::storage::automation::{OutboxUpdate, RulesCommit};
use crate::storage::badges::{BadgeCommit, BadgeInsert, RevokeOutcome};
use crate::storage::contract::{
    CredentialRecord, Document, DocumentKey, DocumentScope, Expectation, StorageError, StoreResult,
};
use crate::storage::erasure::{ErasedRecords, ErasedStatements, ErasureJob};
use crate::storage::people::{ConsentRecord, PersonRecord};
use crate::storage::skills::SkillsCommit;
use crate::xapi::time::Micros;

/// Jobs waiting for the writer; senders wait (asynchronously) when it is full.
const QUEUE_CAPACITY: usize = 1024;

/// Counters of the write path, for metrics and tests.
#[derive(Debug, Default)]
pub struct WriteStats {
    transactions: AtomicU64,
    jobs: AtomicU64,
}

impl WriteStats {
    /// Write transactions committed or attempted.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Relaxed)
    }

    /// Jobs (statement batches and credential commands) processed.
    pub fn jobs(&self) -> u64 {
        self.jobs.load(Relaxed)
    }
}

/// A unit of work with the place its answer goes once the transaction is over.
pub(super) enum Job {
    InsertStatements(KeyedBatch, Reply<Vec<Micros>>),
    InsertCredential(CredentialRecord, Reply<()>),
    RevokeCredential(String, Reply<bool>),
    InsertDocument(Box<(DocumentKey, Document, Expectation)>, Reply<bool>),
    DeleteDocument(DocumentKey, Expectation, Reply<bool>),
    DeleteDocuments(DocumentScope, Reply<u64>),
    CommitRules(Box<RulesCommit>, Reply<()>),
    CommitSkills(Box<SkillsCommit>, Reply<()>),
    ResetSkills(Reply<()>),
    UpsertPeople(Vec<PersonRecord>, Reply<()>),
    AppendAudit(Box<AuditDraft>, Reply<AuditEntry>),
    SetConsent(ConsentRecord, Reply<()>),
    UpdateOutbox(String, OutboxUpdate, Reply<bool>),
    RedriveOutbox(String, Micros, Reply<bool>),
    BeginErasure(Box<ErasureJob>, Reply<()>),
    EraseStatements(Vec<String>, usize, Reply<ErasedStatements>),
    DeleteStatements(Vec<Uuid>, Reply<ErasedStatements>),
    EraseRecords(Box<ErasureJob>, Reply<ErasedRecords>),
    FinishErasure(String, Reply<()>),
    InsertReportLink(String, String, Micros, Reply<()>),
    /// Runs between transactions, never in a group (see `erasure::purge`).
    Purge(bool, Reply<()>),
    ReserveBadgeStatus(u64, Reply<u64>),
    InsertBadge(Box<BadgeCommit>, Reply<BadgeInsert>),
    RevokeBadge(Box<(String, Micros, String)>, Reply<RevokeOutcome>),
}

/// A job's reply channel and, once it ran, its result (sent only after COMMIT).
pub(super) struct Reply<T> {
    sender: oneshot::Sender<StoreResult<T>>,
    result: Option<StoreResult<T>>,
}

impl<T> Reply<T> {
    fn keep(&mut self, result: StoreResult<T>) -> bool {
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn fail(&mut self, error: &anyhow::Error) {
        self.result = Some(Err(StorageError::Backend(anyhow!("{error:#}"))));
    }

    fn send(self, failure: Option<&anyhow::Error>) {
        let result = match (failure, self.result) {
            (None, Some(result)) => result,
            (Some(error), _) => Err(StorageError::Backend(anyhow!("{error:#}"))),
            (None, None) => Err(StorageError::Backend(anyhow!("the job did not run"))),
        };
        // The caller may have gone away; its job is done either way.
        let _ = self.sender.send(result);
    }
}

impl Job {
    /// How much of the group's statement budget the job uses.
    fn weight(&self) -> usize {
        match self {
            Self::InsertStatements(batch, _) => batch.len().max(1),
            Self::UpsertPeople(records, _) => records.len().max(1),
            Self::EraseStatements(_, limit, _) => (*limit).max(1),
            Self::DeleteStatements(ids, _) => ids.len().max(1),
            Self::AppendAudit(..) | Self::SetConsent(..) => 1,
            _ => 1,
        }
    }

    fn run(&mut self, conn: &Connection, clock: &mut StoredClock, context: &mut InsertContext) -> bool {
        match self {
            Self::InsertStatements(batch, reply) => reply.keep(insert::insert_batch(conn, clock, batch, context)),
            Self::InsertCredential(record, reply) => reply.keep(credentials::insert_credential(conn, record)),
            Self::RevokeCredential(key, reply) => reply.keep(credentials::revoke_credential(conn, key)),
            Self::InsertDocument(write, reply) => {
                let (key, document, expect) = &**write;
                reply.keep(documents::insert_document(conn, key, document, expect))
            }
            Self::DeleteDocument(key, expect, reply) => reply.keep(documents::delete_document(conn, key, expect)),
            Self::DeleteDocuments(scope, reply) => reply.keep(documents::delete_documents(conn, scope)),
            Self::CommitRules(commit, reply) => reply.keep(automation::commit_rules(conn, commit).map_err(Into::into)),
            Self::CommitSkills(commit, reply) => reply.keep(skills::commit_skills(conn, commit).map_err(Into::into)),
            Self::ResetSkills(reply) => reply.keep(skills::reset_skills(conn).map_err(Into::into)),
            Self::UpsertPeople(records, reply) => reply.keep(people::upsert_people(conn, records).map_err(Into::into)),
            Self::AppendAudit(draft, reply) => reply.keep(audit::append_audit(conn, draft).map_err(Into::into)),
            Self::SetConsent(consent, reply) => reply.keep(people::set_consent(conn, consent).map_err(Into::into)),
            Self::UpdateOutbox(key, update, reply) => {
                reply.keep(automation::update_outbox(conn, key, update).map_err(Into::into))
            }
            Self::RedriveOutbox(key, now, reply) => {
                reply.keep(automation::redrive_outbox(conn, key, *now).map_err(Into::into))
            }
            Self::BeginErasure(job, reply) => reply.keep(erasure::begin_erasure(conn, job).map_err(Into::into)),
            Self::EraseStatements(keys, limit, reply) => {
                context.forget_recent();
                reply.keep(erasure::erase_statements(conn, &mut context.index, keys, *limit).map_err(Into::into))
            }
            Self::DeleteStatements(ids, reply) => {
                reply.keep(erasure::delete_statements(conn, &mut context.index, ids).map_err(Into::into))
            }
            Self::EraseRecords(job, reply) => {
                context.forget_recent();
                reply.keep(erasure::erase_records(conn, job).map_err(Into::into))
            }
            Self::FinishErasure(id, reply) => reply.keep(erasure::finish_erasure(conn, id).map_err(Into::into)),
            Self::InsertReportLink(hash, person, expires, reply) => {
                reply.keep(erasure::insert_report_link(conn, hash, person, *expires).map_err(Into::into))
            }
            Self::Purge(_, reply) => {
                reply.keep(Err(StorageError::Backend(anyhow!("a purge cannot run inside a transaction"))))
            }
            Self::ReserveBadgeStatus(count, reply) => {
                reply.keep(badges::reserve_badge_status(conn, *count).map_err(Into::into))
            }
            Self::InsertBadge(commit, reply) => reply.keep(badges::insert_badge(conn, commit).map_err(Into::into)),
            Self::RevokeBadge(revocation, reply) => {
                let (id, at, reason) = &**revocation;
                reply.keep(badges::revoke_badge(conn, id, *at, reason).map_err(Into::into))
            }
        }
    }

    /// Replaces the job's result with `error`: its transaction did not commit.
    fn fail(&mut self, error: &anyhow::Error) {
        match self {
            Self::InsertStatements(_, reply) => reply.fail(error),
            Self::InsertCredential(_, reply) => reply.fail(error),
            Self::RevokeCredential(_, reply) => reply.fail(error),
            Self::InsertDocument(_, reply) => reply.fail(error),
            Self::DeleteDocument(_, _, reply) => reply.fail(error),
            Self::DeleteDocuments(_, reply) => reply.fail(error),
            Self::CommitRules(_, reply) => reply.fail(error),
            Self::CommitSkills(_, reply) => reply.fail(error),
            Self::ResetSkills(reply) => reply.fail(error),
            Self::UpsertPeople(_, reply) => reply.fail(error),
            Self::AppendAudit(_, reply) => reply.fail(error),
            Self::SetConsent(_, reply) => reply.fail(error),
            Self::UpdateOutbox(_, _, reply) => reply.fail(error),
            Self::RedriveOutbox(_, _, reply) => reply.fail(error),
            Self::BeginErasure(_, reply) => reply.fail(error),
            Self::EraseStatements(_, _, reply) => reply.fail(error),
            Self::DeleteStatements(_, reply) => reply.fail(error),
            Self::EraseRecords(_, reply) => reply.fail(error),
            Self::FinishErasure(_, reply) => reply.fail(error),
            Self::InsertReportLink(_, _, _, reply) => reply.fail(error),
            Self::Purge(_, reply) => reply.fail(error),
            Self::ReserveBadgeStatus(_, reply) => reply.fail(error),
            Self::InsertBadge(_, reply) => reply.fail(error),
            Self::RevokeBadge(_, reply) => reply.fail(error),
        }
    }

    /// Sends the job's own result, or `failure` when the transaction did not commit.
    fn answer(self, failure: Option<&anyhow::Error>) {
        match self {
            Self::InsertStatements(_, reply) => reply.send(failure),
            Self::InsertCredential(_, reply) => reply.send(failure),
            Self::RevokeCredential(_, reply) => reply.send(failure),
            Self::InsertDocument(_, reply) => reply.send(failure),
            Self::DeleteDocument(_, _, reply) => reply.send(failure),
            Self::DeleteDocuments(_, reply) => reply.send(failure),
            Self::CommitRules(_, reply) => reply.send(failure),
            Self::CommitSkills(_, reply) => reply.send(failure),
            Self::ResetSkills(reply) => reply.send(failure),
            Self::UpsertPeople(_, reply) => reply.send(failure),
            Self::AppendAudit(_, reply) => reply.send(failure),
            Self::SetConsent(_, reply) => reply.send(failure),
            Self::UpdateOutbox(_, _, reply) => reply.send(failure),
            Self::RedriveOutbox(_, _, reply) => reply.send(failure),
            Self::BeginErasure(_, reply) => reply.send(failure),
            Self::EraseStatements(_, _, reply) => reply.send(failure),
            Self::DeleteStatements(_, reply) => reply.send(failure),
            Self::EraseRecords(_, reply) => reply.send(failure),
            Self::FinishErasure(_, reply) => reply.send(failure),
            Self::InsertReportLink(_, _, _, reply) => reply.send(failure),
            Self::Purge(_, reply) => reply.send(failure),
            Self::ReserveBadgeStatus(_, reply) => reply.send(failure),
            Self::InsertBadge(_, reply) => reply.send(failure),
            Self::RevokeBadge(_, reply) => reply.send(failure),
        }
    }
}

/// The store's side of the writer: submits jobs; dropping it stops and joins the thread.
pub(super) struct WriterHandle {
    sender: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl WriterHandle {
    /// Starts the writer thread on an open, migrated connection.
    pub(super) fn start(
        conn: Connection,
        clock: StoredClock,
        consistency: Arc<Consistency>,
        stats: Arc<WriteStats>,
        max_group_statements: usize,
        context: InsertContext,
    ) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer =
            Writer { conn, clock, consistency, stats, max_group_statements, receiver, context, deferred: None };
        let thread = std::thread::Builder::new()
            .name("fluency-sqlite-writer".into())
            .spawn(move || writer.run())
            .context("starting the SQLite writer thread")?;
        Ok(Self { sender: Some(sender), thread: Some(thread) })
    }

    /// Queues a job built around its reply channel and waits for the committed answer.
    pub(super) async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> StoreResult<T> {
        let (sender, receiver) = oneshot::channel();
        let queue = self.sender.as_ref().context("the SQLite writer is shut down")?;
        queue.send(job(Reply { sender, result: None })).await.map_err(|_| anyhow!("the SQLite writer has stopped"))?;
        receiver.await.map_err(|_| anyhow!("the SQLite writer stopped before answering"))?
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the jobs already queued.
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the SQLite writer thread panicked");
            }
        }
    }
}

struct Writer {
    conn: Connection,
    clock: StoredClock,
    consistency: Arc<Consistency>,
    stats: Arc<WriteStats>,
    max_group_statements: usize,
    receiver: mpsc::Receiver<Job>,
    context: InsertContext,
    /// A job that must run outside any transaction, taken from the queue during a group.
    deferred: Option<Job>,
}

impl Writer {
    fn run(mut self) {
        while let Some(first) = self.deferred.take().or_else(|| self.receiver.blocking_recv()) {
            match first {
                Job::Purge(rewrite, mut reply) => {
                    self.stats.jobs.fetch_add(1, Relaxed);
                    reply.keep(erasure::purge(&self.conn, rewrite).map_err(Into::into));
                    reply.send(None);
                    continue;
                }
                first => self.commit_group(first),
            }
            // After answering the group: the bulk write delays only the jobs queued behind it.
            if let Err(error) = self.context.index.flush_if_due(&self.conn, self.clock.last()) {
                tracing::error!(error = ?error, "Writing the term index failed; will try again.");
            }
        }
    }

    /// One transaction for `first` and every job queued while the transaction runs;
    /// answers them all after it is over. When a job fails after it wrote, the group is
    /// rolled back and its jobs run again, each in its own transaction.
    fn commit_group(&mut self, first: Job) {
        let mut group = vec![first];
        self.consistency.begin_transaction(&mut self.clock);
        let mut outcome = self.write_group(&mut group);
        if outcome.is_err() {
            self.roll_back();
        }
        if matches!(outcome, Err(GroupFailure::JobFailedAfterWriting)) {
            tracing::warn!(jobs = group.len(), "A job failed after writing; running the group's jobs one by one.");
            for job in &mut group {
                self.write_alone(job);
            }
            outcome = Ok(());
        }
        self.consistency.end_transaction(&self.clock);
        self.stats.jobs.fetch_add(group.len() as u64, Relaxed);
        let failure = match outcome {
            Ok(()) => None,
            Err(GroupFailure::JobFailedAfterWriting) => unreachable!("handled above"),
            Err(GroupFailure::Sqlite(error)) => {
                tracing::error!(error = ?error, jobs = group.len(), "Group commit failed.");
                Some(error)
            }
        };
        for job in group {
            job.answer(failure.as_ref());
        }
    }

    /// Runs transaction control through the statement cache: it runs for every group.
    fn run_sql(&self, sql: &str) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute([])
    }

    /// Rolls back the open transaction, if SQLite has not already; forgets cached reads.
    fn roll_back(&mut self) {
        self.context.rolled_back();
        if !self.conn.is_autocommit() {
            if let Err(error) = self.run_sql("ROLLBACK") {
                tracing::error!(error = %error, "Rolling back a write transaction failed.");
            }
        }
    }

    /// Runs the group's jobs, taking in jobs that are queued meanwhile (up to the group's
    /// statement budget), so groups grow with the load and an idle writer commits at once.
    /// A job that fails without having changed anything (a conflict, a failed precondition)
    /// fails alone; one that fails after it changed rows fails the group.
    fn write_group(&mut self, group: &mut Vec<Job>) -> Result<(), GroupFailure> {
        self.stats.transactions.fetch_add(1, Relaxed);
        self.run_sql("BEGIN IMMEDIATE").context("beginning a write transaction")?;
        let mut weight = 0;
        let mut next = 0;
        loop {
            if next == group.len() {
                if weight >= self.max_group_statements {
                    break;
                }
                match self.receiver.try_recv() {
                    Ok(job @ Job::Purge(..)) => {
                        self.deferred = Some(job);
                        break;
                    }
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            let job = &mut group[next];
            next += 1;
            weight += job.weight();
            let changes = self.conn.total_changes();
            if !job.run(&self.conn, &mut self.clock, &mut self.context)
                && (self.conn.total_changes() != changes || self.conn.is_autocommit())
            {
                return Err(GroupFailure::JobFailedAfterWriting);
            }
        }
        self.run_sql("COMMIT").context("committing a write transaction")?;
        self.context.index.committed();
        Ok(())
    }

    /// One job in its own transaction, after its group failed; its answer says how it went.
    fn write_alone(&mut self, job: &mut Job) {
        self.stats.transactions.fetch_add(1, Relaxed);
        let outcome = self.run_sql("BEGIN IMMEDIATE").context("beginning a write transaction").and_then(|_| {
            if job.run(&self.conn, &mut self.clock, &mut self.context) {
                self.run_sql("COMMIT").context("committing a write transaction")?;
                self.context.index.committed();
            } else {
                self.roll_back();
            }
            Ok(())
        });
        if let Err(error) = outcome {
            tracing::error!(error = ?error, "A write transaction failed.");
            self.roll_back();
            job.fail(&error);
        }
    }
}

/// Why a group did not commit.
enum GroupFailure {
    /// A job failed after changing rows: only a rollback of the group undoes its changes.
    JobFailedAfterWriting,
    /// SQLite failed the transaction itself (begin, commit, I/O): every job fails.
    Sqlite(anyhow::Error),
}

impl From<anyhow::Error> for GroupFailure {
    fn from(error: anyhow::Error) -> Self {
        Self::Sqlite(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::contract::{NewStatement, StatementBatch, StorageError};
    use crate::storage::sqlite::schema::open_writer_connection;
    use serde_json::json;
    use uuid::Uuid;

    fn batch(ids: &[Uuid]) -> StatementBatch {
        StatementBatch {
            statements: ids
                .iter()
                .map(|id| NewStatement {
                    id: *id,
                    json: format!(r#"{{"id":"{id}"}}"#),
                    timestamp_from_stored: true,
                    terms: vec![crate::storage::IndexTerm::Verb("v".into())],
                    object_ref: None,
                    is_voiding: false,
                })
                .collect(),
            activity_definitions: Vec::new(),
            merge_definition: |_, _| {},
            agents: Vec::new(),
        }
    }

    struct GroupRun {
        answers: Vec<StoreResult<Vec<Micros>>>,
        stats: Arc<WriteStats>,
        conn: Connection,
        _dir: tempfile::TempDir,
    }

    /// Queues every batch before the writer starts, so they meet in one group; `arrange`
    /// prepares the database first.
    fn run_one_group(batches: Vec<StatementBatch>, arrange: impl FnOnce(&Connection)) -> GroupRun {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.db");
        let conn = open_writer_connection(&path).unwrap();
        arrange(&conn);
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let mut answers = Vec::new();
        for batch in batches {
            let (sender_half, answer) = oneshot::channel();
            let reply = Reply { sender: sender_half, result: None };
            sender.try_send(Job::InsertStatements(KeyedBatch::new(batch), reply)).map_err(|_| "full").unwrap();
            answers.push(answer);
        }
        drop(sender);
        let stats = Arc::new(WriteStats::default());
        let (context, _) = InsertContext::open(&conn, 1, 4_096).unwrap();
        let writer = Writer {
            conn,
            clock: StoredClock::starting_after(0),
            consistency: Arc::new(Consistency::new(0)),
            stats: stats.clone(),
            max_group_statements: 1000,
            receiver,
            context,
            deferred: None,
        };
        writer.run();
        GroupRun {
            answers: answers.into_iter().map(|answer| answer.blocking_recv().unwrap()).collect(),
            stats,
            conn: open_writer_connection(&path).unwrap(),
            _dir: dir,
        }
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    #[test]
    fn queued_jobs_share_one_transaction() {
        let batches = (0..50).map(|_| batch(&[Uuid::new_v4()])).collect();
        let run = run_one_group(batches, |_| {});
        assert!(run.answers.iter().all(Result::is_ok));
        assert_eq!((run.stats.transactions(), run.stats.jobs()), (1, 50));
        assert_eq!(count(&run.conn, "SELECT count(*) FROM statements"), 50);
    }

    #[test]
    fn a_conflicting_job_fails_alone_within_its_group() {
        let (repeated, other) = (Uuid::new_v4(), Uuid::new_v4());
        let batches = vec![batch(&[repeated]), batch(&[other, repeated]), batch(&[other])];
        let run = run_one_group(batches, |_| {});
        assert_eq!(run.stats.transactions(), 1);
        assert!(run.answers[0].is_ok());
        assert!(matches!(&run.answers[1], Err(StorageError::AlreadyStored(ids)) if ids == &[repeated]));
        assert!(run.answers[2].is_ok(), "the failed job must not have stored {other}");
    }

    #[test]
    fn a_job_failing_after_it_wrote_is_rolled_back_alone() {
        // The merge fails on a corrupt stored definition, after the statement rows are written.
        let mut failing = batch(&[Uuid::new_v4()]);
        failing.activity_definitions = vec![("http://example.com/broken".into(), json!({}))];
        let batches = vec![batch(&[Uuid::new_v4()]), failing, batch(&[Uuid::new_v4()])];
        let run = run_one_group(batches, |conn| {
            conn.execute("INSERT INTO activities VALUES ('http://example.com/broken', '{')", []).unwrap();
        });
        assert_eq!(run.stats.transactions(), 4, "the rolled-back group, then one per job");
        assert!(matches!(run.answers[1], Err(StorageError::Backend(_))));
        assert!(run.answers[0].is_ok() && run.answers[2].is_ok());
        assert_eq!(count(&run.conn, "SELECT count(*) FROM statements"), 2);
        assert_eq!(count(&run.conn, "SELECT count(*) FROM statement_terms"), 2);
    }
}

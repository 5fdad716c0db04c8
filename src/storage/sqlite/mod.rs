//! The embedded SQLite backend of the storage contract: one writer thread committing queued
//! jobs together (group commit), queries on a pool of read connections. Built at startup
//! from `SqliteSettings`; the service layer uses it as a `Store`.

mod audit;
mod automation;
mod badges;
mod checkpoint;
mod consistency;
mod credentials;
mod documents;
mod erasure;
mod insert;
mod page_cache;
mod people;
mod reads;
mod schema;
mod skills;
mod terms;
mod unindexed;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use serde_json::Value;
use uuid::Uuid;

use self::checkpoint::Checkpointer;
use self::consistency::{Consistency, StoredClock};
use self::unindexed::SharedUnindexed;
pub use self::writer::WriteStats;
use self::writer::{Job, WriterHandle};
use crate::storage::audit::{AuditDraft, AuditEntry};
use crate::storage::automation::{
    HistoryCount, HistoryFilter, Intervention, InterventionQuery, OutboxItem, OutboxStatus, OutboxUpdate, RuleRun,
    RulesCommit,
};
use crate::storage::badges::{BadgeCommit, BadgeFilter, BadgeInsert, BadgeRecord, RevokeOutcome};
use crate::storage::contract::{
    CredentialRecord, Document, DocumentKey, DocumentScope, Expectation, StatementBatch, StatementPage, StatementQuery,
    Store, StoreResult, StoredStatement,
};
use crate::storage::erasure::{ErasedRecords, ErasedStatements, ErasureJob, Tombstone};
use crate::storage::people::{AgentDocument, ConsentRecord, MentioningRecords, PersonRecord, TeamCount};
use crate::storage::skills::{
    EstimateFilter, EstimateRecord, EvidenceRecord, EvidenceVolume, ItemRecord, SkillsCommit,
};
use crate::xapi::time::Micros;

/// Where the database lives and how the store uses it.
#[derive(Clone, Debug)]
pub struct SqliteSettings {
    /// The database file; missing directories are created.
    pub path: PathBuf,
    /// Read connections serving queries concurrently.
    pub read_pool_size: u32,
    /// Statements the writer gathers into one transaction (group commit) before committing;
    /// a larger batch still commits whole, alone.
    pub max_batch_statements: usize,
    /// Statements whose term rows and ids are kept in memory, then written to the indexes
    /// in one go (see `unindexed`): larger shares index pages among more statements.
    pub index_batch_statements: usize,
    /// The most statements one such write moves, oldest first: past `index_batch_statements`,
    /// a write of this many follows each group, so no write pauses the others for long.
    /// Unbounded by default: chunks of 4,096 cut the longest pause to a third but cost a
    /// sixth of batch throughput (twice the WAL per statement) in an A/B on the 2-core machine.
    pub index_chunk_statements: usize,
    /// Hold the database alone: another process opening it exclusively is refused. Every
    /// process that writes statements must (the `stored` clock, the consistency horizon
    /// and the newest index entries live in the process); a short credentials command need
    /// not. A store opened without it never writes the indexes, and its statement reads
    /// see only what was stored when it opened.
    pub exclusive: bool,
}

impl SqliteSettings {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            read_pool_size: 4,
            max_batch_statements: 1000,
            index_batch_statements: 32_768,
            index_chunk_statements: usize::MAX,
            exclusive: true,
        }
    }
}

/// A `Store` in one SQLite file (WAL mode, `synchronous=FULL`).
pub struct SqliteStore {
    // Dropped in order: the writer finishes its queue before the last checkpoint.
    writer: WriterHandle,
    _checkpointer: Checkpointer,
    /// The exclusive lock, released when the store closes.
    _lock: Option<std::fs::File>,
    pool: Pool<SqliteConnectionManager>,
    /// The newest statements' term rows and ids, read beside `statement_terms` and
    /// `statement_ids`.
    unindexed: SharedUnindexed,
    consistency: Arc<Consistency>,
    stats: Arc<WriteStats>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens or creates the database, migrates its schema and starts the writer thread.
    pub fn open(settings: SqliteSettings) -> anyhow::Result<SqliteStore> {
        let lock = if settings.exclusive { Some(lock_exclusively(&settings.path)?) } else { None };
        let conn = schema::open_writer_connection(&settings.path)?;
        let last_stored = schema::find_last_stored(&conn)?;
        let pool = schema::open_read_pool(&settings.path, settings.read_pool_size)?;
        let consistency = Arc::new(Consistency::new(last_stored));
        let stats = Arc::new(WriteStats::default());
        // Only the process holding the store alone moves entries into the indexes: two
        // processes doing so would each write the other's.
        let index_batch = if settings.exclusive { settings.index_batch_statements } else { usize::MAX };
        let (context, unindexed) = insert::InsertContext::open(&conn, index_batch, settings.index_chunk_statements)?;
        let writer = WriterHandle::start(
            conn,
            StoredClock::starting_after(last_stored),
            consistency.clone(),
            stats.clone(),
            settings.max_batch_statements.max(1),
            context,
        )?;
        let checkpointer = Checkpointer::start(&settings.path)?;
        tracing::info!(path = %settings.path.display(), last_stored, "Opened the SQLite store.");
        let path = settings.path;
        Ok(Self { writer, _checkpointer: checkpointer, _lock: lock, pool, unindexed, consistency, stats, path })
    }

    /// Counters of the write path (transactions and jobs), e.g. to export as metrics.
    pub fn write_stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Runs a read on a pooled connection without blocking the async runtime.
    async fn read<T, F>(&self, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let result = tokio::task::spawn_blocking(move || {
            let conn = pool.get().context("taking a SQLite read connection")?;
            read(&conn)
        })
        .await
        .context("a SQLite read task failed")?;
        Ok(result?)
    }
}

/// Takes the advisory lock beside the database file (`<file>.lock`).
fn lock_exclusively(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the directory {}", dir.display()))?;
    }
    let lock_path = path.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening the lock file {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "the database {} is in use by another Fluency process (a running server?); stop it, \
             or send the data to that server over HTTP (--url)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("locking {}", lock_path.display()))
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_statements(&self, batch: StatementBatch) -> StoreResult<Vec<Micros>> {
        let keyed = insert::KeyedBatch::new(batch);
        self.writer.submit(|reply| Job::InsertStatements(keyed, reply)).await
    }

    async fn find_statements(&self, ids: &[Uuid]) -> StoreResult<Vec<StoredStatement>> {
        let (ids, unindexed) = (ids.to_vec(), self.unindexed.clone());
        self.read(move |conn| reads::find_statements(conn, &ids, &unindexed)).await
    }

    async fn query_statements(&self, query: &StatementQuery) -> StoreResult<StatementPage> {
        let (query, unindexed) = (query.clone(), self.unindexed.clone());
        self.read(move |conn| reads::query_statements(conn, &query, &unindexed)).await
    }

    fn consistent_through(&self) -> Micros {
        self.consistency.consistent_through()
    }

    async fn find_activity_definitions(&self, ids: &[String]) -> StoreResult<Vec<(String, Value)>> {
        let ids = ids.to_vec();
        self.read(move |conn| reads::find_activity_definitions(conn, &ids)).await
    }

    async fn find_agents(&self, keys: &[String]) -> StoreResult<Vec<Value>> {
        let keys = keys.to_vec();
        self.read(move |conn| documents::find_agents(conn, &keys)).await
    }

    async fn insert_document(&self, key: &DocumentKey, document: Document, expect: Expectation) -> StoreResult<bool> {
        let write = Box::new((key.clone(), document, expect));
        self.writer.submit(|reply| Job::InsertDocument(write, reply)).await
    }

    async fn delete_document(&self, key: &DocumentKey, expect: Expectation) -> StoreResult<bool> {
        let key = key.clone();
        self.writer.submit(|reply| Job::DeleteDocument(key, expect, reply)).await
    }

    async fn delete_documents(&self, scope: &DocumentScope) -> StoreResult<u64> {
        let scope = scope.clone();
        self.writer.submit(|reply| Job::DeleteDocuments(scope, reply)).await
    }

    async fn find_document(&self, key: &DocumentKey) -> StoreResult<Option<Document>> {
        let key = key.clone();
        self.read(move |conn| documents::find_document(conn, &key)).await
    }

    async fn query_document_ids(
        &self,
        scope: &DocumentScope,
        since: Option<Micros>,
    ) -> StoreResult<Vec<(String, Micros)>> {
        let scope = scope.clone();
        self.read(move |conn| documents::query_document_ids(conn, &scope, since)).await
    }

    async fn insert_credential(&self, credential: CredentialRecord) -> StoreResult<()> {
        self.writer.submit(|reply| Job::InsertCredential(credential, reply)).await
    }

    async fn find_credential(&self, key: &str) -> StoreResult<Option<CredentialRecord>> {
        let key = key.to_owned();
        self.read(move |conn| credentials::find_credential(conn, &key)).await
    }

    async fn query_credentials(&self) -> StoreResult<Vec<CredentialRecord>> {
        self.read(credentials::query_credentials).await
    }

    async fn revoke_credential(&self, key: &str) -> StoreResult<bool> {
        let key = key.to_owned();
        self.writer.submit(|reply| Job::RevokeCredential(key, reply)).await
    }

    async fn statements_stored_after(&self, after: Micros, limit: usize) -> StoreResult<Vec<StoredStatement>> {
        self.read(move |conn| automation::statements_stored_after(conn, after, limit)).await
    }

    async fn history(&self, filter: &HistoryFilter) -> StoreResult<HistoryCount> {
        let (filter, unindexed) = (filter.clone(), self.unindexed.clone());
        self.read(move |conn| automation::history(conn, &filter, &unindexed)).await
    }

    async fn rules_evaluated_through(&self) -> StoreResult<Option<Micros>> {
        self.read(automation::evaluated_through).await
    }

    async fn commit_rules(&self, commit: RulesCommit) -> StoreResult<()> {
        let commit = Box::new(commit);
        self.writer.submit(|reply| Job::CommitRules(commit, reply)).await
    }

    async fn rule_state(&self, rule: &str, key: &str, now: Micros) -> StoreResult<Option<Value>> {
        let (rule, key) = (rule.to_owned(), key.to_owned());
        self.read(move |conn| automation::rule_state(conn, &rule, &key, now)).await
    }

    async fn rule_state_bytes(&self, rule: &str, now: Micros) -> StoreResult<u64> {
        let rule = rule.to_owned();
        self.read(move |conn| automation::rule_state_bytes(conn, &rule, now)).await
    }

    async fn rule_runs(&self, rule: &str, limit: usize) -> StoreResult<Vec<RuleRun>> {
        let rule = rule.to_owned();
        self.read(move |conn| automation::rule_runs(conn, &rule, limit)).await
    }

    async fn outbox_due(&self, now: Micros, limit: usize) -> StoreResult<Vec<OutboxItem>> {
        self.read(move |conn| automation::outbox_due(conn, now, limit)).await
    }

    async fn outbox_items(&self, status: OutboxStatus, limit: usize) -> StoreResult<Vec<OutboxItem>> {
        self.read(move |conn| automation::outbox_items(conn, status, limit)).await
    }

    async fn update_outbox(&self, key: &str, update: OutboxUpdate) -> StoreResult<bool> {
        let key = key.to_owned();
        self.writer.submit(|reply| Job::UpdateOutbox(key, update, reply)).await
    }

    async fn redrive_outbox(&self, key: &str, now: Micros) -> StoreResult<bool> {
        let key = key.to_owned();
        self.writer.submit(|reply| Job::RedriveOutbox(key, now, reply)).await
    }

    async fn query_interventions(&self, query: &InterventionQuery) -> StoreResult<Vec<Intervention>> {
        let query = query.clone();
        self.read(move |conn| automation::query_interventions(conn, &query)).await
    }

    async fn skills_evaluated_through(&self) -> StoreResult<Option<Micros>> {
        self.read(skills::evaluated_through).await
    }

    async fn skills_framework(&self) -> StoreResult<Option<String>> {
        self.read(skills::framework).await
    }

    async fn commit_skills(&self, commit: SkillsCommit) -> StoreResult<()> {
        let commit = Box::new(commit);
        self.writer.submit(|reply| Job::CommitSkills(commit, reply)).await
    }

    async fn reset_skills(&self) -> StoreResult<()> {
        self.writer.submit(Job::ResetSkills).await
    }

    async fn skill_estimates(&self, filter: &EstimateFilter) -> StoreResult<Vec<EstimateRecord>> {
        let filter = filter.clone();
        self.read(move |conn| skills::skill_estimates(conn, &filter)).await
    }

    async fn skill_evidence(
        &self,
        person: &str,
        skill: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<EvidenceRecord>> {
        let (person, skill) = (person.to_owned(), skill.map(str::to_owned));
        self.read(move |conn| skills::skill_evidence(conn, &person, skill.as_deref(), limit)).await
    }

    async fn skill_items(&self) -> StoreResult<Vec<ItemRecord>> {
        self.read(skills::skill_items).await
    }

    async fn skill_evidence_volumes(&self, since: Micros) -> StoreResult<Vec<EvidenceVolume>> {
        self.read(move |conn| skills::skill_evidence_volumes(conn, since)).await
    }

    async fn append_audit(&self, draft: AuditDraft) -> StoreResult<AuditEntry> {
        self.writer.submit(|reply| Job::AppendAudit(Box::new(draft), reply)).await
    }

    async fn audit_entries(&self, after: u64, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |conn| audit::audit_entries(conn, after, limit)).await
    }

    async fn set_consent(&self, consent: ConsentRecord) -> StoreResult<()> {
        self.writer.submit(|reply| Job::SetConsent(consent, reply)).await
    }

    async fn consents(&self) -> StoreResult<Vec<ConsentRecord>> {
        self.read(people::consents).await
    }

    async fn upsert_people(&self, records: Vec<PersonRecord>) -> StoreResult<()> {
        self.writer.submit(|reply| Job::UpsertPeople(records, reply)).await
    }

    async fn find_people(&self, keys: &[String]) -> StoreResult<Vec<PersonRecord>> {
        let keys = keys.to_vec();
        self.read(move |conn| people::find_people(conn, &keys)).await
    }

    async fn people_in_team(&self, team: &str) -> StoreResult<Vec<PersonRecord>> {
        let team = team.to_owned();
        self.read(move |conn| people::people_in_team(conn, &team)).await
    }

    async fn teams(&self) -> StoreResult<Vec<TeamCount>> {
        self.read(people::teams).await
    }

    async fn documents_of_agents(&self, keys: &[String]) -> StoreResult<Vec<AgentDocument>> {
        let keys = keys.to_vec();
        self.read(move |conn| people::documents_of_agents(conn, &keys)).await
    }

    async fn records_mentioning(&self, needles: &[String]) -> StoreResult<MentioningRecords> {
        let needles = needles.to_vec();
        self.read(move |conn| people::records_mentioning(conn, &needles)).await
    }

    async fn begin_erasure(&self, job: ErasureJob) -> StoreResult<()> {
        let job = Box::new(job);
        self.writer.submit(|reply| Job::BeginErasure(job, reply)).await
    }

    async fn pending_erasures(&self) -> StoreResult<Vec<ErasureJob>> {
        self.read(erasure::pending_erasures).await
    }

    async fn erase_statements(&self, keys: &[String], limit: usize) -> StoreResult<ErasedStatements> {
        let keys = keys.to_vec();
        self.writer.submit(|reply| Job::EraseStatements(keys, limit.max(1), reply)).await
    }

    async fn delete_statements(&self, ids: &[Uuid]) -> StoreResult<ErasedStatements> {
        let ids = ids.to_vec();
        self.writer.submit(|reply| Job::DeleteStatements(ids, reply)).await
    }

    async fn erase_records(&self, job: &ErasureJob) -> StoreResult<ErasedRecords> {
        let job = Box::new(job.clone());
        self.writer.submit(|reply| Job::EraseRecords(job, reply)).await
    }

    async fn finish_erasure(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.writer.submit(|reply| Job::FinishErasure(id, reply)).await
    }

    async fn insert_report_link(&self, token_hash: &str, person: &str, expires: Micros) -> StoreResult<()> {
        let (hash, person) = (token_hash.to_owned(), person.to_owned());
        self.writer.submit(|reply| Job::InsertReportLink(hash, person, expires, reply)).await
    }

    async fn find_report_link(&self, token_hash: &str) -> StoreResult<Option<(String, Micros)>> {
        let hash = token_hash.to_owned();
        self.read(move |conn| erasure::find_report_link(conn, &hash)).await
    }

    async fn attachment_in_use(&self, sha2: &str) -> StoreResult<bool> {
        let sha2 = sha2.to_owned();
        self.read(move |conn| erasure::attachment_in_use(conn, &sha2)).await
    }

    async fn tombstones(&self) -> StoreResult<Vec<Tombstone>> {
        self.read(erasure::tombstones).await
    }

    async fn purge_deleted(&self, rewrite: bool) -> StoreResult<()> {
        self.writer.submit(|reply| Job::Purge(rewrite, reply)).await
    }

    fn data_files(&self) -> Vec<PathBuf> {
        let with_suffix = |suffix: &str| {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        vec![self.path.clone(), with_suffix("-wal")]
    }

    async fn reserve_badge_status(&self, count: u64) -> StoreResult<u64> {
        self.writer.submit(|reply| Job::ReserveBadgeStatus(count, reply)).await
    }

    async fn insert_badge(&self, commit: BadgeCommit) -> StoreResult<BadgeInsert> {
        self.writer.submit(|reply| Job::InsertBadge(Box::new(commit), reply)).await
    }

    async fn revoke_badge(&self, id: &str, at: Micros, reason: &str) -> StoreResult<RevokeOutcome> {
        let revocation = Box::new((id.to_owned(), at, reason.to_owned()));
        self.writer.submit(|reply| Job::RevokeBadge(revocation, reply)).await
    }

    async fn find_badge(&self, id: &str) -> StoreResult<Option<BadgeRecord>> {
        let id = id.to_owned();
        self.read(move |conn| badges::find_badge(conn, &id)).await
    }

    async fn find_badge_by_award(&self, award_key: &str) -> StoreResult<Option<BadgeRecord>> {
        let key = award_key.to_owned();
        self.read(move |conn| badges::find_badge_by_award(conn, &key)).await
    }

    async fn query_badges(&self, filter: &BadgeFilter) -> StoreResult<Vec<BadgeRecord>> {
        let filter = filter.clone();
        self.read(move |conn| badges::query_badges(conn, &filter)).await
    }

    async fn revoked_badge_positions(&self, from: u64, until: u64) -> StoreResult<Vec<u64>> {
        self.read(move |conn| badges::revoked_badge_positions(conn, from, until)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::contract::{IndexTerm, NewStatement, StorageError};
    use crate::storage::HistoryFilter;

    const VERB: &str = "http://example.com/verbs/did";

    fn single(statement: NewStatement) -> StatementBatch {
        StatementBatch {
            statements: vec![statement],
            activity_definitions: Vec::new(),
            merge_definition: |_, _| {},
            agents: Vec::new(),
        }
    }

    fn voiding(target: Uuid) -> StatementBatch {
        let id = Uuid::new_v4();
        single(NewStatement {
            id,
            json: format!(r#"{{"id":"{id}"}}"#),
            timestamp_from_stored: true,
            terms: vec![IndexTerm::Verb("http://adlnet.gov/expapi/verbs/voided".into())],
            object_ref: Some(target),
            is_voiding: true,
        })
    }

    /// Single-statement batches under one verb and one of two actors (`n % 2`), each with a
    /// scaled score of n / 10.
    async fn insert_numbered(store: &SqliteStore, numbers: std::ops::Range<u32>) -> Vec<Micros> {
        let mut stored = Vec::new();
        for n in numbers {
            let id = Uuid::new_v4();
            let actor = format!("mbox::mailto:a{}@example.com", n % 2);
            let statement = NewStatement {
                id,
                json: format!(r#"{{"id":"{id}","result":{{"score":{{"scaled":{}}}}}}}"#, f64::from(n) / 10.0),
                timestamp_from_stored: true,
                terms: vec![IndexTerm::Verb(VERB.into()), IndexTerm::Agent(actor)],
                object_ref: None,
                is_voiding: false,
            };
            stored.extend(store.insert_statements(single(statement)).await.unwrap());
        }
        stored
    }

    /// Every page of a query, in order.
    async fn walk(store: &SqliteStore, terms: Vec<IndexTerm>, ascending: bool, limit: usize) -> Vec<Micros> {
        let mut query = StatementQuery { terms, ascending, limit, ..Default::default() };
        let mut found = Vec::new();
        loop {
            let page = store.query_statements(&query).await.unwrap();
            found.extend(page.statements.iter().map(|statement| statement.stored));
            if !page.more {
                return found;
            }
            query.after = found.last().copied();
        }
    }

    async fn wait_until_indexed_through(store: &SqliteStore, stored: Micros) {
        for _ in 0..500 {
            if unindexed::read(&store.unindexed).indexed_through() >= stored {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the term index never reached {stored}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ids_are_found_refused_and_voided_whether_indexed_or_in_memory() {
        // Arrange: 4 statements indexed, 2 in memory.
        let dir = tempfile::tempdir().unwrap();
        let mut settings = SqliteSettings::new(dir.path().join("lrs.db"));
        settings.index_batch_statements = 4;
        let store = SqliteStore::open(settings).unwrap();
        let stored = insert_numbered(&store, 0..6).await;
        wait_until_indexed_through(&store, stored[3]).await;
        assert!(unindexed::read(&store.unindexed).indexed_through() < stored[4]);
        let all = store.query_statements(&StatementQuery { limit: 10, ..Default::default() }).await.unwrap();
        let ids: Vec<Uuid> = all.statements.iter().rev().map(|statement| statement.id).collect();
        let (indexed, in_memory) = (ids[1], ids[5]);

        for (id, stored_at) in [(indexed, stored[1]), (in_memory, stored[5])] {
            // Act and assert: found by id, refused as a new statement, voided by reference.
            let found = store.find_statements(&[id]).await.unwrap();
            assert_eq!(found.iter().map(|s| s.stored).collect::<Vec<_>>(), vec![stored_at]);
            let mut again = voiding(Uuid::new_v4());
            again.statements[0].id = id;
            assert!(
                matches!(store.insert_statements(again).await, Err(StorageError::AlreadyStored(ids)) if ids == [id])
            );
            store.insert_statements(voiding(id)).await.unwrap();
            assert!(store.find_statements(&[id]).await.unwrap()[0].voided, "{id} is voided");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queries_and_history_join_the_term_index_and_the_rows_still_in_memory() {
        // Arrange: a bulk write after every 4 statements; 10 stored, so 8 are in the index.
        let dir = tempfile::tempdir().unwrap();
        let mut settings = SqliteSettings::new(dir.path().join("lrs.db"));
        settings.index_batch_statements = 4;
        let store = SqliteStore::open(settings.clone()).unwrap();
        let stored = insert_numbered(&store, 0..10).await;
        wait_until_indexed_through(&store, stored[7]).await;
        let in_memory = unindexed::read(&store.unindexed).indexed_through();
        assert!(in_memory < stored[8], "the last two stay in memory");
        let verb = vec![IndexTerm::Verb(VERB.into())];
        let even_actor = vec![IndexTerm::Verb(VERB.into()), IndexTerm::Agent("mbox::mailto:a0@example.com".into())];
        let evens: Vec<Micros> = stored.iter().step_by(2).copied().collect();
        let newest_first: Vec<Micros> = stored.iter().rev().copied().collect();

        let mut store = store;
        for reopen in [false, true] {
            if reopen {
                drop(store);
                store = SqliteStore::open(settings.clone()).unwrap();
            }
            // Act and assert: pages crossing the watermark, both orders, one and two terms.
            assert_eq!(walk(&store, verb.clone(), false, 3).await, newest_first);
            assert_eq!(walk(&store, verb.clone(), true, 3).await, stored);
            assert_eq!(walk(&store, even_actor.clone(), true, 2).await, evens);
            let filter = HistoryFilter {
                actor_id: "mbox::mailto:a0@example.com".into(),
                verb: Some(VERB.into()),
                activity: None,
                since: stored[0],
                until: stored[9],
            };
            let history = store.history(&filter).await.unwrap();
            assert_eq!(history.count, 5);
            assert!((history.average_score.unwrap() - 0.4).abs() < 1e-9, "mean of 0, .2, .4, .6, .8");
            // A reopened store rebuilds the memory part from the statements' packed terms.
            assert_eq!(unindexed::read(&store.unindexed).indexed_through(), in_memory);
        }
    }

    #[test]
    fn a_second_exclusive_open_is_refused_while_shared_opens_work() {
        let dir = tempfile::tempdir().unwrap();
        let settings = SqliteSettings::new(dir.path().join("lrs.db"));
        let first = SqliteStore::open(settings.clone()).unwrap();

        let second = SqliteStore::open(settings.clone()).err().expect("refused");
        let shared = SqliteStore::open(SqliteSettings { exclusive: false, ..settings.clone() });

        assert!(format!("{second:#}").contains("in use by another Fluency process"), "{second:#}");
        assert!(shared.is_ok());
        drop((first, shared));
        assert!(SqliteStore::open(settings).is_ok(), "the lock goes with the store");
    }
}

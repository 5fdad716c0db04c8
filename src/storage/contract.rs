//! The storage contract: every operation a backend provides, grouped by resource, commands
//! apart from queries. Each method is atomic and backend-neutral; xAPI rules (conflicts,
//! voiding decisions, definition merging, output formats) live above, in `service`.
//! The embedded SQLite store and the MongoDB store both honour this file, and one contract
//! test suite (`tests/storage_contract.rs`) runs against each.

use async_trait::async_trait;

use super::audit::{AuditDraft, AuditEntry};
use super::automation::{
    HistoryCount, HistoryFilter, Intervention, InterventionQuery, OutboxItem, OutboxStatus, OutboxUpdate, RuleRun,
    RulesCommit,
};
use super::badges::{BadgeCommit, BadgeFilter, BadgeInsert, BadgeRecord, RevokeOutcome};
use super::erasure::{ErasedRecords, ErasedStatements, ErasureJob, Tombstone};
use super::people::{AgentDocument, ConsentRecord, MentioningRecords, PersonRecord, TeamCount};
use super::skills::{EstimateFilter, EstimateRecord, EvidenceRecord, EvidenceVolume, ItemRecord, SkillsCommit};
use serde_json::Value;
use uuid::Uuid;

use crate::xapi::time::Micros;

pub type StoreResult<T> = Result<T, StorageError>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An insert named ids that are already stored; nothing of the batch was written.
    #[error("statements already stored: {0:?}")]
    AlreadyStored(Vec<Uuid>),
    /// A credential with this key exists already.
    #[error("credential {0:?} already exists")]
    DuplicateCredential(String),
    /// The backend failed; the operation had no effect.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

/// A term under which a query filter finds a statement. Terms are computed above storage
/// (`xapi::terms`); a backend only stores and matches them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexTerm {
    /// The actor, or an Agent/Group object, by IFI key; members of such Groups too.
    Agent(String),
    /// Any agent of the statement (`related_agents=true`), by IFI key.
    RelatedAgent(String),
    Verb(String),
    /// The object Activity id.
    Activity(String),
    /// Any activity of the statement (`related_activities=true`).
    RelatedActivity(String),
    /// `context.registration`, lowercase.
    Registration(String),
    /// The authority's IFI key (for `statements/read/mine`); never inherited through
    /// StatementRefs.
    Authority(String),
}

impl IndexTerm {
    /// One string per term, distinct across kinds; backends may hash it.
    pub fn encoded(&self) -> String {
        let (tag, value) = match self {
            Self::Agent(v) => ('a', v),
            Self::RelatedAgent(v) => ('A', v),
            Self::Verb(v) => ('v', v),
            Self::Activity(v) => ('o', v),
            Self::RelatedActivity(v) => ('O', v),
            Self::Registration(v) => ('r', v),
            Self::Authority(v) => ('u', v),
        };
        format!("{tag}\u{1f}{value}")
    }

    /// Whether a statement that references another through a StatementRef object also
    /// matches this kind of term when the referenced statement does (xAPI targeting rule).
    pub fn inherited_through_refs(&self) -> bool {
        !matches!(self, Self::Authority(_))
    }
}

/// A validated, prepared statement ready to store.
#[derive(Clone, Debug)]
pub struct NewStatement {
    pub id: Uuid,
    /// The statement as a JSON object, exactly as it will be returned, but without `stored`
    /// (assigned by the store) and, when `timestamp_from_stored`, without `timestamp`.
    pub json: String,
    /// The statement had no timestamp: the store sets it equal to `stored`.
    pub timestamp_from_stored: bool,
    /// The statement's own terms.
    pub terms: Vec<IndexTerm>,
    /// The id in a StatementRef object, if the object is one.
    pub object_ref: Option<Uuid>,
    /// The statement voids `object_ref` (its verb is `.../voided`).
    pub is_voiding: bool,
}

/// A batch written all or nothing.
#[derive(Clone, Debug)]
pub struct StatementBatch {
    pub statements: Vec<NewStatement>,
    /// Activity definitions seen in the batch, to merge into the canonical definitions.
    /// Empty when the writer may not change definitions.
    pub activity_definitions: Vec<(String, Value)>,
    /// How an incoming definition changes the stored one (an xAPI rule, given from above).
    /// Idempotent: merging the same incoming definition again changes nothing, so a backend
    /// may skip an incoming definition equal to the last one it merged.
    pub merge_definition: fn(&mut Value, &Value),
    /// Agents seen in the batch, by IFI key; the latest form of each is remembered.
    pub agents: Vec<(String, Value)>,
}

/// A statement as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredStatement {
    pub id: Uuid,
    /// Unique and strictly increasing across the store.
    pub stored: Micros,
    /// The complete statement JSON, `stored` (and a defaulted `timestamp`) included.
    pub json: String,
    /// A voiding statement targets it (and it is not itself a voiding statement).
    pub voided: bool,
}

/// A statement query. All terms must match (AND); a statement matches a term when it has
/// the term itself or, for inherited kinds, when the statement its StatementRef object
/// points to matches it (recursively, voided targets included). Voided statements are
/// never returned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatementQuery {
    pub terms: Vec<IndexTerm>,
    /// Exclusive lower bound on `stored`.
    pub since: Option<Micros>,
    /// Inclusive upper bound on `stored`.
    pub until: Option<Micros>,
    /// Oldest first when true; newest first otherwise.
    pub ascending: bool,
    /// Maximum statements in the page; at least 1.
    pub limit: usize,
    /// Keyset cursor: continue after the statement with this `stored` (exclusive, in the
    /// query's order).
    pub after: Option<Micros>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatementPage {
    pub statements: Vec<StoredStatement>,
    /// More statements match after the last one returned.
    pub more: bool,
}

/// An API credential. The secret is never stored, only its password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRecord {
    pub key: String,
    /// PHC string of the secret's password hash.
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub label: String,
    pub created: Micros,
    pub revoked: bool,
}

/// The three document resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    State,
    ActivityProfile,
    AgentProfile,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::State => "state",
            Self::ActivityProfile => "activity_profile",
            Self::AgentProfile => "agent_profile",
        }
    }
}

/// Where documents live: the activity and/or agent (by IFI key) and, for State, the
/// registration. Fields a kind does not use are `None`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DocumentScope {
    pub kind: DocumentKind,
    pub activity_id: Option<String>,
    pub agent: Option<String>,
    /// State only: `None` addresses the documents stored without a registration.
    pub registration: Option<String>,
}

/// One document: its scope and its id (`stateId` / `profileId`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DocumentKey {
    pub scope: DocumentScope,
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub content: Vec<u8>,
    pub content_type: String,
    /// Lowercase hex SHA-1 of `content`.
    pub etag: String,
    pub updated: Micros,
}

/// What a conditional document write expects to find, checked atomically with the write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// Write whatever is there.
    Anything,
    /// No document exists.
    Absent,
    /// The document exists with this ETag.
    Etag(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- Statements: commands ----

    /// Stores the batch atomically, assigning each statement its `stored` in order. Fails
    /// with `AlreadyStored` (writing nothing) when any id exists. Maintains voiding (a
    /// voiding statement hides its target, even one stored later, unless the target is
    /// itself a voiding statement) and term inheritance through StatementRefs (also for
    /// references stored before their target). Durable before it returns.
    async fn insert_statements(&self, batch: StatementBatch) -> StoreResult<Vec<Micros>>;

    // ---- Statements: queries ----

    /// The statements with these ids that exist, voided or not, in any order.
    async fn find_statements(&self, ids: &[Uuid]) -> StoreResult<Vec<StoredStatement>>;

    async fn query_statements(&self, query: &StatementQuery) -> StoreResult<StatementPage>;

    /// Every statement with `stored` earlier than this instant is visible to queries.
    fn consistent_through(&self) -> Micros;

    // ---- Activities ----

    /// Canonical definitions for the ids that have one.
    async fn find_activity_definitions(&self, ids: &[String]) -> StoreResult<Vec<(String, Value)>>;

    // ---- Agents ----

    /// The agents remembered (through `StatementBatch::agents`) under these IFI keys.
    async fn find_agents(&self, keys: &[String]) -> StoreResult<Vec<Value>>;

    // ---- Documents (State, Activity Profile, Agent Profile): commands ----

    /// Stores the document as given if `expect` holds; false otherwise.
    async fn insert_document(&self, key: &DocumentKey, document: Document, expect: Expectation) -> StoreResult<bool>;

    /// Deletes the document if `expect` holds (a missing document is already deleted);
    /// false when it does not.
    async fn delete_document(&self, key: &DocumentKey, expect: Expectation) -> StoreResult<bool>;

    /// Deletes every document of the scope; for State with `registration: None`, every
    /// registration's. Returns how many were deleted.
    async fn delete_documents(&self, scope: &DocumentScope) -> StoreResult<u64>;

    // ---- Documents: queries ----

    async fn find_document(&self, key: &DocumentKey) -> StoreResult<Option<Document>>;

    /// Ids and update times of the scope's documents updated after `since` (exclusive);
    /// for State with `registration: None`, every registration's.
    async fn query_document_ids(
        &self,
        scope: &DocumentScope,
        since: Option<Micros>,
    ) -> StoreResult<Vec<(String, Micros)>>;

    // ---- Credentials ----

    async fn insert_credential(&self, credential: CredentialRecord) -> StoreResult<()>;

    async fn find_credential(&self, key: &str) -> StoreResult<Option<CredentialRecord>>;

    async fn query_credentials(&self) -> StoreResult<Vec<CredentialRecord>>;

    /// Marks the credential revoked; false when no such key exists.
    async fn revoke_credential(&self, key: &str) -> StoreResult<bool>;

    // ---- Rules: evaluation ----

    /// Up to `limit` statements stored after `after`, voided or not, oldest first: what
    /// the rules have yet to evaluate.
    async fn statements_stored_after(&self, after: Micros, limit: usize) -> StoreResult<Vec<StoredStatement>>;

    /// Count and mean score of a learner's non-voided statements in a window; scans at
    /// most `HISTORY_SCAN_LIMIT` statements, newest first.
    async fn history(&self, filter: &HistoryFilter) -> StoreResult<HistoryCount>;

    /// `evaluated_through` of the last `commit_rules` (`None` before the first).
    async fn rules_evaluated_through(&self) -> StoreResult<Option<Micros>>;

    /// Writes the commit atomically (see `RulesCommit`).
    async fn commit_rules(&self, commit: RulesCommit) -> StoreResult<()>;

    /// The rule's value for `key`, unless missing or expired at `now`.
    async fn rule_state(&self, rule: &str, key: &str, now: Micros) -> StoreResult<Option<Value>>;

    /// Bytes of the rule's state, keys and values (as JSON text), not expired at `now`.
    async fn rule_state_bytes(&self, rule: &str, now: Micros) -> StoreResult<u64>;

    /// The rule's most recent run records, newest first.
    async fn rule_runs(&self, rule: &str, limit: usize) -> StoreResult<Vec<RuleRun>>;

    // ---- Rules: outbox and interventions ----

    /// Pending items due at `now`, earliest due first.
    async fn outbox_due(&self, now: Micros, limit: usize) -> StoreResult<Vec<OutboxItem>>;

    /// Items in a status, most recently updated first.
    async fn outbox_items(&self, status: OutboxStatus, limit: usize) -> StoreResult<Vec<OutboxItem>>;

    /// Records an attempt's outcome on a pending item; false when the item is not pending.
    async fn update_outbox(&self, key: &str, update: OutboxUpdate) -> StoreResult<bool>;

    /// Makes a dead-lettered item pending again, due at `now`, with its attempts reset;
    /// false when no dead letter has this key.
    async fn redrive_outbox(&self, key: &str, now: Micros) -> StoreResult<bool>;

    async fn query_interventions(&self, query: &InterventionQuery) -> StoreResult<Vec<Intervention>>;

    // ---- Skills: inference ----

    /// `evaluated_through` of the last `commit_skills` (`None` before the first, or after
    /// `reset_skills`).
    async fn skills_evaluated_through(&self) -> StoreResult<Option<Micros>>;

    /// The `framework` of the last `commit_skills` (`None` before the first).
    async fn skills_framework(&self) -> StoreResult<Option<String>>;

    /// Writes the commit atomically (see `SkillsCommit`).
    async fn commit_skills(&self, commit: SkillsCommit) -> StoreResult<()>;

    /// Removes every estimate, evidence record, item and the position: a rebuild starts
    /// from nothing.
    async fn reset_skills(&self) -> StoreResult<()>;

    // ---- Skills: queries ----

    /// Estimates matching the filter, by person then skill.
    async fn skill_estimates(&self, filter: &EstimateFilter) -> StoreResult<Vec<EstimateRecord>>;

    /// A person's evidence (for one skill, or all), oldest first, at most `limit`.
    async fn skill_evidence(&self, person: &str, skill: Option<&str>, limit: usize)
        -> StoreResult<Vec<EvidenceRecord>>;

    /// Every item difficulty learned so far.
    async fn skill_items(&self) -> StoreResult<Vec<ItemRecord>>;

    /// Direct evidence per skill and month from `since` (inclusive), by skill then month.
    async fn skill_evidence_volumes(&self, since: Micros) -> StoreResult<Vec<EvidenceVolume>>;

    // ---- Audit log ----

    /// Appends the entry with the next sequence number, chained to the last entry
    /// (`audit::chain_hash`), atomically; returns it as stored.
    async fn append_audit(&self, draft: AuditDraft) -> StoreResult<AuditEntry>;

    /// Entries after `after` (a sequence number; 0 for the start), oldest first, at most `limit`.
    async fn audit_entries(&self, after: u64, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    // ---- People: commands ----

    /// Writes the records atomically. A person already stored keeps the fields a record
    /// leaves `None` and takes the others, `updated` included; the later record of a
    /// person given twice wins.
    async fn upsert_people(&self, people: Vec<PersonRecord>) -> StoreResult<()>;

    // ---- People: queries ----

    /// Replaces the person's consent record.
    async fn set_consent(&self, consent: ConsentRecord) -> StoreResult<()>;

    /// Every consent record, by person.
    async fn consents(&self) -> StoreResult<Vec<ConsentRecord>>;

    /// The people stored under these IFI keys, by key.
    async fn find_people(&self, keys: &[String]) -> StoreResult<Vec<PersonRecord>>;

    /// The members of a team (exact name), by key.
    async fn people_in_team(&self, team: &str) -> StoreResult<Vec<PersonRecord>>;

    /// Every team with its number of members, by name.
    async fn teams(&self) -> StoreResult<Vec<TeamCount>>;

    /// Every State and Agent Profile document stored under one of these agent keys.
    async fn documents_of_agents(&self, keys: &[String]) -> StoreResult<Vec<AgentDocument>>;

    /// Rule-state entries (by key or value) and outbox items (by intent) whose text
    /// contains one of `needles`.
    async fn records_mentioning(&self, needles: &[String]) -> StoreResult<MentioningRecords>;

    /// Records a transparency-report link: the SHA-256 (hex) of its token, whom it shows,
    /// until when; expired links are removed on the way.
    async fn insert_report_link(&self, token_hash: &str, person: &str, expires: Micros) -> StoreResult<()>;

    /// Whom the link with this token hash shows, and until when.
    async fn find_report_link(&self, token_hash: &str) -> StoreResult<Option<(String, Micros)>>;

    // ---- Erasure (see `storage::erasure`; each step may be repeated) ----

    /// Records the job (replacing one with its id) and its tombstones, atomically.
    async fn begin_erasure(&self, job: ErasureJob) -> StoreResult<()>;

    /// Jobs recorded and not finished, oldest first.
    async fn pending_erasures(&self) -> StoreResult<Vec<ErasureJob>>;

    /// Removes up to `limit` statements (voided or not) having an Agent, RelatedAgent or
    /// Authority term with one of these IFI keys, own or inherited through a StatementRef,
    /// oldest first, with everything that finds them (index entries, in memory too) and the
    /// rule runs, outbox entries and interventions they triggered; atomically.
    async fn erase_statements(&self, keys: &[String], limit: usize) -> StoreResult<ErasedStatements>;

    /// Removes the statements with these ids (voided or not; missing ids are skipped) and
    /// everything that finds them, atomically: what retention deletes. What they triggered
    /// stays.
    async fn delete_statements(&self, ids: &[Uuid]) -> StoreResult<ErasedStatements>;

    /// Removes the job's person's records (see `ErasedRecords`), atomically.
    async fn erase_records(&self, job: &ErasureJob) -> StoreResult<ErasedRecords>;

    /// Removes the job's record; its tombstones stay.
    async fn finish_erasure(&self, id: &str) -> StoreResult<()>;

    /// Whether any stored statement carries an attachment with this SHA-2.
    async fn attachment_in_use(&self, sha2: &str) -> StoreResult<bool>;

    /// Every tombstone, by hash.
    async fn tombstones(&self) -> StoreResult<Vec<Tombstone>>;

    /// Makes deleted data unrecoverable from the files: no old copy of a deleted row stays
    /// in a journal or in free space. `rewrite` rewrites the whole store (slow, blocks
    /// writes); without it only what the backend can do cheaply is done.
    async fn purge_deleted(&self, rewrite: bool) -> StoreResult<()>;

    /// The files holding the store's data, for a check that erased data is gone.
    fn data_files(&self) -> Vec<std::path::PathBuf>;

    // ---- Badges (issued credentials): commands ----

    /// `count` fresh positions in the revocation status lists, never handed out before:
    /// returns the first of them (positions not then used leave unused bits).
    async fn reserve_badge_status(&self, count: u64) -> StoreResult<u64>;

    /// Stores the credential and queues its outbox items, unless one with the same award key
    /// exists or, for an exclusive commit, the person holds an unrevoked one for the
    /// achievement: then nothing is written and that one is returned.
    async fn insert_badge(&self, commit: BadgeCommit) -> StoreResult<BadgeInsert>;

    /// Marks the credential revoked at `at` for `reason`; a revoked one stays as it was.
    async fn revoke_badge(&self, id: &str, at: Micros, reason: &str) -> StoreResult<RevokeOutcome>;

    // ---- Badges: queries ----

    async fn find_badge(&self, id: &str) -> StoreResult<Option<BadgeRecord>>;

    async fn find_badge_by_award(&self, award_key: &str) -> StoreResult<Option<BadgeRecord>>;

    /// Newest first, at most `filter.limit`.
    async fn query_badges(&self, filter: &BadgeFilter) -> StoreResult<Vec<BadgeRecord>>;

    /// The status positions in `from..until` of revoked credentials, ascending.
    async fn revoked_badge_positions(&self, from: u64, until: u64) -> StoreResult<Vec<u64>>;
}

/// The most statements a history summary reads: rules stay cheap on prolific learners.
pub const HISTORY_SCAN_LIMIT: usize = 10_000;

/// Completes stored JSON: appends `stored` (and `timestamp` when it defaults to `stored`)
/// to the object text. Shared by every backend so the output is identical.
pub fn finish_statement_json(json: &str, stored: Micros, timestamp_from_stored: bool) -> String {
    let stored_text = crate::xapi::time::format_micros(stored);
    let body = json.trim_end();
    let body = body.strip_suffix('}').unwrap_or(body);
    let mut out = String::with_capacity(body.len() + 80);
    out.push_str(body);
    let empty_object = body.trim_end().ends_with('{');
    if !empty_object {
        out.push(',');
    }
    out.push_str("\"stored\":\"");
    out.push_str(&stored_text);
    out.push('"');
    if timestamp_from_stored {
        out.push_str(",\"timestamp\":\"");
        out.push_str(&stored_text);
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_json_gains_stored_and_the_defaulted_timestamp() {
        let done = finish_statement_json(r#"{"id":"x"}"#, 0, true);
        let value: Value = serde_json::from_str(&done).unwrap();
        assert_eq!(value["stored"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(value["timestamp"], value["stored"]);
        assert_eq!(value["id"], "x");
    }
}

//! The Statement resource's rules: validation, preparation, immutability (idempotent
//! replays accepted, conflicting re-sends refused), atomic batches, voiding, queries and
//! output formats. Announces each commit to in-process consumers (the rules).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::watch;
use uuid::Uuid;

use crate::auth::{Access, Principal, ReadReach};
use crate::error::{ApiError, ErrorCode};
use crate::governance::erased::ErasedIdentities;
use crate::storage::blobs::AttachmentStore;
use crate::storage::{IndexTerm, NewStatement, StatementBatch, StatementQuery, StorageError, Store, StoredStatement};
use crate::validation;
use crate::xapi::activity::{activity_definitions, merge_definition};
use crate::xapi::agent::ifi_key;
use crate::xapi::equivalence::statements_equivalent;
use crate::xapi::format::{activity_ids, to_canonical_format, to_ids_format, AcceptLanguage};
use crate::xapi::multipart::Part;
use crate::xapi::prepare::{prepare_statement, PrepareContext, Prepared};
use crate::xapi::terms::{index_terms, is_voiding, object_statement_ref};
use crate::xapi::time::Micros;
use crate::xapi::XapiVersion;

/// Concurrent writers of the same ids can race between the conflict check and the insert;
/// the check is simply run again.
const INSERT_ATTEMPTS: usize = 4;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Exact,
    Ids,
    Canonical,
}

impl Format {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "exact" => Some(Self::Exact),
            "ids" => Some(Self::Ids),
            "canonical" => Some(Self::Canonical),
            _ => None,
        }
    }
}

pub struct StatementService {
    store: Arc<dyn Store>,
    blobs: Arc<AttachmentStore>,
    committed: watch::Sender<Micros>,
    max_page_size: usize,
    stored_counter: Option<prometheus::IntCounter>,
    /// Statements naming an erased person are refused or flagged here.
    erased: Option<Arc<ErasedIdentities>>,
    /// Held (shared) from writing a batch's attachment files until the batch is stored,
    /// and (alone) while erasure removes files no statement uses: a file being written for
    /// a new statement is never taken away under it.
    attachment_files: tokio::sync::RwLock<()>,
}

impl StatementService {
    pub fn new(store: Arc<dyn Store>, blobs: Arc<AttachmentStore>, max_page_size: usize) -> Self {
        let committed = watch::Sender::new(0);
        let attachment_files = tokio::sync::RwLock::new(());
        Self { store, blobs, committed, max_page_size, stored_counter: None, erased: None, attachment_files }
    }

    /// Checks every incoming statement against the erased (see `governance::erased`).
    pub fn guarding_erased(mut self, erased: Arc<ErasedIdentities>) -> Self {
        self.erased = Some(erased);
        self
    }

    pub fn erased(&self) -> Option<&Arc<ErasedIdentities>> {
        self.erased.as_ref()
    }

    /// Deletes the attachment files with these hashes that no stored statement carries;
    /// returns how many it deleted.
    pub async fn remove_unused_attachments(&self, hashes: &[String]) -> Result<u64, ApiError> {
        let _alone = self.attachment_files.write().await;
        let mut removed = 0;
        for hash in hashes {
            if self.store.attachment_in_use(hash).await? {
                continue;
            }
            let blobs = self.blobs.clone();
            let hash = hash.clone();
            let gone = tokio::task::spawn_blocking(move || blobs.remove(&hash))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            removed += u64::from(gone);
        }
        Ok(removed)
    }

    /// Counts every statement committed through this service into `counter`.
    pub fn counting_into(mut self, counter: prometheus::IntCounter) -> Self {
        self.stored_counter = Some(counter);
        self
    }

    /// The `stored` of the latest statement committed through this service, updated after
    /// each commit: consumers wake on it and read what is new from the store.
    pub fn watch_committed(&self) -> watch::Receiver<Micros> {
        self.committed.subscribe()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Stores one statement (`put_id` from a PUT's `statementId`) or a batch, all or
    /// nothing, with the attachment data received as multipart `parts`, and returns the
    /// ids in the order given.
    pub async fn store_statements(
        &self,
        principal: &Principal,
        version: XapiVersion,
        body: Value,
        put_id: Option<Uuid>,
        parts: Vec<Part>,
    ) -> Result<Vec<Uuid>, ApiError> {
        principal.require(Access::WriteStatements)?;
        let in_batch = body.is_array();
        let statements = match (body, put_id) {
            (Value::Object(one), Some(id)) => {
                check_body_id(&one, id)?;
                let one = Value::Object(one);
                validation::validate_statement(&one, version)?;
                vec![one]
            }
            (Value::Array(_), Some(_)) => {
                return Err(ApiError::new(ErrorCode::InvalidStatement, "PUT takes one statement object, not an array"))
            }
            (body, _) => {
                validation::validate_statements(&body, version)?;
                match body {
                    Value::Array(many) => many,
                    one => vec![one],
                }
            }
        };
        if let Some(erased) = &self.erased {
            erased.check(&statements)?;
        }
        let data = super::attachments::check_parts(&statements, parts, in_batch)?;
        let _files_in_use = match data.is_empty() {
            true => None,
            false => Some(self.attachment_files.read().await),
        };
        self.store_attachment_data(data).await?;
        let context = PrepareContext { version, authority: &principal.authority, statement_id: put_id };
        let prepared: Vec<Prepared> = statements.into_iter().map(|s| prepare_statement(s, &context)).collect();
        let ids: Vec<Uuid> = prepared.iter().map(|p| p.id).collect();
        let may_define = principal.may(Access::Define);
        self.insert_new(prepared, may_define).await?;
        Ok(ids)
    }

    /// Writes attachment bytes (once per hash, durably) before the statements that use
    /// them are committed.
    async fn store_attachment_data(&self, data: HashMap<String, Part>) -> Result<(), ApiError> {
        if data.is_empty() {
            return Ok(());
        }
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || data.iter().try_for_each(|(hash, part)| blobs.insert(hash, &part.body)))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }

    /// The stored attachment files of each statement, in order: opened, not read, so an
    /// answer can stream them.
    pub async fn attachment_files(&self, statements: &[StoredStatement]) -> Result<Vec<Vec<AttachmentFile>>, ApiError> {
        let wanted: Vec<Vec<(String, String)>> = statements
            .iter()
            .map(|s| {
                serde_json::from_str::<Value>(&s.json)
                    .map(|value| super::attachments::stored_hashes(std::slice::from_ref(&value)))
                    .unwrap_or_default()
            })
            .collect();
        if wanted.iter().all(Vec::is_empty) {
            return Ok(statements.iter().map(|_| Vec::new()).collect());
        }
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || {
            let mut files = Vec::with_capacity(wanted.len());
            for hashes in wanted {
                let mut found = Vec::new();
                for (sha2, content_type) in hashes {
                    if let Some((file, len)) = blobs.open_file(&sha2)? {
                        found.push(AttachmentFile { content_type, sha2, file, len });
                    }
                }
                files.push(found);
            }
            Ok::<_, anyhow::Error>(files)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
    }

    /// Inserts optimistically: most statements are new, so existing ids are only looked up
    /// (to accept replays and refuse conflicts) when the store reports some.
    async fn insert_new(&self, mut pending: Vec<Prepared>, may_define: bool) -> Result<(), ApiError> {
        for _ in 0..INSERT_ATTEMPTS {
            if pending.is_empty() {
                return Ok(());
            }
            let batch = build_batch(&pending, may_define);
            match self.store.insert_statements(batch).await {
                Ok(stored) => {
                    self.publish(&stored);
                    return Ok(());
                }
                Err(StorageError::AlreadyStored(_)) => pending = self.drop_replays(pending).await?,
                Err(other) => return Err(other.into()),
            }
        }
        Err(ApiError::new(ErrorCode::StatementConflict, "the statements were being written concurrently; retry"))
    }

    /// Refuses a re-sent id whose content differs; drops exact replays (already stored).
    async fn drop_replays(&self, pending: Vec<Prepared>) -> Result<Vec<Prepared>, ApiError> {
        let ids: Vec<Uuid> = pending.iter().map(|p| p.id).collect();
        let existing = self.store.find_statements(&ids).await?;
        if existing.is_empty() {
            return Ok(pending);
        }
        let mut stored_by_id: HashMap<Uuid, Value> = HashMap::new();
        for statement in existing {
            let value: Value = serde_json::from_str(&statement.json).map_err(ApiError::internal)?;
            stored_by_id.insert(statement.id, value);
        }
        for candidate in &pending {
            if let Some(stored) = stored_by_id.get(&candidate.id) {
                if !statements_equivalent(stored, &candidate.statement) {
                    return Err(ApiError::new(
                        ErrorCode::StatementConflict,
                        format!(
                            "id: statement {} is already stored with different content; statements are immutable",
                            candidate.id
                        ),
                    ));
                }
            }
        }
        Ok(pending.into_iter().filter(|p| !stored_by_id.contains_key(&p.id)).collect())
    }

    fn publish(&self, stored: &[Micros]) {
        if let Some(counter) = &self.stored_counter {
            counter.inc_by(stored.len() as u64);
        }
        if let Some(&latest) = stored.iter().max() {
            self.committed.send_if_modified(|current| {
                let newer = latest > *current;
                *current = (*current).max(latest);
                newer
            });
        }
    }

    /// One statement by id: `voided` selects `voidedStatementId` semantics.
    pub async fn find_statement(
        &self,
        principal: &Principal,
        id: Uuid,
        voided: bool,
    ) -> Result<StoredStatement, ApiError> {
        principal.require(Access::ReadStatements)?;
        let found = self.store.find_statements(&[id]).await?.into_iter().next();
        let visible = found.filter(|s| s.voided == voided).filter(|s| readable_by(principal, s));
        visible.ok_or_else(|| {
            let which = if voided { "voided statement" } else { "statement" };
            ApiError::not_found(format!("no {which} with id {id}"))
        })
    }

    /// A page of matching statements, newest first unless `ascending`. The query is the
    /// client's: a `limit` of 0 (or above the maximum) means the server's page size, and
    /// a `statements/read/mine` reader only sees its own statements.
    pub async fn query_statements(
        &self,
        principal: &Principal,
        query: &StatementQuery,
    ) -> Result<(Vec<StoredStatement>, bool), ApiError> {
        principal.require(Access::ReadStatements)?;
        let mut query = query.clone();
        if principal.read_reach() == ReadReach::OnlyMine {
            // Without its own identifier the reader could otherwise see everything.
            let mine = ifi_key(&principal.authority).ok_or_else(|| no_identifier(principal))?;
            query.terms.push(IndexTerm::Authority(mine));
        }
        query.limit = match query.limit {
            0 => self.max_page_size,
            n => n.min(self.max_page_size),
        };
        let page = self.store.query_statements(&query).await?;
        Ok((page.statements, page.more))
    }

    /// The statements as JSON text in the asked format.
    pub async fn render(
        &self,
        statements: &[StoredStatement],
        format: Format,
        languages: &AcceptLanguage,
    ) -> Result<Vec<String>, ApiError> {
        if format == Format::Exact {
            return Ok(statements.iter().map(|s| s.json.clone()).collect());
        }
        let values: Vec<Value> = statements
            .iter()
            .map(|s| serde_json::from_str(&s.json))
            .collect::<Result<_, _>>()
            .map_err(ApiError::internal)?;
        let rendered: Vec<Value> = match format {
            Format::Ids => values.iter().map(to_ids_format).collect(),
            _ => {
                let mut ids: Vec<String> = values.iter().flat_map(activity_ids).collect();
                ids.sort();
                ids.dedup();
                let definitions: HashMap<String, Value> =
                    self.store.find_activity_definitions(&ids).await?.into_iter().collect();
                values.iter().map(|v| to_canonical_format(v, &definitions, languages)).collect()
            }
        };
        Ok(rendered.iter().map(|v| v.to_string()).collect())
    }

    pub fn consistent_through(&self) -> Micros {
        self.store.consistent_through()
    }
}

fn check_body_id(statement: &serde_json::Map<String, Value>, put_id: Uuid) -> Result<(), ApiError> {
    match statement.get("id") {
        None => Ok(()),
        Some(Value::String(text)) if Uuid::parse_str(text).ok() == Some(put_id) => Ok(()),
        Some(other) => Err(ApiError::new(
            ErrorCode::InvalidStatement,
            format!("id: {other} must equal the statementId parameter {put_id}"),
        )),
    }
}

fn build_batch(pending: &[Prepared], may_define: bool) -> StatementBatch {
    let statements = pending
        .iter()
        .map(|p| {
            let object_ref = object_statement_ref(&p.statement);
            NewStatement {
                id: p.id,
                json: statement_text(&p.statement),
                timestamp_from_stored: p.timestamp_from_stored,
                terms: index_terms(&p.statement),
                object_ref,
                is_voiding: object_ref.is_some() && is_voiding(&p.statement),
            }
        })
        .collect();
    let activity_definitions = if may_define { merged_definitions(pending) } else { Vec::new() };
    StatementBatch { statements, activity_definitions, merge_definition, agents: latest_agents(pending) }
}

/// The statement as stored. `Value::to_string` starts from a 128-byte buffer and grows it
/// three or four times for a typical statement; one right-sized buffer saves the copies.
fn statement_text(statement: &Value) -> String {
    const TYPICAL_STATEMENT_BYTES: usize = 1536;
    let mut text = Vec::with_capacity(TYPICAL_STATEMENT_BYTES);
    serde_json::to_writer(&mut text, statement).expect("a JSON value always serialises");
    String::from_utf8(text).expect("serde_json writes UTF-8")
}

/// The batch's activity definitions, one per activity (merged in statement order), so the
/// writer merges each activity once per batch. A definition is copied only when it first
/// appears or differs from the one merged so far.
fn merged_definitions(pending: &[Prepared]) -> Vec<(String, Value)> {
    let mut merged: Vec<(String, Value)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (id, definition) in pending.iter().flat_map(|p| activity_definitions(&p.statement)) {
        match index.get(id) {
            Some(&at) if merged[at].1 == *definition => {}
            Some(&at) => merge_definition(&mut merged[at].1, definition),
            None => {
                index.insert(id, merged.len());
                merged.push((id.to_string(), definition.clone()));
            }
        }
    }
    merged
}

/// The latest form of each identified agent the batch names as actor or object (and of
/// their group members), remembered to build Person objects; earlier forms need not reach
/// the writer, so they are not copied.
fn latest_agents(pending: &[Prepared]) -> Vec<(String, Value)> {
    let mut seen = std::collections::HashSet::new();
    let mut latest = Vec::new();
    for prepared in pending.iter().rev() {
        for (key, agent) in named_agents(&prepared.statement).into_iter().rev() {
            if !seen.contains(&key) {
                latest.push((key.clone(), agent.clone()));
                seen.insert(key);
            }
        }
    }
    latest
}

/// The identified agents of one statement, in document order, with their IFI keys.
fn named_agents(statement: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    let object = &statement["object"];
    let object_is_agent = matches!(object["objectType"].as_str(), Some("Agent" | "Group"));
    let candidates = std::iter::once(&statement["actor"]).chain(object_is_agent.then_some(object));
    for agent in candidates {
        let members = agent["member"].as_array().into_iter().flatten();
        for one in std::iter::once(agent).chain(members) {
            if let Some(key) = ifi_key(one) {
                found.push((key, one));
            }
        }
    }
    found
}

/// A stored attachment, open for reading.
#[derive(Debug)]
pub struct AttachmentFile {
    pub content_type: String,
    pub sha2: String,
    pub file: std::fs::File,
    pub len: u64,
}

/// Whether a `statements/read/mine` reader may see this statement.
fn readable_by(principal: &Principal, statement: &StoredStatement) -> bool {
    if principal.read_reach() == ReadReach::Everything {
        return true;
    }
    let Ok(value) = serde_json::from_str::<Value>(&statement.json) else { return false };
    match (ifi_key(&value["authority"]), ifi_key(&principal.authority)) {
        (Some(author), Some(reader)) => author == reader,
        _ => false,
    }
}

fn no_identifier(principal: &Principal) -> ApiError {
    ApiError::new(
        ErrorCode::MissingScope,
        format!("credential {:?}: statements/read/mine needs an authority with an identifier", principal.key),
    )
}

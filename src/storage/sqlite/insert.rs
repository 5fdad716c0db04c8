//! Writes one statement batch inside the writer's open transaction: conflict check, `stored`
//! values, terms, voiding, targeting-rule inheritance and activity definitions. Called by
//! `writer` only, inside its transaction. A conflict is found before anything is written;
//! the writer rolls back any later failure.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use uuid::Uuid;

use super::consistency::StoredClock;
use super::terms::{StatementKeys, TermSet};
use super::unindexed::{BulkIndexer, SharedUnindexed, Unindexed};
use crate::storage::contract::{finish_statement_json, NewStatement, StatementBatch, StorageError, StoreResult};
use crate::xapi::time::Micros;

/// Recent values the writer read or wrote, by key, so what statement after statement
/// repeats costs no read and no write. Only the writer changes the tables behind them; the
/// caches are cleared whenever a write is rolled back.
pub(super) struct RecentValues<V> {
    known: HashMap<String, V>,
}

impl<V> Default for RecentValues<V> {
    fn default() -> Self {
        Self { known: HashMap::new() }
    }
}

impl<V> RecentValues<V> {
    const CAPACITY: usize = 20_000;

    fn clear(&mut self) {
        self.known.clear();
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.known.get(key)
    }

    fn remember(&mut self, key: &str, value: V) {
        if self.known.len() >= Self::CAPACITY {
            self.known.clear();
        }
        self.known.insert(key.to_string(), value);
    }
}

/// A canonical definition as stored, and the incoming definition last merged into it.
struct KnownDefinition {
    stored: Value,
    last_merged: Value,
}

/// What the writer keeps from one statement batch to the next.
pub(super) struct InsertContext {
    definitions: RecentValues<KnownDefinition>,
    /// Each agent's form as last written to `agents`.
    agents: RecentValues<Value>,
    pub index: BulkIndexer,
}

impl InsertContext {
    /// The context of a writer on `conn`, and the unindexed entries it shares with reads;
    /// a bulk index write of at most `chunk` statements once `index_batch_statements` are
    /// unindexed.
    pub(super) fn open(
        conn: &Connection,
        index_batch_statements: usize,
        chunk: usize,
    ) -> anyhow::Result<(Self, SharedUnindexed)> {
        let shared = Arc::new(RwLock::new(Unindexed::load(conn)?));
        let index = BulkIndexer::new(shared.clone(), index_batch_statements, chunk);
        Ok((Self { definitions: RecentValues::default(), agents: RecentValues::default(), index }, shared))
    }

    /// Forgets the remembered agents and definitions (an erasure removed some rows).
    pub(super) fn forget_recent(&mut self) {
        self.definitions.clear();
        self.agents.clear();
    }

    /// Forgets what a rolled-back transaction read or wrote.
    pub(super) fn rolled_back(&mut self) {
        self.definitions.clear();
        self.agents.clear();
        self.index.rolled_back();
    }
}

/// A batch with its statements' term keys, hashed by the submitting thread so the writer
/// thread, which every write waits for, spends no time on it.
pub(super) struct KeyedBatch {
    batch: StatementBatch,
    keys: Vec<StatementKeys>,
}

impl KeyedBatch {
    pub(super) fn new(batch: StatementBatch) -> Self {
        let keys = batch.statements.iter().map(|statement| StatementKeys::of(&statement.terms)).collect();
        Self { batch, keys }
    }

    pub(super) fn len(&self) -> usize {
        self.batch.statements.len()
    }
}

/// Stores the batch, assigning `stored` values in order. `AlreadyStored` lists every id that
/// is stored already or repeated within the batch.
pub(super) fn insert_batch(
    conn: &Connection,
    clock: &mut StoredClock,
    keyed: &KeyedBatch,
    context: &mut InsertContext,
) -> StoreResult<Vec<Micros>> {
    let batch = &keyed.batch;
    reject_known_ids(conn, &context.index, &batch.statements)?;
    let mut stored_values = Vec::with_capacity(batch.statements.len());
    let mut term_rows = Vec::new();
    for (statement, keys) in batch.statements.iter().zip(&keyed.keys) {
        let stored = clock.next_stored();
        insert_statement(conn, &mut context.index, stored, statement, keys, &mut term_rows)
            .with_context(|| format!("storing statement {}", statement.id))?;
        stored_values.push(stored);
    }
    context.index.add_rows(conn, term_rows).context("indexing the statements' terms")?;
    merge_activity_definitions(conn, batch, &mut context.definitions).context("merging activity definitions")?;
    remember_agents(conn, batch, &mut context.agents).context("remembering agents")?;
    Ok(stored_values)
}

fn reject_known_ids(conn: &Connection, index: &BulkIndexer, statements: &[NewStatement]) -> StoreResult<()> {
    let mut seen = HashSet::with_capacity(statements.len());
    let mut conflicts = Vec::new();
    for statement in statements {
        let known = index.stored_of(conn, &statement.id).context("checking statement ids")?.is_some();
        let repeated = !seen.insert(statement.id);
        if (known || repeated) && !conflicts.contains(&statement.id) {
            conflicts.push(statement.id);
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(StorageError::AlreadyStored(conflicts))
    }
}

/// Writes the statement row; its term rows (own and inherited) are added to `term_rows`.
fn insert_statement(
    conn: &Connection,
    index: &mut BulkIndexer,
    stored: Micros,
    statement: &NewStatement,
    keys: &StatementKeys,
    term_rows: &mut Vec<(i64, Micros)>,
) -> anyhow::Result<()> {
    let mut inheritable = keys.inheritable.clone();
    let target_stored = statement.object_ref.map(|target| index.stored_of(conn, &target)).transpose()?.flatten();
    if let Some(target_stored) = target_stored {
        if let Some(target_terms) = find_inheritable_terms(conn, target_stored)? {
            inheritable.extend(&target_terms);
        }
    }
    let voided = !statement.is_voiding && is_voiding_target(conn, statement.id)?;
    let json = finish_statement_json(&statement.json, stored, statement.timestamp_from_stored);
    conn.prepare_cached(
        "INSERT INTO statements
             (stored, id, json, voided, is_voiding, object_ref, inheritable_terms, uninherited_terms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        stored,
        statement.id.as_bytes(),
        json,
        voided,
        statement.is_voiding,
        statement.object_ref.as_ref().map(Uuid::as_bytes),
        inheritable.encode(),
        keys.uninherited.encode(),
    ])?;
    index.add_id(statement.id, stored);
    // Inheritable keys (own and inherited) and uninherited ones are disjoint: Authority
    // keys are never inherited.
    term_rows.extend(keys.uninherited.iter().chain(inheritable.iter()).map(|key| (key, stored)));
    if let (true, Some(target_stored)) = (statement.is_voiding, target_stored) {
        conn.prepare_cached("UPDATE statements SET voided = 1 WHERE stored = ?1 AND is_voiding = 0")?
            .execute([target_stored])?;
    }
    insert_inherited_terms(conn, statement.id, stored, &inheritable, term_rows)
}

/// The inheritable terms of the statement stored at `stored`.
fn find_inheritable_terms(conn: &Connection, stored: Micros) -> anyhow::Result<Option<TermSet>> {
    let packed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT inheritable_terms FROM statements WHERE stored = ?1")?
        .query_row([stored], |row| row.get(0))
        .optional()?;
    packed.map(|packed| TermSet::decode(&packed)).transpose()
}

/// Whether a stored voiding statement targets this id (it may have arrived first).
fn is_voiding_target(conn: &Connection, id: Uuid) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM statements WHERE object_ref = ?1 AND is_voiding = 1")?
        .exists([id.as_bytes()])?)
}

/// The targeting rule for references stored before their target: every statement that
/// references `id`, directly or through a chain of references, inherits `terms` (the new
/// statement's inheritable terms). Each statement is visited once, so reference cycles end.
fn insert_inherited_terms(
    conn: &Connection,
    id: Uuid,
    stored: Micros,
    terms: &TermSet,
    term_rows: &mut Vec<(i64, Micros)>,
) -> anyhow::Result<()> {
    if terms.is_empty() {
        return Ok(());
    }
    let mut visited = HashSet::from([stored]);
    let mut pending = vec![id];
    while let Some(target) = pending.pop() {
        let referrers = find_referrers(conn, target)?;
        for (referrer_stored, referrer_id, packed) in referrers {
            if !visited.insert(referrer_stored) {
                continue;
            }
            let mut inherited = TermSet::decode(&packed)?;
            inherited.extend(terms);
            conn.prepare_cached("UPDATE statements SET inheritable_terms = ?1 WHERE stored = ?2")?
                .execute(params![inherited.encode(), referrer_stored])?;
            term_rows.extend(terms.iter().map(|key| (key, referrer_stored)));
            pending.push(referrer_id);
        }
    }
    Ok(())
}

fn find_referrers(conn: &Connection, id: Uuid) -> anyhow::Result<Vec<(Micros, Uuid, Vec<u8>)>> {
    let mut query =
        conn.prepare_cached("SELECT stored, id, inheritable_terms FROM statements WHERE object_ref = ?1")?;
    let rows = query.query_map([id.as_bytes()], |row| {
        let id: [u8; 16] = row.get(1)?;
        Ok((row.get(0)?, Uuid::from_bytes(id), row.get(2)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Applies the batch's merge function to each stored definition, or stores the incoming one.
/// The merge is idempotent, so an incoming definition equal to the last one merged into a
/// definition changes nothing: most statements repeat their activity's definition.
fn merge_activity_definitions(
    conn: &Connection,
    batch: &StatementBatch,
    cache: &mut RecentValues<KnownDefinition>,
) -> anyhow::Result<()> {
    for (id, incoming) in &batch.activity_definitions {
        let stored = match cache.get(id) {
            Some(known) if known.last_merged == *incoming => continue,
            Some(known) => Some(known.stored.clone()),
            None => {
                let text: Option<String> = conn
                    .prepare_cached("SELECT definition FROM activities WHERE id = ?1")?
                    .query_row([id], |row| row.get(0))
                    .optional()?;
                text.map(|t| serde_json::from_str::<Value>(&t))
                    .transpose()
                    .with_context(|| format!("reading the stored definition of {id}"))?
            }
        };
        let (merged, changed) = match stored {
            Some(mut definition) => {
                let before = definition.clone();
                (batch.merge_definition)(&mut definition, incoming);
                let changed = definition != before;
                (definition, changed)
            }
            None => (incoming.clone(), true),
        };
        if changed {
            conn.prepare_cached(
                "INSERT INTO activities (id, definition) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET definition = excluded.definition",
            )?
            .execute(params![id, merged.to_string()])?;
        }
        cache.remember(id, KnownDefinition { stored: merged, last_merged: incoming.clone() });
    }
    Ok(())
}

/// Keeps the latest form of each agent the batch names.
fn remember_agents(conn: &Connection, batch: &StatementBatch, cache: &mut RecentValues<Value>) -> anyhow::Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO agents (ifi, agent) VALUES (?1, ?2)
         ON CONFLICT (ifi) DO UPDATE SET agent = excluded.agent WHERE agent <> excluded.agent",
    )?;
    for (key, agent) in &batch.agents {
        if cache.get(key) == Some(agent) {
            continue;
        }
        upsert.execute(params![key, agent.to_string()])?;
        cache.remember(key, agent.clone());
    }
    Ok(())
}

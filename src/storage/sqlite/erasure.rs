//! Erasure in SQLite: the recorded jobs and tombstones, the statement step (rows, index
//! entries in the tables and in memory, and what the statements triggered), the
//! person-record step, and purging freed space from the files. Writer jobs run inside the
//! writer's transaction, except `purge`, which runs between transactions. The writer
//! connection has `secure_delete` on, so every deleted row is overwritten with zeros in the
//! pages that held it; `purge` then checkpoints the WAL and truncates it, so old copies of
//! those pages leave the WAL file too.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Context};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use uuid::Uuid;

use super::terms::{term_key, TermSet};
use super::unindexed::BulkIndexer;
use crate::storage::contract::IndexTerm;
use crate::storage::erasure::{ErasedRecords, ErasedStatements, ErasureJob, Tombstone};
use crate::xapi::time::Micros;

// ---- Jobs and tombstones ----

/// Records the job and its tombstones (both idempotent).
pub(super) fn begin_erasure(conn: &Connection, job: &ErasureJob) -> anyhow::Result<()> {
    let text = serde_json::to_string(job).context("encoding an erasure job")?;
    conn.prepare_cached("INSERT OR REPLACE INTO erasure_jobs (id, job) VALUES (?1, ?2)")?
        .execute(params![job.id, text])?;
    let mut tombstone = conn.prepare_cached("INSERT OR IGNORE INTO tombstones (hash, erased) VALUES (?1, ?2)")?;
    for hash in &job.tombstones {
        tombstone.execute(params![hash, job.requested])?;
    }
    Ok(())
}

pub(super) fn finish_erasure(conn: &Connection, id: &str) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM erasure_jobs WHERE id = ?1")?.execute([id])?;
    Ok(())
}

pub(super) fn pending_erasures(conn: &Connection) -> anyhow::Result<Vec<ErasureJob>> {
    let mut select = conn.prepare_cached("SELECT job FROM erasure_jobs ORDER BY rowid")?;
    let texts = select.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    texts.iter().map(|text| serde_json::from_str(text).context("decoding a recorded erasure job")).collect()
}

pub(super) fn tombstones(conn: &Connection) -> anyhow::Result<Vec<Tombstone>> {
    let mut select = conn.prepare_cached("SELECT hash, erased FROM tombstones ORDER BY hash")?;
    let rows = select.query_map([], |row| Ok(Tombstone { hash: row.get(0)?, erased: row.get(1)? }))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

// ---- The statement step ----

/// The term keys a statement naming one of `keys` anywhere is stored under: as actor or
/// object (and group member), as any related agent (instructor, team, sub-statement) and as
/// authority. Inherited rows make a statement referring to theirs match too, so voiding and
/// other StatementRef chains go with them.
fn person_term_keys(keys: &[String]) -> Vec<i64> {
    keys.iter()
        .flat_map(|key| {
            [IndexTerm::Agent(key.clone()), IndexTerm::RelatedAgent(key.clone()), IndexTerm::Authority(key.clone())]
        })
        .map(|term| term_key(&term))
        .collect()
}

/// Removes up to `limit` statements naming the person, oldest first, with their index
/// entries and the rule runs, outbox entries and interventions they triggered.
pub(super) fn erase_statements(
    conn: &Connection,
    index: &mut BulkIndexer,
    keys: &[String],
    limit: usize,
) -> anyhow::Result<ErasedStatements> {
    let term_keys = person_term_keys(keys);
    let mut found: BTreeSet<Micros> = index.unindexed_under(&term_keys).into_iter().collect();
    let mut indexed =
        conn.prepare_cached("SELECT stored FROM statement_terms WHERE term = ?1 ORDER BY stored LIMIT ?2")?;
    for key in &term_keys {
        let rows = indexed.query_map(params![key, limit as i64 + 1], |row| row.get::<_, Micros>(0))?;
        for stored in rows {
            found.insert(stored?);
        }
    }
    let mut erased = ErasedStatements { more: found.len() > limit, ..ErasedStatements::default() };
    let mut attachments = BTreeSet::new();
    for stored in found.into_iter().take(limit) {
        let Some(removed) = erase_statement(conn, index, stored)? else { continue };
        erased.statements += 1;
        erased.triggered += erase_triggered(conn, &removed.id)?;
        attachments.extend(removed.attachments);
    }
    erased.attachments = attachments.into_iter().collect();
    Ok(erased)
}

/// Removes the statements with these ids (voided or not; missing ones are skipped), with
/// their index entries; what they triggered stays (retention keeps the rules' records).
pub(super) fn delete_statements(
    conn: &Connection,
    index: &mut BulkIndexer,
    ids: &[Uuid],
) -> anyhow::Result<ErasedStatements> {
    let mut deleted = ErasedStatements::default();
    let mut attachments = BTreeSet::new();
    for id in ids {
        let Some(stored) = index.stored_of(conn, id)? else { continue };
        if let Some(removed) = erase_statement(conn, index, stored)? {
            deleted.statements += 1;
            attachments.extend(removed.attachments);
        }
    }
    deleted.attachments = attachments.into_iter().collect();
    Ok(deleted)
}

struct RemovedStatement {
    id: Uuid,
    attachments: Vec<String>,
}

/// Deletes one statement's row, its term rows and its id row; `None` if it is gone already
/// (an index row outlived it: the row is removed too).
fn erase_statement(
    conn: &Connection,
    index: &mut BulkIndexer,
    stored: Micros,
) -> anyhow::Result<Option<RemovedStatement>> {
    let row = conn
        .prepare_cached("SELECT id, json, inheritable_terms, uninherited_terms FROM statements WHERE stored = ?1")?
        .query_row([stored], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Vec<u8>>(2)?,
                row.get::<_, Option<Vec<u8>>>(3)?,
            ))
        })
        .optional()?;
    let Some((id, json, inheritable, uninherited)) = row else {
        conn.prepare_cached("DELETE FROM statement_terms WHERE stored = ?1")?.execute([stored])?;
        return Ok(None);
    };
    let id = Uuid::from_slice(&id).context("a stored statement id is not 16 bytes")?;
    let mut term_keys = TermSet::decode(&inheritable)?;
    if let Some(packed) = uninherited {
        term_keys.extend(&TermSet::decode(&packed)?);
    }
    let term_keys: Vec<i64> = term_keys.iter().collect();
    let mut delete_term = conn.prepare_cached("DELETE FROM statement_terms WHERE term = ?1 AND stored = ?2")?;
    for key in &term_keys {
        delete_term.execute(params![key, stored])?;
    }
    conn.prepare_cached("DELETE FROM statement_ids WHERE id = ?1")?.execute([id.as_bytes()])?;
    conn.prepare_cached("DELETE FROM statements WHERE stored = ?1")?.execute([stored])?;
    index.remove_on_commit(term_keys, stored, id);
    Ok(Some(RemovedStatement { id, attachments: attachment_hashes(&json) }))
}

/// The SHA-2 of the statement's attachments (a sub-statement cannot carry any).
fn attachment_hashes(json: &str) -> Vec<String> {
    if !json.contains("\"attachments\"") {
        return Vec::new();
    }
    let Ok(statement) = serde_json::from_str::<Value>(json) else { return Vec::new() };
    let attachments = statement.get("attachments").and_then(Value::as_array);
    attachments.into_iter().flatten().filter_map(|a| a.get("sha2")?.as_str().map(str::to_ascii_lowercase)).collect()
}

fn erase_triggered(conn: &Connection, id: &Uuid) -> anyhow::Result<u64> {
    let mut removed = 0;
    for table in ["rule_runs", "outbox", "interventions"] {
        let sql = format!("DELETE FROM {table} WHERE trigger = ?1");
        removed += conn.prepare_cached(&sql)?.execute([id.as_bytes()])? as u64;
    }
    Ok(removed)
}

// ---- The person-record step ----

/// Removes every record keyed by the person or naming them: documents, the remembered
/// agent, rule state and outbox entries mentioning an identifier, interventions, skill
/// estimates and evidence, the person and their consent.
pub(super) fn erase_records(conn: &Connection, job: &ErasureJob) -> anyhow::Result<ErasedRecords> {
    let mut erased = ErasedRecords::default();
    let by_key = |sql: &str| -> anyhow::Result<u64> {
        let mut delete = conn.prepare_cached(sql)?;
        let mut removed = 0;
        for key in &job.keys {
            removed += delete.execute([key])? as u64;
        }
        Ok(removed)
    };
    erased.documents = by_key("DELETE FROM documents WHERE agent = ?1")?;
    erased.agents = by_key("DELETE FROM agents WHERE ifi = ?1")?;
    erased.interventions = by_key("DELETE FROM interventions WHERE actor_id = ?1")?;
    erased.skill_estimates = by_key("DELETE FROM skill_estimates WHERE person = ?1")?;
    erased.skill_evidence = by_key("DELETE FROM skill_evidence WHERE person = ?1")?;
    erased.people = by_key("DELETE FROM people WHERE person = ?1")?;
    erased.consent = by_key("DELETE FROM consent WHERE person = ?1")?;
    by_key("DELETE FROM report_links WHERE person = ?1")?;
    // Credentials are revoked, then emptied: the row keeps only its revoked bit, so copies
    // held elsewhere stop verifying, and nothing about the holder.
    let now = crate::xapi::time::now_micros();
    let mut scrub = conn.prepare_cached(
        "UPDATE badges SET revoked = coalesce(revoked, ?2), revocation_reason = 'holder erased', person = '',
             achievement = '', award_key = 'erased:' || id, active_key = NULL, document = 'null'
         WHERE person = ?1",
    )?;
    for key in &job.keys {
        erased.credentials += scrub.execute(params![key, now])? as u64;
    }
    // A manager who is erased is no longer named as anyone's manager.
    by_key("UPDATE people SET manager = NULL WHERE manager = ?1")?;
    let by_needle = |sql: &str| -> anyhow::Result<u64> {
        let mut delete = conn.prepare_cached(sql)?;
        let mut removed = 0;
        // The audit log's name for them marks what Fluency itself queued about them.
        let labels: Vec<String> =
            job.tombstones.iter().map(|hash| format!("person:{}", &hash[..hash.len().min(32)])).collect();
        for needle in job.needles.iter().chain(&job.keys).chain(&labels) {
            removed += delete.execute([needle])? as u64;
        }
        Ok(removed)
    };
    erased.rule_state = by_needle("DELETE FROM rule_state WHERE instr(key, ?1) > 0 OR instr(value, ?1) > 0")?;
    erased.outbox = by_needle("DELETE FROM outbox WHERE instr(intent, ?1) > 0 OR instr(coalesce(target, ''), ?1) > 0")?;
    erased.interventions += by_needle("DELETE FROM interventions WHERE instr(actor, ?1) > 0")?;
    Ok(erased)
}

// ---- Transparency-report links ----

pub(super) fn insert_report_link(
    conn: &Connection,
    token_hash: &str,
    person: &str,
    expires: Micros,
) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM report_links WHERE expires < ?1")?.execute([crate::xapi::time::now_micros()])?;
    conn.prepare_cached("INSERT INTO report_links (token_hash, person, expires) VALUES (?1, ?2, ?3)")?
        .execute(params![token_hash, person, expires])?;
    Ok(())
}

pub(super) fn find_report_link(conn: &Connection, token_hash: &str) -> anyhow::Result<Option<(String, Micros)>> {
    let mut select = conn.prepare_cached("SELECT person, expires FROM report_links WHERE token_hash = ?1")?;
    Ok(select.query_row([token_hash], |row| Ok((row.get(0)?, row.get(1)?))).optional()?)
}

// ---- Reads ----

/// Whether any statement still carries an attachment with this SHA-2. Reads every
/// statement: erasure is rare, and no index of attachments slows ingestion.
pub(super) fn attachment_in_use(conn: &Connection, sha2: &str) -> anyhow::Result<bool> {
    let needle = format!("\"{}\"", sha2.to_ascii_lowercase());
    let upper = format!("\"{}\"", sha2.to_ascii_uppercase());
    let found: Option<i64> = conn
        .prepare_cached(
            "SELECT 1 FROM statements WHERE instr(json, '\"attachments\"') > 0
             AND (instr(json, ?1) > 0 OR instr(json, ?2) > 0) LIMIT 1",
        )?
        .query_row(params![needle, upper], |row| row.get(0))
        .optional()?;
    Ok(found.is_some())
}

// ---- Between transactions ----

/// How often a checkpoint that readers held back is tried again.
const PURGE_ATTEMPTS: u32 = 100;
const PURGE_RETRY: Duration = Duration::from_millis(20);

/// Copies every WAL frame into the database and truncates the WAL to nothing; with
/// `rewrite`, first rebuilds the whole database (VACUUM), which leaves no free page or free
/// space in a page. Fails when readers kept the WAL in use for the whole of the retries.
pub(super) fn purge(conn: &Connection, rewrite: bool) -> anyhow::Result<()> {
    if rewrite {
        conn.execute_batch("VACUUM").context("rewriting the database (VACUUM)")?;
    }
    for _ in 0..PURGE_ATTEMPTS {
        let (busy, _, _): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .context("checkpointing the WAL")?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(PURGE_RETRY);
    }
    bail!("readers kept the WAL in use; the WAL could not be truncated")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_hashes_are_read_lowercase_and_only_from_attachments() {
        let json = r#"{"attachments":[{"sha2":"ABC"},{"sha2":"def"}],"object":{"sha2":"x"}}"#;
        assert_eq!(attachment_hashes(json), vec!["abc".to_string(), "def".to_string()]);
        assert!(attachment_hashes(r#"{"result":{"response":"sha2"}}"#).is_empty());
    }
}

//! The audit log in SQLite: the chained append (a writer job) and the read in sequence
//! order. Called by `SqliteStore`.

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};

use crate::storage::audit::{chain_hash, AuditDraft, AuditEntry, GENESIS};

pub(super) fn append_audit(conn: &Connection, draft: &AuditDraft) -> anyhow::Result<AuditEntry> {
    let last: Option<(u64, String)> = conn
        .query_row("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let (sequence, previous) = match last {
        Some((sequence, hash)) => (sequence + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let hash = chain_hash(&previous, sequence, draft);
    conn.prepare_cached("INSERT INTO audit_log VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
        .execute(params![
            sequence,
            draft.at,
            draft.actor,
            draft.action,
            draft.target,
            draft.details.to_string(),
            previous,
            hash
        ])
        .context("appending to the audit log")?;
    Ok(AuditEntry { sequence, draft: draft.clone(), previous, hash })
}

pub(super) fn audit_entries(conn: &Connection, after: u64, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .prepare_cached(
            "SELECT sequence, at, actor, action, target, details, previous, hash FROM audit_log
             WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
        )?
        .query_map(params![after, limit], |row| {
            let details: String = row.get(5)?;
            Ok(AuditEntry {
                sequence: row.get(0)?,
                draft: AuditDraft {
                    at: row.get(1)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    target: row.get(4)?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
                },
                previous: row.get(6)?,
                hash: row.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

//! Issued credentials in SQLite: the status-position counter, the insert (with its outbox
//! items, in the writer's transaction), revocation and the reads. Called by `SqliteStore`.

use anyhow::Context;
use rusqlite::{params, params_from_iter, types::Value as SqlValue, Connection, OptionalExtension, Row};

use crate::storage::badges::{BadgeCommit, BadgeFilter, BadgeInsert, BadgeRecord, RevokeOutcome};
use crate::xapi::time::Micros;

const COLUMNS: &str =
    "SELECT id, person, achievement, status_index, issued, award_key, revoked, revocation_reason, document FROM badges";

/// The key that keeps one unrevoked credential per person and achievement.
fn active_key(person: &str, achievement: &str) -> String {
    serde_json::json!([person, achievement]).to_string()
}

// ---- Writer side ----

pub(super) fn reserve_badge_status(conn: &Connection, count: u64) -> anyhow::Result<u64> {
    anyhow::ensure!((1..=1_000_000).contains(&count), "reserve 1 to 1,000,000 status positions, not {count}");
    let count = count as i64;
    let next: i64 = conn
        .prepare_cached(
            "INSERT INTO badge_status_counter (id, next) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET next = next + ?1 RETURNING next - ?1",
        )?
        .query_row([count], |row| row.get(0))
        .context("reserving a status list position")?;
    Ok(next as u64)
}

pub(super) fn insert_badge(conn: &Connection, commit: &BadgeCommit) -> anyhow::Result<BadgeInsert> {
    let badge = &commit.badge;
    if let Some(existing) = find_badge_by_award(conn, &badge.award_key)? {
        return Ok(BadgeInsert::Existing(Box::new(existing)));
    }
    let active = commit.exclusive.then(|| active_key(&badge.person, &badge.achievement));
    if let Some(key) = &active {
        let found =
            conn.prepare_cached(&format!("{COLUMNS} WHERE active_key = ?1"))?.query_row([key], badge_row).optional()?;
        if let Some(existing) = found {
            return Ok(BadgeInsert::Existing(Box::new(existing)));
        }
    }
    conn.prepare_cached(
        "INSERT INTO badges (id, person, achievement, status_index, issued, award_key, active_key, revoked,
         revocation_reason, document) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL, ?8)",
    )?
    .execute(params![
        badge.id,
        badge.person,
        badge.achievement,
        badge.status_index as i64,
        badge.issued,
        badge.award_key,
        active,
        badge.document.to_string()
    ])
    .context("storing an issued credential")?;
    super::automation::queue_outbox(conn, &commit.outbox)?;
    Ok(BadgeInsert::Inserted)
}

pub(super) fn revoke_badge(conn: &Connection, id: &str, at: Micros, reason: &str) -> anyhow::Result<RevokeOutcome> {
    let Some(badge) = find_badge(conn, id)? else { return Ok(RevokeOutcome::NotFound) };
    if badge.revoked.is_some() {
        return Ok(RevokeOutcome::AlreadyRevoked(Box::new(badge)));
    }
    conn.prepare_cached(
        "UPDATE badges SET revoked = ?2, revocation_reason = ?3, active_key = NULL WHERE id = ?1 AND revoked IS NULL",
    )?
    .execute(params![id, at, reason])
    .context("revoking a credential")?;
    Ok(RevokeOutcome::Revoked(Box::new(BadgeRecord {
        revoked: Some(at),
        revocation_reason: Some(reason.into()),
        ..badge
    })))
}

// ---- Reads ----

fn badge_row(row: &Row<'_>) -> rusqlite::Result<BadgeRecord> {
    let document: String = row.get(8)?;
    Ok(BadgeRecord {
        id: row.get(0)?,
        person: row.get(1)?,
        achievement: row.get(2)?,
        status_index: row.get::<_, i64>(3)? as u64,
        issued: row.get(4)?,
        award_key: row.get(5)?,
        revoked: row.get(6)?,
        revocation_reason: row.get(7)?,
        document: serde_json::from_str(&document).unwrap_or(serde_json::Value::Null),
    })
}

pub(super) fn find_badge(conn: &Connection, id: &str) -> anyhow::Result<Option<BadgeRecord>> {
    Ok(conn.prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))?.query_row([id], badge_row).optional()?)
}

pub(super) fn find_badge_by_award(conn: &Connection, award_key: &str) -> anyhow::Result<Option<BadgeRecord>> {
    Ok(conn.prepare_cached(&format!("{COLUMNS} WHERE award_key = ?1"))?.query_row([award_key], badge_row).optional()?)
}

pub(super) fn query_badges(conn: &Connection, filter: &BadgeFilter) -> anyhow::Result<Vec<BadgeRecord>> {
    // Only the conditions given, so a person's credentials come from `badges_by_person` and
    // the newest from `badges_by_issued`, never from a scan.
    let mut conditions = vec!["1"];
    let mut values: Vec<SqlValue> = Vec::new();
    if let Some(person) = &filter.person {
        conditions.push("person = ?");
        values.push(person.clone().into());
    }
    if let Some(achievement) = &filter.achievement {
        conditions.push("achievement = ?");
        values.push(achievement.clone().into());
    }
    if !filter.include_revoked {
        conditions.push("revoked IS NULL");
    }
    values.push((filter.limit as i64).into());
    let sql = format!("{COLUMNS} WHERE {} ORDER BY issued DESC, id LIMIT ?", conditions.join(" AND "));
    let rows =
        conn.prepare_cached(&sql)?.query_map(params_from_iter(values), badge_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn revoked_badge_positions(conn: &Connection, from: u64, until: u64) -> anyhow::Result<Vec<u64>> {
    let rows = conn
        .prepare_cached(
            "SELECT status_index FROM badges WHERE revoked IS NOT NULL AND status_index >= ?1 AND status_index < ?2
             ORDER BY status_index",
        )?
        .query_map(params![from as i64, until as i64], |row| row.get::<_, i64>(0))?
        .map(|row| row.map(|index| index as u64))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

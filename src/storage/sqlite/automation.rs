//! The rules engine's records in SQLite: the atomic rules commit, per-rule state, the
//! outbox and interventions (writer side, run as writer jobs), and their reads. Called by
//! `SqliteStore`.

use std::sync::RwLock;

use anyhow::Context;
use rusqlite::{params, params_from_iter, types::Value as SqlValue, Connection, OptionalExtension, Row};
use serde_json::Value;
use uuid::Uuid;

use super::reads::{driving_order, split_at_watermark, statements_sql, stored_statement, StoredRange};
use super::unindexed::Unindexed;
use crate::storage::automation::{
    HistoryCount, HistoryFilter, Intervention, InterventionQuery, NewOutboxItem, OutboxItem, OutboxKind, OutboxStatus,
    OutboxUpdate, RuleRun, RulesCommit,
};
use crate::storage::contract::{IndexTerm, StoredStatement, HISTORY_SCAN_LIMIT};
use crate::xapi::time::Micros;

// ---- Writer side ----

/// Queues outbox items; an item whose key is queued already stays as it is (idempotent).
pub(super) fn queue_outbox(conn: &Connection, items: &[NewOutboxItem]) -> anyhow::Result<()> {
    let mut outbox = conn.prepare_cached(
        "INSERT OR IGNORE INTO outbox
         (key, rule, trigger, kind, target, intent, created, status, attempts, next_attempt, last_error, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?7, NULL, ?7)",
    )?;
    for item in items {
        outbox
            .execute(params![
                item.key,
                item.rule,
                item.trigger.as_bytes(),
                item.kind.as_str(),
                item.target,
                item.intent.to_string(),
                item.created
            ])
            .context("queueing an outbox item")?;
    }
    Ok(())
}

pub(super) fn commit_rules(conn: &Connection, commit: &RulesCommit) -> anyhow::Result<()> {
    if let Some(through) = commit.evaluated_through {
        conn.prepare_cached(
            "INSERT INTO rules_progress (id, evaluated_through) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET evaluated_through = max(evaluated_through, excluded.evaluated_through)",
        )?
        .execute([through])
        .context("recording rules progress")?;
    }
    let mut run = conn.prepare_cached("INSERT OR IGNORE INTO rule_runs VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    for record in &commit.runs {
        let error = record.error.as_ref().map(Value::to_string);
        run.execute(params![
            record.rule,
            record.evaluated,
            record.trigger.as_bytes(),
            record.intents,
            record.state_changes,
            error
        ])
        .context("recording a rule run")?;
    }
    let mut set = conn.prepare_cached("INSERT OR REPLACE INTO rule_state VALUES (?1, ?2, ?3, ?4)")?;
    let mut remove = conn.prepare_cached("DELETE FROM rule_state WHERE rule = ?1 AND key = ?2")?;
    for write in &commit.state {
        match &write.value {
            Some(value) => set.execute(params![write.rule, write.key, value.to_string(), write.expires]),
            None => remove.execute(params![write.rule, write.key]),
        }
        .context("writing rule state")?;
    }
    queue_outbox(conn, &commit.outbox)?;
    let mut intervention =
        conn.prepare_cached("INSERT OR IGNORE INTO interventions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
    for record in &commit.interventions {
        intervention
            .execute(params![
                record.key,
                record.rule,
                record.trigger.as_bytes(),
                record.actor_id,
                record.actor.to_string(),
                record.activity,
                record.reason,
                record.recorded
            ])
            .context("recording an intervention")?;
    }
    Ok(())
}

pub(super) fn update_outbox(conn: &Connection, key: &str, update: &OutboxUpdate) -> anyhow::Result<bool> {
    let (status, attempts, next_attempt, error, at) = match update {
        OutboxUpdate::Delivered { attempts, at } => (OutboxStatus::Delivered, attempts, None, None, at),
        OutboxUpdate::RetryLater { attempts, next_attempt, error, at } => {
            (OutboxStatus::Pending, attempts, Some(next_attempt), Some(error), at)
        }
        OutboxUpdate::DeadLetter { attempts, error, at } => (OutboxStatus::DeadLetter, attempts, None, Some(error), at),
    };
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET status = ?2, attempts = ?3, next_attempt = coalesce(?4, next_attempt),
                 last_error = coalesce(?5, last_error), updated = ?6
             WHERE key = ?1 AND status = 'pending'",
        )?
        .execute(params![key, status.as_str(), attempts, next_attempt, error, at])
        .context("recording a delivery attempt")?;
    Ok(changed == 1)
}

pub(super) fn redrive_outbox(conn: &Connection, key: &str, now: Micros) -> anyhow::Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?2, updated = ?2
             WHERE key = ?1 AND status = 'dead_letter'",
        )?
        .execute(params![key, now])
        .context("re-driving a dead letter")?;
    Ok(changed == 1)
}

// ---- Reads ----

pub(super) fn statements_stored_after(
    conn: &Connection,
    after: Micros,
    limit: usize,
) -> anyhow::Result<Vec<StoredStatement>> {
    let mut select = conn
        .prepare_cached("SELECT stored, id, json, voided FROM statements WHERE stored > ?1 ORDER BY stored LIMIT ?2")?;
    let rows = select.query_map(params![after, limit as i64], stored_statement)?;
    rows.collect::<Result<_, _>>().context("reading statements for the rules")
}

/// Counts (newest first, up to `HISTORY_SCAN_LIMIT`) a learner's non-voided statements in
/// the window and averages their scores: the unindexed newest ones, then the term index.
pub(super) fn history(
    conn: &Connection,
    filter: &HistoryFilter,
    unindexed: &RwLock<Unindexed>,
) -> anyhow::Result<HistoryCount> {
    let mut terms = vec![IndexTerm::Agent(filter.actor_id.clone())];
    terms.extend(filter.verb.clone().map(IndexTerm::Verb));
    terms.extend(filter.activity.clone().map(IndexTerm::Activity));
    let matches = driving_order(&terms);
    let window = StoredRange { after: filter.since.saturating_sub(1), through: filter.until };
    let (newest, indexed) = split_at_watermark(unindexed, &matches, &window, false);
    let limit = HISTORY_SCAN_LIMIT as i64;
    let mut summary = ScoreSummary::default();
    let mut score = conn.prepare_cached(&format!("SELECT {SCORE} FROM statements WHERE stored = ?1 AND voided = 0"))?;
    for stored in newest {
        if summary.count >= limit {
            break;
        }
        if let Some(value) =
            score.query_row([stored], |row| row.get::<_, Option<f64>>(0)).optional().context("reading a score")?
        {
            summary.add(1, value.unwrap_or(0.0), i64::from(value.is_some()));
        }
    }
    if summary.count < limit && !indexed.is_empty() {
        let key_counts: Vec<usize> = matches.iter().map(Vec::len).collect();
        let sql = format!(
            "SELECT count(*), total(score), count(score) FROM (SELECT {SCORE} AS score FROM ({}))",
            statements_sql(&key_counts, false)
        );
        let mut params = vec![indexed.after, indexed.through, limit - summary.count];
        params.extend(matches.into_iter().flatten());
        let (count, total, scored) = conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(params), |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .context("summarising a learner's history")?;
        summary.add(count, total, scored);
    }
    Ok(HistoryCount { count: summary.count as u64, average_score: summary.average() })
}

/// A statement's score: `result.score.scaled`, else `result.score.raw`.
const SCORE: &str = "coalesce(json_extract(json, '$.result.score.scaled'), json_extract(json, '$.result.score.raw'))";

#[derive(Default)]
struct ScoreSummary {
    count: i64,
    total: f64,
    scored: i64,
}

impl ScoreSummary {
    fn add(&mut self, count: i64, total: f64, scored: i64) {
        self.count += count;
        self.total += total;
        self.scored += scored;
    }

    fn average(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.total / self.scored as f64)
    }
}

pub(super) fn evaluated_through(conn: &Connection) -> anyhow::Result<Option<Micros>> {
    conn.prepare_cached("SELECT evaluated_through FROM rules_progress WHERE id = 1")?
        .query_row([], |row| row.get(0))
        .optional()
        .context("reading rules progress")
}

pub(super) fn rule_state(conn: &Connection, rule: &str, key: &str, now: Micros) -> anyhow::Result<Option<Value>> {
    let found: Option<(String, Option<Micros>)> = conn
        .prepare_cached("SELECT value, expires FROM rule_state WHERE rule = ?1 AND key = ?2")?
        .query_row(params![rule, key], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .context("reading rule state")?;
    let live = found.filter(|(_, expires)| expires.is_none_or(|at| now < at));
    live.map(|(text, _)| serde_json::from_str(&text).context("decoding rule state")).transpose()
}

pub(super) fn rule_state_bytes(conn: &Connection, rule: &str, now: Micros) -> anyhow::Result<u64> {
    let bytes: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(CAST(value AS BLOB))), 0) FROM rule_state
             WHERE rule = ?1 AND (expires IS NULL OR expires > ?2)",
        )?
        .query_row(params![rule, now], |row| row.get(0))
        .context("measuring rule state")?;
    Ok(bytes.max(0) as u64)
}

pub(super) fn rule_runs(conn: &Connection, rule: &str, limit: usize) -> anyhow::Result<Vec<RuleRun>> {
    let mut select = conn.prepare_cached(
        "SELECT rule, trigger, evaluated, intents, state_changes, error FROM rule_runs
         WHERE rule = ?1 ORDER BY evaluated DESC LIMIT ?2",
    )?;
    let rows = select.query_map(params![rule, limit as i64], |row| {
        let error: Option<String> = row.get(5)?;
        Ok(RuleRun {
            rule: row.get(0)?,
            trigger: uuid_column(row, 1)?,
            evaluated: row.get(2)?,
            intents: row.get(3)?,
            state_changes: row.get(4)?,
            error: error.map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text))),
        })
    })?;
    rows.collect::<Result<_, _>>().context("reading rule runs")
}

const OUTBOX_COLUMNS: &str =
    "key, rule, trigger, kind, target, intent, created, status, attempts, next_attempt, last_error, updated";

pub(super) fn outbox_due(conn: &Connection, now: Micros, limit: usize) -> anyhow::Result<Vec<OutboxItem>> {
    let sql = format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt <= ?1
         ORDER BY next_attempt LIMIT ?2"
    );
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params![now, limit as i64], outbox_item)?;
    rows.collect::<Result<_, _>>().context("reading due outbox items")
}

pub(super) fn outbox_items(conn: &Connection, status: OutboxStatus, limit: usize) -> anyhow::Result<Vec<OutboxItem>> {
    let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = ?1 ORDER BY updated DESC LIMIT ?2");
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params![status.as_str(), limit as i64], outbox_item)?;
    rows.collect::<Result<_, _>>().context("reading outbox items")
}

fn outbox_item(row: &Row<'_>) -> rusqlite::Result<OutboxItem> {
    let kind: String = row.get(3)?;
    let intent: String = row.get(5)?;
    let status: String = row.get(7)?;
    Ok(OutboxItem {
        key: row.get(0)?,
        rule: row.get(1)?,
        trigger: uuid_column(row, 2)?,
        kind: OutboxKind::parse(&kind).ok_or_else(|| corrupt(3, format!("unknown outbox kind {kind:?}")))?,
        target: row.get(4)?,
        intent: serde_json::from_str(&intent).map_err(|e| corrupt(5, e.to_string()))?,
        created: row.get(6)?,
        status: OutboxStatus::parse(&status).ok_or_else(|| corrupt(7, format!("unknown outbox status {status:?}")))?,
        attempts: row.get(8)?,
        next_attempt: row.get(9)?,
        last_error: row.get(10)?,
        updated: row.get(11)?,
    })
}

pub(super) fn query_interventions(conn: &Connection, query: &InterventionQuery) -> anyhow::Result<Vec<Intervention>> {
    let mut sql = String::from(
        "SELECT key, rule, trigger, actor_id, actor, activity, reason, recorded FROM interventions
         WHERE recorded > ?1 AND recorded <= ?2",
    );
    let mut values: Vec<SqlValue> =
        vec![query.since.unwrap_or(i64::MIN).into(), query.until.unwrap_or(i64::MAX).into()];
    for (column, wanted) in [("rule", &query.rule), ("activity", &query.activity), ("actor_id", &query.actor_id)] {
        if let Some(wanted) = wanted {
            values.push(wanted.clone().into());
            sql.push_str(&format!(" AND {column} = ?{}", values.len()));
        }
    }
    values.push((query.limit.max(1) as i64).into());
    sql.push_str(&format!(" ORDER BY recorded LIMIT ?{}", values.len()));
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params_from_iter(values), |row| {
        let actor: String = row.get(4)?;
        Ok(Intervention {
            key: row.get(0)?,
            rule: row.get(1)?,
            trigger: uuid_column(row, 2)?,
            actor_id: row.get(3)?,
            actor: serde_json::from_str(&actor).map_err(|e| corrupt(4, e.to_string()))?,
            activity: row.get(5)?,
            reason: row.get(6)?,
            recorded: row.get(7)?,
        })
    })?;
    rows.collect::<Result<_, _>>().context("reading interventions")
}

fn uuid_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
    let bytes: [u8; 16] = row.get(index)?;
    Ok(Uuid::from_bytes(bytes))
}

fn corrupt(column: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, message.into())
}

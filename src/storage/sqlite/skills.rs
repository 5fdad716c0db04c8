//! Skills inference records in SQLite: the atomic skills commit and reset (writer jobs)
//! and the reads of estimates, evidence and items. Called by `SqliteStore`.

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, Row};
use uuid::Uuid;

use crate::storage::skills::{
    EstimateFilter, EstimateRecord, EvidenceRecord, EvidenceVolume, ItemRecord, SkillsCommit,
};
use crate::xapi::time::Micros;

// ---- Writer side ----

pub(super) fn commit_skills(conn: &Connection, commit: &SkillsCommit) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT INTO skills_progress (id, evaluated_through) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET evaluated_through = max(evaluated_through, excluded.evaluated_through)",
    )?
    .execute([commit.evaluated_through])
    .context("recording skills progress")?;
    let mut evidence =
        conn.prepare_cached("INSERT OR IGNORE INTO skill_evidence VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?;
    for e in &commit.evidence {
        evidence
            .execute(params![
                e.person,
                e.skill,
                e.at,
                e.statement.as_bytes(),
                e.item,
                e.outcome,
                e.weight,
                e.predicted,
                e.mean_change,
                e.steps_up
            ])
            .context("recording skill evidence")?;
    }
    let mut estimate = conn.prepare_cached("INSERT OR REPLACE INTO skill_estimates VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    for e in &commit.estimates {
        estimate
            .execute(params![e.person, e.skill, e.mean, e.variance, e.at, e.evidence])
            .context("writing a skill estimate")?;
    }
    let mut item = conn.prepare_cached("INSERT OR REPLACE INTO skill_items VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for i in &commit.items {
        item.execute(params![i.item, i.skill, i.mean, i.variance, i.observations]).context("writing an item")?;
    }
    Ok(())
}

pub(super) fn reset_skills(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch(
        "DELETE FROM skill_estimates; DELETE FROM skill_evidence; DELETE FROM skill_items;
         DELETE FROM skills_progress;",
    )
    .context("resetting skills inference")
}

// ---- Reads ----

pub(super) fn evaluated_through(conn: &Connection) -> anyhow::Result<Option<Micros>> {
    let found = conn
        .query_row("SELECT evaluated_through FROM skills_progress WHERE id = 1", [], |row| row.get(0))
        .optional()?;
    Ok(found)
}

fn estimate(row: &Row<'_>) -> rusqlite::Result<EstimateRecord> {
    Ok(EstimateRecord {
        person: row.get(0)?,
        skill: row.get(1)?,
        mean: row.get(2)?,
        variance: row.get(3)?,
        at: row.get(4)?,
        evidence: row.get(5)?,
    })
}

pub(super) fn skill_estimates(conn: &Connection, filter: &EstimateFilter) -> anyhow::Result<Vec<EstimateRecord>> {
    const COLUMNS: &str = "SELECT person, skill, mean, variance, at, evidence FROM skill_estimates";
    let rows = match (&filter.person, &filter.skill) {
        (Some(person), Some(skill)) => conn
            .prepare_cached(&format!("{COLUMNS} WHERE person = ?1 AND skill = ?2"))?
            .query_map(params![person, skill], estimate)?
            .collect::<Result<Vec<_>, _>>(),
        (Some(person), None) => conn
            .prepare_cached(&format!("{COLUMNS} WHERE person = ?1 ORDER BY skill"))?
            .query_map([person], estimate)?
            .collect(),
        (None, Some(skill)) => conn
            .prepare_cached(&format!("{COLUMNS} WHERE skill = ?1 ORDER BY person"))?
            .query_map([skill], estimate)?
            .collect(),
        (None, None) => {
            conn.prepare_cached(&format!("{COLUMNS} ORDER BY person, skill"))?.query_map([], estimate)?.collect()
        }
    };
    Ok(rows?)
}

fn evidence(row: &Row<'_>) -> rusqlite::Result<EvidenceRecord> {
    let statement: Vec<u8> = row.get(3)?;
    Ok(EvidenceRecord {
        person: row.get(0)?,
        skill: row.get(1)?,
        at: row.get(2)?,
        statement: Uuid::from_slice(&statement).unwrap_or_default(),
        item: row.get(4)?,
        outcome: row.get(5)?,
        weight: row.get(6)?,
        predicted: row.get(7)?,
        mean_change: row.get(8)?,
        steps_up: row.get(9)?,
    })
}

pub(super) fn skill_evidence(
    conn: &Connection,
    person: &str,
    skill: Option<&str>,
    limit: usize,
) -> anyhow::Result<Vec<EvidenceRecord>> {
    const COLUMNS: &str =
        "SELECT person, skill, at, statement, item, outcome, weight, predicted, mean_change, steps_up FROM skill_evidence";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = match skill {
        Some(skill) => conn
            .prepare_cached(&format!("{COLUMNS} WHERE person = ?1 AND skill = ?2 ORDER BY at, statement LIMIT ?3"))?
            .query_map(params![person, skill, limit], evidence)?
            .collect::<Result<Vec<_>, _>>(),
        None => conn
            .prepare_cached(&format!("{COLUMNS} WHERE person = ?1 ORDER BY at, skill, statement LIMIT ?2"))?
            .query_map(params![person, limit], evidence)?
            .collect(),
    };
    Ok(rows?)
}

pub(super) fn skill_items(conn: &Connection) -> anyhow::Result<Vec<ItemRecord>> {
    let rows = conn
        .prepare_cached("SELECT item, skill, mean, variance, observations FROM skill_items ORDER BY item, skill")?
        .query_map([], |row| {
            Ok(ItemRecord {
                item: row.get(0)?,
                skill: row.get(1)?,
                mean: row.get(2)?,
                variance: row.get(3)?,
                observations: row.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn skill_evidence_volumes(conn: &Connection, since: Micros) -> anyhow::Result<Vec<EvidenceVolume>> {
    let rows = conn
        .prepare_cached(
            "SELECT skill, strftime('%Y-%m', at / 1000000, 'unixepoch') AS month, count(*), count(DISTINCT person)
             FROM skill_evidence WHERE at >= ?1 AND steps_up = 0 GROUP BY skill, month ORDER BY skill, month",
        )?
        .query_map([since], |row| {
            Ok(EvidenceVolume { skill: row.get(0)?, month: row.get(1)?, evidence: row.get(2)?, people: row.get(3)? })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

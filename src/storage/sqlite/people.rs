//! People and teams in SQLite: the upsert (a writer job) and the reads by key, by team and
//! of the team counts. Called by `SqliteStore`.

use anyhow::Context;
use rusqlite::{params, Connection, Row};

use crate::storage::people::{
    AgentDocument, ConsentRecord, MentioningOutboxItem, MentioningRecords, PersonRecord, RuleStateEntry, TeamCount,
};

const COLUMNS: &str = "SELECT person, name, team, manager, role, updated FROM people";

// ---- Writer side ----

pub(super) fn upsert_people(conn: &Connection, people: &[PersonRecord]) -> anyhow::Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO people (person, name, team, manager, role, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (person) DO UPDATE SET
             name = coalesce(excluded.name, name),
             team = coalesce(excluded.team, team),
             manager = coalesce(excluded.manager, manager),
             role = coalesce(excluded.role, role),
             updated = excluded.updated",
    )?;
    for p in people {
        upsert
            .execute(params![p.person, p.name, p.team, p.manager, p.role, p.updated])
            .context("upserting a person")?;
    }
    Ok(())
}

// ---- Reads ----

fn person(row: &Row<'_>) -> rusqlite::Result<PersonRecord> {
    Ok(PersonRecord {
        person: row.get(0)?,
        name: row.get(1)?,
        team: row.get(2)?,
        manager: row.get(3)?,
        role: row.get(4)?,
        updated: row.get(5)?,
    })
}

pub(super) fn find_people(conn: &Connection, keys: &[String]) -> anyhow::Result<Vec<PersonRecord>> {
    let mut find = conn.prepare_cached(&format!("{COLUMNS} WHERE person = ?1"))?;
    let mut found = Vec::new();
    for key in keys {
        found.extend(find.query_map([key], person)?.collect::<Result<Vec<_>, _>>()?);
    }
    found.sort_by(|a, b| a.person.cmp(&b.person));
    found.dedup_by(|a, b| a.person == b.person);
    Ok(found)
}

pub(super) fn people_in_team(conn: &Connection, team: &str) -> anyhow::Result<Vec<PersonRecord>> {
    let rows = conn
        .prepare_cached(&format!("{COLUMNS} WHERE team = ?1 ORDER BY person"))?
        .query_map([team], person)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn teams(conn: &Connection) -> anyhow::Result<Vec<TeamCount>> {
    let rows = conn
        .prepare_cached("SELECT team, count(*) FROM people WHERE team IS NOT NULL GROUP BY team ORDER BY team")?
        .query_map([], |row| Ok(TeamCount { team: row.get(0)?, members: row.get(1)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn set_consent(conn: &Connection, consent: &ConsentRecord) -> anyhow::Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO consent VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![consent.person, consent.inference_opt_out, consent.nudges_opt_out, consent.updated])
        .context("recording consent")?;
    Ok(())
}

pub(super) fn consents(conn: &Connection) -> anyhow::Result<Vec<ConsentRecord>> {
    let rows = conn
        .prepare_cached("SELECT person, inference_opt_out, nudges_opt_out, updated FROM consent ORDER BY person")?
        .query_map([], |row| {
            Ok(ConsentRecord {
                person: row.get(0)?,
                inference_opt_out: row.get(1)?,
                nudges_opt_out: row.get(2)?,
                updated: row.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Reads every document (no index by agent: reports are rare, document tables small).
pub(super) fn documents_of_agents(conn: &Connection, keys: &[String]) -> anyhow::Result<Vec<AgentDocument>> {
    let mut select = conn.prepare_cached(
        "SELECT kind, activity_id, registration, id, updated FROM documents WHERE agent = ?1 ORDER BY kind, activity_id, id",
    )?;
    let mut found = Vec::new();
    for key in keys.iter().filter(|key| !key.is_empty()) {
        let rows = select.query_map([key], |row| {
            let text = |i: usize| -> rusqlite::Result<Option<String>> {
                Ok(Some(row.get::<_, String>(i)?).filter(|t| !t.is_empty()))
            };
            Ok(AgentDocument {
                kind: row.get(0)?,
                activity_id: text(1)?,
                registration: text(2)?,
                id: row.get(3)?,
                updated: row.get(4)?,
            })
        })?;
        found.extend(rows.collect::<Result<Vec<_>, _>>()?);
    }
    Ok(found)
}

pub(super) fn records_mentioning(conn: &Connection, needles: &[String]) -> anyhow::Result<MentioningRecords> {
    let mut records = MentioningRecords::default();
    let mut state = conn.prepare_cached(
        "SELECT rule, key FROM rule_state WHERE instr(key, ?1) > 0 OR instr(value, ?1) > 0 ORDER BY rule, key",
    )?;
    let mut outbox = conn.prepare_cached(
        "SELECT key, rule, kind, target, status, created FROM outbox WHERE instr(intent, ?1) > 0 ORDER BY created",
    )?;
    let mut seen = std::collections::HashSet::new();
    for needle in needles.iter().filter(|needle| !needle.is_empty()) {
        for entry in state.query_map([needle], |row| Ok(RuleStateEntry { rule: row.get(0)?, key: row.get(1)? }))? {
            let entry = entry?;
            if !records.rule_state.contains(&entry) {
                records.rule_state.push(entry);
            }
        }
        let rows = outbox.query_map([needle], |row| {
            Ok((
                row.get::<_, String>(0)?,
                MentioningOutboxItem {
                    rule: row.get(1)?,
                    kind: row.get(2)?,
                    target: row.get(3)?,
                    status: row.get(4)?,
                    created: row.get(5)?,
                },
            ))
        })?;
        for row in rows {
            let (key, item) = row?;
            if seen.insert(key) {
                records.outbox.push(item);
            }
        }
    }
    Ok(records)
}

//! People and teams in SQLite: the upsert (a writer job) and the reads by key, by team and
//! of the team counts. Called by `SqliteStore`.

use anyhow::Context;
use rusqlite::{params, Connection, Row};

use crate::storage::people::{ConsentRecord, PersonRecord, TeamCount};

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

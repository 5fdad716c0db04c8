//! Document rows (State, Activity Profile, Agent Profile) and remembered agents: the
//! writer's conditional writes and deletes, and the reads. Called through `SqliteStore`.

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use crate::storage::contract::{Document, DocumentKey, DocumentKind, DocumentScope, Expectation, StoreResult};
use crate::xapi::time::Micros;

/// The scope's key columns; unused parts are `''`.
fn columns(scope: &DocumentScope) -> (&'static str, &str, &str, &str) {
    (
        scope.kind.as_str(),
        scope.activity_id.as_deref().unwrap_or(""),
        scope.agent.as_deref().unwrap_or(""),
        scope.registration.as_deref().unwrap_or(""),
    )
}

/// For State without a registration, lists and bulk deletes reach every registration.
fn every_registration(scope: &DocumentScope) -> bool {
    scope.kind == DocumentKind::State && scope.registration.is_none()
}

const KEY_MATCH: &str = "kind = ?1 AND activity_id = ?2 AND agent = ?3 AND registration = ?4 AND id = ?5";

fn current_etag(conn: &Connection, key: &DocumentKey) -> anyhow::Result<Option<String>> {
    let (kind, activity, agent, registration) = columns(&key.scope);
    let sql = format!("SELECT etag FROM documents WHERE {KEY_MATCH}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![kind, activity, agent, registration, key.id], |row| row.get(0))
        .optional()?)
}

fn holds(expect: &Expectation, current: Option<&str>) -> bool {
    match expect {
        Expectation::Anything => true,
        Expectation::Absent => current.is_none(),
        Expectation::Etag(etag) => current == Some(etag.as_str()),
    }
}

pub(super) fn insert_document(
    conn: &Connection,
    key: &DocumentKey,
    document: &Document,
    expect: &Expectation,
) -> StoreResult<bool> {
    let current = current_etag(conn, key).context("reading a document's ETag")?;
    if !holds(expect, current.as_deref()) {
        return Ok(false);
    }
    let (kind, activity, agent, registration) = columns(&key.scope);
    conn.prepare_cached(
        "INSERT INTO documents (kind, activity_id, agent, registration, id, content, content_type, etag, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (kind, activity_id, agent, registration, id) DO UPDATE SET
           content = excluded.content, content_type = excluded.content_type,
           etag = excluded.etag, updated = excluded.updated",
    )
    .and_then(|mut upsert| {
        upsert.execute(params![
            kind,
            activity,
            agent,
            registration,
            key.id,
            document.content,
            document.content_type,
            document.etag,
            document.updated
        ])
    })
    .context("writing a document")?;
    Ok(true)
}

pub(super) fn delete_document(conn: &Connection, key: &DocumentKey, expect: &Expectation) -> StoreResult<bool> {
    let current = current_etag(conn, key).context("reading a document's ETag")?;
    if current.is_some() && !holds(expect, current.as_deref()) {
        return Ok(false);
    }
    let (kind, activity, agent, registration) = columns(&key.scope);
    let sql = format!("DELETE FROM documents WHERE {KEY_MATCH}");
    conn.prepare_cached(&sql)
        .and_then(|mut delete| delete.execute(params![kind, activity, agent, registration, key.id]))
        .context("deleting a document")?;
    Ok(true)
}

pub(super) fn delete_documents(conn: &Connection, scope: &DocumentScope) -> StoreResult<u64> {
    let (kind, activity, agent, registration) = columns(scope);
    let deleted = if every_registration(scope) {
        conn.prepare_cached("DELETE FROM documents WHERE kind = ?1 AND activity_id = ?2 AND agent = ?3")
            .and_then(|mut delete| delete.execute(params![kind, activity, agent]))
    } else {
        conn.prepare_cached(
            "DELETE FROM documents WHERE kind = ?1 AND activity_id = ?2 AND agent = ?3 AND registration = ?4",
        )
        .and_then(|mut delete| delete.execute(params![kind, activity, agent, registration]))
    }
    .context("deleting documents")?;
    Ok(deleted as u64)
}

pub(super) fn find_document(conn: &Connection, key: &DocumentKey) -> anyhow::Result<Option<Document>> {
    let (kind, activity, agent, registration) = columns(&key.scope);
    let sql = format!("SELECT content, content_type, etag, updated FROM documents WHERE {KEY_MATCH}");
    let document = conn
        .prepare_cached(&sql)?
        .query_row(params![kind, activity, agent, registration, key.id], |row| {
            Ok(Document { content: row.get(0)?, content_type: row.get(1)?, etag: row.get(2)?, updated: row.get(3)? })
        })
        .optional()
        .context("finding a document")?;
    Ok(document)
}

pub(super) fn query_document_ids(
    conn: &Connection,
    scope: &DocumentScope,
    since: Option<Micros>,
) -> anyhow::Result<Vec<(String, Micros)>> {
    let (kind, activity, agent, registration) = columns(scope);
    let since = since.unwrap_or(Micros::MIN);
    let read = |row: &rusqlite::Row| Ok((row.get::<_, String>(0)?, row.get::<_, Micros>(1)?));
    let rows = if every_registration(scope) {
        conn.prepare_cached(
            "SELECT id, MAX(updated) FROM documents
             WHERE kind = ?1 AND activity_id = ?2 AND agent = ?3 AND updated > ?4 GROUP BY id ORDER BY id",
        )?
        .query_map(params![kind, activity, agent, since], read)?
        .collect::<Result<Vec<_>, _>>()
    } else {
        conn.prepare_cached(
            "SELECT id, updated FROM documents
             WHERE kind = ?1 AND activity_id = ?2 AND agent = ?3 AND registration = ?4 AND updated > ?5 ORDER BY id",
        )?
        .query_map(params![kind, activity, agent, registration, since], read)?
        .collect::<Result<Vec<_>, _>>()
    };
    rows.context("listing document ids")
}

pub(super) fn find_agents(conn: &Connection, keys: &[String]) -> anyhow::Result<Vec<Value>> {
    let mut find = conn.prepare_cached("SELECT agent FROM agents WHERE ifi = ?1")?;
    let mut found = Vec::new();
    for key in keys {
        let text: Option<String> = find.query_row([key], |row| row.get(0)).optional()?;
        if let Some(text) = text {
            found.push(serde_json::from_str(&text).context("reading a remembered agent")?);
        }
    }
    Ok(found)
}

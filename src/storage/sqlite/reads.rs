//! Statement and activity reads, run on a pooled read connection inside `spawn_blocking`.
//! Queries walk an index in `stored` order with keyset bounds (never OFFSET). Called by
//! `SqliteStore`.

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::Value;
use uuid::Uuid;

use super::terms::term_key;
use crate::storage::contract::{IndexTerm, StatementPage, StatementQuery, StoredStatement};
use crate::xapi::time::Micros;

pub(super) fn find_statements(conn: &Connection, ids: &[Uuid]) -> anyhow::Result<Vec<StoredStatement>> {
    let mut find = conn.prepare_cached("SELECT stored, id, json, voided FROM statements WHERE id = ?1")?;
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(statement) =
            find.query_row([id.as_bytes()], stored_statement).optional().context("finding a statement")?
        {
            found.push(statement);
        }
    }
    Ok(found)
}

pub(super) fn find_activity_definitions(conn: &Connection, ids: &[String]) -> anyhow::Result<Vec<(String, Value)>> {
    let mut find = conn.prepare_cached("SELECT definition FROM activities WHERE id = ?1")?;
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let text: Option<String> =
            find.query_row([id], |row| row.get(0)).optional().context("finding an activity definition")?;
        if let Some(text) = text {
            let definition =
                serde_json::from_str(&text).with_context(|| format!("reading the stored definition of {id}"))?;
            found.push((id.clone(), definition));
        }
    }
    Ok(found)
}

/// One page of non-voided statements matching every term, in the query's order.
pub(super) fn query_statements(conn: &Connection, query: &StatementQuery) -> anyhow::Result<StatementPage> {
    let limit = query.limit.max(1);
    let range = StoredRange::of(query);
    if range.is_empty() {
        return Ok(StatementPage::default());
    }
    let keys = driving_order(&query.terms);
    let sql = statements_sql(keys.len(), query.ascending);
    let mut select = conn.prepare_cached(&sql)?;
    let mut params: Vec<i64> = vec![range.after, range.through, i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1];
    params.extend(&keys);
    let mut statements = select
        .query_map(rusqlite::params_from_iter(params), stored_statement)?
        .collect::<Result<Vec<_>, _>>()
        .context("querying statements")?;
    let more = statements.len() > limit;
    statements.truncate(limit);
    Ok(StatementPage { statements, more })
}

/// `stored` bounds of a query: `after` exclusive, `through` inclusive.
#[derive(Debug, PartialEq, Eq)]
struct StoredRange {
    after: Micros,
    through: Micros,
}

impl StoredRange {
    /// Folds `since`, `until` and the keyset cursor (exclusive in the query's order).
    fn of(query: &StatementQuery) -> Self {
        let mut range = Self { after: query.since.unwrap_or(i64::MIN), through: query.until.unwrap_or(i64::MAX) };
        if let Some(cursor) = query.after {
            if query.ascending {
                range.after = range.after.max(cursor);
            } else {
                range.through = range.through.min(cursor.saturating_sub(1));
            }
        }
        range
    }

    fn is_empty(&self) -> bool {
        self.after >= self.through
    }
}

/// Distinct term keys, the likely most selective first: the first one drives the scan.
pub(super) fn driving_order(terms: &[IndexTerm]) -> Vec<i64> {
    let mut ranked: Vec<&IndexTerm> = terms.iter().collect();
    ranked.sort_by_key(|term| selectivity_rank(term));
    let mut keys: Vec<i64> = Vec::with_capacity(ranked.len());
    for key in ranked.into_iter().map(term_key) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// A guess at how few statements a term of each kind matches (lower = fewer).
fn selectivity_rank(term: &IndexTerm) -> u8 {
    match term {
        IndexTerm::Registration(_) => 0,
        IndexTerm::Agent(_) => 1,
        IndexTerm::Activity(_) => 2,
        IndexTerm::RelatedActivity(_) => 3,
        IndexTerm::RelatedAgent(_) => 4,
        IndexTerm::Authority(_) => 5,
        IndexTerm::Verb(_) => 6,
    }
}

/// Parameters: ?1 after (exclusive), ?2 through (inclusive), ?3 row limit, ?4.. term keys.
/// With terms, the scan walks the first term's (term, stored) primary-key range in order
/// (CROSS JOIN fixes the loop order), each further term is one primary-key probe, and the
/// statement row is fetched by rowid. Without terms it walks `statements` by rowid.
pub(super) fn statements_sql(term_count: usize, ascending: bool) -> String {
    let order = if ascending { "ASC" } else { "DESC" };
    if term_count == 0 {
        return format!(
            "SELECT stored, id, json, voided FROM statements
             WHERE stored > ?1 AND stored <= ?2 AND voided = 0
             ORDER BY stored {order} LIMIT ?3"
        );
    }
    let mut sql = String::from(
        "SELECT s.stored, s.id, s.json, s.voided
         FROM statement_terms t0 CROSS JOIN statements s ON s.stored = t0.stored
         WHERE t0.term = ?4 AND t0.stored > ?1 AND t0.stored <= ?2",
    );
    for index in 1..term_count {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM statement_terms t{index}
                          WHERE t{index}.term = ?{param} AND t{index}.stored = t0.stored)",
            param = index + 4
        ));
    }
    sql.push_str(&format!(" AND s.voided = 0 ORDER BY t0.stored {order} LIMIT ?3"));
    sql
}

pub(super) fn stored_statement(row: &Row<'_>) -> rusqlite::Result<StoredStatement> {
    let id: [u8; 16] = row.get(1)?;
    Ok(StoredStatement { stored: row.get(0)?, id: Uuid::from_bytes(id), json: row.get(2)?, voided: row.get(3)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::schema::open_writer_connection;

    fn plan(conn: &Connection, sql: &str, params: usize) -> String {
        let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let values = vec![0i64; params];
        let rows = explain.query_map(rusqlite::params_from_iter(values), |row| row.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
    }

    #[test]
    fn term_queries_walk_the_term_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer_connection(&dir.path().join("plan.db")).unwrap();
        for (terms, ascending) in [(1, false), (3, true), (0, false), (0, true)] {
            let detail = plan(&conn, &statements_sql(terms, ascending), 3 + terms);
            assert!(!detail.contains("TEMP B-TREE"), "sorts: {detail}");
            assert!(!detail.contains("SCAN"), "full scan: {detail}");
            if terms > 0 {
                assert!(detail.starts_with("SEARCH t0 USING PRIMARY KEY"), "{detail}");
            }
        }
    }

    #[test]
    fn the_cursor_narrows_the_range_in_the_query_order() {
        let descending = StatementQuery { after: Some(50), since: Some(10), ..Default::default() };
        assert_eq!(StoredRange::of(&descending), StoredRange { after: 10, through: 49 });
        let ascending = StatementQuery { ascending: true, ..descending };
        assert_eq!(StoredRange::of(&ascending), StoredRange { after: 50, through: i64::MAX });
    }

    #[test]
    fn repeated_terms_are_matched_once_and_registration_drives() {
        let verb = IndexTerm::Verb("v".into());
        let registration = IndexTerm::Registration("r".into());
        let keys = driving_order(&[verb.clone(), registration.clone(), verb.clone()]);
        assert_eq!(keys, vec![term_key(&registration), term_key(&verb)]);
    }
}

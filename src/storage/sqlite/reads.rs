//! Statement and activity reads, run on a pooled read connection inside `spawn_blocking`.
//! Queries walk an index in `stored` order with keyset bounds (never OFFSET). Called by
//! `SqliteStore`.

use std::sync::RwLock;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::Value;
use uuid::Uuid;

use super::terms::query_keys;
use super::unindexed::{read, Unindexed};
use crate::storage::contract::{IndexTerm, StatementPage, StatementQuery, StoredStatement};
use crate::xapi::time::Micros;

/// The stored statements with these ids. Memory is read before SQL, as in
/// `split_at_watermark`: an id moves into `statement_ids` only after it was in memory.
pub(super) fn find_statements(
    conn: &Connection,
    ids: &[Uuid],
    unindexed: &RwLock<Unindexed>,
) -> anyhow::Result<Vec<StoredStatement>> {
    let newest: Vec<Option<Micros>> = {
        let unindexed = read(unindexed);
        ids.iter().map(|id| unindexed.stored_of(id)).collect()
    };
    let mut by_stored = conn.prepare_cached("SELECT stored, id, json, voided FROM statements WHERE stored = ?1")?;
    let mut by_id = conn.prepare_cached(
        "SELECT s.stored, s.id, s.json, s.voided
         FROM statement_ids i CROSS JOIN statements s ON s.stored = i.stored WHERE i.id = ?1",
    )?;
    let mut found = Vec::with_capacity(ids.len());
    for (id, stored) in ids.iter().zip(newest) {
        let statement = match stored {
            Some(stored) => by_stored.query_row([stored], stored_statement).optional(),
            None => by_id.query_row([id.as_bytes()], stored_statement).optional(),
        };
        found.extend(statement.context("finding a statement")?);
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

/// One page of non-voided statements matching every term, in the query's order. Term
/// queries read the term index up to its watermark and, past it, the rows still in memory
/// (`unindexed`); every unindexed statement is newer than every indexed one.
pub(super) fn query_statements(
    conn: &Connection,
    query: &StatementQuery,
    unindexed: &RwLock<Unindexed>,
) -> anyhow::Result<StatementPage> {
    let limit = query.limit.max(1);
    let wanted = limit.saturating_add(1);
    let range = StoredRange::of(query);
    if range.is_empty() {
        return Ok(StatementPage::default());
    }
    let matches = driving_order(&query.terms);
    let mut statements = if matches.is_empty() {
        query_indexed(conn, &matches, &range, query.ascending, wanted)?
    } else {
        let (newest, indexed) = split_at_watermark(unindexed, &matches, &range, query.ascending);
        if query.ascending {
            let mut statements = query_indexed(conn, &matches, &indexed, true, wanted)?;
            fetch_unindexed(conn, &newest, wanted, &mut statements)?;
            statements
        } else {
            let mut statements = Vec::new();
            fetch_unindexed(conn, &newest, wanted, &mut statements)?;
            if statements.len() < wanted {
                statements.extend(query_indexed(conn, &matches, &indexed, false, wanted - statements.len())?);
            }
            statements
        }
    };
    let more = statements.len() > limit;
    statements.truncate(limit);
    Ok(StatementPage { statements, more })
}

/// The unindexed statements matching `terms` in `range`, in the query's order, and the part
/// of `range` the term index answers for. Memory is read before SQL: a statement that
/// moves into the index meanwhile was in memory when read, and the index part stops at the
/// watermark read with it, so none is found twice or missed.
pub(super) fn split_at_watermark(
    unindexed: &RwLock<Unindexed>,
    terms: &[Vec<i64>],
    range: &StoredRange,
    ascending: bool,
) -> (Vec<Micros>, StoredRange) {
    let unindexed = read(unindexed);
    let watermark = unindexed.indexed_through();
    let newest = unindexed.matching(terms, range.after.max(watermark), range.through, ascending);
    (newest, StoredRange { after: range.after, through: range.through.min(watermark) })
}

/// Up to `wanted` statements from the term index (or, without terms, the statements table).
fn query_indexed(
    conn: &Connection,
    terms: &[Vec<i64>],
    range: &StoredRange,
    ascending: bool,
    wanted: usize,
) -> anyhow::Result<Vec<StoredStatement>> {
    if range.is_empty() {
        return Ok(Vec::new());
    }
    let key_counts: Vec<usize> = terms.iter().map(Vec::len).collect();
    let mut select = conn.prepare_cached(&statements_sql(&key_counts, ascending))?;
    let mut params: Vec<i64> = vec![range.after, range.through, i64::try_from(wanted).unwrap_or(i64::MAX)];
    params.extend(terms.iter().flatten());
    let rows = select.query_map(rusqlite::params_from_iter(params), stored_statement)?;
    rows.collect::<Result<Vec<_>, _>>().context("querying statements")
}

/// Appends the non-voided statements stored at `stored_values`, in turn, until `out` holds
/// `wanted`.
fn fetch_unindexed(
    conn: &Connection,
    stored_values: &[Micros],
    wanted: usize,
    out: &mut Vec<StoredStatement>,
) -> anyhow::Result<()> {
    let mut find =
        conn.prepare_cached("SELECT stored, id, json, voided FROM statements WHERE stored = ?1 AND voided = 0")?;
    for stored in stored_values {
        if out.len() >= wanted {
            break;
        }
        if let Some(statement) = find.query_row([stored], stored_statement).optional().context("reading a statement")? {
            out.push(statement);
        }
    }
    Ok(())
}

/// `stored` bounds of a query: `after` exclusive, `through` inclusive.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct StoredRange {
    pub after: Micros,
    pub through: Micros,
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

    pub(super) fn is_empty(&self) -> bool {
        self.after >= self.through
    }
}

/// The keys each distinct term matches (see `terms::query_keys`), the likely most
/// selective term first: the first one drives the scan.
pub(super) fn driving_order(terms: &[IndexTerm]) -> Vec<Vec<i64>> {
    let mut ranked: Vec<&IndexTerm> = terms.iter().collect();
    ranked.sort_by_key(|term| selectivity_rank(term));
    let mut matches: Vec<Vec<i64>> = Vec::with_capacity(ranked.len());
    for keys in ranked.into_iter().map(query_keys) {
        if !matches.contains(&keys) {
            matches.push(keys);
        }
    }
    matches
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

/// Parameters: ?1 after (exclusive), ?2 through (inclusive), ?3 row limit, ?4.. the keys of
/// each term in turn (`key_counts[i]` keys for term i, see `driving_order`).
/// With terms, the scan walks the first term's (term, stored) primary-key range in order
/// (CROSS JOIN fixes the loop order), each further term is one primary-key probe per key,
/// and the statement row is fetched by rowid. A first term with two keys walks both ranges,
/// merged in order (a compound SELECT; UNION drops a statement found under both). Without
/// terms it walks `statements` by rowid.
pub(super) fn statements_sql(key_counts: &[usize], ascending: bool) -> String {
    let order = if ascending { "ASC" } else { "DESC" };
    let Some((&driving, others)) = key_counts.split_first() else {
        return format!(
            "SELECT stored, id, json, voided FROM statements
             WHERE stored > ?1 AND stored <= ?2 AND voided = 0
             ORDER BY stored {order} LIMIT ?3"
        );
    };
    let mut filters = String::new();
    let mut param = 4 + driving;
    for (index, &count) in others.iter().enumerate() {
        let keys: Vec<String> = (param..param + count).map(|p| format!("?{p}")).collect();
        param += count;
        filters.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM statement_terms t{n}
                          WHERE t{n}.term IN ({keys}) AND t{n}.stored = t0.stored)",
            n = index + 1,
            keys = keys.join(", ")
        ));
    }
    let arm = |key_param: usize| {
        format!(
            "SELECT t0.stored, s.id, s.json, s.voided
             FROM statement_terms t0 CROSS JOIN statements s ON s.stored = t0.stored
             WHERE t0.term = ?{key_param} AND t0.stored > ?1 AND t0.stored <= ?2{filters} AND s.voided = 0"
        )
    };
    if driving == 1 {
        return format!("{} ORDER BY t0.stored {order} LIMIT ?3", arm(4));
    }
    let arms: Vec<String> = (4..4 + driving).map(arm).collect();
    format!("{} ORDER BY 1 {order} LIMIT ?3", arms.join(" UNION "))
}

pub(super) fn stored_statement(row: &Row<'_>) -> rusqlite::Result<StoredStatement> {
    let id: [u8; 16] = row.get(1)?;
    Ok(StoredStatement { stored: row.get(0)?, id: Uuid::from_bytes(id), json: row.get(2)?, voided: row.get(3)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::schema::open_writer_connection;
    use crate::storage::sqlite::terms::term_key;

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
        let cases: [(&[usize], bool); 6] =
            [(&[1], false), (&[1, 1, 1], true), (&[], false), (&[], true), (&[2], false), (&[2, 1, 2], true)];
        for (key_counts, ascending) in cases {
            let params = 3 + key_counts.iter().sum::<usize>();
            let detail = plan(&conn, &statements_sql(key_counts, ascending), params);
            assert!(!detail.contains("TEMP B-TREE"), "sorts: {detail}");
            assert!(!detail.contains("SCAN"), "full scan: {detail}");
            match key_counts.first() {
                Some(1) => assert!(detail.starts_with("SEARCH t0 USING PRIMARY KEY"), "{detail}"),
                Some(_) => {
                    assert!(detail.starts_with("MERGE (UNION) | LEFT | SEARCH t0 USING PRIMARY KEY"), "{detail}")
                }
                None => {}
            }
        }
    }

    #[test]
    fn a_statement_stored_under_both_related_and_narrower_keys_is_found_once() {
        // Arrange: databases written before `terms::query_keys` keep both rows.
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer_connection(&dir.path().join("both.db")).unwrap();
        let key = "mbox::mailto:a@example.com".to_string();
        let related = IndexTerm::RelatedAgent(key.clone());
        conn.execute("INSERT INTO statements VALUES (7, zeroblob(16), '{}', 0, 0, NULL, x'', NULL)", []).unwrap();
        conn.execute("UPDATE term_index_progress SET indexed_through = 7", []).unwrap();
        for term in [IndexTerm::Agent(key), related.clone()] {
            conn.execute("INSERT INTO statement_terms VALUES (?1, 7)", [term_key(&term)]).unwrap();
        }

        // Act
        let query = StatementQuery { terms: vec![related], limit: 10, ..Default::default() };
        let page = query_statements(&conn, &query, &RwLock::new(Unindexed::load(&conn).unwrap())).unwrap();

        // Assert
        assert_eq!(page.statements.iter().map(|s| s.stored).collect::<Vec<_>>(), vec![7]);
        assert!(!page.more);
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
        assert_eq!(keys, vec![query_keys(&registration), query_keys(&verb)]);
    }
}

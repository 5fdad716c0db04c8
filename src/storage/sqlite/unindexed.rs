//! The newest part of the term index, kept in memory: the term rows of statements stored
//! after the index's watermark. Inserting each commit's rows into `statement_terms` rewrote
//! a page per actor, activity and registration of every commit (about 10 KB of WAL per
//! 1 KB statement); written in bulk every few tens of thousands of statements, each page
//! takes the rows of many. Queries read both parts (`reads`). Statement rows carry their
//! packed term keys, so the memory part is rebuilt from the database when it opens.
//!
//! `UnindexedTerms` is what queries read; `TermIndexer` is the writer thread's side.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use rusqlite::{params, Connection};

use super::terms::TermSet;
use crate::xapi::time::Micros;

/// The term rows of the statements not yet in `statement_terms`.
#[derive(Debug, Default)]
pub(super) struct UnindexedTerms {
    /// Statements stored at or before this have their rows in `statement_terms`; those
    /// after it have them here only.
    indexed_through: Micros,
    /// Term key → `stored` values (ascending) of unindexed statements under that key.
    postings: HashMap<i64, Vec<Micros>>,
    statements: usize,
}

pub(super) type SharedUnindexed = Arc<RwLock<UnindexedTerms>>;

impl UnindexedTerms {
    /// The watermark and the rows of every statement stored after it.
    pub(super) fn load(conn: &Connection) -> anyhow::Result<Self> {
        let indexed_through: Micros = conn
            .query_row("SELECT indexed_through FROM term_index_progress WHERE id = 1", [], |row| row.get(0))
            .context("reading the term index watermark")?;
        let mut unindexed = Self { indexed_through, ..Self::default() };
        let mut select = conn.prepare(
            "SELECT stored, inheritable_terms, uninherited_terms FROM statements WHERE stored > ?1 ORDER BY stored",
        )?;
        let mut rows = select.query([indexed_through])?;
        while let Some(row) = rows.next()? {
            let stored: Micros = row.get(0)?;
            let mut keys = TermSet::decode(&row.get::<_, Vec<u8>>(1)?)?;
            if let Some(packed) = row.get::<_, Option<Vec<u8>>>(2)? {
                keys.extend(&TermSet::decode(&packed)?);
            }
            let rows: Vec<(i64, Micros)> = keys.iter().map(|key| (key, stored)).collect();
            unindexed.add(&rows, 1);
        }
        Ok(unindexed)
    }

    pub(super) fn indexed_through(&self) -> Micros {
        self.indexed_through
    }

    fn add(&mut self, rows: &[(i64, Micros)], statements: usize) {
        for &(key, stored) in rows {
            let posting = self.postings.entry(key).or_default();
            // New statements come in `stored` order; an inherited row may reach an older one.
            match posting.last() {
                Some(&last) if last >= stored => {
                    if let Err(at) = posting.binary_search(&stored) {
                        posting.insert(at, stored);
                    }
                }
                _ => posting.push(stored),
            }
        }
        self.statements += statements;
    }

    /// Every row, by key then `stored`: the order that fills index pages one after another.
    fn sorted_rows(&self) -> Vec<(i64, Micros)> {
        let mut keys: Vec<i64> = self.postings.keys().copied().collect();
        keys.sort_unstable();
        keys.iter().flat_map(|key| self.postings[key].iter().map(move |&stored| (*key, stored))).collect()
    }

    /// `stored` values in `(after, through]`, in the query's order, of the unindexed
    /// statements matching every term; a term matches under any of its keys (see
    /// `reads::driving_order`: the first term is the one walked).
    pub(super) fn matching(&self, terms: &[Vec<i64>], after: Micros, through: Micros, ascending: bool) -> Vec<Micros> {
        let Some((driving, others)) = terms.split_first() else {
            return Vec::new();
        };
        let mut found: Vec<Micros> = Vec::new();
        for posting in driving.iter().filter_map(|key| self.postings.get(key)) {
            let from = posting.partition_point(|&stored| stored <= after);
            let to = posting.partition_point(|&stored| stored <= through);
            found.extend(&posting[from..to.max(from)]);
        }
        if driving.len() > 1 {
            found.sort_unstable();
            found.dedup();
        }
        found.retain(|&stored| others.iter().all(|keys| self.has_any(keys, stored)));
        if !ascending {
            found.reverse();
        }
        found
    }

    fn has_any(&self, keys: &[i64], stored: Micros) -> bool {
        keys.iter().any(|key| self.postings.get(key).is_some_and(|posting| posting.binary_search(&stored).is_ok()))
    }
}

/// The writer's side: collects the rows of the open transaction, publishes them to queries
/// once it commits, and moves everything into `statement_terms` when enough has gathered.
pub(super) struct TermIndexer {
    shared: SharedUnindexed,
    /// Unindexed statements that trigger a bulk write.
    batch_statements: usize,
    uncommitted: Vec<(i64, Micros)>,
    uncommitted_statements: usize,
}

impl TermIndexer {
    pub(super) fn new(shared: SharedUnindexed, batch_statements: usize) -> Self {
        Self { shared, batch_statements: batch_statements.max(1), uncommitted: Vec::new(), uncommitted_statements: 0 }
    }

    /// Takes the term rows written by the open transaction for `statements` new statements.
    /// Rows of statements already in the index (reached by a reference stored later) go
    /// there now, so each statement's rows stay in one part.
    pub(super) fn record(
        &mut self,
        conn: &Connection,
        rows: impl IntoIterator<Item = (i64, Micros)>,
        statements: usize,
    ) -> anyhow::Result<()> {
        let indexed_through = read(&self.shared).indexed_through;
        let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO statement_terms (term, stored) VALUES (?1, ?2)")?;
        for (key, stored) in rows {
            if stored <= indexed_through {
                insert.execute(params![key, stored])?;
            } else {
                self.uncommitted.push((key, stored));
            }
        }
        self.uncommitted_statements += statements;
        Ok(())
    }

    /// The open transaction committed: its rows become visible to queries.
    pub(super) fn committed(&mut self) {
        if self.uncommitted.is_empty() && self.uncommitted_statements == 0 {
            return;
        }
        let mut shared = self.shared.write().unwrap_or_else(PoisonError::into_inner);
        shared.add(&self.uncommitted, self.uncommitted_statements);
        self.uncommitted.clear();
        self.uncommitted_statements = 0;
    }

    /// The open transaction rolled back: its rows never existed.
    pub(super) fn rolled_back(&mut self) {
        self.uncommitted.clear();
        self.uncommitted_statements = 0;
    }

    /// Writes every unindexed row into `statement_terms` in one transaction of its own, once
    /// enough statements have gathered. `assigned_through` is the highest `stored` handed out:
    /// with no transaction open, every statement up to it is committed, hence now indexed.
    /// On failure nothing changes and the next call tries again.
    pub(super) fn flush_if_due(&mut self, conn: &Connection, assigned_through: Micros) -> anyhow::Result<()> {
        let rows = {
            let shared = read(&self.shared);
            if shared.statements < self.batch_statements {
                return Ok(());
            }
            shared.sorted_rows()
        };
        conn.execute_batch("BEGIN IMMEDIATE").context("beginning the term index write")?;
        let written = write_rows(conn, &rows, assigned_through);
        let outcome = written.and_then(|()| conn.execute_batch("COMMIT").context("committing the term index write"));
        if let Err(error) = outcome {
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK").context("rolling back the term index write")?;
            }
            return Err(error);
        }
        let mut shared = self.shared.write().unwrap_or_else(PoisonError::into_inner);
        *shared = UnindexedTerms { indexed_through: assigned_through, ..UnindexedTerms::default() };
        tracing::debug!(rows = rows.len(), indexed_through = assigned_through, "Wrote unindexed term rows.");
        Ok(())
    }
}

fn write_rows(conn: &Connection, rows: &[(i64, Micros)], indexed_through: Micros) -> anyhow::Result<()> {
    let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO statement_terms (term, stored) VALUES (?1, ?2)")?;
    for (key, stored) in rows {
        insert.execute(params![key, stored]).context("writing term rows")?;
    }
    conn.prepare_cached("UPDATE term_index_progress SET indexed_through = ?1 WHERE id = 1")?
        .execute([indexed_through])
        .context("moving the term index watermark")?;
    Ok(())
}

/// A reader's view; a panic elsewhere while holding the lock leaves the data consistent
/// (every change is one assignment or completes before the guard drops).
pub(super) fn read(shared: &RwLock<UnindexedTerms>) -> std::sync::RwLockReadGuard<'_, UnindexedTerms> {
    shared.read().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unindexed(rows: &[(i64, Micros)]) -> UnindexedTerms {
        let mut terms = UnindexedTerms { indexed_through: 10, ..Default::default() };
        terms.add(rows, rows.len());
        terms
    }

    #[test]
    fn matching_walks_the_first_term_and_checks_the_others() {
        let terms = unindexed(&[(1, 11), (1, 12), (1, 14), (2, 12), (2, 13), (3, 14), (3, 12)]);
        assert_eq!(terms.matching(&[vec![1]], 0, i64::MAX, true), vec![11, 12, 14]);
        assert_eq!(terms.matching(&[vec![1], vec![2]], 0, i64::MAX, false), vec![12]);
        assert_eq!(terms.matching(&[vec![1], vec![2, 3]], 0, i64::MAX, false), vec![14, 12]);
        assert_eq!(terms.matching(&[vec![2, 3]], 12, 13, true), vec![13], "after is exclusive, through inclusive");
        assert_eq!(terms.matching(&[vec![9]], 0, i64::MAX, true), Vec::<Micros>::new());
    }

    #[test]
    fn an_inherited_row_for_an_older_statement_keeps_postings_ordered() {
        let mut terms = unindexed(&[(1, 11), (1, 15)]);
        terms.add(&[(1, 13), (1, 15)], 0);
        assert_eq!(terms.postings[&1], vec![11, 13, 15]);
        assert_eq!(terms.sorted_rows(), vec![(1, 11), (1, 13), (1, 15)]);
    }
}

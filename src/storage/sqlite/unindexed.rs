//! The newest part of the statement indexes, kept in memory: the term rows and the ids of
//! statements stored after the indexes' watermark. Inserting each commit's entries into
//! `statement_terms` and `statement_ids` rewrote a page per actor, activity, registration
//! and (random) id of every commit: about 13 KB of WAL per 1 KB statement. Written in bulk
//! every few tens of thousands of statements, each page takes the entries of many. Reads
//! look in both parts (`reads`, `insert`). Statement rows carry their id and packed term
//! keys, so the memory part is rebuilt from the database when it opens.
//!
//! `Unindexed` is what reads look in; `BulkIndexer` is the writer thread's side.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::terms::TermSet;
use crate::xapi::time::Micros;

/// The index entries of the statements not yet in `statement_terms` and `statement_ids`.
#[derive(Debug, Default)]
pub(super) struct Unindexed {
    /// Statements stored at or before this have their entries in the indexes; those after
    /// it have them here only.
    indexed_through: Micros,
    /// Term key → `stored` values (ascending) of unindexed statements under that key.
    postings: HashMap<i64, Vec<Micros>>,
    /// Statement id → `stored`.
    ids: HashMap<Uuid, Micros>,
}

pub(super) type SharedUnindexed = Arc<RwLock<Unindexed>>;

impl Unindexed {
    /// The watermark and the entries (term rows, id) of every statement stored after it.
    pub(super) fn load(conn: &Connection) -> anyhow::Result<Self> {
        let indexed_through: Micros = conn
            .query_row("SELECT indexed_through FROM term_index_progress WHERE id = 1", [], |row| row.get(0))
            .context("reading the term index watermark")?;
        let mut unindexed = Self { indexed_through, ..Self::default() };
        let mut select = conn.prepare(
            "SELECT stored, id, inheritable_terms, uninherited_terms FROM statements WHERE stored > ?1 ORDER BY stored",
        )?;
        let mut rows = select.query([indexed_through])?;
        while let Some(row) = rows.next()? {
            let stored: Micros = row.get(0)?;
            let id = Uuid::from_bytes(row.get(1)?);
            let mut keys = TermSet::decode(&row.get::<_, Vec<u8>>(2)?)?;
            if let Some(packed) = row.get::<_, Option<Vec<u8>>>(3)? {
                keys.extend(&TermSet::decode(&packed)?);
            }
            let rows: Vec<(i64, Micros)> = keys.iter().map(|key| (key, stored)).collect();
            unindexed.add(&rows, [(id, stored)]);
        }
        Ok(unindexed)
    }

    pub(super) fn indexed_through(&self) -> Micros {
        self.indexed_through
    }

    /// Where the statement with this id is stored, if it is unindexed.
    pub(super) fn stored_of(&self, id: &Uuid) -> Option<Micros> {
        self.ids.get(id).copied()
    }

    fn add(&mut self, rows: &[(i64, Micros)], ids: impl IntoIterator<Item = (Uuid, Micros)>) {
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
        self.ids.extend(ids);
    }

    /// The `stored` of the `count`-th oldest unindexed statement; `None` when there are no
    /// more than `count`.
    fn oldest_through(&self, count: usize) -> Option<Micros> {
        if self.ids.len() <= count || count == 0 {
            return None;
        }
        let mut stored: Vec<Micros> = self.ids.values().copied().collect();
        let (_, nth, _) = stored.select_nth_unstable(count - 1);
        Some(*nth)
    }

    /// The ids of statements stored up to `through`, in index order.
    fn sorted_ids(&self, through: Micros) -> Vec<(Uuid, Micros)> {
        let mut ids: Vec<(Uuid, Micros)> =
            self.ids.iter().filter(|(_, stored)| **stored <= through).map(|(id, stored)| (*id, *stored)).collect();
        ids.sort_unstable();
        ids
    }

    /// The rows of statements stored up to `through`, by key then `stored`: the order that
    /// fills index pages one after another.
    fn sorted_rows(&self, through: Micros) -> Vec<(i64, Micros)> {
        let mut keys: Vec<i64> = self.postings.keys().copied().collect();
        keys.sort_unstable();
        keys.iter()
            .flat_map(|key| {
                let posting = &self.postings[key];
                let end = posting.partition_point(|&stored| stored <= through);
                posting[..end].iter().map(move |&stored| (*key, stored))
            })
            .collect()
    }

    /// Forgets the entries of statements stored up to `through`, now in the indexes.
    fn drop_through(&mut self, through: Micros) {
        self.postings.retain(|_, posting| {
            let end = posting.partition_point(|&stored| stored <= through);
            posting.drain(..end);
            !posting.is_empty()
        });
        self.ids.retain(|_, stored| *stored > through);
        self.indexed_through = through;
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

    /// Every unindexed statement stored under any of these keys, ascending, each once.
    pub(super) fn stored_under(&self, keys: &[i64]) -> Vec<Micros> {
        let mut found: Vec<Micros> = keys.iter().filter_map(|key| self.postings.get(key)).flatten().copied().collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Forgets an erased statement's entries.
    fn remove(&mut self, keys: &[i64], stored: Micros, id: &Uuid) {
        for key in keys {
            if let Some(posting) = self.postings.get_mut(key) {
                posting.retain(|&s| s != stored);
                if posting.is_empty() {
                    self.postings.remove(key);
                }
            }
        }
        self.ids.remove(id);
    }

    fn has_any(&self, keys: &[i64], stored: Micros) -> bool {
        keys.iter().any(|key| self.postings.get(key).is_some_and(|posting| posting.binary_search(&stored).is_ok()))
    }
}

/// The writer's side: collects the entries of the open transaction, publishes them to
/// reads once it commits, and moves everything into the indexes when enough has gathered.
pub(super) struct BulkIndexer {
    shared: SharedUnindexed,
    /// Unindexed statements that trigger a bulk write.
    batch_statements: usize,
    /// The most statements one bulk write moves (the oldest): a write holds every other
    /// write, so several short ones in turn keep writes from pausing long.
    chunk_statements: usize,
    uncommitted_rows: Vec<(i64, Micros)>,
    uncommitted_ids: HashMap<Uuid, Micros>,
    /// Statements the open transaction erased: their keys, `stored` and id.
    uncommitted_removals: Vec<(Vec<i64>, Micros, Uuid)>,
}

impl BulkIndexer {
    pub(super) fn new(shared: SharedUnindexed, batch_statements: usize, chunk_statements: usize) -> Self {
        let batch_statements = batch_statements.max(1);
        Self {
            shared,
            batch_statements,
            chunk_statements: chunk_statements.max(1),
            uncommitted_rows: Vec::new(),
            uncommitted_ids: HashMap::new(),
            uncommitted_removals: Vec::new(),
        }
    }

    /// Where the statement with this id is stored, as the open transaction sees it.
    pub(super) fn stored_of(&self, conn: &Connection, id: &Uuid) -> anyhow::Result<Option<Micros>> {
        if let Some(&stored) = self.uncommitted_ids.get(id) {
            return Ok(Some(stored));
        }
        if let Some(stored) = read(&self.shared).stored_of(id) {
            return Ok(Some(stored));
        }
        find_indexed_id(conn, id)
    }

    /// A statement the open transaction wrote.
    pub(super) fn add_id(&mut self, id: Uuid, stored: Micros) {
        self.uncommitted_ids.insert(id, stored);
    }

    /// Takes the term rows the open transaction wrote. Rows of statements already indexed
    /// (reached by a reference stored later) go into the index now, so each statement's
    /// rows stay in one part.
    pub(super) fn add_rows(&mut self, conn: &Connection, rows: Vec<(i64, Micros)>) -> anyhow::Result<()> {
        let indexed_through = read(&self.shared).indexed_through;
        let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO statement_terms (term, stored) VALUES (?1, ?2)")?;
        for (key, stored) in rows {
            if stored <= indexed_through {
                insert.execute(params![key, stored])?;
            } else {
                self.uncommitted_rows.push((key, stored));
            }
        }
        Ok(())
    }

    /// The `stored` of every committed, unindexed statement under any of these keys.
    pub(super) fn unindexed_under(&self, keys: &[i64]) -> Vec<Micros> {
        read(&self.shared).stored_under(keys)
    }

    /// The open transaction erased this statement (stored under `keys`): once it commits,
    /// reads no longer find it in memory.
    pub(super) fn remove_on_commit(&mut self, keys: Vec<i64>, stored: Micros, id: Uuid) {
        self.uncommitted_removals.push((keys, stored, id));
    }

    /// The open transaction committed: its entries become visible to reads.
    pub(super) fn committed(&mut self) {
        let untouched = self.uncommitted_removals.is_empty();
        if self.uncommitted_rows.is_empty() && self.uncommitted_ids.is_empty() && untouched {
            return;
        }
        let mut shared = self.shared.write().unwrap_or_else(PoisonError::into_inner);
        shared.add(&self.uncommitted_rows, self.uncommitted_ids.drain());
        self.uncommitted_rows.clear();
        for (keys, stored, id) in self.uncommitted_removals.drain(..) {
            shared.remove(&keys, stored, &id);
        }
    }

    /// The open transaction rolled back: its entries never existed.
    pub(super) fn rolled_back(&mut self) {
        self.uncommitted_rows.clear();
        self.uncommitted_ids.clear();
        self.uncommitted_removals.clear();
    }

    /// Writes the entries of the oldest unindexed statements (at most `chunk_statements`)
    /// into the indexes in one transaction of its own, once enough statements have gathered;
    /// called after each group, it works the backlog down chunk by chunk. `assigned_through`
    /// is the highest `stored` handed out: with no transaction open, every statement up to it
    /// is committed. On failure nothing changes and the next call tries again.
    pub(super) fn flush_if_due(&mut self, conn: &Connection, assigned_through: Micros) -> anyhow::Result<()> {
        let (rows, ids, through) = {
            let shared = read(&self.shared);
            if shared.ids.len() < self.batch_statements {
                return Ok(());
            }
            let through = shared.oldest_through(self.chunk_statements).unwrap_or(assigned_through);
            (shared.sorted_rows(through), shared.sorted_ids(through), through)
        };
        conn.execute_batch("BEGIN IMMEDIATE").context("beginning the bulk index write")?;
        let written = write_entries(conn, &rows, &ids, through);
        let outcome = written.and_then(|()| conn.execute_batch("COMMIT").context("committing the bulk index write"));
        if let Err(error) = outcome {
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK").context("rolling back the bulk index write")?;
            }
            return Err(error);
        }
        let mut shared = self.shared.write().unwrap_or_else(PoisonError::into_inner);
        shared.drop_through(through);
        tracing::debug!(rows = rows.len(), ids = ids.len(), indexed_through = through, "Wrote the indexes.");
        Ok(())
    }
}

/// Where an indexed statement is stored.
pub(super) fn find_indexed_id(conn: &Connection, id: &Uuid) -> anyhow::Result<Option<Micros>> {
    let mut find = conn.prepare_cached("SELECT stored FROM statement_ids WHERE id = ?1")?;
    find.query_row([id.as_bytes()], |row| row.get(0)).optional().context("looking up a statement id")
}

fn write_entries(
    conn: &Connection,
    rows: &[(i64, Micros)],
    ids: &[(Uuid, Micros)],
    indexed_through: Micros,
) -> anyhow::Result<()> {
    let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO statement_terms (term, stored) VALUES (?1, ?2)")?;
    for (key, stored) in rows {
        insert.execute(params![key, stored]).context("writing term rows")?;
    }
    // Ids are unique (checked on insert); OR IGNORE only makes a repeated write harmless.
    let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO statement_ids (id, stored) VALUES (?1, ?2)")?;
    for (id, stored) in ids {
        insert.execute(params![id.as_bytes(), stored]).context("writing statement ids")?;
    }
    conn.prepare_cached("UPDATE term_index_progress SET indexed_through = ?1 WHERE id = 1")?
        .execute([indexed_through])
        .context("moving the index watermark")?;
    Ok(())
}

/// A reader's view; a panic elsewhere while holding the lock leaves the data consistent
/// (every change is one assignment or completes before the guard drops).
pub(super) fn read(shared: &RwLock<Unindexed>) -> std::sync::RwLockReadGuard<'_, Unindexed> {
    shared.read().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unindexed(rows: &[(i64, Micros)]) -> Unindexed {
        let mut terms = Unindexed { indexed_through: 10, ..Default::default() };
        terms.add(rows, []);
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
        terms.add(&[(1, 13), (1, 15)], []);
        assert_eq!(terms.postings[&1], vec![11, 13, 15]);
        assert_eq!(terms.sorted_rows(Micros::MAX), vec![(1, 11), (1, 13), (1, 15)]);
    }

    #[test]
    fn a_chunk_moves_the_oldest_statements_and_leaves_the_rest_in_memory() {
        let id = |n: u128| Uuid::from_u128(n);
        let mut terms = Unindexed { indexed_through: 10, ..Default::default() };
        terms.add(&[(1, 11), (2, 11), (1, 12), (1, 14), (2, 13)], [(id(1), 11), (id(2), 12), (id(3), 13), (id(4), 14)]);

        let through = terms.oldest_through(2).expect("more than two");
        let rows = terms.sorted_rows(through);
        let ids = terms.sorted_ids(through);
        terms.drop_through(through);

        assert_eq!(through, 12);
        assert_eq!(rows, vec![(1, 11), (1, 12), (2, 11)]);
        assert_eq!(ids, vec![(id(1), 11), (id(2), 12)]);
        assert_eq!(terms.indexed_through(), 12);
        assert_eq!(terms.matching(&[vec![1]], 0, i64::MAX, true), vec![14], "the rest still matches from memory");
        assert_eq!(terms.matching(&[vec![2]], 0, i64::MAX, true), vec![13]);
        assert_eq!(terms.stored_of(&id(3)), Some(13));
        assert_eq!(terms.stored_of(&id(1)), None);
        assert_eq!(terms.oldest_through(5), None, "two left: all of them");
    }
}

//! The SQLite schema, its migrations (tracked in `PRAGMA user_version`) and the connections:
//! the writer's (WAL, `synchronous=FULL`) and the read pool. Called by `SqliteStore::open`.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::xapi::time::Micros;

/// How long a connection waits for a lock before failing (checkpoints, a second process).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection (query shapes vary with the number of terms).
const STATEMENT_CACHE: usize = 64;

/// Version 1. Sized for millions of statements; every query filter is served by an index.
///
/// * `statements`: `stored` (microseconds) is the rowid, so time-ordered scans and keyset
///   paging walk the table itself. `id` is the 16-byte UUID. `voided` is maintained on insert.
///   `object_ref` is the StatementRef target. `inheritable_terms` packs the term keys a
///   referencing statement inherits: the statement's own (Authority excluded) plus those it
///   inherited itself (see `terms::TermSet`).
/// * `statements_by_object_ref`: finds the statements referencing an id. With `is_voiding`
///   it doubles as the set of voided targets, so a voiding statement stored before its
///   target still voids it.
/// * `statement_terms`: one row per (term key, statement): own terms plus terms inherited
///   through StatementRefs. A query walks one term's range in `stored` order. The newest
///   statements' rows are in memory until written in bulk (version 4, `unindexed`).
/// * `activities`: canonical activity definitions (JSON text).
/// * `credentials`: API credentials; scopes as a JSON array.
const SCHEMA_V1: &str = "
CREATE TABLE statements (
    stored INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    json TEXT NOT NULL,
    voided INTEGER NOT NULL,
    is_voiding INTEGER NOT NULL,
    object_ref BLOB,
    inheritable_terms BLOB NOT NULL
);
CREATE INDEX statements_by_object_ref
    ON statements (object_ref, is_voiding) WHERE object_ref IS NOT NULL;
CREATE TABLE statement_terms (
    term INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    PRIMARY KEY (term, stored)
) WITHOUT ROWID;
CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL
);
CREATE TABLE credentials (
    key TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    label TEXT NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER NOT NULL
);
CREATE INDEX credentials_by_created ON credentials (created);
";

/// Version 2: documents and agents.
///
/// * `documents`: State, Activity Profile and Agent Profile documents. Unused key parts are
///   `''` (not NULL) so the primary key is unique; id lists and delete-all walk a key prefix.
/// * `agents`: the latest form of each agent seen in statements, by IFI key.
const SCHEMA_V2: &str = "
CREATE TABLE documents (
    kind TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    registration TEXT NOT NULL,
    id TEXT NOT NULL,
    content BLOB NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (kind, activity_id, agent, registration, id)
) WITHOUT ROWID;
CREATE TABLE agents (
    ifi TEXT PRIMARY KEY,
    agent TEXT NOT NULL
) WITHOUT ROWID;
";

/// Version 3: the rules engine's records (see `storage::automation`).
///
/// * `rules_progress`: one row, how far evaluation has gone (`stored` of the last
///   statement evaluated).
/// * `rule_runs`: runs that failed or produced something, by rule and time.
/// * `rule_state`: each rule's key-value state; expired rows are ignored on read and
///   removed when the key is written again.
/// * `outbox`: intents to deliver; the partial index keeps the due scan small however
///   many items were delivered.
/// * `interventions`: assignments recorded by rules, for the API and impact analysis.
const SCHEMA_V3: &str = "
CREATE TABLE rules_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    evaluated_through INTEGER NOT NULL
);
CREATE TABLE rule_runs (
    rule TEXT NOT NULL,
    evaluated INTEGER NOT NULL,
    trigger BLOB NOT NULL,
    intents INTEGER NOT NULL,
    state_changes INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (rule, evaluated, trigger)
) WITHOUT ROWID;
CREATE TABLE rule_state (
    rule TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires INTEGER,
    PRIMARY KEY (rule, key)
) WITHOUT ROWID;
CREATE TABLE outbox (
    key TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    trigger BLOB NOT NULL,
    kind TEXT NOT NULL,
    target TEXT,
    intent TEXT NOT NULL,
    created INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    updated INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE status = 'pending';
CREATE INDEX outbox_by_status ON outbox (status, updated);
CREATE TABLE interventions (
    key TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    trigger BLOB NOT NULL,
    actor_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    activity TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded INTEGER NOT NULL
);
CREATE INDEX interventions_by_recorded ON interventions (recorded);
CREATE INDEX interventions_by_activity ON interventions (activity, recorded);
CREATE INDEX interventions_by_actor ON interventions (actor_id, recorded);
";

/// Version 4: the term index written in bulk (see `unindexed`).
///
/// * `statements.uninherited_terms`: the packed keys a statement is stored under that a
///   reference does not inherit (Authority); with `inheritable_terms`, every key of its
///   term rows, so rows not yet in `statement_terms` can be rebuilt. NULL in rows written
///   before version 4, which are all indexed.
/// * `term_index_progress`: one row; every statement stored at or before `indexed_through`
///   has its rows in `statement_terms` (and, from version 5, its id in `statement_ids`).
const SCHEMA_V4: &str = "
ALTER TABLE statements ADD COLUMN uninherited_terms BLOB;
CREATE TABLE term_index_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_through INTEGER NOT NULL
);
INSERT INTO term_index_progress VALUES (1, (SELECT coalesce(max(stored), 0) FROM statements));
";

/// Version 5: the statement-id index written in bulk too (see `unindexed`).
///
/// * `statement_ids`: id → `stored` of every statement stored at or before the watermark
///   (`term_index_progress`); newer ones are in memory. The UNIQUE index on `statements.id`
///   inserted each statement at a random place of a B-tree the size of the store, so the
///   table is rebuilt without it.
const SCHEMA_V5: &str = "
CREATE TABLE statements_v5 (
    stored INTEGER PRIMARY KEY,
    id BLOB NOT NULL,
    json TEXT NOT NULL,
    voided INTEGER NOT NULL,
    is_voiding INTEGER NOT NULL,
    object_ref BLOB,
    inheritable_terms BLOB NOT NULL,
    uninherited_terms BLOB
);
INSERT INTO statements_v5 SELECT * FROM statements;
DROP TABLE statements;
ALTER TABLE statements_v5 RENAME TO statements;
CREATE INDEX statements_by_object_ref
    ON statements (object_ref, is_voiding) WHERE object_ref IS NOT NULL;
CREATE TABLE statement_ids (
    id BLOB PRIMARY KEY,
    stored INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO statement_ids
    SELECT id, stored FROM statements
    WHERE stored <= (SELECT indexed_through FROM term_index_progress WHERE id = 1);
";

/// Version 6: skills inference (see `storage::skills`).
///
/// * `skill_estimates`: one row per person and skill; `skill_estimates_by_skill` serves
///   talent search.
/// * `skill_evidence`: each statement's contribution to an estimate, by person and skill in
///   time order, for explanations and replays.
/// * `skill_items`: difficulties learned per activity and skill.
/// * `skills_progress`: one row, the position in the statement stream and the fingerprint
///   of the framework the estimates follow.
const SCHEMA_V6: &str = "
CREATE TABLE skill_estimates (
    person TEXT NOT NULL,
    skill TEXT NOT NULL,
    mean REAL NOT NULL,
    variance REAL NOT NULL,
    at INTEGER NOT NULL,
    evidence INTEGER NOT NULL,
    PRIMARY KEY (person, skill)
) WITHOUT ROWID;
CREATE INDEX skill_estimates_by_skill ON skill_estimates (skill, mean);
CREATE TABLE skill_evidence (
    person TEXT NOT NULL,
    skill TEXT NOT NULL,
    at INTEGER NOT NULL,
    statement BLOB NOT NULL,
    item TEXT NOT NULL,
    outcome REAL NOT NULL,
    weight REAL NOT NULL,
    predicted REAL NOT NULL,
    mean_change REAL NOT NULL,
    steps_up INTEGER NOT NULL,
    PRIMARY KEY (person, skill, statement)
) WITHOUT ROWID;
CREATE TABLE skill_items (
    item TEXT NOT NULL,
    skill TEXT NOT NULL,
    mean REAL NOT NULL,
    variance REAL NOT NULL,
    observations INTEGER NOT NULL,
    PRIMARY KEY (item, skill)
) WITHOUT ROWID;
CREATE TABLE skills_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    evaluated_through INTEGER NOT NULL,
    framework TEXT NOT NULL
);
";

/// Version 7: people and teams (see `storage::people`).
///
/// * `people`: one row per person by IFI key; the fields an import did not give are NULL.
/// * `people_by_team`: serves a team's members and the team counts.
const SCHEMA_V7: &str = "
CREATE TABLE people (
    person TEXT PRIMARY KEY,
    name TEXT,
    team TEXT,
    manager TEXT,
    role TEXT,
    updated INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX people_by_team ON people (team, person) WHERE team IS NOT NULL;
";

/// Version 8: the audit log (see `storage::audit`; `sequence` is the rowid, in append
/// order) and people's consent (`storage::people::ConsentRecord`).
const SCHEMA_V8: &str = "
CREATE TABLE consent (
    person TEXT PRIMARY KEY,
    inference_opt_out INTEGER NOT NULL,
    nudges_opt_out INTEGER NOT NULL,
    updated INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE audit_log (
    sequence INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL,
    previous TEXT NOT NULL,
    hash TEXT NOT NULL
);
";

/// Version 9: erasure (see `storage::erasure`).
///
/// * `erasure_jobs`: erasures recorded and not yet finished (the job as JSON); removed when
///   done, so an interrupted erasure is resumed when the store opens.
/// * `tombstones`: keyed hashes of erased identifiers, to catch replays.
/// * `report_links`: the SHA-256 of each transparency-report link's token, whom it shows
///   and until when.
const SCHEMA_V9: &str = "
CREATE TABLE report_links (
    token_hash TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE erasure_jobs (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL
);
CREATE TABLE tombstones (
    hash TEXT PRIMARY KEY,
    erased INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 10: issued Open Badges credentials (`storage::badges`). `active_key` is set while
/// a credential of a non-repeatable achievement is unrevoked, so a person holds at most one;
/// `badge_status_counter` hands out revocation status list positions.
const SCHEMA_V10: &str = "
CREATE TABLE badges (
    id TEXT PRIMARY KEY,
    person TEXT NOT NULL,
    achievement TEXT NOT NULL,
    status_index INTEGER NOT NULL UNIQUE,
    issued INTEGER NOT NULL,
    award_key TEXT NOT NULL UNIQUE,
    active_key TEXT UNIQUE,
    revoked INTEGER,
    revocation_reason TEXT,
    document TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX badges_by_person ON badges (person, issued);
CREATE INDEX badges_revoked ON badges (status_index) WHERE revoked IS NOT NULL;
CREATE TABLE badge_status_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next INTEGER NOT NULL
);
";

/// Version 11: the newest credential found without a scan (status lists are served only up
/// to its list).
const SCHEMA_V11: &str = "
CREATE INDEX badges_by_issued ON badges (issued);
";

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6, SCHEMA_V7, SCHEMA_V8, SCHEMA_V9, SCHEMA_V10,
    SCHEMA_V11,
];

/// Opens (creating file and directories) the one connection that writes, and migrates it.
pub(super) fn open_writer_connection(path: &Path) -> anyhow::Result<Connection> {
    super::page_cache::install();
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the directory {}", dir.display()))?;
    }
    let mut conn = Connection::open(path).with_context(|| format!("opening the SQLite database {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("SQLite refused WAL mode for {} (journal_mode={mode})", path.display());
    }
    // FULL: a commit is on disk (WAL fsynced) before the writer answers. The page cache
    // (32 MiB) keeps the hot parts of the term index in memory (inserts land at random term
    // keys); a larger one measured no cheaper per statement up to 1M statements, where the
    // hot set outgrows any affordable cache and misses come from the file cache. The WAL is
    // truncated back to a bounded size after checkpoints. Checkpoints run on a background
    // thread (`checkpoint`); the writer checkpoints only as a fallback when the WAL has
    // grown very large.
    // secure_delete: a deleted row is overwritten with zeros where it was, so erasure
    // leaves no copy in the file (see `erasure`).
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32768;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA wal_autocheckpoint = 50000;",
    )
    .context("setting the writer pragmas")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    migrate(&mut conn).context("migrating the SQLite schema")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if !(0..=known).contains(&version) {
        bail!("the database has schema version {version}; this build knows up to {known}");
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).with_context(|| format!("applying schema version {}", from + 1))?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The highest `stored` in the database (0 when empty); the writer's clock continues after it.
pub(super) fn find_last_stored(conn: &Connection) -> anyhow::Result<Micros> {
    let last: Option<Micros> = conn.query_row("SELECT max(stored) FROM statements", [], |row| row.get(0))?;
    Ok(last.unwrap_or(0))
}

/// Read-only connections for queries, running beside the writer thanks to WAL. Each keeps a
/// small page cache (4 MiB): a query reads a few hundred pages at most, and pages it misses
/// come from the operating system's file cache, which all connections share.
pub(super) fn open_read_pool(path: &Path, size: u32) -> anyhow::Result<Pool<SqliteConnectionManager>> {
    super::page_cache::install();
    let manager = SqliteConnectionManager::file(path).with_init(|conn| {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -4096;")
    });
    Pool::builder()
        .max_size(size.max(1))
        .build(manager)
        .with_context(|| format!("opening the SQLite read pool for {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_keeps_the_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/lrs.db");
        drop(open_writer_connection(&path).unwrap());
        let conn = open_writer_connection(&path).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn version_5_indexes_the_ids_of_indexed_statements_and_keeps_every_row() {
        // Arrange: a version-4 database with three statements, two of them indexed.
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v4.db")).unwrap();
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        for stored in 1..=3 {
            conn.execute("INSERT INTO statements VALUES (?1, randomblob(16), '{}', 0, 0, NULL, x'', NULL)", [stored])
                .unwrap();
        }
        conn.execute("UPDATE term_index_progress SET indexed_through = 2", []).unwrap();

        // Act
        migrate(&mut conn).unwrap();

        // Assert
        let count = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT count(*) FROM statements"), 3);
        assert_eq!(count("SELECT count(*) FROM statement_ids i JOIN statements s USING (stored, id)"), 2);
        assert_eq!(count("SELECT max(stored) FROM statement_ids"), 2);
        let indexes = count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'statements'");
        assert_eq!(indexes, 1, "only statements_by_object_ref: no unique index on id");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lrs.db");
        let conn = open_writer_connection(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(open_writer_connection(&path).is_err());
    }
}

//! Background WAL checkpoints. A thread with its own connection copies committed WAL
//! frames into the database file with PASSIVE checkpoints (which never block the writer or
//! readers), so the writer does not pay for checkpoints inside its commits. Started and
//! stopped by `SqliteStore`.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use rusqlite::Connection;

/// How often committed frames are copied back; the WAL stays small between checkpoints.
const INTERVAL: Duration = Duration::from_millis(200);

pub(super) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> anyhow::Result<Self> {
        super::page_cache::install();
        let conn = Connection::open(path).with_context(|| format!("opening {} for checkpoints", path.display()))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name("fluency-ckpt".into())
            .spawn(move || run(conn, signal))
            .context("starting the SQLite checkpoint thread")?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

fn run(conn: Connection, stop: Arc<(Mutex<bool>, Condvar)>) {
    let (lock, wake) = &*stop;
    let mut stopped = lock.lock().expect("checkpoint lock");
    while !*stopped {
        stopped = wake.wait_timeout(stopped, INTERVAL).expect("checkpoint lock").0;
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %error, "A background WAL checkpoint failed; the next one retries.");
        }
    }
    // Leave a small WAL behind on a clean shutdown.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().expect("checkpoint lock") = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the SQLite checkpoint thread panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_frames_reach_the_database_and_shutdown_truncates_the_wal() {
        crate::storage::sqlite::page_cache::install();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB);")
            .unwrap();
        let checkpointer = Checkpointer::start(&path).unwrap();
        for _ in 0..200 {
            writer.execute("INSERT INTO t VALUES (zeroblob(4000))", []).unwrap();
        }
        let wal = dir.path().join("db.sqlite-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 0, "writes went to the WAL");

        drop(checkpointer);

        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "the WAL was checkpointed and truncated");
        let rows: i64 = Connection::open(&path).unwrap().query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 200);
    }
}

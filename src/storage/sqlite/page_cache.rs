//! SQLite's default page cache behind a thin wrapper that renames one page key, so commits do
//! not walk the whole cache. Installed once per process by `install`, before any connection
//! opens (every opener in this module calls it first).
//!
//! Why: when SQLite rebalances b-tree pages it may swap two page numbers, parking one page
//! for a moment under the locking page's number (`PENDING_BYTE / page_size + 1`: 262,145 with
//! 4 KiB pages). The default cache remembers the largest key it ever held, and at every
//! COMMIT it drops the pages past the end of the database; when that remembered key lies
//! far past the end, as the parking key does in any database under 1 GiB, it walks its whole
//! hash table to do so. With the writer's 64 MB cache that walk took about 1 ms per commit,
//! a quarter of the writer's CPU. The wrapper parks such pages under key 0 instead, a number
//! no page ever has, and passes everything else through unchanged.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Once, OnceLock};

use rusqlite::ffi;

/// The byte SQLite locks (`PENDING_BYTE`); the page holding it is never used for data.
const PENDING_BYTE: c_uint = 0x4000_0000;

/// The default page cache's methods, wrapped by ours.
struct Default(ffi::sqlite3_pcache_methods2);

// Function pointers and SQLite's own (unused) argument; SQLite calls them from any thread.
unsafe impl Send for Default {}
unsafe impl Sync for Default {}

static DEFAULT: OnceLock<Default> = OnceLock::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// How many times a page was parked (for tests).
static PARKED: AtomicU64 = AtomicU64::new(0);

/// Installs the wrapper unless SQLite is already initialized in this process (then the
/// default cache stays, only slower). Returns whether the wrapper is in place.
pub(super) fn install() -> bool {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: both calls pass a pointer to a properly sized struct, as the documented
        // SQLITE_CONFIG_GETPCACHE2 and SQLITE_CONFIG_PCACHE2 interfaces require; SQLite
        // refuses them (SQLITE_MISUSE) once initialized, and then nothing changes.
        unsafe {
            let mut default: ffi::sqlite3_pcache_methods2 = std::mem::zeroed();
            if ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, &mut default as *mut _) != ffi::SQLITE_OK {
                tracing::debug!("SQLite was initialized already; keeping its default page cache.");
                return;
            }
            if DEFAULT.set(Default(default)).is_err() {
                return;
            }
            let wrapper = ffi::sqlite3_pcache_methods2 {
                iVersion: 1,
                pArg: std::ptr::null_mut(),
                xInit: Some(init),
                xShutdown: Some(shutdown),
                xCreate: Some(create),
                xCachesize: Some(cachesize),
                xPagecount: Some(pagecount),
                xFetch: Some(fetch),
                xUnpin: Some(unpin),
                xRekey: Some(rekey),
                xTruncate: Some(truncate),
                xDestroy: Some(destroy),
                xShrink: Some(shrink),
            };
            if ffi::sqlite3_config(ffi::SQLITE_CONFIG_PCACHE2, &wrapper as *const _) == ffi::SQLITE_OK {
                INSTALLED.store(true, Relaxed);
            } else {
                tracing::warn!("SQLite refused the page cache wrapper; keeping its default page cache.");
            }
        }
    });
    installed()
}

/// Whether SQLite uses the wrapper.
pub(super) fn installed() -> bool {
    INSTALLED.load(Relaxed)
}

fn default() -> &'static ffi::sqlite3_pcache_methods2 {
    &DEFAULT.get().expect("the default page cache is saved before the wrapper is installed").0
}

/// One cache: the default cache's and the key parked pages use there.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    parking: c_uint,
}

impl Cache {
    /// The key the default cache knows the page by.
    fn key(&self, key: c_uint) -> c_uint {
        if key == self.parking {
            0
        } else {
            key
        }
    }
}

/// # Safety (all methods below)
/// SQLite calls them as its page cache interface specifies: `cache` is a pointer `create`
/// returned and not yet passed to `destroy`.
unsafe fn cache<'a>(cache: *mut ffi::sqlite3_pcache) -> &'a Cache {
    &*(cache as *const Cache)
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    let default = default();
    match default.xInit {
        Some(init) => init(default.pArg),
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn shutdown(_: *mut c_void) {
    let default = default();
    if let Some(shutdown) = default.xShutdown {
        shutdown(default.pArg);
    }
}

unsafe extern "C" fn create(page_size: c_int, extra: c_int, purgeable: c_int) -> *mut ffi::sqlite3_pcache {
    let inner = (default().xCreate.expect("xCreate"))(page_size, extra, purgeable);
    if inner.is_null() {
        return inner;
    }
    let parking = PENDING_BYTE / c_uint::try_from(page_size.max(1)).unwrap_or(1) + 1;
    Box::into_raw(Box::new(Cache { inner, parking })) as *mut ffi::sqlite3_pcache
}

unsafe extern "C" fn cachesize(p: *mut ffi::sqlite3_pcache, size: c_int) {
    (default().xCachesize.expect("xCachesize"))(cache(p).inner, size)
}

unsafe extern "C" fn pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    (default().xPagecount.expect("xPagecount"))(cache(p).inner)
}

unsafe extern "C" fn fetch(p: *mut ffi::sqlite3_pcache, key: c_uint, create: c_int) -> *mut ffi::sqlite3_pcache_page {
    let cache = cache(p);
    (default().xFetch.expect("xFetch"))(cache.inner, cache.key(key), create)
}

unsafe extern "C" fn unpin(p: *mut ffi::sqlite3_pcache, page: *mut ffi::sqlite3_pcache_page, discard: c_int) {
    (default().xUnpin.expect("xUnpin"))(cache(p).inner, page, discard)
}

unsafe extern "C" fn rekey(p: *mut ffi::sqlite3_pcache, page: *mut ffi::sqlite3_pcache_page, old: c_uint, new: c_uint) {
    let cache = cache(p);
    if new == cache.parking {
        PARKED.fetch_add(1, Relaxed);
    }
    (default().xRekey.expect("xRekey"))(cache.inner, page, cache.key(old), cache.key(new))
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    (default().xTruncate.expect("xTruncate"))(cache(p).inner, limit)
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    let cache = Box::from_raw(p as *mut Cache);
    (default().xDestroy.expect("xDestroy"))(cache.inner)
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    (default().xShrink.expect("xShrink"))(cache(p).inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use rusqlite::Connection;

    #[test]
    fn pages_parked_while_rebalancing_read_back_intact() {
        assert!(install(), "installed before any connection of this test binary opened");
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("parking.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB) WITHOUT ROWID;")
            .unwrap();
        let parked_before = PARKED.load(Relaxed);
        let mut rng = rand::thread_rng();

        // Inserts at random keys split and rebalance pages, swapping page numbers.
        for _ in 0..40 {
            let tx = conn.transaction().unwrap();
            for _ in 0..250 {
                tx.execute("INSERT OR IGNORE INTO t VALUES (?1, zeroblob(200))", [rng.gen::<i64>()]).unwrap();
            }
            tx.commit().unwrap();
        }

        assert!(PARKED.load(Relaxed) > parked_before, "no page was parked: the test proves nothing");
        let check: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
        assert_eq!(check, "ok");
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0)).unwrap();
        assert!(rows > 9_900, "{rows} rows");
    }
}

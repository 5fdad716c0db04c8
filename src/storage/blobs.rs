//! Attachment payload files, addressed by their SHA-2: one file per distinct hash under
//! `<dir>/<first two hex digits>/<hash>`. Used by the statement service (through
//! `spawn_blocking`) to keep the bytes of multipart attachments and to serve `attachments=true`.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use rand::Rng;

use crate::xapi::multipart::sha2_hex;

/// A directory of attachment payloads. Writes are atomic and durable; the same hash is stored
/// once, so inserting it again, even concurrently, is harmless.
#[derive(Debug, Clone)]
pub struct AttachmentStore {
    dir: PathBuf,
}

impl AttachmentStore {
    /// Opens the store in `dir`, creating the directory if needed.
    pub fn open(dir: PathBuf) -> anyhow::Result<Self> {
        fs::create_dir_all(&dir).with_context(|| format!("creating attachment directory {}", dir.display()))?;
        Ok(Self { dir })
    }

    /// Stores `bytes` under `sha2` (hex SHA-224/256/384/512, either case) unless that hash is
    /// already stored. Refuses a malformed hash or bytes that do not hash to it.
    pub fn insert(&self, sha2: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let name = file_name(sha2)?;
        let actual = sha2_hex(bytes, name.len()).context("checked by file_name")?;
        ensure!(actual == name, "attachment bytes hash to {actual}, not to {name}");
        let path = self.path(&name);
        if path.is_file() {
            return Ok(());
        }

        let shard = path.parent().context("blob paths have a shard directory")?;
        match fs::create_dir(shard) {
            // A new directory entry is durable only once its parent is synced.
            Ok(()) => sync_dir(&self.dir)?,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating directory {}", shard.display())),
        }

        // Write aside, sync, then rename: readers see no file or the whole file. Concurrent
        // writers of one hash each use their own temporary name and rename identical bytes.
        let temp = shard.join(format!(".{name}.{:016x}.tmp", rand::thread_rng().gen::<u64>()));
        let written = write_synced(&temp, bytes).and_then(|()| {
            fs::rename(&temp, &path).with_context(|| format!("renaming {} to {}", temp.display(), path.display()))
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        sync_dir(shard)
    }

    /// The file holding the bytes stored under `sha2`, open for reading, and its length.
    pub fn open_file(&self, sha2: &str) -> anyhow::Result<Option<(fs::File, u64)>> {
        let path = self.path(&file_name(sha2)?);
        match fs::File::open(&path) {
            Ok(file) => {
                let len = file.metadata().with_context(|| format!("reading {}", path.display()))?.len();
                Ok(Some((file, len)))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("opening attachment {}", path.display())),
        }
    }

    /// Whether bytes are stored under `sha2`; `false` for a malformed hash.
    pub fn contains(&self, sha2: &str) -> bool {
        file_name(sha2).is_ok_and(|name| self.path(&name).is_file())
    }

    /// Deletes the bytes stored under `sha2`, durably; false when none were stored.
    pub fn remove(&self, sha2: &str) -> anyhow::Result<bool> {
        let path = self.path(&file_name(sha2)?);
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(path.parent().context("blob paths have a shard directory")?)?;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("removing attachment {}", path.display())),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(&name[..2]).join(name)
    }
}

/// The lowercase hash; only hex digits of a SHA-2 length, so no path can be smuggled in.
fn file_name(sha2: &str) -> anyhow::Result<String> {
    let is_hex = sha2.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex || !matches!(sha2.len(), 56 | 64 | 96 | 128) {
        bail!("attachment hash {sha2:?} must be 56, 64, 96 or 128 hex digits");
    }
    Ok(sha2.to_ascii_lowercase())
}

fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("writing {}", path.display()))
}

/// Makes renames and new entries in `dir` durable (a no-op where directories cannot be opened).
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    if cfg!(unix) {
        File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing directory {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    /// The bytes stored under `sha2`, read through the file answers stream from.
    fn find(store: &AttachmentStore, sha2: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let Some((mut file, _)) = store.open_file(sha2)? else { return Ok(None) };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        Ok(Some(bytes))
    }

    fn store() -> (tempfile::TempDir, AttachmentStore) {
        let temp = tempfile::tempdir().unwrap();
        let store = AttachmentStore::open(temp.path().join("attachments")).unwrap();
        (temp, store)
    }

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(files_under(&path));
            } else {
                files.push(path);
            }
        }
        files
    }

    #[test]
    fn inserted_bytes_are_found_by_their_hash_in_a_sharded_file() {
        // Arrange
        let (_temp, store) = store();
        let bytes = b"here is a simple attachment";
        let hash = sha2_hex(bytes, 64).unwrap();

        // Act
        store.insert(&hash.to_uppercase(), bytes).unwrap();

        // Assert
        assert_eq!(find(&store, &hash).unwrap().as_deref(), Some(&bytes[..]));
        assert!(store.contains(&hash.to_uppercase()));
        assert_eq!(files_under(&store.dir), vec![store.dir.join(&hash[..2]).join(&hash)]);
    }

    #[test]
    fn every_sha2_length_is_stored() {
        let (_temp, store) = store();
        for len in [56, 64, 96, 128] {
            let hash = sha2_hex(b"abc", len).unwrap();
            store.insert(&hash, b"abc").unwrap();
            assert_eq!(find(&store, &hash).unwrap(), Some(b"abc".to_vec()), "{len}");
        }
    }

    #[test]
    fn an_unknown_hash_is_not_found() {
        let (_temp, store) = store();
        let hash = sha2_hex(b"never stored", 64).unwrap();
        assert_eq!(find(&store, &hash).unwrap(), None);
        assert!(!store.contains(&hash));
    }

    #[test]
    fn a_second_insert_of_the_same_hash_leaves_the_file_alone() {
        let (_temp, store) = store();
        let hash = sha2_hex(b"once", 64).unwrap();
        store.insert(&hash, b"once").unwrap();
        let path = store.path(&hash);
        let before = fs::metadata(&path).unwrap().modified().unwrap();

        store.insert(&hash, b"once").unwrap();

        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
        assert_eq!(files_under(&store.dir).len(), 1);
    }

    #[test]
    fn malformed_hashes_and_mismatched_bytes_are_refused() {
        let (_temp, store) = store();
        let good = sha2_hex(b"x", 64).unwrap();
        let path_trick = format!("../{}", &good[3..]);
        let not_hex = "zz".repeat(32);
        for (description, hash) in
            [("path", path_trick.as_str()), ("not hex", not_hex.as_str()), ("SHA-1 length", &good[..40]), ("empty", "")]
        {
            let error = store.insert(hash, b"x").unwrap_err().to_string();
            assert!(error.contains("hex digits"), "{description}: {error}");
            assert!(find(&store, hash).is_err(), "{description}");
            assert!(!store.contains(hash), "{description}");
        }
        let error = store.insert(&good, b"y").unwrap_err().to_string();
        assert!(error.contains("attachment bytes hash to"), "{error}");
        assert!(files_under(&store.dir).is_empty());
    }

    #[test]
    fn concurrent_inserts_of_one_hash_leave_one_correct_file() {
        // Arrange
        let (_temp, store) = store();
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let hash = sha2_hex(&bytes, 64).unwrap();
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));

        // Act
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (store, bytes, hash, barrier) = (store.clone(), bytes.clone(), hash.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.insert(&hash, &bytes)
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap().unwrap();
        }

        // Assert: no temporary file is left behind.
        assert_eq!(files_under(&store.dir), vec![store.path(&hash)]);
        assert_eq!(find(&store, &hash).unwrap(), Some(bytes));
    }
}

//! Looks for texts in files, byte for byte: the check that an erasure left no copy of a
//! person's identifiers or names in the store's files (database, WAL). Reads in chunks, so
//! a large store costs time, not memory.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;

use anyhow::Context;
use memchr::memmem::Finder;

const CHUNK: usize = 8 << 20;

/// The needles found in any of the files (missing files hold nothing), in the order given.
pub fn files_containing(files: &[PathBuf], needles: &[String]) -> anyhow::Result<Vec<String>> {
    let finders: Vec<Finder<'_>> = needles.iter().map(|n| Finder::new(n.as_bytes())).collect();
    let overlap = needles.iter().map(String::len).max().unwrap_or(0).saturating_sub(1);
    let mut found = vec![false; needles.len()];
    for path in files {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        let mut window: Vec<u8> = Vec::with_capacity(CHUNK + overlap);
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let read = file.read(&mut chunk).with_context(|| format!("reading {}", path.display()))?;
            if read == 0 {
                break;
            }
            window.extend_from_slice(&chunk[..read]);
            for (seen, finder) in found.iter_mut().zip(&finders) {
                *seen = *seen || (!finder.needle().is_empty() && finder.find(&window).is_some());
            }
            // Keep the tail, so a needle split between two reads is still seen.
            let keep = window.len().min(overlap);
            window.drain(..window.len() - keep);
        }
    }
    Ok(needles.iter().zip(found).filter(|(_, seen)| *seen).map(|(n, _)| n.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_needle_is_found_even_across_a_chunk_boundary_and_absent_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let mut bytes = vec![b'.'; CHUNK - 3];
        bytes.extend_from_slice(b"ada@example.com");
        bytes.extend(vec![b'.'; 100]);
        std::fs::write(&path, bytes).unwrap();
        let needles = vec!["ada@example.com".to_string(), "grace@example.com".to_string()];
        let found = files_containing(&[path, dir.path().join("missing")], &needles).unwrap();
        assert_eq!(found, vec!["ada@example.com".to_string()]);
    }
}

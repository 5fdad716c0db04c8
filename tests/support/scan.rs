//! Byte scans of a directory, for the erasure tests: which of some texts any file below it
//! still holds.

use std::path::{Path, PathBuf};

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Each needle found anywhere under `dir`, with the file it was found in.
pub fn scan(dir: &Path, needles: &[&[u8]]) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in needles {
            if bytes.windows(needle.len()).any(|window| window == *needle) {
                found.push((String::from_utf8_lossy(needle).into_owned(), file.clone()));
            }
        }
    }
    found
}

//! Files only their owner may read (keys, secrets): written whole and durably, so a crash
//! leaves the old file or the new one, never a part. Used for the cursor keys and the
//! pseudonym key.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` with mode 0600: to a temporary file beside it, synced, then
/// renamed into place, and the directory synced.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("creating {}", temporary.display()))?;
    restrict_permissions(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all().with_context(|| format!("syncing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming {}", temporary.display()))?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        File::open(dir)?.sync_all().with_context(|| format!("syncing {}", dir.display()))?;
    }
    Ok(())
}

/// 0600 even when the file existed before with wider permissions.
pub fn restrict_permissions(path: &Path) -> anyhow::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

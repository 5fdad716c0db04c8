//! The framework in force: read from every file of `<data_dir>/skills/` (`*.toml` Fluency's
//! own format, `*.json` CASE packages, `*.csv` ESCO-style concept lists), checked as a whole,
//! reloaded when the files change, and replaced file by file through the admin API. A
//! change that does not check leaves the previous framework in force; `version` moves on
//! every accepted change so the runner knows to recompute.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use anyhow::Context;

use super::case::read_case;
use super::esco::read_esco;
use super::framework::{Framework, FrameworkError, FrameworkParts, Origin};
use super::native::read_native;

/// Reads one framework file by its extension; `None` for files that are not frameworks.
pub fn read_framework_file(name: &str, text: &str) -> Option<Result<FrameworkParts, FrameworkError>> {
    let extension = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "toml" => Some(read_native(name, text)),
        "json" => Some(read_case(name, text)),
        "csv" => Some(read_esco(name, text)),
        _ => None,
    }
}

/// (file name, length, modification time) of every framework file: what a reload compares.
type Listing = Vec<(String, u64, Option<SystemTime>)>;

pub struct FrameworkCatalog {
    dir: PathBuf,
    /// The framework in force, and its fingerprint.
    current: RwLock<(Arc<Framework>, String)>,
    listing: Mutex<Listing>,
    version: AtomicU64,
    /// Wakes the runner on every accepted change.
    changed: tokio::sync::watch::Sender<u64>,
    /// The version the estimates were last inferred under (set by the runner).
    inferred: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Invalid(#[from] FrameworkError),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

impl FrameworkCatalog {
    /// Loads the directory (created when missing); an invalid framework refuses the start.
    pub fn open(dir: PathBuf) -> Result<Self, CatalogError> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (framework, listing) = load(&dir, None)?;
        Ok(Self {
            dir,
            current: RwLock::new((Arc::new(framework.clone()), framework.fingerprint())),
            listing: Mutex::new(listing),
            version: AtomicU64::new(1),
            changed: tokio::sync::watch::channel(1).0,
            inferred: AtomicU64::new(0),
        })
    }

    pub fn current(&self) -> Arc<Framework> {
        self.current.read().expect("framework lock").0.clone()
    }

    /// `Framework::fingerprint` of the framework in force, computed once per change.
    pub fn fingerprint(&self) -> String {
        self.current.read().expect("framework lock").1.clone()
    }

    /// Moves on every accepted change.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// Reloads when a file was added, removed or changed; true when the framework changed.
    pub fn reload_if_changed(&self) -> Result<bool, CatalogError> {
        let mut listing = self.listing.lock().expect("listing lock");
        if list(&self.dir)? == *listing {
            return Ok(false);
        }
        let (framework, fresh) = load(&self.dir, None)?;
        *listing = fresh;
        Ok(self.replace(framework))
    }

    /// Checks the framework with `name` holding `text`, then writes the file and puts the
    /// result in force. Nothing is written when the whole does not check.
    pub fn put(&self, name: &str, text: &str) -> Result<Arc<Framework>, CatalogError> {
        check_file_name(name)?;
        if read_framework_file(name, text).is_none() {
            return Err(FrameworkError::new(
                &Origin { file: name.into(), line: 0 },
                "name: a framework file ends in .toml, .json (CASE) or .csv (ESCO-style)",
            )
            .into());
        }
        let mut listing = self.listing.lock().expect("listing lock");
        let (framework, _) = load(&self.dir, Some((name, text)))?;
        let path = self.dir.join(name);
        let temporary = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&temporary, text).with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::File::open(&temporary).and_then(|f| f.sync_all()).context("syncing the framework file")?;
        std::fs::rename(&temporary, &path).with_context(|| format!("renaming into {}", path.display()))?;
        *listing = list(&self.dir)?;
        self.replace(framework);
        Ok(self.current())
    }

    /// Makes the runner start over from the first statement, as a framework change does.
    pub fn request_rebuild(&self) {
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        self.changed.send_replace(version);
    }

    /// Changes to the version, for the runner to wake on.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The version the estimates in force were inferred under.
    pub fn inferred_version(&self) -> u64 {
        self.inferred.load(Ordering::SeqCst)
    }

    pub fn mark_inferred(&self, version: u64) {
        self.inferred.store(version, Ordering::SeqCst);
    }

    fn replace(&self, framework: Framework) -> bool {
        let mut current = self.current.write().expect("framework lock");
        if *current.0 == framework {
            return false;
        }
        let fingerprint = framework.fingerprint();
        *current = (Arc::new(framework), fingerprint);
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        self.changed.send_replace(version);
        true
    }
}

fn check_file_name(name: &str) -> Result<(), FrameworkError> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(FrameworkError::new(
            &Origin { file: name.into(), line: 0 },
            "name: letters, digits, '-', '_' and '.' only, not starting with '.'",
        ))
    }
}

fn list(dir: &Path) -> anyhow::Result<Listing> {
    let mut listing = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || read_framework_file(&name, "").is_none() {
            continue;
        }
        let metadata = entry.metadata()?;
        listing.push((name, metadata.len(), metadata.modified().ok()));
    }
    listing.sort();
    Ok(listing)
}

/// Reads every file (with `replacing` in place of, or beside, the file of that name),
/// in name order, and checks the whole.
fn load(dir: &Path, replacing: Option<(&str, &str)>) -> Result<(Framework, Listing), CatalogError> {
    let listing = list(dir)?;
    let mut names: Vec<&str> = listing.iter().map(|(name, _, _)| name.as_str()).collect();
    if let Some((name, _)) = replacing {
        if !names.contains(&name) {
            names.push(name);
            names.sort();
        }
    }
    let mut parts = FrameworkParts::default();
    for name in names {
        let text = match replacing {
            Some((replaced, text)) if replaced == name => text.to_string(),
            _ => std::fs::read_to_string(dir.join(name)).with_context(|| format!("reading {name}"))?,
        };
        if let Some(read) = read_framework_file(name, &text) {
            parts.extend(read?);
        }
    }
    Ok((Framework::build(parts)?, listing))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "[[skill]]\niri = \"https://s.example/sql\"\n";

    #[test]
    fn files_are_loaded_together_and_a_bad_change_leaves_the_framework_in_force() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.toml"), SQL).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a framework").unwrap();
        let catalog = FrameworkCatalog::open(dir.path().to_path_buf()).unwrap();
        let first = catalog.version();

        let added = catalog.put("more.toml", "[[skill]]\niri = \"https://s.example/data\"\n").unwrap();
        let dangling = catalog
            .put("bad.toml", "[[skill]]\niri = \"https://s.example/x\"\nbroader = [\"https://s.example/nope\"]\n");
        let duplicate = catalog.put("dup.toml", SQL);

        assert_eq!(added.skills.len(), 2);
        assert_eq!(catalog.version(), first + 1);
        assert!(dangling.unwrap_err().to_string().contains("bad.toml:1: broader"));
        assert!(duplicate.unwrap_err().to_string().contains("already defined at base.toml:1"));
        assert!(!dir.path().join("bad.toml").exists(), "nothing half-loaded: a refused file is not written");
        assert_eq!(catalog.current().skills.len(), 2);
        assert!(!catalog.reload_if_changed().unwrap());
    }

    #[test]
    fn case_packages_and_concept_lists_load_beside_native_files_and_link_across_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.toml"), SQL).unwrap();
        let catalog = FrameworkCatalog::open(dir.path().to_path_buf()).unwrap();
        let csv = "conceptUri,preferredLabel,broaderUri\nhttps://s.example/joins,Joins,https://s.example/sql\n";
        let case = r#"{"CFDocument": {"identifier": "d"}, "CFItems": [
            {"identifier": "w", "uri": "https://s.example/window", "fullStatement": "Window functions"}],
            "CFAssociations": [{"associationType": "isChildOf",
              "originNodeURI": {"identifier": "w"}, "destinationNodeURI": {"uri": "https://s.example/sql"}}]}"#;

        catalog.put("esco.csv", csv).unwrap();
        let framework = catalog.put("case.json", case).unwrap();
        let refused = catalog.put("broken.json", "{\"CFItems\": []}");

        assert_eq!(
            framework.skills["https://s.example/sql"].narrower,
            ["https://s.example/joins", "https://s.example/window"]
        );
        assert!(refused.unwrap_err().to_string().starts_with("broken.json:1: not a CASE package"));
        assert!(!dir.path().join("broken.json").exists());
    }

    #[test]
    fn a_file_changed_on_disk_is_reloaded_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = FrameworkCatalog::open(dir.path().to_path_buf()).unwrap();
        std::fs::write(dir.path().join("base.toml"), SQL).unwrap();

        assert!(catalog.reload_if_changed().unwrap());
        assert_eq!(catalog.current().skills.len(), 1);
        for bad in ["../escape.toml", ".hidden.toml", "notes.txt"] {
            assert!(catalog.put(bad, SQL).is_err(), "{bad}");
        }
    }
}

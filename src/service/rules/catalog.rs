//! The rules directory as the running LRS sees it: the compiled `RuleSet` (swapped whole
//! on every change, run records carried over), reloaded when files change on disk and
//! edited through the admin API (create or replace, enable or disable, delete). A file
//! that does not compile is never installed by the API and is listed as refused when it
//! comes from disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use serde::Serialize;

use crate::rules::{RuleError, RuleFile, RuleHealth, RuleSet, RulesSettings};

/// What the API shows of a rule.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    pub name: String,
    pub description: String,
    pub file: String,
    /// sha256 of the file: part of every intent's idempotency key.
    pub version: String,
    /// As the file says; `health.disabled` tells whether failures stopped it.
    pub enabled: bool,
    pub health: RuleHealth,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RulesListing {
    pub rules: Vec<RuleView>,
    /// Files in the directory that could not be installed, with the reason.
    pub refused: Vec<RuleError>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file does not parse or compile, or its name differs from the one addressed.
    #[error("{0}")]
    Invalid(RuleError),
    #[error("the rules directory cannot be written: {0}")]
    Io(#[from] std::io::Error),
    #[error("the rules cannot be loaded: {0}")]
    Load(String),
}

/// Name, length and modification time of each rule file: a change in any means reload.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

pub struct RuleCatalog {
    dir: PathBuf,
    settings: RulesSettings,
    current: RwLock<Arc<RuleSet>>,
    /// Held while the directory is read or edited, so edits and reloads do not interleave.
    fingerprint: Mutex<Fingerprint>,
}

impl RuleCatalog {
    /// Loads every rule of `dir`, creating the directory if needed.
    pub fn open(dir: impl Into<PathBuf>, settings: RulesSettings) -> anyhow::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("creating the rules directory {}: {e}", dir.display()))?;
        let fingerprint = fingerprint(&dir)?;
        let set = RuleSet::load_dir(settings.clone(), &dir)?;
        log_loaded(&dir, &set);
        Ok(Self { dir, settings, current: RwLock::new(Arc::new(set)), fingerprint: Mutex::new(fingerprint) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The rules now in force.
    pub fn current(&self) -> Arc<RuleSet> {
        self.current.read().expect("rule set lock").clone()
    }

    /// Reloads when a rule file was added, removed or changed since the last load; true
    /// when it did.
    pub fn reload_if_changed(&self) -> Result<bool, CatalogError> {
        let mut last = self.fingerprint.lock().expect("catalog lock");
        let now = fingerprint(&self.dir).map_err(|e| CatalogError::Load(e.to_string()))?;
        if now == *last {
            return Ok(false);
        }
        self.reload_locked(&mut last)?;
        Ok(true)
    }

    fn reload_locked(&self, fingerprint_slot: &mut Fingerprint) -> Result<(), CatalogError> {
        *fingerprint_slot = fingerprint(&self.dir).map_err(|e| CatalogError::Load(e.to_string()))?;
        let set = RuleSet::load_dir(self.settings.clone(), &self.dir).map_err(|e| CatalogError::Load(e.to_string()))?;
        set.carry_health_from(&self.current());
        log_loaded(&self.dir, &set);
        *self.current.write().expect("rule set lock") = Arc::new(set);
        Ok(())
    }

    pub fn list(&self) -> RulesListing {
        let set = self.current();
        let rules = set.rules().iter().map(|rule| view(&set, &rule.name)).collect();
        RulesListing { rules, refused: set.refused().to_vec() }
    }

    /// The rule's view and its file's text.
    pub fn get(&self, name: &str) -> Option<(RuleView, String)> {
        let set = self.current();
        let rule = set.rules().iter().find(|rule| &*rule.name == name)?;
        let source = std::fs::read_to_string(&rule.file).ok()?;
        Some((view(&set, name), source))
    }

    /// Installs `source` as rule `name` (replacing its file, or creating `<name>.rhai`);
    /// true when the rule is new. Refused, changing nothing, unless it compiles.
    pub fn put(&self, name: &str, source: &str) -> Result<(RuleView, bool), CatalogError> {
        let mut fingerprint = self.fingerprint.lock().expect("catalog lock");
        let existing = self.file_of(name);
        let path = existing.clone().unwrap_or_else(|| self.dir.join(format!("{name}.rhai")));
        let file = RuleFile::parse(&path.display().to_string(), source).map_err(CatalogError::Invalid)?;
        if file.name != name {
            let message = format!("metadata: name {:?} differs from the rule addressed, {name:?}", file.name);
            return Err(CatalogError::Invalid(RuleError::compile(message, 1, 1).in_file(&file.file)));
        }
        RuleSet::build(self.settings.clone(), vec![file.clone()])
            .map_err(CatalogError::Load)?
            .refused()
            .first()
            .map_or(Ok(()), |error| Err(CatalogError::Invalid(error.clone())))?;
        write_atomically(&path, source)?;
        self.reload_locked(&mut fingerprint)?;
        Ok((view(&self.current(), name), existing.is_none()))
    }

    /// Sets `enabled` in the rule's metadata (clearing a disable for failures); `None`
    /// when there is no such rule.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<Option<RuleView>, CatalogError> {
        let mut fingerprint = self.fingerprint.lock().expect("catalog lock");
        let Some(path) = self.file_of(name) else { return Ok(None) };
        let source = std::fs::read_to_string(&path)?;
        write_atomically(&path, &with_enabled(&source, enabled))?;
        self.reload_locked(&mut fingerprint)?;
        Ok(Some(view(&self.current(), name)))
    }

    /// Removes the rule's file; false when there is no such rule.
    pub fn delete(&self, name: &str) -> Result<bool, CatalogError> {
        let mut fingerprint = self.fingerprint.lock().expect("catalog lock");
        let Some(path) = self.file_of(name) else { return Ok(false) };
        std::fs::remove_file(&path)?;
        self.reload_locked(&mut fingerprint)?;
        Ok(true)
    }

    fn file_of(&self, name: &str) -> Option<PathBuf> {
        self.current().rules().iter().find(|rule| &*rule.name == name).map(|rule| PathBuf::from(&rule.file))
    }
}

fn view(set: &RuleSet, name: &str) -> RuleView {
    let rule = set.rules().iter().find(|rule| &*rule.name == name).expect("the rule is in the set");
    RuleView {
        name: rule.name.to_string(),
        description: rule.description.clone(),
        file: rule.file.clone(),
        version: rule.version.to_string(),
        enabled: rule.enabled,
        health: set.health(name).unwrap_or_default(),
    }
}

fn log_loaded(dir: &Path, set: &RuleSet) {
    tracing::info!(dir = %dir.display(), rules = set.rules().len(), refused = set.refused().len(), "Loaded rules.");
    for error in set.refused() {
        tracing::warn!(error = %error, "Refused a rule file.");
    }
}

fn fingerprint(dir: &Path) -> anyhow::Result<Fingerprint> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "rhai") {
            let metadata = std::fs::metadata(&path)?;
            files.push((path, metadata.len(), metadata.modified().ok()));
        }
    }
    files.sort();
    Ok(files)
}

/// Write-then-rename, so a reload never reads half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("rhai.tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// `source` with its metadata's top-level `enabled` set: the line replaced if there is
/// one, else added first (before any `[table]`, where top-level keys must be).
fn with_enabled(source: &str, enabled: bool) -> String {
    let line = format!("//! enabled = {enabled}");
    let mut lines: Vec<&str> = source.lines().collect();
    let metadata = lines.iter().take_while(|l| l.starts_with("//!")).count();
    let top_level = lines[..metadata].iter().take_while(|l| !l[3..].trim_start().starts_with('[')).count();
    let existing = lines[..top_level].iter().position(|l| {
        let key = l[3..].trim_start();
        key.strip_prefix("enabled").is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    match existing {
        Some(index) => lines[index] = &line,
        None => lines.insert(0, &line),
    }
    let mut text = lines.join("\n");
    if source.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str =
        "//! name = \"nudge\"\n//! [trigger]\n//! verbs = [\"http://adlnet.gov/expapi/verbs/failed\"]\n\"ok\"\n";

    fn catalog() -> (tempfile::TempDir, RuleCatalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = RuleCatalog::open(dir.path().join("rules"), RulesSettings::default()).unwrap();
        (dir, catalog)
    }

    #[test]
    fn enabling_rewrites_or_adds_the_top_level_key() {
        let added = with_enabled(RULE, false);
        assert!(added.starts_with("//! enabled = false\n//! name = \"nudge\""), "{added}");
        let replaced = with_enabled(&added, true);
        assert_eq!(replaced.matches("enabled").count(), 1);
        assert!(RuleFile::parse("r.rhai", &replaced).unwrap().enabled);
        assert!(!RuleFile::parse("r.rhai", &added).unwrap().enabled);
    }

    #[test]
    fn put_installs_compiling_rules_and_refuses_others_without_touching_the_directory() {
        let (_dir, catalog) = catalog();

        let (view, created) = catalog.put("nudge", RULE).unwrap();
        let broken = catalog.put("nudge", "//! name = \"nudge\"\nlet x = ;\n").unwrap_err();
        let renamed = catalog.put("other", RULE).unwrap_err();

        assert!(created && view.enabled && view.name == "nudge");
        let CatalogError::Invalid(error) = broken else { panic!("{broken}") };
        assert_eq!(error.line, Some(2), "{error}");
        assert!(matches!(renamed, CatalogError::Invalid(e) if e.message.contains("differs")));
        assert_eq!(catalog.get("nudge").unwrap().1, RULE, "the good version stays");
        assert!(!catalog.put("nudge", RULE).unwrap().1, "a second put replaces");
    }

    #[test]
    fn files_changed_on_disk_are_reloaded_and_unchanged_rules_keep_their_health() {
        let (_dir, catalog) = catalog();
        catalog.put("nudge", RULE).unwrap();
        assert!(!catalog.reload_if_changed().unwrap());

        std::fs::write(catalog.dir().join("second.rhai"), RULE.replace("nudge", "second")).unwrap();
        std::fs::write(catalog.dir().join("broken.rhai"), "//! name = \"broken\"\nlet = 1;\n").unwrap();

        assert!(catalog.reload_if_changed().unwrap());
        let listing = catalog.list();
        let names: Vec<_> = listing.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["nudge", "second"]);
        assert_eq!(listing.refused.len(), 1);
        assert!(listing.refused[0].file.as_deref().unwrap().ends_with("broken.rhai"));
    }

    #[test]
    fn disable_enable_and_delete_edit_the_file() {
        let (_dir, catalog) = catalog();
        catalog.put("nudge", RULE).unwrap();

        let disabled = catalog.set_enabled("nudge", false).unwrap().unwrap();
        let enabled = catalog.set_enabled("nudge", true).unwrap().unwrap();
        let missing = catalog.set_enabled("missing", true).unwrap();

        assert!(!disabled.enabled && enabled.enabled && missing.is_none());
        assert!(catalog.delete("nudge").unwrap());
        assert!(!catalog.delete("nudge").unwrap());
        assert!(catalog.list().rules.is_empty());
    }
}

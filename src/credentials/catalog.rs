//! The achievements in force: every `*.json` file of `<data_dir>/achievements/` (one
//! achievement a file, named `<id>.json`), checked as a set, reloaded when the files change
//! and written through the admin API. A change that does not check leaves the previous set
//! in force.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use anyhow::Context;

use super::achievement::{check_set, is_achievement_id, parse_achievement, Achievement, AchievementError};

type Listing = Vec<(String, u64, Option<SystemTime>)>;

#[derive(Debug, thiserror::Error)]
pub enum AchievementCatalogError {
    #[error(transparent)]
    Invalid(#[from] AchievementError),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

pub struct AchievementCatalog {
    dir: PathBuf,
    current: RwLock<Arc<BTreeMap<String, Achievement>>>,
    listing: Mutex<Listing>,
}

impl AchievementCatalog {
    /// Loads the directory (created when missing); an invalid set refuses the start.
    pub fn open(dir: PathBuf) -> Result<Self, AchievementCatalogError> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (set, listing) = load(&dir, None)?;
        Ok(Self { dir, current: RwLock::new(Arc::new(set)), listing: Mutex::new(listing) })
    }

    pub fn all(&self) -> Arc<BTreeMap<String, Achievement>> {
        self.current.read().expect("achievements lock").clone()
    }

    pub fn get(&self, id: &str) -> Option<Achievement> {
        self.all().get(id).cloned()
    }

    /// Reads the directory again if any file changed; `Ok(true)` when a new set is in force.
    pub fn reload_if_changed(&self) -> Result<bool, AchievementCatalogError> {
        let listing = list(&self.dir)?;
        if *self.listing.lock().expect("listing lock") == listing {
            return Ok(false);
        }
        let (set, listing) = load(&self.dir, None)?;
        *self.current.write().expect("achievements lock") = Arc::new(set);
        *self.listing.lock().expect("listing lock") = listing;
        Ok(true)
    }

    /// Checks `text` as the definition of `id` together with the others, then writes it.
    pub fn put(&self, id: &str, text: &str) -> Result<Achievement, AchievementCatalogError> {
        if !is_achievement_id(id) {
            return Err(AchievementError::new(id, "id: must be 1 to 64 lowercase letters, digits, '-' or '_'").into());
        }
        let achievement = parse_achievement(id, text)?;
        if achievement.id != id {
            return Err(AchievementError::new(
                id,
                format!("id: the body's id {:?} differs from the URL's", achievement.id),
            )
            .into());
        }
        let (set, _) = load(&self.dir, Some((id, achievement.clone())))?;
        let path = self.dir.join(format!("{id}.json"));
        let temporary = self.dir.join(format!(".{id}.json.tmp"));
        let pretty = serde_json::to_string_pretty(&achievement).context("writing the achievement")?;
        std::fs::write(&temporary, pretty + "\n").with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, &path).with_context(|| format!("replacing {}", path.display()))?;
        *self.current.write().expect("achievements lock") = Arc::new(set);
        *self.listing.lock().expect("listing lock") = list(&self.dir)?;
        Ok(achievement)
    }
}

fn list(dir: &std::path::Path) -> anyhow::Result<Listing> {
    let mut listing = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".json") && !name.starts_with('.') {
            let metadata = entry.metadata()?;
            listing.push((name, metadata.len(), metadata.modified().ok()));
        }
    }
    listing.sort();
    Ok(listing)
}

/// Reads every file (with `replacing` standing in for its file) and checks the set.
fn load(
    dir: &std::path::Path,
    replacing: Option<(&str, Achievement)>,
) -> Result<(BTreeMap<String, Achievement>, Listing), AchievementCatalogError> {
    let listing = list(dir)?;
    let mut achievements = Vec::new();
    for (name, _, _) in &listing {
        if replacing.as_ref().is_some_and(|(id, _)| format!("{id}.json") == *name) {
            continue;
        }
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let achievement = parse_achievement(name, &text)?;
        if format!("{}.json", achievement.id) != *name {
            return Err(
                AchievementError::new(name, format!("id: {:?} must match the file name", achievement.id)).into()
            );
        }
        achievements.push(achievement);
    }
    achievements.extend(replacing.map(|(_, achievement)| achievement));
    check_set(&achievements)?;
    Ok((achievements.into_iter().map(|a| (a.id.clone(), a)).collect(), listing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(id: &str, requires: &str) -> String {
        format!(
            r#"{{"id": "{id}", "name": "N", "description": "D", "criteria": "C", "requires": {{"achievements": [{requires}]}}}}"#
        )
    }

    #[test]
    fn files_changed_on_disk_are_reloaded_and_a_broken_set_keeps_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), definition("a", "")).unwrap();
        let catalog = AchievementCatalog::open(dir.path().to_path_buf()).unwrap();
        assert!(!catalog.reload_if_changed().unwrap(), "nothing changed");

        std::fs::write(dir.path().join("b.json"), definition("b", r#""a""#)).unwrap();
        assert!(catalog.reload_if_changed().unwrap());
        assert_eq!(catalog.all().keys().collect::<Vec<_>>(), ["a", "b"]);

        std::fs::write(dir.path().join("c.json"), definition("c", r#""missing""#)).unwrap();
        let error = catalog.reload_if_changed().unwrap_err().to_string();
        assert!(error.contains("\"missing\" is not a defined achievement"), "{error}");
        assert_eq!(catalog.all().len(), 2, "the previous set stays in force");
    }

    #[test]
    fn a_put_is_checked_with_the_others_and_a_file_must_be_named_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = AchievementCatalog::open(dir.path().to_path_buf()).unwrap();
        let error = catalog.put("b", &definition("b", r#""a""#)).unwrap_err().to_string();
        assert!(error.contains("\"a\" is not a defined achievement"), "{error}");
        assert!(!dir.path().join("b.json").exists(), "a refused definition is not written");
        catalog.put("a", &definition("a", "")).unwrap();
        catalog.put("b", &definition("b", r#""a""#)).unwrap();
        std::fs::write(dir.path().join("x.json"), definition("y", "")).unwrap();
        let error = AchievementCatalog::open(dir.path().to_path_buf()).err().unwrap().to_string();
        assert!(error.contains("x.json: id: \"y\" must match the file name"), "{error}");
    }
}

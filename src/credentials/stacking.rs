//! Automatic awards: an achievement with requirements is awarded as soon as a person meets
//! them all: enough of the required achievements held (unrevoked), and each required skill
//! level reached (a skills "reached level" statement says so). The runner follows committed
//! statements (never the ingest path) and looks at the people of "reached level" and
//! "earned" statements; its position is kept in `<data_dir>/credentials/position`. An
//! automatic award's key is the person and achievement, so it happens once: a revoked one is
//! not awarded again by itself.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;
use tokio::sync::watch;

use super::achievement::Achievement;
use super::earned::VERB_EARNED;
use super::service::{AwardError, AwardRequest, Awarded, BadgeService};
use crate::skills::events::{EXTENSION_LEVEL, VERB_REACHED_LEVEL};
use crate::storage::{BadgeFilter, IndexTerm, StatementQuery};
use crate::xapi::time::Micros;

/// Statements read per step.
const BATCH: usize = 500;
/// Most "reached level" statements read for one person and skill (newest first).
const LEVEL_SCAN: usize = 200;

/// The award key of an automatic award.
pub fn automatic_key(person: &str, achievement: &str) -> String {
    format!("auto:{}", serde_json::json!([person, achievement]))
}

/// Awards every achievement whose requirements `person` now meets, until none is left (an
/// award can complete another stack).
pub async fn award_due(service: &BadgeService, person: &str) -> anyhow::Result<Vec<Awarded>> {
    let mut awarded = Vec::new();
    loop {
        let mut progressed = false;
        for achievement in service.catalog().all().values().filter(|a| !a.requires.is_empty()) {
            let key = automatic_key(person, &achievement.id);
            if service.store().find_badge_by_award(&key).await?.is_some()
                || !meets(service, person, achievement).await?
            {
                continue;
            }
            let request = AwardRequest {
                person: person.to_string(),
                achievement: achievement.id.clone(),
                award_key: Some(key),
                actor: "stacking".into(),
            };
            match service.award(request).await {
                Ok(award) => {
                    progressed |= award.created;
                    awarded.push(award);
                }
                Err(AwardError::OptedOut(_)) => return Ok(awarded),
                Err(error) => return Err(error.into()),
            }
        }
        if !progressed {
            return Ok(awarded);
        }
    }
}

/// Whether `person` meets every requirement of `achievement`.
pub async fn meets(service: &BadgeService, person: &str, achievement: &Achievement) -> anyhow::Result<bool> {
    let requires = &achievement.requires;
    if !requires.achievements.is_empty() {
        let filter =
            BadgeFilter { person: Some(person.into()), include_revoked: false, limit: 10_000, ..Default::default() };
        let held: BTreeSet<String> = service.list(&filter).await?.into_iter().map(|badge| badge.achievement).collect();
        let count = requires.achievements.iter().filter(|id| held.contains(*id)).count();
        if count < requires.achievements_needed() {
            return Ok(false);
        }
    }
    for requirement in &requires.skills {
        if highest_level_reached(service, person, &requirement.skill).await? < u32::from(requirement.level) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The highest level the LRS records `person` reaching in `skill` (0 when none).
async fn highest_level_reached(service: &BadgeService, person: &str, skill: &str) -> anyhow::Result<u32> {
    let query = StatementQuery {
        terms: vec![
            IndexTerm::Agent(person.into()),
            IndexTerm::Verb(VERB_REACHED_LEVEL.into()),
            IndexTerm::Activity(skill.into()),
        ],
        limit: LEVEL_SCAN,
        ..Default::default()
    };
    let page = service.store().query_statements(&query).await.context("reading reached levels")?;
    Ok(page
        .statements
        .iter()
        .filter_map(|stored| serde_json::from_str::<Value>(&stored.json).ok())
        .filter_map(|statement| statement["result"]["extensions"][EXTENSION_LEVEL].as_u64())
        .max()
        .unwrap_or(0) as u32)
}

pub struct StackingRunner {
    service: Arc<BadgeService>,
    position_file: PathBuf,
}

impl StackingRunner {
    pub fn new(service: Arc<BadgeService>, position_file: PathBuf) -> Self {
        Self { service, position_file }
    }

    fn position(&self) -> Micros {
        std::fs::read_to_string(&self.position_file).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0)
    }

    fn save_position(&self, position: Micros) -> anyhow::Result<()> {
        if let Some(dir) = self.position_file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = self.position_file.with_extension("tmp");
        std::fs::write(&temporary, position.to_string())?;
        std::fs::rename(&temporary, &self.position_file).context("saving the stacking position")
    }

    /// Reads every statement committed since the position and awards what is due; returns
    /// the statements read.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut position = self.position();
        let mut read = 0;
        loop {
            let batch = self.service.store().statements_stored_after(position, BATCH).await?;
            let Some(last) = batch.last().map(|s| s.stored) else { return Ok(read) };
            let mut people = BTreeSet::new();
            for stored in batch.iter().filter(|s| !s.voided) {
                let Ok(statement) = serde_json::from_str::<Value>(&stored.json) else { continue };
                let verb = statement["verb"]["id"].as_str().unwrap_or_default();
                if verb == VERB_REACHED_LEVEL || verb == VERB_EARNED {
                    people.extend(crate::rules::statement::actor_id(&statement));
                }
            }
            for person in people {
                award_due(&self.service, &person).await?;
            }
            read += batch.len();
            position = last;
            self.save_position(position)?;
            if batch.len() < BATCH {
                return Ok(read);
            }
        }
    }

    /// Drains on every commit until stopped; a failed step is logged and tried again on the
    /// next commit.
    pub async fn run(self, mut committed: watch::Receiver<Micros>, mut stopping: watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.drain().await {
                tracing::error!(
                    error = format!("{error:#}"),
                    "Automatic credential awards failed; retrying on the next statement."
                );
            }
            tokio::select! {
                changed = committed.changed() => if changed.is_err() { return },
                _ = stopping.changed() => return,
            }
        }
    }
}

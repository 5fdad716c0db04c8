//! The skills runner: follows the store's statements in `stored` order from the last skills
//! commit, folds each into the skills map, and writes evidence, estimates, items and the new
//! position in one commit per batch; only then does the in-memory map change. It wakes on
//! commits and works on its own task, so ingestion never waits for it. When the framework
//! changes it starts over (reset, then every statement again), which keeps the map exactly
//! what a rebuild from the same statements gives.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::catalog::FrameworkCatalog;
use super::inference::{Scratch, SkillMap};
use crate::storage::{EstimateFilter, Store, StoredStatement};
use crate::xapi::time::Micros;

const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Statements are also looked for this often without a commit signal.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How often the framework files are checked for changes.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

pub struct SkillsRunner {
    store: Arc<dyn Store>,
    catalog: Arc<FrameworkCatalog>,
    map: Arc<RwLock<SkillMap>>,
    batch_size: usize,
    /// The position reached: statements stored up to here are in the map.
    reached: watch::Sender<Micros>,
}

impl SkillsRunner {
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<FrameworkCatalog>,
        map: Arc<RwLock<SkillMap>>,
        batch_size: usize,
    ) -> Self {
        Self { store, catalog, map, batch_size: batch_size.max(1), reached: watch::channel(0).0 }
    }

    /// Follows the position reached (for tests and the rebuild's progress).
    pub fn watch_reached(&self) -> watch::Receiver<Micros> {
        self.reached.subscribe()
    }

    /// Loads the map and position from the store; `None` when nothing was evaluated yet.
    pub async fn load(&self) -> anyhow::Result<Micros> {
        let estimates = self.store.skill_estimates(&EstimateFilter::default()).await?;
        let items = self.store.skill_items().await?;
        *self.map.write().expect("skills map lock") = SkillMap::from_records(estimates, items);
        Ok(self.store.skills_evaluated_through().await?.unwrap_or(0))
    }

    /// Forgets everything inferred, in the store and in memory.
    pub async fn reset(&self) -> anyhow::Result<()> {
        self.store.reset_skills().await?;
        *self.map.write().expect("skills map lock") = SkillMap::default();
        Ok(())
    }

    /// Folds and commits the statements stored after `cursor`, one batch; returns the new
    /// position and how many statements the batch held (0: caught up).
    pub async fn step(&self, cursor: Micros) -> anyhow::Result<(Micros, usize)> {
        let framework = self.catalog.current();
        if framework.skills.is_empty() {
            // Nothing can be evidence yet; a framework that arrives starts from the first statement.
            return Ok((cursor, 0));
        }
        let batch = self.store.statements_stored_after(cursor, self.batch_size).await?;
        let Some(last) = batch.last().map(|s| s.stored) else { return Ok((cursor, 0)) };
        let count = batch.len();
        let map = self.map.clone();
        let (scratch, named) = tokio::task::spawn_blocking(move || {
            let map = map.read().expect("skills map lock");
            let mut scratch = Scratch::default();
            let mut named = Vec::new();
            for statement in batch.iter().filter(|s| !s.voided) {
                if let Some(value) = parse(statement) {
                    scratch.fold(&map, &framework, &value, statement.id, statement.stored);
                    named.extend(super::teams::memberships(&value));
                }
            }
            (scratch, named)
        })
        .await?;
        // Before the commit: a crash in between records the teams again, which changes nothing.
        super::teams::record(&*self.store, named, last).await?;
        self.store.commit_skills(scratch.commit(last)).await?;
        self.map.write().expect("skills map lock").apply(scratch);
        self.reached.send_replace(last);
        Ok((last, count))
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut committed: watch::Receiver<Micros>, mut shutdown: watch::Receiver<bool>) {
        let mut cursor = loop {
            match self.load().await {
                Ok(cursor) => break cursor,
                Err(error) => tracing::error!(error = %error, "Loading the skills map failed; retrying."),
            }
            if wait(&mut shutdown, RETRY_DELAY).await {
                return;
            }
        };
        self.reached.send_replace(cursor);
        let mut framework_version = self.catalog.version();
        let mut last_reload = tokio::time::Instant::now();
        while !*shutdown.borrow() {
            if last_reload.elapsed() >= RELOAD_INTERVAL {
                last_reload = tokio::time::Instant::now();
                let catalog = self.catalog.clone();
                if let Ok(Err(error)) = tokio::task::spawn_blocking(move || catalog.reload_if_changed()).await {
                    tracing::error!(error = %error, "Reloading the skills framework failed; the previous one stays.");
                }
            }
            if self.catalog.version() != framework_version {
                match self.reset().await {
                    Ok(()) => {
                        framework_version = self.catalog.version();
                        cursor = 0;
                        tracing::info!("The skills framework changed; inferring again from the first statement.");
                    }
                    Err(error) => tracing::error!(error = %error, "Resetting the skills map failed; retrying."),
                }
            }
            match self.step(cursor).await {
                Ok((_, 0)) => {
                    tokio::select! {
                        _ = committed.changed() => {}
                        _ = tokio::time::sleep(POLL_INTERVAL) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                Ok((reached, _)) => cursor = reached,
                Err(error) => {
                    tracing::error!(error = %error, "Skills inference failed on a batch; retrying.");
                    if wait(&mut shutdown, RETRY_DELAY).await {
                        return;
                    }
                }
            }
        }
    }
}

fn parse(statement: &StoredStatement) -> Option<Value> {
    serde_json::from_str(&statement.json).ok()
}

/// Sleeps; true when shutdown came first.
async fn wait(shutdown: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

//! The overview's figures, folded from the statement stream so a page costs no scan: per
//! day statements (by `timestamp`), each learner's last active day, statements per source
//! (the authority), and the KPIs, verbs and activities seen, which the impact form offers.
//! Started with the server; it reads what is already stored, then follows each commit,
//! after the commit and off the ingestion path, and like skills inference it waits while
//! statements arrive in a burst (for at most 30 s), so counting does not take the cores
//! ingestion needs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::kpi::profile::VERB_MEASURED;
use crate::skills::runner::{Load, BUSY_WINDOW};
use crate::storage::Store;
use crate::xapi::agent::ifi_key;
use crate::xapi::time::{parse_timestamp, to_micros, Micros};

/// Statements read per step.
const BATCH: usize = 2000;
/// Distinct verbs, activities and sources remembered; rarer ones beyond are not offered.
const MAX_DISTINCT: usize = 5000;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// After a commit, how long to let others pile up before counting: under a burst of
/// ingestion the figures are read in large batches a few times a second, not per commit.
const SETTLE: Duration = Duration::from_millis(250);

#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Statements stored up to here are counted.
    pub through: Micros,
    /// Every statement already stored when the server started is counted.
    pub caught_up: bool,
    pub statements: u64,
    /// Statements per day (days since 1970, by the statement's `timestamp`).
    pub per_day: BTreeMap<i64, u64>,
    /// Each learner's (IFI key) latest day.
    pub last_day: HashMap<String, i64>,
    pub sources: HashMap<String, u64>,
    /// KPI id -> (name, observations).
    pub kpis: BTreeMap<String, (Option<String>, u64)>,
    pub verbs: HashMap<String, u64>,
    /// Activity id -> (name, statements).
    pub activities: HashMap<String, (Option<String>, u64)>,
}

impl Figures {
    /// The newest day with statements.
    pub fn latest_day(&self) -> Option<i64> {
        self.per_day.keys().next_back().copied()
    }

    /// Learners whose latest statement falls in the `days` up to `last`.
    pub fn active_learners(&self, last: i64, days: i64) -> usize {
        self.last_day.values().filter(|day| **day > last - days).count()
    }

    fn add(&mut self, glimpse: Glimpse, stored: Micros) {
        self.statements += 1;
        let instant = glimpse.timestamp.as_deref().and_then(parse_timestamp).map(|t| to_micros(&t)).unwrap_or(stored);
        let day = instant.div_euclid(MICROS_PER_DAY);
        *self.per_day.entry(day).or_default() += 1;
        if let Some(learner) = glimpse.actor.as_ref().and_then(ifi_key) {
            let latest = self.last_day.entry(learner).or_insert(day);
            *latest = (*latest).max(day);
        }
        let source = glimpse.authority.as_ref().map(describe_agent).unwrap_or_else(|| "(none)".into());
        count_bounded(&mut self.sources, source);
        let name = glimpse.object.definition.and_then(|d| d.name).and_then(preferred_name);
        if let Some(id) = glimpse.object.id {
            if glimpse.verb.id == VERB_MEASURED {
                let entry = self.kpis.entry(id.clone()).or_insert((None, 0));
                entry.1 += 1;
                if entry.0.is_none() {
                    entry.0 = name.clone();
                }
            }
            if self.activities.len() < MAX_DISTINCT || self.activities.contains_key(&id) {
                let entry = self.activities.entry(id).or_insert((None, 0));
                entry.1 += 1;
                if entry.0.is_none() {
                    entry.0 = name;
                }
            }
        }
        count_bounded(&mut self.verbs, glimpse.verb.id);
    }
}

fn count_bounded(counts: &mut HashMap<String, u64>, key: String) {
    if counts.len() < MAX_DISTINCT || counts.contains_key(&key) {
        *counts.entry(key).or_default() += 1;
    }
}

/// An account's name, or the IFI, of an authority (for a Group, its first member's).
fn describe_agent(agent: &Value) -> String {
    if let Some(name) = agent.pointer("/account/name").and_then(Value::as_str) {
        return name.to_string();
    }
    if let Some(first) = agent.get("member").and_then(|m| m.get(0)) {
        return describe_agent(first);
    }
    ifi_key(agent).unwrap_or_else(|| "(anonymous)".into())
}

fn preferred_name(names: BTreeMap<String, String>) -> Option<String> {
    names.get("en-US").or_else(|| names.get("en")).or_else(|| names.values().next()).cloned()
}

/// Only what the figures need of a statement.
#[derive(Deserialize)]
struct Glimpse {
    actor: Option<Value>,
    verb: Verb,
    object: Object,
    timestamp: Option<String>,
    authority: Option<Value>,
}

#[derive(Deserialize)]
struct Verb {
    id: String,
}

#[derive(Deserialize)]
struct Object {
    id: Option<String>,
    definition: Option<Definition>,
}

#[derive(Deserialize)]
struct Definition {
    name: Option<BTreeMap<String, String>>,
}

/// The figures, shared between the follower and the pages.
#[derive(Default)]
pub struct Activity {
    figures: RwLock<Figures>,
}

impl Activity {
    pub fn read<T>(&self, look: impl FnOnce(&Figures) -> T) -> T {
        look(&self.figures.read().expect("figures lock"))
    }

    /// Folds in statements stored after the figures' position; true when there were any.
    pub async fn catch_up(&self, store: &dyn Store) -> anyhow::Result<bool> {
        let mut any = false;
        loop {
            let after = self.read(|f| f.through);
            let batch = store.statements_stored_after(after, BATCH).await?;
            let Some(last) = batch.last().map(|s| s.stored) else { break };
            let glimpses: Vec<_> = batch
                .iter()
                .filter(|s| !s.voided)
                .filter_map(|s| serde_json::from_str::<Glimpse>(&s.json).ok().map(|g| (g, s.stored)))
                .collect();
            let mut figures = self.figures.write().expect("figures lock");
            for (glimpse, stored) in glimpses {
                figures.add(glimpse, stored);
            }
            figures.through = last;
            any = true;
            if batch.len() < BATCH {
                break;
            }
        }
        Ok(any)
    }

    /// Counts what is stored, then every commit, until `stopping`.
    pub(crate) async fn follow(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        mut committed: watch::Receiver<Micros>,
        mut load: Load,
        mut stopping: watch::Receiver<bool>,
    ) {
        loop {
            while load.should_wait() {
                tokio::select! {
                    _ = tokio::time::sleep(BUSY_WINDOW) => {}
                    _ = stopping.changed() => return,
                }
            }
            if let Err(error) = self.catch_up(&*store).await {
                tracing::error!(error = %error, "Counting statements for the console failed; retrying on the next commit.");
            }
            self.figures.write().expect("figures lock").caught_up = true;
            tokio::select! {
                changed = committed.changed() => if changed.is_err() { return },
                _ = stopping.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(SETTLE) => {}
                _ = stopping.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn glimpse(value: Value) -> Glimpse {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn statements_are_counted_per_day_learner_source_and_kpi() {
        let mut figures = Figures::default();
        let kpi = json!({"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": VERB_MEASURED},
            "object": {"id": "https://x.example/kpi/aht", "definition": {"name": {"en-US": "AHT"}}},
            "timestamp": "2024-03-02T10:00:00Z", "authority": {"account": {"homePage": "h", "name": "importer"}}});
        let course = json!({"actor": {"mbox": "mailto:b@example.com"}, "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "https://x.example/course"}, "timestamp": "2024-03-01T10:00:00Z"});

        figures.add(glimpse(kpi.clone()), 0);
        figures.add(glimpse(kpi), 0);
        figures.add(glimpse(course), 0);

        assert_eq!(figures.statements, 3);
        assert_eq!(figures.per_day.values().copied().collect::<Vec<_>>(), vec![1, 2]);
        let latest = figures.latest_day().unwrap();
        assert_eq!(figures.active_learners(latest, 1), 1);
        assert_eq!(figures.active_learners(latest, 2), 2);
        assert_eq!(figures.sources["importer"], 2);
        assert_eq!(figures.kpis["https://x.example/kpi/aht"], (Some("AHT".into()), 2));
        assert_eq!(figures.activities["https://x.example/course"].1, 1);
    }
}

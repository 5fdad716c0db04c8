//! Runs scheduled rules (`schedule = "<cron>"`) at their times, UTC, with what they
//! produce committed like statement-triggered runs (without moving the statement position).
//! Times missed while the server was down are not made up.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::catalog::RuleCatalog;
use super::host::StoreHost;
use super::runner::{commit_until_landed, observe, record};
use crate::metrics::Metrics;
use crate::rules::{on_rules_stack, RuleHost};
use crate::storage::{RulesCommit, Store};
use crate::xapi::time::{now_micros, Micros};

/// The longest sleep between checks, so reloaded rules and clock changes are noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);

pub struct RuleScheduler {
    store: Arc<dyn Store>,
    catalog: Arc<RuleCatalog>,
    host: Arc<StoreHost>,
    metrics: Arc<Metrics>,
    assign_target: Option<String>,
    outbox_ready: Arc<Notify>,
}

impl RuleScheduler {
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<RuleCatalog>,
        metrics: Arc<Metrics>,
        assign_target: Option<String>,
        outbox_ready: Arc<Notify>,
    ) -> Self {
        let host = Arc::new(StoreHost::new(store.clone(), tokio::runtime::Handle::current()));
        Self { store, catalog, host, metrics, assign_target, outbox_ready }
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut checked_through = now_micros();
        while !*shutdown.borrow() {
            let now = now_micros();
            if !self.tick(checked_through, now, &mut shutdown).await {
                return;
            }
            checked_through = now;
            let next = self.catalog.current().scheduled().iter().filter_map(|(_, _, s)| s.next_after(now)).min();
            let sleep = next.map_or(MAX_SLEEP, |next| Duration::from_micros((next - now).max(0) as u64).min(MAX_SLEEP));
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Runs each scheduled rule due in `(after, through]` once, for its latest due time;
    /// false when shut down before the results were committed.
    pub async fn tick(&self, after: Micros, through: Micros, shutdown: &mut watch::Receiver<bool>) -> bool {
        let rules = self.catalog.current();
        let mut due = Vec::new();
        for (name, _, schedule) in rules.scheduled() {
            let mut latest = None;
            let mut next = schedule.next_after(after);
            while let Some(at) = next.filter(|at| *at <= through) {
                latest = Some(at);
                next = schedule.next_after(at);
            }
            due.extend(latest.map(|at| (name, at)));
        }
        if due.is_empty() {
            return true;
        }
        let (host, metrics, assign_target) = (self.host.clone(), self.metrics.clone(), self.assign_target.clone());
        let evaluated = tokio::task::spawn_blocking(move || {
            on_rules_stack(move || {
                let mut commit = RulesCommit::default();
                let dyn_host: Arc<dyn RuleHost> = host.clone();
                for (name, at) in due {
                    if let Some(outcome) = rules.run_scheduled(&name, at, &dyn_host) {
                        observe(&metrics, &outcome);
                        record(&mut commit, outcome, at, assign_target.as_deref());
                    }
                }
                commit.state = host.take_state_writes();
                commit
            })
        })
        .await;
        match evaluated {
            Ok(commit) => commit_until_landed(&*self.store, commit, shutdown, &self.outbox_ready).await,
            Err(error) => {
                tracing::error!(error = %error, "Running scheduled rules failed.");
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RulesSettings;
    use crate::storage::sqlite::{SqliteSettings, SqliteStore};
    use crate::storage::OutboxStatus;
    use crate::xapi::time::{parse_timestamp, to_micros};

    fn at(text: &str) -> Micros {
        to_micros(&parse_timestamp(text).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_weekly_rule_runs_once_per_due_time_and_its_notification_is_queued_once() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(SqliteSettings::new(dir.path().join("lrs.db"))).unwrap());
        let catalog = Arc::new(RuleCatalog::open(dir.path().join("rules"), RulesSettings::default()).unwrap());
        let source = "//! name = \"weekly\"\n//! schedule = \"0 9 * * MON\"\nlet runs = (state_get(\"runs\") ?? 0) + 1;\nstate_set(\"runs\", runs);\nnotify(\"ld-slack\", `weekly summary ${runs}`);\nruns\n";
        catalog.put("weekly", source).unwrap();
        let scheduler =
            RuleScheduler::new(store.clone(), catalog, Arc::new(Metrics::new()), None, Arc::new(Notify::new()));
        let (_stop, mut shutdown) = watch::channel(false);

        // Two Mondays pass in the first window: one run, for the latest.
        assert!(scheduler.tick(at("2026-11-20T00:00:00Z"), at("2026-12-01T00:00:00Z"), &mut shutdown).await);
        // Nothing is due on a Tuesday.
        assert!(scheduler.tick(at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"), &mut shutdown).await);
        // The same window again (a restart): the same keys, nothing queued twice.
        assert!(scheduler.tick(at("2026-11-20T00:00:00Z"), at("2026-12-01T00:00:00Z"), &mut shutdown).await);
        assert!(scheduler.tick(at("2026-12-02T00:00:00Z"), at("2026-12-08T00:00:00Z"), &mut shutdown).await);

        let queued = store.outbox_items(OutboxStatus::Pending, 10).await.unwrap();
        let mut texts: Vec<String> =
            queued.iter().map(|item| item.intent["intent"]["message"]["text"].as_str().unwrap().to_string()).collect();
        texts.sort();
        assert_eq!(queued.len(), 2, "{queued:?}");
        assert_eq!(texts[0], "weekly summary 1");
        assert_eq!(queued.iter().map(|i| i.created).max(), Some(at("2026-12-07T09:00:00Z")));
        let runs = store.rule_state("weekly", "runs", 0).await.unwrap();
        assert_eq!(runs, Some(serde_json::json!(3)), "state is kept between runs (the replay ran too)");
    }
}

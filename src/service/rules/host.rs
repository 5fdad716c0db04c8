//! `StoreHost`: the `RuleHost` of the running LRS. History comes from the store; state
//! reads see the store plus the changes of runs not yet committed, which the runner takes
//! (`take_state_writes`) into its next rules commit, so state lands in the same
//! transaction as the intents and run records of the same statements.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::runtime::Handle;

use crate::rules::{time_left, HistoryQuery, HistorySummary, HostError, RuleHost, StateChange};
use crate::service::impact::{run_impact, ImpactRequest};
use crate::storage::{HistoryFilter, StateWrite, Store};
use crate::xapi::time::Micros;

/// How long a host call made outside a rule run may take.
const UNBOUNDED_HOST_CALL: std::time::Duration = std::time::Duration::from_secs(60);

/// Uncommitted state by (rule, key): the value (`None`: removed) and its expiry.
type Pending = HashMap<(String, String), (Option<Value>, Option<Micros>)>;

pub struct StoreHost {
    store: Arc<dyn Store>,
    runtime: Handle,
    pending: Mutex<(Pending, Vec<StateWrite>)>,
}

impl StoreHost {
    /// `runtime` runs the store's futures: rules call the host from a blocking thread.
    pub fn new(store: Arc<dyn Store>, runtime: Handle) -> Self {
        Self { store, runtime, pending: Mutex::default() }
    }

    /// The state changes since the last call, in order; reads keep seeing them until the
    /// next call (the caller commits them before evaluating more).
    pub fn take_state_writes(&self) -> Vec<StateWrite> {
        let mut pending = self.pending.lock().expect("pending state lock");
        pending.0.clear();
        std::mem::take(&mut pending.1)
    }
}

fn host_error(error: impl std::fmt::Display) -> HostError {
    HostError(format!("the store failed: {error}"))
}

impl StoreHost {
    /// Waits for `work` no longer than the calling run has left before its deadline (a
    /// run's time includes its host calls); the run then fails with kind `timeout`.
    fn bounded<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, HostError> {
        let left = time_left().unwrap_or(UNBOUNDED_HOST_CALL);
        self.runtime
            .block_on(tokio::time::timeout(left, work))
            .map_err(|_| HostError("the host call was cut off at the run's deadline".into()))
    }
}

impl RuleHost for StoreHost {
    fn history(&self, query: &HistoryQuery) -> Result<HistorySummary, HostError> {
        let filter = HistoryFilter {
            actor_id: query.actor.clone(),
            verb: query.verb.clone(),
            activity: query.activity.clone(),
            since: query.since,
            until: query.until,
        };
        let count = self.bounded(self.store.history(&filter))?.map_err(host_error)?;
        Ok(HistorySummary { count: count.count, average_score: count.average_score })
    }

    fn state_get(&self, rule: &str, key: &str, now: Micros) -> Result<Option<Value>, HostError> {
        let pending = self.pending.lock().expect("pending state lock");
        if let Some((value, expires)) = pending.0.get(&(rule.to_string(), key.to_string())) {
            let live = expires.is_none_or(|at| now < at);
            return Ok(value.clone().filter(|_| live));
        }
        drop(pending);
        self.bounded(self.store.rule_state(rule, key, now))?.map_err(host_error)
    }

    fn impact(&self, request: &Value) -> Result<Value, HostError> {
        let request: ImpactRequest = serde_json::from_value(request.clone())
            .map_err(|e| HostError(format!("impact: not an impact request: {e}")))?;
        let answer = self
            .bounded(run_impact(&*self.store, &request))?
            .map_err(|e| HostError(format!("impact: {}", e.message)))?;
        // The trend series is for charts; scripts get the figures.
        Ok(json!({
            "title": answer.title,
            "kpi": answer.kpi,
            "treated_persons": answer.treated_persons,
            "comparison_persons": answer.comparison_persons,
            "report": answer.report,
            "roi": answer.roi,
        }))
    }

    fn state_bytes(&self, rule: &str, now: Micros) -> Result<u64, HostError> {
        let stored = self.bounded(self.store.rule_state_bytes(rule, now))?.map_err(host_error)?;
        let pending = self.pending.lock().expect("pending state lock");
        let uncommitted = pending.1.iter().filter(|write| write.rule == rule);
        let added: u64 = uncommitted.filter_map(|write| write.value.as_ref()).map(|v| v.to_string().len() as u64).sum();
        Ok(stored + added)
    }

    fn state_commit(&self, rule: &str, changes: &[StateChange]) -> Result<(), HostError> {
        let mut pending = self.pending.lock().expect("pending state lock");
        for change in changes {
            let write = match change {
                StateChange::Set { key, value, expires } => {
                    StateWrite { rule: rule.into(), key: key.clone(), value: Some(value.clone()), expires: *expires }
                }
                StateChange::Remove { key } => {
                    StateWrite { rule: rule.into(), key: key.clone(), value: None, expires: None }
                }
            };
            pending.0.insert((write.rule.clone(), write.key.clone()), (write.value.clone(), write.expires));
            pending.1.push(write);
        }
        Ok(())
    }
}

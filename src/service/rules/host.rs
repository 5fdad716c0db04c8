//! `StoreHost`: the `RuleHost` of the running LRS. History comes from the store; state
//! reads see the store plus the changes of runs not yet committed, which the runner takes
//! (`take_state_writes`) into its next rules commit, so state lands in the same
//! transaction as the intents and run records of the same statements.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::runtime::Handle;

use crate::governance::ConsentRegistry;
use crate::rules::{time_left, HistoryQuery, HistorySummary, HostError, RuleHost, StateChange};
use crate::service::impact::{run_impact, ImpactRequest};
use crate::skills::SkillsService;
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
    /// Per rule, until the next commit: its stored state's size (asked of the store once)
    /// plus the bytes of the values set since, for `state_bytes`.
    sizes: Mutex<HashMap<String, (Option<u64>, u64)>>,
    /// The skills map, for `skill_level` and `skill_gaps`, when inference runs.
    skills: std::sync::OnceLock<Arc<SkillsService>>,
    /// People's consent; without it everyone may be nudged.
    consent: std::sync::OnceLock<Arc<ConsentRegistry>>,
}

impl StoreHost {
    /// `runtime` runs the store's futures: rules call the host from a thread of their own.
    pub fn new(store: Arc<dyn Store>, runtime: Handle) -> Self {
        Self {
            store,
            runtime,
            pending: Mutex::default(),
            sizes: Mutex::default(),
            skills: Default::default(),
            consent: Default::default(),
        }
    }

    /// Honours people's opt-outs of nudges; set once, before rules run.
    pub fn set_consent(&self, consent: Arc<ConsentRegistry>) {
        let _ = self.consent.set(consent);
    }

    /// Lets rules ask about skills; set once, before rules run.
    pub fn set_skills(&self, skills: Arc<SkillsService>) {
        let _ = self.skills.set(skills);
    }

    /// The state changes since the last call, in order; reads keep seeing them until the
    /// next call (the caller commits them before evaluating more).
    pub fn take_state_writes(&self) -> Vec<StateWrite> {
        let mut pending = self.pending.lock().expect("pending state lock");
        pending.0.clear();
        self.sizes.lock().expect("state sizes lock").clear();
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
        // The timer is made inside the runtime: rules run on a thread of their own.
        self.runtime
            .block_on(async move { tokio::time::timeout(left, work).await })
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

    fn nudges(&self, person: &str) -> bool {
        self.consent.get().is_none_or(|consent| consent.nudges(person))
    }

    fn skill_estimate(&self, person: &str, skill: &str, now: Micros) -> Result<Option<Value>, HostError> {
        let Some(skills) = self.skills.get() else { return Ok(None) };
        let estimate = skills.estimate_of(person, skill, now);
        estimate.map(|e| serde_json::to_value(e).map_err(|e| HostError(format!("skill_level: {e}")))).transpose()
    }

    fn skill_gaps(&self, person: &str, now: Micros) -> Result<Value, HostError> {
        let Some(skills) = self.skills.get() else { return Ok(Value::Array(Vec::new())) };
        let people = self.bounded(self.store.find_people(&[person.to_string()]))?.map_err(host_error)?;
        let role = people.into_iter().next().and_then(|p| p.role);
        let map = skills.team_map(&[(person.to_string(), role)], now);
        serde_json::to_value(map.gaps).map_err(|e| HostError(format!("skill_gaps: {e}")))
    }

    fn impact(&self, request: &Value) -> Result<Value, HostError> {
        let request = ImpactRequest::from_value(request.clone())
            .map_err(|e| HostError(format!("impact: not an impact request: {e}")))?;
        let mut answer = self
            .bounded(run_impact(&*self.store, &request))?
            .map_err(|e| HostError(format!("impact: {}", e.message)))?;
        crate::governance::suppression::suppress_small_groups(&mut answer, crate::skills::queries::MIN_GROUP);
        // The trend series and the group-time cells are for charts and audits; scripts get the
        // figures (and stay within the sandbox's map size).
        let mut report = serde_json::to_value(&answer.report).map_err(|e| HostError(format!("impact: {e}")))?;
        if let Some(study) = report.get_mut("event_study").and_then(Value::as_object_mut) {
            study.remove("cells");
        }
        let guardrails: Vec<Value> = answer
            .guardrails
            .iter()
            .map(|g| json!({"kpi": g.kpi.id, "margin": g.margin, "status": g.non_inferiority.status}))
            .collect();
        Ok(json!({
            "title": answer.title,
            "kpi": answer.kpi,
            "treated_persons": answer.treated_persons,
            "comparison_persons": answer.comparison_persons,
            "report": report,
            "roi": answer.roi,
            "claim": answer.claim,
            "guardrails": guardrails,
        }))
    }

    fn state_bytes(&self, rule: &str, now: Micros) -> Result<u64, HostError> {
        let known = self.sizes.lock().expect("state sizes lock").get(rule).copied();
        let (stored, added) = match known {
            Some((Some(stored), added)) => (stored, added),
            _ => {
                let stored = self.bounded(self.store.rule_state_bytes(rule, now))?.map_err(host_error)?;
                let mut sizes = self.sizes.lock().expect("state sizes lock");
                let entry = sizes.entry(rule.to_string()).or_default();
                entry.0 = Some(stored);
                (stored, entry.1)
            }
        };
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
            if let Some(value) = &write.value {
                let mut sizes = self.sizes.lock().expect("state sizes lock");
                sizes.entry(rule.to_string()).or_default().1 += (write.key.len() + value.to_string().len()) as u64;
            }
            pending.0.insert((write.rule.clone(), write.key.clone()), (write.value.clone(), write.expires));
            pending.1.push(write);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::{SqliteSettings, SqliteStore};
    use crate::storage::RulesCommit;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn state_bytes_are_the_stored_state_plus_what_the_batch_set_until_it_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(SqliteSettings::new(dir.path().join("lrs.db"))).unwrap());
        let stored = StateWrite { rule: "r".into(), key: "a".into(), value: Some(json!("12345")), expires: None };
        store.commit_rules(RulesCommit { state: vec![stored], ..Default::default() }).await.unwrap();
        let host = Arc::new(StoreHost::new(store, Handle::current()));

        let sizes = tokio::task::spawn_blocking(move || {
            let before = host.state_bytes("r", 0).unwrap();
            let set = StateChange::Set { key: "b".into(), value: json!([1, 2]), expires: None };
            host.state_commit("r", &[set]).unwrap();
            let pending = host.state_bytes("r", 0).unwrap();
            let other = host.state_bytes("other", 0).unwrap();
            host.take_state_writes();
            (before, pending, other, host.state_bytes("r", 0).unwrap())
        })
        .await
        .unwrap();

        assert_eq!(
            sizes,
            (8, 8 + 6, 0, 8),
            "key and value: a\"12345\" is 8 bytes, b[1,2] 6; taken writes are the store's"
        );
    }
}

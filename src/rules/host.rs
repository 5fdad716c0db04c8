//! The seam between rules and the rest of Fluency: `RuleHost` answers a rule's history
//! questions and keeps its key-value state. `MemoryHost` implements it in memory for tests
//! and `fluency rules test`; a store-backed host plugs in for the running LRS.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

use super::statement;
use crate::xapi::time::{now_micros, Micros};

/// A learner's statements to summarise: those of `actor` (an IFI key) with the given verb
/// and activity (any when `None`) whose time falls in `since..=until`.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryQuery {
    pub actor: String,
    pub verb: Option<String>,
    pub activity: Option<String>,
    pub since: Micros,
    pub until: Micros,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistorySummary {
    pub count: u64,
    /// Mean of the statements' scores (scaled, else raw), over those that have one.
    pub average_score: Option<f64>,
}

/// A change a rule made to its own state, applied only when its run succeeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StateChange {
    Set {
        key: String,
        value: Value,
        /// When the value stops being visible, if it expires.
        #[serde(skip_serializing_if = "Option::is_none")]
        expires: Option<Micros>,
    },
    Remove {
        key: String,
    },
}

/// A host failure (storage unavailable...): the rule run fails with kind `host`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);

/// What rules may ask of the LRS. Called synchronously from inside a script run, so an
/// implementation must answer promptly (the run's deadline keeps counting).
pub trait RuleHost: Send + Sync {
    /// Summary of the statements matching `query`. The statement being evaluated is
    /// already stored when rules run, so it is counted.
    fn history(&self, query: &HistoryQuery) -> Result<HistorySummary, HostError>;

    /// The rule's value for `key`, if set and not expired at `now`.
    fn state_get(&self, rule: &str, key: &str, now: Micros) -> Result<Option<Value>, HostError>;

    /// Applies a successful run's state changes, in order, all or nothing.
    fn state_commit(&self, rule: &str, changes: &[StateChange]) -> Result<(), HostError>;

    /// Bytes of the rule's state, keys and values (as JSON), not expired at `now`, changes
    /// applied by `state_commit` but not yet stored included (an overwritten value may
    /// count twice).
    fn state_bytes(&self, rule: &str, now: Micros) -> Result<u64, HostError> {
        let _ = (rule, now);
        Ok(0)
    }

    /// Whether rules may run on the person's statements: `false` when they opted out of
    /// nudges (governance consent).
    fn nudges(&self, person: &str) -> bool {
        let _ = person;
        true
    }

    /// The person's estimate of `skill` at `now` (`level`, `level_low`, `level_high`,
    /// `evidence`...), `None` without evidence or without skills inference.
    fn skill_estimate(&self, person: &str, skill: &str, now: Micros) -> Result<Option<Value>, HostError> {
        let _ = (person, skill, now);
        Ok(None)
    }

    /// The skills the person's role requires above their level at `now`, each
    /// `{skill, target, level, gap}`; empty without a role or without skills inference.
    fn skill_gaps(&self, person: &str, now: Micros) -> Result<Value, HostError> {
        let _ = (person, now);
        Ok(Value::Array(Vec::new()))
    }

    /// Runs the impact analysis `request` describes (the JSON of `POST /api/impact`) and
    /// returns its answer. Only a host with a store can.
    fn impact(&self, request: &Value) -> Result<Value, HostError> {
        let _ = request;
        Err(HostError("impact analyses read the LRS's store, which this host does not have".into()))
    }
}

#[derive(Clone, Debug)]
struct HistoryEntry {
    actor: String,
    verb: Option<String>,
    activity: Option<String>,
    time: Micros,
    score: Option<f64>,
}

/// A rule's state entry, keyed by (rule, key): the value and when it expires.
type StateEntries = HashMap<(String, String), (Value, Option<Micros>)>;

/// An in-memory host: history is whatever statements were `record`ed, state a map.
#[derive(Debug, Default)]
pub struct MemoryHost {
    history: Mutex<Vec<HistoryEntry>>,
    state: Mutex<StateEntries>,
}

impl MemoryHost {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a statement to the history, at its `stored` (else `timestamp`, else current)
    /// time. Statements whose actor has no identifier are not kept: no query can name them.
    pub fn record(&self, statement: &Value) {
        let Some(actor) = statement::actor_id(statement) else { return };
        let entry = HistoryEntry {
            actor,
            verb: statement::verb_id(statement).map(str::to_string),
            activity: statement::activity_id(statement).map(str::to_string),
            time: statement::statement_time(statement).unwrap_or_else(now_micros),
            score: statement::score(statement),
        };
        self.history.lock().expect("history lock").push(entry);
    }
}

impl RuleHost for MemoryHost {
    fn history(&self, query: &HistoryQuery) -> Result<HistorySummary, HostError> {
        let history = self.history.lock().expect("history lock");
        let wanted = |wanted: &Option<String>, have: &Option<String>| wanted.is_none() || wanted == have;
        let matching = history.iter().filter(|e| {
            e.actor == query.actor
                && wanted(&query.verb, &e.verb)
                && wanted(&query.activity, &e.activity)
                && (query.since..=query.until).contains(&e.time)
        });
        let mut summary = HistorySummary::default();
        let (mut total, mut scored) = (0.0, 0u64);
        for entry in matching {
            summary.count += 1;
            if let Some(score) = entry.score {
                total += score;
                scored += 1;
            }
        }
        summary.average_score = (scored > 0).then(|| total / scored as f64);
        Ok(summary)
    }

    fn state_get(&self, rule: &str, key: &str, now: Micros) -> Result<Option<Value>, HostError> {
        let state = self.state.lock().expect("state lock");
        let entry = state.get(&(rule.to_string(), key.to_string()));
        Ok(entry.filter(|(_, expires)| expires.is_none_or(|at| now < at)).map(|(value, _)| value.clone()))
    }

    fn state_bytes(&self, rule: &str, now: Micros) -> Result<u64, HostError> {
        let state = self.state.lock().expect("state lock");
        let live = state.iter().filter(|((owner, _), (_, expires))| owner == rule && expires.is_none_or(|at| now < at));
        Ok(live.map(|((_, key), (value, _))| (key.len() + value.to_string().len()) as u64).sum())
    }

    fn state_commit(&self, rule: &str, changes: &[StateChange]) -> Result<(), HostError> {
        let mut state = self.state.lock().expect("state lock");
        for change in changes {
            match change {
                StateChange::Set { key, value, expires } => {
                    state.insert((rule.to_string(), key.clone()), (value.clone(), *expires));
                }
                StateChange::Remove { key } => {
                    state.remove(&(rule.to_string(), key.clone()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attempt(minute: u32, verb: &str, scaled: f64) -> Value {
        json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": verb},
            "object": {"id": "http://example.com/quiz"},
            "result": {"score": {"scaled": scaled}},
            "timestamp": format!("2024-05-01T10:{minute:02}:00Z"),
        })
    }

    #[test]
    fn history_counts_and_averages_matching_statements_inside_the_window() {
        let host = MemoryHost::new();
        host.record(&attempt(0, "http://adlnet.gov/expapi/verbs/failed", 0.2));
        host.record(&attempt(10, "http://adlnet.gov/expapi/verbs/failed", 0.4));
        host.record(&attempt(20, "http://adlnet.gov/expapi/verbs/passed", 0.9));
        let ten = statement::statement_time(&attempt(10, "", 0.0)).unwrap();
        let query = HistoryQuery {
            actor: "mbox:mailto:ada@example.com".into(),
            verb: Some("http://adlnet.gov/expapi/verbs/failed".into()),
            activity: Some("http://example.com/quiz".into()),
            since: ten - 60_000_000,
            until: ten,
        };

        let summary = host.history(&query).unwrap();

        assert_eq!(summary, HistorySummary { count: 1, average_score: Some(0.4) });
        let everything = HistoryQuery { verb: None, since: 0, until: Micros::MAX, ..query };
        assert_eq!(host.history(&everything).unwrap().count, 3);
    }

    #[test]
    fn state_is_per_rule_and_expires() {
        let host = MemoryHost::new();
        let set = StateChange::Set { key: "k".into(), value: json!(1), expires: Some(100) };
        host.state_commit("a", &[set]).unwrap();

        assert_eq!(host.state_get("a", "k", 99).unwrap(), Some(json!(1)));
        assert_eq!(host.state_get("a", "k", 100).unwrap(), None);
        assert_eq!(host.state_get("b", "k", 0).unwrap(), None);
        host.state_commit("a", &[StateChange::Remove { key: "k".into() }]).unwrap();
        assert_eq!(host.state_get("a", "k", 0).unwrap(), None);
    }
}

//! Tests of the sandbox (every limit ends in a recorded rule error within the deadline)
//! and of the runtime (intents, state, loop protection, health), on small inline rules.

mod hostile;
mod runtime;
mod sandbox;

use std::sync::Arc;

use serde_json::{json, Value};
use uuid::Uuid;

use super::{MemoryHost, RuleFile, RuleHost, RuleOutcome, RuleSet, RulesSettings, TriggerStatement};

const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";

/// A rule named `name` triggered by `failed`, running `script`.
fn rule(name: &str, script: &str) -> RuleFile {
    let source = format!("//! name = \"{name}\"\n//! [trigger]\n//! verbs = [\"{FAILED}\"]\n{script}\n");
    RuleFile::parse(&format!("{name}.rhai"), &source).expect("valid metadata")
}

fn rule_set(settings: RulesSettings, rules: Vec<RuleFile>) -> RuleSet {
    let set = RuleSet::build(settings, rules).expect("valid settings");
    assert!(set.refused().is_empty(), "{:?}", set.refused());
    set
}

fn failed_statement(id: u128) -> Value {
    json!({
        "id": Uuid::from_u128(id).to_string(),
        "actor": {"mbox": "mailto:ada@example.com", "name": "Ada"},
        "verb": {"id": FAILED},
        "object": {"id": "http://example.com/quiz"},
        "result": {"score": {"scaled": 0.4}, "success": false},
        "timestamp": "2024-05-01T10:00:00Z",
    })
}

fn memory() -> Arc<dyn RuleHost> {
    Arc::new(MemoryHost::new())
}

fn evaluate(set: &RuleSet, statement: &Value, host: &Arc<dyn RuleHost>) -> Vec<RuleOutcome> {
    set.evaluate(&TriggerStatement::from_json(statement, Uuid::nil()), host)
}

/// The single outcome of running one rule on one failed statement.
fn run_one(settings: RulesSettings, script: &str) -> RuleOutcome {
    let set = rule_set(settings, vec![rule("r", script)]);
    let mut outcomes = evaluate(&set, &failed_statement(1), &memory());
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

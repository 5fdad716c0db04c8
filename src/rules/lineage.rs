//! Where a statement sits in a chain of rule emissions, beyond its depth: the rules whose
//! emissions led to it (so a cycle between rules is seen the first time it closes) and how
//! many statements rules may still emit from it (so one learner statement leads to at most
//! `max_emitted_per_trigger` emitted statements, across all rules and generations). Read by
//! `runtime` from the markers of statements `statement::emission` trusts, and written on
//! the statements a run emits.

use serde_json::Value;

use super::intent::Intent;
use super::runtime::RuleOutcome;
use super::statement;

/// Context extension: the rules whose emissions led to the statement, oldest first.
pub const EMISSION_CHAIN: &str = "https://fluency.dev/xapi/extensions/emission-chain";
/// Context extension: how many statements rules may still emit in reaction to the statement
/// and to everything that follows from it.
pub const EMISSION_BUDGET: &str = "https://fluency.dev/xapi/extensions/emission-budget";

/// A trigger's place in a chain of emissions.
#[derive(Clone, Debug, PartialEq)]
pub struct Lineage {
    /// Emissions that led to the trigger (0 for a learner's statement).
    pub depth: u64,
    /// The rules whose emissions led to the trigger, oldest first.
    pub chain: Vec<String>,
    /// Statements the rules may emit in all in reaction to the trigger and its sequels.
    pub budget: u64,
}

impl Lineage {
    /// The lineage of `trigger`: a fresh one with `max_emitted` to spend for a statement no
    /// rule emitted, else read from its markers. An emitted statement without a budget
    /// marker may emit nothing (it cannot be told how much its chain has used).
    pub fn of(trigger: &Value, max_emitted: u64) -> Self {
        let Some((by, depth)) = statement::emission(trigger) else {
            return Self { depth: 0, chain: Vec::new(), budget: max_emitted };
        };
        let extensions = trigger.get("context").and_then(|c| c.get("extensions"));
        let marker = |name: &str| extensions.and_then(|e| e.get(name));
        let chain = marker(EMISSION_CHAIN)
            .and_then(Value::as_array)
            .map(|rules| rules.iter().filter_map(|r| r.as_str().map(str::to_string)).collect())
            .unwrap_or_else(|| vec![by.to_string()]);
        let budget = marker(EMISSION_BUDGET).and_then(Value::as_u64).unwrap_or(0).min(max_emitted);
        Self { depth, chain, budget }
    }

    /// The cycle `rule` would close by running on the trigger, as `a -> b -> a`: its own
    /// emissions led to the trigger through other rules. (A rule's own statements never
    /// run it; that is not reported.)
    pub fn cycle(&self, rule: &str) -> Option<String> {
        let start = self.chain.iter().position(|r| r == rule)?;
        if self.chain.last().is_some_and(|last| last == rule) {
            return None;
        }
        let mut path: Vec<&str> = self.chain[start..].iter().map(String::as_str).collect();
        path.push(rule);
        Some(path.join(" -> "))
    }

    /// Marks every statement the outcomes emit with its chain and an equal share of what is
    /// left of the budget: `k` statements emitted from a budget `b` get `(b - k) / k` each,
    /// so a whole tree of emissions never exceeds the first budget.
    pub fn mark(&self, outcomes: &mut [RuleOutcome]) {
        let emitted = outcomes.iter().map(emitted_by).sum::<u64>();
        if emitted == 0 {
            return;
        }
        let share = self.budget.saturating_sub(emitted) / emitted;
        for outcome in outcomes.iter_mut() {
            let mut chain = self.chain.clone();
            chain.push(outcome.rule.to_string());
            let Ok(evaluated) = &mut outcome.result else { continue };
            for record in &mut evaluated.intents {
                let Intent::EmitStatement { statement } = &mut record.intent else { continue };
                // `Intent::emit_statement` made sure both are maps.
                let extensions = statement.get_mut("context").and_then(|c| c.get_mut("extensions"));
                let Some(Value::Object(extensions)) = extensions else { continue };
                extensions.insert(EMISSION_CHAIN.to_string(), Value::from(chain.clone()));
                extensions.insert(EMISSION_BUDGET.to_string(), Value::from(share));
            }
        }
    }
}

/// How many statements a run emits (none if it failed).
pub fn emitted_by(outcome: &RuleOutcome) -> u64 {
    let Ok(evaluated) = &outcome.result else { return 0 };
    evaluated.intents.iter().filter(|r| matches!(r.intent, Intent::EmitStatement { .. })).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A statement as the emitter stores it: the rule's own account as its authority (the
    /// markers are trusted only then).
    fn emitted(chain: &[&str], budget: u64) -> Value {
        let by = chain.last().unwrap();
        json!({"authority": {"objectType": "Agent", "account": {"homePage": "http://lrs.example.com", "name": format!("rule:{by}")}},
            "context": {"extensions": {
            statement::EMITTED_BY: chain.last().unwrap(), statement::EMITTED_DEPTH: chain.len(),
            EMISSION_CHAIN: chain, EMISSION_BUDGET: budget,
        }}})
    }

    #[test]
    fn a_cycle_is_the_chain_from_the_rules_first_emission_back_to_it() {
        let lineage = Lineage::of(&emitted(&["a", "b", "c"], 4), 8);

        assert_eq!(lineage.cycle("b").as_deref(), Some("b -> c -> b"));
        assert_eq!(lineage.cycle("a").as_deref(), Some("a -> b -> c -> a"));
        assert_eq!(lineage.cycle("c"), None, "its own statement: skipped, not a cycle");
        assert_eq!(lineage.cycle("d"), None);
        assert_eq!((lineage.depth, lineage.budget), (3, 4));
    }

    #[test]
    fn learner_statements_get_the_whole_budget_and_unmarked_emissions_none() {
        assert_eq!(Lineage::of(&json!({"verb": {}}), 8).budget, 8);
        let unmarked = json!({"authority": {"objectType": "Agent", "account": {"homePage": "http://lrs.example.com", "name": "rule:a"}},
            "context": {"extensions": {statement::EMITTED_BY: "a"}}});
        assert_eq!(Lineage::of(&unmarked, 8), Lineage { depth: 1, chain: vec!["a".into()], budget: 0 });
        assert_eq!(Lineage::of(&emitted(&["a"], 1000), 8).budget, 8, "a marker cannot raise the budget");
    }
}

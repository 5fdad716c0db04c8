//! Declarative triggers: which statements a rule runs on (verbs, activities, activity types,
//! actors), checked on the statement's JSON before any script runs, and an index by verb
//! so a statement only meets the rules that name its verb. Built from rule metadata by
//! `file`; used by `runtime`.

use std::cell::OnceCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::statement;
use crate::validation::is_iri;
use crate::xapi::agent::ifi_key;

/// The `[trigger]` table of a rule file. Within a list any entry matches; across lists
/// all must. An empty or absent list places no condition.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TriggerSettings {
    /// Verb ids, e.g. `http://adlnet.gov/expapi/verbs/failed`.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Activity ids the statement's object must be.
    #[serde(default)]
    pub activities: Vec<String>,
    /// Activity types (`object.definition.type`) the object must have.
    #[serde(default)]
    pub activity_types: Vec<String>,
    /// xAPI agents the actor must be, e.g. `{ mbox = "mailto:ada@example.com" }`.
    #[serde(default)]
    pub actors: Vec<Value>,
}

/// A checked trigger, actors reduced to their IFI keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trigger {
    verbs: Vec<String>,
    activities: Vec<String>,
    activity_types: Vec<String>,
    actors: Vec<String>,
}

impl TriggerSettings {
    /// Checks every IRI and agent; the error names the list and the entry.
    pub fn build(&self) -> Result<Trigger, String> {
        for (list, values) in
            [("verbs", &self.verbs), ("activities", &self.activities), ("activity_types", &self.activity_types)]
        {
            if let Some(bad) = values.iter().find(|v| !is_iri(v)) {
                return Err(format!("trigger.{list}: {bad:?} must be an IRI"));
            }
        }
        let actors = self
            .actors
            .iter()
            .map(|agent| ifi_key(agent).ok_or_else(|| format!("trigger.actors: {agent} must be an agent with an identifier (mbox, mbox_sha1sum, openid or account)")))
            .collect::<Result<_, _>>()?;
        Ok(Trigger {
            verbs: self.verbs.clone(),
            activities: self.activities.clone(),
            activity_types: self.activity_types.clone(),
            actors,
        })
    }
}

impl Trigger {
    /// The first condition `statement` fails (`"verb"`, `"activity"`, `"activity type"`,
    /// `"actor"`), or `None` when the rule should run. `actor` caches the actor's key across
    /// the rules checked for one statement.
    pub fn mismatch(&self, statement: &Value, actor: &OnceCell<Option<String>>) -> Option<&'static str> {
        let listed = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l == v))
        };
        if !listed(&self.verbs, statement::verb_id(statement)) {
            return Some("verb");
        }
        if !listed(&self.activities, statement::activity_id(statement)) {
            return Some("activity");
        }
        if !listed(&self.activity_types, statement::activity_type(statement)) {
            return Some("activity type");
        }
        if !self.actors.is_empty()
            && !listed(&self.actors, actor.get_or_init(|| statement::actor_id(statement)).as_deref())
        {
            return Some("actor");
        }
        None
    }
}

/// Rules by the verbs their triggers name, plus those that take any verb; positions are
/// indexes into the rule list, in rule order.
#[derive(Debug, Default)]
pub struct TriggerIndex {
    by_verb: HashMap<String, Vec<usize>>,
    any_verb: Vec<usize>,
}

impl TriggerIndex {
    pub fn new<'a>(triggers: impl IntoIterator<Item = &'a Trigger>) -> Self {
        let mut index = Self::default();
        for (position, trigger) in triggers.into_iter().enumerate() {
            if trigger.verbs.is_empty() {
                index.any_verb.push(position);
            }
            for verb in &trigger.verbs {
                let rules = index.by_verb.entry(verb.clone()).or_default();
                if rules.last() != Some(&position) {
                    rules.push(position);
                }
            }
        }
        index
    }

    /// The rules a statement with `verb` may trigger, in rule order, without allocating.
    pub fn candidates(&self, verb: Option<&str>) -> impl Iterator<Item = usize> + '_ {
        let named: &[usize] = verb.and_then(|v| self.by_verb.get(v)).map_or(&[], Vec::as_slice);
        Merge { a: named, b: &self.any_verb }
    }
}

/// Two ascending lists of distinct positions, merged.
struct Merge<'a> {
    a: &'a [usize],
    b: &'a [usize],
}

impl Iterator for Merge<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(a), Some(b)) => a < b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let list = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some(*first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
    const PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";

    fn trigger(settings: Value) -> Trigger {
        serde_json::from_value::<TriggerSettings>(settings).unwrap().build().unwrap()
    }

    #[test]
    fn every_listed_condition_must_hold_and_any_entry_of_a_list_will_do() {
        let rule = trigger(json!({
            "verbs": [FAILED, PASSED],
            "activity_types": ["http://adlnet.gov/expapi/activities/assessment"],
            "actors": [{"mbox": "mailto:ADA@example.com"}],
        }));
        let statement = json!({
            "actor": {"mbox": "mailto:ADA@EXAMPLE.COM"},
            "verb": {"id": FAILED},
            "object": {"id": "http://example.com/q", "definition": {"type": "http://adlnet.gov/expapi/activities/assessment"}},
        });
        let cases = [
            ("all conditions hold", statement.clone(), None),
            ("other verb", json!({"verb": {"id": "http://x.com/v"}}), Some("verb")),
            (
                "no activity type",
                json!({"verb": {"id": PASSED}, "object": {"id": "http://x.com/a"}}),
                Some("activity type"),
            ),
        ];
        for (description, statement, expected) in cases {
            assert_eq!(rule.mismatch(&statement, &OnceCell::new()), expected, "{description}");
        }
        let mut someone_else = statement;
        someone_else["actor"] = json!({"mbox": "mailto:bob@example.com"});
        assert_eq!(rule.mismatch(&someone_else, &OnceCell::new()), Some("actor"));
    }

    #[test]
    fn invalid_iris_and_anonymous_actors_are_refused_naming_the_list() {
        let cases = [
            ("verb", json!({"verbs": ["failed"]}), "trigger.verbs"),
            ("activity type", json!({"activity_types": [""]}), "trigger.activity_types"),
            ("actor", json!({"actors": [{"name": "Ada"}]}), "trigger.actors"),
        ];
        for (description, settings, list) in cases {
            let error = serde_json::from_value::<TriggerSettings>(settings).unwrap().build().unwrap_err();
            assert!(error.starts_with(list), "{description}: {error}");
        }
    }

    #[test]
    fn the_index_offers_rules_naming_the_verb_and_rules_taking_any_verb_in_order() {
        let triggers = [
            trigger(json!({"verbs": [FAILED]})),
            trigger(json!({})),
            trigger(json!({"verbs": [PASSED, FAILED]})),
            trigger(json!({"activities": ["http://x.com/a"]})),
        ];
        let index = TriggerIndex::new(&triggers);

        assert_eq!(index.candidates(Some(FAILED)).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(index.candidates(Some(PASSED)).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(index.candidates(None).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(TriggerIndex::new(&triggers[..1]).candidates(Some(PASSED)).count(), 0);
    }
}

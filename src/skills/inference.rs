//! The skills map in memory: every person's ability per skill and every item's difficulty,
//! and the fold of a statement into them. Folding works on a `Scratch` over the map, so a
//! batch is applied to the map only after its commit landed; what the scratch changed is
//! also what the commit writes. Used by the runner (live) and by rebuilds.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use uuid::Uuid;

use super::evidence::extract;
use super::framework::Framework;
use super::model::{observe, Ability, Difficulty};
use crate::storage::{EstimateRecord, EvidenceRecord, ItemRecord, SkillsCommit};
use crate::xapi::time::Micros;

type Key = (String, String);

/// Abilities by (person, skill), ordered so one person's are found by a range, and
/// difficulties by (item, skill).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SkillMap {
    pub abilities: BTreeMap<Key, Ability>,
    pub items: HashMap<Key, Difficulty>,
}

impl SkillMap {
    pub fn from_records(estimates: Vec<EstimateRecord>, items: Vec<ItemRecord>) -> Self {
        let abilities = estimates
            .into_iter()
            .map(|e| {
                let ability = Ability { mean: e.mean, variance: e.variance, at: e.at, evidence: e.evidence };
                ((e.person, e.skill), ability)
            })
            .collect();
        let items = items
            .into_iter()
            .map(|i| {
                let difficulty = Difficulty { mean: i.mean, variance: i.variance, observations: i.observations };
                ((i.item, i.skill), difficulty)
            })
            .collect();
        Self { abilities, items }
    }

    pub fn apply(&mut self, scratch: Scratch) {
        self.abilities.extend(scratch.abilities);
        self.items.extend(scratch.items);
    }

    /// Every skill estimate of one person, in skill order.
    pub fn of_person<'a>(&'a self, person: &'a str) -> impl Iterator<Item = (&'a str, &'a Ability)> + 'a {
        let start = (person.to_string(), String::new());
        self.abilities
            .range(start..)
            .take_while(move |((p, _), _)| p == person)
            .map(|((_, skill), a)| (skill.as_str(), a))
    }
}

/// What a batch changed, over an unchanged map.
#[derive(Debug, Default)]
pub struct Scratch {
    abilities: HashMap<Key, Ability>,
    items: HashMap<Key, Difficulty>,
    pub evidence: Vec<EvidenceRecord>,
}

impl Scratch {
    fn ability(&self, map: &SkillMap, key: &Key, at: Micros) -> Ability {
        self.abilities.get(key).or_else(|| map.abilities.get(key)).copied().unwrap_or_else(|| Ability::prior(at))
    }

    fn item(&self, map: &SkillMap, key: &Key) -> Difficulty {
        self.items.get(key).or_else(|| map.items.get(key)).copied().unwrap_or_else(Difficulty::prior)
    }

    /// Folds one statement's evidence in; `id` and `stored` are the statement's.
    pub fn fold(&mut self, map: &SkillMap, framework: &Framework, statement: &Value, id: Uuid, stored: Micros) {
        for evidence in extract(framework, statement, stored) {
            let person_key = (evidence.person.clone(), evidence.skill.clone());
            let item_key = (evidence.item.clone(), evidence.skill.clone());
            let ability = self.ability(map, &person_key, evidence.observation.at);
            let item = self.item(map, &item_key);
            let half_life = framework.half_life_days(&evidence.skill);
            let (after, item_after, update) =
                observe(&ability, &item, &evidence.observation, half_life, evidence.teaches_item);
            self.evidence.push(EvidenceRecord {
                person: evidence.person,
                skill: evidence.skill,
                statement: id,
                at: evidence.observation.at,
                item: evidence.item,
                outcome: evidence.observation.outcome,
                weight: evidence.observation.weight,
                predicted: update.predicted,
                mean_change: update.mean_change,
                steps_up: evidence.steps_up,
            });
            self.abilities.insert(person_key, after);
            if evidence.teaches_item {
                self.items.insert(item_key, item_after);
            }
        }
    }

    /// The commit that records this scratch, through `evaluated_through`.
    pub fn commit(&self, evaluated_through: Micros) -> SkillsCommit {
        let mut estimates: Vec<EstimateRecord> = self
            .abilities
            .iter()
            .map(|((person, skill), a)| EstimateRecord {
                person: person.clone(),
                skill: skill.clone(),
                mean: a.mean,
                variance: a.variance,
                at: a.at,
                evidence: a.evidence,
            })
            .collect();
        estimates.sort_by(|a, b| (&a.person, &a.skill).cmp(&(&b.person, &b.skill)));
        let mut items: Vec<ItemRecord> = self
            .items
            .iter()
            .map(|((item, skill), d)| ItemRecord {
                item: item.clone(),
                skill: skill.clone(),
                mean: d.mean,
                variance: d.variance,
                observations: d.observations,
            })
            .collect();
        items.sort_by(|a, b| (&a.item, &a.skill).cmp(&(&b.item, &b.skill)));
        SkillsCommit { evaluated_through, evidence: self.evidence.clone(), estimates, items }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::skills::native::read_native;

    fn framework() -> Framework {
        let text = "[[skill]]\niri = \"https://s.example/sql\"\n[[mapping]]\nactivity_prefix = \"https://lms.example/\"\nskills = [{ skill = \"https://s.example/sql\" }]\n";
        Framework::build(read_native("t.toml", text).unwrap()).unwrap()
    }

    fn attempt(person: u32, quiz: u32, passed: bool) -> Value {
        let verb = if passed { "passed" } else { "failed" };
        json!({
            "actor": {"mbox": format!("mailto:p{person}@example.com")},
            "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")},
            "object": {"id": format!("https://lms.example/quiz-{quiz}")},
            "timestamp": "2026-01-01T00:00:00Z",
        })
    }

    fn fold_all(statements: &[Value]) -> (SkillMap, Vec<EvidenceRecord>) {
        let framework = framework();
        let mut map = SkillMap::default();
        let mut evidence = Vec::new();
        for (i, statement) in statements.iter().enumerate() {
            let mut scratch = Scratch::default();
            scratch.fold(&map, &framework, statement, Uuid::from_u128(i as u128), 1_800_000_000_000_000);
            evidence.append(&mut scratch.evidence);
            map.apply(scratch);
        }
        (map, evidence)
    }

    #[test]
    fn folding_the_same_statements_twice_gives_the_same_map_bit_for_bit() {
        let statements: Vec<Value> = (0..60).map(|i| attempt(i % 7, i % 5, (i * 7919) % 3 != 0)).collect();

        let (first, first_evidence) = fold_all(&statements);
        let (second, second_evidence) = fold_all(&statements);

        assert_eq!(first, second);
        assert_eq!(first_evidence, second_evidence);
        assert_eq!(first.abilities.len(), 7);
    }

    #[test]
    fn a_scratch_leaves_the_map_alone_until_applied_and_its_commit_holds_what_changed() {
        let framework = framework();
        let map = SkillMap::default();
        let mut scratch = Scratch::default();

        scratch.fold(&map, &framework, &attempt(1, 1, true), Uuid::from_u128(1), 1_800_000_000_000_000);
        let commit = scratch.commit(42);

        assert!(map.abilities.is_empty());
        assert_eq!(commit.evaluated_through, 42);
        assert_eq!(commit.estimates.len(), 1);
        assert_eq!(commit.items.len(), 1, "a pass teaches the quiz's difficulty");
        assert_eq!(commit.evidence[0].statement, Uuid::from_u128(1));
        assert!(commit.evidence[0].mean_change > 0.0);
    }
}

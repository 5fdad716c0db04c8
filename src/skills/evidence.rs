//! Which skills a statement is evidence of, and how strongly. Skills come from the
//! activity definition's `skills` extension and from the framework's mappings (activity
//! prefix, activity type, verb); strength from the verb and result: attempted <
//! completed < passed or scored < performed at work < performed and attested by a
//! manager, and a failure is negative evidence. Evidence for a skill also counts, halved
//! per step, for its broader skills. Called by the skills runner on committed statements.

use serde_json::Value;

use super::framework::Framework;
use super::model::Observation;
use crate::rules::statement::{activity_id, activity_type, verb_id};
use crate::xapi::agent::ifi_key;
use crate::xapi::time::{parse_timestamp, to_micros, Micros};

/// Activity definition extension listing the skills an activity is evidence of: an array
/// of `{"skill": IRI, "weight": 0..1}` (weight 1 when absent), or an array of IRIs.
pub const SKILLS_EXTENSION: &str = "https://fluency.dev/xapi/extensions/skills";
/// Context extension naming the Agent who attests the work (a manager, a reviewer).
pub const ATTESTED_BY_EXTENSION: &str = "https://fluency.dev/xapi/extensions/attested-by";
/// The verb of work evidence: a merged review, a closed deal, a resolved ticket.
pub const VERB_PERFORMED: &str = "https://fluency.dev/xapi/verbs/performed";

/// How much evidence for a skill counts for each broader skill above it, per step.
pub const BROADER_DISCOUNT: f64 = 0.5;

const ADL: &str = "http://adlnet.gov/expapi/verbs/";

/// One skill's share of a statement's evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    pub person: String,
    pub skill: String,
    /// The item whose difficulty the observation is weighed against: the activity id.
    pub item: String,
    pub observation: Observation,
    /// Whether the outcome says something about the item's difficulty (a scored or
    /// judged result); completions and attempts do not teach it.
    pub teaches_item: bool,
    /// The skill was reached through broader links from the mapped one, this many steps.
    pub steps_up: u32,
}

/// Most trials one statement stands for: a long exam is not a hundred separate pieces of
/// evidence about today's ability.
pub const MAX_TRIALS: f64 = 20.0;

/// How many trials a score stands for: `max` questions when the score is `raw` of `max`
/// whole points from 0 (a quiz of ten questions), else one.
fn trials(statement: &Value) -> f64 {
    let score = statement.get("result").and_then(|r| r.get("score"));
    let number = |name: &str| score.and_then(|s| s.get(name)).and_then(Value::as_f64);
    match (number("raw"), number("max"), number("min").unwrap_or(0.0)) {
        (Some(raw), Some(max), min) if min == 0.0 && max >= 1.0 && max.fract() == 0.0 && (0.0..=max).contains(&raw) => {
            max.min(MAX_TRIALS)
        }
        _ => 1.0,
    }
}

/// The outcome and base weight the verb and result give, or `None` when the statement
/// says nothing about ability (a launch, a voiding, an unknown verb without a result).
fn strength(statement: &Value) -> Option<(f64, f64, bool)> {
    let (outcome, weight, teaches) = verb_strength(statement)?;
    Some((outcome, weight * trials(statement), teaches))
}

fn verb_strength(statement: &Value) -> Option<(f64, f64, bool)> {
    let verb = verb_id(statement)?;
    if super::events::is_event_verb(verb) {
        return None;
    }
    let result = statement.get("result");
    let success = result.and_then(|r| r.get("success")).and_then(Value::as_bool);
    let score = result.and_then(|r| r.get("score"));
    let of_max = score.and_then(|s| Some(s.get("raw")?.as_f64()? / s.get("max")?.as_f64()?));
    let scaled = score
        .and_then(|s| s.get("scaled"))
        .and_then(Value::as_f64)
        .or(of_max.filter(|share| share.is_finite()))
        .map(|s| s.clamp(0.0, 1.0));
    let judged = scaled.or(success.map(|s| if s { 1.0 } else { 0.0 }));
    let short = verb.strip_prefix(ADL).unwrap_or("");
    match (verb, short) {
        (VERB_PERFORMED, _) => {
            let attested = statement
                .get("context")
                .and_then(|c| c.get("extensions"))
                .and_then(|e| e.get(ATTESTED_BY_EXTENSION))
                .and_then(ifi_key)
                .is_some();
            Some((judged.unwrap_or(1.0), if attested { 1.5 } else { 1.25 }, judged.is_some()))
        }
        (_, "failed") => Some((scaled.unwrap_or(0.0), 1.0, true)),
        (_, "passed" | "mastered") => Some((scaled.unwrap_or(1.0), 1.0, true)),
        (_, "scored" | "answered") => judged.map(|outcome| (outcome, 1.0, true)),
        (_, "completed") => Some(match judged {
            Some(outcome) => (outcome, 1.0, true),
            None => (1.0, 0.5, false),
        }),
        (_, "attempted") => Some((1.0, 0.1, false)),
        _ => judged.map(|outcome| (outcome, 1.0, true)),
    }
}

/// The skills the activity's definition lists, with weights.
fn declared_skills(statement: &Value) -> Vec<(String, f64)> {
    let listed = statement
        .get("object")
        .and_then(|o| o.get("definition"))
        .and_then(|d| d.get("extensions"))
        .and_then(|e| e.get(SKILLS_EXTENSION))
        .and_then(Value::as_array);
    listed
        .into_iter()
        .flatten()
        .filter_map(|entry| match entry {
            Value::String(iri) => Some((iri.clone(), 1.0)),
            Value::Object(map) => {
                let iri = map.get("skill")?.as_str()?;
                let weight = map.get("weight").map_or(Some(1.0), Value::as_f64)?;
                (weight.is_finite() && weight > 0.0).then(|| (iri.to_string(), weight.min(1.0)))
            }
            _ => None,
        })
        .collect()
}

/// The evidence a statement gives, for skills the framework knows. `stored` bounds the
/// time: a timestamp in the future counts as the time it was stored.
pub fn extract(framework: &Framework, statement: &Value, stored: Micros) -> Vec<Evidence> {
    let Some((outcome, base_weight, teaches_item)) = strength(statement) else { return Vec::new() };
    let (Some(person), Some(item)) = (statement.get("actor").and_then(ifi_key), activity_id(statement)) else {
        return Vec::new();
    };
    let at = statement
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
        .map_or(stored, |t| to_micros(&t).min(stored));
    let verb = verb_id(statement);
    let kind = activity_type(statement);
    let mut skills = declared_skills(statement);
    for mapping in &framework.mappings {
        let matches = mapping.activity_prefix.as_deref().is_none_or(|p| item.starts_with(p))
            && mapping.activity_type.as_deref().is_none_or(|t| kind == Some(t))
            && mapping.verb.as_deref().is_none_or(|v| verb == Some(v));
        if matches {
            skills.extend(mapping.skills.iter().map(|w| (w.skill.clone(), w.weight)));
        }
    }
    let mut found: Vec<Evidence> = Vec::new();
    let mut add = |skill: &str, weight: f64, steps_up: u32, teaches: bool| {
        // A skill reached twice keeps its strongest share.
        match found.iter_mut().find(|e| e.skill == skill) {
            Some(existing) if existing.observation.weight >= weight => {}
            Some(existing) => {
                existing.observation.weight = weight;
                existing.steps_up = steps_up;
                existing.teaches_item = teaches;
            }
            None => found.push(Evidence {
                person: person.clone(),
                skill: skill.to_string(),
                item: item.to_string(),
                observation: Observation { outcome, weight, at },
                teaches_item: teaches,
                steps_up,
            }),
        }
    };
    for (skill, weight) in &skills {
        if !framework.skills.contains_key(skill) {
            continue;
        }
        add(skill, base_weight * weight, 0, teaches_item);
        for (broader, steps) in framework.ancestors(skill) {
            add(&broader, base_weight * weight * BROADER_DISCOUNT.powi(steps as i32), steps, false);
        }
    }
    found.sort_by(|a, b| a.skill.cmp(&b.skill));
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::skills::native::read_native;

    fn framework() -> Framework {
        let text = r#"
[[skill]]
iri = "https://s.example/data"
[[skill]]
iri = "https://s.example/sql"
broader = ["https://s.example/data"]
[[skill]]
iri = "https://s.example/sales"
[[mapping]]
activity_prefix = "https://lms.example/sql-"
skills = [{ skill = "https://s.example/sql", weight = 0.8 }]
[[mapping]]
verb = "https://fluency.dev/xapi/verbs/performed"
activity_type = "https://crm.example/types/deal"
skills = [{ skill = "https://s.example/sales" }]
"#;
        Framework::build(read_native("t.toml", text).unwrap()).unwrap()
    }

    fn statement(verb: &str, activity: &str, result: Value) -> Value {
        json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": verb},
            "object": {"id": activity},
            "result": result,
            "timestamp": "2026-01-01T00:00:00Z",
        })
    }

    fn weight_of(evidence: &[Evidence], skill: &str) -> Option<f64> {
        evidence.iter().find(|e| e.skill == skill).map(|e| e.observation.weight)
    }

    #[test]
    fn stronger_verbs_give_stronger_evidence_and_failure_is_negative() {
        let framework = framework();
        let sql = "https://s.example/sql";
        let of = |verb: &str, result: Value| {
            let found = extract(&framework, &statement(verb, "https://lms.example/sql-1", result), i64::MAX);
            found.into_iter().find(|e| e.skill == sql).map(|e| (e.observation.outcome, e.observation.weight))
        };

        let attempted = of(&format!("{ADL}attempted"), json!({})).unwrap();
        let completed = of(&format!("{ADL}completed"), json!({})).unwrap();
        let passed = of(&format!("{ADL}passed"), json!({"score": {"scaled": 0.9}})).unwrap();
        let failed = of(&format!("{ADL}failed"), json!({})).unwrap();

        assert!(attempted.1 < completed.1 && completed.1 < passed.1, "{attempted:?} {completed:?} {passed:?}");
        assert_eq!(passed.0, 0.9);
        assert_eq!(failed.0, 0.0);
        assert_eq!(of(&format!("{ADL}launched"), json!({})), None, "a launch says nothing");
        let quiz = of(&format!("{ADL}passed"), json!({"score": {"raw": 7, "max": 10}})).unwrap();
        assert_eq!(quiz, (0.7, 10.0 * 0.8), "ten questions count as ten trials (times the mapping's 0.8)");
        let exam = of(&format!("{ADL}passed"), json!({"score": {"raw": 70, "min": 0, "max": 100}})).unwrap();
        assert_eq!(exam.1, MAX_TRIALS * 0.8);
        let points = of(&format!("{ADL}passed"), json!({"score": {"raw": 7.5, "max": 10.5}})).unwrap();
        assert_eq!(points.1, 0.8, "fractional points are one trial");
    }

    #[test]
    fn work_evidence_outweighs_a_pass_and_attestation_adds_to_it() {
        let framework = framework();
        let mut deal = statement(VERB_PERFORMED, "https://crm.example/deals/7", json!({}));
        deal["object"]["definition"] = json!({"type": "https://crm.example/types/deal"});
        let plain = weight_of(&extract(&framework, &deal, i64::MAX), "https://s.example/sales").unwrap();
        deal["context"] = json!({"extensions": {ATTESTED_BY_EXTENSION: {"mbox": "mailto:boss@example.com"}}});
        let attested = weight_of(&extract(&framework, &deal, i64::MAX), "https://s.example/sales").unwrap();

        assert!(plain > 1.0 && attested > plain, "{plain} {attested}");
    }

    #[test]
    fn declared_and_mapped_skills_count_and_broader_skills_get_a_discounted_share() {
        let framework = framework();
        let mut passed = statement(&format!("{ADL}passed"), "https://lms.example/sql-2", json!({}));
        passed["object"]["definition"] = json!({"extensions": {SKILLS_EXTENSION: [
            {"skill": "https://s.example/sales", "weight": 0.5}, "https://s.example/unknown"]}});

        let found = extract(&framework, &passed, i64::MAX);

        assert_eq!(weight_of(&found, "https://s.example/sql"), Some(0.8));
        assert_eq!(weight_of(&found, "https://s.example/data"), Some(0.4), "one step up: half");
        assert_eq!(weight_of(&found, "https://s.example/sales"), Some(0.5));
        assert_eq!(found.len(), 3, "an unknown skill IRI is ignored: {found:?}");
        assert!(found.iter().all(|e| e.person == "mbox:mailto:ada@example.com"));
    }
}

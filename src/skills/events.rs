//! Skill events, sent as xAPI statements so that rules (and, later, credentials) react to
//! them like to any statement, and the LRS stays the record: a person **reached** a level
//! (their level rose past a whole number), or a skill **fell below** their role's target
//! as its evidence aged. Statement ids are derived from the event, so sending one again
//! (after a crash, a restart or a rebuild) stores nothing new. Events older than
//! `EVENT_HORIZON` are not sent: replaying history must not announce old news. Built by
//! the skills runner; the verbs are not evidence of anything.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::framework::Framework;
use super::model::Ability;
use crate::xapi::time::{format_micros, Micros};

pub const VERB_REACHED_LEVEL: &str = "https://fluency.dev/xapi/verbs/reached-level";
pub const VERB_FELL_BELOW_TARGET: &str = "https://fluency.dev/xapi/verbs/fell-below-target";
/// The activity type of a skill as a statement's object (its id is the skill IRI).
pub const SKILL_ACTIVITY_TYPE: &str = "https://fluency.dev/xapi/activity-types/skill";
/// Result extensions: the level (0 to 5) and, for targets, the target and the role IRI.
pub const EXTENSION_LEVEL: &str = "https://fluency.dev/xapi/extensions/skill-level";
pub const EXTENSION_TARGET: &str = "https://fluency.dev/xapi/extensions/skill-target";
pub const EXTENSION_ROLE: &str = "https://fluency.dev/xapi/extensions/role";
/// The newest events only: a week.
pub const EVENT_HORIZON: Micros = 7 * 24 * 3_600 * 1_000_000;

/// Whether a verb is one of the events' own (never evidence, never an event's cause).
pub fn is_event_verb(verb: &str) -> bool {
    verb == VERB_REACHED_LEVEL || verb == VERB_FELL_BELOW_TARGET
}

/// The Agent a person's IFI key names (the inverse of `ifi_key`).
pub fn agent_of(person: &str) -> Option<Value> {
    let (kind, value) = person.split_once(':')?;
    let agent = match kind {
        "mbox" => json!({"objectType": "Agent", "mbox": value}),
        "mbox_sha1sum" => json!({"objectType": "Agent", "mbox_sha1sum": value}),
        "openid" => json!({"objectType": "Agent", "openid": value}),
        "account" => {
            let pair: Vec<String> = serde_json::from_str(value).ok()?;
            let [home_page, name] = <[String; 2]>::try_from(pair).ok()?;
            json!({"objectType": "Agent", "account": {"homePage": home_page, "name": name}})
        }
        _ => return None,
    };
    Some(agent)
}

/// The whole levels a rise from `before` to `after` passed (up to 5): `before` is the
/// estimate just before the evidence (decayed to its time), `None` for a first estimate,
/// which starts from the population average (2.5): nobody "reaches" level 2 by failing.
pub fn levels_reached(before: Option<&Ability>, after: &Ability) -> Vec<u32> {
    let from = before.copied().unwrap_or_else(|| Ability::prior(after.at)).level().floor() as u32;
    let to = after.level().floor() as u32;
    (from + 1..=to).collect()
}

fn event_id(parts: &[&str]) -> Uuid {
    let digest = Sha256::digest(parts.join("\u{1f}").as_bytes());
    uuid::Builder::from_sha1_bytes(digest[..16].try_into().expect("16 bytes")).into_uuid()
}

fn skill_object(framework: &Framework, skill: &str) -> Value {
    let mut definition = Map::new();
    definition.insert("type".into(), SKILL_ACTIVITY_TYPE.into());
    if let Some(entry) = framework.skills.get(skill).filter(|s| !s.name.is_empty()) {
        definition.insert("name".into(), json!(entry.name));
    }
    json!({"objectType": "Activity", "id": skill, "definition": definition})
}

/// "`person` reached `level` in `skill`" at `at`.
pub fn reached_level(framework: &Framework, person: &str, skill: &str, level: u32, ability: &Ability) -> Option<Value> {
    let id = event_id(&["reached", person, skill, &level.to_string(), &ability.at.to_string()]);
    Some(json!({
        "id": id.to_string(),
        "actor": agent_of(person)?,
        "verb": {"id": VERB_REACHED_LEVEL, "display": {"en": "reached level"}},
        "object": skill_object(framework, skill),
        "result": {"extensions": {EXTENSION_LEVEL: level}},
        "timestamp": format_micros(ability.at),
    }))
}

/// When the estimate, fading from `ability`, drops below `target` before `now`: `None`
/// when it started below or is still above (levels fade towards 2.5, never past it).
pub fn fell_below_at(ability: &Ability, target: f64, half_life_days: f64, now: Micros) -> Option<Micros> {
    if ability.level() < target || ability.decayed(now, half_life_days).level() >= target {
        return None;
    }
    // The level falls monotonically while it fades: bisection on the time.
    let (mut low, mut high) = (ability.at, now);
    while high - low > 1_000_000 {
        let middle = low + (high - low) / 2;
        if ability.decayed(middle, half_life_days).level() >= target {
            low = middle;
        } else {
            high = middle;
        }
    }
    Some(high)
}

/// "`skill` of `person` fell below the `target` of `role`" at `at`.
pub fn fell_below_target(
    framework: &Framework,
    person: &str,
    skill: &str,
    role: &str,
    target: f64,
    ability: &Ability,
    at: Micros,
) -> Option<Value> {
    let id = event_id(&["below", person, skill, role, &ability.at.to_string()]);
    Some(json!({
        "id": id.to_string(),
        "actor": agent_of(person)?,
        "verb": {"id": VERB_FELL_BELOW_TARGET, "display": {"en": "fell below target"}},
        "object": skill_object(framework, skill),
        "result": {"extensions": {EXTENSION_TARGET: target, EXTENSION_ROLE: role,
            EXTENSION_LEVEL: (ability.decayed(at, framework.half_life_days(skill)).level() * 100.0).round() / 100.0}},
        "timestamp": format_micros(at),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xapi::agent::ifi_key;

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn every_kind_of_person_key_gives_back_its_agent() {
        for agent in [
            json!({"objectType": "Agent", "mbox": "mailto:ada@example.com"}),
            json!({"objectType": "Agent", "mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}),
            json!({"objectType": "Agent", "openid": "https://id.example.com/ada"}),
            json!({"objectType": "Agent", "account": {"homePage": "https://lms.example.com", "name": "a:d|a"}}),
        ] {
            assert_eq!(agent_of(&ifi_key(&agent).unwrap()), Some(agent));
        }
        assert_eq!(agent_of("nonsense"), None);
    }

    #[test]
    fn a_rise_reports_each_whole_level_passed_and_a_fall_none() {
        let at = |mean: f64| Ability { mean, variance: 0.2, at: 0, evidence: 5 };
        assert_eq!(levels_reached(Some(&at(0.0)), &at(2.0)), vec![3, 4], "2.5 to about 4.2");
        assert_eq!(levels_reached(None, &at(2.0)), vec![3, 4], "a first estimate rises from the average");
        assert!(levels_reached(None, &at(-1.0)).is_empty(), "nobody reaches a level by failing");
        assert!(levels_reached(Some(&at(2.0)), &at(0.0)).is_empty());
    }

    #[test]
    fn a_fading_estimate_crosses_a_target_once_and_a_low_target_never() {
        let strong = Ability { mean: 2.0, variance: 0.2, at: 0, evidence: 9 };
        let crossing = fell_below_at(&strong, 3.5, 100.0, 1_000 * DAY).expect("3.5 is crossed while fading");
        let level_at = |t: Micros| strong.decayed(t, 100.0).level();
        assert!(level_at(crossing - 2_000_000) >= 3.5 && level_at(crossing) < 3.5);
        assert_eq!(fell_below_at(&strong, 2.0, 100.0, 1_000 * DAY), None, "levels fade towards 2.5, not below");
        assert_eq!(fell_below_at(&strong, 3.5, 100.0, DAY), None, "not yet");
    }

    #[test]
    fn the_same_event_always_gets_the_same_id() {
        let framework = Framework::default();
        let ability = Ability { mean: 1.0, variance: 0.3, at: 42, evidence: 3 };
        let a = reached_level(&framework, "mbox:mailto:a@b.c", "https://s.example/x", 3, &ability).unwrap();
        let b = reached_level(&framework, "mbox:mailto:a@b.c", "https://s.example/x", 3, &ability).unwrap();
        let c = reached_level(&framework, "mbox:mailto:a@b.c", "https://s.example/x", 4, &ability).unwrap();
        assert_eq!(a["id"], b["id"]);
        assert_ne!(a["id"], c["id"]);
    }
}

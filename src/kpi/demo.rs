//! A seeded synthetic helpdesk for the impact demo and the end-to-end tests: weekly
//! average-handling-time observations for every agent, course completions for the
//! trained ones, unrelated noise, and the truth the analysis should recover. Used by
//! `fluency demo load` and by tests.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use super::profile::{kpi_statement, Direction, KpiDefinition, KpiObservation};
use crate::xapi::agent::ifi_key;
use crate::xapi::time::format_utc;

pub const DEMO_KPI: &str = "https://helpdesk.example.com/kpi/average-handling-time";
pub const DEMO_CSAT_KPI: &str = "https://helpdesk.example.com/kpi/customer-satisfaction";
pub const DEMO_COURSE: &str = "https://lms.example.com/courses/de-escalation";
const OTHER_COURSE: &str = "https://lms.example.com/courses/spreadsheet-basics";
const VERB_COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
const VERB_LAUNCHED: &str = "http://adlnet.gov/expapi/verbs/launched";

/// The helpdesk's numbers, in seconds of average handling time.
const BASELINE_MEAN: f64 = 360.0;
const BASELINE_SD: f64 = 40.0;
const WEEKLY_NOISE_SD: f64 = 25.0;
/// Everyone gets a little quicker with experience, trained or not.
const TREND_PER_WEEK: f64 = -0.5;
/// Customer satisfaction (0–100 points): each agent's level, weekly noise, and what the
/// course does to it (nothing noticeable: the guardrail should hold within 2 points).
const CSAT_MEAN: f64 = 85.0;
const CSAT_SD: f64 = 4.0;
const CSAT_NOISE_SD: f64 = 3.0;
const CSAT_EFFECT: f64 = -0.3;
/// Training waves: agents complete the course in one of these weeks from the programme start.
const WAVES: std::ops::Range<i64> = -1..6;
/// The course's modules; each trained agent completes 1 to 4 of them, and each module adds to
/// the effect: the effect is `effect × (0.7 + 0.12 × modules)`, 1 × effect at the mean 2.5.
pub const DEMO_MODULES: u32 = 4;
/// Course licence plus four hours off the phones, per participant.
const COST_PER_PARTICIPANT: f64 = 400.0;
/// Yearly value per agent of one second less handling time: about 5,000 calls a year at
/// 0.008 EUR per agent-second.
const VALUE_PER_SECOND: f64 = 40.0;

/// What to generate. `effect` is the true change of the KPI caused by the course, in
/// seconds (negative: quicker, which is better), reached from the second week after an
/// agent's training (half of it in the week of training).
#[derive(Clone, Debug, PartialEq)]
pub struct DemoSpec {
    pub seed: u64,
    pub agents: usize,
    pub effect: f64,
    /// The programme start (a Monday): agents are trained in waves, from the week before it
    /// to six weeks after it.
    pub start: NaiveDate,
    pub weeks_before: u32,
    pub weeks_after: u32,
    pub treated_share: f64,
    /// The true change of customer satisfaction (points) caused by the course.
    pub csat_effect: f64,
}

impl Default for DemoSpec {
    fn default() -> Self {
        Self {
            seed: 42,
            agents: 300,
            effect: -30.0,
            start: NaiveDate::from_ymd_opt(2024, 4, 29).expect("a valid date"),
            weeks_before: 8,
            weeks_after: 13,
            treated_share: 0.5,
            csat_effect: CSAT_EFFECT,
        }
    }
}

/// What the generator put in, for tests and the demo's closing message.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoTruth {
    pub effect: f64,
    pub trend_per_week: f64,
    /// Every agent's IFI key, in generation order.
    pub agents: Vec<String>,
    /// Each trained agent's key and course completion time.
    pub completions: BTreeMap<String, DateTime<Utc>>,
    /// Each trained agent's key and the number of modules they completed.
    pub modules: BTreeMap<String, u32>,
    pub csat_effect: f64,
}

impl DemoTruth {
    pub fn is_treated(&self, actor_key: &str) -> bool {
        self.completions.contains_key(actor_key)
    }
}

pub struct DemoData {
    /// Ordered by timestamp; every id is derived from the seed, so loading twice stores
    /// nothing new.
    pub statements: Vec<Value>,
    pub truth: DemoTruth,
}

/// The demo's main KPI.
pub fn demo_kpi() -> KpiDefinition {
    KpiDefinition {
        id: DEMO_KPI.into(),
        name: Some("Average handling time".into()),
        unit: Some("seconds".into()),
        direction: Some(Direction::LowerIsBetter),
    }
}

/// The demo's guardrail KPI.
pub fn csat_kpi() -> KpiDefinition {
    KpiDefinition {
        id: DEMO_CSAT_KPI.into(),
        name: Some("Customer satisfaction".into()),
        unit: Some("points".into()),
        direction: Some(Direction::HigherIsBetter),
    }
}

/// How many agents the spec trains.
pub fn treated_count(spec: &DemoSpec) -> usize {
    ((spec.agents as f64 * spec.treated_share).round() as usize).min(spec.agents)
}

/// A half-open time window `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn contains_micros(&self, micros: i64) -> bool {
        self.start.timestamp_micros() <= micros && micros < self.end.timestamp_micros()
    }
}

/// The analysis windows (pre, post): every week before the programme except the last,
/// and every week after it except the first, so no window holds a week in which people
/// were still completing the course.
pub fn demo_windows(spec: &DemoSpec) -> (Window, Window) {
    let start = midnight_utc(spec.start);
    let pre = Window { start: start - Duration::weeks(spec.weeks_before.into()), end: start - Duration::weeks(1) };
    let post = Window { start: start + Duration::weeks(1), end: start + Duration::weeks(spec.weeks_after.into()) };
    (pre, post)
}

/// Generates the demo. Agents are nominated for the course with a preference for long
/// handling times, as managers do: the groups differ before the course, so a post-only
/// comparison is biased while difference-in-differences is not.
pub fn generate_demo(spec: &DemoSpec) -> DemoData {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let start = midnight_utc(spec.start);
    let agents: Vec<Agent> = (0..spec.agents)
        .map(|index| Agent {
            actor: json!({
                "objectType": "Agent",
                "name": format!("Agent {:03}", index + 1),
                "mbox": format!("mailto:agent{:03}@helpdesk.example.com", index + 1),
            }),
            team: format!("team-{}", (index % 6) + 1),
            baseline: normal(&mut rng, BASELINE_MEAN, BASELINE_SD),
            csat: normal(&mut rng, CSAT_MEAN, CSAT_SD),
        })
        .collect();

    let mut nomination: Vec<(f64, usize)> =
        agents.iter().enumerate().map(|(index, a)| (a.baseline + normal(&mut rng, 0.0, BASELINE_SD), index)).collect();
    nomination.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut completed: Vec<Option<DateTime<Utc>>> = vec![None; agents.len()];
    let mut modules: Vec<u32> = vec![0; agents.len()];
    for &(_, index) in nomination.iter().take(treated_count(spec)) {
        let minutes = rng.gen_range(9 * 60..17 * 60);
        // A weekday of the agent's training wave.
        let day = 7 * rng.gen_range(WAVES) + rng.gen_range(0..5);
        completed[index] = Some(start + Duration::days(day) + Duration::minutes(minutes));
        modules[index] = rng.gen_range(1..=DEMO_MODULES);
    }

    let mut statements = Vec::new();
    let weeks = -(spec.weeks_before as i64)..spec.weeks_after as i64;
    for ((agent, completion), &modules) in agents.iter().zip(&completed).zip(&modules) {
        for (step, week) in weeks.clone().enumerate() {
            let monday = start + Duration::weeks(week);
            // The weekly figures are reported on Friday at five.
            let timestamp = monday + Duration::days(4) + Duration::hours(17);
            // Weeks since training: 0 in the week of training (half the effect), then all of it.
            let ramp = completion.filter(|done| timestamp >= *done).map_or(0.0, |done| {
                let weeks_since = (timestamp - done).num_days() / 7;
                if weeks_since == 0 {
                    0.5
                } else {
                    1.0
                }
            });
            let dose = 0.7 + 0.12 * f64::from(modules);
            let value = agent.baseline
                + TREND_PER_WEEK * step as f64
                + normal(&mut rng, 0.0, WEEKLY_NOISE_SD)
                + ramp * dose * spec.effect;
            let csat = agent.csat + normal(&mut rng, 0.0, CSAT_NOISE_SD) + ramp * spec.csat_effect;
            let period = Some(monday.format("%G-W%V").to_string());
            for (kpi, value) in [(demo_kpi(), value), (csat_kpi(), csat.clamp(0.0, 100.0))] {
                let observation = KpiObservation {
                    actor: agent.actor.clone(),
                    value: (value * 10.0).round() / 10.0,
                    timestamp,
                    period: period.clone(),
                    team: Some(agent.team.clone()),
                };
                statements.push(kpi_statement(&kpi, &observation));
            }
        }
        statements.extend(noise(&mut rng, agent, start, spec));
        if let Some(done) = completion {
            for module in 1..=modules {
                let at = *done - Duration::minutes(30 * i64::from(modules - module + 1));
                statements.push(learning(&mut rng, &agent.actor, VERB_COMPLETED, &module_id(module), at));
            }
            statements.push(learning(
                &mut rng,
                &agent.actor,
                VERB_LAUNCHED,
                DEMO_COURSE,
                *done - Duration::minutes(150),
            ));
            statements.push(learning(&mut rng, &agent.actor, VERB_COMPLETED, DEMO_COURSE, *done));
        }
    }
    statements.sort_by_key(|s| s["timestamp"].as_str().unwrap_or_default().to_string());

    let keys: Vec<String> = agents.iter().map(|a| ifi_key(&a.actor).unwrap_or_default()).collect();
    let completions = keys.iter().zip(&completed).filter_map(|(key, done)| Some((key.clone(), (*done)?))).collect();
    let modules = keys.iter().zip(&modules).filter(|(_, m)| **m > 0).map(|(key, m)| (key.clone(), *m)).collect();
    let truth = DemoTruth {
        effect: spec.effect,
        trend_per_week: TREND_PER_WEEK,
        agents: keys,
        completions,
        modules,
        csat_effect: spec.csat_effect,
    };
    DemoData { statements, truth }
}

struct Agent {
    actor: Value,
    team: String,
    baseline: f64,
    csat: f64,
}

/// The activity id of one of the course's modules.
pub fn module_id(module: u32) -> String {
    format!("{DEMO_COURSE}/module-{module}")
}

/// Statements the analysis must not mistake for the training: an unrelated course, and some
/// launches of the course that were never completed.
fn noise(rng: &mut StdRng, agent: &Agent, start: DateTime<Utc>, spec: &DemoSpec) -> Vec<Value> {
    let mut statements = Vec::new();
    let first = start - Duration::weeks(spec.weeks_before.into());
    let last = start + Duration::weeks(spec.weeks_after.into());
    let span_minutes = (last - first).num_minutes();
    if rng.gen_bool(0.3) {
        let when = first + Duration::minutes(rng.gen_range(0..span_minutes));
        statements.push(learning(rng, &agent.actor, VERB_COMPLETED, OTHER_COURSE, when));
    }
    if rng.gen_bool(0.05) {
        let when = start + Duration::minutes(rng.gen_range(0..7 * 24 * 60));
        statements.push(learning(rng, &agent.actor, VERB_LAUNCHED, DEMO_COURSE, when));
    }
    statements
}

fn learning(rng: &mut StdRng, actor: &Value, verb: &str, course: &str, when: DateTime<Utc>) -> Value {
    let display = verb.rsplit('/').next().unwrap_or(verb);
    let mut statement = json!({
        "id": Uuid::from_bytes(rng.gen()).to_string(),
        "actor": actor,
        "verb": { "id": verb, "display": { "en": display } },
        "object": {
            "objectType": "Activity",
            "id": course,
            "definition": { "type": "http://adlnet.gov/expapi/activities/course" },
        },
        "timestamp": format_utc(&when.fixed_offset()),
    });
    if verb == VERB_COMPLETED {
        statement["result"] = json!({ "completion": true, "duration": "PT2H30M" });
    }
    statement
}

/// The TOML spec of the demo's impact report (`fluency impact --spec`, the same document
/// as `POST /api/impact`). Windows are relative to each person's completion date; the
/// comparison group's reference date is the treated group's median one.
pub fn demo_impact_spec(spec: &DemoSpec) -> String {
    let treated = treated_count(spec);
    format!(
        r#"# Did the de-escalation course shorten average handling time?
# Written by `fluency demo load` (seed {seed}, {agents} agents, true effect {effect} seconds).
title = "De-escalation course: average handling time"
kpi = "{kpi}"
direction = "lower_is_better"

[treated]
# People with a statement of this verb on this activity; their date is the first one.
verb = "{completed}"
activity = "{course}"

[comparison]
# Everyone else with observations of the KPI.
group = "not_treated"

[windows]
# Days relative to each person's date: four weeks before (and three more before those,
# to check that both groups moved alike), then six weeks after a week to settle in.
pre_days = 28
earlier_pre_days = 21
post_lag_days = 7
post_days = 42

[staggered]
# Agents were trained in waves over seven weeks: compare each wave, week by week, with the
# agents not trained yet (and those never trained), from 4 weeks before to 8 weeks after.
comparison = "not_yet_treated"
period_days = 7
periods_before = 4
periods_after = 8

[[guardrails]]
# Customer satisfaction must not drop by 2 points or more.
kpi = "{csat}"
margin = 2.0

[dose]
# Modules of the course each agent completed.
verb = "{completed}"
activity_prefix = "{course}/module-"
levels = {modules}

[roi]
currency = "EUR"
# Fully loaded: course licence and four hours off the phones for each of {treated} participants.
program_cost = {cost:.1}
# Yearly value per person of one second less handling time (about 5,000 calls a year at
# 0.008 EUR per agent-second), counted for one year.
value_per_unit = {value:.1}
periods = 1
months_per_period = 12
"#,
        seed = spec.seed,
        agents = spec.agents,
        effect = spec.effect,
        kpi = DEMO_KPI,
        completed = VERB_COMPLETED,
        course = DEMO_COURSE,
        csat = DEMO_CSAT_KPI,
        modules = DEMO_MODULES,
        cost = treated as f64 * COST_PER_PARTICIPANT,
        value = VALUE_PER_SECOND,
    )
}

fn midnight_utc(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// A normal draw by the Box-Muller transform (one draw per call keeps the sequence simple).
/// A normal draw (Box-Muller), shared by the seeded simulators.
pub(crate) fn normal(rng: &mut StdRng, mean: f64, sd: f64) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::profile::read_kpi_statement;
    use crate::xapi::XapiVersion;

    fn small() -> DemoSpec {
        DemoSpec { agents: 40, ..DemoSpec::default() }
    }

    #[test]
    fn the_same_seed_gives_the_same_statements_and_another_seed_does_not() {
        let first = generate_demo(&small());
        let again = generate_demo(&small());
        let other = generate_demo(&DemoSpec { seed: 7, ..small() });

        assert_eq!(first.statements, again.statements);
        assert_eq!(first.truth, again.truth);
        assert_ne!(first.statements, other.statements);
    }

    #[test]
    fn every_statement_is_valid_and_ids_are_unique() {
        let data = generate_demo(&small());

        let mut ids: Vec<&str> = data.statements.iter().map(|s| s["id"].as_str().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), data.statements.len());
        let all = Value::from(data.statements.clone());
        crate::validation::validate_statements(&all, XapiVersion::V1_0_3).expect("valid statements");
    }

    #[test]
    fn the_treated_half_completed_the_course_in_waves_and_got_the_effect() {
        let spec = small();
        let data = generate_demo(&spec);
        let start = midnight_utc(spec.start);

        assert_eq!(data.truth.completions.len(), 20);
        let mut waves = std::collections::BTreeSet::new();
        for done in data.truth.completions.values() {
            assert!(*done >= start - Duration::weeks(1) && *done < start + Duration::weeks(6), "{done}");
            waves.insert((*done - start).num_days().div_euclid(7));
        }
        assert!(waves.len() >= 4, "staggered waves: {waves:?}");
        assert!(data.truth.modules.values().all(|m| (1..=DEMO_MODULES).contains(m)));
        let module_completions = data
            .statements
            .iter()
            .filter(|s| s["object"]["id"].as_str().is_some_and(|id| id.starts_with(&format!("{DEMO_COURSE}/module-"))))
            .count();
        assert_eq!(module_completions as u32, data.truth.modules.values().sum::<u32>());
        let completions: Vec<&Value> = data
            .statements
            .iter()
            .filter(|s| s["verb"]["id"] == VERB_COMPLETED && s["object"]["id"] == DEMO_COURSE)
            .collect();
        assert_eq!(completions.len(), 20);
        let observations: Vec<_> = data.statements.iter().filter_map(read_kpi_statement).collect();
        let aht: Vec<_> = observations.iter().filter(|o| o.kpi_id == DEMO_KPI).collect();
        let csat = observations.iter().filter(|o| o.kpi_id == DEMO_CSAT_KPI).count();
        assert_eq!((aht.len(), csat), (40 * 21, 40 * 21), "weekly handling time and satisfaction");

        // Before the first wave the trained agents are slower (nominated for long times); from
        // the second week after their own training they are faster by about the effect.
        let (pre, _) = demo_windows(&spec);
        let mean = |values: Vec<f64>| values.iter().sum::<f64>() / values.len() as f64;
        let before = |treated: bool| {
            mean(
                aht.iter()
                    .filter(|o| {
                        data.truth.is_treated(&o.actor_key) == treated && pre.contains_micros(o.timestamp_micros)
                    })
                    .map(|o| o.value)
                    .collect(),
            )
        };
        assert!(before(true) > before(false), "nominated for long times");
        const WEEK_US: i64 = 7 * 86_400_000_000;
        let changes: Vec<f64> = data
            .truth
            .completions
            .iter()
            .map(|(agent, done)| {
                let weeks = |from: i64, to: i64| {
                    mean(
                        aht.iter()
                            .filter(|o| &o.actor_key == agent)
                            .filter(|o| {
                                (from..to).contains(&(o.timestamp_micros - done.timestamp_micros()).div_euclid(WEEK_US))
                            })
                            .map(|o| o.value)
                            .collect(),
                    )
                };
                weeks(1, 5) - weeks(-4, 0)
            })
            .collect();
        // Own change over five weeks: the effect plus five weeks of everyone's trend, plus noise.
        let expected = spec.effect + TREND_PER_WEEK * 5.0;
        assert!((mean(changes.clone()) - expected).abs() < 10.0, "mean change {}", mean(changes));
    }

    #[test]
    fn the_impact_spec_is_an_impact_request_with_the_windows_and_the_money() {
        let text = demo_impact_spec(&DemoSpec::default());

        let request: crate::service::impact::ImpactRequest = toml::from_str(&text).expect("a valid impact request");

        assert_eq!(request.kpi, DEMO_KPI);
        assert_eq!(request.treated.activity.as_deref(), Some(DEMO_COURSE));
        assert_eq!((request.windows.pre_days, request.windows.post_days), (28, 42));
        assert_eq!(request.roi.unwrap().program_cost, 60_000.0);
        assert_eq!(request.staggered.unwrap().periods_after, 8);
        assert_eq!((request.guardrails[0].kpi.as_str(), request.guardrails[0].margin), (DEMO_CSAT_KPI, 2.0));
        assert_eq!(request.dose.unwrap().levels, Some(DEMO_MODULES));
    }
}

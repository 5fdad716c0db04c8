//! A seeded simulator with known answers, for recovery tests and benchmarks. Generative
//! model (docs/skills.md, "Checking the model"):
//!
//! - every person has a hidden ability per skill, N(0, 1) at the start, which fades towards
//!   the population mean: over a gap of `dt` days it keeps `r = 2^(-dt / half_life)` of its
//!   distance from 0, and each quiz or piece of work then adds N(0.05, 0.1^2) (practice);
//!   the model assumes the same fading (plus uncertainty growing back, which it cannot
//!   rule out);
//! - every skill has `items_per_skill` quiz activities with difficulty N(0, 0.8^2), and
//!   one work activity of difficulty N(0.5, 0.5^2);
//! - each person practises a random subset of the skills, with exponential gaps (mean
//!   `mean_gap_days`) over the period. Four events in five are quizzes of
//!   `questions_per_quiz` questions, each answered right with probability
//!   sigma(ability - difficulty), sent with `result.score` raw of max and as `passed` (at
//!   least 70% right) or `failed`; one in five is work evidence (`performed`, with
//!   `result.success` drawn with the same probability, attested by a manager half of the
//!   time).
//!
//! It returns the statements, the framework mapping each skill's activities to it, and the
//! true abilities at the end of the period.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::evidence::{ATTESTED_BY_EXTENSION, VERB_PERFORMED};
use super::model::sigmoid;
use crate::kpi::demo::normal;

#[derive(Clone, Debug)]
pub struct SimulationSpec {
    pub people: usize,
    pub skills: usize,
    /// Skills each person practises.
    pub skills_per_person: usize,
    pub items_per_skill: usize,
    pub questions_per_quiz: u32,
    /// Evidence events per person and practised skill.
    pub events_per_skill: usize,
    pub mean_gap_days: f64,
    pub half_life_days: f64,
    pub seed: u64,
}

impl Default for SimulationSpec {
    fn default() -> Self {
        Self {
            people: 300,
            skills: 8,
            skills_per_person: 4,
            items_per_skill: 12,
            questions_per_quiz: 10,
            events_per_skill: 16,
            mean_gap_days: 10.0,
            half_life_days: 900.0,
            seed: 7,
        }
    }
}

pub struct Simulation {
    /// In time order.
    pub statements: Vec<Value>,
    /// A native framework file: the skills, and a mapping per skill.
    pub framework: String,
    /// True ability at `end`, by (person IFI key, skill IRI).
    pub truth: BTreeMap<(String, String), f64>,
    pub end: DateTime<Utc>,
}

pub fn skill_iri(skill: usize) -> String {
    format!("https://sim.example/skills/s{skill}")
}

fn activity(skill: usize, item: &str) -> String {
    format!("https://sim.example/activities/s{skill}/{item}")
}

pub fn simulate(spec: &SimulationSpec) -> Simulation {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().expect("a valid instant");
    let quizzes: Vec<Vec<f64>> =
        (0..spec.skills).map(|_| (0..spec.items_per_skill).map(|_| normal(&mut rng, 0.0, 0.8)).collect()).collect();
    let work: Vec<f64> = (0..spec.skills).map(|_| normal(&mut rng, 0.5, 0.5)).collect();
    let mut events: Vec<(DateTime<Utc>, Value)> = Vec::new();
    let mut truth = BTreeMap::new();
    let mut end = start;
    let mut persons = Vec::new();
    for person in 0..spec.people {
        let mbox = format!("mailto:person{person}@sim.example");
        let mut practised: Vec<usize> = (0..spec.skills).collect();
        for i in 0..spec.skills_per_person.min(spec.skills) {
            let j = rng.gen_range(i..practised.len());
            practised.swap(i, j);
        }
        practised.truncate(spec.skills_per_person);
        let mut paths = Vec::new();
        for &skill in &practised {
            let mut ability = normal(&mut rng, 0.0, 1.0);
            let mut at = start;
            for event in 0..spec.events_per_skill {
                let gap = -spec.mean_gap_days * rng.gen_range(f64::EPSILON..1.0f64).ln();
                ability = fade(ability, gap, spec.half_life_days) + normal(&mut rng, 0.05, 0.1);
                at += Duration::seconds((gap * 86_400.0) as i64);
                let is_work = rng.gen_bool(0.2);
                let (item, difficulty) = match is_work {
                    true => ("work".to_string(), work[skill]),
                    false => {
                        let k = rng.gen_range(0..spec.items_per_skill);
                        (format!("quiz-{k}"), quizzes[skill][k])
                    }
                };
                let chance = sigmoid(ability - difficulty);
                let success = rng.gen_bool(chance);
                let right = (0..spec.questions_per_quiz).filter(|_| rng.gen_bool(chance)).count() as u32;
                let statement = match is_work {
                    true => {
                        let mut s = json!({
                            "actor": {"mbox": mbox, "name": format!("Person {person}")},
                            "verb": {"id": VERB_PERFORMED, "display": {"en": "performed"}},
                            "object": {"id": activity(skill, &item)},
                            "result": {"success": success},
                        });
                        if rng.gen_bool(0.5) {
                            s["context"] =
                                json!({"extensions": {ATTESTED_BY_EXTENSION: {"mbox": "mailto:manager@sim.example"}}});
                        }
                        s
                    }
                    false => {
                        let passed = right * 10 >= spec.questions_per_quiz * 7;
                        let verb = if passed { "passed" } else { "failed" };
                        json!({
                            "actor": {"mbox": mbox, "name": format!("Person {person}")},
                            "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}"), "display": {"en": verb}},
                            "object": {"id": activity(skill, &item)},
                            "result": {"success": passed, "score": {"raw": right, "min": 0, "max": spec.questions_per_quiz}},
                        })
                    }
                };
                let id = uuid::Uuid::from_u128(
                    ((spec.seed as u128) << 64) | ((person as u128) << 32) | ((skill as u128) << 16) | event as u128,
                );
                let mut statement = statement;
                statement["id"] = json!(id.to_string());
                events.push((at, statement));
                end = end.max(at);
            }
            paths.push((skill, ability, at));
        }
        persons.push((format!("mbox:{mbox}"), paths));
    }
    // Every ability drifts on to the common end of the period.
    for (person, paths) in persons {
        for (skill, ability, at) in paths {
            let gap = (end - at).num_seconds() as f64 / 86_400.0;
            truth.insert((person.clone(), skill_iri(skill)), fade(ability, gap, spec.half_life_days));
        }
    }
    events.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1["id"].as_str().cmp(&b.1["id"].as_str())));
    let statements = events
        .into_iter()
        .map(|(at, mut statement)| {
            statement["timestamp"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            statement
        })
        .collect();
    Simulation { statements, framework: framework_text(spec), truth, end }
}

fn fade(ability: f64, days: f64, half_life_days: f64) -> f64 {
    ability * (-days / half_life_days * std::f64::consts::LN_2).exp()
}

fn framework_text(spec: &SimulationSpec) -> String {
    let mut text = format!("half_life_days = {}\n", spec.half_life_days);
    for skill in 0..spec.skills {
        let iri = skill_iri(skill);
        text.push_str(&format!(
            "\n[[skill]]\niri = \"{iri}\"\nname = {{ en = \"Skill {skill}\" }}\n\n[[mapping]]\nactivity_prefix = \"{}\"\nskills = [{{ skill = \"{iri}\" }}]\n",
            activity(skill, "")
        ));
    }
    text
}

/// How well estimates recovered the truth, beside the naive baseline (the share of attempts
/// passed, and the prediction (passes + 1) / (attempts + 2) before each attempt).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Recovery {
    /// Estimates with at least `MIN_EVIDENCE` pieces of evidence, which the correlation uses.
    pub estimates: usize,
    pub spearman: f64,
    pub naive_spearman: f64,
    /// Over every recorded prediction.
    pub predictions: usize,
    pub ece: f64,
    pub naive_ece: f64,
    pub brier: f64,
    pub naive_brier: f64,
}

/// The evidence an estimate needs to count in the correlation.
pub const MIN_EVIDENCE: usize = 10;

impl Recovery {
    /// From profiles as `GET /api/skills/profile` answers them (decayed to `end`), and the
    /// simulation's truth.
    pub fn from_profiles(profiles: &[Value], truth: &BTreeMap<(String, String), f64>) -> Recovery {
        let (mut estimated, mut naive, mut predictions, mut naive_predictions) = (vec![], vec![], vec![], vec![]);
        for profile in profiles {
            let person = profile["person"].as_str().unwrap_or_default().to_string();
            for skill in profile["skills"].as_array().into_iter().flatten() {
                let iri = skill["skill"].as_str().unwrap_or_default().to_string();
                let Some(true_ability) = truth.get(&(person.clone(), iri)) else { continue };
                let contributions = skill["contributions"].as_array().cloned().unwrap_or_default();
                // Prequential: each prediction was made before its outcome was seen.
                let (mut passes, mut attempts) = (0.0, 0.0);
                for c in &contributions {
                    let outcome = c["outcome"].as_f64().unwrap_or_default();
                    predictions.push((c["predicted"].as_f64().unwrap_or_default(), outcome));
                    naive_predictions.push(((passes + 1.0) / (attempts + 2.0), outcome));
                    passes += outcome;
                    attempts += 1.0;
                }
                if contributions.len() >= MIN_EVIDENCE {
                    estimated.push((skill["mean"].as_f64().unwrap_or_default(), *true_ability));
                    naive.push((passes / attempts, *true_ability));
                }
            }
        }
        let (ece, brier) = calibration(&predictions);
        let (naive_ece, naive_brier) = calibration(&naive_predictions);
        Recovery {
            estimates: estimated.len(),
            spearman: spearman(&estimated),
            naive_spearman: spearman(&naive),
            predictions: predictions.len(),
            ece,
            naive_ece,
            brier,
            naive_brier,
        }
    }
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} estimates: Spearman {:.3} (naive {:.3}); {} predictions: ECE {:.4} (naive {:.4}), Brier {:.4} (naive {:.4})",
            self.estimates, self.spearman, self.naive_spearman, self.predictions, self.ece, self.naive_ece, self.brier, self.naive_brier
        )
    }
}

/// Spearman's rank correlation (average ranks for ties).
pub fn spearman(pairs: &[(f64, f64)]) -> f64 {
    let ranks = |values: Vec<f64>| -> Vec<f64> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let mut ranks = vec![0.0; values.len()];
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
                j += 1;
            }
            for k in i..=j {
                ranks[order[k]] = (i + j) as f64 / 2.0;
            }
            i = j + 1;
        }
        ranks
    };
    let x = ranks(pairs.iter().map(|p| p.0).collect());
    let y = ranks(pairs.iter().map(|p| p.1).collect());
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// Expected calibration error over ten equal-width bins, and the Brier score, of
/// (predicted probability, outcome 0 or 1) pairs.
pub fn calibration(pairs: &[(f64, f64)]) -> (f64, f64) {
    let mut bins = [(0.0f64, 0.0f64, 0usize); 10];
    for &(p, y) in pairs {
        let bin = ((p * 10.0) as usize).min(9);
        bins[bin].0 += p;
        bins[bin].1 += y;
        bins[bin].2 += 1;
    }
    let n = pairs.len() as f64;
    // Each bin weighs |mean prediction - observed rate| by its share: |sum p - sum y| / n.
    let ece = bins.iter().map(|(p, y, _)| (p - y).abs() / n).sum();
    let brier = pairs.iter().map(|(p, y)| (p - y).powi(2)).sum::<f64>() / n;
    (ece, brier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_statements_and_truth() {
        let spec = SimulationSpec { people: 5, ..Default::default() };
        let (a, b) = (simulate(&spec), simulate(&spec));
        assert_eq!(a.statements, b.statements);
        assert_eq!(a.truth, b.truth);
        assert_eq!(a.statements.len(), 5 * spec.skills_per_person * spec.events_per_skill);
    }

    #[test]
    fn spearman_and_calibration_match_hand_computed_values() {
        assert!((spearman(&[(1.0, 10.0), (2.0, 20.0), (3.0, 30.0)]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]) + 1.0).abs() < 1e-12);
        // Bin 0.2: mean prediction 0.2, observed 0.5; bin 0.9: 0.9 and 1.0.
        let (ece, brier) = calibration(&[(0.2, 0.0), (0.2, 1.0), (0.9, 1.0), (0.9, 1.0)]);
        assert!((ece - (0.5 * 0.3 + 0.5 * 0.1)).abs() < 1e-12, "{ece}");
        assert!((brier - (0.04 + 0.64 + 0.01 + 0.01) / 4.0).abs() < 1e-12, "{brier}");
    }
}

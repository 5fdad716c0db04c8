//! Seeded staggered-adoption panels with a known effect that grows with periods since
//! training, to check that the event study's intervals cover the truth at their nominal rate.
//! Used by `examples/impact_coverage.rs` and the coverage test; not by the service.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::input::{ImpactData, ImpactSpec, KpiDirection, Observation, DAY_US};
use super::staggered::{StaggeredComparison, StaggeredSpec, PERIOD_ORIGIN_US};

/// The simulated world.
#[derive(Debug, Clone)]
pub struct Panel {
    pub cohorts: Vec<i64>,
    pub persons_per_cohort: usize,
    pub never_treated: usize,
    pub weeks: i64,
    /// True effect `periods` after training: −3 per week up to −12 by default.
    pub effect: fn(i64) -> f64,
    pub noise_sd: f64,
    /// Share of person-weeks not observed.
    pub missing: f64,
}

fn growing(event: i64) -> f64 {
    -3.0 * (event + 1).min(4) as f64
}

impl Default for Panel {
    fn default() -> Self {
        Panel {
            cohorts: vec![6, 8, 10, 13],
            persons_per_cohort: 25,
            never_treated: 60,
            weeks: 22,
            effect: growing,
            noise_sd: 6.0,
            missing: 0.1,
        }
    }
}

/// A normal draw (Box–Muller).
fn normal(rng: &mut StdRng, sd: f64) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Panel {
    /// Weekly observations (Friday 17:00) of every person for one seed: own level, a common
    /// weekly shock, the effect after training (on the cohort week's Wednesday), noise.
    pub fn draw(&self, seed: u64) -> ImpactData {
        let mut rng = StdRng::seed_from_u64(seed);
        let week = 7 * DAY_US;
        let start = PERIOD_ORIGIN_US + 2800 * week;
        let shocks: Vec<f64> = (0..self.weeks).map(|_| normal(&mut rng, 5.0)).collect();
        let mut data = ImpactData::default();
        let persons = self
            .cohorts
            .iter()
            .flat_map(|&g| (0..self.persons_per_cohort).map(move |i| (format!("c{g}-{i}"), Some(g))))
            .chain((0..self.never_treated).map(|i| (format!("n{i}"), None)));
        for (person, cohort) in persons {
            let level = 300.0 + normal(&mut rng, 30.0);
            if let Some(g) = cohort {
                data.treatment_dates_us.insert(person.clone(), start + g * week + 2 * DAY_US + 10 * 3_600_000_000);
            }
            for (w, shock) in shocks.iter().enumerate() {
                let w = w as i64;
                if rng.gen_bool(self.missing) {
                    continue;
                }
                let effect = cohort.filter(|&g| w >= g).map_or(0.0, |g| (self.effect)(w - g));
                let value = level + shock + effect + normal(&mut rng, self.noise_sd);
                let observation = Observation {
                    person: person.clone(),
                    timestamp_us: start + w * week + 4 * DAY_US + 17 * 3_600_000_000,
                    value,
                };
                match cohort {
                    Some(_) => data.treated.push(observation),
                    None => data.comparison.push(observation),
                }
            }
        }
        data
    }

    /// A spec for the panel: a staggered design over `before` placebo and `after` post weeks.
    pub fn spec(&self, comparison: StaggeredComparison, before: u32, after: u32) -> ImpactSpec {
        let mut spec = ImpactSpec::new(KpiDirection::LowerIsBetter, 28, 28);
        spec.intervention_us = Some(PERIOD_ORIGIN_US);
        spec.staggered =
            Some(StaggeredSpec { comparison, period_days: 7, periods_before: before, periods_after: after });
        spec
    }
}

/// How often each event-study point's 95% interval covered the true effect, over `seeds`.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub seeds: u64,
    /// event → (covered, estimated)
    pub by_event: BTreeMap<i64, (u64, u64)>,
    /// Seeds whose overall-effect interval covered the true average post effect.
    pub overall_covered: u64,
}

/// Runs the event study on `seeds` panels and counts covering intervals. The true overall
/// effect is the treated-weighted average of the true curve over the post cells, which with
/// equal cohorts is the plain average of the post events each cohort reaches.
pub fn coverage(panel: &Panel, comparison: StaggeredComparison, before: u32, after: u32, seeds: u64) -> Coverage {
    let spec = panel.spec(comparison, before, after);
    let mut by_event: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let mut overall_covered = 0;
    for seed in 0..seeds {
        let data = panel.draw(seed);
        let Ok(report) = super::analyze(&spec, &data) else { continue };
        let Some(study) = report.event_study else { continue };
        for point in &study.curve {
            let Some(test) = point.test else { continue };
            let truth = if point.event >= 0 { (panel.effect)(point.event) } else { 0.0 };
            let entry = by_event.entry(point.event).or_default();
            entry.1 += 1;
            entry.0 += u64::from(test.ci_low <= truth && truth <= test.ci_high);
        }
        // Truth of the overall effect: the same weights applied to the true ATT(g, t).
        let post: Vec<_> = study.cells.iter().filter(|c| c.event >= 0).collect();
        let total: f64 = post.iter().map(|c| c.treated_persons as f64).sum();
        let truth: f64 = post.iter().map(|c| c.treated_persons as f64 / total * (panel.effect)(c.event)).sum();
        if study.overall.is_some_and(|t| t.ci_low <= truth && truth <= t.ci_high) {
            overall_covered += 1;
        }
    }
    Coverage { seeds, by_event, overall_covered }
}

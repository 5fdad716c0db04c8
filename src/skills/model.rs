//! The inference model: per person and skill, a Gaussian belief N(mean, variance) over
//! ability on the logit scale; per item (activity), a Gaussian belief over difficulty.
//! A scored attempt is a logistic observation, P(success) = sigma(ability - difficulty),
//! folded in by a Laplace approximation (the posterior's mode by Newton's method, and the
//! curvature there) for both beliefs. Between observations
//! ability fades towards the population prior as an Ornstein-Uhlenbeck process with the
//! skill's half-life. docs/skills.md gives the equations. Everything here is pure and
//! deterministic: the same observations in the same order give the same bits.

use serde::{Deserialize, Serialize};

/// The population prior of ability (and difficulty): mean 0, variance 1.
pub const PRIOR_MEAN: f64 = 0.0;
pub const PRIOR_VARIANCE: f64 = 1.0;
/// Difficulty beliefs never shrink below this variance, so an item can still drift.
const MIN_ITEM_VARIANCE: f64 = 0.01;
const MICROS_PER_DAY: f64 = 86_400_000_000.0;

/// A belief about one person's ability in one skill, as of `at` (microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ability {
    pub mean: f64,
    pub variance: f64,
    pub at: i64,
    /// Observations folded in so far.
    pub evidence: u32,
}

impl Ability {
    pub fn prior(at: i64) -> Self {
        Self { mean: PRIOR_MEAN, variance: PRIOR_VARIANCE, at, evidence: 0 }
    }

    /// The belief at `now`: the distance from the prior mean shrinks by 2^(-dt/h), and the
    /// variance returns towards the prior's as the square of that factor (the OU process
    /// whose stationary law is the prior).
    pub fn decayed(&self, now: i64, half_life_days: f64) -> Ability {
        let factor = retention(now - self.at, half_life_days);
        Ability {
            mean: PRIOR_MEAN + (self.mean - PRIOR_MEAN) * factor,
            variance: PRIOR_VARIANCE + (self.variance - PRIOR_VARIANCE) * factor * factor,
            at: now.max(self.at),
            evidence: self.evidence,
        }
    }

    /// The probability of success on an item, integrating both uncertainties (the probit
    /// approximation of the logistic-normal integral).
    pub fn success_probability(&self, item: &Difficulty) -> f64 {
        let spread = (1.0 + std::f64::consts::PI * (self.variance + item.variance) / 8.0).sqrt();
        sigmoid((self.mean - item.mean) / spread)
    }

    /// The level on the 0 to 5 scale: five times the probability of succeeding on an item
    /// of average difficulty. The population average is 2.5.
    pub fn level(&self) -> f64 {
        super::framework::MAX_LEVEL * self.success_probability(&Difficulty::prior())
    }
}

/// A belief about one item's difficulty.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difficulty {
    pub mean: f64,
    pub variance: f64,
    pub observations: u32,
}

impl Difficulty {
    pub fn prior() -> Self {
        Self { mean: PRIOR_MEAN, variance: PRIOR_VARIANCE, observations: 0 }
    }
}

/// One piece of evidence: an outcome in [0, 1] (1 success, 0 failure, a share of questions
/// right in between) with a weight saying how much it counts: the verb's strength times
/// the number of trials it stands for (a quiz of 10 questions counts as 10).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    pub outcome: f64,
    pub weight: f64,
    pub at: i64,
}

/// What one observation changed: the ability before (decayed to the observation's time),
/// the probability the model gave the outcome, and the change of mean it caused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Update {
    pub before: Ability,
    pub predicted: f64,
    pub mean_change: f64,
}

/// Newton steps towards a posterior's mode: one step is the extended Kalman update; more
/// keep a heavy observation (a long quiz) from overshooting.
const NEWTON_STEPS: usize = 4;

/// The Laplace approximation of a Gaussian prior N(`mean`, `variance`) times the weighted
/// logistic likelihood of `outcome` with P(success) = sigma(`sign` x + `offset`): the mode
/// and the inverse curvature there.
/// Newton on f(x) = (x - m)^2 / 2v - w [y log p + (1 - y) log(1 - p)]:
/// f'(x) = (x - m) / v - w s (y - p), f''(x) = 1 / v + w p (1 - p).
fn laplace(mean: f64, variance: f64, weight: f64, outcome: f64, sign: f64, offset: f64) -> (f64, f64) {
    let mut x = mean;
    for _ in 0..NEWTON_STEPS {
        let p = sigmoid(sign * x + offset);
        let gradient = (x - mean) / variance - weight * sign * (outcome - p);
        let curvature = 1.0 / variance + weight * p * (1.0 - p);
        x -= gradient / curvature;
    }
    let p = sigmoid(sign * x + offset);
    (x, 1.0 / (1.0 / variance + weight * p * (1.0 - p)))
}

/// Folds `observation` into the person's ability (item difficulty held at its mean) and,
/// when `learn_item`, the item's difficulty (ability held at its prior mean), each by the
/// Laplace approximation of its posterior.
pub fn observe(
    ability: &Ability,
    item: &Difficulty,
    observation: &Observation,
    half_life_days: f64,
    learn_item: bool,
) -> (Ability, Difficulty, Update) {
    let before = ability.decayed(observation.at, half_life_days);
    let predicted = before.success_probability(item);
    let (weight, outcome) = (observation.weight, observation.outcome);
    let (mean, variance) = laplace(before.mean, before.variance, weight, outcome, 1.0, -item.mean);
    let after = Ability { mean, variance, at: observation.at.max(before.at), evidence: before.evidence + 1 };
    let item_after = if learn_item {
        let (mean, variance) = laplace(item.mean, item.variance, weight, outcome, -1.0, before.mean);
        Difficulty { mean, variance: variance.max(MIN_ITEM_VARIANCE), observations: item.observations + 1 }
    } else {
        *item
    };
    (after, item_after, Update { before, predicted, mean_change: mean - before.mean })
}

/// How much of a deviation from the prior is left after `elapsed` microseconds.
pub fn retention(elapsed: i64, half_life_days: f64) -> f64 {
    let days = elapsed.max(0) as f64 / MICROS_PER_DAY;
    (-days / half_life_days * std::f64::consts::LN_2).exp()
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn success(at: i64) -> Observation {
        Observation { outcome: 1.0, weight: 1.0, at }
    }

    #[test]
    fn a_success_raises_ability_and_lowers_the_items_difficulty_and_both_grow_surer() {
        let (ability, item, update) = observe(&Ability::prior(0), &Difficulty::prior(), &success(0), 900.0, true);

        assert!(ability.mean > 0.0 && ability.variance < PRIOR_VARIANCE);
        assert!(item.mean < 0.0 && item.variance < PRIOR_VARIANCE);
        assert!((update.predicted - 0.5).abs() < 1e-12, "a prior person on a prior item: even odds");
        assert_eq!(ability.mean, update.mean_change);
        assert_eq!(ability.evidence, 1);
    }

    #[test]
    fn one_newton_step_is_the_kalman_update_and_more_steps_find_the_mode() {
        let (x, v) = laplace(0.0, 1.0, 1.0, 1.0, 1.0, 0.0);
        // From the prior mode: p = 0.5, curvature 1.25 after; Newton's step 0.5 / 1.25.
        let one_step = 0.5 / 1.25;
        assert!((x - one_step).abs() < 0.02, "a light observation moves about as one step does: {x}");
        let (heavy, _) = laplace(0.0, 1.0, 20.0, 0.9, 1.0, 0.0);
        let gradient = heavy - 20.0 * (0.9 - sigmoid(heavy));
        assert!(gradient.abs() < 1e-6, "the mode of a heavy observation: {heavy} (gradient {gradient})");
        assert!(v < 1.0);
    }

    #[test]
    fn a_failure_lowers_ability_and_a_weightier_observation_moves_it_further() {
        let failure = Observation { outcome: 0.0, weight: 1.0, at: 0 };
        let light = Observation { weight: 0.25, ..failure };
        let (heavy, _, _) = observe(&Ability::prior(0), &Difficulty::prior(), &failure, 900.0, false);
        let (slight, _, _) = observe(&Ability::prior(0), &Difficulty::prior(), &light, 900.0, false);

        assert!(heavy.mean < slight.mean && slight.mean < 0.0);
    }

    #[test]
    fn ability_fades_to_the_prior_by_half_each_half_life() {
        let (learned, _, _) = observe(&Ability::prior(0), &Difficulty::prior(), &success(0), 100.0, false);

        let later = learned.decayed(100 * DAY, 100.0);

        assert!((later.mean - learned.mean / 2.0).abs() < 1e-12);
        let expected_variance = PRIOR_VARIANCE + (learned.variance - PRIOR_VARIANCE) / 4.0;
        assert!((later.variance - expected_variance).abs() < 1e-12);
        assert_eq!(learned.decayed(0, 100.0), learned, "no time, no decay");
    }

    #[test]
    fn the_level_is_five_times_the_chance_on_an_average_item() {
        assert!((Ability::prior(0).level() - 2.5).abs() < 1e-12);
        let strong = Ability { mean: 3.0, variance: 0.1, at: 0, evidence: 20 };
        assert!(strong.level() > 4.0 && strong.level() < 5.0);
    }
}

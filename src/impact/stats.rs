//! Descriptive statistics and t-tests for impact analysis: means, sample variances, Welch's
//! two-sample test, one-sample and paired tests, Hedges' g and the minimum detectable effect.
//! Called by `analysis` (and later by the Rhai host functions).
//!
//! Every function returns `None` rather than NaN or infinity when its inputs cannot support
//! the figure (too few values, zero variance, non-finite input), so callers never print NaN.

use serde::{Deserialize, Serialize};

pub use super::distribution::{normal_cdf, normal_quantile, student_t_cdf, student_t_quantile, student_t_two_sided_p};

/// Confidence level of every interval the impact module reports.
pub const CONFIDENCE: f64 = 0.95;
/// Two-sided significance level used for the minimum detectable effect.
pub const ALPHA: f64 = 0.05;
/// Power used for the minimum detectable effect.
pub const POWER: f64 = 0.8;

/// Arithmetic mean; `None` for an empty slice or any non-finite value.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    mean.is_finite().then_some(mean)
}

/// Sample variance (denominator n − 1); `None` below two values or for non-finite input.
pub fn sample_variance(values: &[f64]) -> Option<f64> {
    Summary::of(values).map(|s| s.variance)
}

/// Count, mean and sample variance of one sample: all that the two-sample tests need, so
/// streamed aggregates (Welford, merged partial sums) can feed them too.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample variance, denominator n − 1.
    pub variance: f64,
}

impl Summary {
    /// Summarise at least two finite values (two-pass, compensated, so large offsets such as
    /// timestamps or revenue figures do not swamp the variance).
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.len() < 2 {
            return None;
        }
        let mean = mean(values)?;
        let n = values.len() as f64;
        let (squares, residual) =
            values.iter().fold((0.0, 0.0), |(sq, sum), v| (sq + (v - mean) * (v - mean), sum + (v - mean)));
        let variance = ((squares - residual * residual / n) / (n - 1.0)).max(0.0);
        Summary::new(values.len(), mean, variance)
    }

    /// A summary from precomputed figures; `None` unless n >= 2, the mean is finite and the
    /// variance finite and non-negative.
    pub fn new(n: usize, mean: f64, variance: f64) -> Option<Summary> {
        (n >= 2 && mean.is_finite() && variance.is_finite() && variance >= 0.0).then_some(Summary { n, mean, variance })
    }

    pub fn sd(&self) -> f64 {
        self.variance.sqrt()
    }

    /// Squared standard error of the mean.
    fn variance_of_mean(&self) -> f64 {
        self.variance / self.n as f64
    }
}

/// Result of a t-test on a difference (two-sample) or a mean (one-sample / paired).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TTest {
    /// The estimate: mean(a) − mean(b), or mean − hypothesised mean.
    pub diff: f64,
    /// Standard error of `diff`.
    pub se: f64,
    /// Degrees of freedom (Welch–Satterthwaite for two samples, so usually fractional).
    pub df: f64,
    pub t: f64,
    /// Two-sided p-value for "the true difference is zero".
    pub p_value: f64,
    /// Lower end of the 95% confidence interval of `diff`.
    pub ci_low: f64,
    /// Upper end of the 95% confidence interval of `diff`.
    pub ci_high: f64,
}

impl TTest {
    /// A test from an estimate, its standard error and degrees of freedom; `None` unless all
    /// are finite and the SE and df positive.
    pub fn from_parts(diff: f64, se: f64, df: f64) -> Option<TTest> {
        if !(diff.is_finite() && se.is_finite() && se > 0.0 && df.is_finite() && df > 0.0) {
            return None;
        }
        let t = diff / se;
        let p_value = student_t_two_sided_p(t, df)?;
        let margin = student_t_quantile(0.5 + CONFIDENCE / 2.0, df)? * se;
        let test = TTest { diff, se, df, t, p_value, ci_low: diff - margin, ci_high: diff + margin };
        [test.t, test.ci_low, test.ci_high].iter().all(|v| v.is_finite()).then_some(test)
    }

    /// Whether the confidence interval contains zero (no difference detected).
    pub fn ci_contains_zero(&self) -> bool {
        self.ci_low <= 0.0 && 0.0 <= self.ci_high
    }
}

/// Welch's unequal-variance t-test of mean(a) − mean(b). Prefer it to Student's test: it does
/// not assume equal variances and loses almost nothing when they are equal.
pub fn welch(a: &[f64], b: &[f64]) -> Option<TTest> {
    welch_from_summaries(&Summary::of(a)?, &Summary::of(b)?)
}

/// Welch's test from summaries. `None` when both variances are zero (the test is undefined).
pub fn welch_from_summaries(a: &Summary, b: &Summary) -> Option<TTest> {
    let (va, vb) = (a.variance_of_mean(), b.variance_of_mean());
    let total = va + vb;
    if !(total > 0.0 && total.is_finite()) {
        return None;
    }
    // Welch–Satterthwaite, written with shares of the total so tiny variances cannot underflow.
    let (ra, rb) = (va / total, vb / total);
    let df = 1.0 / (ra * ra / (a.n - 1) as f64 + rb * rb / (b.n - 1) as f64);
    TTest::from_parts(a.mean - b.mean, total.sqrt(), df)
}

/// One-sample t-test of mean(values) − `hypothesised_mean`, df = n − 1.
pub fn one_sample_t(values: &[f64], hypothesised_mean: f64) -> Option<TTest> {
    let s = Summary::of(values)?;
    TTest::from_parts(s.mean - hypothesised_mean, s.variance_of_mean().sqrt(), (s.n - 1) as f64)
}

/// Paired t-test of after − before (one-sample test on the differences). `None` when the
/// slices differ in length.
pub fn paired_t(before: &[f64], after: &[f64]) -> Option<TTest> {
    if before.len() != after.len() {
        return None;
    }
    let differences: Vec<f64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    one_sample_t(&differences, 0.0)
}

/// Hedges' g of a − b: Cohen's d with the pooled SD, times the usual small-sample correction
/// J = 1 − 3 / (4(n₁ + n₂) − 9) (Hedges 1981's approximation to the exact gamma-function
/// factor; the two differ by less than 0.1% from n₁ + n₂ = 10).
pub fn hedges_g(a: &[f64], b: &[f64]) -> Option<f64> {
    hedges_g_from_summaries(&Summary::of(a)?, &Summary::of(b)?)
}

/// Hedges' g from summaries; `None` when the pooled SD is zero.
pub fn hedges_g_from_summaries(a: &Summary, b: &Summary) -> Option<f64> {
    let (na, nb) = (a.n as f64, b.n as f64);
    let pooled = (((na - 1.0) * a.variance + (nb - 1.0) * b.variance) / (na + nb - 2.0)).sqrt();
    if pooled.is_nan() || pooled <= 0.0 {
        return None;
    }
    let correction = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0);
    let g = (a.mean - b.mean) / pooled * correction;
    g.is_finite().then_some(g)
}

/// Standardized mean difference (a − b) / sqrt((s_a² + s_b²) / 2), the balance measure for
/// comparing groups at baseline. `None` when both variances are zero.
pub fn standardized_mean_difference(a: &Summary, b: &Summary) -> Option<f64> {
    let scale = ((a.variance + b.variance) / 2.0).sqrt();
    let smd = (a.mean - b.mean) / scale;
    (scale > 0.0 && smd.is_finite()).then_some(smd)
}

/// Minimum detectable effect at [`ALPHA`] (two-sided) and [`POWER`]: the smallest true
/// difference that a study of these sizes and variances detects 80% of the time.
pub fn minimum_detectable_effect(a: &Summary, b: &Summary) -> Option<f64> {
    minimum_detectable_effect_at(a, b, ALPHA, POWER)
}

/// Minimum detectable effect, normal approximation:
/// (z_{1−α/2} + z_{power}) · sqrt(s₁²/n₁ + s₂²/n₂). `None` for zero variances or invalid α/power.
pub fn minimum_detectable_effect_at(a: &Summary, b: &Summary, alpha: f64, power: f64) -> Option<f64> {
    let se = (a.variance_of_mean() + b.variance_of_mean()).sqrt();
    let z_sum = normal_quantile(1.0 - alpha / 2.0)? + normal_quantile(power)?;
    let mde = z_sum * se;
    (se > 0.0 && mde.is_finite()).then_some(mde)
}

/// Persons needed per group to detect a standardized effect δ/σ at [`ALPHA`] and [`POWER`]:
/// n = 2 (z_{1−α/2} + z_{power})² / (δ/σ)², rounded up. `None` for a zero or non-finite effect.
pub fn sample_size_per_group(standardized_effect: f64) -> Option<u64> {
    let effect = standardized_effect.abs();
    if !(effect > 0.0 && effect.is_finite()) {
        return None;
    }
    let z_sum = normal_quantile(1.0 - ALPHA / 2.0)? + normal_quantile(POWER)?;
    let n = (2.0 * z_sum * z_sum / (effect * effect)).ceil();
    (n.is_finite() && n < u64::MAX as f64).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64, what: &str) {
        assert!((actual - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{what}: {actual} vs {expected}");
    }

    #[test]
    fn mean_and_variance_of_a_small_sample() {
        let values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_close(mean(&values).unwrap(), 5.0, "mean");
        assert_close(sample_variance(&values).unwrap(), 32.0 / 7.0, "variance");
    }

    #[test]
    fn variance_survives_a_large_offset() {
        let values = [1e12 + 1.0, 1e12 + 2.0, 1e12 + 3.0];
        assert_close(sample_variance(&values).unwrap(), 1.0, "variance");
    }

    #[test]
    fn degenerate_samples_give_none() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[1.0, f64::NAN]), None);
        assert_eq!(mean(&[f64::MAX, f64::MAX]), None, "overflowing sum");
        assert_eq!(sample_variance(&[1.0]), None);
        assert_eq!(welch(&[1.0], &[2.0, 3.0]), None, "one value in a group");
        assert_eq!(welch(&[1.0, 1.0], &[2.0, 2.0]), None, "zero variance in both groups");
        assert_eq!(hedges_g(&[1.0, 1.0], &[2.0, 2.0]), None);
        assert_eq!(paired_t(&[1.0, 2.0], &[1.0]), None);
        assert_eq!(Summary::new(2, 0.0, -1.0), None);
        assert_eq!(sample_size_per_group(0.0), None);
    }

    #[test]
    fn welch_matches_a_hand_computed_example() {
        // a: mean 3, variance 2.5 (n 5); b: mean 6, variance 10 (n 5).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 4.0, 6.0, 8.0, 10.0];
        let test = welch(&a, &b).unwrap();
        assert_close(test.diff, -3.0, "diff");
        assert_close(test.se, 2.5f64.sqrt(), "se");
        // (0.5 + 2)² / (0.5²/4 + 2²/4) = 6.25 / 1.0625
        assert_close(test.df, 6.25 / 1.0625, "df");
        assert_close(test.t, -3.0 / 2.5f64.sqrt(), "t");
        assert!(test.ci_contains_zero());
        assert!(test.p_value > 0.05 && test.p_value < 0.2, "p {}", test.p_value);
    }

    #[test]
    fn welch_with_one_constant_group_uses_the_other_groups_df() {
        let test = welch(&[1.0, 2.0, 3.0, 4.0], &[5.0, 5.0, 5.0]).unwrap();
        assert_close(test.df, 3.0, "df");
    }

    #[test]
    fn paired_test_is_a_one_sample_test_on_differences() {
        let before = [10.0, 12.0, 9.0, 11.0];
        let after = [12.0, 13.0, 12.0, 12.0];
        let paired = paired_t(&before, &after).unwrap();
        let direct = one_sample_t(&[2.0, 1.0, 3.0, 1.0], 0.0).unwrap();
        assert_eq!(paired, direct);
        assert_close(paired.df, 3.0, "df");
    }

    #[test]
    fn hedges_g_applies_the_small_sample_correction() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 4.0, 6.0, 8.0, 10.0];
        // pooled SD = sqrt((4·2.5 + 4·10)/8) = sqrt(6.25) = 2.5; d = −3/2.5; J = 1 − 3/31.
        assert_close(hedges_g(&a, &b).unwrap(), -1.2 * (1.0 - 3.0 / 31.0), "g");
    }

    #[test]
    fn mde_is_about_2_8_standard_errors() {
        let a = Summary::new(50, 0.0, 4.0).unwrap();
        let b = Summary::new(50, 0.0, 4.0).unwrap();
        let se = (8.0f64 / 50.0).sqrt();
        assert_close(minimum_detectable_effect(&a, &b).unwrap(), 2.801_585_218_113_968_6 * se, "mde");
        assert_eq!(minimum_detectable_effect_at(&a, &b, 0.0, 0.8), None);
    }

    #[test]
    fn sample_size_matches_the_rule_of_sixteen() {
        // 2 · 2.8016² / 0.5² = 62.8 → 63 per group; δ/σ = 0.3 → 175.
        assert_eq!(sample_size_per_group(0.5), Some(63));
        assert_eq!(sample_size_per_group(-0.3), Some(175));
    }
}

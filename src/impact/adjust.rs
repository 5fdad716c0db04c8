//! Variance reduction by regression adjustment on the pre-period KPI (ANCOVA, the regression
//! form of CUPED): post_i = α + τ·treated_i + β·pre_i + ε_i, fitted by OLS with
//! cluster-robust standard errors (one cluster per person). τ estimates the same effect as the
//! difference in differences when the groups are comparable, with a narrower interval when the
//! pre and post KPI are correlated. Called by `analysis`; checked against statsmodels.

use serde::{Deserialize, Serialize};

use super::ols::fit_clustered;
use super::stats::TTest;

/// The adjusted effect, reported beside the unadjusted difference in differences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdjustedEffect {
    /// τ: the treated − comparison difference in post means at equal pre means, with its
    /// cluster-robust SE, df = persons − 1, p and 95% CI.
    pub test: TTest,
    /// β: how much of a person's pre level carries into their post level.
    pub pre_slope: f64,
    /// Width of the 95% CI of τ.
    pub interval_width: f64,
    /// Width of the unadjusted difference-in-differences 95% CI.
    pub unadjusted_interval_width: Option<f64>,
    /// 1 − adjusted width / unadjusted width: the share of the interval the adjustment saved
    /// (negative when it widened it).
    pub interval_width_saved: Option<f64>,
}

/// ANCOVA over (pre, post) per-person means of both groups; `unadjusted` is the DiD test to
/// compare interval widths with. `None` when the regression is not defined (too few persons,
/// no variation in the pre means).
pub fn ancova(treated: &[(f64, f64)], comparison: &[(f64, f64)], unadjusted: Option<&TTest>) -> Option<AdjustedEffect> {
    let rows = || treated.iter().map(|p| (1.0, p)).chain(comparison.iter().map(|p| (0.0, p)));
    let x: Vec<Vec<f64>> = rows().map(|(t, &(pre, _))| vec![1.0, t, pre]).collect();
    let y: Vec<f64> = rows().map(|(_, &(_, post))| post).collect();
    let clusters: Vec<u64> = (0..y.len() as u64).collect();
    let fit = fit_clustered(&x, &y, &clusters)?;
    let test = fit.test(1)?;
    let interval_width = test.ci_high - test.ci_low;
    let unadjusted_interval_width = unadjusted.map(|t| t.ci_high - t.ci_low);
    Some(AdjustedEffect {
        test,
        pre_slope: fit.coefficients[2],
        interval_width,
        unadjusted_interval_width,
        interval_width_saved: unadjusted_interval_width.filter(|w| *w > 0.0).map(|w| 1.0 - interval_width / w),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::stats::welch;

    #[test]
    fn correlated_pre_and_post_give_a_narrower_interval_than_the_change_scores() {
        // Post = 0.5 · pre + effect + noise: change scores keep half the pre spread, ANCOVA none.
        let noise = [0.3, -0.2, 0.1, -0.4, 0.25, -0.05, 0.15, -0.1];
        let person = |i: usize, effect: f64| {
            let pre = 100.0 + 10.0 * (i as f64 - 3.5);
            (pre, 0.5 * pre + 50.0 + effect + noise[i])
        };
        let treated: Vec<(f64, f64)> = (0..8).map(|i| person(i, -5.0)).collect();
        let comparison: Vec<(f64, f64)> = (0..8).map(|i| person(7 - i, 0.0)).collect();
        let change = |g: &[(f64, f64)]| g.iter().map(|(pre, post)| post - pre).collect::<Vec<_>>();
        let did = welch(&change(&treated), &change(&comparison)).unwrap();

        let adjusted = ancova(&treated, &comparison, Some(&did)).unwrap();

        assert!((adjusted.test.diff + 5.0).abs() < 0.5, "{adjusted:?}");
        assert!((adjusted.pre_slope - 0.5).abs() < 0.01);
        assert!(adjusted.interval_width_saved.unwrap() > 0.5, "{adjusted:?}");
        assert_eq!(adjusted.test.df, 15.0, "persons − 1");
    }

    #[test]
    fn constant_pre_means_cannot_be_adjusted_for() {
        let treated = [(1.0, 2.0), (1.0, 3.0)];
        let comparison = [(1.0, 1.0), (1.0, 1.5)];
        assert_eq!(ancova(&treated, &comparison, None), None);
    }
}

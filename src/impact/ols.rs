//! Ordinary least squares with cluster-robust (CR1) standard errors, for the regressions of
//! impact analysis (ANCOVA, dose-response). Small dense problems only: a handful of
//! regressors. The covariance and the t inference follow statsmodels' `cov_type="cluster"`
//! with `use_t=True`, so `tests/impact_reference.rs` can check them against it:
//!
//! V = G/(G−1) · (N−1)/(N−K) · (X'X)⁻¹ [Σ_g (X_g'u_g)(X_g'u_g)'] (X'X)⁻¹, df = G − 1.

use std::collections::BTreeMap;

use super::stats::TTest;

/// A fitted regression: coefficients and their cluster-robust covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub coefficients: Vec<f64>,
    pub covariance: Vec<Vec<f64>>,
    /// Distinct clusters (persons): the t inference uses G − 1 degrees of freedom.
    pub clusters: usize,
    pub rows: usize,
}

impl Fit {
    /// The t-test of coefficient `index` against zero.
    pub fn test(&self, index: usize) -> Option<TTest> {
        let variance = *self.covariance.get(index)?.get(index)?;
        TTest::from_parts(self.coefficients[index], variance.max(0.0).sqrt(), self.clusters as f64 - 1.0)
    }
}

/// Fits y = Xβ + u by least squares with CR1 covariance over `clusters` (one id per row).
/// `None` when the rows are fewer than the regressors plus one, the design is singular, there
/// are fewer than two clusters, or anything is not finite.
pub fn fit_clustered(x: &[Vec<f64>], y: &[f64], clusters: &[u64]) -> Option<Fit> {
    let (n, k) = (y.len(), x.first()?.len());
    if x.len() != n || clusters.len() != n || n <= k || x.iter().any(|row| row.len() != k) {
        return None;
    }
    if !x.iter().flatten().chain(y).all(|v| v.is_finite()) {
        return None;
    }
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    for (row, &target) in x.iter().zip(y) {
        for i in 0..k {
            xty[i] += row[i] * target;
            for j in 0..k {
                xtx[i][j] += row[i] * row[j];
            }
        }
    }
    let bread = invert(xtx)?;
    let coefficients: Vec<f64> = (0..k).map(|i| (0..k).map(|j| bread[i][j] * xty[j]).sum()).collect();
    let mut scores: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for ((row, &target), &cluster) in x.iter().zip(y).zip(clusters) {
        let residual = target - row.iter().zip(&coefficients).map(|(a, b)| a * b).sum::<f64>();
        let score = scores.entry(cluster).or_insert_with(|| vec![0.0; k]);
        for (s, value) in score.iter_mut().zip(row) {
            *s += value * residual;
        }
    }
    let groups = scores.len();
    if groups < 2 {
        return None;
    }
    let mut meat = vec![vec![0.0; k]; k];
    for score in scores.values() {
        for i in 0..k {
            for j in 0..k {
                meat[i][j] += score[i] * score[j];
            }
        }
    }
    let correction = cr1_correction(groups, n, k);
    let half = multiply(&bread, &meat);
    let covariance =
        multiply(&half, &bread).into_iter().map(|row| row.into_iter().map(|v| v * correction).collect()).collect();
    let fit = Fit { coefficients, covariance, clusters: groups, rows: n };
    fit.coefficients.iter().all(|c| c.is_finite()).then_some(fit)
}

/// statsmodels' small-sample factor for cluster-robust covariance: G/(G−1) · (N−1)/(N−K).
pub(crate) fn cr1_correction(groups: usize, rows: usize, regressors: usize) -> f64 {
    let (g, n, k) = (groups as f64, rows as f64, regressors as f64);
    g / (g - 1.0) * (n - 1.0) / (n - k)
}

fn multiply(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let k = b.first().map_or(0, Vec::len);
    a.iter().map(|row| (0..k).map(|j| row.iter().zip(b).map(|(x, col)| x * col[j]).sum()).collect()).collect()
}

/// Gauss-Jordan inverse with partial pivoting; `None` for a (numerically) singular matrix.
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let k = a.len();
    let scale = a.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut inverse: Vec<Vec<f64>> = (0..k).map(|i| (0..k).map(|j| f64::from(u8::from(i == j))).collect()).collect();
    for column in 0..k {
        let pivot = (column..k).max_by(|&i, &j| a[i][column].abs().total_cmp(&a[j][column].abs()))?;
        let magnitude = a[pivot][column].abs();
        if magnitude.is_nan() || magnitude <= scale * 1e-12 {
            return None;
        }
        a.swap(column, pivot);
        inverse.swap(column, pivot);
        let divisor = a[column][column];
        for j in 0..k {
            a[column][j] /= divisor;
            inverse[column][j] /= divisor;
        }
        for i in (0..k).filter(|&i| i != column) {
            let factor = a[i][column];
            if factor != 0.0 {
                for j in 0..k {
                    a[i][j] -= factor * a[column][j];
                    inverse[i][j] -= factor * inverse[column][j];
                }
            }
        }
    }
    Some(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_through_exact_points_has_its_slope_and_no_error() {
        let x: Vec<Vec<f64>> = (0..5).map(|i| vec![1.0, f64::from(i)]).collect();
        let y: Vec<f64> = (0..5).map(|i| 2.0 + 3.0 * f64::from(i)).collect();
        let fit = fit_clustered(&x, &y, &[1, 2, 3, 4, 5]).unwrap();
        assert!((fit.coefficients[0] - 2.0).abs() < 1e-12 && (fit.coefficients[1] - 3.0).abs() < 1e-12);
        assert!(fit.covariance[1][1].abs() < 1e-20);
        assert_eq!(fit.test(1), None, "zero standard error gives no test");
    }

    #[test]
    fn a_dummy_regression_gives_the_difference_of_means_with_robust_se() {
        // Two groups of three; robust variance of the difference = Σ u²/n² per group × CR1.
        let x: Vec<Vec<f64>> = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0].iter().map(|&t| vec![1.0, t]).collect();
        let y = [1.0, 2.0, 3.0, 5.0, 7.0, 9.0];
        let fit = fit_clustered(&x, &y, &[1, 2, 3, 4, 5, 6]).unwrap();
        assert!((fit.coefficients[1] - 5.0).abs() < 1e-12);
        let raw = 2.0 / 9.0 + 8.0 / 9.0;
        let expected = raw * cr1_correction(6, 6, 2);
        assert!((fit.covariance[1][1] - expected).abs() < 1e-12, "{:?}", fit.covariance);
        assert_eq!(fit.test(1).unwrap().df, 5.0);
    }

    #[test]
    fn singular_or_degenerate_designs_give_none() {
        let collinear: Vec<Vec<f64>> = (0..4).map(|i| vec![1.0, f64::from(i), 2.0 * f64::from(i)]).collect();
        assert_eq!(fit_clustered(&collinear, &[1.0, 2.0, 3.0, 5.0], &[1, 2, 3, 4]), None);
        let x: Vec<Vec<f64>> = (0..4).map(|i| vec![1.0, f64::from(i)]).collect();
        assert_eq!(fit_clustered(&x, &[1.0, 2.0, 3.0, 5.0], &[1, 1, 1, 1]), None, "one cluster");
        assert_eq!(fit_clustered(&x, &[1.0, f64::NAN, 3.0, 5.0], &[1, 2, 3, 4]), None);
        assert_eq!(fit_clustered(&x[..2], &[1.0, 2.0], &[1, 2]), None, "no residual df");
    }
}

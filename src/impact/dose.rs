//! Dose-response: the effect by how much of the intervention a person got (modules completed,
//! nudges acted on). Each dose level's treated persons are compared with the whole comparison
//! group (difference in differences, Welch), and a line through the treated persons' changes
//! gives the effect of one more unit (OLS, cluster-robust by person). Called by `analysis`.

use serde::{Deserialize, Serialize};

use super::ols::fit_clustered;
use super::stats::{self, TTest};

/// Default top dose level: doses at or above it are pooled ("3 or more").
pub const DEFAULT_DOSE_LEVELS: u32 = 3;

/// One dose level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoseLevel {
    pub dose: u32,
    /// The top level pools every larger dose.
    pub or_more: bool,
    pub persons: usize,
    /// Mean change of this level's persons − mean change of the comparison group.
    pub test: Option<TTest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoseResponse {
    pub levels: Vec<DoseLevel>,
    /// Change per unit of dose among the treated (slope of change on dose), with its
    /// cluster-robust SE and df = persons − 1.
    pub per_unit: Option<TTest>,
}

/// Dose-response from the treated persons' (dose, change) pairs and the comparison changes.
/// Levels run from 1 to `top`; a level 0 (treated, but e.g. acted on no nudge) comes first
/// when some treated person has dose 0.
pub fn dose_response(treated: &[(u32, f64)], comparison: &[f64], top: u32) -> DoseResponse {
    let top = top.max(1);
    let first = if treated.iter().any(|(d, _)| *d == 0) { 0 } else { 1 };
    let levels = (first..=top)
        .map(|dose| {
            let changes: Vec<f64> = treated
                .iter()
                .filter(|(d, _)| if dose == top { *d >= top } else { *d == dose })
                .map(|(_, change)| *change)
                .collect();
            DoseLevel { dose, or_more: dose == top, persons: changes.len(), test: stats::welch(&changes, comparison) }
        })
        .collect();
    let x: Vec<Vec<f64>> = treated.iter().map(|(d, _)| vec![1.0, f64::from(*d)]).collect();
    let y: Vec<f64> = treated.iter().map(|(_, change)| *change).collect();
    let clusters: Vec<u64> = (0..y.len() as u64).collect();
    let per_unit = fit_clustered(&x, &y, &clusters).and_then(|fit| fit.test(1));
    DoseResponse { levels, per_unit }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_module_adds_its_share_and_the_top_level_pools_larger_doses() {
        let wobble = [0.2, -0.1, 0.05, -0.15];
        let treated: Vec<(u32, f64)> =
            (0..20).map(|i| ((i % 5) as u32 + 1, -2.0 * f64::from((i % 5) as u32 + 1) + wobble[i % 4])).collect();
        let comparison: Vec<f64> = (0..10).map(|i| wobble[i % 4]).collect();

        let response = dose_response(&treated, &comparison, 3);

        assert_eq!(response.levels.iter().map(|l| l.persons).collect::<Vec<_>>(), [4, 4, 12]);
        assert!(response.levels[2].or_more && !response.levels[0].or_more);
        let one = response.levels[0].test.unwrap();
        assert!((one.diff + 2.0).abs() < 0.3, "{one:?}");
        let slope = response.per_unit.unwrap();
        assert!((slope.diff + 2.0).abs() < 0.1, "{slope:?}");
        assert!(slope.ci_high < 0.0);
    }

    #[test]
    fn persons_without_any_dose_get_their_own_level() {
        let treated = [(0, 0.1), (0, -0.1), (0, 0.0), (2, -4.0), (2, -4.2), (1, -2.1), (1, -1.9)];
        let response = dose_response(&treated, &[0.1, -0.1, 0.05], 2);
        let levels: Vec<(u32, usize)> = response.levels.iter().map(|l| (l.dose, l.persons)).collect();
        assert_eq!(levels, [(0, 3), (1, 2), (2, 2)]);
        assert!((response.per_unit.unwrap().diff + 2.0).abs() < 0.2);
    }

    #[test]
    fn one_dose_for_everyone_has_no_slope() {
        let treated = [(1, 1.0), (1, 2.0), (1, 3.0)];
        assert_eq!(dose_response(&treated, &[0.0, 1.0], 3).per_unit, None);
    }
}

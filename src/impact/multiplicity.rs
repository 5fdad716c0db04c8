//! Many comparisons: Holm's step-down adjustment (controls the chance of any false finding)
//! and Benjamini–Hochberg q-values (control the expected share of false findings) over a
//! family of p-values, e.g. every KPI of one analysis. Called by the service when an analysis
//! looks at several KPIs; checked against statsmodels' `multipletests`.

use serde::{Deserialize, Serialize};

use super::stats::ALPHA;

/// Holm-adjusted p-values, in the order given: p_(i) · (m − i + 1) on the ascending order,
/// made monotone and capped at 1. Non-finite p-values are treated as 1.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let order = ascending(p_values);
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &index) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * clean(p_values[index])).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

/// Benjamini–Hochberg q-values, in the order given: min over j ≥ i of m · p_(j) / j on the
/// ascending order, capped at 1.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let order = ascending(p_values);
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 1.0;
    for (rank, &index) in order.iter().enumerate().rev() {
        running = running.min((m as f64 * clean(p_values[index]) / (rank + 1) as f64).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

fn clean(p: f64) -> f64 {
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

fn ascending(p_values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| clean(p_values[a]).total_cmp(&clean(p_values[b])).then(a.cmp(&b)));
    order
}

/// One hypothesis of a family, with its raw and adjusted p-values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    /// What was tested, e.g. "Customer satisfaction (guardrail)".
    pub label: String,
    pub p_value: f64,
    pub holm_p_value: f64,
    pub bh_q_value: f64,
    /// Holm-adjusted p < α: a finding even allowing for the whole family.
    pub survives_holm: bool,
    /// BH q < α: a finding at a 5% false discovery rate.
    pub survives_bh: bool,
}

/// A family of tests adjusted together at [`ALPHA`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Multiplicity {
    pub alpha: f64,
    pub findings: Vec<Finding>,
}

impl Multiplicity {
    /// Adjusts the (label, p) pairs given as one family.
    pub fn of(tests: Vec<(String, f64)>) -> Multiplicity {
        let p: Vec<f64> = tests.iter().map(|(_, p)| *p).collect();
        let (holm, bh) = (holm(&p), benjamini_hochberg(&p));
        let findings = tests
            .into_iter()
            .zip(holm.into_iter().zip(bh))
            .map(|((label, p_value), (holm_p_value, bh_q_value))| Finding {
                label,
                p_value,
                holm_p_value,
                bh_q_value,
                survives_holm: holm_p_value < ALPHA,
                survives_bh: bh_q_value < ALPHA,
            })
            .collect();
        Multiplicity { alpha: ALPHA, findings }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_multiplies_by_the_remaining_count_and_stays_monotone() {
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.5]);
        // ascending 0.01·4, 0.03·3, 0.04·2 → max(0.09, 0.08), 0.5·1 → max(0.5, 0.09)
        let expected = [0.04, 0.09, 0.09, 0.5];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
    }

    #[test]
    fn bh_takes_the_running_minimum_from_the_top() {
        let adjusted = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5]);
        // ascending: 0.01·4/1 = 0.04, 0.03·4/2 = 0.06, 0.04·4/3 = 0.0533, 0.5·4/4 = 0.5
        let expected = [0.04, 0.16 / 3.0, 0.16 / 3.0, 0.5];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
    }

    #[test]
    fn a_family_says_which_findings_survive() {
        let family = Multiplicity::of(vec![("a".into(), 0.001), ("b".into(), 0.02), ("c".into(), f64::NAN)]);
        let survive: Vec<(bool, bool)> = family.findings.iter().map(|f| (f.survives_holm, f.survives_bh)).collect();
        assert_eq!(survive, [(true, true), (true, true), (false, false)]);
        assert!(holm(&[]).is_empty() && benjamini_hochberg(&[]).is_empty());
    }
}

//! Guardrail KPIs: a KPI that must not get worse while the primary one improves (customer
//! satisfaction while handling time falls). A guardrail *held* only when a one-sided
//! non-inferiority test shows that it did not worsen by more than its margin; it is *harmed*
//! when a one-sided test shows that it worsened and non-inferiority is not shown. Called by
//! the service for each guardrail of an analysis; checked against SciPy.

use serde::{Deserialize, Serialize};

use super::input::KpiDirection;
use super::stats::{student_t_cdf, student_t_quantile, TTest, ALPHA};

/// What the one-sided tests say about a guardrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailStatus {
    /// Worsening by the margin or more is rejected at α = 0.05 (one-sided).
    Held,
    /// It worsened (one-sided p < 0.05) and non-inferiority is not shown.
    Harmed,
    /// Neither: the interval is too wide to tell.
    Inconclusive,
    /// No test: too few persons or no variation.
    InsufficientData,
}

impl GuardrailStatus {
    pub fn label(self) -> &'static str {
        match self {
            GuardrailStatus::Held => "held",
            GuardrailStatus::Harmed => "harmed",
            GuardrailStatus::Inconclusive => "not shown to hold",
            GuardrailStatus::InsufficientData => "insufficient data",
        }
    }
}

/// The non-inferiority test of one guardrail. "Worsening" is the effect turned so that
/// positive is worse (−effect for a higher-is-better KPI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NonInferiority {
    pub status: GuardrailStatus,
    /// Largest worsening the guardrail may show and still hold, in KPI units (> 0).
    pub margin: f64,
    /// Estimated worsening (negative: it improved).
    pub worsening: Option<f64>,
    /// One-sided 95% upper bound of the worsening: it held iff this is below the margin.
    pub worsening_upper_bound: Option<f64>,
    /// t statistic of (worsening − margin) / SE.
    pub t: Option<f64>,
    /// One-sided p-value of H₀ "worsened by the margin or more".
    pub p_value: Option<f64>,
    /// One-sided p-value of H₀ "did not worsen" (small: it worsened).
    pub worsened_p_value: Option<f64>,
}

/// Tests a guardrail's effect (`test`: the estimate as measured, with its SE and df) against
/// its margin. `None` test → insufficient data.
pub fn non_inferiority(test: Option<&TTest>, direction: KpiDirection, margin: f64) -> NonInferiority {
    let empty = NonInferiority {
        status: GuardrailStatus::InsufficientData,
        margin,
        worsening: None,
        worsening_upper_bound: None,
        t: None,
        p_value: None,
        worsened_p_value: None,
    };
    let Some(test) = test else { return empty };
    let worsening = -direction.sign() * test.diff;
    let t = (worsening - margin) / test.se;
    let (Some(p_value), Some(not_worse), Some(quantile)) = (
        student_t_cdf(t, test.df),
        student_t_cdf(-worsening / test.se, test.df),
        student_t_quantile(1.0 - ALPHA, test.df),
    ) else {
        return empty;
    };
    let status = if p_value < ALPHA {
        GuardrailStatus::Held
    } else if not_worse < ALPHA {
        GuardrailStatus::Harmed
    } else {
        GuardrailStatus::Inconclusive
    };
    NonInferiority {
        status,
        margin,
        worsening: Some(worsening),
        worsening_upper_bound: Some(worsening + quantile * test.se),
        t: Some(t),
        p_value: Some(p_value),
        worsened_p_value: Some(not_worse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(diff: f64, se: f64) -> TTest {
        TTest::from_parts(diff, se, 60.0).unwrap()
    }

    #[test]
    fn a_small_drop_well_inside_the_margin_holds() {
        let result = non_inferiority(Some(&test(-0.3, 0.4)), KpiDirection::HigherIsBetter, 2.0);
        assert_eq!(result.status, GuardrailStatus::Held);
        assert!((result.worsening.unwrap() - 0.3).abs() < 1e-12);
        assert!(result.worsening_upper_bound.unwrap() < 2.0);
    }

    #[test]
    fn a_clear_drop_beyond_the_margin_is_harmed_and_a_wide_interval_is_inconclusive() {
        let harmed = non_inferiority(Some(&test(-3.0, 0.5)), KpiDirection::HigherIsBetter, 2.0);
        assert_eq!(harmed.status, GuardrailStatus::Harmed);
        let wide = non_inferiority(Some(&test(0.0, 3.0)), KpiDirection::HigherIsBetter, 2.0);
        assert_eq!(wide.status, GuardrailStatus::Inconclusive);
    }

    #[test]
    fn the_direction_turns_the_sign() {
        // Handle time up by 5 s is a worsening of 5.
        let result = non_inferiority(Some(&test(5.0, 1.0)), KpiDirection::LowerIsBetter, 2.0);
        assert_eq!(result.status, GuardrailStatus::Harmed);
        assert!((result.worsening.unwrap() - 5.0).abs() < 1e-12);
        assert_eq!(non_inferiority(None, KpiDirection::LowerIsBetter, 2.0).status, GuardrailStatus::InsufficientData);
    }
}

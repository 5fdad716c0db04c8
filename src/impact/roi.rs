//! Phillips ROI: turn a measured effect into money and compare it with the programme's costs
//! (benefit-cost ratio, ROI %, payback period). Pure arithmetic, called by the API and the Rhai
//! host functions; the effect should be the isolated one (the DiD estimate), not a raw pre/post
//! change.

use serde::{Deserialize, Serialize};

use super::input::{ImpactError, KpiDirection};

/// Monetary benefit = effect × direction sign × value per unit × persons × periods. The effect is
/// in KPI units per person per period, as measured (e.g. −12 seconds of handle time); the
/// direction turns it into a gain, so a drop in a lower-is-better KPI is a positive benefit.
pub fn monetary_benefit(
    effect_per_person_per_period: f64,
    direction: KpiDirection,
    value_per_unit: f64,
    persons: u64,
    periods: f64,
) -> f64 {
    effect_per_person_per_period * direction.sign() * value_per_unit * persons as f64 * periods
}

/// Benefit-cost ratio; `None` unless costs are positive.
pub fn benefit_cost_ratio(benefits: f64, costs: f64) -> Option<f64> {
    finite_if(costs > 0.0, benefits / costs)
}

/// ROI % = (benefits − costs) / costs × 100; `None` unless costs are positive.
pub fn roi_percent(benefits: f64, costs: f64) -> Option<f64> {
    finite_if(costs > 0.0, (benefits - costs) / costs * 100.0)
}

/// Months until the benefits repay the costs; `None` when nothing is gained each month.
pub fn payback_months(costs: f64, monthly_benefit: f64) -> Option<f64> {
    finite_if(monthly_benefit > 0.0 && costs >= 0.0, costs / monthly_benefit)
}

fn finite_if(condition: bool, value: f64) -> Option<f64> {
    (condition && value.is_finite()).then_some(value)
}

/// The inputs of an ROI calculation. Every monetary assumption is explicit here so it can be
/// stated next to the result and varied in a sensitivity analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoiInput {
    /// Effect in KPI units per person per period, with its measured sign.
    pub effect_per_person_per_period: f64,
    pub direction: KpiDirection,
    /// Money value of one KPI unit of improvement.
    pub value_per_unit: f64,
    /// Number of persons treated.
    pub persons: u64,
    /// Number of periods the benefit is counted for.
    pub periods: f64,
    /// Length of one period in months (1 for monthly, 12/52 for weekly), for the payback period.
    #[serde(default = "one_month")]
    pub months_per_period: f64,
    /// Fully loaded programme costs.
    pub costs: f64,
}

fn one_month() -> f64 {
    1.0
}

/// ROI figures, in the currency of the inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoiReport {
    pub benefits: f64,
    pub costs: f64,
    pub net_benefits: f64,
    pub benefit_cost_ratio: Option<f64>,
    pub roi_percent: Option<f64>,
    pub monthly_benefit: Option<f64>,
    /// Months until cumulative benefits equal the costs; `None` if they never do.
    pub payback_months: Option<f64>,
}

/// Compute the Phillips figures, rejecting inputs that would make them meaningless.
pub fn roi(input: &RoiInput) -> Result<RoiReport, ImpactError> {
    let finite = |field: &'static str, value: f64| {
        if value.is_finite() {
            Ok(())
        } else {
            Err(ImpactError::invalid(field, format!("must be a finite number (got {value})")))
        }
    };
    finite("effect_per_person_per_period", input.effect_per_person_per_period)?;
    finite("value_per_unit", input.value_per_unit)?;
    finite("periods", input.periods)?;
    finite("months_per_period", input.months_per_period)?;
    finite("costs", input.costs)?;
    if input.periods < 0.0 {
        return Err(ImpactError::invalid("periods", format!("must not be negative (got {})", input.periods)));
    }
    if input.months_per_period <= 0.0 {
        return Err(ImpactError::invalid(
            "months_per_period",
            format!("must be positive (got {})", input.months_per_period),
        ));
    }
    if input.costs <= 0.0 {
        return Err(ImpactError::invalid("costs", format!("must be positive (got {})", input.costs)));
    }
    let benefits = monetary_benefit(
        input.effect_per_person_per_period,
        input.direction,
        input.value_per_unit,
        input.persons,
        input.periods,
    );
    if !benefits.is_finite() {
        return Err(ImpactError::invalid("value_per_unit", "the benefits overflow".into()));
    }
    let months = input.periods * input.months_per_period;
    let monthly_benefit = finite_if(months > 0.0, benefits / months);
    Ok(RoiReport {
        benefits,
        costs: input.costs,
        net_benefits: benefits - input.costs,
        benefit_cost_ratio: benefit_cost_ratio(benefits, input.costs),
        roi_percent: roi_percent(benefits, input.costs),
        monthly_benefit,
        payback_months: monthly_benefit.and_then(|monthly| payback_months(input.costs, monthly)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle_time_programme() -> RoiInput {
        // 600 s less handle time per agent per month, each second worth 0.01, 40 agents,
        // 12 months, 2 000 of costs.
        RoiInput {
            effect_per_person_per_period: -600.0,
            direction: KpiDirection::LowerIsBetter,
            value_per_unit: 0.01,
            persons: 40,
            periods: 12.0,
            months_per_period: 1.0,
            costs: 2_000.0,
        }
    }

    #[test]
    fn a_drop_in_a_lower_is_better_kpi_is_a_benefit() {
        let report = roi(&handle_time_programme()).unwrap();
        assert!((report.benefits - 2_880.0).abs() < 1e-9);
        assert!((report.benefit_cost_ratio.unwrap() - 1.44).abs() < 1e-12);
        assert!((report.roi_percent.unwrap() - 44.0).abs() < 1e-9);
        assert!((report.monthly_benefit.unwrap() - 240.0).abs() < 1e-9);
        assert!((report.payback_months.unwrap() - 2_000.0 / 240.0).abs() < 1e-9);
    }

    #[test]
    fn a_harmful_effect_never_pays_back() {
        let input = RoiInput { effect_per_person_per_period: 600.0, ..handle_time_programme() };
        let report = roi(&input).unwrap();
        assert!(report.benefits < 0.0);
        assert!(report.roi_percent.unwrap() < -100.0);
        assert_eq!(report.payback_months, None);
    }

    #[test]
    fn invalid_inputs_name_their_field() {
        let cases = [
            ("costs", RoiInput { costs: 0.0, ..handle_time_programme() }),
            ("periods", RoiInput { periods: -1.0, ..handle_time_programme() }),
            ("months_per_period", RoiInput { months_per_period: 0.0, ..handle_time_programme() }),
            ("value_per_unit", RoiInput { value_per_unit: f64::NAN, ..handle_time_programme() }),
            ("value_per_unit", RoiInput { value_per_unit: f64::MAX, persons: u64::MAX, ..handle_time_programme() }),
        ];
        for (field, input) in cases {
            match roi(&input) {
                Err(ImpactError::Invalid { field: named, .. }) => assert_eq!(named, field),
                Ok(report) => panic!("{field} should be rejected, got {report:?}"),
            }
        }
    }

    #[test]
    fn plain_functions_refuse_zero_costs() {
        assert_eq!(benefit_cost_ratio(10.0, 0.0), None);
        assert_eq!(roi_percent(10.0, -1.0), None);
        assert_eq!(payback_months(10.0, 0.0), None);
        assert_eq!(roi_percent(150.0, 100.0), Some(50.0));
    }

    #[test]
    fn zero_periods_give_no_monthly_benefit() {
        let report = roi(&RoiInput { periods: 0.0, ..handle_time_programme() }).unwrap();
        assert_eq!(report.benefits, 0.0);
        assert_eq!((report.monthly_benefit, report.payback_months), (None, None));
        assert_eq!(report.roi_percent, Some(-100.0));
    }
}

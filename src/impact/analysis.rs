//! The impact analysis: per-person pre/post means, difference in differences on change scores
//! (Welch), effect sizes, power, a parallel-trend check and a verdict that honours the KPI's
//! direction. Pure: callers fetch the observations; the API, the CLI and the Rhai host functions
//! all call [`analyze`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::adjust::{ancova, AdjustedEffect};
use super::dose::{dose_response, DoseResponse};
use super::format;
use super::headline::headline;
use super::input::{offset, prepare, Cohort, ImpactData, ImpactError, ImpactSpec, Window, Windows};
use super::staggered::{event_study, EventStudy};
use super::stats::{self, Summary, TTest};

/// Parallel-trend p-values below this count as a violation. A larger p is no proof of parallel
/// trends: the check has little power with few persons.
pub const PARALLEL_TREND_ALPHA: f64 = 0.05;
/// Absolute standardized difference of the groups' pre-window means above which the report
/// warns about baseline imbalance (Stuart 2010's 0.25; 0.1 is the stricter convention).
pub const BASELINE_SMD_LIMIT: f64 = 0.25;

/// The conclusion, from the 95% CI of the difference in differences and the KPI direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// Too few persons, or no variation to estimate uncertainty from; `reason` says which.
    InsufficientData { reason: String },
    /// The CI lies entirely on the better side of zero.
    Improved,
    /// The CI lies entirely on the worse side of zero.
    Worsened,
    /// The CI contains zero: no effect could be told apart from noise (which is not evidence
    /// that there is none; see the minimum detectable effect).
    NoDetectableEffect,
}

impl Verdict {
    /// Short label for headlines.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::InsufficientData { .. } => "Insufficient data",
            Verdict::Improved => "Improved",
            Verdict::Worsened => "Worsened",
            Verdict::NoDetectableEffect => "No detectable effect",
        }
    }
}

/// Machine-readable kind of a [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    RegressionToTheMean,
    ParallelTrendViolated,
    ParallelTrendNotChecked,
    BaselineImbalance,
    StaggeredDates,
    PersonsInBothGroups,
    NonFiniteValues,
    MissingReferenceDates,
    AdjustmentUnreliable,
}

/// Something the reader should know before trusting the figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
}

impl Warning {
    pub(crate) fn new(code: WarningCode, message: String) -> Warning {
        Warning { code, message }
    }
}

/// Figures of one group. Means are over persons (each person's window mean counts once), so a
/// person with many observations does not outweigh one with few.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupFigures {
    /// Persons with at least one usable observation.
    pub persons_observed: usize,
    /// Observed persons left out for lack of a reference date.
    pub persons_without_date: usize,
    /// Persons with data in both the pre and the post window: the n of every test.
    pub persons_analyzed: usize,
    pub pre_mean: Option<f64>,
    pub post_mean: Option<f64>,
    /// Mean per-person change, post − pre.
    pub change: Option<f64>,
    /// Standard deviation of the per-person changes.
    pub change_sd: Option<f64>,
}

/// Outcome of the parallel-trend check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrendCheckStatus {
    /// No earlier pre window was configured.
    NotChecked,
    /// Too few persons with data in both pre windows.
    InsufficientData,
    /// The groups' pre-period changes do not differ detectably (p ≥ 0.05).
    Consistent,
    /// The groups were already drifting apart before the intervention (p < 0.05).
    Violated,
}

/// Welch test of (pre − earlier pre) between the groups: a placebo DiD before the intervention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ParallelTrendCheck {
    pub status: TrendCheckStatus,
    pub treated_persons: usize,
    pub comparison_persons: usize,
    pub test: Option<TTest>,
}

/// Everything the analysis found, serialisable as the API response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImpactReport {
    pub verdict: Verdict,
    /// One sentence for people: the verdict with its main figures.
    pub headline: String,
    /// The spec the figures were computed with.
    pub spec: ImpactSpec,
    pub treated: GroupFigures,
    pub comparison: GroupFigures,
    /// Welch test of the post-window means, treated − comparison (ignores baseline differences).
    pub post_difference: Option<TTest>,
    /// Treated change − comparison change, in KPI units.
    pub difference_in_differences: Option<f64>,
    /// Welch test of the per-person changes, treated − comparison: the CI and p of the DiD.
    pub did_test: Option<TTest>,
    /// Treated pre mean + comparison change: the treated post mean had nothing been done.
    pub counterfactual_post_mean: Option<f64>,
    /// DiD / counterfactual post mean, as a fraction (−0.15 = 15% lower); only when the
    /// counterfactual is positive.
    pub relative_effect: Option<f64>,
    /// Hedges' g of the per-person changes, treated − comparison.
    pub hedges_g: Option<f64>,
    /// Smallest true DiD these groups detect with 80% power at α = 0.05, in KPI units.
    pub minimum_detectable_effect: Option<f64>,
    /// Standardized difference of the pre-window means, treated − comparison.
    pub baseline_smd: Option<f64>,
    pub parallel_trend: ParallelTrendCheck,
    pub warnings: Vec<Warning>,
    /// Regression adjustment on the pre-period KPI (ANCOVA), beside the unadjusted DiD.
    #[serde(default)]
    pub adjusted: Option<AdjustedEffect>,
    /// Group-time effects and the event study, when `spec.staggered` is set. The verdict then
    /// rests on its overall effect.
    #[serde(default)]
    pub event_study: Option<EventStudy>,
    /// Effect by dose, when the data give doses.
    #[serde(default)]
    pub dose_response: Option<DoseResponse>,
}

impl ImpactReport {
    /// The estimate the verdict rests on: the event study's overall effect in a staggered
    /// design, the difference in differences otherwise.
    pub fn main_effect(&self) -> Option<TTest> {
        match &self.event_study {
            Some(study) => study.overall,
            None => self.did_test,
        }
    }

    /// The main effect relative to the treated group's expected value without the intervention.
    pub fn main_relative_effect(&self) -> Option<f64> {
        match &self.event_study {
            Some(study) => study.relative_effect,
            None => self.relative_effect,
        }
    }
}

/// Run the analysis. Fails only on an invalid spec; data problems give an
/// `insufficient_data` verdict and `None` figures, never NaN.
pub fn analyze(spec: &ImpactSpec, data: &ImpactData) -> Result<ImpactReport, ImpactError> {
    spec.validate()?;
    let prepared = prepare(spec, data);
    let mut warnings = prepared.warnings.clone();
    let windows = spec.windows();
    let treated_data = GroupData::collect(&prepared.treated, &windows);
    let comparison_data = GroupData::collect(&prepared.comparison, &windows);
    let treated = treated_data.figures(&prepared.treated);
    let comparison = comparison_data.figures(&prepared.comparison);

    let post_difference = stats::welch(&treated_data.post, &comparison_data.post);
    let did_test = stats::welch(&treated_data.change, &comparison_data.change);
    let difference_in_differences = treated.change.zip(comparison.change).map(|(t, c)| t - c).filter(|d| d.is_finite());
    let counterfactual_post_mean =
        treated.pre_mean.zip(comparison.change).map(|(p, c)| p + c).filter(|m| m.is_finite());
    let relative_effect = difference_in_differences
        .zip(counterfactual_post_mean.filter(|m| *m > 0.0))
        .map(|(did, counterfactual)| did / counterfactual)
        .filter(|r| r.is_finite());
    let hedges_g = stats::hedges_g(&treated_data.change, &comparison_data.change);
    let change_summaries = Summary::of(&treated_data.change).zip(Summary::of(&comparison_data.change));
    let minimum_detectable_effect = change_summaries.and_then(|(t, c)| stats::minimum_detectable_effect(&t, &c));
    let baseline_smd = Summary::of(&treated_data.pre)
        .zip(Summary::of(&comparison_data.pre))
        .and_then(|(t, c)| stats::standardized_mean_difference(&t, &c));
    let parallel_trend = parallel_trend(spec, &treated_data, &comparison_data);
    let adjusted = ancova(&treated_data.pairs(), &comparison_data.pairs(), did_test.as_ref());
    let event_study = spec.staggered.as_ref().map(|staggered| event_study(staggered, data, &prepared)).transpose()?;
    let dose_response = (!data.doses.is_empty()).then(|| {
        let doses: Vec<(u32, f64)> = treated_data
            .persons
            .iter()
            .zip(&treated_data.change)
            .map(|(person, change)| (data.doses.get(*person).copied().unwrap_or(0), *change))
            .collect();
        dose_response(&doses, &comparison_data.change, spec.dose_levels)
    });

    warnings.extend(design_warnings(spec, &prepared.treated, &prepared.comparison, baseline_smd, &parallel_trend));
    let verdict = match &event_study {
        Some(study) => staggered_verdict(spec, study),
        None => verdict(spec, &treated, &comparison, did_test.as_ref()),
    };
    let (main, relative) = match &event_study {
        Some(study) => (study.overall, study.relative_effect),
        None => (did_test, relative_effect),
    };
    let headline = headline(spec, &verdict, main.as_ref(), relative, minimum_detectable_effect);
    Ok(ImpactReport {
        verdict,
        headline,
        spec: spec.clone(),
        treated,
        comparison,
        post_difference,
        difference_in_differences,
        did_test,
        counterfactual_post_mean,
        relative_effect,
        hedges_g,
        minimum_detectable_effect,
        baseline_smd,
        parallel_trend,
        warnings,
        adjusted,
        event_study,
        dose_response,
    })
}

/// Per-person window means of one group, as parallel lists over the persons that have them.
#[derive(Debug, Default)]
struct GroupData<'a> {
    /// Persons with data in both windows, and their pre and post means and post − pre.
    persons: Vec<&'a str>,
    pre: Vec<f64>,
    post: Vec<f64>,
    change: Vec<f64>,
    /// Pre − earlier pre, for persons with data in both pre windows.
    earlier_change: Vec<f64>,
}

impl<'a> GroupData<'a> {
    fn collect(cohort: &Cohort<'a>, windows: &Windows) -> GroupData<'a> {
        let mut data = GroupData::default();
        for (&person, series) in &cohort.persons {
            let (mut earlier, mut pre, mut post) = (Vec::new(), Vec::new(), Vec::new());
            for &(timestamp, value) in &series.points {
                match windows.classify(offset(timestamp, series.reference_us)) {
                    Some(Window::EarlierPre) => earlier.push(value),
                    Some(Window::Pre) => pre.push(value),
                    Some(Window::Post) => post.push(value),
                    None => {}
                }
            }
            let (earlier, pre, post) = (stats::mean(&earlier), stats::mean(&pre), stats::mean(&post));
            if let Some((pre, post)) = pre.zip(post).filter(|(pre, post)| (post - pre).is_finite()) {
                data.persons.push(person);
                data.pre.push(pre);
                data.post.push(post);
                data.change.push(post - pre);
            }
            if let Some(change) = pre.zip(earlier).map(|(pre, earlier)| pre - earlier).filter(|c| c.is_finite()) {
                data.earlier_change.push(change);
            }
        }
        data
    }

    fn pairs(&self) -> Vec<(f64, f64)> {
        self.pre.iter().copied().zip(self.post.iter().copied()).collect()
    }

    fn figures(&self, cohort: &Cohort) -> GroupFigures {
        GroupFigures {
            persons_observed: cohort.observed,
            persons_without_date: cohort.without_date,
            persons_analyzed: self.change.len(),
            pre_mean: stats::mean(&self.pre),
            post_mean: stats::mean(&self.post),
            change: stats::mean(&self.change),
            change_sd: Summary::of(&self.change).map(|s| s.sd()),
        }
    }
}

fn parallel_trend(spec: &ImpactSpec, treated: &GroupData, comparison: &GroupData) -> ParallelTrendCheck {
    let (treated_persons, comparison_persons) = (treated.earlier_change.len(), comparison.earlier_change.len());
    if spec.earlier_pre_days.is_none() {
        return ParallelTrendCheck {
            status: TrendCheckStatus::NotChecked,
            treated_persons,
            comparison_persons,
            test: None,
        };
    }
    let test = stats::welch(&treated.earlier_change, &comparison.earlier_change);
    let enough = treated_persons.min(comparison_persons) >= spec.min_persons_per_group;
    let status = match &test {
        Some(test) if enough && test.p_value < PARALLEL_TREND_ALPHA => TrendCheckStatus::Violated,
        Some(_) if enough => TrendCheckStatus::Consistent,
        _ => TrendCheckStatus::InsufficientData,
    };
    ParallelTrendCheck { status, treated_persons, comparison_persons, test }
}

fn design_warnings(
    spec: &ImpactSpec,
    treated: &Cohort,
    comparison: &Cohort,
    baseline_smd: Option<f64>,
    trend: &ParallelTrendCheck,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if spec.selected_by_kpi {
        warnings.push(Warning::new(
            WarningCode::RegressionToTheMean,
            "The treated persons were selected by their KPI values, so their KPI tends to move back toward \
             the average even without any intervention. The difference in differences removes this only if \
             the comparison group was selected by the same rule (ideally: randomise who is treated among \
             those selected)."
                .into(),
        ));
    }
    match trend.status {
        TrendCheckStatus::Violated => warnings.push(Warning::new(
            WarningCode::ParallelTrendViolated,
            format!(
                "The groups were already drifting apart before the intervention ({}), so the difference \
                 in differences is likely biased.",
                format::p_value(trend.test.map_or(0.0, |t| t.p_value))
            ),
        )),
        TrendCheckStatus::NotChecked => warnings.push(Warning::new(
            WarningCode::ParallelTrendNotChecked,
            "Parallel trends were not checked: set earlier_pre_days to compare the groups' trends before \
             the intervention."
                .into(),
        )),
        TrendCheckStatus::InsufficientData => warnings.push(Warning::new(
            WarningCode::ParallelTrendNotChecked,
            format!(
                "Parallel trends could not be checked: too few persons have data in both pre windows \
                 ({} treated, {} comparison).",
                trend.treated_persons, trend.comparison_persons
            ),
        )),
        TrendCheckStatus::Consistent => {}
    }
    if let Some(smd) = baseline_smd.filter(|smd| smd.abs() > BASELINE_SMD_LIMIT) {
        warnings.push(Warning::new(
            WarningCode::BaselineImbalance,
            format!(
                "The groups differ before the intervention (standardized difference {}); they may not be \
                 comparable, and a group far from the average drifts back toward it on its own.",
                format::number(smd)
            ),
        ));
        warnings.push(Warning::new(
            WarningCode::AdjustmentUnreliable,
            "The adjusted (ANCOVA) estimate assumes that persons with equal pre-period KPI are comparable, as \
             in a randomised rollout; with groups this different before the intervention it is pulled toward \
             their baseline gap, so rely on the difference in differences."
                .into(),
        ));
    }
    let dates = |cohort: &Cohort| cohort.persons.values().map(|s| s.reference_us).collect::<BTreeSet<i64>>();
    if spec.staggered.is_none() && dates(treated).len() > 1 && dates(comparison).len() <= 1 {
        warnings.push(Warning::new(
            WarningCode::StaggeredDates,
            "Treated persons have different treatment dates but the comparison group shares one date, so \
             seasonal changes cancel only partly. Set `staggered` to compare each training cohort with the \
             persons not yet trained at the same time, or give comparison persons matched dates."
                .into(),
        ));
    }
    warnings
}

fn staggered_verdict(spec: &ImpactSpec, study: &EventStudy) -> Verdict {
    let min = spec.min_persons_per_group;
    if study.treated_persons < min || study.comparison_persons < min {
        return Verdict::InsufficientData {
            reason: format!(
                "the group-time comparisons after training hold {} treated and {} comparison persons with data \
                 in the period before their training and after it; at least {min} of each are needed \
                 (min_persons_per_group)",
                study.treated_persons, study.comparison_persons
            ),
        };
    }
    effect_verdict(spec, study.overall.as_ref())
}

fn effect_verdict(spec: &ImpactSpec, test: Option<&TTest>) -> Verdict {
    match test {
        None => Verdict::InsufficientData {
            reason: "the per-person changes do not vary in either group, so their uncertainty cannot be \
                     estimated"
                .into(),
        },
        Some(test) if test.ci_contains_zero() => Verdict::NoDetectableEffect,
        Some(test) if spec.direction.is_improvement(test.diff) => Verdict::Improved,
        Some(_) => Verdict::Worsened,
    }
}

fn verdict(spec: &ImpactSpec, treated: &GroupFigures, comparison: &GroupFigures, did: Option<&TTest>) -> Verdict {
    let min = spec.min_persons_per_group;
    for (name, group) in [("treated", treated), ("comparison", comparison)] {
        if group.persons_analyzed < min {
            let undated = if group.persons_without_date > 0 {
                format!(" ({} more have no treatment date)", group.persons_without_date)
            } else {
                String::new()
            };
            return Verdict::InsufficientData {
                reason: format!(
                    "only {} {name} persons have observations in both the pre and the post window{undated}; \
                     at least {min} per group are needed (min_persons_per_group)",
                    group.persons_analyzed
                ),
            };
        }
    }
    effect_verdict(spec, did)
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;

//! Staggered adoption: people treated at their own dates. Group-time average effects in the
//! manner of Callaway and Sant'Anna (2021), without covariates: for each cohort g (persons
//! first treated in period g) and period t, ATT(g, t) is the difference in differences of the
//! cohort's change from its last untreated period g − 1 to t against the change of a
//! comparison group (never treated, or also not yet treated by t). The ATTs are aggregated to
//! an overall effect, an event-study curve (effect by periods since treatment, pre-periods as
//! placebos) and one effect per cohort, all weighted by treated persons per cell.
//!
//! Inference: the ATTs are the coefficients of one stacked OLS regression (per cell, an
//! intercept and a treated dummy on the persons' changes), with standard errors clustered by
//! person, so a person counted in many cells is counted once; aggregates are linear
//! combinations with df = persons − 1 (statsmodels' `cov_type="cluster"`, `use_t=True`).
//! Aggregation weights are taken as fixed. Called by `analysis`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::input::{ImpactData, ImpactError, Prepared, DAY_US, MAX_WINDOW_DAYS};
use super::ols::cr1_correction;
use super::stats::{self, TTest};

/// Periods are counted from Monday 1970-01-05 00:00 UTC, so weekly periods are calendar weeks.
pub const PERIOD_ORIGIN_US: i64 = 4 * DAY_US;
/// Most periods before or after treatment an event study covers.
pub const MAX_EVENT_PERIODS: u32 = 104;
/// Fewest persons on each side of a group-time cell.
pub const MIN_CELL_PERSONS: usize = 2;
/// Most (cell, person) rows of the stacked regression: bounds memory and time (about 16
/// bytes each) whatever periods and dates a spec asks for. Unit tests lower it to reach it.
pub const MAX_STACKED_ROWS: usize = if cfg!(test) { 200 } else { 4_000_000 };

/// Who the cohorts are compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaggeredComparison {
    /// Never-treated persons and those treated only later than the period compared.
    #[default]
    NotYetTreated,
    /// Never-treated persons only.
    NeverTreated,
}

/// The staggered design's parameters (absent: the fixed-date analysis alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaggeredSpec {
    #[serde(default)]
    pub comparison: StaggeredComparison,
    /// Length of one period; a person's KPI is averaged per period.
    #[serde(default = "default_period_days")]
    pub period_days: u32,
    /// Placebo periods before treatment on the curve (the period just before is the base).
    #[serde(default = "default_periods_before")]
    pub periods_before: u32,
    /// Periods from the treatment period on (0, 1, …) on the curve and in the overall effect.
    #[serde(default = "default_periods_after")]
    pub periods_after: u32,
}

fn default_period_days() -> u32 {
    7
}
fn default_periods_before() -> u32 {
    4
}
fn default_periods_after() -> u32 {
    8
}

impl Default for StaggeredSpec {
    fn default() -> Self {
        StaggeredSpec {
            comparison: StaggeredComparison::default(),
            period_days: default_period_days(),
            periods_before: default_periods_before(),
            periods_after: default_periods_after(),
        }
    }
}

impl StaggeredSpec {
    pub fn validate(&self) -> Result<(), ImpactError> {
        if !(1..=MAX_WINDOW_DAYS).contains(&self.period_days) {
            return Err(ImpactError::invalid(
                "staggered.period_days",
                format!("must be between 1 and {MAX_WINDOW_DAYS} days (got {})", self.period_days),
            ));
        }
        if self.periods_before > MAX_EVENT_PERIODS {
            return Err(ImpactError::invalid(
                "staggered.periods_before",
                format!("must be at most {MAX_EVENT_PERIODS} (got {})", self.periods_before),
            ));
        }
        if !(1..=MAX_EVENT_PERIODS).contains(&self.periods_after) {
            return Err(ImpactError::invalid(
                "staggered.periods_after",
                format!("must be between 1 and {MAX_EVENT_PERIODS} (got {})", self.periods_after),
            ));
        }
        Ok(())
    }
}

/// ATT(g, t) of one cohort and period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupTimeEffect {
    /// Start of the cohort's treatment period (µs).
    pub cohort_start_us: i64,
    /// Periods since treatment: t − g (0 = the period of treatment).
    pub event: i64,
    pub treated_persons: usize,
    pub comparison_persons: usize,
    pub test: Option<TTest>,
}

/// One point of the event-study curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventPoint {
    pub event: i64,
    /// Cohorts observed at this distance from their treatment.
    pub cohorts: usize,
    pub treated_persons: usize,
    pub test: Option<TTest>,
}

/// The effect of one cohort over its post periods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CohortEffect {
    pub cohort_start_us: i64,
    pub treated_persons: usize,
    pub test: Option<TTest>,
}

/// Everything the staggered design found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventStudy {
    pub comparison: StaggeredComparison,
    pub period_days: u32,
    /// The average effect over every cohort's post periods (0 … periods_after − 1).
    pub overall: Option<TTest>,
    /// overall / (treated mean − overall) in those cells, when that counterfactual is positive.
    pub relative_effect: Option<f64>,
    pub counterfactual_mean: Option<f64>,
    /// The average of the placebo cells (before treatment): near zero under parallel trends.
    pub pre_trend: Option<TTest>,
    /// By periods since treatment; period −1 is the base (0 by construction) and is left out.
    pub curve: Vec<EventPoint>,
    pub cohorts: Vec<CohortEffect>,
    pub cells: Vec<GroupTimeEffect>,
    /// Distinct treated and comparison persons in the post cells.
    pub treated_persons: usize,
    pub comparison_persons: usize,
    /// Persons (clusters) in the stacked regression.
    pub persons: usize,
}

struct Unit {
    cohort: Option<i64>,
    means: BTreeMap<i64, f64>,
}

struct Cell {
    cohort: i64,
    event: i64,
    /// (unit, treated, residual from its side's mean change)
    rows: Vec<(u32, bool, f64)>,
    treated: usize,
    comparison: usize,
    att: f64,
    treated_mean_now: f64,
}

/// Runs the event study over the prepared treated persons (each at their reference date) and
/// the comparison observations (never treated; their dates are ignored).
pub(crate) fn event_study(
    spec: &StaggeredSpec,
    data: &ImpactData,
    prepared: &Prepared,
) -> Result<EventStudy, ImpactError> {
    let period = i128::from(spec.period_days) * i128::from(DAY_US);
    let index = |t: i64| -> i64 {
        // |t| < 2⁶³ and period ≥ one day, so the quotient fits an i64.
        (i128::from(t) - i128::from(PERIOD_ORIGIN_US)).div_euclid(period) as i64
    };
    let means = |points: &mut dyn Iterator<Item = (i64, f64)>| {
        let mut by_period: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
        for (timestamp, value) in points {
            let entry = by_period.entry(index(timestamp)).or_default();
            entry.0 += value;
            entry.1 += 1;
        }
        by_period.into_iter().map(|(p, (sum, n))| (p, sum / n as f64)).filter(|(_, m)| m.is_finite()).collect()
    };
    let mut units: Vec<Unit> = prepared
        .treated
        .persons
        .values()
        .map(|series| Unit {
            cohort: Some(index(series.reference_us)),
            means: means(&mut series.points.iter().copied()),
        })
        .collect();
    let treated_ids: BTreeSet<&str> = data.treated.iter().map(|o| o.person.as_str()).collect();
    let mut never: BTreeMap<&str, Vec<(i64, f64)>> = BTreeMap::new();
    for o in data.comparison.iter().filter(|o| o.value.is_finite() && !treated_ids.contains(o.person.as_str())) {
        never.entry(o.person.as_str()).or_default().push((o.timestamp_us, o.value));
    }
    units.extend(never.into_values().map(|points| Unit { cohort: None, means: means(&mut points.into_iter()) }));

    let cohorts: BTreeSet<i64> = units.iter().filter_map(|u| u.cohort).collect();
    // Who has data in each period: a cell then visits only the persons it can use.
    let mut observed: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (unit_index, unit) in units.iter().enumerate() {
        for &p in unit.means.keys() {
            observed.entry(p).or_default().push(unit_index);
        }
    }
    let mut cells = Vec::new();
    let mut stacked_rows = 0usize;
    for &g in &cohorts {
        let base = g - 1;
        for event in -i64::from(spec.periods_before)..i64::from(spec.periods_after) {
            if event == -1 {
                continue;
            }
            let now = g + event;
            let untreated_through = now.max(base);
            let mut rows = Vec::new();
            for &unit_index in observed.get(&now).map_or(&[][..], Vec::as_slice) {
                let unit = &units[unit_index];
                let treated = match unit.cohort {
                    Some(h) if h == g => true,
                    Some(h) if spec.comparison == StaggeredComparison::NotYetTreated && h > untreated_through => false,
                    Some(_) => continue,
                    None => false,
                };
                if let (Some(after), Some(before)) = (unit.means.get(&now), unit.means.get(&base)) {
                    rows.push((unit_index, treated, after - before));
                }
            }
            stacked_rows += rows.len();
            if stacked_rows > MAX_STACKED_ROWS {
                return Err(ImpactError::invalid(
                    "staggered",
                    format!(
                        "the design compares more than {MAX_STACKED_ROWS} person-periods across its cohorts; use \
                         longer periods (period_days) or fewer periods_before/periods_after"
                    ),
                ));
            }
            if let Some(cell) = Cell::new(g, event, rows, &units, now) {
                cells.push(cell);
            }
        }
    }
    Ok(summarise(spec, &cells, period, units.len()))
}

impl Cell {
    fn new(cohort: i64, event: i64, rows: Vec<(usize, bool, f64)>, units: &[Unit], now: i64) -> Option<Cell> {
        let changes = |treated: bool| rows.iter().filter(|r| r.1 == treated).map(|r| r.2).collect::<Vec<f64>>();
        let (t, c) = (changes(true), changes(false));
        if t.len() < MIN_CELL_PERSONS || c.len() < MIN_CELL_PERSONS {
            return None;
        }
        let (mean_t, mean_c) = (stats::mean(&t)?, stats::mean(&c)?);
        let levels: Vec<f64> =
            rows.iter().filter(|r| r.1).filter_map(|r| units[r.0].means.get(&now).copied()).collect();
        let rows = rows
            .into_iter()
            .map(|(u, treated, d)| (u as u32, treated, d - if treated { mean_t } else { mean_c }))
            .collect();
        Some(Cell {
            cohort,
            event,
            rows,
            treated: t.len(),
            comparison: c.len(),
            att: mean_t - mean_c,
            treated_mean_now: stats::mean(&levels)?,
        })
    }
}

/// The stacked regression's size, for the CR1 factor and the df.
struct Stacked {
    correction: f64,
    persons: usize,
    units: usize,
}

/// A weighted combination of cell ATTs (weights ∝ treated persons) with its clustered SE.
fn combine(cells: &[&Cell], stacked: &Stacked) -> Option<TTest> {
    let total: f64 = cells.iter().map(|c| c.treated as f64).sum();
    if cells.is_empty() || total <= 0.0 {
        return None;
    }
    let mut estimate = 0.0;
    let mut influence = vec![0.0; stacked.units];
    for cell in cells {
        let weight = cell.treated as f64 / total;
        estimate += weight * cell.att;
        for &(unit, treated, residual) in &cell.rows {
            let share = if treated { residual / cell.treated as f64 } else { -residual / cell.comparison as f64 };
            influence[unit as usize] += weight * share;
        }
    }
    let variance = stacked.correction * influence.iter().map(|v| v * v).sum::<f64>();
    TTest::from_parts(estimate, variance.sqrt(), stacked.persons as f64 - 1.0)
}

fn summarise(spec: &StaggeredSpec, cells: &[Cell], period: i128, units: usize) -> EventStudy {
    let persons: BTreeSet<u32> = cells.iter().flat_map(|c| c.rows.iter().map(|r| r.0)).collect();
    let rows: usize = cells.iter().map(|c| c.rows.len()).sum();
    let stacked = Stacked {
        correction: if persons.len() >= 2 && rows > 2 * cells.len() {
            cr1_correction(persons.len(), rows, 2 * cells.len())
        } else {
            f64::NAN
        },
        persons: persons.len(),
        units,
    };
    let start = |g: i64| (i128::from(PERIOD_ORIGIN_US) + i128::from(g) * period).clamp(0, i128::from(i64::MAX)) as i64;
    let select = |keep: &dyn Fn(&Cell) -> bool| cells.iter().filter(|c| keep(c)).collect::<Vec<&Cell>>();
    let post = select(&|c| c.event >= 0);
    let overall = combine(&post, &stacked);
    let total: f64 = post.iter().map(|c| c.treated as f64).sum();
    let counterfactual_mean = overall
        .map(|o| post.iter().map(|c| c.treated as f64 / total * c.treated_mean_now).sum::<f64>() - o.diff)
        .filter(|m| m.is_finite());
    let relative_effect =
        overall.zip(counterfactual_mean.filter(|m| *m > 0.0)).map(|(o, m)| o.diff / m).filter(|r| r.is_finite());
    let distinct = |cells: &[&Cell], treated: bool| {
        cells.iter().flat_map(|c| c.rows.iter().filter(|r| r.1 == treated).map(|r| r.0)).collect::<BTreeSet<_>>().len()
    };
    let events: BTreeSet<i64> = cells.iter().map(|c| c.event).collect();
    let curve = events
        .into_iter()
        .map(|event| {
            let at = select(&|c| c.event == event);
            EventPoint {
                event,
                cohorts: at.len(),
                treated_persons: at.iter().map(|c| c.treated).sum(),
                test: combine(&at, &stacked),
            }
        })
        .collect();
    let cohort_ids: BTreeSet<i64> = post.iter().map(|c| c.cohort).collect();
    let cohorts = cohort_ids
        .into_iter()
        .map(|g| {
            let own = select(&|c| c.cohort == g && c.event >= 0);
            CohortEffect {
                cohort_start_us: start(g),
                treated_persons: distinct(&own, true),
                test: combine(&own, &stacked),
            }
        })
        .collect();
    EventStudy {
        comparison: spec.comparison,
        period_days: spec.period_days,
        overall,
        relative_effect,
        counterfactual_mean,
        pre_trend: combine(&select(&|c| c.event < -1), &stacked),
        curve,
        cohorts,
        cells: cells
            .iter()
            .map(|c| GroupTimeEffect {
                cohort_start_us: start(c.cohort),
                event: c.event,
                treated_persons: c.treated,
                comparison_persons: c.comparison,
                test: combine(&[c], &stacked),
            })
            .collect(),
        treated_persons: distinct(&post, true),
        comparison_persons: distinct(&post, false),
        persons: persons.len(),
    }
}

#[cfg(test)]
#[path = "staggered_tests.rs"]
mod tests;

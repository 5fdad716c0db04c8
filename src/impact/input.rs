//! What an impact analysis is given: the spec (parameters, deserialised from a request body or a
//! spec file, with defaults) and the data (per-person KPI observations and treatment dates,
//! fetched by whoever calls us). Also the one place that turns that data into per-person series
//! around each person's reference date, shared by `analysis` and `trend`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::analysis::{Warning, WarningCode};
use super::dose::DEFAULT_DOSE_LEVELS;
use super::staggered::StaggeredSpec;

/// One day in microseconds, the unit of every timestamp here.
pub const DAY_US: i64 = 86_400_000_000;
/// Longest accepted window (100 years): keeps every offset far from integer overflow.
pub const MAX_WINDOW_DAYS: u32 = 36_525;
/// Fewest persons per group (with data in both windows) for a verdict. Five is where a t
/// interval starts to mean something (df ≥ 4 per group, t₀.₉₇₅ ≈ 2.8 instead of 12.7 at n = 2);
/// it is a floor against nonsense, not a guarantee of power: read the MDE.
pub const DEFAULT_MIN_PERSONS_PER_GROUP: usize = 5;
/// Most dose levels a dose-response table shows.
pub const MAX_DOSE_LEVELS: u32 = 50;

/// Whether a larger KPI value is good (sales, CSAT) or bad (handle time, error rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KpiDirection {
    HigherIsBetter,
    LowerIsBetter,
}

impl KpiDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HigherIsBetter => "higher_is_better",
            Self::LowerIsBetter => "lower_is_better",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::HigherIsBetter, Self::LowerIsBetter].into_iter().find(|d| d.as_str() == text)
    }

    /// +1 or −1: multiplying a raw change by it gives the change in the "better" direction.
    pub fn sign(self) -> f64 {
        match self {
            KpiDirection::HigherIsBetter => 1.0,
            KpiDirection::LowerIsBetter => -1.0,
        }
    }

    /// Whether a change, as measured (before any sign adjustment), is an improvement.
    pub fn is_improvement(self, change: f64) -> bool {
        change * self.sign() > 0.0
    }
}

/// One KPI measurement of one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// Stable person key (for statements: the actor's IFI).
    pub person: String,
    /// When the value was measured, microseconds since the Unix epoch.
    pub timestamp_us: i64,
    pub value: f64,
}

/// The parameters of an analysis. Windows are whole days relative to each person's reference
/// date d: pre = [d − pre_days, d), post = [d + post_lag_days, d + post_lag_days + post_days),
/// earlier pre (trend check) = [d − pre_days − earlier_pre_days, d − pre_days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactSpec {
    /// Which way the KPI should move.
    pub direction: KpiDirection,
    /// Common intervention date (µs since the epoch) for every person without a date of their
    /// own in `ImpactData::treatment_dates_us`.
    #[serde(default)]
    pub intervention_us: Option<i64>,
    /// Length of the pre window, ending at the reference date.
    pub pre_days: u32,
    /// Length of the post window.
    pub post_days: u32,
    /// Days between the reference date and the start of the post window, for effects that take
    /// time to show (observations in between are ignored).
    #[serde(default)]
    pub post_lag_days: u32,
    /// Length of a second, earlier pre window just before the pre window. When set, the
    /// analysis checks that both groups moved alike before the intervention (parallel trends).
    #[serde(default)]
    pub earlier_pre_days: Option<u32>,
    /// The treated persons were chosen because of their KPI values (e.g. the worst 10%):
    /// their KPI drifts back toward the average on its own, so the report warns.
    #[serde(default)]
    pub selected_by_kpi: bool,
    /// Fewest persons with data in both windows, per group, for a verdict.
    #[serde(default = "default_min_persons")]
    pub min_persons_per_group: usize,
    /// The KPI's unit ("seconds"), for headlines; none: "units".
    #[serde(default)]
    pub unit: Option<String>,
    /// Persons treated at their own dates: also estimate group-time effects and an event
    /// study (`staggered`); the per-person windows above still give the fixed-date figures.
    #[serde(default)]
    pub staggered: Option<StaggeredSpec>,
    /// Top dose level of the dose-response table (doses at or above it are pooled).
    #[serde(default = "default_dose_levels")]
    pub dose_levels: u32,
}

fn default_dose_levels() -> u32 {
    DEFAULT_DOSE_LEVELS
}

fn default_min_persons() -> usize {
    DEFAULT_MIN_PERSONS_PER_GROUP
}

impl ImpactSpec {
    /// A spec with the given direction and windows and every other field at its default.
    pub fn new(direction: KpiDirection, pre_days: u32, post_days: u32) -> ImpactSpec {
        ImpactSpec {
            direction,
            intervention_us: None,
            pre_days,
            post_days,
            post_lag_days: 0,
            earlier_pre_days: None,
            selected_by_kpi: false,
            min_persons_per_group: DEFAULT_MIN_PERSONS_PER_GROUP,
            unit: None,
            staggered: None,
            dose_levels: DEFAULT_DOSE_LEVELS,
        }
    }

    /// Reject parameters no data could make sense of.
    pub fn validate(&self) -> Result<(), ImpactError> {
        let window = |field: &'static str, days: u32, min: u32| {
            if days < min || days > MAX_WINDOW_DAYS {
                Err(ImpactError::invalid(
                    field,
                    format!("must be between {min} and {MAX_WINDOW_DAYS} days (got {days})"),
                ))
            } else {
                Ok(())
            }
        };
        window("pre_days", self.pre_days, 1)?;
        window("post_days", self.post_days, 1)?;
        window("post_lag_days", self.post_lag_days, 0)?;
        if let Some(days) = self.earlier_pre_days {
            window("earlier_pre_days", days, 1)?;
        }
        if self.min_persons_per_group < 2 {
            return Err(ImpactError::invalid(
                "min_persons_per_group",
                format!("must be at least 2, since a variance needs two persons (got {})", self.min_persons_per_group),
            ));
        }
        if !(1..=MAX_DOSE_LEVELS).contains(&self.dose_levels) {
            return Err(ImpactError::invalid(
                "dose_levels",
                format!("must be between 1 and {MAX_DOSE_LEVELS} (got {})", self.dose_levels),
            ));
        }
        if let Some(staggered) = &self.staggered {
            staggered.validate()?;
        }
        Ok(())
    }

    pub(crate) fn windows(&self) -> Windows {
        let us = |days: u32| i128::from(days) * i128::from(DAY_US);
        Windows {
            earlier: self.earlier_pre_days.map(us),
            pre: us(self.pre_days),
            lag: us(self.post_lag_days),
            post: us(self.post_days),
        }
    }
}

/// The observations to analyse.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactData {
    pub treated: Vec<Observation>,
    pub comparison: Vec<Observation>,
    /// Per-person reference dates (µs): when each treated person was trained. A comparison
    /// person may have one too (e.g. the date of the treated person they were matched with).
    /// Persons without one use `ImpactSpec::intervention_us`; persons with neither are left out.
    #[serde(default)]
    pub treatment_dates_us: BTreeMap<String, i64>,
    /// Per treated person, how much of the intervention they got (modules completed, nudges
    /// acted on), for the dose-response table; empty: no table. Treated persons left out have
    /// dose 0.
    #[serde(default)]
    pub doses: BTreeMap<String, u32>,
}

/// Spec and data together, for callers that receive both in one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactInput {
    pub spec: ImpactSpec,
    pub data: ImpactData,
}

/// Input that no analysis can use. The message names the field and the rule it broke.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImpactError {
    #[error("invalid `{field}`: {rule}")]
    Invalid { field: &'static str, rule: String },
}

impl ImpactError {
    pub(crate) fn invalid(field: &'static str, rule: String) -> ImpactError {
        ImpactError::Invalid { field, rule }
    }
}

/// Which window an observation falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    EarlierPre,
    Pre,
    Post,
}

/// Window bounds as offsets (µs) from a reference date; i128 so no date can overflow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    earlier: Option<i128>,
    pre: i128,
    lag: i128,
    post: i128,
}

impl Windows {
    /// Offsets [start, end) covering every window, earliest first.
    pub(crate) fn span(&self) -> (i128, i128) {
        (-self.pre - self.earlier.unwrap_or(0), self.lag + self.post)
    }

    pub(crate) fn classify(&self, offset: i128) -> Option<Window> {
        if (-self.pre..0).contains(&offset) {
            Some(Window::Pre)
        } else if (self.lag..self.lag + self.post).contains(&offset) {
            Some(Window::Post)
        } else {
            let earlier = self.earlier?;
            (-self.pre - earlier..-self.pre).contains(&offset).then_some(Window::EarlierPre)
        }
    }
}

/// Offset of `timestamp` from `reference`, exact for every pair of i64 values.
pub(crate) fn offset(timestamp: i64, reference: i64) -> i128 {
    i128::from(timestamp) - i128::from(reference)
}

/// One person's usable observations and reference date.
#[derive(Debug, Clone, Default)]
pub(crate) struct PersonSeries {
    pub reference_us: i64,
    pub points: Vec<(i64, f64)>,
}

/// One group after cleaning: persons with a reference date, and counts of who was left out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cohort<'a> {
    pub persons: BTreeMap<&'a str, PersonSeries>,
    /// Persons with at least one finite observation.
    pub observed: usize,
    /// Observed persons without a reference date (left out).
    pub without_date: usize,
}

/// Both groups, cleaned, plus warnings about what cleaning removed.
pub(crate) struct Prepared<'a> {
    pub treated: Cohort<'a>,
    pub comparison: Cohort<'a>,
    pub warnings: Vec<Warning>,
}

/// Group observations by person, drop non-finite values, drop comparison persons who are also
/// treated (they cannot be their own control), and attach reference dates.
pub(crate) fn prepare<'a>(spec: &ImpactSpec, data: &'a ImpactData) -> Prepared<'a> {
    let mut warnings = Vec::new();
    let non_finite =
        data.treated.iter().chain(&data.comparison).filter(|observation| !observation.value.is_finite()).count();
    if non_finite > 0 {
        warnings.push(Warning::new(
            WarningCode::NonFiniteValues,
            format!("{non_finite} observations with a non-finite value were ignored."),
        ));
    }
    let treated_ids: BTreeSet<&str> = data.treated.iter().map(|o| o.person.as_str()).collect();
    let overlap: BTreeSet<&str> =
        data.comparison.iter().map(|o| o.person.as_str()).filter(|p| treated_ids.contains(p)).collect();
    if !overlap.is_empty() {
        warnings.push(Warning::new(
            WarningCode::PersonsInBothGroups,
            format!("{} persons appear in both groups; they were kept in the treated group only.", overlap.len()),
        ));
    }
    let treated = cohort(spec, data, data.treated.iter());
    let comparison = cohort(spec, data, data.comparison.iter().filter(|o| !overlap.contains(o.person.as_str())));
    for (name, group) in [("treated", &treated), ("comparison", &comparison)] {
        if group.without_date > 0 {
            warnings.push(Warning::new(
                WarningCode::MissingReferenceDates,
                format!(
                    "{} {name} persons have no treatment date and there is no intervention date; they were left out.",
                    group.without_date
                ),
            ));
        }
    }
    Prepared { treated, comparison, warnings }
}

fn cohort<'a>(spec: &ImpactSpec, data: &ImpactData, observations: impl Iterator<Item = &'a Observation>) -> Cohort<'a> {
    let mut by_person: BTreeMap<&'a str, Vec<(i64, f64)>> = BTreeMap::new();
    for observation in observations.filter(|o| o.value.is_finite()) {
        by_person.entry(observation.person.as_str()).or_default().push((observation.timestamp_us, observation.value));
    }
    let mut group = Cohort { observed: by_person.len(), ..Cohort::default() };
    for (person, points) in by_person {
        match data.treatment_dates_us.get(person).copied().or(spec.intervention_us) {
            Some(reference_us) => {
                group.persons.insert(person, PersonSeries { reference_us, points });
            }
            None => group.without_date += 1,
        }
    }
    group
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(person: &str, day: i64, value: f64) -> Observation {
        Observation { person: person.into(), timestamp_us: day * DAY_US, value }
    }

    #[test]
    fn spec_defaults_fill_everything_but_direction_and_windows() {
        let spec: ImpactSpec =
            serde_json::from_str(r#"{"direction": "lower_is_better", "pre_days": 30, "post_days": 60}"#).unwrap();
        assert_eq!(spec, ImpactSpec::new(KpiDirection::LowerIsBetter, 30, 60));
        assert_eq!(spec.min_persons_per_group, 5);
    }

    #[test]
    fn spec_rejects_unknown_fields_and_bad_windows() {
        let unknown = serde_json::from_str::<ImpactSpec>(
            r#"{"direction": "higher_is_better", "pre_days": 1, "post_days": 1, "pre_dayz": 3}"#,
        );
        assert!(unknown.is_err());
        let cases = [
            ("pre_days", ImpactSpec { pre_days: 0, ..ImpactSpec::new(KpiDirection::HigherIsBetter, 1, 1) }),
            ("post_days", ImpactSpec::new(KpiDirection::HigherIsBetter, 1, MAX_WINDOW_DAYS + 1)),
            (
                "earlier_pre_days",
                ImpactSpec { earlier_pre_days: Some(0), ..ImpactSpec::new(KpiDirection::HigherIsBetter, 1, 1) },
            ),
            (
                "min_persons_per_group",
                ImpactSpec { min_persons_per_group: 1, ..ImpactSpec::new(KpiDirection::HigherIsBetter, 1, 1) },
            ),
        ];
        for (field, spec) in cases {
            match spec.validate() {
                Err(ImpactError::Invalid { field: named, .. }) => assert_eq!(named, field),
                Ok(()) => panic!("{field} should be rejected"),
            }
        }
    }

    #[test]
    fn windows_are_half_open_around_the_reference_date() {
        let spec = ImpactSpec {
            post_lag_days: 2,
            earlier_pre_days: Some(5),
            ..ImpactSpec::new(KpiDirection::HigherIsBetter, 10, 7)
        };
        let windows = spec.windows();
        let day = |d: i128| d * i128::from(DAY_US);
        assert_eq!(windows.classify(day(-16)), None);
        assert_eq!(windows.classify(day(-15)), Some(Window::EarlierPre));
        assert_eq!(windows.classify(day(-10)), Some(Window::Pre));
        assert_eq!(windows.classify(day(0) - 1), Some(Window::Pre));
        assert_eq!(windows.classify(day(0)), None, "lag");
        assert_eq!(windows.classify(day(2)), Some(Window::Post));
        assert_eq!(windows.classify(day(9)), None);
        assert_eq!(windows.span(), (day(-15), day(9)));
        assert_eq!(offset(i64::MIN, i64::MAX), -(i128::from(u64::MAX)), "no overflow");
    }

    #[test]
    fn prepare_drops_overlap_non_finite_values_and_undated_persons() {
        let spec = ImpactSpec::new(KpiDirection::HigherIsBetter, 10, 10);
        let data = ImpactData {
            treated: vec![observation("a", 1, 1.0), observation("b", 1, f64::NAN), observation("c", 1, 2.0)],
            comparison: vec![observation("a", 1, 3.0), observation("d", 1, 4.0)],
            treatment_dates_us: BTreeMap::from([("a".to_string(), 0)]),
            ..Default::default()
        };
        let prepared = prepare(&spec, &data);
        assert_eq!(prepared.treated.persons.keys().copied().collect::<Vec<_>>(), ["a"]);
        assert_eq!((prepared.treated.observed, prepared.treated.without_date), (2, 1), "b has no finite value");
        assert!(prepared.comparison.persons.is_empty());
        assert_eq!((prepared.comparison.observed, prepared.comparison.without_date), (1, 1));
        let codes: Vec<WarningCode> = prepared.warnings.iter().map(|w| w.code).collect();
        assert_eq!(
            codes,
            [
                WarningCode::NonFiniteValues,
                WarningCode::PersonsInBothGroups,
                WarningCode::MissingReferenceDates,
                WarningCode::MissingReferenceDates
            ]
        );
    }
}

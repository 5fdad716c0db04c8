//! KPI trend per group around the intervention, for the report's chart: observations bucketed
//! into periods (typically weeks) counted from each person's reference date, so staggered
//! treatment dates line up at zero. Computed from the same data and persons as `analysis`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::input::{
    offset, prepare, Cohort, ImpactData, ImpactError, ImpactSpec, Window, Windows, DAY_US, MAX_WINDOW_DAYS,
};
use super::stats;

/// One period of one group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrendPoint {
    /// Start of the period, µs relative to the reference date (negative before it).
    pub offset_us: i64,
    /// Mean over persons of each person's mean in the period.
    pub mean: f64,
    /// Persons with at least one observation in the period.
    pub persons: usize,
}

/// Both groups' trends. Periods start at multiples of `period_us` from the reference date, so
/// one period boundary is the intervention itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrendSeries {
    pub period_us: i64,
    /// The reference date when every person shares it (then offsets are calendar dates too).
    pub origin_us: Option<i64>,
    pub treated: Vec<TrendPoint>,
    pub comparison: Vec<TrendPoint>,
}

/// Bucket the analysed persons' observations (those with data in both the pre and post window)
/// into periods of `period_days`, over the span of the spec's windows.
pub fn trend_series(spec: &ImpactSpec, data: &ImpactData, period_days: u32) -> Result<TrendSeries, ImpactError> {
    spec.validate()?;
    if period_days == 0 || period_days > MAX_WINDOW_DAYS {
        return Err(ImpactError::invalid(
            "period_days",
            format!("must be between 1 and {MAX_WINDOW_DAYS} days (got {period_days})"),
        ));
    }
    let period = i128::from(period_days) * i128::from(DAY_US);
    let prepared = prepare(spec, data);
    let windows = spec.windows();
    let origins: BTreeSet<i64> = [&prepared.treated, &prepared.comparison]
        .iter()
        .flat_map(|cohort| cohort.persons.values().map(|s| s.reference_us))
        .collect();
    Ok(TrendSeries {
        period_us: period as i64,
        origin_us: if origins.len() == 1 { origins.first().copied() } else { None },
        treated: group_trend(&prepared.treated, &windows, period),
        comparison: group_trend(&prepared.comparison, &windows, period),
    })
}

fn group_trend(cohort: &Cohort, windows: &Windows, period: i128) -> Vec<TrendPoint> {
    let (start, end) = windows.span();
    // bucket → one mean per person
    let mut buckets: BTreeMap<i128, Vec<f64>> = BTreeMap::new();
    for series in cohort.persons.values() {
        let offsets: Vec<(i128, f64)> =
            series.points.iter().map(|&(timestamp, value)| (offset(timestamp, series.reference_us), value)).collect();
        let has = |window| offsets.iter().any(|&(o, _)| windows.classify(o) == Some(window));
        if !(has(Window::Pre) && has(Window::Post)) {
            continue;
        }
        let mut own: BTreeMap<i128, Vec<f64>> = BTreeMap::new();
        for (o, value) in offsets.into_iter().filter(|&(o, _)| (start..end).contains(&o)) {
            own.entry(o.div_euclid(period)).or_default().push(value);
        }
        for (bucket, values) in own {
            if let Some(mean) = stats::mean(&values) {
                buckets.entry(bucket).or_default().push(mean);
            }
        }
    }
    buckets
        .into_iter()
        .filter_map(|(bucket, means)| {
            // Spans are bounded by MAX_WINDOW_DAYS, so the offset fits an i64.
            let offset_us = i64::try_from(bucket * period).ok()?;
            Some(TrendPoint { offset_us, mean: stats::mean(&means)?, persons: means.len() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::input::{KpiDirection, Observation};

    fn observation(person: &str, day: i64, value: f64) -> Observation {
        Observation { person: person.into(), timestamp_us: day * DAY_US, value }
    }

    #[test]
    fn weekly_buckets_average_persons_not_observations() {
        let spec = ImpactSpec { intervention_us: Some(0), ..ImpactSpec::new(KpiDirection::HigherIsBetter, 14, 14) };
        let data = ImpactData {
            treated: vec![
                // a: three values in week −1 (mean 2), one in week 0.
                observation("a", -7, 1.0),
                observation("a", -6, 2.0),
                observation("a", -1, 3.0),
                observation("a", 0, 10.0),
                // b: one value in week −1, one in week 1.
                observation("b", -3, 6.0),
                observation("b", 8, 20.0),
                // outside the windows: ignored
                observation("b", 30, 99.0),
                // c has no post data: not analysed, not charted
                observation("c", -3, 50.0),
            ],
            comparison: vec![observation("d", -14, 5.0), observation("d", 13, 5.0)],
            treatment_dates_us: BTreeMap::new(),
            ..Default::default()
        };

        let trend = trend_series(&spec, &data, 7).unwrap();

        assert_eq!(trend.period_us, 7 * DAY_US);
        assert_eq!(trend.origin_us, Some(0));
        let week = |w: i64, mean: f64, persons: usize| TrendPoint { offset_us: w * 7 * DAY_US, mean, persons };
        assert_eq!(trend.treated, [week(-1, 4.0, 2), week(0, 10.0, 1), week(1, 20.0, 1)]);
        assert_eq!(trend.comparison, [week(-2, 5.0, 1), week(1, 5.0, 1)]);
    }

    #[test]
    fn staggered_dates_align_at_zero_and_have_no_common_origin() {
        let spec = ImpactSpec::new(KpiDirection::HigherIsBetter, 7, 7);
        let data = ImpactData {
            treated: vec![
                observation("a", 9, 1.0),
                observation("a", 10, 3.0),
                observation("b", 49, 2.0),
                observation("b", 50, 4.0),
            ],
            comparison: vec![],
            treatment_dates_us: BTreeMap::from([("a".into(), 10 * DAY_US), ("b".into(), 50 * DAY_US)]),
            ..Default::default()
        };
        let trend = trend_series(&spec, &data, 7).unwrap();
        assert_eq!(trend.origin_us, None);
        assert_eq!(
            trend.treated.iter().map(|p| (p.offset_us, p.persons)).collect::<Vec<_>>(),
            [(-7 * DAY_US, 2), (0, 2)]
        );
        assert!(trend.comparison.is_empty());
    }

    #[test]
    fn a_zero_period_is_rejected() {
        let spec = ImpactSpec::new(KpiDirection::HigherIsBetter, 7, 7);
        assert!(matches!(
            trend_series(&spec, &ImpactData::default(), 0),
            Err(ImpactError::Invalid { field: "period_days", .. })
        ));
    }
}

use std::collections::BTreeMap;

use super::*;
use crate::impact::input::{ImpactSpec, KpiDirection, Observation};
use crate::impact::{analyze, ImpactData};

const WEEK: i64 = 7 * DAY_US;

/// Friday of period `week` (periods count from the Monday origin).
fn friday(week: i64) -> i64 {
    PERIOD_ORIGIN_US + week * WEEK + 4 * DAY_US
}

/// Two persons per group whose wobbles cancel in the group mean: each group's mean change is
/// exact, and the changes still vary (so there is a standard error).
fn pair(prefix: &str, weeks: std::ops::Range<i64>, level: f64, value: impl Fn(i64) -> f64) -> Vec<Observation> {
    let wobble = |w: i64| [1.0, -0.5, 0.3, 0.8, -1.2, 0.6, -0.2, 0.9, -0.7, 0.4][w as usize % 10];
    let mut observations = Vec::new();
    for (i, sign) in [(0, 1.0), (1, -1.0)] {
        for w in weeks.clone() {
            observations.push(Observation {
                person: format!("{prefix}{i}"),
                timestamp_us: friday(w),
                value: level + 10.0 * f64::from(i) + value(w) + sign * wobble(w),
            });
        }
    }
    observations
}

fn spec(comparison: StaggeredComparison, before: u32, after: u32) -> ImpactSpec {
    let mut spec = ImpactSpec::new(KpiDirection::LowerIsBetter, 14, 14);
    spec.intervention_us = Some(friday(0));
    spec.min_persons_per_group = 2;
    spec.staggered = Some(StaggeredSpec { comparison, period_days: 7, periods_before: before, periods_after: after });
    spec
}

/// Effect −2 in the week of training, −4 from the week after.
fn effect(weeks_since: i64) -> f64 {
    match weeks_since {
        e if e < 0 => 0.0,
        0 => -2.0,
        _ => -4.0,
    }
}

fn shock(week: i64) -> f64 {
    [0.0, 3.0, -1.0, 2.0, 5.0, -2.0, 1.0, 4.0, 0.5, -3.0][week as usize % 10]
}

fn dates(cohorts: &[(&str, i64)]) -> BTreeMap<String, i64> {
    // Trained on the Wednesday of the cohort's week: that week is event 0.
    cohorts
        .iter()
        .flat_map(|(prefix, week)| {
            (0..2).map(move |i| (format!("{prefix}{i}"), PERIOD_ORIGIN_US + week * WEEK + 2 * DAY_US))
        })
        .collect()
}

#[test]
fn group_time_effects_recover_the_effect_by_weeks_since_training_despite_common_shocks() {
    let mut treated = pair("a", 0..10, 100.0, |w| shock(w) + effect(w - 4));
    treated.extend(pair("b", 0..10, 120.0, |w| shock(w) + effect(w - 6)));
    let data = ImpactData {
        treated,
        comparison: pair("n", 0..10, 90.0, shock),
        treatment_dates_us: dates(&[("a", 4), ("b", 6)]),
        ..Default::default()
    };

    let report = analyze(&spec(StaggeredComparison::NeverTreated, 2, 3), &data).unwrap();

    let study = report.event_study.unwrap();
    let curve: Vec<(i64, f64)> = study.curve.iter().map(|p| (p.event, p.test.unwrap().diff)).collect();
    let expected = [(-2, 0.0), (0, -2.0), (1, -4.0), (2, -4.0)];
    assert_eq!(curve.len(), expected.len(), "{curve:?}");
    for ((event, estimate), (want_event, want)) in curve.iter().zip(expected) {
        assert_eq!(*event, want_event);
        assert!((estimate - want).abs() < 1e-9, "event {event}: {estimate} vs {want}");
    }
    let overall = study.overall.unwrap();
    assert!((overall.diff - (-2.0 - 4.0 - 4.0) / 3.0).abs() < 1e-9, "equal cohorts, equal weights: {overall:?}");
    assert_eq!(study.cohorts.len(), 2);
    assert_eq!((study.treated_persons, study.comparison_persons, study.persons), (4, 2, 6));
    assert_eq!(report.verdict, crate::impact::Verdict::Improved);
    assert!(report.headline.contains("persons never trained"), "{}", report.headline);
}

#[test]
fn not_yet_treated_persons_are_controls_only_until_their_own_training() {
    // No never-treated persons: cohort a (week 3) is compared with cohort b (week 6) until b
    // is trained; b has no one left to compare with.
    let mut treated = pair("a", 0..10, 100.0, |w| shock(w) + effect(w - 3));
    treated.extend(pair("b", 0..10, 120.0, |w| shock(w) + effect(w - 6)));
    let data = ImpactData { treated, treatment_dates_us: dates(&[("a", 3), ("b", 6)]), ..Default::default() };

    let not_yet = analyze(&spec(StaggeredComparison::NotYetTreated, 2, 5), &data).unwrap().event_study.unwrap();
    let never = analyze(&spec(StaggeredComparison::NeverTreated, 2, 5), &data).unwrap().event_study.unwrap();

    let cells: Vec<(i64, i64)> = not_yet.cells.iter().map(|c| (c.cohort_start_us, c.event)).collect();
    let a = PERIOD_ORIGIN_US + 3 * WEEK;
    // Events −2, 0, 1 and 2 (weeks 1, 3, 4, 5); from week 6 on b is trained.
    assert_eq!(cells, [(a, -2), (a, 0), (a, 1), (a, 2)]);
    assert!(not_yet.cells.iter().all(|c| c.comparison_persons == 2));
    let at = |e: i64| not_yet.curve.iter().find(|p| p.event == e).unwrap().test.unwrap().diff;
    assert!((at(0) + 2.0).abs() < 1e-9 && (at(2) + 4.0).abs() < 1e-9);
    assert!(never.cells.is_empty() && never.overall.is_none(), "nobody is never treated");
}

#[test]
fn persons_trained_before_their_first_observation_have_no_base_period() {
    let treated = pair("a", 3..10, 100.0, |w| shock(w) + effect(w - 3));
    let data = ImpactData {
        treated,
        comparison: pair("n", 0..10, 90.0, shock),
        treatment_dates_us: dates(&[("a", 3)]),
        ..Default::default()
    };

    let report = analyze(&spec(StaggeredComparison::NotYetTreated, 2, 3), &data).unwrap();

    let study = report.event_study.unwrap();
    assert!(study.cells.is_empty() && study.overall.is_none());
    assert!(matches!(report.verdict, crate::impact::Verdict::InsufficientData { .. }), "{:?}", report.verdict);
}

#[test]
fn staggered_settings_outside_their_range_name_their_field() {
    let cases = [
        ("staggered.period_days", StaggeredSpec { period_days: 0, ..StaggeredSpec::default() }),
        (
            "staggered.periods_before",
            StaggeredSpec { periods_before: MAX_EVENT_PERIODS + 1, ..StaggeredSpec::default() },
        ),
        ("staggered.periods_after", StaggeredSpec { periods_after: 0, ..StaggeredSpec::default() }),
    ];
    for (field, staggered) in cases {
        let mut spec = ImpactSpec::new(KpiDirection::LowerIsBetter, 7, 7);
        spec.staggered = Some(staggered);
        match spec.validate() {
            Err(ImpactError::Invalid { field: named, .. }) => assert_eq!(named, field),
            Ok(()) => panic!("{field} should be refused"),
        }
    }
}

#[test]
fn a_design_larger_than_the_row_budget_is_refused_naming_staggered() {
    // Ten cohorts of two, twenty never treated, 30 weeks: well over the test budget of rows.
    let mut treated = Vec::new();
    let mut cohorts = Vec::new();
    let prefixes: Vec<String> = (0..10).map(|c| format!("c{c}-")).collect();
    for (c, prefix) in prefixes.iter().enumerate() {
        treated.extend(pair(prefix, 0..30, 100.0, shock));
        cohorts.push((prefix.as_str(), 8 + c as i64));
    }
    let mut comparison = Vec::new();
    for n in 0..10 {
        comparison.extend(pair(&format!("n{n}-"), 0..30, 90.0, shock));
    }
    let data = ImpactData { treated, comparison, treatment_dates_us: dates(&cohorts), ..Default::default() };

    let refused = analyze(&spec(StaggeredComparison::NotYetTreated, 4, 8), &data);

    match refused {
        Err(ImpactError::Invalid { field, rule }) => {
            assert_eq!(field, "staggered");
            assert!(rule.contains("person-periods"), "{rule}");
        }
        Ok(report) => panic!("should be refused, got {} cells", report.event_study.unwrap().cells.len()),
    }
}

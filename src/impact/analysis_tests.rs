use std::collections::BTreeMap;

use super::*;
use crate::impact::input::{KpiDirection, Observation, DAY_US};

const INTERVENTION: i64 = 1_700_000_000_000_000;
const NOISE: [f64; 10] = [-1.0, 0.5, 1.2, -0.7, 0.3, -0.4, 0.9, -0.8, 0.1, -0.1];

fn spec(direction: KpiDirection) -> ImpactSpec {
    ImpactSpec { intervention_us: Some(INTERVENTION), ..ImpactSpec::new(direction, 30, 30) }
}

fn at(day: i64) -> i64 {
    INTERVENTION + day * DAY_US
}

/// A person with one observation per (day, value).
fn person(id: &str, points: &[(i64, f64)]) -> Vec<Observation> {
    points.iter().map(|&(day, value)| Observation { person: id.into(), timestamp_us: at(day), value }).collect()
}

/// `n` persons around `base`: two pre observations, two post observations shifted by `change`,
/// and per-person noise so the changes vary.
fn group(prefix: &str, n: usize, base: f64, change: f64) -> Vec<Observation> {
    (0..n)
        .flat_map(|i| {
            let level = base + 3.0 * NOISE[(i + 3) % NOISE.len()];
            let noise = NOISE[i % NOISE.len()];
            person(
                &format!("{prefix}{i}"),
                &[(-20, level - 0.5), (-5, level + 0.5), (3, level + change + noise), (20, level + change + noise)],
            )
        })
        .collect()
}

fn data(treated: Vec<Observation>, comparison: Vec<Observation>) -> ImpactData {
    ImpactData { treated, comparison, ..Default::default() }
}

/// Every number in the report, to prove none is NaN or infinite.
fn all_numbers(report: &ImpactReport) -> Vec<f64> {
    let mut numbers = Vec::new();
    for group in [&report.treated, &report.comparison] {
        numbers.extend([group.pre_mean, group.post_mean, group.change, group.change_sd].into_iter().flatten());
    }
    for test in [report.post_difference, report.did_test, report.parallel_trend.test].into_iter().flatten() {
        numbers.extend([test.diff, test.se, test.df, test.t, test.p_value, test.ci_low, test.ci_high]);
    }
    numbers.extend(
        [
            report.difference_in_differences,
            report.counterfactual_post_mean,
            report.relative_effect,
            report.hedges_g,
            report.minimum_detectable_effect,
            report.baseline_smd,
        ]
        .into_iter()
        .flatten(),
    );
    numbers
}

fn assert_finite(report: &ImpactReport, case: &str) {
    for number in all_numbers(report) {
        assert!(number.is_finite(), "{case}: non-finite figure in {report:#?}");
    }
}

fn codes(report: &ImpactReport) -> Vec<WarningCode> {
    report.warnings.iter().map(|w| w.code).collect()
}

#[test]
fn a_clear_gain_in_a_higher_is_better_kpi_is_an_improvement() {
    let report =
        analyze(&spec(KpiDirection::HigherIsBetter), &data(group("t", 8, 50.0, 5.0), group("c", 8, 50.0, 0.0)))
            .unwrap();

    assert_eq!(report.verdict, Verdict::Improved);
    assert!(report.headline.starts_with("Improved: "), "{}", report.headline);
    let did = report.difference_in_differences.unwrap();
    assert!((did - 5.0).abs() < 1e-9, "identical noise in both groups cancels: {did}");
    let test = report.did_test.unwrap();
    assert!((test.diff - did).abs() < 1e-12 && test.ci_low > 0.0);
    assert_eq!((report.treated.persons_analyzed, report.comparison.persons_analyzed), (8, 8));
    let counterfactual = report.treated.pre_mean.unwrap() + report.comparison.change.unwrap();
    assert!((report.counterfactual_post_mean.unwrap() - counterfactual).abs() < 1e-12);
    assert!((report.relative_effect.unwrap() - did / counterfactual).abs() < 1e-12);
    assert!(report.hedges_g.unwrap() > 1.0);
    assert!(report.minimum_detectable_effect.unwrap() > 0.0);
    assert_eq!(codes(&report), [WarningCode::ParallelTrendNotChecked]);
    assert_finite(&report, "improved");
}

#[test]
fn the_kpi_direction_decides_between_improved_and_worsened() {
    let drop = data(group("t", 8, 300.0, -20.0), group("c", 8, 300.0, 0.0));
    let lower = analyze(&spec(KpiDirection::LowerIsBetter), &drop).unwrap();
    let higher = analyze(&spec(KpiDirection::HigherIsBetter), &drop).unwrap();
    assert_eq!(lower.verdict, Verdict::Improved);
    assert_eq!(higher.verdict, Verdict::Worsened);
    assert!(lower.relative_effect.unwrap() < 0.0, "a drop is a negative relative effect whatever the direction");
}

#[test]
fn a_ci_containing_zero_is_no_detectable_effect() {
    let report =
        analyze(&spec(KpiDirection::HigherIsBetter), &data(group("t", 10, 50.0, 0.1), group("c", 10, 50.0, 0.0)))
            .unwrap();
    assert_eq!(report.verdict, Verdict::NoDetectableEffect);
    assert!(report.did_test.unwrap().ci_contains_zero());
    assert!(report.headline.contains("includes zero"), "{}", report.headline);
    assert!(report.headline.contains("±"), "the headline states the MDE: {}", report.headline);
}

#[test]
fn fewer_persons_than_the_minimum_is_insufficient_data() {
    let report =
        analyze(&spec(KpiDirection::HigherIsBetter), &data(group("t", 4, 50.0, 5.0), group("c", 8, 50.0, 0.0)))
            .unwrap();
    match &report.verdict {
        Verdict::InsufficientData { reason } => assert!(reason.starts_with("only 4 treated persons"), "{reason}"),
        other => panic!("expected insufficient data, got {other:?}"),
    }
    assert!(report.did_test.is_some(), "figures are still computed where possible");
    let lowered = ImpactSpec { min_persons_per_group: 4, ..spec(KpiDirection::HigherIsBetter) };
    let report = analyze(&lowered, &data(group("t", 4, 50.0, 5.0), group("c", 8, 50.0, 0.0))).unwrap();
    assert_eq!(report.verdict, Verdict::Improved, "the minimum is configurable");
}

#[test]
fn degenerate_inputs_never_produce_nan_or_a_verdict() {
    let spec = ImpactSpec { min_persons_per_group: 2, ..spec(KpiDirection::HigherIsBetter) };
    let same_change = |prefix: &str| -> Vec<Observation> {
        (0..5).flat_map(|i| person(&format!("{prefix}{i}"), &[(-3, i as f64), (3, i as f64 + 1.0)])).collect()
    };
    let outside_windows = person("t0", &[(-400, 1.0), (400, 2.0)]);
    let huge = |prefix: &str| -> Vec<Observation> {
        (0..3).flat_map(|i| person(&format!("{prefix}{i}"), &[(-3, f64::MAX), (3, -f64::MAX)])).collect()
    };
    let cases: Vec<(&str, ImpactData)> = vec![
        ("empty groups", data(vec![], vec![])),
        ("one person each", data(person("t", &[(-1, 1.0), (1, 2.0)]), person("c", &[(-1, 1.0), (1, 1.0)]))),
        ("zero variance of changes", data(same_change("t"), same_change("c"))),
        ("no data in the windows", data(outside_windows.clone(), outside_windows)),
        ("only pre data", data(person("t", &[(-1, 1.0)]), person("c", &[(-2, 1.0)]))),
        ("overflowing changes", data(huge("t"), huge("c"))),
    ];
    for (case, data) in cases {
        let report = analyze(&spec, &data).unwrap();
        assert!(matches!(report.verdict, Verdict::InsufficientData { .. }), "{case}: {:?}", report.verdict);
        assert!(report.headline.starts_with("Insufficient data: "), "{case}: {}", report.headline);
        assert_finite(&report, case);
    }
}

#[test]
fn extreme_timestamps_do_not_overflow() {
    let spec = ImpactSpec { intervention_us: Some(i64::MAX), ..spec(KpiDirection::HigherIsBetter) };
    let observations = vec![Observation { person: "a".into(), timestamp_us: i64::MIN, value: 1.0 }];
    let report = analyze(&spec, &data(observations.clone(), observations)).unwrap();
    assert_eq!(report.treated.persons_analyzed, 0);
}

#[test]
fn an_invalid_spec_is_an_error_not_a_verdict() {
    let spec = ImpactSpec { post_days: 0, ..spec(KpiDirection::HigherIsBetter) };
    assert!(matches!(analyze(&spec, &ImpactData::default()), Err(ImpactError::Invalid { field: "post_days", .. })));
}

/// Persons with an earlier pre observation (day −45), then `group`'s pattern. `slope` is the
/// drift between the earlier and the pre window.
fn group_with_history(prefix: &str, n: usize, slope: f64) -> Vec<Observation> {
    let mut observations = group(prefix, n, 50.0, 0.0);
    for i in 0..n {
        let level = 50.0 + 3.0 * NOISE[(i + 3) % NOISE.len()];
        observations.extend(person(&format!("{prefix}{i}"), &[(-45, level - slope + NOISE[(i + 5) % NOISE.len()])]));
    }
    observations
}

#[test]
fn diverging_pre_trends_are_flagged() {
    let spec = ImpactSpec { earlier_pre_days: Some(30), ..spec(KpiDirection::HigherIsBetter) };
    let report = analyze(&spec, &data(group_with_history("t", 8, 6.0), group_with_history("c", 8, 0.0))).unwrap();
    assert_eq!(report.parallel_trend.status, TrendCheckStatus::Violated);
    assert_eq!((report.parallel_trend.treated_persons, report.parallel_trend.comparison_persons), (8, 8));
    assert!(codes(&report).contains(&WarningCode::ParallelTrendViolated));

    let report = analyze(&spec, &data(group_with_history("t", 8, 0.0), group_with_history("c", 8, 0.0))).unwrap();
    assert_eq!(report.parallel_trend.status, TrendCheckStatus::Consistent);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let report = analyze(&spec, &data(group("t", 8, 50.0, 0.0), group("c", 8, 50.0, 0.0))).unwrap();
    assert_eq!(report.parallel_trend.status, TrendCheckStatus::InsufficientData);
    assert!(codes(&report).contains(&WarningCode::ParallelTrendNotChecked));
}

#[test]
fn selection_by_kpi_and_baseline_imbalance_are_warned_about() {
    let spec = ImpactSpec { selected_by_kpi: true, ..spec(KpiDirection::LowerIsBetter) };
    let report = analyze(&spec, &data(group("t", 8, 400.0, -30.0), group("c", 8, 300.0, 0.0))).unwrap();
    let codes = codes(&report);
    assert!(codes.contains(&WarningCode::RegressionToTheMean), "{codes:?}");
    assert!(codes.contains(&WarningCode::BaselineImbalance), "{codes:?}");
    assert!(report.baseline_smd.unwrap() > BASELINE_SMD_LIMIT);
}

#[test]
fn per_person_treatment_dates_move_each_persons_windows() {
    // Treated person i was trained 7·i days after the common date; their values jump then.
    let mut treated = Vec::new();
    let mut dates = BTreeMap::new();
    for (i, noise) in NOISE.iter().take(6).enumerate() {
        let shift = 7 * i as i64;
        let id = format!("t{i}");
        treated.extend(person(&id, &[(shift - 3, 10.0), (shift + 3, 15.0 + *noise), (shift - 40, 99.0)]));
        dates.insert(id, at(shift));
    }
    let comparison = group("c", 6, 10.0, 0.0);
    let input = ImpactData { treated, comparison, treatment_dates_us: dates, ..Default::default() };
    let report = analyze(&spec(KpiDirection::HigherIsBetter), &input).unwrap();
    assert_eq!(report.treated.pre_mean, Some(10.0), "day −40 falls outside the 30-day pre window");
    assert_eq!(report.verdict, Verdict::Improved);
    assert!(codes(&report).contains(&WarningCode::StaggeredDates));
}

#[test]
fn persons_without_any_date_are_left_out_and_named_in_the_reason() {
    let spec = ImpactSpec { intervention_us: None, ..spec(KpiDirection::HigherIsBetter) };
    let report = analyze(&spec, &data(group("t", 6, 50.0, 1.0), group("c", 6, 50.0, 0.0))).unwrap();
    assert_eq!(report.treated.persons_without_date, 6);
    match &report.verdict {
        Verdict::InsufficientData { reason } => assert!(reason.contains("6 more have no treatment date"), "{reason}"),
        other => panic!("expected insufficient data, got {other:?}"),
    }
    assert!(codes(&report).contains(&WarningCode::MissingReferenceDates));
}

#[test]
fn the_report_serialises_with_snake_case_fields_and_a_tagged_verdict() {
    let report =
        analyze(&spec(KpiDirection::HigherIsBetter), &data(group("t", 8, 50.0, 5.0), group("c", 8, 50.0, 0.0)))
            .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], serde_json::json!({"kind": "improved"}));
    for key in ["difference_in_differences", "did_test", "minimum_detectable_effect", "parallel_trend", "warnings"] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["spec"]["direction"], "higher_is_better");
    assert_eq!(json["parallel_trend"]["status"], "not_checked");
    let back: ImpactReport = serde_json::from_value(json).unwrap();
    assert_eq!((back.verdict, back.headline), (report.verdict, report.headline), "the report reads back");

    let insufficient = analyze(&spec(KpiDirection::HigherIsBetter), &ImpactData::default()).unwrap();
    let json = serde_json::to_value(&insufficient).unwrap();
    assert_eq!(json["verdict"]["kind"], "insufficient_data");
    assert!(json["verdict"]["reason"].as_str().unwrap().contains("0 treated"));
}

//! Checks the impact models against statsmodels and SciPy: `scripts/impact_models.py` wrote
//! `tests/fixtures/impact/models.json` (seeded data with staggered training dates, an effect that
//! grows with weeks since training, guardrail KPIs and doses, plus the reference figures); this
//! test needs no Python. Every figure must match to 1e-6 (absolute up to magnitude 1, relative
//! beyond); probabilities above 1e-290 also to 1e-8 relative.

use fluency::impact::guardrail::{non_inferiority, NonInferiority};
use fluency::impact::multiplicity::{benjamini_hochberg, holm, Multiplicity};
use fluency::impact::staggered::EventStudy;
use fluency::impact::{analyze, ImpactInput, ImpactReport, KpiDirection, TTest};
use serde_json::Value;

fn fixture() -> Value {
    let path = format!("{}/tests/fixtures/impact/models.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn number(value: &Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or_else(|| panic!("fixture field {key} is not a number: {value}"))
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-6 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, the reference says {expected} (difference {})",
        (actual - expected).abs()
    );
}

fn assert_probability(actual: f64, expected: f64, what: &str) {
    assert_close(actual, expected, what);
    if expected > 1e-290 {
        let relative = (actual - expected).abs() / expected;
        assert!(relative <= 1e-8, "{what}: got {actual}, the reference says {expected} (relative {relative})");
    }
}

fn assert_test(test: Option<&TTest>, expected: &Value, what: &str) {
    let test = test.unwrap_or_else(|| panic!("{what}: no test, expected {expected}"));
    for (key, actual) in [("diff", test.diff), ("se", test.se), ("df", test.df), ("t", test.t)] {
        assert_close(actual, number(expected, key), &format!("{what}: {key}"));
    }
    assert_probability(test.p_value, number(expected, "p_value"), &format!("{what}: p_value"));
    assert_close(test.ci_low, number(expected, "ci_low"), &format!("{what}: ci_low"));
    assert_close(test.ci_high, number(expected, "ci_high"), &format!("{what}: ci_high"));
}

fn run(input: &Value, what: &str) -> ImpactReport {
    let input: ImpactInput = serde_json::from_value(input.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    analyze(&input.spec, &input.data).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn array(value: &Value) -> &Vec<Value> {
    value.as_array().unwrap_or_else(|| panic!("not an array: {value}"))
}

fn assert_event_study(study: &EventStudy, expected: &Value, name: &str) {
    assert_test(study.overall.as_ref(), &expected["overall"], &format!("{name}: overall"));
    assert_close(study.counterfactual_mean.unwrap(), number(expected, "counterfactual_mean"), name);
    assert_close(study.relative_effect.unwrap(), number(expected, "relative_effect"), name);
    match expected["pre_trend"].is_null() {
        true => assert_eq!(study.pre_trend, None, "{name}: no placebo cells"),
        false => assert_test(study.pre_trend.as_ref(), &expected["pre_trend"], &format!("{name}: pre-trend")),
    }
    let counts = (study.treated_persons, study.comparison_persons, study.persons);
    let wanted = |k: &str| expected[k].as_u64().unwrap() as usize;
    assert_eq!(counts, (wanted("treated_persons"), wanted("comparison_persons"), wanted("persons")), "{name}");
    assert_eq!(study.curve.len(), array(&expected["curve"]).len(), "{name}: curve points");
    for (point, want) in study.curve.iter().zip(array(&expected["curve"])) {
        let what = format!("{name}: event {}", point.event);
        assert_eq!(point.event, want["event"].as_i64().unwrap(), "{what}");
        assert_eq!(
            (point.cohorts as u64, point.treated_persons as u64),
            (want["cohorts"].as_u64().unwrap(), want["treated_persons"].as_u64().unwrap()),
            "{what}"
        );
        assert_test(point.test.as_ref(), &want["test"], &what);
    }
    assert_eq!(study.cohorts.len(), array(&expected["cohorts"]).len(), "{name}: cohorts");
    for (cohort, want) in study.cohorts.iter().zip(array(&expected["cohorts"])) {
        let what = format!("{name}: cohort {}", cohort.cohort_start_us);
        assert_eq!(cohort.cohort_start_us, want["cohort_start_us"].as_i64().unwrap(), "{what}");
        assert_eq!(cohort.treated_persons as u64, want["treated_persons"].as_u64().unwrap(), "{what}");
        assert_test(cohort.test.as_ref(), &want["test"], &what);
    }
    assert_eq!(study.cells.len(), array(&expected["cells"]).len(), "{name}: group-time cells");
    for (cell, want) in study.cells.iter().zip(array(&expected["cells"])) {
        let what = format!("{name}: ATT({}, {})", cell.cohort_start_us, cell.event);
        assert_eq!(
            (cell.cohort_start_us, cell.event),
            (want["cohort_start_us"].as_i64().unwrap(), want["event"].as_i64().unwrap()),
            "{what}"
        );
        let sizes = (cell.treated_persons as u64, cell.comparison_persons as u64);
        assert_eq!(
            sizes,
            (want["treated_persons"].as_u64().unwrap(), want["comparison_persons"].as_u64().unwrap()),
            "{what}"
        );
        assert_test(cell.test.as_ref(), &want["test"], &what);
    }
}

fn assert_non_inferiority(result: &NonInferiority, expected: &Value, name: &str) {
    let status = serde_json::to_value(result.status).unwrap();
    assert_eq!(status, expected["status"], "{name}: guardrail status");
    let figures = [
        ("p_value", result.p_value),
        ("worsened_p_value", result.worsened_p_value),
        ("worsening", result.worsening),
        ("worsening_upper_bound", result.worsening_upper_bound),
        ("t", result.t),
    ];
    for (key, actual) in figures {
        let actual = actual.unwrap_or_else(|| panic!("{name}: {key} missing"));
        if key.ends_with("p_value") {
            assert_probability(actual, number(expected, key), &format!("{name}: guardrail {key}"));
        } else {
            assert_close(actual, number(expected, key), &format!("{name}: guardrail {key}"));
        }
    }
}

fn assert_ancova(report: &ImpactReport, expected: &Value, name: &str) {
    let adjusted = report.adjusted.as_ref().unwrap_or_else(|| panic!("{name}: no ANCOVA"));
    assert_test(Some(&adjusted.test), &expected["test"], &format!("{name}: ANCOVA"));
    assert_close(adjusted.pre_slope, number(expected, "pre_slope"), &format!("{name}: pre slope"));
    assert_close(adjusted.interval_width, number(expected, "interval_width"), name);
    assert_close(adjusted.unadjusted_interval_width.unwrap(), number(expected, "unadjusted_interval_width"), name);
    assert_close(adjusted.interval_width_saved.unwrap(), number(expected, "interval_width_saved"), name);
}

#[test]
fn staggered_group_time_effects_and_the_event_study_match_statsmodels() {
    let fixture = fixture();
    for case in array(&fixture["staggered"]) {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];

        let report = run(&case["input"], name);

        let study = report.event_study.as_ref().unwrap_or_else(|| panic!("{name}: no event study"));
        assert_event_study(study, &expected["event_study"], name);
        assert_eq!(report.main_effect(), study.overall, "{name}: the verdict rests on the overall effect");
        if !expected["ancova"].is_null() {
            assert_ancova(&report, &expected["ancova"], name);
        }
    }
}

#[test]
fn the_event_study_recovers_the_known_growing_effect_in_the_fixtures() {
    let fixture = fixture();
    let mut covered = 0;
    let mut points = 0;
    for case in array(&fixture["staggered"]) {
        let report = run(&case["input"], case["name"].as_str().unwrap());
        for point in &report.event_study.unwrap().curve {
            let truth = case["truth"]["curve"][point.event.to_string()].as_f64().unwrap();
            let test = point.test.unwrap();
            points += 1;
            covered += usize::from(test.ci_low <= truth && truth <= test.ci_high);
        }
    }
    // 95% intervals: a few misses among ~20 points are expected, most must cover.
    assert!(covered * 10 >= points * 8, "{covered} of {points} intervals cover the true effect");
}

#[test]
fn guardrails_non_inferiority_matches_scipy_and_statsmodels() {
    let fixture = fixture();
    for (group, key) in [("staggered", "event study"), ("fixed", "difference in differences")] {
        for case in array(&fixture[group]) {
            let name = format!("{} ({key})", case["name"].as_str().unwrap());
            let expected = &case["expected"];
            let margin = number(case, "guardrail_margin");

            let guardrail = run(&case["guardrail_input"], &name);
            let result = non_inferiority(guardrail.main_effect().as_ref(), KpiDirection::HigherIsBetter, margin);

            if group == "staggered" {
                assert_test(guardrail.main_effect().as_ref(), &expected["guardrail_event_study_overall"], &name);
            }
            assert_non_inferiority(&result, &expected["guardrail_non_inferiority"], &name);
        }
    }
}

#[test]
fn ancova_and_dose_response_match_statsmodels_and_scipy() {
    let fixture = fixture();
    for case in array(&fixture["fixed"]) {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];

        let report = run(&case["input"], name);

        assert_test(report.did_test.as_ref(), &expected["did"], &format!("{name}: DiD"));
        assert_ancova(&report, &expected["ancova"], name);
        let dose = report.dose_response.as_ref().unwrap_or_else(|| panic!("{name}: no dose response"));
        assert_test(dose.per_unit.as_ref(), &expected["dose"]["per_unit"], &format!("{name}: per dose unit"));
        let levels = array(&expected["dose"]["levels"]);
        assert_eq!(dose.levels.len(), levels.len(), "{name}: dose levels");
        for (level, want) in dose.levels.iter().zip(levels) {
            let what = format!("{name}: dose {}", level.dose);
            assert_eq!(level.persons as u64, want["persons"].as_u64().unwrap(), "{what}");
            match want["test"].is_null() {
                true => assert_eq!(level.test, None, "{what}"),
                false => assert_test(level.test.as_ref(), &want["test"], &what),
            }
        }
    }
}

#[test]
fn holm_and_benjamini_hochberg_match_statsmodels_multipletests() {
    let fixture = fixture();
    for (index, case) in array(&fixture["multiplicity"]).iter().enumerate() {
        let p: Vec<f64> = array(&case["p_values"]).iter().map(|v| v.as_f64().unwrap()).collect();
        let family = Multiplicity::of(p.iter().enumerate().map(|(i, p)| (format!("h{i}"), *p)).collect());
        for (i, ((h, q), finding)) in holm(&p).iter().zip(benjamini_hochberg(&p)).zip(&family.findings).enumerate() {
            let what = format!("family {index}, hypothesis {i}");
            assert_close(*h, array(&case["holm"])[i].as_f64().unwrap(), &format!("{what}: Holm"));
            assert_close(q, array(&case["bh"])[i].as_f64().unwrap(), &format!("{what}: BH"));
            assert_eq!(finding.survives_holm, array(&case["holm_reject"])[i].as_bool().unwrap(), "{what}");
            assert_eq!(finding.survives_bh, array(&case["bh_reject"])[i].as_bool().unwrap(), "{what}");
        }
    }
}

#[test]
fn event_study_intervals_cover_the_growing_effect_at_their_nominal_rate_over_100_seeds() {
    use fluency::impact::simulation::{coverage, Panel};
    use fluency::impact::staggered::StaggeredComparison;

    for comparison in [StaggeredComparison::NotYetTreated, StaggeredComparison::NeverTreated] {
        let result = coverage(&Panel::default(), comparison, 4, 8, 100);

        let (covered, estimated) = result.by_event.values().fold((0, 0), |(c, e), (pc, pe)| (c + pc, e + pe));
        for (event, (c, e)) in &result.by_event {
            assert_eq!(*e, 100, "{comparison:?}: every seed estimates event {event}");
            assert!(*c >= 90, "{comparison:?}: event {event} covered in only {c} of 100 seeds");
        }
        assert!(covered * 100 >= 92 * estimated, "{comparison:?}: pooled coverage {covered} of {estimated}");
        assert!(result.overall_covered >= 90, "{comparison:?}: overall covered {} of 100", result.overall_covered);
    }
}

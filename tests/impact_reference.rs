//! Checks the impact statistics against SciPy: `scripts/impact_reference.py` wrote the fixtures
//! in `tests/fixtures/impact/` (inputs plus SciPy's figures); this test needs no Python.
//!
//! Tolerance: every figure must match to 1e-6, absolute for values up to 1 in magnitude and
//! relative beyond (|actual − expected| ≤ 1e-6 · max(1, |expected|)). Probabilities above 1e-290
//! must in addition match to 1e-8 relative, so tiny p-values are checked too, not just "≈ 0".

use fluency::impact::stats::{
    self, normal_cdf, normal_quantile, student_t_cdf, student_t_quantile, student_t_two_sided_p, Summary,
};
use fluency::impact::{analyze, roi, ImpactInput, RoiInput, TTest, Verdict};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/impact/{name}.json", env!("CARGO_MANIFEST_DIR"));
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
        "{what}: got {actual}, SciPy says {expected} (difference {})",
        (actual - expected).abs()
    );
}

fn assert_probability(actual: f64, expected: f64, what: &str) {
    assert_close(actual, expected, what);
    if expected > 1e-290 {
        let relative = (actual - expected).abs() / expected;
        assert!(relative <= 1e-8, "{what}: got {actual}, SciPy says {expected} (relative difference {relative})");
    }
}

fn assert_test(test: &TTest, expected: &Value, prefix: &str, case: &str) {
    for (key, actual) in [("diff", test.diff), ("se", test.se), ("df", test.df), ("t", test.t)] {
        assert_close(actual, number(expected, key), &format!("{case}: {prefix}{key}"));
    }
    assert_probability(test.p_value, number(expected, "p_value"), &format!("{case}: {prefix}p_value"));
    assert_close(test.ci_low, number(expected, "ci_low"), &format!("{case}: {prefix}ci_low"));
    assert_close(test.ci_high, number(expected, "ci_high"), &format!("{case}: {prefix}ci_high"));
}

fn values(value: &Value) -> Vec<f64> {
    value.as_array().expect("an array").iter().map(|v| v.as_f64().expect("a number")).collect()
}

fn cases(fixture: &Value) -> &Vec<Value> {
    fixture["cases"].as_array().expect("cases")
}

#[test]
fn student_t_cdf_and_two_sided_p_match_scipy() {
    let fixture = fixture("distributions");
    for case in fixture["t_cdf"].as_array().unwrap() {
        let (t, df) = (number(case, "t"), number(case, "df"));
        let what = format!("t = {t}, df = {df}");
        assert_probability(student_t_cdf(t, df).unwrap(), number(case, "cdf"), &format!("cdf at {what}"));
        assert_probability(student_t_two_sided_p(t, df).unwrap(), number(case, "two_sided_p"), &format!("p at {what}"));
    }
}

#[test]
fn student_t_quantiles_match_scipy() {
    let fixture = fixture("distributions");
    for case in fixture["t_ppf"].as_array().unwrap() {
        let (p, df) = (number(case, "p"), number(case, "df"));
        assert_close(student_t_quantile(p, df).unwrap(), number(case, "t"), &format!("t quantile p = {p}, df = {df}"));
    }
}

#[test]
fn normal_cdf_and_quantiles_match_scipy() {
    let fixture = fixture("distributions");
    for case in fixture["norm_cdf"].as_array().unwrap() {
        let z = number(case, "z");
        assert_probability(normal_cdf(z), number(case, "cdf"), &format!("normal cdf at {z}"));
    }
    for case in fixture["norm_ppf"].as_array().unwrap() {
        let p = number(case, "p");
        assert_close(normal_quantile(p).unwrap(), number(case, "z"), &format!("normal quantile at {p}"));
    }
}

#[test]
fn welch_hedges_mde_and_one_sample_tests_match_scipy() {
    let fixture = fixture("welch");
    for case in cases(&fixture) {
        let name = case["name"].as_str().unwrap();
        let (a, b) = (values(&case["a"]), values(&case["b"]));
        let expected = &case["expected"];

        let (sa, sb) = (Summary::of(&a).unwrap(), Summary::of(&b).unwrap());
        assert_close(sa.mean, number(expected, "mean_a"), &format!("{name}: mean a"));
        assert_close(sa.variance, number(expected, "var_a"), &format!("{name}: variance a"));
        assert_close(sb.mean, number(expected, "mean_b"), &format!("{name}: mean b"));
        assert_close(sb.variance, number(expected, "var_b"), &format!("{name}: variance b"));
        assert_test(&stats::welch(&a, &b).unwrap(), expected, "", name);
        assert_close(stats::hedges_g(&a, &b).unwrap(), number(expected, "hedges_g"), &format!("{name}: hedges_g"));
        assert_close(
            stats::minimum_detectable_effect(&sa, &sb).unwrap(),
            number(expected, "mde"),
            &format!("{name}: mde"),
        );
        assert_test(
            &stats::one_sample_t(&a, sb.mean).unwrap(),
            &expected["one_sample_a_vs_mean_b"],
            "one sample ",
            name,
        );
        if let Some(paired) = expected.get("paired_b_minus_a") {
            let test = stats::paired_t(&a, &b).unwrap();
            assert_close(test.diff, number(paired, "diff"), &format!("{name}: paired diff"));
            assert_close(test.t, number(paired, "t"), &format!("{name}: paired t"));
            assert_close(test.df, number(paired, "df"), &format!("{name}: paired df"));
            assert_probability(test.p_value, number(paired, "p_value"), &format!("{name}: paired p"));
        }
    }
}

#[test]
fn difference_in_differences_matches_scipy_on_change_scores() {
    let fixture = fixture("did");
    for case in cases(&fixture) {
        let name = case["name"].as_str().unwrap();
        let input: ImpactInput = serde_json::from_value(case["input"].clone()).expect("fixture input parses");
        let expected = &case["expected"];

        let report = analyze(&input.spec, &input.data).expect("valid spec");

        let verdict = serde_json::to_value(&report.verdict).unwrap();
        assert_eq!(verdict["kind"], expected["verdict"], "{name}: verdict ({})", report.headline);
        if let Verdict::InsufficientData { reason } = &report.verdict {
            assert!(!reason.is_empty(), "{name}: a reason");
        }
        assert_eq!(report.treated.persons_analyzed as u64, expected["treated_persons_analyzed"], "{name}");
        assert_eq!(report.comparison.persons_analyzed as u64, expected["comparison_persons_analyzed"], "{name}");
        let did = report.did_test.unwrap_or_else(|| panic!("{name}: a DiD test"));
        let post = report.post_difference.unwrap_or_else(|| panic!("{name}: a post-mean test"));
        let figures = [
            ("treated_pre_mean", report.treated.pre_mean),
            ("treated_post_mean", report.treated.post_mean),
            ("treated_change", report.treated.change),
            ("comparison_pre_mean", report.comparison.pre_mean),
            ("comparison_post_mean", report.comparison.post_mean),
            ("comparison_change", report.comparison.change),
            ("difference_in_differences", report.difference_in_differences),
            ("did_se", Some(did.se)),
            ("did_df", Some(did.df)),
            ("did_t", Some(did.t)),
            ("did_ci_low", Some(did.ci_low)),
            ("did_ci_high", Some(did.ci_high)),
            ("hedges_g", report.hedges_g),
            ("minimum_detectable_effect", report.minimum_detectable_effect),
            ("post_difference_t", Some(post.t)),
            ("counterfactual_post_mean", report.counterfactual_post_mean),
            ("relative_effect", report.relative_effect),
            ("baseline_smd", report.baseline_smd),
        ];
        for (key, actual) in figures {
            let actual = actual.unwrap_or_else(|| panic!("{name}: {key} missing"));
            assert_close(actual, number(expected, key), &format!("{name}: {key}"));
        }
        assert_probability(did.p_value, number(expected, "did_p_value"), &format!("{name}: did p"));
        assert_probability(post.p_value, number(expected, "post_difference_p_value"), &format!("{name}: post p"));
        if expected.get("parallel_trend_p_value").is_some() {
            let trend = report.parallel_trend.test.unwrap_or_else(|| panic!("{name}: a trend test"));
            assert_close(trend.t, number(expected, "parallel_trend_t"), &format!("{name}: trend t"));
            assert_probability(trend.p_value, number(expected, "parallel_trend_p_value"), &format!("{name}: trend p"));
        }
    }
}

#[test]
fn phillips_roi_matches_the_reference() {
    let fixture = fixture("roi");
    for case in cases(&fixture) {
        let name = case["name"].as_str().unwrap();
        let input: RoiInput = serde_json::from_value(case["input"].clone()).expect("fixture input parses");
        let expected = &case["expected"];

        let report = roi(&input).expect("valid input");

        let figures = [
            ("benefits", Some(report.benefits)),
            ("net_benefits", Some(report.net_benefits)),
            ("benefit_cost_ratio", report.benefit_cost_ratio),
            ("roi_percent", report.roi_percent),
            ("monthly_benefit", report.monthly_benefit),
            ("payback_months", report.payback_months),
        ];
        for (key, actual) in figures {
            match (actual, expected[key].as_f64()) {
                (Some(actual), Some(expected)) => assert_close(actual, expected, &format!("{name}: {key}")),
                (None, None) => {}
                (actual, expected) => panic!("{name}: {key} is {actual:?}, expected {expected:?}"),
            }
        }
    }
}

//! The README's demo, as a user runs it: `fluency demo load` then `fluency impact --spec`
//! on the real binary. The summary states the verdict and the claim with its CSAT guardrail,
//! and the HTML report is a complete, self-contained page with the trend, effect and
//! event-study charts (an SVG structure check: no browser needed).

use std::process::Command;

fn fluency(data_dir: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_fluency"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("FLUENCY_LOG", "warn")
        .output()
        .expect("the fluency binary runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "fluency {args:?}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[test]
fn the_demo_report_states_the_claim_with_its_guardrail_and_draws_the_trend_effect_and_event_study_charts() {
    let workspace = tempfile::tempdir().unwrap();
    let data = workspace.path().join("data");
    let spec = workspace.path().join("demo-impact.toml");

    fluency(&data, &["demo", "load", "--agents", "120"]);
    let summary = fluency(&data, &["impact", "--spec", spec.to_str().unwrap()]);

    assert!(summary.contains("Verdict: improved"), "{summary}");
    assert!(summary.contains("Difference in differences: -"), "{summary}");
    assert!(summary.contains("Claim: Claim supported: Average handling time improved by "), "{summary}");
    assert!(summary.contains("Customer satisfaction held within 2 points"), "{summary}");
    assert!(summary.contains("Staggered training (60 trained"), "{summary}");
    assert!(summary.contains("  7 weeks since training: -"), "{summary}");
    let html = std::fs::read_to_string(workspace.path().join("demo-impact.html")).expect("the report is written");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(!html.contains("<script") && !html.contains(" src=") && !html.contains("<link"), "self-contained");
    let charts: Vec<&str> = html.split("<svg").skip(1).map(|rest| &rest[..rest.find("</svg>").unwrap()]).collect();
    assert_eq!(charts.len(), 3, "a trend chart, an effect chart and the event study");
    let (trend, effect, event_study) = (charts[0], charts[1], charts[2]);
    assert_eq!(trend.matches("<polyline").count(), 2, "one line per group");
    assert!(trend.contains("class=\"intervention\""), "the treatment date is marked");
    assert!(trend.matches("<circle").count() >= 2 * 8, "one point per week and group");
    assert!(effect.contains("class=\"ci\"") && effect.contains("class=\"estimate\""), "the effect with its interval");
    assert!(event_study.starts_with(" class=\"event-study\""), "the third chart is the event study");
    assert_eq!(event_study.matches("class=\"event-point\"").count(), 11, "4 weeks before (less the base) and 8 after");
    assert_eq!(event_study.matches("class=\"event-ci\"").count(), 11, "each with its interval");
    assert!(event_study.contains("class=\"training\"") && event_study.contains("Weeks since training"));
    assert!(html.contains("<p class=\"claim supported\">Claim supported: Average handling time improved by "));
    assert!(html.contains("<table class=\"guardrails\">") && html.contains("class=\"status held\""));
    assert!(html.contains("<table class=\"dose\">") && html.contains("<td>4 or more</td>"));
    assert!(html.contains("<table class=\"multiplicity\">") && html.contains("Customer satisfaction (guardrail)"));
    assert!(html.contains("<table class=\"adjusted\">"), "ANCOVA beside the unadjusted estimate");
    assert!(html.contains("<table class=\"roi\">") && html.contains("EUR"), "the ROI of the demo's money section");
    assert!(!html.contains("NaN") && !html.contains("inf\""));
}

#[test]
fn a_mistaken_spec_file_is_refused_naming_the_field_and_its_line() {
    let workspace = tempfile::tempdir().unwrap();
    let spec = workspace.path().join("typo.toml");
    let text = "kpi = \"https://example.com/kpi/aht\"\n[treated]\nverb = \"http://adlnet.gov/expapi/verbs/completed\"\n\
                [windows]\npre_days = 28\npost_days = 42\n[[guardrails]]\nkpi = \"https://example.com/kpi/csat\"\nmargin = \"two\"\n";
    std::fs::write(&spec, text).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_fluency"))
        .arg("--data-dir")
        .arg(workspace.path().join("data"))
        .args(["impact", "--spec", spec.to_str().unwrap()])
        .env("FLUENCY_LOG", "warn")
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("is not an impact spec: guardrails[0].margin: "), "{stderr}");
    assert!(stderr.contains("line 9, column 10"), "the TOML error points at the value: {stderr}");
    assert!(stderr.contains("expected f64"), "and says what was expected: {stderr}");
}

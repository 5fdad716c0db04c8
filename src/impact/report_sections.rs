//! The report's sections beyond the single-KPI figures: the claim, the event study of a
//! staggered design, the ANCOVA adjustment, dose-response, guardrails and the many-comparison
//! table. Rendered by `report::render_html_with`; every text is escaped.

use std::fmt::Write;

use super::analysis::ImpactReport;
use super::chart_event::event_study_chart;
use super::claim::Claim;
use super::format::{escape, number, p_value, percent, signed};
use super::guardrail::NonInferiority;
use super::headline::unit;
use super::multiplicity::Multiplicity;
use super::stats::TTest;

pub(crate) const STYLE: &str = ".claim{font-size:1.1em;font-weight:600;padding:12px 16px;border-left:6px solid #888}\
.claim.supported{border-color:#1a7f37}.claim.guardrail_harmed,.claim.not_improved{border-color:#cf222e}\
.claim.guardrails_not_shown{border-color:#9a6700}.roi-warning{padding:8px 12px;background:#fff8c5;border-left:4px solid #9a6700}";

/// A guardrail KPI as the report shows it.
pub struct GuardrailSection<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub report: &'a ImpactReport,
    pub result: &'a NonInferiority,
}

/// What an analysis of several KPIs adds to the report.
#[derive(Default)]
pub struct Sections<'a> {
    pub claim: Option<&'a Claim>,
    pub guardrails: Vec<GuardrailSection<'a>>,
    pub multiplicity: Option<&'a Multiplicity>,
    pub cohort_multiplicity: Option<&'a Multiplicity>,
    pub roi_warning: Option<&'a str>,
    /// ROI % at the two ends of the effect's 95% CI (lowest first).
    pub roi_interval: Option<(Option<f64>, Option<f64>)>,
}

fn interval(test: &TTest, unit: &str) -> String {
    format!(
        "{} {unit} (95% CI {} to {}, {})",
        signed(test.diff),
        number(test.ci_low),
        number(test.ci_high),
        p_value(test.p_value)
    )
}

fn optional_test(test: Option<&TTest>, unit: &str) -> String {
    test.map_or_else(|| "n/a".to_string(), |t| interval(t, unit))
}

pub(crate) fn claim(html: &mut String, claim: Option<&Claim>) {
    if let Some(claim) = claim {
        let kind = serde_json::to_value(claim.verdict).ok().and_then(|v| v.as_str().map(str::to_string));
        let _ = write!(html, "<p class=\"claim {}\">{}</p>", kind.unwrap_or_default(), escape(&claim.sentence));
    }
}

pub(crate) fn roi_caveats(html: &mut String, extra: &Sections<'_>) {
    if let Some(warning) = extra.roi_warning {
        let _ = write!(html, "<p class=\"roi-warning\">{}</p>", escape(warning));
    }
    if let Some((low, high)) = extra.roi_interval {
        let show = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{}%", number(p)));
        let _ = write!(
            html,
            "<p class=\"roi-interval\">Over the effect's 95% confidence interval the ROI runs from {} to {}.</p>",
            show(low),
            show(high)
        );
    }
}

pub(crate) fn event_study(html: &mut String, report: &ImpactReport) {
    let Some(study) = &report.event_study else { return };
    let unit = unit(&report.spec);
    let _ = write!(html, "<h2>Effect by time since training (staggered dates)</h2>{}", event_study_chart(study, unit));
    let comparison = match study.comparison {
        super::staggered::StaggeredComparison::NotYetTreated => "persons not yet trained (and never trained)",
        super::staggered::StaggeredComparison::NeverTreated => "persons never trained",
    };
    let rows = [
        ("Overall effect after training", optional_test(study.overall.as_ref(), unit)),
        ("Relative effect", study.relative_effect.map_or("n/a".into(), percent)),
        ("Placebo: average effect before training", optional_test(study.pre_trend.as_ref(), unit)),
        ("Compared with", comparison.to_string()),
        (
            "Persons",
            format!("{} trained, {} comparison (after training)", study.treated_persons, study.comparison_persons),
        ),
    ];
    html.push_str("<table class=\"event-study\"><tbody>");
    for (label, value) in rows {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(label), escape(&value));
    }
    html.push_str("</tbody></table><table class=\"cohorts\"><thead><tr><th>Cohort (training period from)</th><th>Persons</th><th>Effect after training</th></tr></thead><tbody>");
    for cohort in &study.cohorts {
        let date = chrono::DateTime::from_timestamp_micros(cohort.cohort_start_us)
            .map_or("n/a".to_string(), |d| d.format("%Y-%m-%d").to_string());
        let _ = write!(
            html,
            "<tr><td>{date}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            cohort.treated_persons,
            escape(&optional_test(cohort.test.as_ref(), unit))
        );
    }
    html.push_str("</tbody></table>");
}

pub(crate) fn adjusted(html: &mut String, report: &ImpactReport) {
    let Some(adjusted) = &report.adjusted else { return };
    let unit = unit(&report.spec);
    let rows = [
        ("Unadjusted (difference in differences)", optional_test(report.did_test.as_ref(), unit)),
        ("Adjusted for the pre-period KPI (ANCOVA)", interval(&adjusted.test, unit)),
        (
            "Interval width saved",
            adjusted.interval_width_saved.map_or("n/a".into(), |s| format!("{}%", number(s * 100.0))),
        ),
        ("Weight of the pre-period level (slope)", number(adjusted.pre_slope)),
    ];
    html.push_str("<h2>Variance reduction</h2><table class=\"adjusted\"><tbody>");
    for (label, value) in rows {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(label), escape(&value));
    }
    html.push_str("</tbody></table>");
}

pub(crate) fn dose(html: &mut String, report: &ImpactReport) {
    let Some(dose) = &report.dose_response else { return };
    let unit = unit(&report.spec);
    html.push_str("<h2>Dose-response</h2><table class=\"dose\"><thead><tr><th>Dose</th><th>Persons</th><th>Effect against the comparison group</th></tr></thead><tbody>");
    for level in &dose.levels {
        let label = if level.or_more { format!("{} or more", level.dose) } else { level.dose.to_string() };
        let _ = write!(
            html,
            "<tr><td>{label}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            level.persons,
            escape(&optional_test(level.test.as_ref(), unit))
        );
    }
    let _ = write!(
        html,
        "<tr><th>Per extra unit of dose</th><td></td><td>{}</td></tr></tbody></table>",
        escape(&optional_test(dose.per_unit.as_ref(), unit))
    );
}

pub(crate) fn guardrails(html: &mut String, guardrails: &[GuardrailSection<'_>]) {
    if guardrails.is_empty() {
        return;
    }
    html.push_str("<h2>Guardrails</h2><table class=\"guardrails\"><thead><tr><th>KPI</th><th>Change</th><th>Margin</th><th>Worst plausible worsening</th><th>Status</th></tr></thead><tbody>");
    for g in guardrails {
        let bound = g.result.worsening_upper_bound.map_or("n/a".into(), |b| format!("{} {}", number(b), g.unit));
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{} {}</td><td class=\"num\">{}</td><td class=\"status {}\">{}</td></tr>",
            escape(g.name),
            escape(&optional_test(g.report.main_effect().as_ref(), g.unit)),
            number(g.result.margin),
            escape(g.unit),
            escape(&bound),
            serde_json::to_value(g.result.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            g.result.status.label(),
        );
    }
    html.push_str("</tbody></table><p class=\"notes\">A guardrail holds when a one-sided test at α = 0.05 shows that it did not worsen by its margin or more: the one-sided 95% bound of its worsening is below the margin.</p>");
}

/// A p- or q-value for a table cell: "< 0.001" or three decimals.
fn probability(p: f64) -> String {
    if p < 0.001 {
        "&lt; 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

pub(crate) fn multiplicity(html: &mut String, title: &str, family: Option<&Multiplicity>) {
    let Some(family) = family else { return };
    let _ = write!(
        html,
        "<h2>{}</h2><table class=\"multiplicity\"><thead><tr><th>Test</th><th>p</th><th>Holm p</th><th>BH q</th><th>Survives</th></tr></thead><tbody>",
        escape(title)
    );
    for f in &family.findings {
        let survives = match (f.survives_holm, f.survives_bh) {
            (true, _) => "yes (Holm and BH)",
            (false, true) => "at a 5% false discovery rate only",
            (false, false) => "no",
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{survives}</td></tr>",
            escape(&f.label),
            probability(f.p_value),
            probability(f.holm_p_value),
            probability(f.bh_q_value),
        );
    }
    html.push_str("</tbody></table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::chart::tests::example;
    use crate::impact::claim::ClaimVerdict;
    use crate::impact::guardrail::non_inferiority;
    use crate::impact::input::KpiDirection;
    use crate::impact::report::{render_html_with, RoiSection};
    use crate::impact::roi::{roi, RoiInput};

    #[test]
    fn the_claim_guardrails_and_roi_caveats_are_shown_and_escaped() {
        let (report, trend) = example(KpiDirection::HigherIsBetter, 4.0);
        let claim = Claim { verdict: ClaimVerdict::GuardrailHarmed, sentence: "<b>CSAT</b> fell".into() };
        let harmed = non_inferiority(TTest::from_parts(-3.0, 0.5, 30.0).as_ref(), KpiDirection::HigherIsBetter, 1.0);
        let family = Multiplicity::of(vec![("Sales & more".into(), 0.0004), ("CSAT".into(), 0.2)]);
        let money = roi(&RoiInput {
            effect_per_person_per_period: 1.0,
            direction: KpiDirection::HigherIsBetter,
            value_per_unit: 10.0,
            persons: 10,
            periods: 1.0,
            months_per_period: 12.0,
            costs: 50.0,
        })
        .unwrap();
        let extra = Sections {
            claim: Some(&claim),
            guardrails: vec![GuardrailSection { name: "CSAT <x>", unit: "points", report: &report, result: &harmed }],
            multiplicity: Some(&family),
            cohort_multiplicity: None,
            roi_warning: Some("not significant <really>"),
            roi_interval: Some((Some(-80.0), Some(300.0))),
        };

        let html = render_html_with(&report, &trend, "T", Some(RoiSection { roi: &money, currency: "EUR" }), &extra);

        assert!(html.contains("<p class=\"claim guardrail_harmed\">&lt;b&gt;CSAT&lt;/b&gt; fell</p>"), "{html}");
        assert!(html.contains("<td>CSAT &lt;x&gt;</td>") && html.contains("class=\"status harmed\">harmed</td>"));
        assert!(html
            .contains("<td>Sales &amp; more</td><td class=\"num\">&lt; 0.001</td><td class=\"num\">&lt; 0.001</td>"));
        assert!(html.contains("<p class=\"roi-warning\">not significant &lt;really&gt;</p>"));
        assert!(html.contains("the ROI runs from -80% to 300%."));
        assert!(html.find("roi-warning").unwrap() < html.find("<table class=\"roi\">").unwrap(), "caveat first");
        assert!(!html.contains("<really>") && !html.contains("<b>"));
    }
}

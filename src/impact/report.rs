//! A self-contained HTML impact report (inline CSS and SVG, no script, no external asset), so it
//! can be mailed, attached or archived as one file. Rendered from an `ImpactReport` and its
//! `TrendSeries`; called by the CLI and the API.

use std::fmt::Write;

use super::analysis::{ImpactReport, TrendCheckStatus, Verdict};
use super::chart::{effect_chart, trend_chart};
use super::format::{escape, number, p_value, percent, signed};
use super::input::KpiDirection;
use super::report_sections::{self as sections, Sections};
use super::roi::RoiReport;
use super::stats::TTest;
use super::trend::TrendSeries;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;margin:0;background:#fafafa}\
main{max-width:760px;margin:0 auto;padding:24px;background:#fff}\
h1{font-size:1.5em;margin:0 0 12px}h2{font-size:1.15em;margin:28px 0 8px}\
.headline{font-size:1.1em;padding:12px 16px;border-left:6px solid #888;background:#f4f4f4}\
.headline.improved{border-color:#1a7f37}.headline.worsened{border-color:#cf222e}\
.headline.no_detectable_effect{border-color:#9a6700}.headline.insufficient_data{border-color:#888}\
.warnings li{margin:4px 0}table{border-collapse:collapse;width:100%;font-size:.95em}\
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #ddd}td.num{text-align:right;font-variant-numeric:tabular-nums}\
svg{width:100%;height:auto;font-size:11px}svg .axis-label{font-size:12px}svg .annotation{font-size:11px;fill:#444}\
.notes{font-size:.9em;color:#444}";

/// Phillips ROI to show with the report, in `currency` (any label, e.g. "EUR").
pub struct RoiSection<'a> {
    pub roi: &'a RoiReport,
    pub currency: &'a str,
}

/// Render the full HTML document. `title` names the study (e.g. "Handle time after the
/// de-escalation module"); every text is escaped.
pub fn render_html(report: &ImpactReport, trend: &TrendSeries, title: &str, roi: Option<RoiSection<'_>>) -> String {
    render_html_with(report, trend, title, roi, &Sections::default())
}

/// The report with the sections of an analysis of several KPIs (claim, guardrails, many
/// comparisons); staggered, adjusted and dose figures come from `report` itself.
pub fn render_html_with(
    report: &ImpactReport,
    trend: &TrendSeries,
    title: &str,
    roi: Option<RoiSection<'_>>,
    extra: &Sections<'_>,
) -> String {
    let mut html = String::new();
    let kind = match &report.verdict {
        Verdict::InsufficientData { .. } => "insufficient_data",
        Verdict::Improved => "improved",
        Verdict::Worsened => "worsened",
        Verdict::NoDetectableEffect => "no_detectable_effect",
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{STYLE}{extra_style}</style></head>\
         <body><main><h1>{title}</h1><p class=\"headline {kind}\">{headline}</p>",
        title = escape(title),
        headline = escape(&report.headline),
        extra_style = sections::STYLE,
    );
    sections::claim(&mut html, extra.claim);
    if !report.warnings.is_empty() {
        html.push_str("<h2>Before you rely on this</h2><ul class=\"warnings\">");
        for warning in &report.warnings {
            let _ = write!(html, "<li>{}</li>", escape(&warning.message));
        }
        html.push_str("</ul>");
    }
    let _ = write!(html, "<h2>KPI over time</h2>{}", trend_chart(report, trend));
    let _ = write!(html, "<h2>Effect</h2>{}", effect_chart(report));
    sections::event_study(&mut html, report);
    group_table(&mut html, report);
    effect_table(&mut html, report);
    sections::adjusted(&mut html, report);
    sections::dose(&mut html, report);
    sections::guardrails(&mut html, &extra.guardrails);
    sections::multiplicity(&mut html, "Many KPIs: adjusted p-values", extra.multiplicity);
    sections::multiplicity(&mut html, "Many cohorts: adjusted p-values", extra.cohort_multiplicity);
    if let Some(section) = roi {
        sections::roi_caveats(&mut html, extra);
        roi_table(&mut html, &section);
    }
    notes(&mut html, report);
    html.push_str("</main></body></html>\n");
    html
}

fn roi_table(html: &mut String, section: &RoiSection<'_>) {
    let roi = section.roi;
    let money = |value: f64| format!("{} {}", number(value), escape(section.currency));
    html.push_str("<h2>Return on investment (Phillips)</h2><table class=\"roi\"><tbody>");
    let rows = [
        ("Benefits", money(roi.benefits)),
        ("Costs", money(roi.costs)),
        ("Net benefits", money(roi.net_benefits)),
        ("Benefit-cost ratio", optional(roi.benefit_cost_ratio, number)),
        ("ROI", optional(roi.roi_percent, |p| format!("{}%", number(p)))),
        ("Payback", optional(roi.payback_months, |m| format!("{} months", number(m)))),
    ];
    for (label, value) in rows {
        let _ = write!(html, "<tr><th>{label}</th><td class=\"num\">{value}</td></tr>");
    }
    html.push_str("</tbody></table>");
}

fn optional(value: Option<f64>, show: fn(f64) -> String) -> String {
    value.map_or_else(|| "n/a".to_string(), show)
}

fn group_table(html: &mut String, report: &ImpactReport) {
    let (t, c) = (&report.treated, &report.comparison);
    html.push_str("<h2>Groups</h2><table class=\"groups\"><thead><tr><th></th><th>Treated</th><th>Comparison</th></tr></thead><tbody>");
    let counts = [
        ("Persons observed", t.persons_observed, c.persons_observed),
        ("Left out: no treatment date", t.persons_without_date, c.persons_without_date),
        ("Analysed (data before and after)", t.persons_analyzed, c.persons_analyzed),
    ];
    for (label, treated, comparison) in counts {
        let _ = write!(
            html,
            "<tr><th>{label}</th><td class=\"num\">{treated}</td><td class=\"num\">{comparison}</td></tr>"
        );
    }
    let figures = [
        ("Mean before", t.pre_mean, c.pre_mean, number as fn(f64) -> String),
        ("Mean after", t.post_mean, c.post_mean, number),
        ("Change", t.change, c.change, signed),
        ("SD of the change", t.change_sd, c.change_sd, number),
    ];
    for (label, treated, comparison, show) in figures {
        let _ = write!(
            html,
            "<tr><th>{label}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            optional(treated, show),
            optional(comparison, show)
        );
    }
    html.push_str("</tbody></table>");
}

fn interval(test: Option<TTest>) -> String {
    test.map_or_else(
        || "n/a".to_string(),
        |t| {
            format!("{} (95% CI {} to {}, {})", signed(t.diff), number(t.ci_low), number(t.ci_high), p_value(t.p_value))
        },
    )
}

fn effect_table(html: &mut String, report: &ImpactReport) {
    let trend = &report.parallel_trend;
    let trend_text = match trend.status {
        TrendCheckStatus::NotChecked => "not checked".to_string(),
        TrendCheckStatus::InsufficientData => "too little data to check".to_string(),
        TrendCheckStatus::Consistent => {
            format!("no divergence detected ({})", p_value(trend.test.map_or(1.0, |t| t.p_value)))
        }
        TrendCheckStatus::Violated => {
            format!("groups diverged before ({})", p_value(trend.test.map_or(0.0, |t| t.p_value)))
        }
    };
    let did = match (report.did_test, report.difference_in_differences) {
        (None, Some(estimate)) => format!("{} (no interval: the changes do not vary)", signed(estimate)),
        (test, _) => interval(test),
    };
    let rows = [
        ("Difference in differences", did),
        ("Expected treated mean without the intervention", optional(report.counterfactual_post_mean, number)),
        ("Relative effect", optional(report.relative_effect, percent)),
        ("Hedges' g of the changes", optional(report.hedges_g, number)),
        (
            "Minimum detectable effect (80% power, α = 0.05)",
            optional(report.minimum_detectable_effect, |m| format!("±{}", number(m))),
        ),
        ("Difference after, ignoring the baseline", interval(report.post_difference)),
        ("Standardized difference before", optional(report.baseline_smd, number)),
        ("Parallel trends", trend_text),
    ];
    html.push_str("<h2>Figures</h2><table class=\"figures\"><tbody>");
    for (label, value) in rows {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(label), escape(&value));
    }
    html.push_str("</tbody></table>");
}

fn notes(html: &mut String, report: &ImpactReport) {
    let spec = &report.spec;
    let direction = match spec.direction {
        KpiDirection::HigherIsBetter => "higher values are better",
        KpiDirection::LowerIsBetter => "lower values are better",
    };
    let lag =
        if spec.post_lag_days > 0 { format!(", starting {} days after it", spec.post_lag_days) } else { String::new() };
    let _ = write!(
        html,
        "<h2>How these figures were computed</h2><p class=\"notes\">Each person's KPI is averaged over the {pre} days \
         before their treatment date and the {post} days after it{lag}; only persons with data in both windows count \
         (at least {min} per group for a verdict). The effect is the treated group's mean change minus the comparison \
         group's (difference in differences), with a Welch t-test for its 95% confidence interval; {direction}. It \
         is causal only if both groups would have moved alike without the intervention.</p>",
        pre = spec.pre_days,
        post = spec.post_days,
        min = spec.min_persons_per_group,
    );
}

#[cfg(test)]
mod tests {
    use super::super::chart::tests::{attr, elements, example};
    use super::*;

    #[test]
    fn the_report_is_one_self_contained_document_with_both_charts() {
        let (report, trend) = example(KpiDirection::HigherIsBetter, 4.0);

        let html = render_html(&report, &trend, "Sales after the negotiation module", None);

        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(html.matches("<svg ").count(), 2);
        assert_eq!(html.matches("</svg>").count(), 2);
        assert!(html.contains("<p class=\"headline improved\">Improved: "));
        let tables: Vec<&str> = elements(&html, "table").into_iter().map(|t| attr(t, "class")).collect();
        assert_eq!(tables, ["groups", "figures", "adjusted"], "groups, figures and the ANCOVA beside the DiD");
        for external in ["<script", "src=", "href=", "@import", "url("] {
            assert!(!html.contains(external), "no external asset or script: {external}");
        }
        assert!(!html.contains("NaN"));
    }

    #[test]
    fn all_text_is_escaped() {
        let (mut report, trend) = example(KpiDirection::HigherIsBetter, 4.0);
        report.headline = "<b>bold</b> & \"quoted\"".into();

        let html = render_html(&report, &trend, "<script>alert('x')</script>", None);

        assert!(!html.contains("<script>") && !html.contains("<b>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"));
    }

    #[test]
    fn warnings_and_missing_figures_are_shown_plainly() {
        let spec = crate::impact::ImpactSpec {
            intervention_us: Some(0),
            selected_by_kpi: true,
            ..crate::impact::ImpactSpec::new(KpiDirection::LowerIsBetter, 7, 7)
        };
        let empty = crate::impact::ImpactData::default();
        let report = crate::impact::analyze(&spec, &empty).unwrap();
        let trend = crate::impact::trend::trend_series(&spec, &empty, 7).unwrap();

        let html = render_html(&report, &trend, "Empty", None);

        assert!(html.contains("class=\"headline insufficient_data\""));
        assert!(html.contains("<ul class=\"warnings\">"));
        assert!(html.contains("selected by their KPI values"));
        assert!(html.contains("<td>n/a</td>"));
        assert!(!html.contains("NaN"));
    }
}

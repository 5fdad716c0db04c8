//! `fluency impact --spec FILE.toml`: runs an impact analysis on the local store (or asks
//! a running server with `--url`), prints a readable summary and writes the HTML report.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use crate::config::Settings;
use crate::impact::format::p_value;
use crate::impact::Verdict;
use crate::kpi::command::Destination;
use crate::service::impact::{run_impact, ImpactAnswer, ImpactRequest};
use crate::service::impact_study::render_answer_html;
use crate::startup::open_store;

#[derive(Debug, Args)]
pub struct ImpactArgs {
    /// The analysis, as TOML (the same fields as the JSON of `POST /api/impact`).
    #[arg(long)]
    pub spec: PathBuf,
    /// Where to write the HTML report; by default beside the spec, as `<spec>.html`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A running Fluency server to ask instead of opening the local store.
    #[command(flatten)]
    pub server: Destination,
}

pub async fn impact(settings: Settings, args: ImpactArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.spec).with_context(|| format!("reading {}", args.spec.display()))?;
    let request = ImpactRequest::from_toml(&text)
        .map_err(|e| anyhow::anyhow!("{} is not an impact spec: {e}", args.spec.display()))?;
    let mut answer = match (&args.server.url, &args.server.key, &args.server.secret) {
        (Some(url), Some(key), Some(secret)) => ask_server(url, key, secret, &request).await?,
        (Some(_), _, _) => bail!("--url needs --key and --secret"),
        _ => {
            let store = open_store(&settings)?;
            run_impact(&*store, &request)
                .await
                .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code.wire_name()))?
        }
    };
    crate::governance::suppression::suppress_small_groups(&mut answer, settings.min_group_size);
    print!("{}", summary(&answer));
    let out = args.out.unwrap_or_else(|| report_path(&args.spec));
    std::fs::write(&out, render_answer_html(&answer)).with_context(|| format!("writing {}", out.display()))?;
    println!("\nReport: {}", out.display());
    Ok(())
}

fn report_path(spec: &Path) -> PathBuf {
    spec.with_extension("html")
}

async fn ask_server(url: &str, key: &str, secret: &str, request: &ImpactRequest) -> anyhow::Result<ImpactAnswer> {
    let origin = url.trim_end_matches('/').rsplit_once('/').map_or(url, |(origin, _)| origin);
    let response = reqwest::Client::new()
        .post(format!("{origin}/api/impact"))
        .basic_auth(key, Some(secret))
        .json(request)
        .send()
        .await
        .with_context(|| format!("asking {origin}/api/impact"))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("{origin}/api/impact answered {status}: {body}");
    }
    serde_json::from_str(&body).context("reading the server's impact answer")
}

/// The figures people read first, one per line.
pub fn summary(answer: &ImpactAnswer) -> String {
    let report = &answer.report;
    let unit = answer.kpi.unit.as_deref().unwrap_or("units");
    let number = |value: Option<f64>| value.map_or("n/a".to_string(), |v| format!("{v:.2}"));
    let mut lines = vec![
        answer.title.clone(),
        format!("KPI: {} ({}, {})", answer.kpi.id, unit, answer.kpi.direction.as_str()),
        format!(
            "Persons: {} treated, {} in comparison; analysed (data before and after): {} and {}",
            answer.treated_persons,
            answer.comparison_persons,
            report.treated.persons_analyzed,
            report.comparison.persons_analyzed
        ),
        format!("Verdict: {}", verdict_text(&report.verdict)),
        report.headline.clone(),
    ];
    if let Some(claim) = &answer.claim {
        lines.push(format!("Claim: {}", claim.sentence));
    }
    if let Some(test) = &report.did_test {
        lines.push(format!(
            "Difference in differences: {:.2} {unit} (95% CI {:.2} to {:.2}, {})",
            test.diff,
            test.ci_low,
            test.ci_high,
            p_value(test.p_value)
        ));
    }
    if let Some(adjusted) = &report.adjusted {
        lines.push(format!(
            "Adjusted for the pre-period KPI (ANCOVA): {:.2} {unit} (95% CI {:.2} to {:.2}, {}); interval {}",
            adjusted.test.diff,
            adjusted.test.ci_low,
            adjusted.test.ci_high,
            p_value(adjusted.test.p_value),
            adjusted.interval_width_saved.map_or("width not comparable".into(), |s| if s >= 0.0 {
                format!("{:.1}% narrower than the unadjusted one", s * 100.0)
            } else {
                format!("{:.1}% wider than the unadjusted one", -s * 100.0)
            }),
        ));
    }
    if let Some(study) = &report.event_study {
        lines.extend(super::impact_lines::event_study(study, unit));
    }
    if let Some(dose) = &report.dose_response {
        lines.extend(super::impact_lines::dose(dose, unit));
    }
    lines.extend(super::impact_lines::guardrails(&answer.guardrails));
    for other in &answer.secondary {
        lines.push(format!(
            "Secondary {}: {}",
            other.kpi.name.as_deref().unwrap_or(&other.kpi.id),
            other.report.headline
        ));
    }
    for (title, family) in [("KPIs", &answer.multiplicity), ("cohorts", &answer.cohort_multiplicity)] {
        if let Some(family) = family {
            lines.extend(super::impact_lines::multiplicity(title, family));
        }
    }
    lines.push(format!(
        "Relative effect: {}",
        report.main_relative_effect().map_or("n/a".into(), |r| format!("{:+.1}%", r * 100.0))
    ));
    lines.push(format!(
        "Hedges' g: {}; minimum detectable effect: {} {unit}",
        number(report.hedges_g),
        number(report.minimum_detectable_effect)
    ));
    if let Some(roi) = &answer.roi {
        let currency = answer.currency.as_deref().unwrap_or("");
        lines.push(format!(
            "ROI: benefits {:.0} {currency}, costs {:.0} {currency}, benefit-cost ratio {}, ROI {}, payback {}",
            roi.benefits,
            roi.costs,
            number(roi.benefit_cost_ratio),
            roi.roi_percent.map_or("n/a".into(), |p| format!("{p:.0}%")),
            roi.payback_months.map_or("never".into(), |m| format!("{m:.1} months")),
        ));
        if let Some(range) = &answer.roi_interval {
            lines.push(format!(
                "ROI over the effect's 95% CI: {} to {}",
                range.roi_percent_low.map_or("n/a".into(), |p| format!("{p:.0}%")),
                range.roi_percent_high.map_or("n/a".into(), |p| format!("{p:.0}%")),
            ));
        }
        if let Some(warning) = &answer.roi_warning {
            lines.push(format!("Warning: {warning}"));
        }
    }
    for warning in &report.warnings {
        lines.push(format!("Warning: {}", warning.message));
    }
    lines.join("\n") + "\n"
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::InsufficientData { reason } => format!("insufficient data: {reason}"),
        Verdict::Improved => "improved".into(),
        Verdict::Worsened => "worsened".into(),
        Verdict::NoDetectableEffect => "no detectable effect".into(),
    }
}

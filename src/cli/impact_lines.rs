//! The summary lines `fluency impact` prints for the event study, doses, guardrails and the
//! many-comparison adjustment. Called by `cli::impact::summary`.

use crate::impact::dose::DoseResponse;
use crate::impact::format::p_value;
use crate::impact::multiplicity::Multiplicity;
use crate::impact::staggered::EventStudy;
use crate::impact::TTest;
use crate::service::impact_study::GuardrailAnswer;

fn interval(test: Option<&TTest>, unit: &str) -> String {
    test.map_or("n/a".into(), |t| {
        format!("{:.2} {unit} (95% CI {:.2} to {:.2}, {})", t.diff, t.ci_low, t.ci_high, p_value(t.p_value))
    })
}

pub fn event_study(study: &EventStudy, unit: &str) -> Vec<String> {
    let mut lines = vec![
        format!(
            "Staggered training ({} trained, {} comparison persons): overall effect {}",
            study.treated_persons,
            study.comparison_persons,
            interval(study.overall.as_ref(), unit)
        ),
        format!("  placebo before training: {}", interval(study.pre_trend.as_ref(), unit)),
    ];
    let (one, many) = if study.period_days == 7 { ("week", "weeks") } else { ("period", "periods") };
    for point in &study.curve {
        let periods = if point.event.abs() == 1 { one } else { many };
        lines.push(format!("  {:>3} {periods} since training: {}", point.event, interval(point.test.as_ref(), unit)));
    }
    lines
}

pub fn dose(dose: &DoseResponse, unit: &str) -> Vec<String> {
    let mut lines: Vec<String> = dose
        .levels
        .iter()
        .map(|level| {
            let more = if level.or_more { " or more" } else { "" };
            format!("Dose {}{more} ({} persons): {}", level.dose, level.persons, interval(level.test.as_ref(), unit))
        })
        .collect();
    lines.push(format!("Per extra unit of dose: {}", interval(dose.per_unit.as_ref(), unit)));
    lines
}

pub fn guardrails(guardrails: &[GuardrailAnswer]) -> Vec<String> {
    guardrails
        .iter()
        .map(|g| {
            let unit = g.kpi.unit.as_deref().unwrap_or("units");
            let result = &g.non_inferiority;
            format!(
                "Guardrail {}: {} (margin {} {unit}, worst plausible worsening {}, {})",
                g.kpi.name.as_deref().unwrap_or(&g.kpi.id),
                result.status.label(),
                g.margin,
                result.worsening_upper_bound.map_or("n/a".into(), |b| format!("{b:.2} {unit}")),
                result.p_value.map_or("no test".into(), |p| format!("one-sided {}", p_value(p))),
            )
        })
        .collect()
}

pub fn multiplicity(title: &str, family: &Multiplicity) -> Vec<String> {
    let mut lines = vec![format!("Many {title} (Holm p, Benjamini-Hochberg q):")];
    for f in &family.findings {
        let survives = match (f.survives_holm, f.survives_bh) {
            (true, _) => "survives",
            (false, true) => "survives BH only",
            (false, false) => "does not survive",
        };
        let bare = |p: f64| p_value(p).trim_start_matches("p = ").replace("p < ", "< ");
        lines.push(format!(
            "  {}: {}, Holm {}, q {}: {survives}",
            f.label,
            p_value(f.p_value),
            bare(f.holm_p_value),
            bare(f.bh_q_value)
        ));
    }
    lines
}

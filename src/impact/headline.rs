//! The one sentence people read first: the verdict with its main estimate, interval, p-value
//! and unit. Called by `analysis` for every report.

use super::analysis::Verdict;
use super::format;
use super::input::ImpactSpec;
use super::staggered::StaggeredComparison;
use super::stats::TTest;

/// The KPI's unit as printed after a number ("12 seconds"); "units" when the KPI has none.
pub(crate) fn unit(spec: &ImpactSpec) -> &str {
    spec.unit.as_deref().filter(|u| !u.trim().is_empty()).unwrap_or("units")
}

/// "8 weeks", "3 periods of 14 days".
pub(crate) fn periods(count: u32, period_days: u32) -> String {
    match (count, period_days) {
        (1, 7) => "week".to_string(),
        (n, 7) => format!("{n} weeks"),
        (1, 1) => "day".to_string(),
        (n, 1) => format!("{n} days"),
        (n, days) => format!("{n} periods of {days} days"),
    }
}

/// "Improved: relative to the comparison group, the KPI changed by -30.1 seconds per person
/// (95% CI -33.9 to -26.3 seconds, p < 0.001), -8.3% against the expected value …".
pub(crate) fn headline(
    spec: &ImpactSpec,
    verdict: &Verdict,
    main: Option<&TTest>,
    relative: Option<f64>,
    mde: Option<f64>,
) -> String {
    let label = verdict.label();
    let Some(test) = main.filter(|_| !matches!(verdict, Verdict::InsufficientData { .. })) else {
        return match verdict {
            Verdict::InsufficientData { reason } => format!("{label}: {reason}."),
            _ => format!("{label}."),
        };
    };
    let unit = unit(spec);
    let against = match &spec.staggered {
        None => "relative to the comparison group".to_string(),
        Some(staggered) => format!(
            "relative to persons {} trained, over the {} from each person's training",
            match staggered.comparison {
                StaggeredComparison::NotYetTreated => "not yet",
                StaggeredComparison::NeverTreated => "never",
            },
            periods(staggered.periods_after, staggered.period_days)
        ),
    };
    let change = format!(
        "{against}, the KPI changed by {} {unit} per person (95% CI {} to {} {unit}, {})",
        format::signed(test.diff),
        format::number(test.ci_low),
        format::number(test.ci_high),
        format::p_value(test.p_value)
    );
    match verdict {
        Verdict::NoDetectableEffect => {
            let power = mde.filter(|_| spec.staggered.is_none()).map_or(String::new(), |mde| {
                format!("; these groups detect reliably only effects of about ±{} {unit} or more", format::number(mde))
            });
            format!("{label}: {change}, an interval that includes zero{power}.")
        }
        _ => {
            let relative = relative.map_or(String::new(), |r| {
                format!(", {} against the expected value without the intervention", format::percent(r))
            });
            format!("{label}: {change}{relative}.")
        }
    }
}

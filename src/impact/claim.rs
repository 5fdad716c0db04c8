//! The claim an analysis supports, in one sentence a leader can defend: the primary KPI's
//! effect with its interval and unit, then each guardrail ("Average handling time improved by
//! 8.3% (−30.1 seconds per person, 95% CI …); Customer satisfaction held within 2 points").
//! A harmed guardrail turns the verdict. Called by the service after every KPI is analysed.

use serde::{Deserialize, Serialize};

use super::analysis::{ImpactReport, Verdict};
use super::format;
use super::guardrail::{GuardrailStatus, NonInferiority};

/// What the claim amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimVerdict {
    /// The primary KPI improved and every guardrail held.
    Supported,
    /// The primary KPI improved but a guardrail was not shown to hold (too wide an interval).
    GuardrailsNotShown,
    /// A guardrail worsened beyond what its margin allows: whatever the primary KPI did.
    GuardrailHarmed,
    /// The primary KPI did not detectably improve (or worsened).
    NotImproved,
    /// Too little data for the primary KPI.
    InsufficientData,
}

impl ClaimVerdict {
    pub fn label(self) -> &'static str {
        match self {
            ClaimVerdict::Supported => "Claim supported",
            ClaimVerdict::GuardrailsNotShown => "Improved, but a guardrail is not shown to hold",
            ClaimVerdict::GuardrailHarmed => "A guardrail was harmed",
            ClaimVerdict::NotImproved => "No improvement shown",
            ClaimVerdict::InsufficientData => "Insufficient data",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claim {
    pub verdict: ClaimVerdict,
    pub sentence: String,
}

/// A KPI as the claim names it.
pub struct NamedKpi<'a> {
    pub name: &'a str,
    pub unit: &'a str,
}

/// The claim from the primary KPI's report and each guardrail's test.
pub fn claim(primary: &NamedKpi<'_>, report: &ImpactReport, guardrails: &[(NamedKpi<'_>, &NonInferiority)]) -> Claim {
    let mut parts = vec![primary_part(primary, report)];
    parts.extend(guardrails.iter().map(|(kpi, result)| guardrail_part(kpi, result)));
    let status = |wanted: GuardrailStatus| guardrails.iter().any(|(_, r)| r.status == wanted);
    let verdict = match &report.verdict {
        _ if status(GuardrailStatus::Harmed) => ClaimVerdict::GuardrailHarmed,
        Verdict::InsufficientData { .. } => ClaimVerdict::InsufficientData,
        Verdict::Improved if status(GuardrailStatus::Inconclusive) || status(GuardrailStatus::InsufficientData) => {
            ClaimVerdict::GuardrailsNotShown
        }
        Verdict::Improved => ClaimVerdict::Supported,
        Verdict::Worsened | Verdict::NoDetectableEffect => ClaimVerdict::NotImproved,
    };
    Claim { verdict, sentence: format!("{}: {}.", verdict.label(), parts.join("; ")) }
}

fn primary_part(kpi: &NamedKpi<'_>, report: &ImpactReport) -> String {
    let (name, unit) = (kpi.name, kpi.unit);
    let Some(test) = report.main_effect() else {
        return format!("{name} has too little data for an estimate");
    };
    let interval = format!(
        "{} {unit} per person, 95% CI {} to {} {unit}, {}",
        format::signed(test.diff),
        format::number(test.ci_low),
        format::number(test.ci_high),
        format::p_value(test.p_value)
    );
    let size = |verb: &str| match report.main_relative_effect() {
        Some(relative) => format!("{name} {verb} by {:.1}% ({interval})", (relative * 100.0).abs()),
        None => format!("{name} {verb} by {} {unit} per person ({interval})", format::number(test.diff.abs())),
    };
    match report.verdict {
        Verdict::Improved => size("improved"),
        Verdict::Worsened => size("worsened"),
        Verdict::NoDetectableEffect => format!("{name} changed by no detectable amount ({interval}, includes zero)"),
        Verdict::InsufficientData { .. } => format!("{name} has too little data for a verdict ({interval})"),
    }
}

fn guardrail_part(kpi: &NamedKpi<'_>, result: &NonInferiority) -> String {
    let (name, unit) = (kpi.name, kpi.unit);
    let margin = format::number(result.margin);
    let bound = result.worsening_upper_bound.map(format::number).unwrap_or_else(|| "n/a".into());
    match result.status {
        GuardrailStatus::Held => format!("{name} held within {margin} {unit} (worst plausible worsening {bound} {unit})"),
        GuardrailStatus::Harmed => format!(
            "{name} worsened by {} {unit}, beyond what its margin of {margin} {unit} allows (worst plausible {bound} {unit})",
            result.worsening.map(format::number).unwrap_or_else(|| "n/a".into())
        ),
        GuardrailStatus::Inconclusive => {
            format!("{name} not shown to hold within {margin} {unit} (worst plausible worsening {bound} {unit})")
        }
        GuardrailStatus::InsufficientData => format!("{name} has too little data to check its margin of {margin} {unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::guardrail::non_inferiority;
    use crate::impact::input::KpiDirection;
    use crate::impact::stats::TTest;

    fn report(verdict: Verdict, diff: f64, se: f64, relative: Option<f64>) -> ImpactReport {
        let (mut report, _) = crate::impact::chart::tests::example(KpiDirection::LowerIsBetter, -4.0);
        report.verdict = verdict;
        report.did_test = TTest::from_parts(diff, se, 50.0);
        report.relative_effect = relative;
        report
    }

    const AHT: NamedKpi<'static> = NamedKpi { name: "Average handling time", unit: "seconds" };
    const CSAT: NamedKpi<'static> = NamedKpi { name: "Customer satisfaction", unit: "points" };

    #[test]
    fn an_improvement_with_a_held_guardrail_reads_as_the_claim() {
        let primary = report(Verdict::Improved, -30.0, 2.0, Some(-0.152));
        let held = non_inferiority(TTest::from_parts(-0.3, 0.4, 60.0).as_ref(), KpiDirection::HigherIsBetter, 2.0);

        let claim = claim(&AHT, &primary, &[(CSAT, &held)]);

        assert_eq!(claim.verdict, ClaimVerdict::Supported);
        assert!(
            claim.sentence.starts_with(
                "Claim supported: Average handling time improved by 15.2% (-30 seconds per person, 95% CI "
            ),
            "{}",
            claim.sentence
        );
        assert!(
            claim.sentence.contains("; Customer satisfaction held within 2 points (worst plausible worsening "),
            "{}",
            claim.sentence
        );
    }

    #[test]
    fn a_harmed_guardrail_turns_the_verdict_and_an_inconclusive_one_qualifies_it() {
        let primary = report(Verdict::Improved, -30.0, 2.0, None);
        let harmed = non_inferiority(TTest::from_parts(-4.0, 0.5, 60.0).as_ref(), KpiDirection::HigherIsBetter, 2.0);
        let wide = non_inferiority(TTest::from_parts(0.0, 3.0, 60.0).as_ref(), KpiDirection::HigherIsBetter, 2.0);

        let turned = claim(&AHT, &primary, &[(CSAT, &harmed)]);
        let qualified = claim(&AHT, &primary, &[(CSAT, &wide)]);

        assert_eq!(turned.verdict, ClaimVerdict::GuardrailHarmed);
        assert!(
            turned.sentence.contains("Customer satisfaction worsened by 4 points, beyond what its margin"),
            "{}",
            turned.sentence
        );
        assert!(
            turned.sentence.contains("improved by 30 seconds per person"),
            "no relative effect: {}",
            turned.sentence
        );
        assert_eq!(qualified.verdict, ClaimVerdict::GuardrailsNotShown);
        assert!(qualified.sentence.contains("not shown to hold within 2 points"), "{}", qualified.sentence);
    }

    #[test]
    fn no_improvement_says_so_with_its_interval() {
        let primary = report(Verdict::NoDetectableEffect, -1.0, 2.0, None);
        let claim = claim(&AHT, &primary, &[]);
        assert_eq!(claim.verdict, ClaimVerdict::NotImproved);
        assert!(
            claim.sentence.contains("changed by no detectable amount (-1 seconds per person"),
            "{}",
            claim.sentence
        );
        assert!(claim.sentence.contains("includes zero"));
    }
}

//! Small groups in impact reports: an analysis whose group has fewer people than the
//! configured `min_group_size` (k, default 5) would describe individuals, so that group's
//! figures, every estimate built on them (difference, adjusted effect, event study, doses,
//! ROI) and any part (trend period, cohort, event period, dose level) resting on fewer
//! than k people are removed, and the answer says what was suppressed. Applied to the
//! primary KPI's report and to every guardrail's and secondary KPI's, by every caller that
//! shows an analysis (HTTP, CLI, rules), after it ran: the figures never leave the process.

use crate::impact::{GroupFigures, ImpactReport, TrendPoint, Verdict};
use crate::service::impact::ImpactAnswer;

fn blank(group: &mut GroupFigures) {
    group.pre_mean = None;
    group.post_mean = None;
    group.change = None;
    group.change_sd = None;
}

/// Suppresses one report's small parts; returns what it suppressed, prefixed by `name`.
fn suppress_report(report: &mut ImpactReport, k: usize, name: &str) -> Vec<String> {
    let mut suppressed = Vec::new();
    for (group_name, group) in [("treated", &mut report.treated), ("comparison", &mut report.comparison)] {
        if group.persons_analyzed < k {
            suppressed.push(format!("{name}{group_name}: {} people analysed, fewer than {k}", group.persons_analyzed));
            blank(group);
        }
    }
    if !suppressed.is_empty() {
        report.post_difference = None;
        report.difference_in_differences = None;
        report.did_test = None;
        report.counterfactual_post_mean = None;
        report.relative_effect = None;
        report.hedges_g = None;
        report.baseline_smd = None;
        report.parallel_trend.test = None;
        report.adjusted = None;
        report.event_study = None;
        report.dose_response = None;
        let reason = format!("groups smaller than {k} people are not reported ({})", suppressed.join("; "));
        report.headline = format!("Insufficient data: {reason}.");
        report.verdict = Verdict::InsufficientData { reason };
        return suppressed;
    }
    let mut parts = 0;
    if let Some(study) = &mut report.event_study {
        let before = study.cells.len();
        study.cells.retain(|cell| cell.treated_persons >= k && cell.comparison_persons >= k);
        parts += before - study.cells.len();
        for point in study.curve.iter_mut().filter(|p| p.treated_persons < k && p.test.is_some()) {
            point.test = None;
            parts += 1;
        }
        for cohort in study.cohorts.iter_mut().filter(|c| c.treated_persons < k && c.test.is_some()) {
            cohort.test = None;
            parts += 1;
        }
    }
    if let Some(doses) = &mut report.dose_response {
        for level in doses.levels.iter_mut().filter(|l| l.persons < k && l.test.is_some()) {
            level.test = None;
            parts += 1;
        }
    }
    if parts > 0 {
        suppressed.push(format!("{name}{parts} cohorts, periods or dose levels of fewer than {k} people"));
    }
    suppressed
}

/// Removes what describes fewer than `k` people; returns whether anything was.
pub fn suppress_small_groups(answer: &mut ImpactAnswer, k: usize) -> bool {
    let mut suppressed = suppress_report(&mut answer.report, k, "");
    if answer.report.difference_in_differences.is_none() && !suppressed.is_empty() {
        answer.roi = None;
        answer.roi_interval = None;
        answer.claim = None;
    }
    for guardrail in &mut answer.guardrails {
        suppressed.extend(suppress_report(&mut guardrail.report, k, &format!("guardrail {}: ", guardrail.kpi.id)));
    }
    for secondary in &mut answer.secondary {
        suppressed.extend(suppress_report(&mut secondary.report, k, &format!("{}: ", secondary.kpi.id)));
    }
    let small = |points: &mut Vec<TrendPoint>| {
        let before = points.len();
        points.retain(|point| point.persons >= k);
        before - points.len()
    };
    let dropped = small(&mut answer.trend.treated) + small(&mut answer.trend.comparison);
    if dropped > 0 {
        suppressed.push(format!("{dropped} trend periods with fewer than {k} people"));
    }
    answer.suppressed = suppressed;
    !answer.suppressed.is_empty()
}

//! Small groups in impact reports: an analysis whose group has fewer people than the
//! configured `min_group_size` (k, default 5) would describe individuals, so that group's
//! figures, every estimate built on them (difference, effect sizes, ROI) and trend points
//! from fewer than k people are removed, and the answer says what was suppressed. Applied
//! by every caller that shows an analysis (HTTP, CLI, rules), after it ran; the figures
//! never leave the process.

use crate::impact::{GroupFigures, TrendPoint, Verdict};
use crate::service::impact::ImpactAnswer;

fn blank(group: &mut GroupFigures) {
    group.pre_mean = None;
    group.post_mean = None;
    group.change = None;
    group.change_sd = None;
}

/// Removes what describes fewer than `k` people; returns whether anything was.
pub fn suppress_small_groups(answer: &mut ImpactAnswer, k: usize) -> bool {
    let report = &mut answer.report;
    let mut suppressed = Vec::new();
    for (name, group) in [("treated", &mut report.treated), ("comparison", &mut report.comparison)] {
        if group.persons_analyzed < k {
            suppressed.push(format!("{name}: {} people analysed, fewer than {k}", group.persons_analyzed));
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
        let reason = format!("groups smaller than {k} people are not reported ({})", suppressed.join("; "));
        report.headline = format!("Insufficient data: {reason}.");
        report.verdict = Verdict::InsufficientData { reason };
        answer.roi = None;
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

//! The report's event-study chart (staggered designs): the effect by periods since training
//! with 95% CI whiskers, the base period (−1, zero by construction), a zero line and a line at
//! training. Inline SVG like the other charts. Called by `report_sections`.

use std::fmt::Write;

use super::chart::{axes, px, Scale};
use super::format::{self, escape};
use super::staggered::EventStudy;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 52.0;
const COLOUR: &str = "#0072B2";

pub(crate) fn event_study_chart(study: &EventStudy, unit: &str) -> String {
    let tested: Vec<_> = study.curve.iter().filter_map(|p| Some((p.event, p.test?))).collect();
    let events = tested.iter().map(|(e, _)| *e as f64).chain([-1.0]);
    let x = Scale::covering(events, 0.06, (LEFT, WIDTH - RIGHT));
    let values = tested.iter().flat_map(|(_, t)| [t.ci_low, t.ci_high]).chain([0.0]);
    let y = Scale::covering(values, 0.08, (HEIGHT - BOTTOM, TOP));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="event-study" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="event-title"><title id="event-title">Effect by periods since training, with 95% confidence intervals</title>"#
    );
    axes(&mut svg, &x, &y, HEIGHT);
    // At most about 16 labels, so long curves stay legible.
    let every = (tested.len() / 16 + 1) as i64;
    for tick in tested.iter().map(|(e, _)| *e).chain([-1]).filter(|e| e.rem_euclid(every) == 0 || *e == -1) {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{}" y="{}" text-anchor="middle">{tick}</text>"#,
            px(x.map(tick as f64)),
            px(HEIGHT - BOTTOM + 16.0)
        );
    }
    for tick in y.ticks(5) {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
            px(LEFT - 6.0),
            px(y.map(tick) + 4.0),
            format::number(tick)
        );
    }
    let zero = px(y.map(0.0));
    let _ = write!(
        svg,
        r##"<line class="zero" x1="{}" x2="{}" y1="{zero}" y2="{zero}" stroke="#444"/>"##,
        px(LEFT),
        px(WIDTH - RIGHT)
    );
    let training = px(x.map(-0.5));
    let _ = write!(
        svg,
        r##"<line class="training" x1="{training}" x2="{training}" y1="{}" y2="{}" stroke="#444" stroke-dasharray="4 3"/><text class="annotation" x="{training}" y="{}" text-anchor="middle">training</text>"##,
        px(TOP),
        px(HEIGHT - BOTTOM),
        px(TOP - 8.0)
    );
    let _ = write!(
        svg,
        r#"<circle class="event-reference" cx="{}" cy="{zero}" r="4" fill="white" stroke="{COLOUR}" stroke-width="2"><title>Base period (−1): 0 by construction</title></circle>"#,
        px(x.map(-1.0))
    );
    for (event, test) in &tested {
        let cx = px(x.map(*event as f64));
        let _ = write!(
            svg,
            r#"<line class="event-ci" x1="{cx}" x2="{cx}" y1="{}" y2="{}" stroke="{COLOUR}" stroke-width="2"/><circle class="event-point" cx="{cx}" cy="{}" r="4" fill="{COLOUR}"><title>{}: {} {} (95% CI {} to {})</title></circle>"#,
            px(y.map(test.ci_low)),
            px(y.map(test.ci_high)),
            px(y.map(test.diff)),
            event,
            format::signed(test.diff),
            escape(unit),
            format::number(test.ci_low),
            format::number(test.ci_high),
        );
    }
    let periods = if study.period_days == 7 {
        "Weeks since training".to_string()
    } else {
        format!("Periods of {} days since training", study.period_days)
    };
    let _ = write!(
        svg,
        r#"<text class="axis-label" x="{}" y="{}" text-anchor="middle">{periods}</text><text class="axis-label" transform="translate(14 {}) rotate(-90)" text-anchor="middle">Effect, {} per person (bars: 95% CI)</text>"#,
        px((LEFT + WIDTH - RIGHT) / 2.0),
        px(HEIGHT - 10.0),
        px((TOP + HEIGHT - BOTTOM) / 2.0),
        escape(unit)
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impact::chart::tests::{elements, number};
    use crate::impact::staggered::{EventPoint, StaggeredComparison};
    use crate::impact::stats::TTest;

    fn study(events: std::ops::Range<i64>) -> EventStudy {
        let curve = events
            .filter(|e| *e != -1)
            .map(|event| EventPoint {
                event,
                cohorts: 1,
                treated_persons: 10,
                test: TTest::from_parts(if event >= 0 { -5.0 } else { 0.5 }, 1.0, 30.0),
            })
            .collect();
        EventStudy {
            comparison: StaggeredComparison::NotYetTreated,
            period_days: 7,
            overall: None,
            relative_effect: None,
            counterfactual_mean: None,
            pre_trend: None,
            curve,
            cohorts: vec![],
            cells: vec![],
            treated_persons: 10,
            comparison_persons: 10,
            persons: 20,
        }
    }

    #[test]
    fn each_point_has_its_interval_below_zero_when_the_effect_is_negative() {
        let svg = event_study_chart(&study(-3..5), "seconds");

        let points = elements(&svg, "circle").into_iter().filter(|c| c.contains("event-point")).collect::<Vec<_>>();
        let bars = elements(&svg, "line").into_iter().filter(|l| l.contains("event-ci")).collect::<Vec<_>>();
        assert_eq!((points.len(), bars.len()), (7, 7), "events −3, −2, 0 … 4");
        let zero = number(elements(&svg, "line").into_iter().find(|l| l.contains("class=\"zero\"")).unwrap(), "y1");
        let after: Vec<f64> = points.iter().skip(2).map(|p| number(p, "cy")).collect();
        assert!(after.iter().all(|cy| *cy > zero), "SVG y grows downward: negative effects sit below zero");
        assert!(svg.contains("Weeks since training") && svg.contains("seconds per person"));
    }

    #[test]
    fn long_curves_keep_about_sixteen_labels() {
        let svg = event_study_chart(&study(-40..60), "units");
        let labels = elements(&svg, "text").into_iter().filter(|t| t.contains("class=\"tick\"")).count();
        assert!(labels <= 30, "{labels} labels, x and y axes together");
    }
}

//! The report's two inline SVG charts, written by hand so the report needs no script or
//! external asset: the KPI trend of both groups around the intervention, and the effect with
//! its confidence interval against zero. Called by `report`.

use std::fmt::Write;

use super::analysis::ImpactReport;
use super::format::{self, escape};
use super::input::{KpiDirection, DAY_US};
use super::trend::{TrendPoint, TrendSeries};

const WIDTH: f64 = 720.0;
const TREND_HEIGHT: f64 = 320.0;
const EFFECT_HEIGHT: f64 = 150.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 52.0;
/// Okabe–Ito blue and orange: distinguishable with common colour-vision deficiencies.
const TREATED_COLOUR: &str = "#0072B2";
const COMPARISON_COLOUR: &str = "#E69F00";

/// A linear map from data values to pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    /// A scale over the values given (padded by `padding` of their spread); a single value or
    /// none gets a unit-wide domain, so the map never divides by zero.
    pub(crate) fn covering(values: impl IntoIterator<Item = f64>, padding: f64, range: (f64, f64)) -> Scale {
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        for value in values.into_iter().filter(|v| v.is_finite()) {
            low = low.min(value);
            high = high.max(value);
        }
        if low > high {
            (low, high) = (0.0, 1.0);
        }
        let spread = high - low;
        let pad = if spread > 0.0 { spread * padding } else { low.abs().max(1.0) * 0.5 };
        Scale { domain: (low - pad, high + pad), range }
    }

    pub(crate) fn map(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        r0 + (value - d0) / (d1 - d0) * (r1 - r0)
    }

    #[cfg(test)]
    pub(crate) fn invert(&self, pixel: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        d0 + (pixel - r0) / (r1 - r0) * (d1 - d0)
    }

    /// Round tick values (1, 2 or 5 × 10ᵏ apart) inside the domain, about `count` of them.
    pub(crate) fn ticks(&self, count: usize) -> Vec<f64> {
        let (low, high) = self.domain;
        let raw = (high - low) / count.max(1) as f64;
        let magnitude = 10f64.powf(raw.log10().floor());
        // Nearest of 1, 2, 5, 10 × magnitude (geometric midpoints as thresholds).
        let ratio = raw / magnitude;
        let multiple = if ratio >= 50f64.sqrt() {
            10.0
        } else if ratio >= 10f64.sqrt() {
            5.0
        } else if ratio >= 2f64.sqrt() {
            2.0
        } else {
            1.0
        };
        let step = multiple * magnitude;
        let first = (low / step).ceil() as i64;
        let last = (high / step).floor() as i64;
        (first..=last).map(|i| i as f64 * step).collect()
    }
}

/// `x="…"`-style coordinate text: two decimals are plenty for pixels.
pub(crate) fn px(value: f64) -> String {
    format!("{value:.2}")
}

/// Chart (a): both groups' period means, a vertical line at the intervention, labelled axes and
/// a legend. Points sit in the middle of their period.
pub(crate) fn trend_chart(report: &ImpactReport, trend: &TrendSeries) -> String {
    let period = trend.period_us as f64;
    let day = DAY_US as f64;
    let mid = |p: &TrendPoint| (p.offset_us as f64 + period / 2.0) / day;
    let points = || trend.treated.iter().chain(&trend.comparison);
    let spec = &report.spec;
    let earlier = f64::from(spec.earlier_pre_days.unwrap_or(0));
    let (pre, lag, post) = (f64::from(spec.pre_days), f64::from(spec.post_lag_days), f64::from(spec.post_days));
    let x = Scale::covering(points().map(mid).chain([-pre - earlier, lag + post]), 0.02, (LEFT, WIDTH - RIGHT));
    let y = Scale::covering(points().map(|p| p.mean), 0.1, (TREND_HEIGHT - BOTTOM, TOP));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="trend" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11" viewBox="0 0 {WIDTH} {TREND_HEIGHT}" role="img" aria-labelledby="trend-title"><title id="trend-title">KPI per period for the treated and comparison groups around the intervention</title>"#
    );
    let windows = [
        ("earlier-pre", -pre - earlier, -pre, "earlier"),
        ("pre", -pre, 0.0, "before"),
        ("post", lag, lag + post, "after"),
    ];
    for (class, from, to, label) in windows.into_iter().filter(|w| w.2 > w.1) {
        let _ = write!(
            svg,
            r##"<rect class="window {class}" x="{}" y="{}" width="{}" height="{}" fill="#f3f3f3"/><text class="annotation" x="{}" y="{}" text-anchor="middle">{label}</text>"##,
            px(x.map(from)),
            px(TOP),
            px(x.map(to) - x.map(from)),
            px(TREND_HEIGHT - BOTTOM - TOP),
            px(x.map((from + to) / 2.0)),
            px(TREND_HEIGHT - BOTTOM - 6.0),
        );
    }
    axes(&mut svg, &x, &y, TREND_HEIGHT);
    for tick in x.ticks(8) {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x.map(tick)),
            px(TREND_HEIGHT - BOTTOM + 16.0),
            format::number(tick)
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
    let origin = trend.origin_us.and_then(chrono::DateTime::from_timestamp_micros);
    let x_label = match origin {
        Some(date) => format!("Days since the intervention ({})", date.format("%Y-%m-%d")),
        None => "Days since each person's treatment date".to_string(),
    };
    let _ = write!(
        svg,
        r#"<text class="axis-label" x="{}" y="{}" text-anchor="middle">{}</text><text class="axis-label" transform="translate(14 {}) rotate(-90)" text-anchor="middle">KPI (mean per person)</text>"#,
        px((LEFT + WIDTH - RIGHT) / 2.0),
        px(TREND_HEIGHT - 10.0),
        escape(&x_label),
        px((TOP + TREND_HEIGHT - BOTTOM) / 2.0),
    );
    let zero = px(x.map(0.0));
    let _ = write!(
        svg,
        r##"<line class="intervention" x1="{zero}" x2="{zero}" y1="{}" y2="{}" stroke="#444" stroke-dasharray="4 3"/><text class="annotation" x="{zero}" y="{}" text-anchor="middle">intervention</text>"##,
        px(TOP),
        px(TREND_HEIGHT - BOTTOM),
        px(TOP - 8.0),
    );
    let series = [
        ("treated", "Treated", TREATED_COLOUR, "", &trend.treated, report.treated.persons_analyzed),
        (
            "comparison",
            "Comparison",
            COMPARISON_COLOUR,
            r#" stroke-dasharray="6 3""#,
            &trend.comparison,
            report.comparison.persons_analyzed,
        ),
    ];
    for (class, _, colour, dash, points, _) in &series {
        let coordinates: Vec<String> =
            points.iter().map(|p| format!("{},{}", px(x.map(mid(p))), px(y.map(p.mean)))).collect();
        let _ = write!(
            svg,
            r#"<polyline class="series {class}" fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#,
            coordinates.join(" ")
        );
        for p in points.iter() {
            let _ = write!(
                svg,
                r#"<circle class="point {class}" cx="{}" cy="{}" r="3.5" fill="{colour}"><title>{}: mean {} ({} persons)</title></circle>"#,
                px(x.map(mid(p))),
                px(y.map(p.mean)),
                format::number(mid(p) - period / day / 2.0),
                format::number(p.mean),
                p.persons
            );
        }
    }
    for (i, (class, name, colour, dash, _, persons)) in series.iter().enumerate() {
        let row = TOP + 4.0 + 16.0 * i as f64;
        let left = WIDTH - RIGHT - 170.0;
        let _ = write!(
            svg,
            r#"<g class="legend {class}"><line class="swatch" x1="{}" x2="{}" y1="{}" y2="{}" stroke="{colour}" stroke-width="2"{dash}/><text x="{}" y="{}">{name} ({persons} persons)</text></g>"#,
            px(left),
            px(left + 24.0),
            px(row),
            px(row),
            px(left + 30.0),
            px(row + 4.0),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Chart (b): the difference in differences as a point with its 95% CI whisker, a zero line,
/// the band of effects too small to detect (± MDE) and which side is better.
pub(crate) fn effect_chart(report: &ImpactReport) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="effect" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11" viewBox="0 0 {WIDTH} {EFFECT_HEIGHT}" role="img" aria-labelledby="effect-title"><title id="effect-title">Difference in differences with its 95% confidence interval</title>"#
    );
    let test = report.did_test;
    let estimate = report.difference_in_differences;
    let mde = report.minimum_detectable_effect;
    let values = [Some(0.0), estimate, test.map(|t| t.ci_low), test.map(|t| t.ci_high), mde, mde.map(|m| -m)];
    let x = Scale::covering(values.into_iter().flatten(), 0.1, (LEFT, WIDTH - RIGHT));
    let (top, bottom) = (TOP, EFFECT_HEIGHT - BOTTOM);
    let middle = (top + bottom) / 2.0;
    if let Some(mde) = mde {
        let _ = write!(
            svg,
            r##"<rect class="mde" x="{}" y="{}" width="{}" height="{}" fill="#eee"><title>Effects within ±{} are hard to detect with these groups</title></rect>"##,
            px(x.map(-mde)),
            px(top),
            px(x.map(mde) - x.map(-mde)),
            px(bottom - top),
            format::number(mde)
        );
    }
    let _ = write!(
        svg,
        r##"<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}" stroke="#444"/>"##,
        px(LEFT),
        px(WIDTH - RIGHT),
        px(bottom),
        px(bottom)
    );
    for tick in x.ticks(8) {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x.map(tick)),
            px(bottom + 16.0),
            format::number(tick)
        );
    }
    let zero = px(x.map(0.0));
    let _ = write!(
        svg,
        r##"<line class="zero" x1="{zero}" x2="{zero}" y1="{}" y2="{}" stroke="#444"/><text class="annotation" x="{zero}" y="{}" text-anchor="middle">no effect</text>"##,
        px(top),
        px(bottom),
        px(top - 8.0)
    );
    let better = match report.spec.direction {
        KpiDirection::HigherIsBetter => (WIDTH - RIGHT, "end", "better →"),
        KpiDirection::LowerIsBetter => (LEFT, "start", "← better"),
    };
    let _ = write!(
        svg,
        r#"<text class="annotation better" x="{}" y="{}" text-anchor="{}">{}</text>"#,
        px(better.0),
        px(top - 8.0),
        better.1,
        better.2
    );
    if let Some(test) = test {
        let (low, high) = (px(x.map(test.ci_low)), px(x.map(test.ci_high)));
        let _ = write!(
            svg,
            r#"<line class="ci" x1="{low}" x2="{high}" y1="{m}" y2="{m}" stroke="{TREATED_COLOUR}" stroke-width="2"/><line class="ci-cap" x1="{low}" x2="{low}" y1="{}" y2="{}" stroke="{TREATED_COLOUR}" stroke-width="2"/><line class="ci-cap" x1="{high}" x2="{high}" y1="{}" y2="{}" stroke="{TREATED_COLOUR}" stroke-width="2"/>"#,
            px(middle - 8.0),
            px(middle + 8.0),
            px(middle - 8.0),
            px(middle + 8.0),
            m = px(middle),
        );
    }
    match estimate {
        Some(estimate) => {
            let _ = write!(
                svg,
                r#"<circle class="estimate" cx="{}" cy="{}" r="5" fill="{TREATED_COLOUR}"><title>Difference in differences: {}</title></circle>"#,
                px(x.map(estimate)),
                px(middle),
                format::number(estimate)
            );
        }
        None => {
            let _ = write!(
                svg,
                r#"<text class="annotation" x="{}" y="{}" text-anchor="middle">no estimate: too little data</text>"#,
                px(WIDTH / 2.0),
                px(middle)
            );
        }
    }
    let _ = write!(
        svg,
        r#"<text class="axis-label" x="{}" y="{}" text-anchor="middle">Difference in differences, KPI units per person (bar: 95% CI; grey: ± minimum detectable effect)</text>"#,
        px((LEFT + WIDTH - RIGHT) / 2.0),
        px(EFFECT_HEIGHT - 10.0)
    );
    svg.push_str("</svg>");
    svg
}

pub(crate) fn axes(svg: &mut String, x: &Scale, y: &Scale, height: f64) {
    let (left, right) = (x.range.0, x.range.1);
    let (bottom, top) = (y.range.0, y.range.1);
    let _ = write!(
        svg,
        r##"<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}" stroke="#444"/><line class="axis" x1="{}" x2="{}" y1="{}" y2="{}" stroke="#444"/>"##,
        px(left),
        px(right),
        px(bottom),
        px(bottom),
        px(left),
        px(left),
        px(top),
        px(bottom.min(height)),
    );
}

#[cfg(test)]
#[path = "chart_tests.rs"]
pub(crate) mod tests;

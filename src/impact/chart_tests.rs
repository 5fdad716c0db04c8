use std::collections::BTreeMap;

use super::*;
use crate::impact::analysis::analyze;
use crate::impact::input::{ImpactData, ImpactSpec, KpiDirection, Observation};
use crate::impact::trend::trend_series;

/// Start tags `<tag …>` in document order.
pub(crate) fn elements<'a>(svg: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    let mut found = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find(&open) {
        let end = start + rest[start..].find('>').expect("a closed tag");
        found.push(&rest[start..=end]);
        rest = &rest[end..];
    }
    found
}

pub(crate) fn attr<'a>(element: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=\"");
    let start = element.find(&key).unwrap_or_else(|| panic!("no {name} in {element}")) + key.len();
    &element[start..start + element[start..].find('"').expect("a closing quote")]
}

pub(crate) fn number(element: &str, name: &str) -> f64 {
    attr(element, name).parse().unwrap_or_else(|_| panic!("{name} of {element} is not a number"))
}

fn with_class<'a>(elements: Vec<&'a str>, class: &str) -> Vec<&'a str> {
    let wanted = format!(" class=\"{class}\"");
    elements.into_iter().filter(|e| e.contains(&wanted)).collect()
}

/// Eight persons per group, observed weekly for four weeks before and after day 0; the treated
/// gain `effect`.
pub(crate) fn example(direction: KpiDirection, effect: f64) -> (ImpactReport, TrendSeries) {
    let spec = ImpactSpec { intervention_us: Some(0), ..ImpactSpec::new(direction, 28, 28) };
    let observations = |prefix: &str, gain: f64| -> Vec<Observation> {
        (0..8)
            .flat_map(|i| {
                let person = format!("{prefix}{i}");
                (-4..4).map(move |week: i64| Observation {
                    person: person.clone(),
                    timestamp_us: (week * 7 + 1) * DAY_US,
                    value: 50.0 + i as f64 + if week >= 0 { gain + 0.3 * ((i * 7 + 3) % 5) as f64 } else { 0.0 },
                })
            })
            .collect()
    };
    let data = ImpactData {
        treated: observations("t", effect),
        comparison: observations("c", 0.0),
        treatment_dates_us: BTreeMap::new(),
        ..Default::default()
    };
    (analyze(&spec, &data).unwrap(), trend_series(&spec, &data, 7).unwrap())
}

#[test]
fn the_trend_chart_draws_one_point_per_period_and_group() {
    let (report, trend) = example(KpiDirection::HigherIsBetter, 4.0);
    assert_eq!((trend.treated.len(), trend.comparison.len()), (8, 8));

    let svg = trend_chart(&report, &trend);

    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
    for (class, points) in [("series treated", &trend.treated), ("series comparison", &trend.comparison)] {
        let lines = with_class(elements(&svg, "polyline"), class);
        assert_eq!(lines.len(), 1, "{class}");
        assert_eq!(attr(lines[0], "points").split(' ').count(), points.len(), "{class}");
    }
    assert_eq!(with_class(elements(&svg, "circle"), "point treated").len(), 8);
    assert_eq!(with_class(elements(&svg, "circle"), "point comparison").len(), 8);
    assert!(svg.contains("Days since the intervention (1970-01-01)"));
    assert!(svg.contains("Treated (8 persons)") && svg.contains("Comparison (8 persons)"));
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
}

#[test]
fn the_intervention_line_separates_pre_and_post_points() {
    let (report, trend) = example(KpiDirection::HigherIsBetter, 4.0);
    let svg = trend_chart(&report, &trend);

    let line = with_class(elements(&svg, "line"), "intervention");
    assert_eq!(line.len(), 1);
    let x = number(line[0], "x1");
    assert_eq!(x, number(line[0], "x2"), "vertical");
    let xs: Vec<f64> = with_class(elements(&svg, "circle"), "point treated").iter().map(|c| number(c, "cx")).collect();
    assert!(xs[..4].iter().all(|&cx| cx < x) && xs[4..].iter().all(|&cx| cx > x), "{xs:?} around {x}");
    // The four pre periods are as far left of the line as the four post periods are right.
    assert!((x - xs[0] - (xs[7] - x)).abs() < 0.02);
}

#[test]
fn the_ci_whisker_ends_map_to_the_confidence_interval() {
    let (report, _) = example(KpiDirection::HigherIsBetter, 4.0);
    let test = report.did_test.unwrap();

    let svg = effect_chart(&report);

    let zero = number(with_class(elements(&svg, "line"), "zero")[0], "x1");
    let estimate = report.difference_in_differences.unwrap();
    let estimate_x = number(with_class(elements(&svg, "circle"), "estimate")[0], "cx");
    // Two points (0 and the estimate) fix the linear scale; the whisker must follow it.
    let to_px = |value: f64| zero + value / estimate * (estimate_x - zero);
    let whisker = with_class(elements(&svg, "line"), "ci");
    assert_eq!(whisker.len(), 1);
    assert!((number(whisker[0], "x1") - to_px(test.ci_low)).abs() < 0.02, "low end");
    assert!((number(whisker[0], "x2") - to_px(test.ci_high)).abs() < 0.02, "high end");
    assert_eq!(number(whisker[0], "y1"), number(whisker[0], "y2"), "horizontal");
    assert_eq!(with_class(elements(&svg, "line"), "ci-cap").len(), 2);
    assert!(estimate_x > zero, "a positive effect lies right of zero");
    assert!(svg.contains("better →"));
}

#[test]
fn the_effect_chart_marks_the_better_side_and_the_mde_band() {
    let (report, _) = example(KpiDirection::LowerIsBetter, -4.0);
    let svg = effect_chart(&report);
    assert!(svg.contains("← better"));
    let band = with_class(elements(&svg, "rect"), "mde");
    assert_eq!(band.len(), 1);
    let zero = number(with_class(elements(&svg, "line"), "zero")[0], "x1");
    let (left, width) = (number(band[0], "x"), number(band[0], "width"));
    assert!((left + width / 2.0 - zero).abs() < 0.02, "the band is centred on zero");
}

#[test]
fn an_empty_report_still_draws_valid_charts() {
    let spec = ImpactSpec { intervention_us: Some(0), ..ImpactSpec::new(KpiDirection::HigherIsBetter, 7, 7) };
    let report = analyze(&spec, &ImpactData::default()).unwrap();
    let trend = trend_series(&spec, &ImpactData::default(), 7).unwrap();

    let trend_svg = trend_chart(&report, &trend);
    let effect_svg = effect_chart(&report);

    for svg in [&trend_svg, &effect_svg] {
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
    assert!(elements(&trend_svg, "circle").is_empty());
    assert!(with_class(elements(&effect_svg, "line"), "ci").is_empty());
    assert!(effect_svg.contains("no estimate"));
}

#[test]
fn scales_never_divide_by_zero_and_ticks_are_round() {
    let flat = Scale::covering([5.0, 5.0], 0.1, (0.0, 100.0));
    assert!(flat.map(5.0).is_finite());
    let empty = Scale::covering([], 0.1, (0.0, 100.0));
    assert!((empty.invert(empty.map(0.5)) - 0.5).abs() < 1e-12);
    let scale = Scale { domain: (-3.0, 27.0), range: (0.0, 300.0) };
    assert_eq!(scale.ticks(6), [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]);
}

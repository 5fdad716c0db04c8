//! Event-study interval coverage: on 100 seeded staggered panels with a known effect that grows
//! with weeks since training, how often does each point's 95% interval contain the truth?
//! Prints one row per event time and both comparison designs; exits with an error when any
//! point covers fewer than 90 of 100 seeds.
//!
//!     cargo run --release --example impact_coverage [-- --seeds 100]

use fluency::impact::simulation::{coverage, Panel};
use fluency::impact::staggered::StaggeredComparison;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seeds = args
        .iter()
        .position(|a| a == "--seeds")
        .and_then(|i| args.get(i + 1))
        .map_or(100, |s| s.parse().expect("--seeds takes a number"));
    let panel = Panel::default();
    let mut worst = u64::MAX;
    for comparison in [StaggeredComparison::NotYetTreated, StaggeredComparison::NeverTreated] {
        let started = std::time::Instant::now();
        let result = coverage(&panel, comparison, 4, 8, seeds);
        println!(
            "{comparison:?}: {} cohorts of {} persons, {} never treated, {} weeks, {seeds} seeds ({:.1} s)",
            panel.cohorts.len(),
            panel.persons_per_cohort,
            panel.never_treated,
            panel.weeks,
            started.elapsed().as_secs_f64()
        );
        println!("  event  true effect  covered / estimated");
        for (event, (covered, estimated)) in &result.by_event {
            let truth = if *event >= 0 { (panel.effect)(*event) } else { 0.0 };
            println!("  {event:>5}  {truth:>11.1}  {covered:>7} / {estimated}");
            worst = worst.min(*covered * 100 / (*estimated).max(1));
        }
        println!("  overall effect covered in {} / {seeds} seeds", result.overall_covered);
        worst = worst.min(result.overall_covered * 100 / seeds.max(1));
    }
    println!("lowest coverage: {worst}% (nominal 95%)");
    if worst < 90 {
        eprintln!("coverage below 90%");
        std::process::exit(1);
    }
}

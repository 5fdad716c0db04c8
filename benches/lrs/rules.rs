//! Ingest with 0, 10 and 100 active rules (`--rules`): a fresh server per count, whose
//! rules directory holds that many generated rules, each triggered by one of the
//! generator's verbs and reading the learner's history; then the time the rules took to
//! catch up with what was ingested. Runs go in the order 0, 10, 100, 100, 10, 0 so that a
//! machine getting busier or quieter during the suite biases no count; each count's
//! throughput is the mean of its two runs, compared with the no-rules mean.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::generator::{verb_id, Generator};
use crate::measure::{Client, Stats};
use crate::{batch_body, progress, server};

pub const RULE_COUNTS: [usize; 3] = [0, 10, 100];
/// The order of the runs: every count twice, mirrored.
const RUN_ORDER: [usize; 6] = [0, 10, 100, 100, 10, 0];

/// A rule as an L&D engineer would write it: a verb trigger, a history count, state on low
/// scores and a notification every 50th time (to a target the benchmark leaves
/// unconfigured, so it ends as a dead letter after the outbox write).
fn rule_source(index: usize) -> String {
    format!(
        r#"//! name = "bench-rule-{index}"
//! [trigger]
//! verbs = ["{verb}"]
let attempts = history_count(#{{ actor: actor_id(statement), verb: verb_id(statement), days: 7 }});
let scaled = score(statement);
if scaled != () && scaled < 0.1 {{
    state_set(`low-${{actor_id(statement)}}`, scaled, 86400);
}}
if attempts % 50 == 0 {{
    notify("bench-webhook", `${{attempts}} attempts of ${{verb_id(statement)}}`);
}}
attempts
"#,
        verb = verb_id(index)
    )
}

fn write_rules(dir: &Path, count: usize) -> anyhow::Result<()> {
    for index in 0..count {
        std::fs::write(dir.join(format!("bench-rule-{index}.rhai")), rule_source(index))?;
    }
    Ok(())
}

pub struct RulesRun {
    pub rules: usize,
    pub single: Stats,
    pub batches: Stats,
    /// From the end of ingestion until the rules had evaluated every statement.
    pub catch_up: Duration,
}

pub async fn rules_suite(seed: u64, scale: usize) -> anyhow::Result<Vec<RulesRun>> {
    let mut runs = Vec::new();
    for rules in RUN_ORDER {
        let dir = tempfile::tempdir()?;
        write_rules(dir.path(), rules)?;
        let target = server::start_local_with(None, &[("FLUENCY_RULES_DIR", dir.path().display().to_string())]);
        let client = Client::new(&target);
        // The same statements for every rule count.
        let mut generator = Generator::new(seed);
        let singles = 12_000 / scale;
        let bodies = (0..singles).map(|_| serde_json::to_vec(&generator.statement()).unwrap()).collect();
        let bar = progress(singles as u64, &format!("{rules} rules: single POST, 32"));
        let single = client.post_all(bodies, 32, 1, &bar).await?;
        bar.finish_and_clear();
        let batches = 300 / scale;
        let bodies = (0..batches).map(|_| batch_body(&mut generator, 100)).collect();
        let bar = progress(batches as u64 * 100, &format!("{rules} rules: batch POST, 8"));
        let batch_stats = client.post_all(bodies, 8, 100, &bar).await?;
        bar.finish_and_clear();
        let ingested = Instant::now();
        wait_for_rules(&client, (singles + batches * 100) as u64).await?;
        runs.push(RulesRun { rules, single, batches: batch_stats, catch_up: ingested.elapsed() });
    }
    Ok(runs)
}

/// Polls `/metrics` until the runner has gone through `statements`.
async fn wait_for_rules(client: &Client, statements: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = client.metrics().await?;
        let done = text
            .lines()
            .find_map(|line| line.strip_prefix("fluency_rules_statements_total "))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .context("the server reports fluency_rules_statements_total")?;
        if done >= statements {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "the rules did not catch up within 10 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Mean statements per second of the runs with `rules` rules.
pub fn mean_rate(runs: &[RulesRun], rules: usize, pick: fn(&RulesRun) -> &Stats) -> f64 {
    let rates: Vec<f64> =
        runs.iter().filter(|r| r.rules == rules).filter_map(|r| pick(r).statements_per_second()).collect();
    rates.iter().sum::<f64>() / rates.len().max(1) as f64
}

pub fn print_rules_table(runs: &[RulesRun]) {
    println!("\nIngest with active rules (same statements for each run; runs in the order {RUN_ORDER:?})");
    println!("{:>6} {:>16} {:>16} {:>16}", "rules", "single (32) /s", "batch (100) /s", "rules caught up");
    for run in runs {
        println!(
            "{:>6} {:>16.0} {:>16.0} {:>15.1}s",
            run.rules,
            run.single.statements_per_second().unwrap_or(0.0),
            run.batches.statements_per_second().unwrap_or(0.0),
            run.catch_up.as_secs_f64()
        );
    }
    let (base_single, base_batch) = (mean_rate(runs, 0, |r| &r.single), mean_rate(runs, 0, |r| &r.batches));
    println!("\nMeans of the two runs of each count, and their ratio to no rules:");
    for rules in RULE_COUNTS {
        let (single, batch) = (mean_rate(runs, rules, |r| &r.single), mean_rate(runs, rules, |r| &r.batches));
        println!(
            "{rules:>6} rules: single {single:>8.0}/s ({:>4.0}%), batch {batch:>8.0}/s ({:>4.0}%)",
            100.0 * single / base_single,
            100.0 * batch / base_batch
        );
    }
}

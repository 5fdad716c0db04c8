//! Fluency's benchmark: ingest throughput and latency, query latency at 100k (and, with
//! `--million`, 1M) statements, State document latency, server memory and disk use.
//! Run: `cargo bench --bench lrs` (see README, "Performance"). Prints a table and writes
//! JSON. Point it at another LRS with `--url URL --key KEY --secret SECRET`.

mod badges;
mod console;
mod generator;
mod measure;
mod rules;
mod server;
mod skills;

use std::time::Instant;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use generator::Generator;

// The server's allocator, so the in-process rows (`--badges`) allocate as the server does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use measure::{Client, Stats};

#[derive(Parser, Debug)]
#[command(about = "Fluency LRS benchmark")]
struct Options {
    /// Also fill to one million statements and measure queries there (takes minutes).
    #[arg(long)]
    million: bool,
    /// Benchmark another LRS at this xAPI base URL instead of starting Fluency.
    #[arg(long)]
    url: Option<String>,
    #[arg(long, default_value = "")]
    key: String,
    #[arg(long, default_value = "")]
    secret: String,
    /// Where to write the JSON results.
    #[arg(long, default_value = "target/bench-results.json")]
    out: String,
    /// Smaller counts, for a quick check that everything runs.
    #[arg(long)]
    quick: bool,
    /// Only measure ingest with 0, 10 and 100 active rules (a fresh server each).
    #[arg(long)]
    rules: bool,
    /// Only skills inference: ingest with inference off and on, queries, recovery and
    /// rebuild on about 1M simulated statements.
    #[arg(long)]
    skills: bool,
    /// Only Open Badges credentials: issue and verify throughput (in process).
    #[arg(long)]
    badges: bool,
    /// Only the console: its pages' latency on a server with 1M statements (100k with
    /// --quick), signed in as an administrator.
    #[arg(long)]
    console: bool,
    /// Only the ingest rows (no fill, queries or documents): quick comparisons of builds.
    #[arg(long)]
    ingest_only: bool,
    /// With --url: the process id of that server, when it is a Fluency on this machine, to
    /// measure its CPU time.
    #[arg(long)]
    pid: Option<u32>,
    /// Only the query rows, against the statements the target holds (e.g. a copy of a
    /// database filled before, given with --url and --pid).
    #[arg(long)]
    queries_only: bool,
    /// With --ingest-only: then fill to this many statements and measure the fill.
    #[arg(long)]
    fill_to: Option<usize>,
    /// The `fluency` binary to start instead of this build's (to compare two builds).
    #[arg(long)]
    server: Option<String>,
    /// Seed of the statement generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Ignored: cargo passes it to bench targets.
    #[arg(long, hide = true)]
    bench: bool,
}

pub fn progress(length: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap()
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let scale = if options.quick { 10 } else { 1 };
    if options.rules {
        anyhow::ensure!(options.url.is_none(), "--rules measures Fluency's own rules engine; it takes no --url");
        let runs = rules::rules_suite(options.seed, scale).await?;
        rules::print_rules_table(&runs);
        let results = json!({
            "machine": machine_description(),
            "rules": runs.iter().map(|run| json!({
                "rules": run.rules,
                "single_32_clients": run.single.to_json("single-statement POST, 32 clients"),
                "batch_100": run.batches.to_json("100-statement batch POST, 8 clients"),
                "catch_up_seconds": run.catch_up.as_secs_f64(),
            })).collect::<Vec<Value>>(),
        });
        std::fs::write(&options.out, serde_json::to_string_pretty(&results)?)?;
        println!("\nJSON written to {}", options.out);
        return Ok(());
    }
    if options.badges {
        anyhow::ensure!(options.url.is_none(), "--badges measures Fluency's own credentials; it takes no --url");
        let report = badges::badges_suite(if options.quick { 200 } else { 2000 }).await?;
        badges::print_badges_report(&report);
        let results = json!({"machine": machine_description(), "badges": badges::badges_json(&report)});
        std::fs::write(&options.out, serde_json::to_string_pretty(&results)?)?;
        println!("\nJSON written to {}", options.out);
        return Ok(());
    }
    if options.skills {
        anyhow::ensure!(options.url.is_none(), "--skills measures Fluency's own inference; it takes no --url");
        let report = skills::skills_suite(scale).await?;
        skills::print_skills_report(&report);
        let results = json!({"machine": machine_description(), "skills": skills::skills_json(&report)});
        std::fs::write(&options.out, serde_json::to_string_pretty(&results)?)?;
        println!("\nJSON written to {}", options.out);
        return Ok(());
    }
    if options.console {
        anyhow::ensure!(options.url.is_none(), "--console measures Fluency's own console; it takes no --url");
        let report = console::console_suite(scale, options.seed).await?;
        console::print_console_report(&report);
        let results = json!({"machine": machine_description(), "console": console::console_json(&report)});
        std::fs::write(&options.out, serde_json::to_string_pretty(&results)?)?;
        println!("\nJSON written to {}", options.out);
        return Ok(());
    }
    let target = match &options.url {
        Some(url) => server::Target {
            base: url.trim_end_matches('/').to_string(),
            key: options.key.clone(),
            secret: options.secret.clone(),
            local: None,
            pid: options.pid,
        },
        None => server::start_local(options.server.as_deref()),
    };
    let client = Client::new(&target);
    let mut generator = Generator::new(options.seed);
    let mut rows: Vec<(String, Stats)> = Vec::new();
    let mut stored = 0usize;
    let (mut sent_bytes, mut sent_statements) = (0usize, 0usize);
    if options.queries_only {
        rows.extend(measure::query_suite(&client, &generator, "existing").await?);
        let rss = target.local.as_ref().and_then(server::LocalServer::peak_rss_bytes);
        print_table(&rows, 0, rss, None, 0.0);
        let results = json!({
            "machine": machine_description(),
            "measurements": rows.iter().map(|(name, s)| s.to_json(name)).collect::<Vec<Value>>(),
        });
        std::fs::write(&options.out, serde_json::to_string_pretty(&results)?)?;
        return Ok(());
    }

    for (clients, count) in [(1usize, 3_000usize), (8, 12_000), (32, 24_000)] {
        let count = count / scale;
        let bodies: Vec<Vec<u8>> = (0..count).map(|_| serde_json::to_vec(&generator.statement()).unwrap()).collect();
        sent_bytes += bodies.iter().map(Vec::len).sum::<usize>();
        sent_statements += bodies.len();
        let bar = progress(count as u64, &format!("single POST, {clients} clients"));
        let stats = ingest(&client, &target, bodies, clients, 1, &bar).await?;
        bar.finish_and_clear();
        stored += count;
        rows.push((format!("ingest: single-statement POST, {clients} clients"), stats));
    }
    {
        let batches = 400 / scale;
        let bodies: Vec<Vec<u8>> = (0..batches).map(|_| batch_body(&mut generator, 100)).collect();
        let bar = progress(batches as u64, "batch POST (100), 8 clients");
        let stats = ingest(&client, &target, bodies, 8, 100, &bar).await?;
        bar.finish_and_clear();
        stored += batches * 100;
        rows.push(("ingest: 100-statement batch POST, 8 clients".into(), stats));
    }
    if options.ingest_only {
        if let Some(size) = options.fill_to {
            let (filled, row) = fill(&client, &target, &mut generator, stored, size).await?;
            stored = filled;
            rows.extend(row);
        }
        let rss = target.local.as_ref().and_then(server::LocalServer::peak_rss_bytes);
        print_table(&rows, stored, rss, None, sent_bytes as f64 / sent_statements.max(1) as f64);
        let results = json!({
            "machine": machine_description(),
            "measurements": rows.iter().map(|(name, s)| s.to_json(name)).collect::<Vec<Value>>(),
        });
        std::fs::write(&options.out, serde_json::to_string_pretty(&results)?)?;
        return Ok(());
    }

    let mut sizes = vec![100_000 / scale];
    if options.million {
        sizes.push(1_000_000 / scale);
    }
    let mut query_results = Vec::new();
    for size in sizes {
        let (filled, row) = fill(&client, &target, &mut generator, stored, size).await?;
        stored = filled;
        rows.extend(row);
        let label = if size >= 1_000_000 { "1M".to_string() } else { format!("{}k", size / 1000) };
        let queries = measure::query_suite(&client, &generator, &label).await?;
        query_results.push((label, stored, queries.len()));
        rows.extend(queries);
    }
    rows.extend(measure::state_documents(&client).await?);

    let (rss, disk) = match &target.local {
        Some(local) => (local.peak_rss_bytes(), Some(local.disk_bytes())),
        None => (None, None),
    };
    let statement_bytes = sent_bytes as f64 / sent_statements.max(1) as f64;
    print_table(&rows, stored, rss, disk, statement_bytes);
    let results = json!({
        "average_statement_bytes": statement_bytes,
        "machine": machine_description(),
        "statements_stored": stored,
        "peak_rss_bytes": rss,
        "disk_bytes": disk,
        "disk_bytes_per_statement": disk.map(|d| d as f64 / stored as f64),
        "measurements": rows.iter().map(|(name, s)| s.to_json(name)).collect::<Vec<Value>>(),
    });
    std::fs::write(&options.out, serde_json::to_string_pretty(&results)?)?;
    println!("\nJSON written to {}", options.out);
    Ok(())
}

/// `Client::post_all`, plus the local server's CPU time per statement over the run.
async fn ingest(
    client: &Client,
    target: &server::Target,
    bodies: Vec<Vec<u8>>,
    clients: usize,
    statements_each: usize,
    bar: &ProgressBar,
) -> anyhow::Result<Stats> {
    let before = target.cpu_times();
    let mut stats = client.post_all(bodies, clients, statements_each, bar).await?;
    set_cpu(&mut stats, target, before);
    Ok(stats)
}

/// The local server's CPU time per statement since `before`.
fn set_cpu(stats: &mut Stats, target: &server::Target, before: Option<server::CpuTimes>) {
    let after = target.cpu_times();
    if let (Some(before), Some(after)) = (before, after) {
        let per_statement = |used: std::time::Duration| used.as_secs_f64() * 1e6 / stats.statements.max(1) as f64;
        stats.server_cpu_us = Some(per_statement(after.process.saturating_sub(before.process)));
        stats.writer_cpu_us = after.writer.zip(before.writer).map(|(a, b)| per_statement(a.saturating_sub(b)));
        stats.client_cpu_us = after.client.zip(before.client).map(|(a, b)| per_statement(a.saturating_sub(b)));
        stats.writer_bytes = after
            .writer_wrote
            .zip(before.writer_wrote)
            .map(|(a, b)| a.saturating_sub(b) as f64 / stats.statements.max(1) as f64);
    }
}

pub fn batch_body(generator: &mut Generator, size: usize) -> Vec<u8> {
    let batch: Vec<Value> = (0..size).map(|_| generator.statement()).collect();
    serde_json::to_vec(&batch).unwrap()
}

/// Fills the store up to `size` statements with 100-statement batches; the row measures
/// the whole fill (None when the store already holds that many).
async fn fill(
    client: &Client,
    target: &server::Target,
    generator: &mut Generator,
    stored: usize,
    size: usize,
) -> anyhow::Result<(usize, Option<(String, Stats)>)> {
    if stored >= size {
        return Ok((stored, None));
    }
    let batches = (size - stored).div_ceil(100);
    let bar = progress(batches as u64 * 100, &format!("filling to {size}"));
    let before = target.cpu_times();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut done = 0;
    while done < batches {
        let chunk = (batches - done).min(500);
        let bodies: Vec<Vec<u8>> = (0..chunk).map(|_| batch_body(generator, 100)).collect();
        latencies.extend(client.post_all(bodies, 8, 100, &bar).await?.latencies);
        done += chunk;
    }
    bar.finish_and_clear();
    let mut stats = Stats::new(latencies, batches * 100, started.elapsed(), true);
    set_cpu(&mut stats, target, before);
    println!("filled {} statements in {:.1}s", batches * 100, started.elapsed().as_secs_f64());
    let label = format!("fill from {stored} to {size}: 100-statement batch POST, 8 clients");
    Ok((stored + batches * 100, Some((label, stats))))
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cores} cores ({cpu}); client and server on the same machine")
}

fn print_table(rows: &[(String, Stats)], stored: usize, rss: Option<u64>, disk: Option<u64>, statement_bytes: f64) {
    println!("\nFluency benchmark: {}", machine_description());
    println!(
        "{:<58} {:>9} {:>12} {:>10} {:>10} {:>10} {:>10}  CPU µs/stmt: server (writer), client; WAL KB/stmt",
        "measurement", "requests", "stmts/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    let micros = |value: Option<f64>| value.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into());
    for (name, stats) in rows {
        let cpu = match stats.server_cpu_us {
            Some(_) => format!(
                "{} ({} writer), {} client; {}",
                micros(stats.server_cpu_us),
                micros(stats.writer_cpu_us),
                micros(stats.client_cpu_us),
                stats.writer_bytes.map(|b| format!("{:.1}", b / 1000.0)).unwrap_or_else(|| "-".into())
            ),
            None => "-".into(),
        };
        println!(
            "{:<58} {:>9} {:>12} {:>10.2} {:>10.2} {:>10.2} {:>10.2}  {}",
            name,
            stats.requests,
            stats.statements_per_second().map(|r| format!("{r:.0}")).unwrap_or_else(|| "-".into()),
            stats.percentile_ms(50.0),
            stats.percentile_ms(99.0),
            stats.percentile_ms(99.9),
            stats.percentile_ms(100.0),
            cpu
        );
    }
    println!("statements stored: {stored}");
    match rss {
        Some(rss) => println!("server peak RSS: {:.1} MB", rss as f64 / 1e6),
        None => println!("server peak RSS: n/a (remote LRS)"),
    }
    println!("average statement as sent: {statement_bytes:.0} bytes");
    if let Some(disk) = disk {
        let per_statement = disk as f64 / stored as f64;
        println!(
            "disk: {:.1} MB, {per_statement:.0} bytes per statement, {:.2} KB per KB of statement sent",
            disk as f64 / 1e6,
            per_statement / statement_bytes
        );
    }
}

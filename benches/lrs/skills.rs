//! Skills inference at scale (`--skills`): simulated people (by default 5,000 people, 50
//! skills, 10 practised each, 20 events per skill: 1M statements, `skills::simulate`).
//!
//! 1. Ingest with inference off (no framework) and on, on fresh servers, in the order
//!    off, on, on, off, the same statements each time: throughput of 100-statement
//!    batches (8 clients), and how long inference took to catch up.
//! 2. On one server with inference on, the whole simulation, then p50/p99 of a person's
//!    profile, a 1,000-person team map and talent search; recovery of the true abilities;
//!    the server's peak memory.
//! 3. That server stopped, `fluency skills rebuild` on its data directory, timed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value};

use fluency::skills::simulate::{simulate, Recovery, SimulationSpec};

use crate::measure::{Client, Stats};
use crate::{progress, server};

const RUN_ORDER: [bool; 4] = [false, true, true, false];

pub struct SkillsReport {
    pub statements: usize,
    /// (inference on, batch ingest, catch-up after ingest ended)
    pub ingest: Vec<(bool, Stats, Duration)>,
    pub queries: Vec<(String, Stats)>,
    pub recovery: Recovery,
    pub peak_rss_bytes: Option<u64>,
    pub rebuild: Duration,
}

fn batches(statements: &[Value]) -> Vec<Vec<u8>> {
    statements.chunks(100).map(|chunk| serde_json::to_vec(chunk).expect("statements serialise")).collect()
}

async fn put_framework(client: &Client, text: &str) -> anyhow::Result<()> {
    client.timed(client.api(reqwest::Method::PUT, "skills/framework/simulated.toml").body(text.to_string())).await?;
    Ok(())
}

/// Waits until inference has reached the newest statement.
async fn catch_up(client: &Client) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let newest = client.newest_stored().await?;
    loop {
        let (_, status) = client.timed(client.api(reqwest::Method::GET, "skills/status")).await?;
        let reached = status["evaluated_through"].as_i64().unwrap_or(0);
        if reached >= newest || status["skills"] == 0 {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(900), "inference did not catch up in 15 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn skills_suite(scale: usize) -> anyhow::Result<SkillsReport> {
    let spec = SimulationSpec {
        people: 5_000 / scale,
        skills: 50,
        skills_per_person: 10,
        events_per_skill: 20,
        ..Default::default()
    };
    let simulation = simulate(&spec);
    let bodies = batches(&simulation.statements);
    let compared = bodies.len().min(2_000 / scale);
    let mut ingest = Vec::new();
    for inference in RUN_ORDER {
        let target = server::start_local(None);
        let client = Client::new(&target);
        if inference {
            put_framework(&client, &simulation.framework).await?;
        }
        let label = if inference { "inference on" } else { "inference off" };
        let bar = progress(compared as u64 * 100, &format!("{label}: batch POST, 8"));
        let stats = client.post_all(bodies[..compared].to_vec(), 8, 100, &bar).await?;
        bar.finish_and_clear();
        let caught_up = catch_up(&client).await?;
        ingest.push((inference, stats, caught_up));
    }

    let target = server::start_local(None);
    let client = Client::new(&target);
    put_framework(&client, &simulation.framework).await?;
    let bar = progress(simulation.statements.len() as u64, "filling with inference on");
    client.post_all(bodies, 8, 100, &bar).await?;
    bar.finish_and_clear();
    catch_up(&client).await?;

    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let people: Vec<&str> =
        simulation.truth.keys().map(|(p, _)| p.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
    let at = simulation.end.to_rfc3339();
    let agent = |person: &str| json!({"mbox": person.strip_prefix("mbox:").unwrap_or(person)});
    let mut queries = Vec::new();

    let mut latencies = Vec::new();
    let mut profiles = Vec::new();
    for person in people.choose_multiple(&mut rng, 1_000.min(people.len())) {
        let agent = agent(person).to_string();
        let request =
            client.api(reqwest::Method::GET, "skills/profile").query(&[("agent", agent.as_str()), ("at", at.as_str())]);
        let (took, profile) = client.timed(request).await?;
        latencies.push(took);
        profiles.push(profile);
    }
    queries.push(("skills: a person's profile".to_string(), Stats::new(latencies, 0, Duration::ZERO, false)));

    let mut latencies = Vec::new();
    for _ in 0..50 {
        let members: Vec<Value> =
            people.choose_multiple(&mut rng, 1_000.min(people.len())).map(|p| json!({"agent": agent(p)})).collect();
        let request = client.api(reqwest::Method::POST, "skills/map").json(&json!({"members": members, "at": at}));
        latencies.push(client.timed(request).await?.0);
    }
    queries.push(("skills: 1,000-person team map".to_string(), Stats::new(latencies, 0, Duration::ZERO, false)));

    let mut latencies = Vec::new();
    for index in 0..200 {
        let skill = fluency::skills::simulate::skill_iri(index % spec.skills);
        let request =
            client.api(reqwest::Method::GET, "skills/search").query(&[("skill", skill.as_str()), ("limit", "20")]);
        latencies.push(client.timed(request).await?.0);
    }
    queries.push(("skills: talent search, top 20".to_string(), Stats::new(latencies, 0, Duration::ZERO, false)));

    let recovery = Recovery::from_profiles(&profiles, &simulation.truth);
    let mut local = target.local.expect("a local server");
    let peak_rss_bytes = local.peak_rss_bytes();
    local.child.kill()?;
    local.child.wait()?;
    let data_dir = &local.data_dir;
    let started = Instant::now();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_fluency"))
        .args(["skills", "rebuild", "--quiet", "--data-dir"])
        .arg(data_dir.path())
        .env("FLUENCY_LOG", "warn")
        .status()?;
    anyhow::ensure!(status.success(), "fluency skills rebuild failed");
    let rebuild = started.elapsed();
    Ok(SkillsReport { statements: simulation.statements.len(), ingest, queries, recovery, peak_rss_bytes, rebuild })
}

pub fn print_skills_report(report: &SkillsReport) {
    println!("\nSkills inference, {} simulated statements\n", report.statements);
    println!("| Ingest (100-statement batches, 8 clients) | stmts/s | p99 ms | caught up after |");
    println!("| --- | ---: | ---: | ---: |");
    for (inference, stats, caught_up) in &report.ingest {
        println!(
            "| inference {} | {:.0} | {:.1} | {:.1} s |",
            if *inference { "on" } else { "off" },
            stats.statements_per_second().unwrap_or(0.0),
            stats.percentile_ms(99.0),
            caught_up.as_secs_f64()
        );
    }
    let mean = |on: bool| {
        let runs: Vec<f64> = report
            .ingest
            .iter()
            .filter(|(i, _, _)| *i == on)
            .filter_map(|(_, s, _)| s.statements_per_second())
            .collect();
        runs.iter().sum::<f64>() / runs.len().max(1) as f64
    };
    println!("\nWith inference on, ingest keeps {:.0}% of its throughput.\n", 100.0 * mean(true) / mean(false));
    println!("| Query at {} statements | p50 ms | p99 ms |", report.statements);
    println!("| --- | ---: | ---: |");
    for (name, stats) in &report.queries {
        println!("| {name} | {:.2} | {:.2} |", stats.percentile_ms(50.0), stats.percentile_ms(99.0));
    }
    println!("\nRecovery: {}", report.recovery);
    if let Some(rss) = report.peak_rss_bytes {
        println!("Server peak RSS: {:.0} MB", rss as f64 / 1e6);
    }
    println!("fluency skills rebuild: {:.1} s", report.rebuild.as_secs_f64());
}

pub fn skills_json(report: &SkillsReport) -> Value {
    json!({
        "statements": report.statements,
        "ingest": report.ingest.iter().map(|(on, stats, caught_up)| json!({
            "inference": on,
            "batch_100": stats.to_json("100-statement batch POST, 8 clients"),
            "catch_up_seconds": caught_up.as_secs_f64(),
        })).collect::<Vec<Value>>(),
        "queries": report.queries.iter().map(|(name, s)| s.to_json(name)).collect::<Vec<Value>>(),
        "recovery": report.recovery,
        "peak_rss_bytes": report.peak_rss_bytes,
        "rebuild_seconds": report.rebuild.as_secs_f64(),
    })
}

//! Open Badges credentials (`--badges`): issuing through the badge service on a fresh data
//! directory (consent and idempotency checks, status position, signing with
//! eddsa-rdfc-2022, the store commit and audit entry; no "earned" statement, which is the
//! LRS's ordinary write path) with `ISSUE_IN_FLIGHT` awards at once (as concurrent requests
//! would be: the store commits their writes together), then verifying every issued credential
//! (format, issuer, proof, dates and status, as `POST /api/badges/verify` does) with two per
//! core. Prints credentials per second and the latency tail of each, and, as this machine's
//! cores are often shared with other work, the CPU time each credential took and the rate
//! that makes on all cores (`cores / CPU time per credential`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fluency::config::{Settings, SettingsLayer};
use fluency::credentials::service::{AwardRequest, BadgeService};
use fluency::governance::ConsentRegistry;
use serde_json::{json, Value};

use crate::measure::Stats;

/// Awards in flight while issuing.
const ISSUE_IN_FLIGHT: usize = 16;

pub struct BadgesReport {
    pub issue: Stats,
    pub verify: Stats,
    /// CPU time of this process per credential, issuing and verifying.
    pub issue_cpu: Duration,
    pub verify_cpu: Duration,
    pub cores: usize,
}

fn cpu_now() -> Duration {
    crate::server::cpu_times(std::process::id()).map_or(Duration::ZERO, |times| times.process)
}

async fn open(dir: &std::path::Path) -> anyhow::Result<Arc<BadgeService>> {
    let layer = SettingsLayer {
        data_dir: Some(dir.to_path_buf()),
        public_url: Some("https://lrs.example.com".into()),
        ..Default::default()
    };
    let settings = Settings::resolve([layer])?;
    std::fs::create_dir_all(dir.join("achievements"))?;
    let definition = json!({"id": "sql-basics", "name": "SQL basics", "description": "Writes correct SQL queries.",
        "criteria": "Passed the SQL pathway.", "tags": ["sql"], "alignments": []});
    std::fs::write(dir.join("achievements/sql-basics.json"), definition.to_string())?;
    let store = fluency::startup::open_store(&settings)?;
    let consent = ConsentRegistry::load(&*store).await?;
    Ok(Arc::new(fluency::credentials::open_service(&settings, store, consent)?))
}

/// Runs `work(i)` for every `i < count` with `parallel` in flight; returns the latencies and
/// the outputs in order.
async fn run_all<T, F, Fut>(count: usize, parallel: usize, work: F) -> anyhow::Result<(Vec<Duration>, Vec<T>, Duration)>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let work = Arc::new(work);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..parallel)
        .map(|_| {
            let (work, next) = (work.clone(), next.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return anyhow::Ok(done);
                    }
                    let start = Instant::now();
                    let output = work(i).await?;
                    done.push((i, start.elapsed(), output));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let elapsed = started.elapsed();
    all.sort_by_key(|(i, _, _)| *i);
    let latencies = all.iter().map(|(_, latency, _)| *latency).collect();
    Ok((latencies, all.into_iter().map(|(_, _, output)| output).collect(), elapsed))
}

pub async fn badges_suite(count: usize) -> anyhow::Result<BadgesReport> {
    let dir = tempfile::tempdir()?;
    let service = open(dir.path()).await?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let parallel = cores * 2;
    let issuing = service.clone();
    let cpu_before = cpu_now();
    let (latencies, credentials, elapsed) = run_all(count, ISSUE_IN_FLIGHT, move |i| {
        let service = issuing.clone();
        async move {
            let request = AwardRequest {
                person: format!("mbox:mailto:learner-{i}@example.com"),
                achievement: "sql-basics".into(),
                award_key: None,
                actor: "bench".into(),
            };
            let awarded = service.award(request).await?;
            anyhow::ensure!(awarded.created, "every award is new");
            Ok(awarded.badge.document)
        }
    })
    .await?;
    let issue = Stats::new(latencies, count, elapsed, true);
    let issue_cpu = (cpu_now() - cpu_before) / count as u32;
    let credentials: Arc<Vec<Value>> = Arc::new(credentials);
    let cpu_before = cpu_now();
    let verifying = service.clone();
    let (latencies, _, elapsed) = run_all(count, parallel, move |i| {
        let (service, credentials) = (verifying.clone(), credentials.clone());
        async move {
            let verdict = service.verify(credentials[i].clone()).await?;
            anyhow::ensure!(verdict.verified, "an issued credential verifies: {:?}", verdict.checks);
            Ok(())
        }
    })
    .await?;
    let verify = Stats::new(latencies, count, elapsed, true);
    let verify_cpu = (cpu_now() - cpu_before) / count as u32;
    Ok(BadgesReport { issue, verify, issue_cpu, verify_cpu, cores })
}

pub fn print_badges_report(report: &BadgesReport) {
    println!(
        "{:<26} {:>11} {:>8} {:>8} {:>8} {:>12} {:>14}",
        "badges",
        "per second",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU ms each",
        format!("on {} cores/s", report.cores)
    );
    let rows = [
        ("issue (sign + store)", &report.issue, report.issue_cpu),
        ("verify (proof + status)", &report.verify, report.verify_cpu),
    ];
    for (name, stats, cpu) in rows {
        println!(
            "{:<26} {:>11.0} {:>8.2} {:>8.2} {:>8.2} {:>12.2} {:>14.0}",
            name,
            stats.statements_per_second().unwrap_or(0.0),
            stats.percentile_ms(50.0),
            stats.percentile_ms(99.0),
            stats.percentile_ms(100.0),
            cpu.as_secs_f64() * 1000.0,
            report.cores as f64 / cpu.as_secs_f64().max(1e-9),
        );
    }
}

pub fn badges_json(report: &BadgesReport) -> Value {
    json!({
        "issue": report.issue.to_json("issue"),
        "verify": report.verify.to_json("verify"),
        "issue_cpu_ms": report.issue_cpu.as_secs_f64() * 1000.0,
        "verify_cpu_ms": report.verify_cpu.as_secs_f64() * 1000.0,
        "cores": report.cores,
    })
}

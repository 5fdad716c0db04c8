//! Open Badges credentials (`--badges`): issuing through the badge service on a fresh data
//! directory (consent and idempotency checks, status position, signing with
//! eddsa-rdfc-2022, the store commit and audit entry; no "earned" statement, which is the
//! LRS's ordinary write path), then verifying every issued credential (format, issuer, proof,
//! dates and status, as `POST /api/badges/verify` does), both with as many tasks in flight as
//! cores. Prints credentials per second and the latency tail of each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fluency::config::{Settings, SettingsLayer};
use fluency::credentials::service::{AwardRequest, BadgeService};
use fluency::governance::ConsentRegistry;
use serde_json::{json, Value};

use crate::measure::Stats;

pub struct BadgesReport {
    pub issue: Stats,
    pub verify: Stats,
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
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let issuing = service.clone();
    let (latencies, credentials, elapsed) = run_all(count, parallel, move |i| {
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
    let credentials: Arc<Vec<Value>> = Arc::new(credentials);
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
    Ok(BadgesReport { issue, verify })
}

pub fn print_badges_report(report: &BadgesReport) {
    println!("{:<34} {:>12} {:>9} {:>9} {:>9}", "badges", "per second", "p50 ms", "p99 ms", "max ms");
    for (name, stats) in [("issue (sign + store)", &report.issue), ("verify (proof + status)", &report.verify)] {
        println!(
            "{:<34} {:>12.0} {:>9.2} {:>9.2} {:>9.2}",
            name,
            stats.statements_per_second().unwrap_or(0.0),
            stats.percentile_ms(50.0),
            stats.percentile_ms(99.0),
            stats.percentile_ms(100.0),
        );
    }
}

pub fn badges_json(report: &BadgesReport) -> Value {
    json!({"issue": report.issue.to_json("issue"), "verify": report.verify.to_json("verify")})
}

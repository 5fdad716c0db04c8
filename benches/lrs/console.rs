//! The console at scale (`--console`):
//!
//! 1. Ingest with the console off and on (it counts every statement for its overview), on
//!    fresh servers in the order off, on, on, off, the same 100-statement batches each time.
//! 2. A server filled with 1M generated statements (100k with `--quick`) plus the demo
//!    helpdesk, its people in 50 teams, and a rule; an administrator signed in to the
//!    console fetches each page `REQUESTS` times, one client, and the p50, p99 and max of
//!    each are printed against the 200 ms target.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::generator::{actor_mbox, Generator, ACTORS};
use crate::measure::{Client, Stats};
use crate::{progress, server};

const REQUESTS: usize = 200;
/// The pages' target, p99.
const TARGET_MS: f64 = 200.0;

const RUN_ORDER: [bool; 4] = [false, true, true, false];

pub struct ConsoleReport {
    /// (console on, batch ingest)
    pub ingest: Vec<(bool, Stats)>,
    pub statements: usize,
    pub pages: Vec<(String, Stats)>,
    pub peak_rss_bytes: Option<u64>,
}

/// A signed-in browser: the session cookie, and redirects not followed.
struct Browser {
    http: reqwest::Client,
    origin: String,
    cookies: Vec<String>,
}

impl Browser {
    fn remember(&mut self, response: &reqwest::Response) {
        for cookie in response.headers().get_all("set-cookie") {
            let pair = cookie.to_str().unwrap_or_default().split(';').next().unwrap_or_default().to_string();
            let name = pair.split('=').next().unwrap_or_default().to_string();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<(Duration, String)> {
        let sent = Instant::now();
        let response =
            self.http.get(format!("{}{path}", self.origin)).header("Cookie", self.cookies.join("; ")).send().await?;
        self.remember(&response);
        let status = response.status();
        let text = response.text().await?;
        let took = sent.elapsed();
        if status != 200 {
            bail!("GET {path} answered {status}: {}", text.chars().take(300).collect::<String>());
        }
        Ok((took, text))
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<reqwest::Response> {
        let response = self
            .http
            .post(format!("{}{path}", self.origin))
            .header("Cookie", self.cookies.join("; "))
            .header("Origin", &self.origin)
            .form(fields)
            .send()
            .await?;
        self.remember(&response);
        Ok(response)
    }
}

fn hidden(page: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).with_context(|| format!("no {name} field"))? + marker.len();
    Ok(page[start..].split('"').next().unwrap_or_default().to_string())
}

pub async fn console_suite(scale: usize, seed: u64) -> anyhow::Result<ConsoleReport> {
    let mut generator = Generator::new(seed);
    let compared: Vec<Vec<u8>> = (0..2_000 / scale)
        .map(|_| serde_json::to_vec(&(0..100).map(|_| generator.statement()).collect::<Vec<_>>()).unwrap())
        .collect();
    let mut ingest = Vec::new();
    for console in RUN_ORDER {
        let target = server::start_local_with(None, &[("FLUENCY_CONSOLE_ENABLED", console.to_string())]);
        let client = Client::new(&target);
        let label = if console { "console on" } else { "console off" };
        let bar = progress(compared.len() as u64 * 100, &format!("{label}: batch POST, 8"));
        ingest.push((console, client.post_all(compared.clone(), 8, 100, &bar).await?));
        bar.finish_and_clear();
    }

    let target = server::start_local(None);
    let client = Client::new(&target);
    let origin: String = target.base.split('/').take(3).collect::<Vec<_>>().join("/");

    // The demo helpdesk (KPIs, a course, skills evidence), then generated statements up to the size.
    let spec = fluency::kpi::DemoSpec { agents: 300, seed, ..Default::default() };
    let mut demo = fluency::kpi::generate_demo(&spec);
    let (_, post) = fluency::kpi::demo::demo_windows(&spec);
    demo.statements.extend(fluency::skills::demo::demo_skill_statements(&demo, seed, post.end));
    let demo_bodies: Vec<Vec<u8>> = demo.statements.chunks(100).map(|c| serde_json::to_vec(c).unwrap()).collect();
    let size = 1_000_000 / scale;
    let remaining = size.saturating_sub(demo.statements.len()) / 100;
    let bodies: Vec<Vec<u8>> = (0..remaining)
        .map(|_| serde_json::to_vec(&(0..100).map(|_| generator.statement()).collect::<Vec<_>>()).unwrap())
        .collect();
    let statements = demo.statements.len() + remaining * 100;
    let bar = progress(statements as u64, "filling");
    client.post_all(demo_bodies, 8, 100, &bar).await?;
    client.post_all(bodies, 8, 100, &bar).await?;
    bar.finish_and_clear();
    let filled = Instant::now();

    // People in teams (the CLI beside the running server), the demo framework, and a rule.
    let local = target.local.as_ref().expect("a local server");
    let csv = local.data_dir.path().join("people.csv");
    let mut rows = String::from("person,team\n");
    for actor in 0..ACTORS {
        rows.push_str(&format!("{},team-{}\n", actor_mbox(actor), actor % 50));
    }
    std::fs::write(&csv, rows)?;
    let imported = std::process::Command::new(env!("CARGO_BIN_EXE_fluency"))
        .args(["people", "import", "--quiet", "--data-dir"])
        .arg(local.data_dir.path())
        .arg(&csv)
        .env("FLUENCY_LOG", "warn")
        .status()?;
    anyhow::ensure!(imported.success(), "fluency people import failed");
    let framework = fluency::skills::demo::demo_framework();
    client.timed(client.api(reqwest::Method::PUT, "skills/framework/helpdesk.toml").body(framework)).await?;
    let rule = std::fs::read_to_string(format!("{}/rules/kpi-triggered-assignment.rhai", env!("CARGO_MANIFEST_DIR")))?;
    client.timed(client.api(reqwest::Method::PUT, "rules/kpi-triggered-assignment").body(rule)).await?;

    // Signed in as the administrator, once the overview has counted everything.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let mut browser = Browser { http, origin, cookies: Vec::new() };
    let (_, page) = browser.get("/console/sign-in").await?;
    let token = hidden(&page, "sign_in")?;
    let signed = browser
        .post("/console/sign-in", &[("sign_in", &token), ("key", &target.key), ("secret", &target.secret)])
        .await?;
    anyhow::ensure!(signed.status() == 303, "sign-in answered {}", signed.status());
    let csrf = loop {
        let (_, overview) = browser.get("/console").await?;
        if !overview.contains("Still counting") {
            break hidden(&overview, "csrf")?;
        }
        anyhow::ensure!(filled.elapsed() < Duration::from_secs(600), "the overview did not catch up in 10 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let counted = filled.elapsed().as_secs_f64();
    println!("The overview had counted all {statements} statements {counted:.1} s after the fill ended.");
    let request: Value = serde_json::to_value(toml::from_str::<fluency::service::impact::ImpactRequest>(
        &fluency::kpi::demo_impact_spec(&spec),
    )?)?;
    let text = |pointer: &str| request.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
    let (kpi, verb, activity) = (text("/kpi"), text("/treated/verb"), text("/treated/activity"));
    let made = browser
        .post(
            "/console/impact",
            &[("csrf", &csrf), ("kpi", &kpi), ("treated_verb", &verb), ("treated_activity", &activity)],
        )
        .await?;
    anyhow::ensure!(made.status() == 303, "the analysis answered {}", made.status());
    let analysis = made.headers()["location"].to_str()?.to_string();

    let pages = [
        ("overview", "/console".to_string()),
        ("impact: the form", "/console/impact".to_string()),
        ("impact: an analysis with its charts", analysis),
        ("rules", "/console/rules".to_string()),
        ("skills: teams", "/console/skills".to_string()),
        ("skills: a team's heat map (100 people)", "/console/skills/teams/team-7".to_string()),
        ("API description (JSON)", "/api/openapi.json".to_string()),
    ];
    let mut measured = Vec::new();
    for (name, path) in pages {
        let mut latencies = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            latencies.push(browser.get(&path).await?.0);
        }
        measured.push((format!("console: {name}"), Stats::new(latencies, 0, Duration::ZERO, false)));
    }
    let peak_rss_bytes = local.peak_rss_bytes();
    Ok(ConsoleReport { ingest, statements, pages: measured, peak_rss_bytes })
}

pub fn print_console_report(report: &ConsoleReport) {
    println!("\n| Ingest (100-statement batches, 8 clients) | stmts/s | p99 ms |");
    println!("| --- | ---: | ---: |");
    for (console, stats) in &report.ingest {
        let label = if *console { "console on" } else { "console off" };
        let rate = stats.statements_per_second().unwrap_or(0.0);
        println!("| {label} | {rate:.0} | {:.1} |", stats.percentile_ms(99.0));
    }
    let mean = |on: bool| {
        let runs: Vec<f64> =
            report.ingest.iter().filter(|(c, _)| *c == on).filter_map(|(_, s)| s.statements_per_second()).collect();
        runs.iter().sum::<f64>() / runs.len().max(1) as f64
    };
    println!("\nWith the console on, ingest keeps {:.0}% of its throughput.", 100.0 * mean(true) / mean(false));
    println!("\nConsole pages at {} statements, one client, signed in\n", report.statements);
    println!("| Page | p50 ms | p99 ms | max ms | p99 / target ({TARGET_MS} ms) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, stats) in &report.pages {
        let p99 = stats.percentile_ms(99.0);
        println!(
            "| {name} | {:.2} | {p99:.2} | {:.2} | {:.2} |",
            stats.percentile_ms(50.0),
            stats.percentile_ms(100.0),
            p99 / TARGET_MS
        );
    }
    if let Some(rss) = report.peak_rss_bytes {
        println!("\nServer peak RSS: {:.0} MB", rss as f64 / 1e6);
    }
}

pub fn console_json(report: &ConsoleReport) -> Value {
    json!({
        "ingest": report.ingest.iter().map(|(console, stats)| json!({
            "console": console,
            "batch_100": stats.to_json("100-statement batch POST, 8 clients"),
        })).collect::<Vec<Value>>(),
        "statements": report.statements,
        "target_p99_ms": TARGET_MS,
        "pages": report.pages.iter().map(|(name, s)| s.to_json(name)).collect::<Vec<Value>>(),
        "peak_rss_bytes": report.peak_rss_bytes,
    })
}

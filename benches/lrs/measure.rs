//! HTTP load and latency measurement against the target LRS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use indicatif::ProgressBar;
use rand::Rng;
use serde_json::{json, Value};

use crate::generator::{activity_id, actor_mbox, verb_id, Generator, ACTIVITIES, ACTORS, VERBS};
use crate::server::Target;

const QUERIES_PER_FILTER: usize = 200;

pub struct Stats {
    pub requests: usize,
    pub statements: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    /// Latency-only rows (queries) print no throughput.
    pub throughput: bool,
    /// Server CPU time per statement, in microseconds (local server, ingest rows).
    pub server_cpu_us: Option<f64>,
    /// The SQLite writer thread's share of `server_cpu_us`.
    pub writer_cpu_us: Option<f64>,
    /// This benchmark's own CPU time per statement over the same run.
    pub client_cpu_us: Option<f64>,
    /// Bytes the writer thread wrote per statement (WAL frames).
    pub writer_bytes: Option<f64>,
    /// Ingest rows: per second of the run, the requests that finished in it and their
    /// latency tail, so a pause shows where it happened.
    pub per_second: Vec<Second>,
}

/// One second of an ingest run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Second {
    pub second: u64,
    pub requests: usize,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Buckets (time finished since the start, latency) pairs by second.
fn per_second(finished: &[(Duration, Duration)]) -> Vec<Second> {
    let mut buckets: std::collections::BTreeMap<u64, Vec<Duration>> = std::collections::BTreeMap::new();
    for (at, latency) in finished {
        buckets.entry(at.as_secs()).or_default().push(*latency);
    }
    buckets
        .into_iter()
        .map(|(second, mut latencies)| {
            latencies.sort();
            let at =
                |share: f64| latencies[((latencies.len() - 1) as f64 * share).round() as usize].as_secs_f64() * 1000.0;
            Second { second, requests: latencies.len(), p99_ms: at(0.99), max_ms: at(1.0) }
        })
        .collect()
}

impl Stats {
    pub fn new(latencies: Vec<Duration>, statements: usize, elapsed: Duration, throughput: bool) -> Self {
        let mut latencies = latencies;
        latencies.sort();
        Self {
            requests: latencies.len(),
            statements,
            elapsed,
            latencies,
            throughput,
            server_cpu_us: None,
            writer_cpu_us: None,
            client_cpu_us: None,
            writer_bytes: None,
            per_second: Vec::new(),
        }
    }

    pub fn statements_per_second(&self) -> Option<f64> {
        self.throughput.then(|| self.statements as f64 / self.elapsed.as_secs_f64())
    }

    pub fn percentile_ms(&self, percent: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((percent / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[index].as_secs_f64() * 1000.0
    }

    pub fn to_json(&self, name: &str) -> Value {
        json!({
            "name": name,
            "requests": self.requests,
            "statements_per_second": self.statements_per_second(),
            "p50_ms": self.percentile_ms(50.0),
            "p99_ms": self.percentile_ms(99.0),
            "p999_ms": self.percentile_ms(99.9),
            "max_ms": self.percentile_ms(100.0),
            "per_second": self.per_second,
            "server_cpu_us_per_statement": self.server_cpu_us,
            "writer_cpu_us_per_statement": self.writer_cpu_us,
            "client_cpu_us_per_statement": self.client_cpu_us,
            "writer_bytes_per_statement": self.writer_bytes,
        })
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    authorization: String,
}

impl Client {
    pub fn new(target: &Target) -> Self {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", target.key, target.secret));
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("HTTP client");
        Self { http, base: target.base.clone(), authorization: format!("Basic {credentials}") }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("Authorization", &self.authorization)
            .header("X-Experience-API-Version", "1.0.3")
    }

    /// POSTs every body with `clients` concurrent clients; each body holds
    /// `statements_each` statements.
    pub async fn post_all(
        &self,
        bodies: Vec<Vec<u8>>,
        clients: usize,
        statements_each: usize,
        bar: &ProgressBar,
    ) -> anyhow::Result<Stats> {
        let count = bodies.len();
        let bodies = Arc::new(bodies);
        let next = Arc::new(AtomicUsize::new(0));
        let latencies = Arc::new(Mutex::new(Vec::with_capacity(count)));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (client, bodies, next, latencies, bar) =
                (self.clone(), bodies.clone(), next.clone(), latencies.clone(), bar.clone());
            tasks.push(tokio::spawn(async move {
                let url = format!("{}/statements", client.base);
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(index) else { return Ok::<_, anyhow::Error>(()) };
                    let sent = Instant::now();
                    let response = client
                        .request(reqwest::Method::POST, &url)
                        .header("Content-Type", "application/json")
                        .body(body.clone())
                        .send()
                        .await?;
                    let status = response.status();
                    let text = response.text().await?;
                    if status != 200 {
                        bail!("POST statements answered {status}: {text}");
                    }
                    latencies.lock().unwrap().push((started.elapsed(), sent.elapsed()));
                    bar.inc(statements_each as u64);
                }
            }));
        }
        for task in tasks {
            task.await??;
        }
        let elapsed = started.elapsed();
        let finished = std::mem::take(&mut *latencies.lock().unwrap());
        let mut stats =
            Stats::new(finished.iter().map(|(_, latency)| *latency).collect(), count * statements_each, elapsed, true);
        stats.per_second = per_second(&finished);
        Ok(stats)
    }

    /// The server's `/metrics` text (beside the xAPI base path, at the origin).
    pub async fn metrics(&self) -> anyhow::Result<String> {
        let origin: String = self.base.split('/').take(3).collect::<Vec<_>>().join("/");
        let response =
            self.http.get(format!("{origin}/metrics")).header("Authorization", &self.authorization).send().await?;
        Ok(response.error_for_status()?.text().await?)
    }

    /// `stored` of the newest statement (microseconds), 0 when there is none.
    pub async fn newest_stored(&self) -> anyhow::Result<i64> {
        let (_, page) = self.timed_get(&format!("{}/statements?limit=1", self.base)).await?;
        let stored = page["statements"][0]["stored"].as_str().unwrap_or("1970-01-01T00:00:00Z");
        let at = chrono::DateTime::parse_from_rfc3339(stored).context("stored is RFC 3339")?;
        Ok(at.timestamp_micros())
    }

    /// A request to Fluency's own API (`/api/<path>`, at the origin), with the credentials.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let origin: String = self.base.split('/').take(3).collect::<Vec<_>>().join("/");
        self.http.request(method, format!("{origin}/api/{path}")).header("Authorization", &self.authorization)
    }

    /// Sends the request and times it until the whole answer is read; refuses non-2xx.
    pub async fn timed(&self, request: reqwest::RequestBuilder) -> anyhow::Result<(Duration, Value)> {
        let sent = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let took = sent.elapsed();
        if !status.is_success() {
            bail!("answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok((took, serde_json::from_slice(&body).context("the answer is JSON")?))
    }

    async fn timed_get(&self, url: &str) -> anyhow::Result<(Duration, Value)> {
        let sent = Instant::now();
        let response = self.request(reqwest::Method::GET, url).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let took = sent.elapsed();
        if status != 200 {
            bail!("GET {url} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok((took, serde_json::from_slice(&body).context("query response is JSON")?))
    }
}

/// Makes the filter part of one query from a random source.
type QueryMaker<'a> = Box<dyn Fn(&mut rand::rngs::ThreadRng) -> String + 'a>;

/// p50/p99 of each query kind, `limit=100`, one client.
pub async fn query_suite(client: &Client, generator: &Generator, label: &str) -> anyhow::Result<Vec<(String, Stats)>> {
    let mut rng = rand::thread_rng();
    let since = chrono::Utc::now() - chrono::Duration::seconds(30);
    let kinds: [(&str, QueryMaker); 6] = [
        (
            "agent",
            Box::new(|r| format!("agent={}", encode(&json!({"mbox": actor_mbox(r.gen_range(0..ACTORS))}).to_string()))),
        ),
        ("verb", Box::new(|r| format!("verb={}", encode(&verb_id(r.gen_range(0..VERBS)))))),
        ("activity", Box::new(|r| format!("activity={}", encode(&activity_id(r.gen_range(0..ACTIVITIES)))))),
        ("registration", Box::new(|r| format!("registration={}", generator.registration(r.gen_range(0..1000))))),
        (
            "related_activities",
            Box::new(|r| {
                format!(
                    "activity={}&related_activities=true",
                    encode(&format!("http://bench.example.com/courses/course-{}", r.gen_range(0..ACTIVITIES / 10)))
                )
            }),
        ),
        ("since", Box::new(move |_| format!("since={}", encode(&since.to_rfc3339())))),
    ];
    let mut rows = Vec::new();
    for (name, make) in kinds.iter() {
        let mut latencies = Vec::with_capacity(QUERIES_PER_FILTER);
        let started = Instant::now();
        for _ in 0..QUERIES_PER_FILTER {
            let url = format!("{}/statements?limit=100&{}", client.base, make(&mut rng));
            latencies.push(client.timed_get(&url).await?.0);
        }
        rows.push((format!("query at {label}: {name}"), Stats::new(latencies, 0, started.elapsed(), false)));
    }
    // Paging: follow `more` through the newest statements.
    let origin = client.base.split("/xapi").next().unwrap_or(&client.base).to_string();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let (took, mut page) = client.timed_get(&format!("{}/statements?limit=100", client.base)).await?;
    latencies.push(took);
    while latencies.len() < 50 {
        let Some(more) = page["more"].as_str().filter(|m| !m.is_empty()).map(str::to_string) else { break };
        let (took, next) = client.timed_get(&format!("{origin}{more}")).await?;
        latencies.push(took);
        page = next;
    }
    rows.push((format!("query at {label}: paging through more"), Stats::new(latencies, 0, started.elapsed(), false)));
    Ok(rows)
}

/// State document PUT and GET latency, when the LRS offers the State resource.
pub async fn state_documents(client: &Client) -> anyhow::Result<Vec<(String, Stats)>> {
    let agent = encode(&json!({"mbox": "mailto:state-bench@example.com"}).to_string());
    let activity = encode("http://bench.example.com/activities/state");
    let probe = format!("{}/activities/state?activityId={activity}&agent={agent}&stateId=probe", client.base);
    let answer = client
        .request(reqwest::Method::PUT, &probe)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await?;
    if !answer.status().is_success() {
        println!("State resource not available ({}); document latency not measured", answer.status());
        return Ok(Vec::new());
    }
    let (mut puts, mut gets) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for index in 0..500 {
        let url = format!(
            "{}/activities/state?activityId={activity}&agent={agent}&stateId=bookmark-{}",
            client.base,
            index % 50
        );
        let sent = Instant::now();
        let response = client
            .request(reqwest::Method::PUT, &url)
            .header("Content-Type", "application/json")
            .body(format!("{{\"page\":{index}}}"))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("PUT state answered {}", response.status());
        }
        puts.push(sent.elapsed());
        let sent = Instant::now();
        let response = client.request(reqwest::Method::GET, &url).send().await?;
        response.bytes().await?;
        gets.push(sent.elapsed());
    }
    let elapsed = started.elapsed();
    Ok(vec![
        ("documents: State PUT".into(), Stats::new(puts, 0, elapsed, false)),
        ("documents: State GET".into(), Stats::new(gets, 0, elapsed, false)),
    ])
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

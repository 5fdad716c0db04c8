//! One HTTP attempt to deliver an intent to a target: build the body, add the idempotency
//! and signature headers, POST without following redirects, classify the answer. Called by
//! `worker`; knows nothing of the outbox.

use std::error::Error as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};

use super::payload::request_body;
use super::retry::{classify_status, parse_retry_after, AttemptOutcome, Verdict};
use super::signing::signature_headers;
use super::target::Target;
use crate::rules::intent::IntentRecord;

/// Header carrying the intent's key on every kind of target (Slack and Teams ignore it;
/// generic receivers and proxies may dedupe on it).
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Longest excerpt of a refusing response's body kept in the error text.
const DETAIL_CHARS: usize = 200;

/// Sends requests; cheap to clone (one connection pool).
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            // A redirect is a failure: following it could leak the body (or a signed
            // request) to a host the operator never configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fluency/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| anyhow::anyhow!("building the delivery HTTP client: {e}"))?;
        Ok(Self { client })
    }

    /// One attempt to deliver `record` to `target`. `occurred_at` dates the event (the same
    /// on every retry); `now` is the signature timestamp.
    pub async fn send(
        &self,
        target: &Target,
        record: &IntentRecord,
        occurred_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> AttemptOutcome {
        let body = match request_body(target.kind(), record, occurred_at) {
            Ok(body) => serde_json::to_vec(&body).expect("JSON values serialize"),
            Err(error) => return AttemptOutcome::permanent(format!("{target}: {error}")),
        };
        let mut request = self
            .client
            .post(target.url().clone())
            .timeout(target.timeout())
            .header(CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_KEY_HEADER, &record.key);
        if let Some(secret) = target.secret() {
            for (name, value) in signature_headers(secret, &record.key, now.timestamp(), &body) {
                request = request.header(name, value);
            }
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => return AttemptOutcome::retryable(describe(error, target)),
        };
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, now));
        let detail = match classify_status(status) {
            Verdict::Delivered => String::new(),
            _ => scrub(&excerpt(response).await, target),
        };
        AttemptOutcome::from_response(status, retry_after, &detail)
    }
}

/// The start of a refusal's body (Slack explains errors there: `invalid_payload`, ...),
/// on one line.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < DETAIL_CHARS * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(DETAIL_CHARS).collect()
}

/// A network failure in words, without the URL (reqwest's own message includes it).
fn describe(error: reqwest::Error, target: &Target) -> String {
    if error.is_timeout() {
        return format!("timed out after {} ms", target.timeout().as_millis());
    }
    let error = error.without_url();
    let mut text = if error.is_connect() { "connection failed".to_string() } else { error.to_string() };
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    scrub(&text, target).chars().take(DETAIL_CHARS * 2).collect()
}

/// Belt and braces: whatever a library or receiver echoes, the secret part of the URL
/// never reaches an error text (and so never the outbox or logs).
fn scrub(text: &str, target: &Target) -> String {
    let url = target.url();
    let mut text = text.replace(url.as_str(), &target.redacted_url());
    for secret in [url.path(), url.query().unwrap_or("")] {
        if secret.len() > 1 {
            text = text.replace(secret, "…");
        }
    }
    text
}

//! Where imported and generated statements go: the local store, through the same
//! `StatementService` as the API, or another LRS over HTTP. Sends in batches with a
//! progress bar. Used by `fluency kpi import` and `fluency demo load`.

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::{Principal, Scope};
use crate::config::Settings;
use crate::service::StatementService;
use crate::startup::{open_statement_service, open_store};
use crate::xapi::XapiVersion;

/// Statements per request or transaction: large enough to be quick, small enough that a
/// failing batch is easy to find in the file.
pub const BATCH_SIZE: usize = 500;

/// 1.0.3 is accepted by every LRS, so a local and a remote import store the same thing.
const VERSION: XapiVersion = XapiVersion::V1_0_3;
const VERSION_HEADER: &str = "1.0.3";

pub struct StatementSink {
    target: Target,
}

enum Target {
    Local { service: StatementService, principal: Principal, data_dir: String },
    Remote { client: reqwest::Client, statements_url: String, key: String, secret: String },
}

/// What a send did. Only the local store can tell how many statements were already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    pub already_stored: Option<usize>,
}

impl StatementSink {
    /// The store in the data directory. `importer` names the authority of the statements:
    /// an account on this LRS (`settings.public_url`), e.g. `kpi-import`.
    pub fn local(settings: &Settings, importer: &str) -> anyhow::Result<Self> {
        let service = open_statement_service(settings, open_store(settings)?)?;
        // Define: the KPI's name, unit and direction become its activity definition.
        let principal =
            Principal::for_account(&settings.public_url, importer, vec![Scope::StatementsWrite, Scope::Define]);
        let data_dir = settings.data_dir.display().to_string();
        Ok(Self { target: Target::Local { service, principal, data_dir } })
    }

    /// The LRS whose xAPI base is `base_url` (e.g. `https://lrs.example.com/xapi`), with a
    /// credential allowed to write statements.
    pub fn remote(base_url: &str, key: &str, secret: &str) -> anyhow::Result<Self> {
        let base = base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--url: {base_url:?} must start with http:// or https:// (e.g. https://lrs.example.com/xapi)");
        }
        // Generous for a batch of 500 on a slow LRS; without a limit a dead one would hang the import.
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            target: Target::Remote {
                client,
                statements_url: format!("{base}/statements"),
                key: key.to_string(),
                secret: secret.to_string(),
            },
        })
    }

    /// Where the statements go, for messages.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Local { data_dir, .. } => format!("the local store in {data_dir}"),
            Target::Remote { statements_url, .. } => statements_url.clone(),
        }
    }

    /// Sends every statement in batches of `BATCH_SIZE`, showing progress on a terminal.
    /// Each batch is all or nothing; an error names the batch's first statement.
    pub async fn send_all(&self, statements: &[Value], label: &str) -> anyhow::Result<SendReport> {
        let bar = ProgressBar::new(statements.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} statements, eta {eta}")
                .expect("a valid progress template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        let mut report = SendReport { sent: 0, already_stored: None };
        for (index, batch) in statements.chunks(BATCH_SIZE).enumerate() {
            let first = index * BATCH_SIZE + 1;
            let already = self
                .send(batch)
                .await
                .with_context(|| format!("sending statements {first} to {}", first + batch.len() - 1))?;
            report.sent += batch.len();
            report.already_stored = match (report.already_stored, already) {
                (None, Some(n)) if index == 0 => Some(n),
                (Some(total), Some(n)) => Some(total + n),
                _ => None,
            };
            bar.inc(batch.len() as u64);
        }
        bar.finish_and_clear();
        Ok(report)
    }

    /// Sends one batch; returns how many of its statements were stored before, if known.
    async fn send(&self, batch: &[Value]) -> anyhow::Result<Option<usize>> {
        match &self.target {
            Target::Local { service, principal, .. } => {
                let ids: Vec<Uuid> = batch.iter().filter_map(|s| s["id"].as_str()?.parse().ok()).collect();
                let already = service.store().find_statements(&ids).await?.len();
                service.store_statements(principal, VERSION, Value::from(batch.to_vec()), None, Vec::new()).await?;
                Ok(Some(already))
            }
            Target::Remote { client, statements_url, key, secret } => {
                let response = client
                    .post(statements_url)
                    .basic_auth(key, Some(secret))
                    .header("X-Experience-API-Version", VERSION_HEADER)
                    .json(batch)
                    .send()
                    .await
                    .with_context(|| format!("POST {statements_url}"))?;
                let status = response.status();
                if !status.is_success() {
                    let body = response.text().await.unwrap_or_default();
                    let body: String = body.chars().take(1000).collect();
                    bail!("POST {statements_url} answered {status}: {body}");
                }
                Ok(None)
            }
        }
    }
}

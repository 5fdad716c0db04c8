//! `fluency badges`: award, list and revoke Open Badges credentials, verify one from a file
//! and rotate the issuer key, on the data directory (beside a running server: revocations
//! show in its status lists at the next fetch). Every change is in the audit log as `cli`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::Value;

use crate::config::Settings;
use crate::credentials::service::{AwardRequest, BadgeService};
use crate::credentials::BadgeView;
use crate::governance::ConsentRegistry;
use crate::startup::{open_statement_service, open_store_shared};
use crate::storage::BadgeFilter;

#[derive(Debug, Subcommand)]
pub enum BadgesAction {
    /// Award an achievement's credential to a person (again only if it is repeatable).
    Award {
        /// The person: `mailto:...`, or an xAPI Agent as JSON.
        #[arg(long)]
        agent: String,
        /// The achievement id (a file `<data_dir>/achievements/<id>.json`).
        #[arg(long)]
        achievement: String,
        /// Running the command again with the same key awards nothing new.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List credentials, newest first.
    List {
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        achievement: Option<String>,
        #[arg(long)]
        include_revoked: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON (with each signed credential) instead of one line per credential.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a credential; the reason goes to the audit log.
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Verify a credential file: proof, issuer, validity dates and status.
    Verify { file: PathBuf },
    /// Make a new issuer key current; credentials signed by older keys keep verifying.
    RotateKey,
}

/// A person's IFI key from `mailto:...` or an Agent's JSON.
fn person_of(agent: &str) -> anyhow::Result<String> {
    let value: Value = match agent.strip_prefix("mailto:") {
        Some(_) => serde_json::json!({"mbox": agent}),
        None => serde_json::from_str(agent).context("--agent: must be mailto:... or an Agent as JSON")?,
    };
    crate::validation::validate_agent_param(&value, false).map_err(|e| anyhow::anyhow!("--agent: {e}"))?;
    crate::xapi::agent::ifi_key(&value).context("--agent: must identify the agent with exactly one IFI")
}

async fn open(settings: &Settings) -> anyhow::Result<BadgeService> {
    let store = open_store_shared(settings)?;
    let consent = ConsentRegistry::load(&*store).await.context("loading people's consent")?;
    let statements = Arc::new(open_statement_service(settings, store.clone())?);
    let framework = crate::skills::FrameworkCatalog::open(settings.data_dir.join("skills"))
        .map_err(|e| anyhow::anyhow!("skills framework: {e}"))?;
    Ok(crate::credentials::open_service(settings, store, consent)?
        .recording_to(statements)
        .aligned_with(Arc::new(framework)))
}

pub async fn badges(settings: Settings, action: BadgesAction) -> anyhow::Result<()> {
    let service = open(&settings).await?;
    match action {
        BadgesAction::Award { agent, achievement, idempotency_key } => {
            let request = AwardRequest {
                person: person_of(&agent)?,
                achievement,
                award_key: idempotency_key.map(|key| format!("cli:{key}")),
                actor: "cli".into(),
            };
            let awarded = service.award(request).await?;
            let view = BadgeView::of(&awarded.badge, &service);
            let what = if awarded.created { "awarded" } else { "already held" };
            println!("{what} {}\ncredential: {}\nimage:      {}", view.id, view.url, view.svg_url);
        }
        BadgesAction::List { agent, achievement, include_revoked, limit, json } => {
            let person = agent.as_deref().map(person_of).transpose()?;
            if !(1..=10_000).contains(&limit) {
                bail!("--limit: must be 1 to 10000");
            }
            let badges = service.list(&BadgeFilter { person, achievement, include_revoked, limit }).await?;
            let views: Vec<BadgeView> = badges.iter().map(|badge| BadgeView::of(badge, &service)).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            }
            for view in views.iter().filter(|_| !json) {
                let state = view.revoked.as_ref().map_or("active".to_string(), |at| format!("revoked {at}"));
                println!("{}\t{}\t{}\t{}\t{}", view.id, view.achievement, view.person, view.issued, state);
            }
        }
        BadgesAction::Revoke { id, reason } => {
            service.revoke(&id, &reason, "cli").await?;
            println!("revoked {id}; status lists show it from their next fetch");
        }
        BadgesAction::Verify { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let credential: Value =
                serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))?;
            let verdict = service.verify(credential).await?;
            for check in &verdict.checks {
                let mark = match check.passed {
                    Some(true) => "ok  ",
                    Some(false) => "FAIL",
                    None => "--  ",
                };
                println!("{mark} {:<9} {}", check.check, check.message);
            }
            if !verdict.verified {
                bail!("the credential does not verify");
            }
        }
        BadgesAction::RotateKey => {
            let key = service.issuer().rotate()?;
            crate::governance::record(&**service.store(), "cli", "badges.key.rotate", &key, serde_json::json!({}))
                .await?;
            println!("new issuer key {key}; older credentials keep verifying");
        }
    }
    Ok(())
}

//! `fluency people erase`, `fluency people consent`, `fluency retention` and `fluency
//! export`: a person's erasure and a retention run (with the server stopped: they change
//! what a running server holds in memory), opt-outs (beside a running server, which reads
//! them again within seconds) and the statement export (beside it too).

use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::config::Settings;
use crate::governance::erasure::Eraser;
use crate::governance::subject::subject_of;
use crate::governance::ConsentRegistry;
use crate::startup::{open_erased, open_statement_service, open_store, open_store_shared};

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The person: an xAPI Agent, or a Person listing several identifiers, as JSON.
    #[arg(long)]
    pub agent: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Choice {
    Allow,
    Deny,
}

#[derive(Debug, Args)]
pub struct ConsentArgs {
    /// The person, as an xAPI Agent in JSON.
    #[arg(long)]
    pub agent: String,
    /// May skills be inferred from their statements (and may they be in analyses)?
    #[arg(long)]
    pub inference: Option<Choice>,
    /// May rules run on their statements?
    #[arg(long)]
    pub nudges: Option<Choice>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Replace every identifier by a keyed hash and drop names (see docs/governance.md).
    #[arg(long)]
    pub pseudonymise: bool,
    /// The file to write; standard output when absent.
    #[arg(long)]
    pub output: Option<std::path::PathBuf>,
}

pub async fn retention(settings: Settings, dry_run: bool) -> anyhow::Result<()> {
    let store = open_store(&settings)
        .context("retention needs the store alone: stop the server, or use POST /api/retention/run")?;
    let statements = Arc::new(open_statement_service(&settings, store)?);
    let report = crate::governance::retention::run(&statements, &settings.governance.retention, dry_run, "cli").await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

pub async fn export(settings: Settings, args: ExportArgs) -> anyhow::Result<()> {
    let store = open_store_shared(&settings)?;
    let pseudonyms = match args.pseudonymise {
        true => Some(crate::governance::pseudonym::Pseudonyms::from_data_dir(&settings.data_dir)?),
        false => None,
    };
    let mut out: Box<dyn std::io::Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written = crate::governance::export::export(&*store, pseudonyms.as_ref(), &mut out).await?;
    out.flush()?;
    let details = serde_json::json!({"statements": written, "pseudonymised": args.pseudonymise});
    let target = args.output.as_ref().map_or("stdout".to_string(), |p| p.display().to_string());
    crate::governance::record(&*store, "cli", "export", &target, details).await?;
    eprintln!("exported {written} statements");
    Ok(())
}

fn agent_json(text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).context("--agent: must be an xAPI Agent or Person as JSON")
}

pub async fn erase(settings: Settings, args: EraseArgs) -> anyhow::Result<()> {
    let subject = subject_of(&agent_json(&args.agent)?).map_err(|e| anyhow::anyhow!("--{e}"))?;
    crate::governance::subject::refuse_credential_accounts(&subject, &settings.public_url)
        .map_err(|e| anyhow::anyhow!("--{e}"))?;
    let store =
        open_store(&settings).context("erasing needs the store alone: stop the server, or use DELETE /api/people")?;
    let erased = open_erased(&settings, &store).await?;
    let statements = Arc::new(open_statement_service(&settings, store.clone())?.guarding_erased(erased.clone()));
    let consent = ConsentRegistry::load(&*store).await?;
    let eraser = Eraser { statements, consent, erased, restart_inference: None, rules_running: false };
    for resumed in eraser.resume_pending().await? {
        println!("completed an interrupted erasure ({})", resumed.id);
    }
    let report = eraser.erase(subject, "cli").await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.verified == Some(false) {
        anyhow::bail!("the store's files still contain: {}", report.still_found.join(", "));
    }
    Ok(())
}

pub async fn consent(settings: Settings, args: ConsentArgs) -> anyhow::Result<()> {
    let agent = agent_json(&args.agent)?;
    let person = crate::xapi::agent::ifi_key(&agent).context("--agent: names no identifier")?;
    let store = open_store_shared(&settings)?;
    let registry = ConsentRegistry::load(&*store).await?;
    let current = registry.of(&person);
    let allowed = |choice: Option<Choice>, now: bool| choice.map_or(now, |c| matches!(c, Choice::Allow));
    let (inference, nudges) = (allowed(args.inference, current.inference), allowed(args.nudges, current.nudges));
    if args.inference.is_some() || args.nudges.is_some() {
        registry.set(&*store, &person, inference, nudges).await?;
        let label = crate::governance::pseudonym::Pseudonyms::from_data_dir(&settings.data_dir)?.person_label(&person);
        let details = serde_json::json!({"inference": inference, "nudges": nudges});
        crate::governance::record(&*store, "cli", "consent.set", &label, details).await?;
    }
    println!("{}", serde_json::to_string_pretty(&registry.of(&person))?);
    Ok(())
}

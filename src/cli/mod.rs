//! The command line: `serve`, `credentials`, `rules test`, `kpi import`, `demo load`,
//! `impact`, `skills`, `people import` and `badges`. `main` parses it and calls `run`.

mod badges;
mod impact;
mod impact_lines;
mod people;
mod privacy;
mod skills;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::auth::{create_credential, scope::parse_scopes};
use crate::config::{Settings, SettingsLayer};
use crate::kpi::command::{DemoAction, KpiAction};
use crate::rules::dry_run::{dry_run, dry_run_scheduled, fixture_failures, StatementsFile};
use crate::rules::RuleFile;
use crate::startup::{open_store_shared, Application};
use crate::storage::Store;
use crate::xapi::time::{parse_timestamp, to_micros};

#[derive(Debug, Parser)]
#[command(name = "fluency", version, about = "A conformant xAPI Learning Record Store")]
pub struct Cli {
    /// TOML configuration file (see README for the keys).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (overrides file and environment).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the LRS.
    Serve {
        /// Address to listen on, ADDRESS:PORT.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Manage API credentials.
    Credentials {
        #[command(subcommand)]
        action: CredentialsAction,
    },
    /// Work with rule files.
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// KPI observations for impact analysis.
    Kpi {
        #[command(subcommand)]
        action: KpiAction,
    },
    /// Demo data for the impact report.
    Demo {
        #[command(subcommand)]
        action: DemoAction,
    },
    /// Did a training move a KPI? Prints the analysis and writes an HTML report.
    Impact(impact::ImpactArgs),
    /// Skills frameworks and inferred estimates.
    Skills {
        #[command(subcommand)]
        action: skills::SkillsAction,
    },
    /// People and teams: who is in which team, reports to whom, holds which role.
    People {
        #[command(subcommand)]
        action: people::PeopleAction,
    },
    /// Run the retention policies of `[[governance.retention]]` now (the server stopped).
    Retention {
        /// List what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write every statement as one JSON line (to a file, or standard output).
    Export(privacy::ExportArgs),
    /// Open Badges 3.0 credentials: award, list, revoke, verify, rotate the issuer key.
    Badges {
        #[command(subcommand)]
        action: badges::BadgesAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// Dry-run a rule file on statements: for each, whether the rule matched, what it
    /// returned, its intents and timing. Nothing is delivered; history and state are kept
    /// in memory for the run. A scheduled rule runs at the `--at` times instead, with the
    /// statements (if any) as its history.
    Test {
        /// The rule file (`.rhai`).
        rule: PathBuf,
        /// JSON file: a statement, an array of statements, or a fixture
        /// (`{"history": [...], "steps": [...]}`) whose expectations are then checked.
        #[arg(long, required_unless_present = "at")]
        statements: Option<PathBuf>,
        /// For a scheduled rule: run it at this time (RFC 3339); repeatable.
        #[arg(long)]
        at: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsAction {
    /// Create a credential and print its key and secret (the secret is shown only once).
    Create {
        /// Comma-separated scopes: the xAPI ones (all, all/read, statements/write,
        /// statements/read, statements/read/mine, state, define, profile) and Fluency's
        /// admin and analytics.
        #[arg(long)]
        scopes: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List credentials (never their secrets).
    List,
    /// Revoke a credential by key.
    Revoke { key: String },
}

impl Cli {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut layers = Vec::new();
        if let Some(path) = &self.config {
            layers.push(SettingsLayer::from_toml_file(path)?);
        }
        layers.push(SettingsLayer::from_environment(|name| std::env::var(name).ok())?);
        let bind = match &self.command {
            Command::Serve { bind } => bind.clone(),
            Command::Credentials { .. }
            | Command::Rules { .. }
            | Command::Kpi { .. }
            | Command::Demo { .. }
            | Command::Impact(_)
            | Command::Skills { .. }
            | Command::People { .. }
            | Command::Retention { .. }
            | Command::Export(_) => None,
            Command::Badges { .. } => None,
        };
        layers.push(SettingsLayer { bind, data_dir: self.data_dir.clone(), ..Default::default() });
        Settings::resolve(layers)
    }
}

/// The administrator key and secret from the environment, when both are set.
fn configured_admin() -> Option<(String, String)> {
    let key = std::env::var("FLUENCY_ADMIN_KEY").ok().filter(|k| !k.is_empty())?;
    let secret = std::env::var("FLUENCY_ADMIN_SECRET").ok().filter(|s| !s.is_empty())?;
    Some((key, secret))
}

pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { .. } => serve(settings).await,
        Command::Credentials { action } => credentials(settings, action).await,
        Command::Rules { action } => rules(&settings, action),
        Command::Kpi { action } => crate::kpi::command::kpi(settings, action).await,
        Command::Demo { action } => crate::kpi::command::demo(settings, action).await,
        Command::Impact(args) => impact::impact(settings, args).await,
        Command::Skills { action } => skills::skills(settings, action).await,
        Command::People { action } => people::people(settings, action).await,
        Command::Retention { dry_run } => privacy::retention(settings, dry_run).await,
        Command::Export(args) => privacy::export(settings, args).await,
        Command::Badges { action } => badges::badges(settings, action).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let base = format!("http://{}{}", settings.bind, settings.base_path);
    let data_dir = settings.data_dir.clone();
    let application = Application::build(settings, configured_admin()).await?;
    if let Some(admin) = application.created_admin() {
        // Shown once on purpose: only the hash is stored.
        println!("Created the administrator credential (shown once, store it now):");
        println!("  key:    {}", admin.key);
        println!("  secret: {}", admin.secret);
    }
    let base = base.replace(":0/", &format!(":{}/", application.port()));
    tracing::info!(xapi = %base, data_dir = %data_dir.display(), "Fluency is serving");
    application.run_until_stopped().await?;
    Ok(())
}

async fn credentials(settings: Settings, action: CredentialsAction) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = open_store_shared(&settings)?;
    match action {
        CredentialsAction::Create { scopes, label } => {
            let scopes = parse_scopes(&scopes).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
            let created = create_credential(&store, scopes, &label, None).await?;
            let scopes_given: Vec<_> = created.scopes.iter().map(|s| s.as_str()).collect();
            let details = serde_json::json!({"scopes": scopes_given, "label": label});
            crate::governance::record(&*store, "cli", "credential.create", &created.key, details).await?;
            let scopes: Vec<_> = created.scopes.iter().map(|s| s.as_str()).collect();
            println!("key:    {}\nsecret: {}\nscopes: {}", created.key, created.secret, scopes.join(","));
        }
        CredentialsAction::List => {
            for credential in store.query_credentials().await? {
                let state = if credential.revoked { "revoked" } else { "active" };
                let created = crate::xapi::time::format_micros(credential.created);
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    credential.key,
                    state,
                    credential.scopes.join(","),
                    created,
                    credential.label
                );
            }
        }
        CredentialsAction::Revoke { key } => {
            if !store.revoke_credential(&key).await? {
                anyhow::bail!("no credential with key {key:?}");
            }
            crate::governance::record(&*store, "cli", "credential.revoke", &key, serde_json::json!({})).await?;
            println!("revoked {key}; running servers stop accepting it within 30 seconds");
        }
    }
    Ok(())
}

fn rules(settings: &Settings, action: RulesAction) -> anyhow::Result<()> {
    let RulesAction::Test { rule, statements, at, json } = action;
    let file = RuleFile::read(&rule)?;
    let input = match &statements {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            StatementsFile::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => StatementsFile::Statements(Vec::new()),
    };
    let (history, steps, fixture) = match input {
        StatementsFile::Statements(steps) => (Vec::new(), steps, None),
        StatementsFile::Fixture(fixture) => (fixture.history.clone(), fixture.statements(), Some(fixture)),
    };
    let run = match (file.schedule.is_some(), at.is_empty()) {
        (true, true) => anyhow::bail!("{} runs on a schedule: give the times to run it at with --at", file.file),
        (false, false) => anyhow::bail!("--at is for scheduled rules; {} runs on statements", file.file),
        (true, false) => {
            let times = at
                .iter()
                .map(|text| {
                    parse_timestamp(text)
                        .map(|t| to_micros(&t))
                        .with_context(|| format!("--at {text:?}: not an RFC 3339 time"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let history: Vec<_> = history.into_iter().chain(steps).collect();
            dry_run_scheduled(file, settings.rules.engine(), &history, &times)?
        }
        (false, true) => dry_run(file, settings.rules.engine(), &history, &steps)?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print!("{run}");
    }
    let Some(fixture) = fixture else {
        // Without expectations every run must succeed: a failing rule is not a passing test.
        let failed = run.steps.iter().filter(|step| step.outcome.as_ref().is_some_and(|o| o.result.is_err())).count();
        if failed > 0 {
            anyhow::bail!("{failed} of {} runs failed", run.steps.len());
        }
        return Ok(());
    };
    let failures = fixture_failures(&fixture, &run);
    if failures.is_empty() {
        eprintln!("fixture: all {} steps as expected", fixture.steps.len());
        return Ok(());
    }
    for failure in &failures {
        eprintln!("fixture: {failure}");
    }
    anyhow::bail!("{} of {} fixture steps differ from what was expected", failures.len(), fixture.steps.len())
}

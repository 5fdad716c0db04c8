//! `fluency skills`: `import` a framework file into the data directory (checked with the
//! files already there), `show` a person's explained estimates, and `rebuild` the whole map
//! from every stored statement (with the server stopped; a running server rebuilds through
//! `POST /api/skills/rebuild`).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::skills::report::{render_report, TeamSection};
use crate::skills::{FrameworkCatalog, SkillMap, SkillsRunner, SkillsService};
use crate::startup::{open_store, open_store_shared};
use crate::storage::{EstimateFilter, StatementQuery};
use crate::xapi::agent::ifi_key;
use crate::xapi::time::{format_micros, now_micros, parse_timestamp, to_micros};

/// Statements folded per commit during a rebuild.
const REBUILD_BATCH: usize = 5_000;

#[derive(Debug, Subcommand)]
pub enum SkillsAction {
    /// Check a framework file (.toml, CASE .json, ESCO-style .csv) with the ones already in
    /// <data_dir>/skills and copy it there; a running server picks it up within seconds.
    Import { file: PathBuf },
    /// A person's estimates, each with the statements that moved it.
    Show {
        /// The person as an xAPI Agent, e.g. '{"mbox":"mailto:ada@example.com"}'.
        #[arg(long)]
        agent: String,
        /// Decay the estimates to this instant (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a self-contained HTML report: a team x skill heat map, gaps against roles and
    /// emerging skills. With the server stopped, inference first catches up.
    Report {
        #[arg(long, default_value = "skills-report.html")]
        out: PathBuf,
        /// Decay the estimates to this instant (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
        #[arg(long, default_value = "Skills and gaps")]
        title: String,
    },
    /// Forget every estimate and infer them again from every stored statement.
    Rebuild {
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

pub async fn skills(settings: Settings, action: SkillsAction) -> anyhow::Result<()> {
    let dir = settings.data_dir.join("skills");
    match action {
        SkillsAction::Import { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.file_name().and_then(|n| n.to_str()).context("the file needs a name")?.to_string();
            let catalog = FrameworkCatalog::open(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
            let framework = catalog.put(&name, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
            let details = serde_json::json!({"fingerprint": framework.fingerprint(), "skills": framework.skills.len()});
            crate::governance::record(&*open_store_shared(&settings)?, "cli", "skills.framework.put", &name, details)
                .await?;
            println!(
                "{name}: imported; the framework now has {} skills, {} roles and {} mappings",
                framework.skills.len(),
                framework.roles.len(),
                framework.mappings.len()
            );
            Ok(())
        }
        SkillsAction::Show { agent, at, json } => show(settings, dir, &agent, at.as_deref(), json).await,
        SkillsAction::Rebuild { quiet } => rebuild(settings, dir, quiet).await,
        SkillsAction::Report { out, at, title } => report(settings, dir, &out, at.as_deref(), &title).await,
    }
}

fn instant(at: Option<&str>) -> anyhow::Result<i64> {
    match at {
        Some(text) => {
            Ok(to_micros(&parse_timestamp(text).with_context(|| format!("--at {text:?}: not an RFC 3339 time"))?))
        }
        None => Ok(now_micros()),
    }
}

async fn report(
    settings: Settings,
    dir: PathBuf,
    out: &std::path::Path,
    at: Option<&str>,
    title: &str,
) -> anyhow::Result<()> {
    let now = instant(at)?;
    let catalog = Arc::new(FrameworkCatalog::open(dir).map_err(|e| anyhow::anyhow!("{e}"))?);
    let map = Arc::new(RwLock::new(SkillMap::default()));
    let store = match open_store(&settings) {
        // No server holds the data directory: bring inference up to date first.
        Ok(store) => {
            let runner = SkillsRunner::new(store.clone(), catalog.clone(), map.clone(), REBUILD_BATCH);
            let mut cursor = runner.load().await?;
            loop {
                let (reached, count) = runner.step(cursor).await?;
                if count == 0 {
                    break;
                }
                cursor = reached;
            }
            store
        }
        Err(_) => {
            let store = open_store_shared(&settings)?;
            let estimates = store.skill_estimates(&EstimateFilter::default()).await?;
            *map.write().expect("skills map lock") = SkillMap::from_records(estimates, Vec::new());
            store
        }
    };
    let service = SkillsService::new(catalog.clone(), map, store.clone()).suppressing_below(settings.min_group_size);
    let mut teams = Vec::new();
    for team in store.teams().await? {
        if let Some(map) = service.team(&team.team, now).await? {
            teams.push(TeamSection { team: team.team, map });
        }
    }
    let demand = service.demand(now, 24, &[]).await?;
    let html = render_report(title, &catalog.current(), &teams, &demand);
    std::fs::write(out, html).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{} teams, {} emerging skills; report written to {}",
        teams.len(),
        demand.iter().filter(|d| d.emerging).count(),
        out.display()
    );
    Ok(())
}

async fn show(settings: Settings, dir: PathBuf, agent: &str, at: Option<&str>, json: bool) -> anyhow::Result<()> {
    let value: serde_json::Value = serde_json::from_str(agent).context("--agent: not JSON")?;
    let person = ifi_key(&value).context("--agent: give exactly one of mbox, mbox_sha1sum, openid and account")?;
    let now = instant(at)?;
    let store = open_store_shared(&settings)?;
    let catalog = Arc::new(FrameworkCatalog::open(dir).map_err(|e| anyhow::anyhow!("{e}"))?);
    let estimates = store.skill_estimates(&EstimateFilter { person: Some(person.clone()), skill: None }).await?;
    let map = Arc::new(RwLock::new(SkillMap::from_records(estimates, Vec::new())));
    let profile = SkillsService::new(catalog, map, store).profile(&person, now).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&profile)?);
        return Ok(());
    }
    if profile.skills.is_empty() {
        println!("{person}: no skill evidence");
    }
    for skill in &profile.skills {
        let e = &skill.estimate;
        println!(
            "{}  level {:.2} ({:.2} to {:.2})  {} pieces of evidence, the last on {}",
            e.name.as_deref().unwrap_or(&e.skill),
            e.level,
            e.level_low,
            e.level_high,
            e.evidence,
            format_micros(e.last_evidence)
        );
        for c in &skill.contributions {
            println!(
                "    {}  {}  outcome {:.2} weight {:.2}  predicted {:.2}  {:+.3} then, {:+.3} now",
                format_micros(c.at),
                c.item,
                c.outcome,
                c.weight,
                c.predicted,
                c.change_then,
                c.change_now
            );
        }
    }
    Ok(())
}

async fn rebuild(settings: Settings, dir: PathBuf, quiet: bool) -> anyhow::Result<()> {
    let store = open_store(&settings)
        .context("skills rebuild needs the data directory to itself: stop the server, or POST /api/skills/rebuild")?;
    let catalog = Arc::new(FrameworkCatalog::open(dir).map_err(|e| anyhow::anyhow!("{e}"))?);
    let map = Arc::new(RwLock::new(SkillMap::default()));
    let runner = SkillsRunner::new(store.clone(), catalog.clone(), map.clone(), REBUILD_BATCH);
    runner.reset().await?;
    if catalog.current().skills.is_empty() {
        println!("the framework has no skills: nothing to infer (estimates cleared)");
        return Ok(());
    }
    let newest = store.query_statements(&StatementQuery { limit: 1, ..Default::default() }).await?;
    let last = newest.statements.first().map_or(0, |s| s.stored);
    let first = store.statements_stored_after(0, 1).await?.first().map_or(0, |s| s.stored);
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new((last - first).max(1) as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {percent}% {msg} ({elapsed})").unwrap_or(ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut cursor, mut statements) = (0, 0usize);
    loop {
        let (reached, count) = runner.step(cursor).await?;
        if count == 0 {
            break;
        }
        (cursor, statements) = (reached, statements + count);
        bar.set_position((cursor - first).max(0) as u64);
        bar.set_message(format!("{statements} statements"));
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let estimates = map.read().expect("skills map lock").abilities.len();
    println!(
        "rebuilt {estimates} estimates from {statements} statements in {seconds:.1} s ({:.0} statements/s)",
        statements as f64 / seconds.max(1e-9)
    );
    Ok(())
}

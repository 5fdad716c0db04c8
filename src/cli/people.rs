//! `fluency people import FILE.csv`: every row checked first (`people::read_people`), then,
//! unless `--dry-run` or a row was refused, the people upserted through the storage
//! contract in batches, with a progress bar unless `--quiet`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::people::read_people;
use crate::startup::open_store_shared;
use crate::tabular::count_rows;
use crate::xapi::time::now_micros;

/// People written per storage call.
const BATCH: usize = 500;

/// Refused rows named in the error (all are printed above it).
const LISTED_ROWS: usize = 10;

#[derive(Debug, Subcommand)]
pub enum PeopleAction {
    /// Import people from a CSV file: a header row with `person` (mailto:..., account:<homePage>|<name>,
    /// openid:... or mbox_sha1sum:...) and any of `name`, `team`, `manager`, `role`. An empty
    /// field keeps what is stored; importing a file again changes nothing but the update time.
    Import(PeopleImportArgs),
    /// Erase every trace of a person (right to be forgotten), by all their identifiers: their
    /// statements, documents, attachments, rule state, notifications, skills and records.
    /// Needs the server stopped (use DELETE /api/people while it runs).
    Erase(super::privacy::EraseArgs),
    /// Show a person's opt-outs, or change them with --inference / --nudges allow|deny (a
    /// running server applies the change within seconds).
    Consent(super::privacy::ConsentArgs),
}

#[derive(Debug, Args)]
pub struct PeopleImportArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Check every row and print a summary; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn people(settings: Settings, action: PeopleAction) -> anyhow::Result<()> {
    match action {
        PeopleAction::Import(args) => import(settings, args).await,
        PeopleAction::Erase(args) => super::privacy::erase(settings, args).await,
        PeopleAction::Consent(args) => super::privacy::consent(settings, args).await,
    }
}

async fn import(settings: Settings, args: PeopleImportArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let rows = read_people(std::io::BufReader::new(file), now_micros())
        .with_context(|| format!("reading {}", args.file.display()))?;
    print!("{rows}");
    if !rows.refused.is_empty() {
        let mut listed: Vec<String> = rows.refused.iter().take(LISTED_ROWS).map(ToString::to_string).collect();
        if rows.refused.len() > LISTED_ROWS {
            listed.push(format!("and {} more", rows.refused.len() - LISTED_ROWS));
        }
        let count = count_rows(rows.refused.len());
        let outcome = if args.dry_run { format!("{count} would be refused") } else { format!("{count} refused") };
        bail!("nothing was stored: {outcome}; fix them and import again: {}", listed.join("; "));
    }
    if args.dry_run {
        println!("dry run: nothing was stored");
        return Ok(());
    }
    let store = open_store_shared(&settings)?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(rows.people.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("storing people [{bar:40}] {pos}/{len}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    for batch in rows.people.chunks(BATCH) {
        store.upsert_people(batch.to_vec()).await.context("storing people")?;
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    let details = serde_json::json!({"people": rows.people.len(), "teams": rows.teams});
    crate::governance::record(&*store, "cli", "people.import", &args.file.display().to_string(), details).await?;
    println!("stored {} people in {} teams in {}", rows.people.len(), rows.teams, settings.database_path().display());
    Ok(())
}

//! The `fluency kpi import` and `fluency demo load` commands: their arguments and what
//! they print. `cli` parses them and calls `kpi` or `demo`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};

use super::demo::{demo_impact_spec, generate_demo, treated_count, DemoSpec, DEMO_COURSE, DEMO_KPI};
use super::import::{ActorKind, CsvColumns, CsvImport, CsvRows};
use super::profile::{Direction, KpiDefinition};
use super::sink::StatementSink;
use crate::config::Settings;
use crate::tabular::count_rows;

#[derive(Debug, Subcommand)]
pub enum KpiAction {
    /// Import KPI observations from a CSV file (a header row, then one observation per
    /// row) as statements of the KPI profile (docs/kpi.md). Importing a file again stores
    /// nothing new.
    Import(Box<ImportArgs>),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// The KPI's IRI, e.g. https://helpdesk.example.com/kpi/average-handling-time.
    #[arg(long)]
    pub kpi: String,
    /// The KPI's name, e.g. "Average handling time".
    #[arg(long)]
    pub kpi_name: Option<String>,
    /// The unit of the values, e.g. seconds, percent, EUR.
    #[arg(long)]
    pub unit: Option<String>,
    /// Whether higher or lower values are better.
    #[arg(long, value_enum)]
    pub direction: Option<DirectionArg>,
    /// The column naming the person.
    #[arg(long)]
    pub actor_column: String,
    /// How the actor column names people: e-mail addresses, or account names on the
    /// system given by --account-home-page.
    #[arg(long, value_enum, default_value = "mbox")]
    pub actor_kind: ActorKindArg,
    /// The system the account names belong to, e.g. https://crm.example.com.
    #[arg(long, required_if_eq("actor_kind", "account"))]
    pub account_home_page: Option<String>,
    /// The column with the value (a number, dot for decimals).
    #[arg(long)]
    pub value_column: String,
    /// The column with the observation time: RFC 3339 (2024-05-03T17:00:00Z) or a date
    /// (2024-05-03, midnight UTC).
    #[arg(long)]
    pub time_column: String,
    /// The column with the period the value covers (2024-W18, 2024-05, an interval).
    #[arg(long)]
    pub period_column: Option<String>,
    /// The column with the person's team.
    #[arg(long)]
    pub team_column: Option<String>,
    /// Check every row and print a summary; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Store the good rows even if some are refused (they are listed). Without it, one
    /// refused row stops the whole import.
    #[arg(long)]
    pub skip_bad_rows: bool,
    #[command(flatten)]
    pub destination: Destination,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum DirectionArg {
    HigherIsBetter,
    LowerIsBetter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActorKindArg {
    Mbox,
    Account,
}

/// Which LRS a command works with: the local data directory unless `--url` is given.
#[derive(Debug, Args)]
pub struct Destination {
    /// Work with the LRS at this xAPI base URL (e.g. https://lrs.example.com/xapi) instead
    /// of the local data directory.
    #[arg(long, requires_all = ["key", "secret"])]
    pub url: Option<String>,
    /// Key of a credential on that LRS with the scope the command needs (statements/write
    /// to send statements, analytics for an impact analysis).
    #[arg(long, env = "FLUENCY_LRS_KEY")]
    pub key: Option<String>,
    /// Its secret (or set FLUENCY_LRS_SECRET to keep it out of the shell history).
    #[arg(long, env = "FLUENCY_LRS_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

impl Destination {
    fn open(&self, settings: &Settings, importer: &str) -> anyhow::Result<StatementSink> {
        match (&self.url, &self.key, &self.secret) {
            (Some(url), Some(key), Some(secret)) => StatementSink::remote(url, key, secret),
            (Some(_), _, _) => bail!("--url needs --key and --secret"),
            _ => StatementSink::local(settings, importer),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DemoAction {
    /// Load a seeded synthetic helpdesk (weekly average handling time per agent, course
    /// completions, noise) and write the impact spec to run on it.
    Load(DemoLoadArgs),
}

#[derive(Debug, Args)]
pub struct DemoLoadArgs {
    /// The random seed: the same seed loads the same statements.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The true effect of the course on average handling time, in seconds.
    #[arg(long, default_value_t = -30.0, allow_negative_numbers = true)]
    pub effect: f64,
    /// The number of agents.
    #[arg(long, default_value_t = 300)]
    pub agents: usize,
    #[command(flatten)]
    pub destination: Destination,
}

pub async fn kpi(settings: Settings, action: KpiAction) -> anyhow::Result<()> {
    let KpiAction::Import(args) = action;
    let rows = read_csv(&args)?;
    print!("{rows}");
    let refused = rows.refused.len();
    if args.dry_run {
        println!("dry run: nothing was stored");
        if refused > 0 && !args.skip_bad_rows {
            bail!("{} would be refused; fix them, or pass --skip-bad-rows to store the others", count_rows(refused));
        }
        return Ok(());
    }
    if refused > 0 && !args.skip_bad_rows {
        bail!(
            "nothing was stored: {} refused; fix them, or pass --skip-bad-rows to store the others",
            count_rows(refused)
        );
    }
    let sink = args.destination.open(&settings, "kpi-import")?;
    let report = sink.send_all(&rows.statements, "importing").await?;
    let outcome = match report.already_stored {
        Some(already) => format!(": {} new, {already} already stored", report.sent - already),
        None => " (the LRS keeps one copy of any it already had)".to_string(),
    };
    println!("sent {} statements to {}{outcome}", report.sent, sink.describe());
    Ok(())
}

fn read_csv(args: &ImportArgs) -> anyhow::Result<CsvRows> {
    let direction = args.direction.map(|d| match d {
        DirectionArg::HigherIsBetter => Direction::HigherIsBetter,
        DirectionArg::LowerIsBetter => Direction::LowerIsBetter,
    });
    let definition =
        KpiDefinition { id: args.kpi.clone(), name: args.kpi_name.clone(), unit: args.unit.clone(), direction };
    let columns = CsvColumns {
        actor: args.actor_column.clone(),
        value: args.value_column.clone(),
        time: args.time_column.clone(),
        period: args.period_column.clone(),
        team: args.team_column.clone(),
    };
    let actor_kind = match (args.actor_kind, &args.account_home_page) {
        (ActorKindArg::Mbox, _) => ActorKind::Mbox,
        (ActorKindArg::Account, Some(home_page)) => ActorKind::Account { home_page: home_page.clone() },
        (ActorKindArg::Account, None) => bail!("--actor-kind account needs --account-home-page"),
    };
    let import = CsvImport::new(definition, columns, actor_kind)?;
    let file = std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    import.read(std::io::BufReader::new(file)).with_context(|| format!("reading {}", args.file.display()))
}

pub async fn demo(settings: Settings, action: DemoAction) -> anyhow::Result<()> {
    let DemoAction::Load(args) = action;
    if args.agents < 2 {
        bail!("--agents: must be at least 2, one trained and one not");
    }
    if !args.effect.is_finite() {
        bail!("--effect: must be a finite number of seconds");
    }
    let spec = DemoSpec { seed: args.seed, agents: args.agents, effect: args.effect, ..DemoSpec::default() };
    let mut data = generate_demo(&spec);
    let (_, post) = super::demo::demo_windows(&spec);
    let skills_until = post.end;
    let skill_statements = crate::skills::demo::demo_skill_statements(&data, spec.seed, skills_until);
    let skill_count = skill_statements.len();
    data.statements.extend(skill_statements);
    let sink = args.destination.open(&settings, "fluency-demo")?;
    let report = sink.send_all(&data.statements, "loading the demo").await?;
    let skills_installed = match &args.destination.url {
        Some(_) => false,
        None => {
            install_demo_skills(&settings, &data).await?;
            true
        }
    };

    let spec_path = spec_path(&settings.data_dir);
    std::fs::write(&spec_path, demo_impact_spec(&spec))
        .with_context(|| format!("writing the impact spec {}", spec_path.display()))?;
    let already = match report.already_stored {
        Some(n) if n > 0 => format!(" ({n} were already stored)"),
        _ => String::new(),
    };
    let first = data.truth.completions.values().min();
    let last = data.truth.completions.values().max();
    println!("Loaded {} demo statements into {}{already}:", report.sent, sink.describe());
    println!(
        "  {} agents with {} weekly observations each of {DEMO_KPI} (seed {})",
        spec.agents,
        spec.weeks_before + spec.weeks_after,
        spec.seed
    );
    if let (Some(first), Some(last)) = (first, last) {
        println!(
            "  {} of them completed {DEMO_COURSE} between {} and {}",
            treated_count(&spec),
            first.format("%Y-%m-%d"),
            last.format("%Y-%m-%d")
        );
    }
    println!("  true effect of the course: {} seconds", spec.effect);
    println!("  {skill_count} skill evidence statements (quizzes and resolved tickets) over the year before");
    if skills_installed {
        println!("  the helpdesk skills framework and the agents' teams and roles installed");
    }
    println!("Impact spec written to {}", spec_path.display());
    let next = match &args.destination.url {
        Some(_) => format!("fluency impact --spec {}", spec_path.display()),
        None => format!("fluency --data-dir {} impact --spec {}", settings.data_dir.display(), spec_path.display()),
    };
    println!("Next: {next}");
    if skills_installed {
        println!(
            "      fluency --data-dir {} skills report --at {} --out {}",
            settings.data_dir.display(),
            skills_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            spec_path.with_file_name("demo-skills.html").display()
        );
    }
    Ok(())
}

/// The demo's skills framework into `<data_dir>/skills`, and each agent's team and role.
async fn install_demo_skills(settings: &Settings, data: &super::demo::DemoData) -> anyhow::Result<()> {
    use crate::skills::demo::{demo_framework, demo_role, DEMO_FRAMEWORK_FILE};
    let catalog =
        crate::skills::FrameworkCatalog::open(settings.data_dir.join("skills")).map_err(|e| anyhow::anyhow!("{e}"))?;
    catalog.put(DEMO_FRAMEWORK_FILE, &demo_framework()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let people = data
        .truth
        .agents
        .iter()
        .enumerate()
        .map(|(index, person)| crate::storage::PersonRecord {
            person: person.clone(),
            team: Some(format!("Team {}", index % 6 + 1)),
            role: Some(demo_role(index).to_string()),
            updated: crate::xapi::time::now_micros(),
            ..Default::default()
        })
        .collect();
    crate::startup::open_store_shared(settings)?.upsert_people(people).await?;
    Ok(())
}

/// `demo-impact.toml` next to the data directory (in its parent).
fn spec_path(data_dir: &Path) -> PathBuf {
    let parent = data_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join("demo-impact.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_file_goes_next_to_the_data_directory() {
        assert_eq!(spec_path(Path::new("/srv/lrs/fluency-data")), Path::new("/srv/lrs/demo-impact.toml"));
        assert_eq!(spec_path(Path::new("fluency-data")), Path::new("./demo-impact.toml"));
        assert_eq!(spec_path(Path::new("./fluency-data")), Path::new("./demo-impact.toml"));
    }
}

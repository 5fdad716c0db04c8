//! KPI data end to end: `fluency kpi import` through the real command line into a
//! temporary data directory (and over HTTP into a running Fluency), and the demo
//! generator's structure.

use std::path::Path;

use clap::Parser;
use fluency::cli::{run, Cli};
use fluency::config::{Settings, SettingsLayer};
use fluency::kpi::demo::{generate_demo, DemoSpec, DEMO_COURSE, DEMO_KPI};
use fluency::kpi::read_kpi_statement;
use fluency::startup::{open_store_shared, Application};
use serde_json::Value;

const CSV: &str = "\
email,aht_seconds,week_end,week,team
ana@helpdesk.example.com,312.5,2024-05-03T17:00:00Z,2024-W18,north
bo@helpdesk.example.com,290,2024-05-03,2024-W18,south
ana@helpdesk.example.com,301,2024-05-10T17:00:00Z,2024-W19,north
bo@helpdesk.example.com,288.25,2024-05-10,2024-W19,south
";

const KPI: &str = "https://helpdesk.example.com/kpi/average-handling-time";

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("fluency-data")
    }

    fn settings(&self) -> Settings {
        Settings::resolve([SettingsLayer { data_dir: Some(self.data_dir()), ..Default::default() }]).expect("settings")
    }

    fn write_csv(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("writing the CSV");
        path.display().to_string()
    }

    /// Runs `fluency --data-dir <dir> kpi import <file> <the columns of CSV> <extra>`.
    async fn import(&self, file: &str, extra: &[&str]) -> anyhow::Result<()> {
        let data_dir = self.data_dir().display().to_string();
        let mut args = vec![
            "fluency",
            "--data-dir",
            &data_dir,
            "kpi",
            "import",
            file,
            "--kpi",
            KPI,
            "--kpi-name",
            "Average handling time",
            "--unit",
            "seconds",
            "--direction",
            "lower_is_better",
            "--actor-column",
            "email",
            "--value-column",
            "aht_seconds",
            "--time-column",
            "week_end",
            "--period-column",
            "week",
            "--team-column",
            "team",
        ];
        args.extend_from_slice(extra);
        let cli = Cli::try_parse_from(args)?;
        let settings = cli.settings()?;
        run(cli, settings).await
    }

    /// Every statement in the local store, oldest first.
    async fn stored(&self) -> Vec<Value> {
        stored_in(&self.settings()).await
    }
}

async fn stored_in(settings: &Settings) -> Vec<Value> {
    if !settings.database_path().exists() {
        return Vec::new();
    }
    let store = open_store_shared(settings).expect("the store opens");
    let statements = store.statements_stored_after(0, 100_000).await.expect("statements");
    statements.iter().map(|s| serde_json::from_str(&s.json).expect("stored JSON")).collect()
}

#[tokio::test]
async fn importing_the_same_file_twice_stores_each_observation_once() {
    let workspace = Workspace::new();
    let file = workspace.write_csv("aht.csv", CSV);

    workspace.import(&file, &[]).await.expect("first import");
    let first = workspace.stored().await;
    workspace.import(&file, &[]).await.expect("second import");
    let second = workspace.stored().await;

    assert_eq!(first.len(), 4);
    assert_eq!(second.len(), 4, "a re-import stores nothing new");
    let observations: Vec<_> = second.iter().filter_map(read_kpi_statement).collect();
    assert_eq!(observations.len(), 4);
    assert!(observations.iter().all(|o| o.kpi_id == KPI));
    let values: Vec<f64> = observations.iter().map(|o| o.value).collect();
    assert_eq!(values, vec![312.5, 290.0, 301.0, 288.25]);
    let authority = &second[0]["authority"]["account"];
    assert_eq!(authority["name"], "kpi-import");
}

#[tokio::test]
async fn a_dry_run_stores_nothing() {
    let workspace = Workspace::new();
    let file = workspace.write_csv("aht.csv", CSV);

    workspace.import(&file, &["--dry-run"]).await.expect("dry run");

    assert!(workspace.stored().await.is_empty());
}

#[tokio::test]
async fn one_bad_row_refuses_the_whole_import_unless_bad_rows_are_skipped() {
    let workspace = Workspace::new();
    let bad = format!("{CSV}carl@helpdesk.example.com,\"12,5\",2024-05-10,2024-W19,north\n");
    let file = workspace.write_csv("aht.csv", &bad);

    let refused = workspace.import(&file, &[]).await.expect_err("the import is refused");
    let dry = workspace.import(&file, &["--dry-run"]).await.expect_err("the dry run reports the refusal");
    assert!(refused.to_string().contains("nothing was stored: 1 row refused"), "{refused}");
    assert!(dry.to_string().contains("1 row would be refused"), "{dry}");
    assert!(workspace.stored().await.is_empty());

    workspace.import(&file, &["--skip-bad-rows"]).await.expect("the good rows are stored");
    assert_eq!(workspace.stored().await.len(), 4);
}

#[tokio::test]
async fn an_import_over_http_lands_in_the_remote_lrs_and_is_idempotent_too() {
    let remote_dir = tempfile::tempdir().unwrap();
    let layer = SettingsLayer {
        bind: Some("127.0.0.1:0".into()),
        data_dir: Some(remote_dir.path().to_path_buf()),
        log: Some("warn".into()),
        ..Default::default()
    };
    let remote_settings = Settings::resolve([layer]).unwrap();
    let application =
        Application::build(remote_settings.clone(), Some(("admin".into(), "admin-secret".into()))).await.unwrap();
    let url = format!("http://127.0.0.1:{}/xapi", application.port());
    tokio::spawn(application.run_until_stopped());
    let workspace = Workspace::new();
    let file = workspace.write_csv("aht.csv", CSV);
    let remote = ["--url", &url, "--key", "admin", "--secret", "admin-secret"];

    workspace.import(&file, &remote).await.expect("first import");
    workspace.import(&file, &remote).await.expect("second import");

    assert_eq!(stored_in(&remote_settings).await.len(), 4);
    assert!(!Path::new(&workspace.data_dir()).exists(), "nothing was written locally");
}

#[test]
fn the_demo_is_deterministic_and_has_treated_and_untreated_agents() {
    let spec = DemoSpec { agents: 60, ..DemoSpec::default() };

    let first = generate_demo(&spec);
    let again = generate_demo(&spec);

    assert_eq!(first.statements, again.statements);
    assert_eq!(first.truth.agents.len(), 60);
    assert_eq!(first.truth.completions.len(), 30);
    let completers: std::collections::BTreeSet<String> = first
        .statements
        .iter()
        .filter(|s| s["verb"]["id"] == "http://adlnet.gov/expapi/verbs/completed" && s["object"]["id"] == DEMO_COURSE)
        .map(|s| fluency::xapi::agent::ifi_key(&s["actor"]).unwrap())
        .collect();
    let treated: std::collections::BTreeSet<String> = first.truth.completions.keys().cloned().collect();
    assert_eq!(completers, treated, "exactly the treated agents completed the course");
    let observations: Vec<_> =
        first.statements.iter().filter_map(read_kpi_statement).filter(|o| o.kpi_id == DEMO_KPI).collect();
    let weeks = (spec.weeks_before + spec.weeks_after) as usize;
    assert_eq!(weeks, 21, "8 weeks before the programme start and 13 from it");
    for agent in &first.truth.agents {
        let observed = observations.iter().filter(|o| &o.actor_key == agent).count();
        assert_eq!(observed, weeks, "{agent} has one observation a week, treated or not");
    }
}

#[tokio::test]
async fn loading_the_demo_twice_stores_it_once_and_writes_the_impact_spec() {
    let workspace = Workspace::new();
    let data_dir = workspace.data_dir().display().to_string();
    let load = || async {
        let cli = Cli::try_parse_from(["fluency", "--data-dir", &data_dir, "demo", "load", "--agents", "20"])?;
        let settings = cli.settings()?;
        run(cli, settings).await
    };

    load().await.expect("first load");
    let first = workspace.stored().await.len();
    load().await.expect("second load");

    let spec = DemoSpec { agents: 20, ..DemoSpec::default() };
    let data = generate_demo(&spec);
    let skills_until = fluency::kpi::demo::demo_windows(&spec).1.end;
    let skill_statements = fluency::skills::demo::demo_skill_statements(&data, spec.seed, skills_until);
    let expected = data.statements.len() + skill_statements.len();
    assert_eq!(first, expected, "the helpdesk's KPIs and courses, and its skill evidence");
    assert_eq!(workspace.stored().await.len(), expected);
    let impact_spec = std::fs::read_to_string(workspace.dir.path().join("demo-impact.toml")).expect("the spec");
    assert!(impact_spec.contains(DEMO_KPI));
    let framework = workspace.data_dir().join("skills").join(fluency::skills::demo::DEMO_FRAMEWORK_FILE);
    assert!(framework.is_file(), "the skills framework is installed");
}

//! People and teams end to end: `fluency people import` through the real command line into
//! a temporary data directory, read back through the storage contract.

use clap::Parser;
use fluency::cli::{run, Cli};
use fluency::config::{Settings, SettingsLayer};
use fluency::startup::open_store_shared;
use fluency::storage::{PersonRecord, TeamCount};
use fluency::xapi::agent::ifi_key;
use serde_json::json;

const CSV: &str = "\
Person,Name,Team,Manager,Role,badge
mailto:ada@example.com,Ada Lovelace,north,mailto:bo@example.com,https://roles.example.com/analyst,17
mailto:bo@example.com,Bo,north,,https://roles.example.com/lead,
account:https://hr.example.com|cy-42,\"Cy, the new one\",south,mailto:bo@example.com,,
openid:https://id.example.com/dee,,,,,
";

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    fn settings(&self) -> Settings {
        let data_dir = self.dir.path().join("fluency-data");
        Settings::resolve([SettingsLayer { data_dir: Some(data_dir), ..Default::default() }]).expect("settings")
    }

    fn write_csv(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("writing the CSV");
        path.display().to_string()
    }

    /// Runs `fluency --data-dir <dir> people import <file> --quiet <extra>`.
    async fn import(&self, file: &str, extra: &[&str]) -> anyhow::Result<()> {
        let data_dir = self.settings().data_dir.display().to_string();
        let mut args = vec!["fluency", "--data-dir", &data_dir, "people", "import", file, "--quiet"];
        args.extend_from_slice(extra);
        let cli = Cli::try_parse_from(args)?;
        let settings = cli.settings()?;
        run(cli, settings).await
    }

    /// The stored people under these keys and every team, or nothing when no store exists.
    async fn stored(&self, keys: &[String]) -> (Vec<PersonRecord>, Vec<TeamCount>) {
        let settings = self.settings();
        if !settings.database_path().exists() {
            return (Vec::new(), Vec::new());
        }
        let store = open_store_shared(&settings).expect("the store opens");
        (store.find_people(keys).await.expect("people"), store.teams().await.expect("teams"))
    }
}

fn key(agent: serde_json::Value) -> String {
    ifi_key(&agent).expect("an identified agent")
}

fn team(name: &str, members: u64) -> TeamCount {
    TeamCount { team: name.into(), members }
}

#[tokio::test]
async fn imported_people_are_stored_by_ifi_key_and_a_later_import_changes_only_what_it_gives() {
    let workspace = Workspace::new();
    let ada = key(json!({"mbox": "mailto:ada@example.com"}));
    let bo = key(json!({"mbox": "mailto:bo@example.com"}));
    let cy = key(json!({"account": {"homePage": "https://hr.example.com", "name": "cy-42"}}));
    let dee = key(json!({"openid": "https://id.example.com/dee"}));
    let keys = [ada.clone(), bo.clone(), cy.clone(), dee.clone()];

    workspace.import(&workspace.write_csv("people.csv", CSV), &[]).await.expect("first import");
    let (first, first_teams) = workspace.stored(&keys).await;
    let moved = workspace.write_csv("moved.csv", "person,team\nmailto:ada@EXAMPLE.com,south\n");
    workspace.import(&moved, &[]).await.expect("second import");
    let (second, second_teams) = workspace.stored(&keys).await;

    assert_eq!(first.len(), 4);
    let first_ada = first.iter().find(|p| p.person == ada).expect("Ada");
    assert_eq!(first_ada.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(first_ada.manager.as_deref(), Some(bo.as_str()));
    assert_eq!(first_ada.role.as_deref(), Some("https://roles.example.com/analyst"));
    let first_cy = first.iter().find(|p| p.person == cy).expect("Cy");
    assert_eq!((first_cy.name.as_deref(), first_cy.team.as_deref()), (Some("Cy, the new one"), Some("south")));
    let first_dee = first.iter().find(|p| p.person == dee).expect("Dee");
    assert_eq!((&first_dee.team, &first_dee.manager, &first_dee.role), (&None, &None, &None));
    assert_eq!(first_teams, vec![team("north", 2), team("south", 1)]);
    let second_ada = second.iter().find(|p| p.person == ada).expect("Ada");
    assert_eq!(second_ada.team.as_deref(), Some("south"), "the address's domain is case-insensitive");
    assert_eq!(second_ada.name.as_deref(), Some("Ada Lovelace"), "fields the second file leaves out are kept");
    assert_eq!(second_ada.manager.as_deref(), Some(bo.as_str()));
    assert_eq!(second_teams, vec![team("north", 1), team("south", 2)]);
    let store = open_store_shared(&workspace.settings()).expect("the store opens");
    let audit = store.audit_entries(0, 10).await.expect("the audit log");
    let imports: Vec<(&str, &str)> = audit.iter().map(|e| (e.draft.actor.as_str(), e.draft.action.as_str())).collect();
    assert_eq!(imports, vec![("cli", "people.import"), ("cli", "people.import")], "each import is audited");
}

#[tokio::test]
async fn a_dry_run_checks_every_row_and_stores_nothing() {
    let workspace = Workspace::new();

    workspace.import(&workspace.write_csv("people.csv", CSV), &["--dry-run"]).await.expect("dry run");

    let (people, teams) = workspace.stored(&[key(json!({"mbox": "mailto:ada@example.com"}))]).await;
    assert!(people.is_empty() && teams.is_empty());
}

#[tokio::test]
async fn each_bad_row_is_refused_with_its_line_and_column_and_nothing_is_stored() {
    let header = "person,team,manager,role\nmailto:ada@example.com,north,,\n";
    let cases = [
        ("an empty person", ",north,,\n", "line 3, column \"person\": is empty; every row needs the person"),
        (
            "a bare address",
            "bo@example.com,north,,\n",
            "line 3, column \"person\": \"bo@example.com\" is not a person's identifier",
        ),
        (
            "an account without name",
            "account:https://hr.example.com,north,,\n",
            "line 3, column \"person\": \"account:https://hr.example.com\": an account is written",
        ),
        (
            "a malformed manager",
            "mailto:bo@example.com,north,boss,\n",
            "line 3, column \"manager\": \"boss\" is not a person's identifier",
        ),
        (
            "a person managing themself",
            "mailto:bo@example.com,north,mailto:bo@example.com,\n",
            "line 3, column \"manager\": is the person themself",
        ),
        (
            "a relative role",
            "mailto:bo@example.com,north,,analyst\n",
            "line 3, column \"role\": \"analyst\" is not an absolute IRI",
        ),
        ("a person twice", "mailto:ada@example.com,south,,\n", "line 3, column \"person\": the same person as line 2"),
        ("too few fields", "mailto:bo@example.com,north\n", "line 3: has 2 fields but the header has 4"),
        (
            "a row after a quoted newline",
            "\"mailto:bo@example.com\",\"north\nwest\",,\nnope,,,\n",
            "line 5, column \"person\": \"nope\"",
        ),
    ];
    for (what, rows, expected) in cases {
        let workspace = Workspace::new();
        let file = workspace.write_csv("people.csv", &format!("{header}{rows}"));

        let refused = workspace.import(&file, &[]).await.expect_err(what).to_string();
        let dry = workspace.import(&file, &["--dry-run"]).await.expect_err(what).to_string();

        assert!(refused.starts_with("nothing was stored: 1 row refused"), "{what}: {refused}");
        assert!(refused.contains(expected), "{what}: {refused}");
        assert!(dry.contains("1 row would be refused") && dry.contains(expected), "{what}: {dry}");
        let (people, _) = workspace.stored(&[key(json!({"mbox": "mailto:ada@example.com"}))]).await;
        assert!(people.is_empty(), "{what}: the good row was not stored either");
    }
}

#[tokio::test]
async fn a_file_without_a_person_column_is_refused_before_any_row() {
    let workspace = Workspace::new();
    let file = workspace.write_csv("people.csv", "\u{feff}email,team\nada@example.com,north\n");

    let error = workspace.import(&file, &[]).await.expect_err("no person column");

    let message = format!("{error:#}");
    assert!(message.contains("column \"person\" is not in the header"), "{message}");
    assert!(message.contains("\"email\", \"team\""), "the BOM is not part of the first name: {message}");
}

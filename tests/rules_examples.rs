//! The example rules in `rules/`: every one compiles and has a fixture
//! (`<rule>.test.json`: statements in, intents expected) that passes, checked both through
//! the library and through the real `fluency rules test` command.

use std::path::{Path, PathBuf};
use std::process::Command;

use fluency::rules::dry_run::{check_fixture, Fixture};
use fluency::rules::{RuleFile, RuleSet, RulesSettings};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// Every example rule with its fixture path.
fn examples() -> Vec<(PathBuf, PathBuf)> {
    let mut rules: Vec<PathBuf> = std::fs::read_dir(rules_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rhai"))
        .collect();
    rules.sort();
    rules.into_iter().map(|rule| (rule.clone(), rule.with_extension("test.json"))).collect()
}

#[test]
fn there_are_at_least_five_example_rules_and_each_has_a_fixture() {
    let examples = examples();

    assert!(examples.len() >= 5, "{examples:?}");
    for (rule, fixture) in examples {
        assert!(fixture.exists(), "{} has no fixture {}", rule.display(), fixture.display());
    }
}

#[test]
fn the_rules_directory_loads_without_refusals() {
    let set = RuleSet::load_dir(RulesSettings::default(), &rules_dir()).unwrap();

    assert!(set.refused().is_empty(), "{:#?}", set.refused());
    assert_eq!(set.rules().len(), examples().len());
}

#[test]
fn every_example_rule_does_what_its_fixture_expects() {
    for (rule, fixture_path) in examples() {
        let file = RuleFile::read(&rule).unwrap();
        let fixture: Fixture = serde_json::from_str(&std::fs::read_to_string(&fixture_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", fixture_path.display()));
        assert!(!fixture.steps.is_empty(), "{}", fixture_path.display());

        let failures = check_fixture(file, RulesSettings::default(), &fixture).unwrap();

        assert!(failures.is_empty(), "{}:\n{}", rule.display(), failures.join("\n"));
    }
}

#[test]
fn the_rules_test_command_checks_each_fixture_and_reports_intents() {
    for (rule, fixture) in examples() {
        let output = Command::new(env!("CARGO_BIN_EXE_fluency"))
            .args(["rules", "test"])
            .arg(&rule)
            .arg("--statements")
            .arg(&fixture)
            .output()
            .unwrap();

        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}:\n{stdout}\n{stderr}", rule.display());
        assert!(stdout.contains("matched, ran in"), "{stdout}");
        assert!(stdout.contains("intent 0"), "{}: some step records an intent:\n{stdout}", rule.display());
        assert!(stderr.contains("steps as expected"), "{stderr}");
    }
}

#[test]
fn the_rules_test_command_fails_on_a_rule_that_does_not_compile_naming_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("broken.rhai");
    std::fs::write(&rule, "//! name = \"broken\"\nlet x = 1;\nlet = 2;\n").unwrap();
    let statements = dir.path().join("statements.json");
    std::fs::write(&statements, "[]").unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_fluency"))
        .args(["rules", "test"])
        .arg(&rule)
        .arg("--statements")
        .arg(&statements)
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("broken.rhai:3:"), "{stderr}");
    assert!(stderr.contains("compile error"), "{stderr}");
}

#[test]
fn the_rules_test_command_fails_when_a_run_fails_even_without_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("spins.rhai");
    std::fs::write(&rule, "//! name = \"spins\"\nloop { }\n").unwrap();
    let statements = dir.path().join("statements.json");
    let statement = r#"{"actor": {"mbox": "mailto:ada@example.com"}, "verb": {"id": "http://example.com/v"},
        "object": {"id": "http://example.com/o"}, "timestamp": "2024-05-01T10:00:00Z"}"#;
    std::fs::write(&statements, format!("[{statement}]")).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_fluency"))
        .args(["rules", "test"])
        .arg(&rule)
        .arg("--statements")
        .arg(&statements)
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("1 of 1 runs failed"), "{stderr}");
}

//! Dry runs: one rule file run against a list of statements with an in-memory host,
//! reporting for each statement whether the rule matched, what it returned, its intents
//! and timing; nothing is delivered. Fixtures (statements in, intents expected) are checked
//! the same way. Used by `fluency rules test` and the example-rule tests.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::{RuleError, RuleErrorKind};
use super::file::RuleFile;
use super::host::{MemoryHost, RuleHost};
use super::runtime::{RuleOutcome, RuleSet, TriggerStatement};
use super::settings::RulesSettings;
use super::stack::on_rules_stack;
use crate::validation::validate_statement;
use crate::xapi::time::{format_micros, Micros};
use crate::xapi::XapiVersion;

/// A fixture: statements already in the LRS (`history`), then steps, each a statement
/// and what the rule should do with it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub history: Vec<Value>,
    pub steps: Vec<FixtureStep>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureStep {
    /// Why this step is here, shown when it fails.
    #[serde(default)]
    pub note: String,
    pub statement: Value,
    /// Whether the rule should run (default true).
    #[serde(default = "default_matched")]
    pub matched: bool,
    /// The intents expected, in order. Each is compared as a subset: the properties given
    /// must match, others (keys, derived ids) may be anything.
    #[serde(default)]
    pub intents: Vec<Value>,
    /// The kind of error expected instead of success.
    #[serde(default)]
    pub error: Option<RuleErrorKind>,
}

fn default_matched() -> bool {
    true
}

/// What `--statements` holds: a JSON array of statements, one statement, or a fixture.
pub enum StatementsFile {
    Statements(Vec<Value>),
    Fixture(Fixture),
}

impl StatementsFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match value {
            Value::Array(statements) => Ok(Self::Statements(statements)),
            Value::Object(object) if object.contains_key("steps") => serde_json::from_value(Value::Object(object))
                .map(Self::Fixture)
                .map_err(|e| format!("not a fixture: {e}")),
            statement @ Value::Object(_) => Ok(Self::Statements(vec![statement])),
            _ => Err("expected a statement, an array of statements or a fixture (with `steps`)".into()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error("{0}")]
    Refused(RuleError),
    #[error("rules settings: {0}")]
    Settings(String),
    #[error("history statement {0}: not a valid xAPI statement: {1}")]
    InvalidHistory(usize, String),
}

/// The report of a dry run.
#[derive(Debug, Serialize)]
pub struct DryRun {
    pub rule: String,
    pub steps: Vec<DryRunStep>,
}

#[derive(Debug, Serialize)]
pub struct DryRunStep {
    /// Position in the statements given, from 0.
    pub index: usize,
    /// The statement's id; for a scheduled run, its trigger id.
    pub statement_id: Uuid,
    /// The time of a scheduled run (`None` for a statement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Set when the statement is not valid xAPI; the rule did not see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
    pub matched: bool,
    /// Why the rule did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RuleOutcome>,
}

/// Runs `rule` (enabled for the occasion) on each statement in order, after recording
/// `history`. Each statement joins the history before the rule sees it, as in the LRS.
pub fn dry_run(
    rule: RuleFile,
    settings: RulesSettings,
    history: &[Value],
    statements: &[Value],
) -> Result<DryRun, DryRunError> {
    let (name, set, memory) = prepare(rule, settings, history)?;
    let host: Arc<dyn RuleHost> = memory.clone();
    let steps = on_rules_stack(|| {
        statements
            .iter()
            .enumerate()
            .map(|(index, statement)| {
                let trigger = TriggerStatement::from_json(statement, derived_id(statement));
                let mut step = DryRunStep {
                    index,
                    statement_id: trigger.id,
                    at: None,
                    invalid: None,
                    matched: false,
                    skipped: None,
                    outcome: None,
                };
                if let Err(error) = validate_statement(statement, XapiVersion::V2_0_0) {
                    step.invalid = Some(error.to_string());
                    return step;
                }
                memory.record(statement);
                step.skipped = set.mismatch(&name, statement);
                step.matched = step.skipped.is_none();
                step.outcome = set.evaluate(&trigger, &host).into_iter().next();
                step
            })
            .collect()
    });
    Ok(DryRun { rule: name, steps })
}

/// Runs a scheduled `rule` (enabled for the occasion) at each of `times`, after recording
/// `history`: what the server would do at those times.
pub fn dry_run_scheduled(
    rule: RuleFile,
    settings: RulesSettings,
    history: &[Value],
    times: &[Micros],
) -> Result<DryRun, DryRunError> {
    let (name, set, memory) = prepare(rule, settings, history)?;
    let host: Arc<dyn RuleHost> = memory;
    let steps = on_rules_stack(|| {
        times
            .iter()
            .enumerate()
            .map(|(index, &at)| {
                let outcome = set.run_scheduled(&name, at, &host);
                DryRunStep {
                    index,
                    statement_id: outcome.as_ref().map_or(Uuid::nil(), |o| o.trigger),
                    at: Some(format_micros(at)),
                    invalid: None,
                    matched: outcome.is_some(),
                    skipped: outcome.is_none().then_some("the rule has no schedule"),
                    outcome,
                }
            })
            .collect()
    });
    Ok(DryRun { rule: name, steps })
}

/// The rule compiled alone (enabled for the occasion) and an in-memory host holding
/// `history`.
fn prepare(
    mut rule: RuleFile,
    settings: RulesSettings,
    history: &[Value],
) -> Result<(String, RuleSet, Arc<MemoryHost>), DryRunError> {
    rule.enabled = true;
    let name = rule.name.clone();
    let set = RuleSet::build(settings, vec![rule]).map_err(DryRunError::Settings)?;
    if let Some(error) = set.refused().first() {
        return Err(DryRunError::Refused(error.clone()));
    }
    let memory = Arc::new(MemoryHost::new());
    for (index, statement) in history.iter().enumerate() {
        validate_statement(statement, XapiVersion::V2_0_0)
            .map_err(|e| DryRunError::InvalidHistory(index, e.to_string()))?;
        memory.record(statement);
    }
    Ok((name, set, memory))
}

/// A stable id for a statement given without one.
fn derived_id(statement: &Value) -> Uuid {
    let digest = Sha256::digest(statement.to_string().as_bytes());
    uuid::Builder::from_custom_bytes(digest[..16].try_into().expect("16 bytes")).into_uuid()
}

/// Runs the fixture's steps and lists every way the rule's behaviour differs from what the
/// fixture expects (empty: it passes).
pub fn check_fixture(rule: RuleFile, settings: RulesSettings, fixture: &Fixture) -> Result<Vec<String>, DryRunError> {
    let run = dry_run(rule, settings, &fixture.history, &fixture.statements())?;
    Ok(fixture_failures(fixture, &run))
}

impl Fixture {
    pub fn statements(&self) -> Vec<Value> {
        self.steps.iter().map(|s| s.statement.clone()).collect()
    }
}

/// How a dry run of the fixture's statements differs from what the fixture expects.
pub fn fixture_failures(fixture: &Fixture, run: &DryRun) -> Vec<String> {
    let mut failures = Vec::new();
    for (expected, step) in fixture.steps.iter().zip(&run.steps) {
        if let Some(problem) = step_problem(expected, step) {
            let note = if expected.note.is_empty() { String::new() } else { format!(" ({})", expected.note) };
            failures.push(format!("step {}{note}: {problem}", step.index));
        }
    }
    failures
}

fn step_problem(expected: &FixtureStep, step: &DryRunStep) -> Option<String> {
    if let Some(invalid) = &step.invalid {
        return Some(format!("the statement is not valid xAPI: {invalid}"));
    }
    if expected.matched != step.matched {
        let why = step.skipped.map(|s| format!(" ({s})")).unwrap_or_default();
        return Some(format!("expected matched = {}, got {}{why}", expected.matched, step.matched));
    }
    let outcome = step.outcome.as_ref()?;
    let evaluated = match (&outcome.result, expected.error) {
        (Err(error), Some(kind)) if error.kind == kind => return None,
        (Err(error), _) => return Some(format!("the rule failed: {error}")),
        (Ok(_), Some(kind)) => return Some(format!("expected a {} error, the rule succeeded", kind.as_str())),
        (Ok(evaluated), None) => evaluated,
    };
    let actual: Vec<Value> =
        evaluated.intents.iter().map(|i| serde_json::to_value(&i.intent).expect("intents are JSON")).collect();
    let same =
        actual.len() == expected.intents.len() && actual.iter().zip(&expected.intents).all(|(a, e)| contains(a, e));
    (!same)
        .then(|| format!("expected intents {}\n  got {}", Value::from(expected.intents.clone()), Value::from(actual)))
}

/// Whether `actual` has everything `expected` has: objects by key (extra keys allowed),
/// arrays element by element (same length), numbers by value, the rest by equality.
pub fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => {
            expected.iter().all(|(key, e)| actual.get(key).is_some_and(|a| contains(a, e)))
        }
        (Value::Array(actual), Value::Array(expected)) => {
            actual.len() == expected.len() && actual.iter().zip(expected).all(|(a, e)| contains(a, e))
        }
        (Value::Number(a), Value::Number(e)) => a.as_f64() == e.as_f64(),
        _ => actual == expected,
    }
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            match &step.at {
                Some(at) => write!(f, "scheduled run at {at} ({}): ", step.statement_id)?,
                None => write!(f, "statement {} ({}): ", step.index, step.statement_id)?,
            }
            if let Some(invalid) = &step.invalid {
                writeln!(f, "not valid xAPI, skipped: {invalid}")?;
                continue;
            }
            let Some(outcome) = &step.outcome else {
                writeln!(f, "not matched: {}", step.skipped.unwrap_or("no rule ran"))?;
                continue;
            };
            let millis = outcome.elapsed.as_secs_f64() * 1000.0;
            match &outcome.result {
                Err(error) => writeln!(f, "matched, failed in {millis:.3} ms\n  {error}")?,
                Ok(evaluated) => {
                    writeln!(f, "matched, ran in {millis:.3} ms")?;
                    writeln!(f, "  returned: {}", evaluated.returned)?;
                    for change in &evaluated.state_changes {
                        writeln!(f, "  state: {}", serde_json::to_string(change).unwrap_or_default())?;
                    }
                    for record in &evaluated.intents {
                        let intent = serde_json::to_string_pretty(&record.intent).unwrap_or_default();
                        let mut indented = String::new();
                        for line in intent.lines() {
                            let _ = write!(indented, "\n    {line}");
                        }
                        writeln!(f, "  intent {} (key {}):{indented}", record.index, &record.key[..16])?;
                    }
                }
            }
            for line in &outcome.log {
                writeln!(f, "  printed: {line}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_scheduled_rule_is_dry_run_at_the_times_given() {
        let source = "//! name = \"weekly\"\n//! schedule = \"0 9 * * MON\"\nnotify(\"ld-team\", `week of ${now()}`);\nstatement\n";
        let rule = RuleFile::parse("weekly.rhai", source).unwrap();
        let monday = crate::xapi::time::to_micros(&crate::xapi::time::parse_timestamp("2026-11-30T09:00:00Z").unwrap());

        let run = dry_run_scheduled(rule, RulesSettings::default(), &[], &[monday]).unwrap();

        let outcome = run.steps[0].outcome.as_ref().unwrap();
        let evaluated = outcome.result.as_ref().unwrap();
        assert_eq!(evaluated.returned, Value::Null, "a scheduled run has no statement");
        assert_eq!(evaluated.intents.len(), 1);
        assert!(run.to_string().starts_with("scheduled run at 2026-11-30T09:00:00"), "{run}");
    }

    #[test]
    fn contains_allows_extra_object_keys_but_not_extra_array_elements() {
        let actual = json!({"a": 1, "b": [1, {"c": 2, "d": 3}]});

        assert!(contains(&actual, &json!({"b": [1.0, {"c": 2}]})));
        assert!(!contains(&actual, &json!({"b": [1]})));
        assert!(!contains(&actual, &json!({"e": null})));
    }

    #[test]
    fn a_statements_file_is_a_list_one_statement_or_a_fixture() {
        assert!(matches!(StatementsFile::parse("[{}, {}]"), Ok(StatementsFile::Statements(s)) if s.len() == 2));
        assert!(matches!(StatementsFile::parse("{}"), Ok(StatementsFile::Statements(s)) if s.len() == 1));
        assert!(matches!(
            StatementsFile::parse(r#"{"steps": [{"statement": {}}]}"#),
            Ok(StatementsFile::Fixture(f)) if f.steps.len() == 1 && f.steps[0].matched
        ));
        assert!(StatementsFile::parse(r#"{"steps": [], "extra": 1}"#).is_err());
        assert!(StatementsFile::parse("3").is_err());
    }
}

//! The rule set: rule files compiled once into shared ASTs (config -> build), then each
//! stored statement evaluated against the enabled rules its trigger matches (runtime),
//! yielding one outcome per rule run. A failing rule fails alone; `RuleHealth` counts its
//! consecutive failures and disables it past the configured number. Called by the rules
//! consumer of the statement stream and by `fluency rules test`.

use std::cell::OnceCell;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, Scope, AST};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::context::{self, Evaluation};
use super::error::{RuleError, RuleErrorKind};
use super::file::RuleFile;
use super::guard::deep_size;
use super::health::RuleHealth;
use super::host::{RuleHost, StateChange};
use super::intent::IntentRecord;
use super::lineage::{emitted_by, Lineage};
use super::memory::RunBudget;
use super::sandbox::build_engine;
use super::schedule::{scheduled_trigger_id, Schedule};
use super::settings::RulesSettings;
use super::statement;
use super::trigger::{Trigger, TriggerIndex};
use crate::xapi::time::{now_micros, Micros};

/// The name under which a script sees the statement (a read-only copy).
pub const STATEMENT_VARIABLE: &str = "statement";

/// A statement rules run on: its id, the time rules see as "now" (its `stored`), its JSON.
#[derive(Clone, Copy, Debug)]
pub struct TriggerStatement<'a> {
    pub id: Uuid,
    pub time: Micros,
    pub statement: &'a Value,
}

impl<'a> TriggerStatement<'a> {
    /// For a statement outside the store (dry runs): its own id and time where it has them.
    pub fn from_json(statement: &'a Value, fallback_id: Uuid) -> Self {
        let id = statement.get("id").and_then(Value::as_str).and_then(|id| Uuid::parse_str(id).ok());
        let time = statement::statement_time(statement).unwrap_or_else(now_micros);
        Self { id: id.unwrap_or(fallback_id), time, statement }
    }
}

/// A rule ready to run: metadata, checked trigger and compiled script.
#[derive(Debug)]
pub struct CompiledRule {
    pub name: Arc<str>,
    pub description: String,
    pub version: Arc<str>,
    pub file: String,
    pub enabled: bool,
    pub trigger: Trigger,
    /// Set for rules that run on a schedule; they never run on statements.
    pub schedule: Option<Schedule>,
    ast: Arc<AST>,
}

/// What a successful run produced.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluated {
    /// The script's final value, as JSON (for dry runs and debugging).
    pub returned: Value,
    pub intents: Vec<IntentRecord>,
    /// State changes, already committed to the host.
    pub state_changes: Vec<StateChange>,
}

/// One rule's run on one statement.
#[derive(Clone, Debug, Serialize)]
pub struct RuleOutcome {
    #[serde(serialize_with = "serialize_str")]
    pub rule: Arc<str>,
    pub trigger: Uuid,
    #[serde(rename = "elapsed_us", serialize_with = "serialize_micros")]
    pub elapsed: Duration,
    /// Lines the script printed.
    pub log: Vec<String>,
    /// Serialized as `{"ok": ...}` or `{"error": ...}`.
    #[serde(serialize_with = "serialize_result")]
    pub result: Result<Evaluated, RuleError>,
}

fn serialize_result<S: serde::Serializer>(
    result: &Result<Evaluated, RuleError>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(1))?;
    match result {
        Ok(evaluated) => map.serialize_entry("ok", evaluated)?,
        Err(error) => map.serialize_entry("error", error)?,
    }
    map.end()
}

fn serialize_str<S: serde::Serializer>(text: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(text)
}

fn serialize_micros<S: serde::Serializer>(elapsed: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(elapsed.as_micros() as u64)
}

/// Compiled rules sharing one sandboxed engine.
pub struct RuleSet {
    settings: RulesSettings,
    engine: Engine,
    rules: Vec<CompiledRule>,
    health: Vec<Mutex<RuleHealth>>,
    index: TriggerIndex,
    refused: Vec<RuleError>,
}

impl RuleSet {
    /// Compiles `files`. A file that does not compile, or repeats an earlier rule's name, is
    /// refused (see `refused`); the others make the set. Only invalid settings fail.
    pub fn build(settings: RulesSettings, files: Vec<RuleFile>) -> Result<Self, String> {
        settings.check()?;
        let engine = build_engine(&settings.sandbox);
        let mut rules: Vec<CompiledRule> = Vec::new();
        let mut refused = Vec::new();
        for file in files {
            if rules.iter().any(|r| *r.name == file.name) {
                let message = format!("another rule is already named {:?}", file.name);
                refused.push(RuleError::compile(message, 1, 1).in_file(&file.file));
                continue;
            }
            match compile(&engine, file) {
                Ok(rule) => rules.push(rule),
                Err(error) => refused.push(error),
            }
        }
        let index = TriggerIndex::new(rules.iter().map(|r| &r.trigger));
        let health = rules.iter().map(|_| Mutex::default()).collect();
        Ok(Self { settings, engine, rules, health, index, refused })
    }

    /// Reads and compiles every `*.rhai` file of `dir`, in file name order.
    pub fn load_dir(settings: RulesSettings, dir: &Path) -> anyhow::Result<Self> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("reading rules directory {}: {e}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "rhai"))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        let mut unreadable = Vec::new();
        for path in paths {
            match RuleFile::read(&path) {
                Ok(file) => files.push(file),
                Err(error) => unreadable.push(error),
            }
        }
        let mut set = Self::build(settings, files).map_err(anyhow::Error::msg)?;
        unreadable.append(&mut set.refused);
        set.refused = unreadable;
        Ok(set)
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Files that were refused, with the reason and position.
    pub fn refused(&self) -> &[RuleError] {
        &self.refused
    }

    /// Keeps the run records of rules that did not change (same name and version) from
    /// the set this one replaces, so a reload neither forgets failures nor re-enables a
    /// rule disabled for them.
    pub fn carry_health_from(&self, previous: &RuleSet) {
        for (rule, health) in self.rules.iter().zip(&self.health) {
            let unchanged = previous.rules.iter().position(|old| old.name == rule.name && old.version == rule.version);
            if let Some(position) = unchanged {
                *health.lock().expect("health lock") = previous.health[position].lock().expect("health lock").clone();
            }
        }
    }

    pub fn health(&self, rule: &str) -> Option<RuleHealth> {
        let position = self.rules.iter().position(|r| &*r.name == rule)?;
        Some(self.health[position].lock().expect("health lock").clone())
    }

    /// Why `rule` would not run on `statement` (`None`: it would).
    pub fn mismatch(&self, rule: &str, statement: &Value) -> Option<&'static str> {
        let position = self.rules.iter().position(|r| &*r.name == rule)?;
        self.skip_reason(position, statement, statement::emission(statement), &OnceCell::new())
    }

    /// Runs every enabled rule whose trigger matches. Cheap when none does: the verb index
    /// is consulted before anything is converted for scripts.
    pub fn evaluate(&self, trigger: &TriggerStatement<'_>, host: &Arc<dyn RuleHost>) -> Vec<RuleOutcome> {
        self.evaluate_guarded(trigger, host, &mut |_| None)
    }

    /// `evaluate`, with `guard` called with each rule's name just before it runs: it may
    /// record a durable note first (see `service::rules::poison`), or answer the error the
    /// run is to end with instead of running.
    pub fn evaluate_guarded(
        &self,
        trigger: &TriggerStatement<'_>,
        host: &Arc<dyn RuleHost>,
        guard: &mut dyn FnMut(&str) -> Option<RuleError>,
    ) -> Vec<RuleOutcome> {
        let mut candidates = self.index.candidates(statement::verb_id(trigger.statement)).peekable();
        if candidates.peek().is_none() {
            return Vec::new();
        }
        let emission = statement::emission(trigger.statement);
        let lineage = Lineage::of(trigger.statement, self.settings.max_emitted_per_trigger);
        let mut emit_left = lineage.budget;
        let actor = OnceCell::new();
        let mut converted: Option<Result<Dynamic, RuleError>> = None;
        let mut outcomes = Vec::new();
        for position in candidates {
            if self.skip_reason(position, trigger.statement, emission, &actor).is_some() {
                continue;
            }
            // A rule whose emissions led, through other rules, to this statement: reported
            // as its failure (it counts towards disabling) instead of going round again.
            let name = &self.rules[position].name;
            let statement = match (guard(name), lineage.cycle(name)) {
                (Some(error), _) => Err(error),
                (None, Some(cycle)) => {
                    let message = format!("emission cycle {cycle}: the rule does not run on what its emissions led to");
                    Err(RuleError::new(RuleErrorKind::Limit, message))
                }
                (None, None) => converted.get_or_insert_with(|| self.script_statement(trigger.statement)).clone(),
            };
            let outcome = self.run(position, statement, trigger, &lineage, emit_left, host);
            emit_left = emit_left.saturating_sub(emitted_by(&outcome));
            outcomes.push(outcome);
        }
        lineage.mark(&mut outcomes);
        outcomes
    }

    /// The statement as scripts see it: a map, within the sandbox's size limits (helpers
    /// would otherwise fail on it one by one).
    fn script_statement(&self, statement: &Value) -> Result<Dynamic, RuleError> {
        let converted = rhai::serde::to_dynamic(statement).map_err(|e| {
            RuleError::new(RuleErrorKind::Runtime, format!("the statement cannot be given to scripts: {e}"))
        })?;
        self.engine.ensure_data_size_within_limits(&converted).map_err(|e| {
            let message =
                format!("the statement exceeds the sandbox limits ({e}); raise rules.sandbox limits to read it");
            RuleError::new(RuleErrorKind::Limit, message)
        })?;
        Ok(converted)
    }

    /// Why the rule does not run at all, if it does not.
    fn inactive(&self, position: usize) -> Option<&'static str> {
        if !self.rules[position].enabled {
            return Some("the rule is not enabled");
        }
        if self.health[position].lock().expect("health lock").disabled {
            return Some("the rule was disabled after consecutive failures");
        }
        None
    }

    /// The active scheduled rules: name, version and schedule.
    pub fn scheduled(&self) -> Vec<(Arc<str>, Arc<str>, Schedule)> {
        let active =
            |(position, rule): &(usize, &CompiledRule)| self.inactive(*position).is_none() && rule.schedule.is_some();
        self.rules
            .iter()
            .enumerate()
            .filter(active)
            .filter_map(|(_, rule)| Some((rule.name.clone(), rule.version.clone(), rule.schedule.clone()?)))
            .collect()
    }

    /// Runs a scheduled rule for its time `at`, with `statement` set to `()`; `None` when
    /// the rule is unknown, inactive or not scheduled.
    pub fn run_scheduled(&self, rule: &str, at: Micros, host: &Arc<dyn RuleHost>) -> Option<RuleOutcome> {
        let position = self.rules.iter().position(|r| &*r.name == rule)?;
        let compiled = &self.rules[position];
        if compiled.schedule.is_none() || self.inactive(position).is_some() {
            return None;
        }
        let id = scheduled_trigger_id(&compiled.name, &compiled.version, at);
        let trigger = TriggerStatement { id, time: at, statement: &Value::Null };
        let lineage = Lineage::of(&Value::Null, self.settings.max_emitted_per_trigger);
        let mut outcome = [self.run(position, Ok(Dynamic::UNIT), &trigger, &lineage, lineage.budget, host)];
        lineage.mark(&mut outcome);
        let [outcome] = outcome;
        Some(outcome)
    }

    fn skip_reason(
        &self,
        position: usize,
        statement: &Value,
        emission: Option<(&str, u64)>,
        actor: &OnceCell<Option<String>>,
    ) -> Option<&'static str> {
        if let Some(reason) = self.inactive(position) {
            return Some(reason);
        }
        let rule = &self.rules[position];
        if rule.schedule.is_some() {
            return Some("the rule runs on a schedule, not on statements");
        }
        match emission {
            Some((by, _)) if by == &*rule.name => return Some("the rule emitted this statement"),
            Some((_, depth)) if depth >= self.settings.max_emission_depth => {
                return Some("the statement is too deep in a chain of rule emissions")
            }
            _ => {}
        }
        rule.trigger.mismatch(statement, actor)
    }

    fn run(
        &self,
        position: usize,
        statement: Result<Dynamic, RuleError>,
        trigger: &TriggerStatement<'_>,
        lineage: &Lineage,
        emit_left: u64,
        host: &Arc<dyn RuleHost>,
    ) -> RuleOutcome {
        let rule = &self.rules[position];
        let started = Instant::now();
        let (result, log) = match statement {
            Ok(statement) => {
                let (evaluation, deadline) = self.evaluation(rule, trigger, lineage.depth, emit_left, host, started);
                self.run_script(rule, statement, evaluation, deadline, host)
            }
            Err(error) => (Err(error), Vec::new()),
        };
        let elapsed = started.elapsed();
        let result = result.map_err(|error| error.in_file(&rule.file));
        let disabled = self.health[position].lock().expect("health lock").record(&result, &self.settings);
        if let Err(error) = &result {
            tracing::warn!(rule = %rule.name, trigger = %trigger.id, kind = error.kind.as_str(), error = %error, "rule failed");
        }
        if disabled {
            tracing::warn!(rule = %rule.name, failures = self.settings.max_consecutive_failures, "rule disabled after consecutive failures");
        }
        RuleOutcome { rule: rule.name.clone(), trigger: trigger.id, elapsed, log, result }
    }

    /// The evaluation a run starts with, and its deadline.
    fn evaluation(
        &self,
        rule: &CompiledRule,
        trigger: &TriggerStatement<'_>,
        trigger_depth: u64,
        emit_left: u64,
        host: &Arc<dyn RuleHost>,
        started: Instant,
    ) -> (Evaluation, Instant) {
        let sandbox = &self.settings.sandbox;
        let evaluation = Evaluation {
            rule: rule.name.clone(),
            rule_version: rule.version.clone(),
            trigger: trigger.id,
            now: trigger.time,
            trigger_depth,
            host: host.clone(),
            max_intents: sandbox.max_intents,
            max_intent_bytes: sandbox.max_intent_bytes,
            max_state_value_bytes: sandbox.max_state_value_bytes,
            max_state_bytes: sandbox.max_state_bytes,
            state_bytes: None,
            max_memory_bytes: sandbox.max_memory_bytes,
            impact_left: Duration::from_millis(sandbox.max_impact_ms),
            emit_left,
            max_emitted: self.settings.max_emitted_per_trigger,
            intents: Vec::new(),
            state_changes: Vec::new(),
            state_overlay: Default::default(),
            log: Vec::new(),
            host_error: None,
        };
        (evaluation, started + sandbox.deadline())
    }

    fn run_script(
        &self,
        rule: &CompiledRule,
        statement: Dynamic,
        evaluation: Evaluation,
        deadline: Instant,
        host: &Arc<dyn RuleHost>,
    ) -> (Result<Evaluated, RuleError>, Vec<String>) {
        let sandbox = &self.settings.sandbox;
        let budget = RunBudget::start(sandbox.max_memory_bytes);
        let entered = context::enter(evaluation, deadline);
        let mut scope = Scope::new();
        scope.push_constant(STATEMENT_VARIABLE, statement);
        // A panic (a bug in the engine or a host) must not take the caller's thread down.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, &rule.ast)
        }));
        let Ok(result) = result else {
            let error = RuleError::new(RuleErrorKind::Runtime, "the rule engine panicked while running this rule");
            return (Err(error), Vec::new());
        };
        // A limit tripped by the last step has no next step to stop at: it fails the run here.
        let over_memory = budget.used() > sandbox.max_memory_bytes;
        let tripped = context::take_tripped().or_else(|| {
            over_memory.then(|| format!("the run held more than max_memory_bytes ({} bytes)", sandbox.max_memory_bytes))
        });
        let evaluation = entered.finish();
        let result = match result {
            Err(error) => Err(RuleError::from_eval(&error, tripped, evaluation.host_error.as_deref())),
            Ok(_) if tripped.is_some() => Err(RuleError::new(RuleErrorKind::Limit, tripped.unwrap_or_default())),
            // Measured before it is copied: shared strings may make it far larger as JSON.
            Ok(returned) if deep_size(&returned, sandbox.max_string_size).is_none() => {
                let message = format!("the returned value exceeds max_string_size ({} bytes)", sandbox.max_string_size);
                Err(RuleError::new(RuleErrorKind::Limit, message))
            }
            Ok(returned) => {
                let returned =
                    rhai::serde::from_dynamic(&returned).unwrap_or_else(|_| Value::from(returned.to_string()));
                match host.state_commit(&rule.name, &evaluation.state_changes) {
                    Ok(()) => {
                        Ok(Evaluated { returned, intents: evaluation.intents, state_changes: evaluation.state_changes })
                    }
                    Err(error) => Err(RuleError::new(RuleErrorKind::Host, error.to_string())),
                }
            }
        };
        (result, evaluation.log)
    }
}

/// Compiles a rule file's script (the statement variable declared, so strict variables
/// accept it); the error names the file, line and column.
pub fn compile(engine: &Engine, file: RuleFile) -> Result<CompiledRule, RuleError> {
    let mut scope = Scope::new();
    // Declared as a plain variable: a constant would be folded into the script as `()`.
    scope.push(STATEMENT_VARIABLE, Dynamic::UNIT);
    let mut ast =
        engine.compile_with_scope(&scope, &file.source).map_err(|e| RuleError::from_parse(&e).in_file(&file.file))?;
    ast.set_source(file.file.as_str());
    Ok(CompiledRule {
        name: file.name.into(),
        description: file.description,
        version: file.version.into(),
        file: file.file,
        enabled: file.enabled,
        trigger: file.trigger,
        schedule: file.schedule,
        ast: Arc::new(ast),
    })
}

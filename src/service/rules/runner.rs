//! The rules runner: follows the store's statements in `stored` order from where the last
//! rules commit left off, runs the rules on each, and writes what they produced (run
//! records, state, outbox items, interventions) with the new position in one rules commit.
//! It never holds up ingestion: it wakes on commits and works on its own task, in batches.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{watch, Notify};

use super::catalog::RuleCatalog;
use super::host::StoreHost;
use super::poison::{CarefulRun, InFlight, InFlightFile};
use crate::metrics::Metrics;
use crate::rules::{on_rules_stack, Intent, RuleHost, RuleOutcome, RuleSet, TriggerStatement};
use crate::storage::{Intervention, NewOutboxItem, OutboxKind, RuleRun, RulesCommit, Store, StoredStatement};
use crate::xapi::time::Micros;

/// How long to wait before retrying after the store failed.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Statements are also looked for this often without a commit signal, so a missed
/// signal delays evaluation by at most this much.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub struct RunnerSettings {
    /// Statements evaluated per rules commit.
    pub batch_size: usize,
    /// The target that receives `assign` intents, if any; they are recorded either way.
    pub assign_target: Option<String>,
    /// Where the batch in flight is noted (see `poison`); `None` protects nothing.
    pub in_flight: Option<std::path::PathBuf>,
}

pub struct RuleRunner {
    store: Arc<dyn Store>,
    catalog: Arc<RuleCatalog>,
    host: Arc<StoreHost>,
    metrics: Arc<Metrics>,
    settings: RunnerSettings,
    in_flight: InFlightFile,
    /// Woken when new outbox items were committed.
    outbox_ready: Arc<Notify>,
}

impl RuleRunner {
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<RuleCatalog>,
        metrics: Arc<Metrics>,
        settings: RunnerSettings,
        outbox_ready: Arc<Notify>,
    ) -> Self {
        let host = Arc::new(StoreHost::new(store.clone(), tokio::runtime::Handle::current()));
        let in_flight = InFlightFile::new(settings.in_flight.clone());
        Self { store, catalog, host, metrics, settings, in_flight, outbox_ready }
    }

    /// Honours people's opt-outs of nudges.
    pub fn with_consent(self, consent: Arc<crate::governance::ConsentRegistry>) -> Self {
        self.host.set_consent(consent);
        self
    }

    /// Lets rules ask about skills (`skill_level`, `skill_gaps`).
    pub fn with_skills(self, skills: Arc<crate::skills::SkillsService>) -> Self {
        self.host.set_skills(skills);
        self
    }

    /// Runs until `shutdown` turns true. On the very first start (no rules commit yet),
    /// starts after the statements already stored: rules apply from now on.
    pub async fn run(self, mut committed: watch::Receiver<Micros>, mut shutdown: watch::Receiver<bool>) {
        let mut cursor = loop {
            match self.store.rules_evaluated_through().await {
                Ok(Some(through)) => break through,
                Ok(None) => {
                    // Recorded at once: statements stored before a crash that comes ahead
                    // of the first evaluation are still evaluated after the restart.
                    let start = self.store.consistent_through().saturating_sub(1);
                    let position = RulesCommit { evaluated_through: Some(start), ..Default::default() };
                    if !commit_until_landed(&*self.store, position, &mut shutdown, &self.outbox_ready).await {
                        return;
                    }
                    break start;
                }
                Err(error) => tracing::error!(error = %error, "Reading the rules position failed; retrying."),
            }
            if wait(&mut shutdown, RETRY_DELAY).await {
                return;
            }
        };
        // A note for the batch after the position: the last process stopped while evaluating
        // it, maybe because of a rule. That batch is evaluated one statement at a time.
        let previous = self.in_flight.pending(cursor);
        if let Some(previous) = &previous {
            tracing::warn!(
                through = previous.through,
                "The last run stopped while evaluating rules; evaluating its batch carefully."
            );
        }
        while !*shutdown.borrow() {
            match self.store.statements_stored_after(cursor, self.settings.batch_size.max(1)).await {
                Ok(mut batch) if !batch.is_empty() => {
                    let careful = previous.as_ref().filter(|p| batch[0].stored <= p.through);
                    if careful.is_some() {
                        batch.truncate(1);
                    }
                    let count = batch.len() as u64;
                    let through = batch.last().map_or(cursor, |s| s.stored);
                    let note = InFlight {
                        after: cursor,
                        through: careful.map_or(through, |p| p.through),
                        ..Default::default()
                    };
                    let first = batch[0].id;
                    let commit = self.evaluate(batch, note, careful.cloned()).await;
                    if !commit_until_landed(&*self.store, commit, &mut shutdown, &self.outbox_ready).await {
                        return;
                    }
                    if let Some(previous) = careful.filter(|p| p.statement == Some(first)) {
                        let poisonous = previous.poisoned.iter().chain(&previous.rule).cloned().collect();
                        self.disable(poisonous).await;
                    }
                    self.metrics.rules_statements.inc_by(count);
                    cursor = through;
                }
                Ok(_) => {
                    tokio::select! {
                        _ = committed.changed() => {}
                        _ = shutdown.changed() => {}
                        _ = tokio::time::sleep(POLL_INTERVAL) => {}
                    }
                }
                Err(error) => {
                    tracing::error!(error = %error, "Reading statements for the rules failed; retrying.");
                    if wait(&mut shutdown, RETRY_DELAY).await {
                        return;
                    }
                }
            }
        }
    }

    /// Disables, in their files, the rules whose runs took the server down: run counts do
    /// not survive a restart, the file does.
    async fn disable(&self, rules: Vec<String>) {
        let catalog = self.catalog.clone();
        let disabled = tokio::task::spawn_blocking(move || {
            for rule in rules {
                match catalog.set_enabled(&rule, false) {
                    Ok(Some(_)) => tracing::warn!(rule = %rule, "Disabled a rule whose run stopped the server."),
                    Ok(None) => {}
                    Err(error) => tracing::error!(rule = %rule, error = %error, "Could not disable a rule."),
                }
            }
        });
        if let Err(error) = disabled.await {
            tracing::error!(error = %error, "Disabling rules panicked.");
        }
    }

    /// Runs the rules on the rules thread (scripts are CPU work with a deadline), after
    /// noting the batch (`note`, see `poison`). With `careful` (the note the last process
    /// left), the batch is one statement and each rule's run is noted before it starts.
    async fn evaluate(&self, batch: Vec<StoredStatement>, note: InFlight, careful: Option<InFlight>) -> RulesCommit {
        let in_flight = self.in_flight.clone();
        let rules = self.catalog.current();
        let host = self.host.clone();
        let metrics = self.metrics.clone();
        let assign_target = self.settings.assign_target.clone();
        let through = batch.last().map_or(0, |s| s.stored);
        let evaluated = tokio::task::spawn_blocking(move || {
            on_rules_stack(move || {
                in_flight.note(&note);
                let mut commit = RulesCommit { evaluated_through: Some(through), ..Default::default() };
                let dyn_host: Arc<dyn RuleHost> = host.clone();
                for statement in &batch {
                    let mut guard = careful
                        .as_ref()
                        .map(|previous| CarefulRun::new(&in_flight, &note, statement.id, Some(previous)));
                    let mut guard = |rule: &str| guard.as_mut().and_then(|careful| careful.guard(rule));
                    for outcome in evaluate_statement(&rules, &dyn_host, statement, &mut guard) {
                        observe(&metrics, &outcome);
                        record(&mut commit, outcome, statement.stored, assign_target.as_deref());
                    }
                }
                commit.state = host.take_state_writes();
                commit
            })
        })
        .await;
        evaluated.unwrap_or_else(|error| {
            // A panic outside the scripts' own guard: skip the batch rather than stall forever.
            tracing::error!(error = %error, "Evaluating rules failed; the batch is skipped.");
            RulesCommit { evaluated_through: Some(through), ..Default::default() }
        })
    }
}

/// Writes the commit, retrying until it lands (false: shut down first), then wakes the
/// delivery worker if there is something to deliver.
pub(super) async fn commit_until_landed(
    store: &dyn Store,
    commit: RulesCommit,
    shutdown: &mut watch::Receiver<bool>,
    outbox_ready: &Notify,
) -> bool {
    let has_outbox = !commit.outbox.is_empty();
    loop {
        match store.commit_rules(commit.clone()).await {
            Ok(()) => break,
            Err(error) => tracing::error!(error = %error, "Writing the rules commit failed; retrying."),
        }
        if wait(shutdown, RETRY_DELAY).await {
            return false;
        }
    }
    if has_outbox {
        outbox_ready.notify_one();
    }
    true
}

/// True when shut down before `delay` passed.
pub(super) async fn wait(shutdown: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        _ = shutdown.changed() => true,
        _ = tokio::time::sleep(delay) => *shutdown.borrow(),
    }
}

fn evaluate_statement(
    rules: &RuleSet,
    host: &Arc<dyn RuleHost>,
    statement: &StoredStatement,
    guard: &mut dyn FnMut(&str) -> Option<crate::rules::RuleError>,
) -> Vec<RuleOutcome> {
    if rules.rules().is_empty() {
        return Vec::new();
    }
    let json: Value = match serde_json::from_str(&statement.json) {
        Ok(json) => json,
        Err(error) => {
            tracing::error!(id = %statement.id, error = %error, "A stored statement is not JSON; rules skip it.");
            return Vec::new();
        }
    };
    // No rule runs on the statements of a person who opted out of nudges.
    if crate::rules::statement::actor_id(&json).is_some_and(|person| !host.nudges(&person)) {
        return Vec::new();
    }
    let trigger = TriggerStatement { id: statement.id, time: statement.stored, statement: &json };
    rules.evaluate_guarded(&trigger, host, guard)
}

pub(super) fn observe(metrics: &Metrics, outcome: &RuleOutcome) {
    metrics.rule_evaluations.with_label_values(&[&outcome.rule]).inc();
    metrics.rule_evaluation_seconds.observe(outcome.elapsed.as_secs_f64());
    if let Err(error) = &outcome.result {
        metrics.rule_failures.with_label_values(&[&outcome.rule, error.kind.as_str()]).inc();
    }
}

/// Adds a run's products to the commit: intents become outbox items (assignments also
/// interventions), and the run is recorded when it failed or produced something.
pub(super) fn record(commit: &mut RulesCommit, outcome: RuleOutcome, now: Micros, assign_target: Option<&str>) {
    let rule = outcome.rule.to_string();
    let mut run = RuleRun {
        rule: rule.clone(),
        trigger: outcome.trigger,
        evaluated: now,
        intents: 0,
        state_changes: 0,
        error: None,
    };
    match outcome.result {
        Err(error) => run.error = Some(serde_json::to_value(&error).unwrap_or(Value::Null)),
        Ok(evaluated) => {
            run.intents = evaluated.intents.len() as u32;
            run.state_changes = evaluated.state_changes.len() as u32;
            for intent in evaluated.intents {
                let (kind, target) = match &intent.intent {
                    Intent::EmitStatement { .. } => (OutboxKind::Emit, None),
                    Intent::Award { .. } => (OutboxKind::Award, None),
                    Intent::Notify { target, .. } => (OutboxKind::Notify, Some(target.clone())),
                    Intent::Assign { actor, actor_id, activity, reason } => {
                        commit.interventions.push(Intervention {
                            key: intent.key.clone(),
                            rule: rule.clone(),
                            trigger: intent.trigger,
                            actor_id: actor_id.clone(),
                            actor: actor.clone(),
                            activity: activity.clone(),
                            reason: reason.clone(),
                            recorded: now,
                        });
                        let Some(target) = assign_target else { continue };
                        (OutboxKind::Assign, Some(target.to_string()))
                    }
                };
                commit.outbox.push(NewOutboxItem {
                    key: intent.key.clone(),
                    rule: rule.clone(),
                    trigger: intent.trigger,
                    kind,
                    target,
                    intent: serde_json::to_value(&intent).unwrap_or(Value::Null),
                    created: now,
                });
            }
        }
    }
    if run.error.is_some() || run.intents > 0 || run.state_changes > 0 {
        commit.runs.push(run);
    }
}

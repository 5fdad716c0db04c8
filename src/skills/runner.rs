//! The skills runner: follows the store's statements in `stored` order from the last skills
//! commit, folds each into the skills map, and writes evidence, estimates, items and the new
//! position in one commit per batch; only then does the in-memory map change. It wakes on
//! commits and works on its own task, so ingestion never waits for it. While statements
//! arrive faster than `BUSY_RATE` it stays out of their way (up to `MAX_DEFER` behind), then
//! catches up: on two cores, inferring during a burst would take half of ingest's
//! throughput. When the framework changes it starts over (reset, then every statement
//! again), which keeps the map exactly what a rebuild from the same statements gives.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::catalog::FrameworkCatalog;
use super::events;
use super::framework::Framework;
use super::inference::{Scratch, SkillMap};
use crate::auth::{Principal, Scope};
use crate::governance::ConsentRegistry;
use crate::service::StatementService;
use uuid::Uuid;

use super::evidence::extract;
use crate::storage::{EstimateFilter, StatementQuery, Store, StoredStatement};
use crate::xapi::terms::{is_voiding, object_statement_ref, VOIDED_VERB};
use crate::xapi::time::now_micros;
use crate::xapi::time::Micros;
use crate::xapi::XapiVersion;

const RETRY_DELAY: Duration = Duration::from_secs(1);
/// Statements are also looked for this often without a commit signal.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How often estimates are checked against role targets (they fade between statements).
const TARGET_SCAN_INTERVAL: Duration = Duration::from_secs(3_600);
/// Starting over because evidence was voided happens at most this often.
const VOID_REBUILD_INTERVAL: Duration = Duration::from_secs(600);
/// How often the framework files are checked for changes.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// Ingest counts as a burst above this many statements a second...
const BUSY_RATE: f64 = 2_000.0;
/// ...measured over this window.
pub(crate) const BUSY_WINDOW: Duration = Duration::from_millis(500);
/// The longest inference waits for a burst to end before working through it anyway.
const MAX_DEFER: Duration = Duration::from_secs(30);

/// Whether statements are arriving in a burst, from the count of statements stored (also
/// used by the console's overview, which waits likewise).
pub(crate) struct Load {
    stored: prometheus::IntCounter,
    sample: (tokio::time::Instant, u64),
    busy: bool,
    busy_since: Option<tokio::time::Instant>,
}

impl Load {
    pub(crate) fn new(stored: prometheus::IntCounter) -> Self {
        let count = stored.get();
        Self { stored, sample: (tokio::time::Instant::now(), count), busy: false, busy_since: None }
    }

    /// True while inference should wait: a burst is on and has not lasted `MAX_DEFER`.
    pub(crate) fn should_wait(&mut self) -> bool {
        let (at, count) = self.sample;
        if at.elapsed() >= BUSY_WINDOW {
            let now = (tokio::time::Instant::now(), self.stored.get());
            let rate = (now.1 - count) as f64 / at.elapsed().as_secs_f64();
            self.busy = rate > BUSY_RATE;
            self.sample = now;
        }
        if !self.busy {
            self.busy_since = None;
            return false;
        }
        self.busy_since.get_or_insert_with(tokio::time::Instant::now).elapsed() < MAX_DEFER
    }
}

pub struct SkillsRunner {
    store: Arc<dyn Store>,
    catalog: Arc<FrameworkCatalog>,
    map: Arc<RwLock<SkillMap>>,
    batch_size: usize,
    /// The position reached: statements stored up to here are in the map.
    reached: watch::Sender<Micros>,
    /// Statements stored so far, when inference defers to bursts of ingest.
    stored: Option<prometheus::IntCounter>,
    /// Where skill events go, when they are sent.
    events: Option<EventSink>,
    /// Voidings stored up to here are reflected in the map (the last start over skipped
    /// their targets).
    voidings_covered: std::sync::atomic::AtomicI64,
    /// A statement that was evidence has been voided since: inference should start over.
    voided_evidence: std::sync::atomic::AtomicBool,
    /// People's consent: the statements of those who opted out of inference are skipped.
    consent: Option<Arc<ConsentRegistry>>,
}

struct EventSink {
    statements: Arc<StatementService>,
    principal: Principal,
}

/// The account skill events are stored under: like rules' accounts, no credential key can
/// be it (HTTP Basic ends a key at its first colon).
pub const SKILLS_ACCOUNT: &str = "fluency:skills";

/// "Reached level" events for the estimates a batch raised past whole levels, for evidence
/// within the event horizon.
fn levels_reached_events(framework: &Framework, map: &SkillMap, scratch: &Scratch, now: Micros) -> Vec<Value> {
    let mut found = Vec::new();
    for ((person, skill), after) in scratch.changed() {
        if after.at < now - events::EVENT_HORIZON {
            continue;
        }
        let half_life = framework.half_life_days(skill);
        let before = map.abilities.get(&(person.clone(), skill.clone())).map(|a| a.decayed(after.at, half_life));
        for level in events::levels_reached(before.as_ref(), after) {
            found.extend(events::reached_level(framework, person, skill, level, after));
        }
    }
    found.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    found
}

impl SkillsRunner {
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<FrameworkCatalog>,
        map: Arc<RwLock<SkillMap>>,
        batch_size: usize,
    ) -> Self {
        Self {
            store,
            catalog,
            map,
            batch_size: batch_size.max(1),
            reached: watch::channel(0).0,
            stored: None,
            events: None,
            voidings_covered: Default::default(),
            voided_evidence: Default::default(),
            consent: None,
        }
    }

    /// Sends skill events (`skills::events`) through `statements`, as the account
    /// `SKILLS_ACCOUNT` of `public_url`.
    pub fn announcing_to(mut self, statements: Arc<StatementService>, public_url: &str) -> Self {
        let principal = Principal::for_account(public_url, SKILLS_ACCOUNT, vec![Scope::StatementsWrite]);
        self.events = Some(EventSink { statements, principal });
        self
    }

    /// Skips the statements of people who opted out of inference.
    pub fn honouring(mut self, consent: Arc<ConsentRegistry>) -> Self {
        self.consent = Some(consent);
        self
    }

    /// Counts the statements stored, so inference can stay out of the way of bursts.
    pub fn deferring_to(mut self, stored: prometheus::IntCounter) -> Self {
        self.stored = Some(stored);
        self
    }

    /// Follows the position reached (for tests and the rebuild's progress).
    pub fn watch_reached(&self) -> watch::Receiver<Micros> {
        self.reached.subscribe()
    }

    /// Loads the map and position from the store (0 when nothing was evaluated yet); when
    /// the estimates follow another framework (its files changed while the server was
    /// down), forgets them and starts from the first statement.
    pub async fn load(&self) -> anyhow::Result<Micros> {
        let stored = self.store.skills_framework().await?;
        if stored.is_some_and(|fingerprint| fingerprint != self.catalog.fingerprint()) {
            tracing::info!("The skills framework changed while the server was stopped; inferring again.");
            self.reset().await?;
            return Ok(0);
        }
        let position = self.store.skills_evaluated_through().await?.unwrap_or(0);
        self.voidings_covered.store(position, std::sync::atomic::Ordering::SeqCst);
        let estimates = self.store.skill_estimates(&EstimateFilter::default()).await?;
        let items = self.store.skill_items().await?;
        *self.map.write().expect("skills map lock") = SkillMap::from_records(estimates, items);
        Ok(position)
    }

    /// Forgets everything inferred, in the store and in memory.
    pub async fn reset(&self) -> anyhow::Result<()> {
        let newest = self.store.query_statements(&StatementQuery { limit: 1, ..Default::default() }).await?;
        self.store.reset_skills().await?;
        *self.map.write().expect("skills map lock") = SkillMap::default();
        // Starting over skips every statement voided by then.
        let covered = newest.statements.first().map_or(0, |s| s.stored);
        self.voidings_covered.store(covered, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Notes whether a voiding in the batch (newer than the last start over) voided a
    /// statement that was evidence under the framework in force.
    async fn check_voidings(&self, framework: &Framework, voided: Vec<Uuid>) -> anyhow::Result<()> {
        if voided.is_empty() {
            return Ok(());
        }
        for target in self.store.find_statements(&voided).await? {
            let was_evidence =
                parse(&target).is_some_and(|value| !extract(framework, &value, target.stored).is_empty());
            if was_evidence {
                self.voided_evidence.store(true, std::sync::atomic::Ordering::SeqCst);
                return Ok(());
            }
        }
        Ok(())
    }

    /// Folds and commits the statements stored after `cursor`, one batch; returns the new
    /// position and how many statements the batch held (0: caught up).
    pub async fn step(&self, cursor: Micros) -> anyhow::Result<(Micros, usize)> {
        let framework = self.catalog.current();
        if framework.skills.is_empty() {
            // Nothing can be evidence yet; a framework that arrives starts from the first statement.
            return Ok((cursor, 0));
        }
        let batch = self.store.statements_stored_after(cursor, self.batch_size).await?;
        let Some(last) = batch.last().map(|s| s.stored) else { return Ok((cursor, 0)) };
        let count = batch.len();
        let covered = self.voidings_covered.load(std::sync::atomic::Ordering::SeqCst);
        let voided: Vec<Uuid> = batch
            .iter()
            // Only a voiding statement names the verb; the others need not be parsed twice.
            .filter(|s| s.stored > covered && s.json.contains(VOIDED_VERB))
            .filter_map(parse)
            .filter(is_voiding)
            .filter_map(|value| object_statement_ref(&value))
            .collect();
        self.check_voidings(&framework, voided).await?;
        let map = self.map.clone();
        let announce = self.events.is_some();
        let consent = self.consent.clone();
        let (scratch, named, events) = tokio::task::spawn_blocking(move || {
            let map = map.read().expect("skills map lock");
            let mut scratch = Scratch::default();
            let mut named = Vec::new();
            for statement in batch.iter().filter(|s| !s.voided) {
                if let Some(value) = parse(statement) {
                    let actor = crate::rules::statement::actor_id(&value);
                    if actor.is_some_and(|person| consent.as_ref().is_some_and(|c| !c.infers(&person))) {
                        continue;
                    }
                    scratch.fold(&map, &framework, &value, statement.id, statement.stored);
                    named.extend(super::teams::memberships(&value));
                }
            }
            let events =
                if announce { levels_reached_events(&framework, &map, &scratch, now_micros()) } else { vec![] };
            (scratch, named, events)
        })
        .await?;
        // Before the commit: a crash in between records the teams and sends the events again,
        // which changes nothing (the events' ids are derived from them).
        super::teams::record(&*self.store, named, last).await?;
        self.announce(events).await;
        let mut scratch = scratch;
        let fingerprint = self.catalog.fingerprint();
        self.store.commit_skills(scratch.commit(last, fingerprint)).await?;
        self.map.write().expect("skills map lock").apply(scratch);
        self.reached.send_replace(last);
        Ok((last, count))
    }

    /// Stores skill events through the statement service; a failure is logged and the
    /// events are left out (they are derived, and a rebuild sends them again).
    async fn announce(&self, events: Vec<Value>) {
        let (Some(emitter), false) = (&self.events, events.is_empty()) else { return };
        let count = events.len();
        let stored = emitter
            .statements
            .store_statements(&emitter.principal, XapiVersion::V2_0_0, Value::Array(events), None, Vec::new())
            .await;
        if let Err(error) = stored {
            tracing::error!(events = count, error = %error, "Storing skill events failed; they are left out.");
        }
    }

    /// Sends "fell below target" for people whose role's targets their fading estimates
    /// dropped under within the event horizon.
    pub async fn scan_targets(&self, now: Micros) -> anyhow::Result<usize> {
        if self.events.is_none() {
            return Ok(0);
        }
        let framework = self.catalog.current();
        let mut events = Vec::new();
        for team in self.store.teams().await? {
            for person in self.store.people_in_team(&team.team).await? {
                let Some(role) = person.role.as_ref().and_then(|r| framework.roles.get(r)) else { continue };
                let map = self.map.read().expect("skills map lock");
                for requirement in &role.requires {
                    let key = (person.person.clone(), requirement.skill.clone());
                    let Some(ability) = map.abilities.get(&key) else { continue };
                    let half_life = framework.half_life_days(&requirement.skill);
                    let Some(at) = events::fell_below_at(ability, requirement.level, half_life, now) else { continue };
                    if at >= now - events::EVENT_HORIZON {
                        let event = events::fell_below_target(
                            &framework,
                            &person.person,
                            &requirement.skill,
                            &role.id,
                            requirement.level,
                            ability,
                            at,
                        );
                        events.extend(event);
                    }
                }
            }
        }
        let count = events.len();
        self.announce(events).await;
        Ok(count)
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut committed: watch::Receiver<Micros>, mut shutdown: watch::Receiver<bool>) {
        let mut cursor = loop {
            match self.load().await {
                Ok(cursor) => break cursor,
                Err(error) => tracing::error!(error = %error, "Loading the skills map failed; retrying."),
            }
            if wait(&mut shutdown, RETRY_DELAY).await {
                return;
            }
        };
        self.reached.send_replace(cursor);
        let mut framework_version = self.catalog.version();
        self.catalog.mark_inferred(framework_version);
        let mut framework_changed = self.catalog.subscribe();
        let mut last_reload = tokio::time::Instant::now();
        let mut load = self.stored.clone().map(Load::new);
        let mut last_scan = tokio::time::Instant::now() - TARGET_SCAN_INTERVAL;
        let mut last_void_rebuild = tokio::time::Instant::now() - VOID_REBUILD_INTERVAL;
        while !*shutdown.borrow() {
            if load.as_mut().is_some_and(Load::should_wait) {
                if wait(&mut shutdown, BUSY_WINDOW).await {
                    return;
                }
                continue;
            }
            if last_reload.elapsed() >= RELOAD_INTERVAL {
                last_reload = tokio::time::Instant::now();
                let catalog = self.catalog.clone();
                if let Ok(Err(error)) = tokio::task::spawn_blocking(move || catalog.reload_if_changed()).await {
                    tracing::error!(error = %error, "Reloading the skills framework failed; the previous one stays.");
                }
            }
            if self.catalog.version() != framework_version {
                match self.reset().await {
                    Ok(()) => {
                        framework_version = self.catalog.version();
                        self.catalog.mark_inferred(framework_version);
                        cursor = 0;
                        tracing::info!("The skills framework changed; inferring again from the first statement.");
                    }
                    Err(error) => tracing::error!(error = %error, "Resetting the skills map failed; retrying."),
                }
            }
            let voided = self.voided_evidence.load(std::sync::atomic::Ordering::SeqCst);
            if voided && last_void_rebuild.elapsed() >= VOID_REBUILD_INTERVAL {
                last_void_rebuild = tokio::time::Instant::now();
                self.voided_evidence.store(false, std::sync::atomic::Ordering::SeqCst);
                tracing::info!("A statement that was skill evidence was voided; inferring again without it.");
                self.catalog.request_rebuild();
                continue;
            }
            if last_scan.elapsed() >= TARGET_SCAN_INTERVAL {
                last_scan = tokio::time::Instant::now();
                if let Err(error) = self.scan_targets(now_micros()).await {
                    tracing::error!(error = %error, "Checking skills against role targets failed.");
                }
            }
            match self.step(cursor).await {
                Ok((_, 0)) => {
                    tokio::select! {
                        _ = committed.changed() => {}
                        _ = framework_changed.changed() => {}
                        _ = tokio::time::sleep(POLL_INTERVAL) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                Ok((reached, _)) => cursor = reached,
                Err(error) => {
                    tracing::error!(error = %error, "Skills inference failed on a batch; retrying.");
                    if wait(&mut shutdown, RETRY_DELAY).await {
                        return;
                    }
                }
            }
        }
    }
}

fn parse(statement: &StoredStatement) -> Option<Value> {
    serde_json::from_str(&statement.json).ok()
}

/// Sleeps; true when shutdown came first.
async fn wait(shutdown: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn inference_waits_during_a_burst_for_at_most_max_defer_and_not_when_quiet() {
        let stored = prometheus::IntCounter::new("stored", "statements stored").unwrap();
        let mut load = Load::new(stored.clone());
        assert!(!load.should_wait(), "no burst yet");

        let mut waited = Duration::ZERO;
        while waited < MAX_DEFER + BUSY_WINDOW * 4 {
            stored.inc_by(5_000);
            tokio::time::advance(BUSY_WINDOW).await;
            waited += BUSY_WINDOW;
            let should = load.should_wait();
            assert_eq!(should, waited <= MAX_DEFER, "after {waited:?} of a 10,000/s burst");
        }
        stored.inc_by(100);
        tokio::time::advance(BUSY_WINDOW).await;
        assert!(!load.should_wait(), "200/s is not a burst");
    }
}

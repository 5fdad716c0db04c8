//! The delivery loop: takes due outbox entries, performs them (HTTP for targets, the LRS
//! write path for emitted statements), and records delivered / retry later / dead letter
//! per the retry policy. Started by `serve`; tests drain it with `deliver_due`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::outbox::{EntryId, Outbox, OutboxEntry};
use super::retry::{AttemptOutcome, Decision, RetryPolicy};
use super::sender::Sender;
use super::target::Targets;
use crate::rules::intent::Intent;

/// Stores a statement emitted by a rule, through the LRS's normal write path.
#[async_trait]
pub trait StatementEmitter: Send + Sync {
    async fn emit(&self, statement: Value) -> Result<(), EmitError>;
}

/// Issues the credential an `award` intent asks for (the LRS's own credentials service).
#[async_trait]
pub trait Awarder: Send + Sync {
    /// `key` is the intent's idempotency key: awarding twice with it issues once.
    async fn award(&self, person: &str, achievement: &str, key: &str, rule: &str) -> Result<(), EmitError>;
}

/// Why an emitted statement was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The store is busy or unavailable: try again later.
    #[error("{0}")]
    Retryable(String),
    /// The LRS refuses the statement (invalid, conflicting): retrying cannot help.
    #[error("{0}")]
    Permanent(String),
}

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Longest sleep between two looks at the outbox when nobody wakes the worker.
    pub poll_interval: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// On shutdown, how long in-flight deliveries may finish before they are abandoned
    /// (abandoned ones stay due and are sent again after restart).
    pub shutdown_grace: Duration,
    /// Seeds the jitter for reproducible schedules (tests); `None` in production.
    pub seed: Option<u64>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            concurrency: 8,
            shutdown_grace: Duration::from_secs(10),
            seed: None,
        }
    }
}

/// Counters for `/metrics` (`fluency_delivery_<name>_total`).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Entries processed: HTTP requests, statement writes, and entries refused unsent.
    pub attempts: AtomicU64,
    pub delivered: AtomicU64,
    /// Attempts that failed and were scheduled again.
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub attempts: u64,
    pub delivered: u64,
    pub retried: u64,
    pub dead_lettered: u64,
}

impl DeliveryStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            attempts: self.attempts.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
        }
    }
}

/// Fixed time for deterministic drains; the wall clock otherwise.
#[derive(Clone, Copy)]
enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    fn now(self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Fixed(now) => now,
        }
    }
}

/// The delivery worker. Cheap to clone; all clones share counters and the wake signal.
#[derive(Clone)]
pub struct DeliveryWorker {
    inner: Arc<Inner>,
}

struct Inner {
    outbox: Arc<dyn Outbox>,
    emitter: Arc<dyn StatementEmitter>,
    awarder: Option<Arc<dyn Awarder>>,
    targets: Targets,
    sender: Sender,
    policy: RetryPolicy,
    settings: WorkerSettings,
    stats: Arc<DeliveryStats>,
    wake: Arc<Notify>,
    /// Targets that answered 410 Gone, with when: nothing more is sent to them until the
    /// server restarts (with the target fixed in the configuration).
    gone: std::sync::Mutex<HashMap<String, DateTime<Utc>>>,
}

impl DeliveryWorker {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        emitter: Arc<dyn StatementEmitter>,
        targets: Targets,
        policy: RetryPolicy,
        settings: WorkerSettings,
    ) -> anyhow::Result<Self> {
        let settings = WorkerSettings { concurrency: settings.concurrency.max(1), ..settings };
        let inner = Inner {
            outbox,
            emitter,
            awarder: None,
            targets,
            sender: Sender::new()?,
            policy,
            settings,
            stats: Arc::default(),
            wake: Arc::default(),
            gone: std::sync::Mutex::default(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Performs `award` intents through `awarder`; without one they fail permanently.
    pub fn awarding_with(mut self, awarder: Arc<dyn Awarder>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.awarder = Some(awarder);
        }
        self
    }

    pub fn stats(&self) -> Arc<DeliveryStats> {
        Arc::clone(&self.inner.stats)
    }

    /// Call `notify_one()` on this after queueing entries so they go out without waiting
    /// for the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.wake)
    }

    /// One pass, as if the time were `now`: performs up to `limit` entries due then, with
    /// the usual concurrency, and returns how many were processed. Entries retried by this
    /// pass wait for a later pass. For tests and tools; `run` is the production loop.
    pub async fn deliver_due(&self, now: DateTime<Utc>, limit: usize) -> anyhow::Result<usize> {
        let entries = self.inner.outbox.due(now, limit).await?;
        let count = entries.len();
        futures_util::stream::iter(entries)
            .for_each_concurrent(self.inner.settings.concurrency, |entry| {
                let inner = Arc::clone(&self.inner);
                async move { inner.process(entry, Clock::Fixed(now)).await }
            })
            .await;
        Ok(count)
    }

    /// Delivers until `shutdown` turns true (or its sender is dropped), then lets in-flight
    /// deliveries finish within the grace period.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let settings = &self.inner.settings;
        let mut running: JoinSet<()> = JoinSet::new();
        let mut in_flight: HashMap<tokio::task::Id, EntryId> = HashMap::new();
        tracing::info!(targets = self.inner.targets.names().count(), "delivery worker started");
        while !*shutdown.borrow() {
            let free = settings.concurrency.saturating_sub(running.len());
            if free > 0 {
                // Ask for more than free slots: entries already in flight are still due.
                match self.inner.outbox.due(Utc::now(), free + in_flight.len()).await {
                    Ok(entries) => {
                        let busy: Vec<EntryId> = in_flight.values().cloned().collect();
                        for entry in entries.into_iter().filter(|e| !busy.contains(&e.id)).take(free) {
                            let id = entry.id.clone();
                            let inner = Arc::clone(&self.inner);
                            let task = running.spawn(async move { inner.process(entry, Clock::System).await });
                            in_flight.insert(task.id(), id);
                        }
                    }
                    Err(error) => tracing::error!(error = format!("{error:#}"), "reading the outbox failed"),
                }
            }
            tokio::select! {
                changed = shutdown.changed() => if changed.is_err() { break },
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    let task = match done {
                        Ok((task, ())) => task,
                        Err(error) => {
                            tracing::error!(error = %error, "a delivery task failed; its entry stays due");
                            error.id()
                        }
                    };
                    in_flight.remove(&task);
                }
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(settings.poll_interval) => {}
            }
        }
        let finished =
            tokio::time::timeout(settings.shutdown_grace, async { while running.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tracing::warn!(abandoned = running.len(), "delivery worker stopped; unfinished deliveries stay due");
        }
        running.abort_all();
        tracing::info!("delivery worker stopped");
    }
}

impl Inner {
    /// Performs one entry and records the result; outbox errors are logged, and the entry
    /// then stays due (at-least-once).
    async fn process(&self, entry: OutboxEntry, clock: Clock) {
        let attempts = entry.attempts + 1;
        self.stats.attempts.fetch_add(1, Ordering::Relaxed);
        let outcome = self.attempt(&entry, clock).await;
        let decision = {
            // Per-entry seeding keeps seeded schedules independent of task order.
            let mut rng = match self.settings.seed {
                Some(seed) => StdRng::seed_from_u64(seed ^ fnv1a(entry.record.key.as_bytes()) ^ u64::from(attempts)),
                None => StdRng::from_entropy(),
            };
            self.policy.decide(attempts, &outcome, &mut rng)
        };
        let (id, key, target) = (entry.id.clone(), &entry.record.key, entry.target.as_deref().unwrap_or("lrs"));
        let recorded = match &decision {
            Decision::Delivered => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(id, key, target, attempts, "delivered");
                self.outbox.delivered(&id, attempts).await
            }
            Decision::RetryAfter(delay) => {
                self.stats.retried.fetch_add(1, Ordering::Relaxed);
                let error = outcome.error.as_deref().unwrap_or("failed");
                let next = clock.now() + chrono::Duration::from_std(*delay).unwrap_or(chrono::Duration::MAX);
                tracing::info!(
                    id,
                    key,
                    target,
                    attempts,
                    delay_ms = delay.as_millis() as u64,
                    error,
                    "delivery will be retried"
                );
                self.outbox.retry_later(&id, attempts, next, error).await
            }
            Decision::DeadLetter(error) => {
                self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id, key, target, attempts, error, "delivery dead-lettered");
                self.outbox.dead_letter(&id, attempts, error).await
            }
        };
        if let Err(error) = recorded {
            tracing::error!(id, key, error = format!("{error:#}"), "recording a delivery result failed");
        }
    }

    async fn attempt(&self, entry: &OutboxEntry, clock: Clock) -> AttemptOutcome {
        if let Intent::EmitStatement { statement } = &entry.record.intent {
            return match self.emitter.emit(statement.clone()).await {
                Ok(()) => AttemptOutcome::delivered(None),
                Err(EmitError::Retryable(e)) => AttemptOutcome::retryable(format!("storing the statement: {e}")),
                Err(EmitError::Permanent(e)) => AttemptOutcome::permanent(format!("storing the statement: {e}")),
            };
        }
        if let Intent::Award { actor_id, achievement, .. } = &entry.record.intent {
            let Some(awarder) = &self.awarder else {
                return AttemptOutcome::permanent("credentials are turned off on this server");
            };
            return match awarder.award(actor_id, achievement, &entry.record.key, &entry.record.rule).await {
                Ok(()) => AttemptOutcome::delivered(None),
                Err(EmitError::Retryable(e)) => AttemptOutcome::retryable(format!("awarding: {e}")),
                Err(EmitError::Permanent(e)) => AttemptOutcome::permanent(format!("awarding: {e}")),
            };
        }
        let Some(name) = entry.target.as_deref() else {
            return AttemptOutcome::permanent(
                "no target: assignments go to `delivery.assign_target`, which is not set",
            );
        };
        let Some(target) = self.targets.get(name) else {
            return AttemptOutcome::permanent(format!(
                "unknown target {name:?}: no [targets.{name}] table in the configuration"
            ));
        };
        if let Some(since) = self.gone.lock().expect("gone lock").get(name) {
            return AttemptOutcome::permanent(format!(
                "target {name:?} is switched off: it answered 410 Gone at {}; fix [targets.{name}], restart, \
                 then re-drive its dead letters",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        let outcome = self.sender.send(target, &entry.record, entry.created_at, clock.now()).await;
        if outcome.status == Some(410) {
            let newly = self.gone.lock().expect("gone lock").insert(name.to_string(), clock.now()).is_none();
            if newly {
                tracing::warn!(target = name, "the target answered 410 Gone; it is switched off until restart");
            }
        }
        outcome
    }
}

/// A stable 64-bit hash (std's hasher is randomly keyed per process).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::outbox::{EntryStatus, MemoryOutbox};
    use crate::rules::intent::{IntentRecord, NotifyMessage};
    use serde_json::json;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use uuid::Uuid;

    /// Answers emits from a script (then Ok), remembering what it was given.
    #[derive(Default)]
    struct FakeEmitter {
        script: Mutex<VecDeque<Result<(), EmitError>>>,
        emitted: Mutex<Vec<Value>>,
        signal: Notify,
    }

    impl FakeEmitter {
        fn answering(script: impl IntoIterator<Item = Result<(), EmitError>>) -> Arc<Self> {
            Arc::new(Self { script: Mutex::new(script.into_iter().collect()), ..Self::default() })
        }

        fn emitted(&self) -> usize {
            self.emitted.lock().unwrap().len()
        }
    }

    #[async_trait]
    impl StatementEmitter for FakeEmitter {
        async fn emit(&self, statement: Value) -> Result<(), EmitError> {
            self.emitted.lock().unwrap().push(statement);
            self.signal.notify_one();
            self.script.lock().unwrap().pop_front().unwrap_or(Ok(()))
        }
    }

    fn record(index: usize, intent: Intent) -> IntentRecord {
        IntentRecord {
            key: format!("{index:064x}"),
            rule: "r".into(),
            rule_version: "1".into(),
            trigger: Uuid::nil(),
            index,
            intent,
        }
    }

    fn emit(index: usize) -> IntentRecord {
        record(index, Intent::EmitStatement { statement: json!({"id": index}) })
    }

    fn worker(outbox: &Arc<MemoryOutbox>, emitter: &Arc<FakeEmitter>, seed: u64) -> DeliveryWorker {
        let policy = RetryPolicy { base: Duration::from_secs(10), ..RetryPolicy::default() };
        let settings =
            WorkerSettings { seed: Some(seed), poll_interval: Duration::from_millis(20), ..Default::default() };
        DeliveryWorker::new(outbox.clone(), emitter.clone(), Targets::default(), policy, settings).unwrap()
    }

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[tokio::test]
    async fn emitted_statements_are_retried_when_the_store_is_busy_then_delivered() {
        let outbox = Arc::new(MemoryOutbox::new());
        let emitter = FakeEmitter::answering([Err(EmitError::Retryable("database is locked".into()))]);
        let worker = worker(&outbox, &emitter, 1);
        let id = outbox.push(emit(0), None, t0());

        assert_eq!(worker.deliver_due(t0(), 10).await.unwrap(), 1);
        let waiting = outbox.get(&id).unwrap();
        assert_eq!((waiting.status, waiting.entry.attempts), (EntryStatus::Pending, 1));
        assert_eq!(waiting.last_error.as_deref(), Some("storing the statement: database is locked"));
        assert!(waiting.entry.next_attempt_at <= t0() + chrono::Duration::seconds(10));

        worker.deliver_due(waiting.entry.next_attempt_at, 10).await.unwrap();

        let done = outbox.get(&id).unwrap();
        assert_eq!((done.status, done.entry.attempts), (EntryStatus::Delivered, 2));
        assert_eq!(emitter.emitted(), 2);
        assert_eq!(
            worker.stats().snapshot(),
            StatsSnapshot { attempts: 2, delivered: 1, retried: 1, dead_lettered: 0 }
        );
    }

    #[tokio::test]
    async fn refused_statements_and_undeliverable_intents_are_dead_lettered_at_once() {
        let outbox = Arc::new(MemoryOutbox::new());
        let emitter = FakeEmitter::answering([Err(EmitError::Permanent("statement conflicts".into()))]);
        let worker = worker(&outbox, &emitter, 1);
        let text = NotifyMessage::Text { text: "hi".into() };
        let assign =
            Intent::Assign { actor: json!({}), actor_id: "a".into(), activity: "https://x".into(), reason: "".into() };
        let cases = [
            ("a refused statement", outbox.push(emit(0), None, t0()), "storing the statement: statement conflicts"),
            (
                "an unknown target",
                outbox.push(
                    record(1, Intent::Notify { target: "nowhere".into(), message: text }),
                    Some("nowhere"),
                    t0(),
                ),
                "unknown target \"nowhere\": no [targets.nowhere] table in the configuration",
            ),
            (
                "an assignment without assign_target",
                outbox.push(record(2, assign), None, t0()),
                "no target: assignments go to `delivery.assign_target`, which is not set",
            ),
        ];

        worker.deliver_due(t0(), 10).await.unwrap();

        for (description, id, error) in cases {
            let stored = outbox.get(&id).unwrap();
            assert_eq!(stored.status, EntryStatus::DeadLettered, "{description}");
            assert_eq!(stored.last_error.as_deref(), Some(error), "{description}");
        }
        assert_eq!(worker.stats().snapshot().dead_lettered, 3);
    }

    #[tokio::test]
    async fn a_seed_gives_the_same_schedule_whatever_the_order() {
        let schedule = |seed: u64, order: Vec<usize>| async move {
            let outbox = Arc::new(MemoryOutbox::new());
            let busy = (0..3).map(|_| Err(EmitError::Retryable("busy".into())));
            let worker = worker(&outbox, &FakeEmitter::answering(busy), seed);
            for index in order {
                outbox.push(emit(index), None, t0());
            }
            worker.deliver_due(t0(), 10).await.unwrap();
            let mut next: Vec<(String, DateTime<Utc>)> =
                outbox.all().into_iter().map(|s| (s.entry.record.key, s.entry.next_attempt_at)).collect();
            next.sort();
            next
        };

        assert_eq!(schedule(9, vec![0, 1, 2]).await, schedule(9, vec![2, 0, 1]).await);
        assert_ne!(schedule(9, vec![0, 1, 2]).await, schedule(10, vec![0, 1, 2]).await);
    }

    #[tokio::test]
    async fn the_loop_delivers_when_woken_and_stops_on_shutdown() {
        let outbox = Arc::new(MemoryOutbox::new());
        let emitter = FakeEmitter::answering([]);
        let worker = worker(&outbox, &emitter, 1);
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(worker.clone().run(stopped));

        let id = outbox.push(emit(0), None, Utc::now());
        worker.waker().notify_one();
        tokio::time::timeout(Duration::from_secs(5), emitter.signal.notified()).await.expect("emitted");
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), running).await.expect("stopped").unwrap();

        assert_eq!(outbox.get(&id).unwrap().status, EntryStatus::Delivered);
    }
}

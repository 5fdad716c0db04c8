//! The evaluation in progress on this thread: its deadline (read by the engine's progress
//! callback), the rule and trigger it runs for, the host, and what the script has produced
//! so far (intents, state changes, printed lines). `runtime` enters it around each script
//! run; the Rhai functions in `functions` read and extend it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use uuid::Uuid;

use super::host::{RuleHost, StateChange};
use super::intent::IntentRecord;
use crate::xapi::time::Micros;

/// Printed lines kept per evaluation; later ones are dropped.
const MAX_LOG_LINES: usize = 64;
/// Longest printed line kept, in bytes.
const MAX_LOG_LINE: usize = 1024;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static CURRENT: RefCell<Option<Evaluation>> = const { RefCell::new(None) };
    /// Set by a built-in that refused to build a value but could not fail (see `guard`):
    /// the run stops at its next step with this limit failure.
    static TRIPPED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// One rule's run against one statement.
pub(crate) struct Evaluation {
    pub rule: Arc<str>,
    pub rule_version: Arc<str>,
    pub trigger: Uuid,
    /// The trigger's time: the end of history windows, the start of state expiry.
    pub now: Micros,
    /// How many emissions led to the trigger (0 for a learner's statement).
    pub trigger_depth: u64,
    pub host: Arc<dyn RuleHost>,
    /// Most intents one run may record.
    pub max_intents: usize,
    /// Largest serialized intent, in bytes.
    pub max_intent_bytes: usize,
    /// Largest state value, in bytes.
    pub max_state_value_bytes: usize,
    /// Most state the rule may hold, in bytes.
    pub max_state_bytes: usize,
    /// The rule's state before this run plus what the run set, in bytes (read from the
    /// host at the first `state_set`).
    pub state_bytes: Option<u64>,
    /// Memory the run may hold, in bytes.
    pub max_memory_bytes: usize,
    /// Time the run's `impact` calls may still take.
    pub impact_left: std::time::Duration,
    /// Statements the run may still emit (what the trigger's chain has left).
    pub emit_left: u64,
    /// `max_emitted_per_trigger`, for the message.
    pub max_emitted: u64,
    pub intents: Vec<IntentRecord>,
    /// State changes in the order made, committed only if the run succeeds.
    pub state_changes: Vec<StateChange>,
    /// What this run has set or removed, so it reads its own writes.
    pub state_overlay: HashMap<String, Option<Value>>,
    pub log: Vec<String>,
    /// Set when a host call failed, so the failure is reported as the host's.
    pub host_error: Option<String>,
}

impl Evaluation {
    pub fn log(&mut self, line: &str) {
        if self.log.len() < MAX_LOG_LINES {
            let mut end = line.len().min(MAX_LOG_LINE);
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            self.log.push(line[..end].to_string());
        }
    }
}

/// Makes `evaluation` current on this thread until `finish` (or drop).
pub(crate) fn enter(evaluation: Evaluation, deadline: Instant) -> Entered {
    DEADLINE.with(|d| d.set(Some(deadline)));
    CURRENT.with(|c| *c.borrow_mut() = Some(evaluation));
    Entered { _not_send: std::marker::PhantomData }
}

/// Proof that an evaluation is current; leaving it (even by unwinding) clears the thread.
pub(crate) struct Entered {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Entered {
    pub fn finish(self) -> Evaluation {
        let evaluation = CURRENT.with(|c| c.borrow_mut().take());
        evaluation.expect("an entered evaluation stays current until finished")
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(None));
        CURRENT.with(|c| c.borrow_mut().take());
        TRIPPED.with(|t| t.borrow_mut().take());
    }
}

/// Notes that the current run exceeded a limit (the first one noted wins).
pub(crate) fn trip_limit(message: String) {
    TRIPPED.with(|t| {
        t.borrow_mut().get_or_insert(message);
    });
}

/// True when a limit was tripped and not yet taken.
pub(crate) fn tripped() -> bool {
    TRIPPED.with(|t| t.borrow().is_some())
}

/// The limit the current run tripped, if any (cleared).
pub(crate) fn take_tripped() -> Option<String> {
    TRIPPED.with(|t| t.borrow_mut().take())
}

/// Time left before the current evaluation's deadline (`None` outside evaluations).
pub fn time_left() -> Option<std::time::Duration> {
    DEADLINE.with(|d| d.get()).map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

/// Runs `f` (host work the script does not control the length of, an impact analysis)
/// with the deadline moved to `allowance` from now; afterwards the run's own deadline is
/// back, moved later by the time `f` took, and the time taken is returned.
pub(crate) fn with_allowance<R>(allowance: std::time::Duration, f: impl FnOnce() -> R) -> (R, std::time::Duration) {
    let started = Instant::now();
    let own = DEADLINE.with(|d| d.replace(Some(started + allowance)));
    let result = f();
    let took = started.elapsed();
    DEADLINE.with(|d| d.set(own.map(|deadline| deadline + took)));
    (result, took)
}

/// True once the current evaluation's deadline has passed (false outside evaluations).
pub(crate) fn past_deadline() -> bool {
    DEADLINE.with(|d| d.get()).is_some_and(|deadline| Instant::now() >= deadline)
}

/// Runs `f` on the current evaluation; `None` outside one (e.g. a script run by hand).
pub(crate) fn with_current<R>(f: impl FnOnce(&mut Evaluation) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow_mut().as_mut().map(f))
}

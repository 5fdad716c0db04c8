//! The rules engine: rule files (metadata + Rhai script) compiled once, run in a sandbox on
//! each stored statement their trigger matches, producing intents (emit a statement,
//! notify, assign) for the host to perform. Fed by the statement event stream; tested with
//! `fluency rules test`. Delivery, store-backed history and the admin API build on this.
//!
//! The sandbox, limit by limit: `sandbox` builds the engine and holds every limit;
//! `context` carries a run's deadline and what it tripped; `memory` counts what a run's
//! thread holds (the counting global allocator); `guard` replaces the built-ins that block
//! or build unchecked results and measures values leaving a run; `functions` checks the
//! limits around every host call; `lineage` caps emissions and finds cycles; `health`
//! disables failing rules. The runner's poison handling is `service::rules::poison`; the
//! security model is in docs/rules.md.

mod analytics;
mod context;
pub mod dry_run;
mod error;
pub mod file;
mod functions;
mod guard;
mod health;
pub mod host;
pub mod intent;
pub mod lineage;
pub mod memory;
pub mod runtime;
pub mod sandbox;
pub mod schedule;
mod settings;
mod skills;
mod stack;
pub mod statement;
pub mod trigger;

#[cfg(test)]
mod tests;

pub use context::time_left;
pub use error::{RuleError, RuleErrorKind};
pub use file::RuleFile;
pub use health::RuleHealth;
pub use host::{HistoryQuery, HistorySummary, HostError, MemoryHost, RuleHost, StateChange};
pub use intent::{Intent, IntentRecord, NotifyMessage};
pub use runtime::{Evaluated, RuleOutcome, RuleSet, TriggerStatement};
pub use sandbox::{build_engine, SandboxSettings};
pub use schedule::Schedule;
pub use settings::RulesSettings;
pub use stack::{on_rules_stack, MAX_OPERATIONS, RULES_STACK_BYTES};

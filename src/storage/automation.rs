//! What the rules engine keeps in the store: the commit of evaluated statements (progress,
//! run records, state changes, outbox items, interventions, all in one transaction), the
//! per-rule key-value state, the delivery outbox and the interventions rules recorded.
//! Backend-neutral records; `Store` has the operations.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::xapi::time::Micros;

/// Everything the rules produced for statements stored up to `evaluated_through`, written
/// atomically: after a crash, evaluation resumes from the last commit with nothing lost
/// and nothing applied twice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RulesCommit {
    /// Every statement with `stored` at or before this has been evaluated; `None` leaves
    /// the position alone (scheduled runs).
    pub evaluated_through: Option<Micros>,
    pub runs: Vec<RuleRun>,
    /// Applied in order.
    pub state: Vec<StateWrite>,
    /// Items whose key already exists are left as they are (idempotent).
    pub outbox: Vec<NewOutboxItem>,
    /// Interventions whose key already exists are left as they are.
    pub interventions: Vec<Intervention>,
}

/// The record of one rule run worth keeping: one that failed or produced something.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleRun {
    pub rule: String,
    pub trigger: Uuid,
    pub evaluated: Micros,
    pub intents: u32,
    pub state_changes: u32,
    /// The error, as the JSON the API shows, when the run failed.
    pub error: Option<Value>,
}

/// A change to a rule's state: set (with an optional expiry) or, with no value, remove.
#[derive(Clone, Debug, PartialEq)]
pub struct StateWrite {
    pub rule: String,
    pub key: String,
    pub value: Option<Value>,
    pub expires: Option<Micros>,
}

/// What an outbox item asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// An HTTP message to a named target.
    Notify,
    /// A statement written through the LRS write path.
    Emit,
    /// An assignment posted to the configured assignment target.
    Assign,
    /// An Open Badges credential issued by the LRS itself.
    Award,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notify => "notify",
            Self::Emit => "emit",
            Self::Assign => "assign",
            Self::Award => "award",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Notify, Self::Emit, Self::Assign, Self::Award].into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewOutboxItem {
    /// The intent's idempotency key, sent with every attempt.
    pub key: String,
    pub rule: String,
    pub trigger: Uuid,
    pub kind: OutboxKind,
    /// The named target, for notify and assign items.
    pub target: Option<String>,
    /// The intent record as JSON, exactly as the delivery layer reads it back.
    pub intent: Value,
    pub created: Micros,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Delivered,
    /// The last attempt failed, or the failure was permanent: kept for inspection and
    /// re-drive.
    DeadLetter,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::DeadLetter => "dead_letter",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::DeadLetter].into_iter().find(|status| status.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OutboxItem {
    pub key: String,
    pub rule: String,
    pub trigger: Uuid,
    pub kind: OutboxKind,
    pub target: Option<String>,
    pub intent: Value,
    pub created: Micros,
    pub status: OutboxStatus,
    pub attempts: u32,
    /// When a pending item is next due.
    pub next_attempt: Micros,
    pub last_error: Option<String>,
    pub updated: Micros,
}

/// The outcome of a delivery attempt, recorded on the item.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboxUpdate {
    Delivered { attempts: u32, at: Micros },
    RetryLater { attempts: u32, next_attempt: Micros, error: String, at: Micros },
    DeadLetter { attempts: u32, error: String, at: Micros },
}

/// An activity a rule assigned to a learner, kept for the record and for impact analysis.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Intervention {
    pub key: String,
    pub rule: String,
    pub trigger: Uuid,
    /// The learner's IFI key.
    pub actor_id: String,
    /// The learner as an xAPI Agent.
    pub actor: Value,
    pub activity: String,
    pub reason: String,
    pub recorded: Micros,
}

/// Interventions matching every given field, recorded in `since..until` (exclusive,
/// inclusive), oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InterventionQuery {
    pub rule: Option<String>,
    pub activity: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<Micros>,
    pub until: Option<Micros>,
    pub limit: usize,
}

/// A learner's statements to summarise for a rule (see `rules::HistoryQuery`).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryFilter {
    pub actor_id: String,
    pub verb: Option<String>,
    pub activity: Option<String>,
    /// Inclusive bounds on `stored`.
    pub since: Micros,
    pub until: Micros,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryCount {
    pub count: u64,
    /// Mean of `result.score.scaled`, else `result.score.raw`, over statements with one.
    pub average_score: Option<f64>,
}

//! Who people are in the organisation: per person (by IFI key) a display name, a team, a
//! manager and a role, as imported by `fluency people import`. Backend-neutral records;
//! `Store` has the operations.

use serde::Serialize;

use crate::xapi::time::Micros;

/// One person. In an upsert, `None` means "not given": the stored value is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PersonRecord {
    /// The person's IFI key (`mbox:mailto:ada@example.com`).
    pub person: String,
    pub name: Option<String>,
    pub team: Option<String>,
    /// The manager's IFI key.
    pub manager: Option<String>,
    /// The IRI of the person's role (a role of the skills framework).
    pub role: Option<String>,
    /// When this record was last upserted.
    pub updated: Micros,
}

/// A team and how many people are in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TeamCount {
    pub team: String,
    pub members: u64,
}

/// A person's consent: whether they opted out of skills inference (and so of analytics
/// cohorts), and of nudges (no rule runs on their statements).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsentRecord {
    pub person: String,
    pub inference_opt_out: bool,
    pub nudges_opt_out: bool,
    pub updated: Micros,
}

/// A document stored under a person's agent key (State or Agent Profile).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgentDocument {
    /// `state` or `agent_profile`.
    pub kind: String,
    /// The activity of a State document.
    pub activity_id: Option<String>,
    pub registration: Option<String>,
    pub id: String,
    pub updated: Micros,
}

/// Records whose text names a person: rule-state entries and outbox items (notifications,
/// assignments, emitted statements).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MentioningRecords {
    pub rule_state: Vec<RuleStateEntry>,
    pub outbox: Vec<MentioningOutboxItem>,
}

/// A rule-state entry, by rule and key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleStateEntry {
    pub rule: String,
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MentioningOutboxItem {
    pub rule: String,
    pub kind: String,
    pub target: Option<String>,
    pub status: String,
    pub created: Micros,
}

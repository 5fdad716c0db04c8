//! What skills inference keeps in the store: per person and skill the current estimate,
//! every piece of evidence that moved it (so estimates are explained and rebuilt), item
//! difficulties learned from everyone's results, and the position in the statement
//! stream, all written in one commit. Backend-neutral records; `Store` has the operations.

use serde::Serialize;
use uuid::Uuid;

use crate::xapi::time::Micros;

/// One person's ability in one skill after the last evidence (`at`), before decay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EstimateRecord {
    /// The person's IFI key (`mbox:mailto:ada@example.com`).
    pub person: String,
    pub skill: String,
    pub mean: f64,
    pub variance: f64,
    pub at: Micros,
    pub evidence: u32,
}

/// One statement's contribution to one estimate, as computed when it was folded in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvidenceRecord {
    pub person: String,
    pub skill: String,
    pub statement: Uuid,
    /// When the evidence happened (the statement's timestamp, at most its `stored`).
    pub at: Micros,
    /// The activity the outcome was weighed against.
    pub item: String,
    pub outcome: f64,
    pub weight: f64,
    /// The probability the model gave success just before.
    pub predicted: f64,
    /// The change of the estimate's mean it caused, before decay.
    pub mean_change: f64,
    /// Broader steps from the skill the statement was mapped to (0: that skill itself).
    pub steps_up: u32,
}

/// An item's difficulty in one skill.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ItemRecord {
    pub item: String,
    pub skill: String,
    pub mean: f64,
    pub variance: f64,
    pub observations: u32,
}

/// Written atomically: after a crash inference resumes from the last commit, with nothing
/// lost and nothing counted twice.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SkillsCommit {
    /// Every statement stored at or before this has been evaluated.
    pub evaluated_through: Micros,
    /// Evidence already recorded (same person, skill, statement) is left as it is.
    pub evidence: Vec<EvidenceRecord>,
    /// Replace the estimates of the same person and skill.
    pub estimates: Vec<EstimateRecord>,
    /// Replace the items of the same id and skill.
    pub items: Vec<ItemRecord>,
}

/// How much direct evidence (not counted through broader links) one skill had in one
/// calendar month (UTC), and from how many people.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvidenceVolume {
    pub skill: String,
    /// `YYYY-MM`.
    pub month: String,
    pub evidence: u64,
    pub people: u64,
}

/// Which estimates to read; every field given must match. Both `None`: all of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EstimateFilter {
    pub person: Option<String>,
    pub skill: Option<String>,
}

//! Erasure records: what a backend needs to remove every trace of one person, and what it
//! reports having removed. An erasure is recorded durably first (`ErasureJob`), then
//! carried out in short steps that can each be repeated: a crash at any point leaves the
//! job recorded, and running the steps again finishes it. Backend-neutral; `Store` has the
//! operations, `governance::erasure` the order they run in.

use serde::{Deserialize, Serialize};

use crate::xapi::time::Micros;

/// One person's erasure, as recorded until it is finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureJob {
    /// A random id naming the job in the audit log and the answer.
    pub id: String,
    /// The person's IFI keys (`xapi::agent::ifi_key`), every identifier they are known by.
    pub keys: Vec<String>,
    /// Texts that mark a rule-state entry or a notification as theirs: the raw identifiers
    /// (an address, a sha1sum, an OpenID, an account as `"name":"..."`).
    pub needles: Vec<String>,
    /// The names they were known by: looked for by the final scan, never used to select
    /// what to delete (someone else may share a name).
    #[serde(default)]
    pub names: Vec<String>,
    /// Keyed hashes of `keys`, kept after the job so a replay of their statements is caught.
    pub tombstones: Vec<String>,
    pub requested: Micros,
    /// Who asked: a credential key, or `cli`.
    pub requested_by: String,
    /// Everything but the purge is done: `keys` and `needles` are emptied, so the record
    /// itself names nobody.
    #[serde(default)]
    pub purging: bool,
}

/// What one statement step removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErasedStatements {
    /// Statements removed, voided or not.
    pub statements: u64,
    /// Rule runs, outbox entries and interventions those statements triggered.
    pub triggered: u64,
    /// The SHA-2 of each attachment those statements carried (each once): their files go
    /// once no other statement uses them.
    pub attachments: Vec<String>,
    /// The limit was reached: more statements may match.
    pub more: bool,
}

/// What the person-record step removed, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErasedRecords {
    pub documents: u64,
    pub agents: u64,
    pub rule_state: u64,
    pub outbox: u64,
    pub interventions: u64,
    pub skill_estimates: u64,
    pub skill_evidence: u64,
    pub people: u64,
    pub consent: u64,
    /// Credentials revoked and emptied.
    pub credentials: u64,
}

/// A tombstone: the keyed hash of an erased identifier, and when it was erased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tombstone {
    pub hash: String,
    pub erased: Micros,
}

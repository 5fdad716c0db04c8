//! What credentials keep in the store: each issued Open Badges credential (its signed JSON,
//! who holds it, for which achievement, its place in the revocation status list, and its
//! revocation), written together with the outbox items its issue causes. Backend-neutral
//! records; `Store` has the operations.

use serde::Serialize;
use serde_json::Value;

use super::automation::NewOutboxItem;
use crate::xapi::time::Micros;

/// One issued credential.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BadgeRecord {
    /// The credential's id (the last segment of its URL): random, unguessable.
    pub id: String,
    /// The holder's IFI key.
    pub person: String,
    pub achievement: String,
    /// The credential's bit in the revocation status list (see `credentials::status`).
    pub status_index: u64,
    pub issued: Micros,
    /// What caused the award (an intent's key, an event, a caller's idempotency key):
    /// a second award with the same key returns the first.
    pub award_key: String,
    pub revoked: Option<Micros>,
    pub revocation_reason: Option<String>,
    /// The signed credential, exactly as served.
    #[serde(skip)]
    pub document: Value,
}

/// A credential to store, with what its issue sets off, in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct BadgeCommit {
    pub badge: BadgeRecord,
    /// At most one unrevoked credential per person and achievement (not repeatable).
    pub exclusive: bool,
    /// Queued only when the credential is stored (never for an existing one).
    pub outbox: Vec<NewOutboxItem>,
}

/// What `insert_badge` did.
#[derive(Clone, Debug, PartialEq)]
pub enum BadgeInsert {
    Inserted,
    /// Nothing was written: this credential has the same award key, or is the person's
    /// unrevoked credential for an exclusive achievement.
    Existing(Box<BadgeRecord>),
}

/// Credentials matching every given field, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BadgeFilter {
    pub person: Option<String>,
    pub achievement: Option<String>,
    pub include_revoked: bool,
    pub limit: usize,
}

/// What `revoke_badge` did.
#[derive(Clone, Debug, PartialEq)]
pub enum RevokeOutcome {
    Revoked(Box<BadgeRecord>),
    /// It was revoked before; nothing changed.
    AlreadyRevoked(Box<BadgeRecord>),
    NotFound,
}

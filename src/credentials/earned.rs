//! The xAPI record of an award, so the LRS stays the record: "`person` earned
//! `achievement`", the credential's URL in a result extension. Its id is derived from the
//! credential's, so sending it again (after a crash, or a repeated award request) stores
//! nothing new.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::skills::events::agent_of;
use crate::xapi::time::{format_micros, Micros};

pub const VERB_EARNED: &str = "https://fluency.dev/xapi/verbs/earned";
/// The activity type of an achievement as a statement's object (its id is the
/// achievement's public URL).
pub const ACHIEVEMENT_ACTIVITY_TYPE: &str = "https://fluency.dev/xapi/activity-types/achievement";
/// Result extension: the credential's URL (where anyone can fetch and verify it).
pub const EXTENSION_CREDENTIAL: &str = "https://fluency.dev/xapi/extensions/credential";
/// The account that stores earned statements (its `homePage` is the public URL).
pub const CREDENTIALS_ACCOUNT: &str = "credentials";

/// The statement's id for a credential id.
pub fn earned_statement_id(credential_id: &str) -> Uuid {
    let digest = Sha256::digest(format!("earned\u{1f}{credential_id}").as_bytes());
    uuid::Builder::from_sha1_bytes(digest[..16].try_into().expect("16 bytes")).into_uuid()
}

/// `None` when the person's key names no Agent.
pub fn earned_statement(
    person: &str,
    achievement_url: &str,
    achievement_name: &str,
    credential_id: &str,
    credential_url: &str,
    issued: Micros,
) -> Option<Value> {
    Some(json!({
        "id": earned_statement_id(credential_id).to_string(),
        "actor": agent_of(person)?,
        "verb": {"id": VERB_EARNED, "display": {"en": "earned"}},
        "object": {"objectType": "Activity", "id": achievement_url,
            "definition": {"type": ACHIEVEMENT_ACTIVITY_TYPE, "name": {"en": achievement_name}}},
        "result": {"completion": true, "extensions": {EXTENSION_CREDENTIAL: credential_url}},
        "timestamp": format_micros(issued),
    }))
}

//! The unsigned OpenBadgeCredential (Open Badges 3.0 on the VC Data Model 2.0): issuer
//! Profile, the Achievement as defined, the recipient as a salted identity hash (the
//! credential is public at its id URL, so it never carries an e-mail address in clear),
//! validity dates and the Bitstring Status List entry that lets it be revoked.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::contexts::{CREDENTIALS_V2, OPEN_BADGES_V3};

/// The issuer as credentials name it.
#[derive(Clone, Debug)]
pub struct IssuerProfile {
    /// A DID (did:key or did:web).
    pub id: String,
    pub name: String,
    pub url: Option<String>,
}

impl IssuerProfile {
    fn to_json(&self) -> Value {
        let mut profile = json!({"id": self.id, "type": ["Profile"], "name": self.name});
        if let Some(url) = &self.url {
            profile["url"] = url.clone().into();
        }
        profile
    }
}

/// Where a credential's revocation bit lives.
#[derive(Clone, Debug)]
pub struct StatusEntry {
    pub list_url: String,
    pub index: u64,
}

/// An OB 3.0 IdentityObject: `sha256$hex(sha256(identity ‖ salt))`.
pub fn identity_object(person: &str, salt: &str) -> Value {
    let (identity_type, identity) = match person.strip_prefix("mbox:mailto:") {
        Some(address) => ("emailAddress", address),
        None => ("identifier", person),
    };
    let hash = hex::encode(Sha256::digest(format!("{identity}{salt}").as_bytes()));
    json!({
        "type": "IdentityObject",
        "hashed": true,
        "identityHash": format!("sha256${hash}"),
        "identityType": identity_type,
        "salt": salt,
    })
}

/// Everything a credential says, before it is signed.
pub struct CredentialDraft<'a> {
    pub id: &'a str,
    pub issuer: &'a IssuerProfile,
    /// The Achievement as OB 3.0 JSON (from `Achievement::to_ob3`).
    pub achievement: Value,
    pub recipient: Value,
    pub valid_from: &'a str,
    pub valid_until: Option<&'a str>,
    pub status: Option<&'a StatusEntry>,
}

impl CredentialDraft<'_> {
    pub fn to_json(&self) -> Map<String, Value> {
        let name = self.achievement.get("name").cloned().unwrap_or(Value::Null);
        let mut credential = json!({
            "@context": [CREDENTIALS_V2, OPEN_BADGES_V3],
            "id": self.id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": name,
            "issuer": self.issuer.to_json(),
            "validFrom": self.valid_from,
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "identifier": [self.recipient],
                "achievement": self.achievement,
            },
        });
        if let Some(until) = self.valid_until {
            credential["validUntil"] = until.into();
        }
        if let Some(status) = self.status {
            credential["credentialStatus"] = json!({
                "id": format!("{}#{}", status.list_url, status.index),
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": status.index.to_string(),
                "statusListCredential": status.list_url,
            });
        }
        match credential {
            Value::Object(map) => map,
            _ => unreachable!("built as an object"),
        }
    }
}

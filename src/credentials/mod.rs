//! Credentials: Open Badges 3.0 micro-credentials. (Work in progress.)

pub mod canon;
pub mod contexts;
pub mod keys;
pub mod proof;
pub mod document;

#[cfg(test)]
mod scratch {
    use super::*;
    use serde_json::json;

    #[test]
    fn dump() {
        let key = keys::IssuerKey::from_seed([9; 32]);
        let issuer = document::IssuerProfile { id: key.did_key(), name: "Acme Learning".into(), url: None };
        let draft = document::CredentialDraft {
            id: "urn:uuid:3f3c8a9e-0000-4000-8000-000000000001",
            issuer: &issuer,
            achievement: json!({"id": "https://example.org/a/1", "type": ["Achievement"], "name": "Rust basics",
                "description": "d", "criteria": {"narrative": "n"}, "achievementType": "Badge", "tag": ["rust"],
                "alignment": [{"type": ["Alignment"], "targetName": "Rust", "targetUrl": "https://example.org/skills/rust"}]}),
            recipient: document::identity_object("mbox:mailto:alice@example.com", "pepper"),
            valid_from: "2026-01-01T00:00:00Z",
            valid_until: None,
            status: None,
        };
        let vm = format!("{}#{}", key.did_key(), key.multikey());
        let signed = proof::sign(draft.to_json(), &key, &vm, "2026-01-01T00:00:00Z").unwrap();
        let input = json!({"credentials": [{"name": "valid", "credential": signed}]});
        std::fs::write("/tmp/badge-input.json", serde_json::to_string_pretty(&input).unwrap()).unwrap();
    }
}

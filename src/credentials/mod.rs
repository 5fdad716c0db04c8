//! Credentials: Open Badges 3.0 micro-credentials. (Work in progress.)

pub mod achievement;
pub mod canon;
pub mod catalog;
pub mod contexts;
pub mod document;
pub mod keys;
pub mod proof;
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
        let start = std::time::Instant::now();
        for _ in 0..200 { proof::sign(draft.to_json(), &key, &vm, "2026-01-01T00:00:00Z").unwrap(); }
        println!("sign: {:?} each", start.elapsed() / 200);
        let pk = keys::parse_multikey(key.multikey()).unwrap();
        let start = std::time::Instant::now();
        for _ in 0..200 { proof::verify(&signed, &pk).unwrap(); }
        println!("verify: {:?} each", start.elapsed() / 200);
        let start = std::time::Instant::now();
        for _ in 0..200 { contexts::loader(); }
        println!("loader clone: {:?} each", start.elapsed() / 200);
        let doc = serde_json::Value::Object(signed.clone());
        let start = std::time::Instant::now();
        for _ in 0..200 { canon::canonical_nquads(&doc).unwrap(); }
        println!("canon doc: {:?} each", start.elapsed() / 200);
        let small = json!({"@context": [contexts::CREDENTIALS_V2, contexts::OPEN_BADGES_V3], "type": "DataIntegrityProof"});
        let start = std::time::Instant::now();
        for _ in 0..200 { canon::canonical_nquads(&small).unwrap(); }
        println!("canon tiny doc with contexts: {:?} each", start.elapsed() / 200);
        let bare = json!({"@context": {"@vocab": "https://e.org/"}, "type": "DataIntegrityProof", "a": "b"});
        let start = std::time::Instant::now();
        for _ in 0..200 { canon::canonical_nquads(&bare).unwrap(); }
        println!("canon tiny doc no contexts: {:?} each", start.elapsed() / 200);
    }
}

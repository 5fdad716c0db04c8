//! Contract cases for API credentials: insert, duplicate keys, find, list by creation time,
//! revoke.

use fluency::storage::{CredentialRecord, StorageError};

use super::support::Harness;

pub fn credential(key: &str, created: i64) -> CredentialRecord {
    CredentialRecord {
        key: key.into(),
        secret_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{key}"),
        scopes: vec!["statements/write".into(), "statements/read/mine".into()],
        label: format!("client {key}"),
        created,
        revoked: false,
    }
}

pub async fn credentials_are_inserted_found_listed_and_revoked(h: Harness) {
    // Arrange
    for (key, created) in [("key-c", 30), ("key-a", 10), ("key-b", 20)] {
        h.store.insert_credential(credential(key, created)).await.unwrap();
    }

    // Act
    let found = h.store.find_credential("key-a").await.unwrap();
    let missing = h.store.find_credential("key-z").await.unwrap();
    let listed = h.store.query_credentials().await.unwrap();
    let revoked = h.store.revoke_credential("key-b").await.unwrap();
    let revoked_missing = h.store.revoke_credential("key-z").await.unwrap();

    // Assert
    assert_eq!(found, Some(credential("key-a", 10)));
    assert_eq!(missing, None);
    let keys: Vec<_> = listed.iter().map(|record| record.key.as_str()).collect();
    assert_eq!(keys, ["key-a", "key-b", "key-c"], "ordered by created");
    assert!(revoked);
    assert!(!revoked_missing);
    let after = h.store.find_credential("key-b").await.unwrap().unwrap();
    assert_eq!(after, CredentialRecord { revoked: true, ..credential("key-b", 20) });
}

pub async fn a_duplicate_credential_key_is_refused(h: Harness) {
    // Arrange
    h.store.insert_credential(credential("key-dup", 1)).await.unwrap();
    let impostor = CredentialRecord { label: "impostor".into(), ..credential("key-dup", 2) };

    // Act
    let result = h.store.insert_credential(impostor).await;

    // Assert
    assert!(matches!(result, Err(StorageError::DuplicateCredential(key)) if key == "key-dup"));
    let kept = h.store.find_credential("key-dup").await.unwrap().unwrap();
    assert_eq!(kept.label, "client key-dup");
}

//! Contract cases for documents (conditional writes and deletes, id lists, registration
//! scoping) and for agents remembered from statement batches.

use fluency::storage::{Document, DocumentKey, DocumentKind, DocumentScope, Expectation};
use serde_json::json;

use super::support::{batch, Harness};

fn state_scope(registration: Option<&str>) -> DocumentScope {
    DocumentScope {
        kind: DocumentKind::State,
        activity_id: Some("http://example.com/a".into()),
        agent: Some("mbox:mailto:a@example.com".into()),
        registration: registration.map(str::to_string),
    }
}

fn key(scope: &DocumentScope, id: &str) -> DocumentKey {
    DocumentKey { scope: scope.clone(), id: id.into() }
}

fn document(content: &str, updated: i64) -> Document {
    Document {
        content: content.as_bytes().to_vec(),
        content_type: "application/json".into(),
        etag: format!("etag-of-{content}"),
        updated,
    }
}

pub async fn document_writes_honour_their_expectation(h: Harness) {
    // Arrange
    let scope = state_scope(None);
    let first = key(&scope, "bookmark");

    // Act
    let created = h.store.insert_document(&first, document("1", 10), Expectation::Absent).await.unwrap();
    let created_again = h.store.insert_document(&first, document("2", 20), Expectation::Absent).await.unwrap();
    let stale = h.store.insert_document(&first, document("3", 30), Expectation::Etag("nope".into())).await.unwrap();
    let fresh =
        h.store.insert_document(&first, document("4", 40), Expectation::Etag("etag-of-1".into())).await.unwrap();

    // Assert
    assert!(created && fresh, "absent and matching expectations hold");
    assert!(!created_again && !stale, "broken expectations write nothing");
    assert_eq!(h.store.find_document(&first).await.unwrap(), Some(document("4", 40)));
}

pub async fn documents_are_kept_apart_by_registration_and_listed_with_since(h: Harness) {
    // Arrange
    let plain = state_scope(None);
    let registered = state_scope(Some("0b4bd1f8-5e0b-4f47-8a3e-1d0f1b6f3c01"));
    h.store.insert_document(&key(&plain, "a"), document("p", 100), Expectation::Anything).await.unwrap();
    h.store.insert_document(&key(&registered, "a"), document("r", 200), Expectation::Anything).await.unwrap();
    h.store.insert_document(&key(&registered, "b"), document("s", 300), Expectation::Anything).await.unwrap();

    // Act
    let unregistered_doc = h.store.find_document(&key(&plain, "a")).await.unwrap().unwrap();
    let every_registration = h.store.query_document_ids(&plain, None).await.unwrap();
    let one_registration = h.store.query_document_ids(&registered, Some(200)).await.unwrap();

    // Assert
    assert_eq!(unregistered_doc.content, b"p");
    assert_eq!(every_registration, vec![("a".to_string(), 200), ("b".to_string(), 300)]);
    assert_eq!(one_registration, vec![("b".to_string(), 300)], "since is exclusive");
}

pub async fn documents_are_deleted_one_by_one_or_by_scope(h: Harness) {
    // Arrange
    let plain = state_scope(None);
    let registered = state_scope(Some("0b4bd1f8-5e0b-4f47-8a3e-1d0f1b6f3c01"));
    for (scope, id) in [(&plain, "a"), (&plain, "b"), (&registered, "c")] {
        h.store.insert_document(&key(scope, id), document(id, 1), Expectation::Anything).await.unwrap();
    }

    // Act
    let refused = h.store.delete_document(&key(&plain, "a"), Expectation::Etag("nope".into())).await.unwrap();
    let deleted = h.store.delete_document(&key(&plain, "a"), Expectation::Etag("etag-of-a".into())).await.unwrap();
    let missing = h.store.delete_document(&key(&plain, "zz"), Expectation::Anything).await.unwrap();
    let swept = h.store.delete_documents(&plain).await.unwrap();

    // Assert
    assert!(!refused && deleted && missing);
    assert_eq!(swept, 2, "b and the registered c");
    assert!(h.store.query_document_ids(&plain, None).await.unwrap().is_empty());
}

pub async fn profiles_of_different_kinds_never_mix(h: Harness) {
    // Arrange
    let activity_profile = DocumentScope {
        kind: DocumentKind::ActivityProfile,
        activity_id: Some("http://example.com/a".into()),
        agent: None,
        registration: None,
    };
    let agent_profile = DocumentScope {
        kind: DocumentKind::AgentProfile,
        activity_id: None,
        agent: Some("mbox:mailto:a@example.com".into()),
        registration: None,
    };

    // Act
    h.store.insert_document(&key(&activity_profile, "p"), document("x", 1), Expectation::Anything).await.unwrap();

    // Assert
    assert!(h.store.find_document(&key(&agent_profile, "p")).await.unwrap().is_none());
    assert!(h.store.query_document_ids(&state_scope(None), None).await.unwrap().is_empty());
    assert_eq!(h.store.query_document_ids(&activity_profile, None).await.unwrap().len(), 1);
}

pub async fn agents_named_in_batches_are_remembered_in_their_latest_form(h: Harness) {
    // Arrange
    let mut first = batch(&[]);
    first.agents = vec![("mbox:mailto:a@example.com".into(), json!({"name": "Ann", "mbox": "mailto:a@example.com"}))];
    let mut second = batch(&[]);
    second.agents =
        vec![("mbox:mailto:a@example.com".into(), json!({"name": "Ann B.", "mbox": "mailto:a@example.com"}))];

    // Act
    h.store.insert_statements(first).await.unwrap();
    h.store.insert_statements(second).await.unwrap();
    let found =
        h.store.find_agents(&["mbox:mailto:a@example.com".into(), "mbox:mailto:zz@example.com".into()]).await.unwrap();

    // Assert
    assert_eq!(found, vec![json!({"name": "Ann B.", "mbox": "mailto:a@example.com"})]);
}

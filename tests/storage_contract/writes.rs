//! Contract cases for the write path: `stored` assignment, batch atomicity, isolation of
//! failed batches written concurrently, durability and `consistent_through`.

use std::collections::HashSet;

use fluency::storage::{IndexTerm, StatementBatch, StatementQuery, StorageError};
use fluency::xapi::time::format_micros;
use serde_json::{json, Value};

use super::support::{batch, Draft, Harness};

pub async fn stored_values_are_unique_and_increasing_under_concurrent_inserts(h: Harness) {
    // Arrange
    let drafts: Vec<Draft> = (0..200).map(|_| Draft::new()).collect();

    // Act
    let tasks: Vec<_> = drafts
        .iter()
        .map(|draft| {
            let store = h.store.clone();
            let one = batch(&[draft]);
            tokio::spawn(async move { store.insert_statements(one).await })
        })
        .collect();
    let mut stored = Vec::new();
    for task in tasks {
        let values = task.await.expect("the task ends").expect("every insert succeeds");
        assert_eq!(values.len(), 1);
        stored.push(values[0]);
    }

    // Assert
    let distinct: HashSet<_> = stored.iter().collect();
    assert_eq!(distinct.len(), 200, "stored values must be unique");
    let page = h.query(StatementQuery { ascending: true, limit: 500, ..Default::default() }).await;
    assert_eq!(page.statements.len(), 200);
    assert!(page.statements.windows(2).all(|pair| pair[0].stored < pair[1].stored));
    let mut listed: Vec<_> = page.statements.iter().map(|s| s.stored).collect();
    listed.sort_unstable();
    stored.sort_unstable();
    assert_eq!(listed, stored, "each insert reports the stored value it received");
}

pub async fn a_batch_gets_increasing_stored_values_in_statement_order(h: Harness) {
    // Arrange
    let earlier = h.insert(&[&Draft::new()]).await;
    let drafts: Vec<Draft> = (0..5).map(|_| Draft::new()).collect();

    // Act
    let stored = h.insert(&drafts.iter().collect::<Vec<_>>()).await;

    // Assert
    assert_eq!(stored.len(), 5);
    assert!(stored[0] > earlier[0]);
    assert!(stored.windows(2).all(|pair| pair[0] < pair[1]));
    for (draft, stored) in drafts.iter().zip(&stored) {
        assert_eq!(h.find(draft.id).await.expect("stored").stored, *stored);
    }
}

pub async fn stored_json_carries_stored_and_the_defaulted_timestamp(h: Harness) {
    // Arrange
    let untimed = Draft::new();
    let timed = Draft::new().timestamp("2020-01-01T00:00:00.000Z");

    // Act
    let stored = h.insert(&[&untimed, &timed]).await;

    // Assert
    let untimed_json: Value = serde_json::from_str(&h.find(untimed.id).await.unwrap().json).unwrap();
    assert_eq!(untimed_json["stored"], format_micros(stored[0]));
    assert_eq!(untimed_json["timestamp"], untimed_json["stored"]);
    assert_eq!(untimed_json["verb"]["id"], untimed.verb);
    let timed_json: Value = serde_json::from_str(&h.find(timed.id).await.unwrap().json).unwrap();
    assert_eq!(timed_json["stored"], format_micros(stored[1]));
    assert_eq!(timed_json["timestamp"], "2020-01-01T00:00:00.000Z");
}

pub async fn an_already_stored_id_fails_the_whole_batch_and_writes_nothing(h: Harness) {
    // Arrange
    let existing = Draft::new();
    h.insert(&[&existing]).await;
    let (before, after) = (Draft::new().verb("http://example.com/v/fresh"), Draft::new());
    let mut conflicting = batch(&[&before, &existing, &after]);
    conflicting.activity_definitions = vec![("http://example.com/a/new".into(), json!({"type": "x"}))];

    // Act
    let result = h.store.insert_statements(conflicting).await;

    // Assert
    match result {
        Err(StorageError::AlreadyStored(ids)) => assert_eq!(ids, vec![existing.id]),
        other => panic!("expected AlreadyStored, got {other:?}"),
    }
    assert!(h.find(before.id).await.is_none());
    assert!(h.find(after.id).await.is_none());
    assert!(h.ids_matching(&[before.verb_term()]).await.is_empty());
    let definitions = h.store.find_activity_definitions(&["http://example.com/a/new".into()]).await.unwrap();
    assert!(definitions.is_empty(), "no definition of a failed batch is written");
}

pub async fn a_failed_batch_does_not_affect_batches_committed_beside_it(h: Harness) {
    // Arrange: batches sent at once meet in the writer's queue (group commit).
    let existing = Draft::new();
    h.insert(&[&existing]).await;
    let good: Vec<Draft> = (0..60).map(|_| Draft::new()).collect();
    let doomed: Vec<Draft> = (0..60).map(|_| Draft::new()).collect();

    // Act
    let mut tasks = Vec::new();
    for (good, doomed) in good.iter().zip(&doomed) {
        for (statements, fails) in [(batch(&[good]), false), (batch(&[doomed, &existing]), true)] {
            let store = h.store.clone();
            tasks.push((fails, tokio::spawn(async move { store.insert_statements(statements).await })));
        }
    }
    let mut outcomes = Vec::new();
    for (fails, task) in tasks {
        outcomes.push((fails, task.await.expect("the task ends")));
    }

    // Assert
    for (fails, outcome) in outcomes {
        match (fails, outcome) {
            (false, Ok(_)) => {}
            (true, Err(StorageError::AlreadyStored(ids))) => assert_eq!(ids, vec![existing.id]),
            (fails, outcome) => panic!("batch expected to fail: {fails}; got {outcome:?}"),
        }
    }
    for draft in &good {
        assert!(h.find(draft.id).await.is_some(), "good batch {} was lost", draft.id);
    }
    for draft in &doomed {
        assert!(h.find(draft.id).await.is_none(), "failed batch {} was written", draft.id);
    }
}

pub async fn stored_data_survives_reopening_the_store(h: Harness) {
    // Arrange
    let kept = Draft::new().verb("http://example.com/v/kept");
    let voiding = Draft::voiding(kept.id);
    let stored = h.insert(&[&kept, &voiding]).await;
    let definition = StatementBatch {
        activity_definitions: vec![("http://example.com/a/kept".into(), json!({"type": "t"}))],
        ..batch(&[])
    };
    h.store.insert_statements(definition).await.unwrap();
    h.store.insert_credential(super::credentials::credential("key-kept", 1)).await.unwrap();

    // Act
    let h = h.reopen().await;

    // Assert
    let found = h.find(kept.id).await.expect("the statement survives");
    assert_eq!((found.stored, found.voided), (stored[0], true));
    assert_eq!(h.ids_matching(&[IndexTerm::Verb("http://example.com/v/kept".into())]).await, vec![voiding.id]);
    let definitions = h.store.find_activity_definitions(&["http://example.com/a/kept".into()]).await.unwrap();
    assert_eq!(definitions, vec![("http://example.com/a/kept".to_string(), json!({"type": "t"}))]);
    assert!(h.store.find_credential("key-kept").await.unwrap().is_some());
    let later = h.insert(&[&Draft::new()]).await;
    assert!(later[0] > stored[1], "stored keeps increasing after a reopen");
}

pub async fn consistent_through_is_past_every_committed_statement(h: Harness) {
    // Arrange
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = h.store.clone();
            let one = batch(&[&Draft::new()]);
            tokio::spawn(async move {
                let stored = store.insert_statements(one).await.expect("stored")[0];
                // Act
                (stored, store.consistent_through())
            })
        })
        .collect();

    // Assert
    let mut highest = i64::MIN;
    for task in tasks {
        let (stored, horizon) = task.await.unwrap();
        assert!(horizon > stored, "consistent_through {horizon} <= committed stored {stored}");
        highest = highest.max(stored);
    }
    assert!(h.store.consistent_through() > highest);
}

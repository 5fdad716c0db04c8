//! Contract cases for canonical activity definitions: merged in the insert transaction
//! through the batch's merge function.

use fluency::storage::StatementBatch;
use serde_json::{json, Value};

use super::support::{batch, Draft, Harness};

/// A merge that keeps stored keys, adds new ones and counts its calls in `merges`. Not
/// idempotent, so the cases never send one definition twice in a row (a backend may skip
/// the repeat).
fn merge_counting(stored: &mut Value, incoming: &Value) {
    if let (Some(stored), Some(incoming)) = (stored.as_object_mut(), incoming.as_object()) {
        for (key, value) in incoming {
            stored.entry(key.clone()).or_insert_with(|| value.clone());
        }
        let merges = stored.get("merges").and_then(Value::as_u64).unwrap_or(0);
        stored.insert("merges".into(), json!(merges + 1));
    }
}

fn with_definitions(definitions: Vec<(String, Value)>) -> StatementBatch {
    StatementBatch { activity_definitions: definitions, merge_definition: merge_counting, ..batch(&[&Draft::new()]) }
}

pub async fn activity_definitions_are_merged_through_the_batch_function(h: Harness) {
    // Arrange
    let activity = "http://example.com/activities/merged".to_string();
    let first = json!({"name": {"en-US": "First"}});
    let second = json!({"name": {"en-US": "Second"}, "description": {"en-US": "Added"}});
    h.store.insert_statements(with_definitions(vec![(activity.clone(), first.clone())])).await.unwrap();

    // Act
    h.store.insert_statements(with_definitions(vec![(activity.clone(), second)])).await.unwrap();

    // Assert
    let found = h
        .store
        .find_activity_definitions(&[activity.clone(), "http://example.com/activities/none".into()])
        .await
        .unwrap();
    let expected = json!({"name": {"en-US": "First"}, "description": {"en-US": "Added"}, "merges": 1});
    assert_eq!(found, vec![(activity.clone(), expected)]);

    // A batch naming the activity twice merges twice, in order.
    let again = vec![(activity.clone(), json!({})), (activity.clone(), json!({"type": "t"}))];
    h.store.insert_statements(with_definitions(again)).await.unwrap();
    let found = h.store.find_activity_definitions(std::slice::from_ref(&activity)).await.unwrap();
    assert_eq!(found[0].1["merges"], 3);
    assert_eq!(found[0].1["type"], "t");

    // A definition merged before, but not last, is merged again.
    h.store.insert_statements(with_definitions(vec![(activity.clone(), first)])).await.unwrap();
    let found = h.store.find_activity_definitions(&[activity]).await.unwrap();
    assert_eq!(found[0].1["merges"], 4);
}

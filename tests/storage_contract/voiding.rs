//! Contract cases for voiding: a voiding statement hides its target whichever arrives first,
//! unless the target is itself a voiding statement.

use fluency::storage::StatementQuery;
use uuid::Uuid;

use super::support::{Draft, Harness};

async fn listed_ids(h: &Harness) -> Vec<Uuid> {
    let page = h.query(StatementQuery { limit: 100, ..Default::default() }).await;
    page.statements.iter().map(|statement| statement.id).collect()
}

pub async fn a_voiding_statement_hides_its_target(h: Harness) {
    // Arrange
    let target = Draft::new();
    let bystander = Draft::new();
    h.insert(&[&target, &bystander]).await;
    let voiding = Draft::voiding(target.id);

    // Act
    h.insert(&[&voiding]).await;

    // Assert
    assert_eq!(listed_ids(&h).await, vec![voiding.id, bystander.id]);
    assert!(h.ids_matching(&[target.agent_term()]).await.iter().all(|id| *id != target.id));
    let found = h.find(target.id).await.expect("a voided statement is still found by id");
    assert!(found.voided);
    assert!(!h.find(voiding.id).await.unwrap().voided);
    assert!(!h.find(bystander.id).await.unwrap().voided);
}

pub async fn a_voiding_statement_stored_before_its_target_still_hides_it(h: Harness) {
    // Arrange
    let target = Draft::new().verb("http://example.com/v/late");
    let voiding = Draft::voiding(target.id);
    h.insert(&[&voiding]).await;

    // Act
    h.insert(&[&target]).await;

    // Assert
    assert!(h.find(target.id).await.unwrap().voided);
    assert_eq!(listed_ids(&h).await, vec![voiding.id]);
    assert_eq!(h.ids_matching(&[target.verb_term()]).await, vec![voiding.id]);
}

pub async fn a_voiding_statement_targeting_a_voiding_statement_does_not_hide_it(h: Harness) {
    // Arrange
    let original = Draft::new();
    let first_voiding = Draft::voiding(original.id);
    h.insert(&[&original, &first_voiding]).await;
    let second_voiding = Draft::voiding(first_voiding.id);

    // Act
    h.insert(&[&second_voiding]).await;

    // Assert
    assert!(!h.find(first_voiding.id).await.unwrap().voided);
    assert!(h.find(original.id).await.unwrap().voided, "the first voiding still holds");
    assert_eq!(listed_ids(&h).await, vec![second_voiding.id, first_voiding.id]);

    // The same when the voiding of a voiding statement arrives first.
    let later_original = Draft::new();
    let later_voiding = Draft::voiding(later_original.id);
    h.insert(&[&Draft::voiding(later_voiding.id)]).await;
    h.insert(&[&later_voiding]).await;
    assert!(!h.find(later_voiding.id).await.unwrap().voided);
}

//! Contract cases for the StatementRef targeting rule (xAPI ST-F-06/07): a statement whose
//! object references another also matches the target's terms (Authority excepted),
//! recursively, whichever arrives first, voided targets included.

use fluency::storage::{IndexTerm, StatementQuery};

use super::support::{Draft, Harness, AUTHORITY};

pub async fn a_reference_matches_the_terms_of_a_target_stored_earlier(h: Harness) {
    // Arrange
    let target = Draft::new()
        .verb("http://example.com/v/target")
        .actor("target@example.com")
        .term(IndexTerm::Authority("mbox::mailto:target-authority@example.com".into()));
    h.insert(&[&target]).await;
    let reference = Draft::new().referring_to(target.id);

    // Act
    h.insert(&[&reference]).await;

    // Assert
    let both = vec![reference.id, target.id];
    assert_eq!(h.ids_matching(&[target.verb_term()]).await, both);
    assert_eq!(h.ids_matching(&[target.agent_term()]).await, both);
    let activity = IndexTerm::Activity(target.activity_id().unwrap().into());
    assert_eq!(h.ids_matching(&[activity]).await, both);
    let authority = IndexTerm::Authority("mbox::mailto:target-authority@example.com".into());
    assert_eq!(h.ids_matching(&[authority]).await, vec![target.id], "authority is never inherited");
    assert_eq!(h.ids_matching(&[IndexTerm::Authority(AUTHORITY.into())]).await, both);
}

pub async fn a_reference_stored_before_its_target_matches_the_target_terms(h: Harness) {
    // Arrange
    let target = Draft::new().verb("http://example.com/v/target");
    let reference = Draft::new().referring_to(target.id);
    h.insert(&[&reference]).await;
    assert!(h.ids_matching(&[target.verb_term()]).await.is_empty());

    // Act
    h.insert(&[&target]).await;

    // Assert
    assert_eq!(h.ids_matching(&[target.verb_term()]).await, vec![target.id, reference.id]);
    let activity = IndexTerm::RelatedActivity(target.activity_id().unwrap().into());
    assert_eq!(h.ids_matching(&[activity]).await, vec![target.id, reference.id]);
}

pub async fn a_chain_of_two_references_matches_in_either_arrival_order(h: Harness) {
    for (order, description) in
        [([0, 1, 2], "target first"), ([2, 1, 0], "outer reference first"), ([1, 2, 0], "middle first")]
    {
        // Arrange
        let target = Draft::new().verb(&format!("http://example.com/v/{}", uuid::Uuid::new_v4()));
        let middle = Draft::new().referring_to(target.id);
        let outer = Draft::new().referring_to(middle.id);
        let chain = [&target, &middle, &outer];

        // Act
        for index in order {
            h.insert(&[chain[index]]).await;
        }

        // Assert
        let mut found = h.ids_matching(&[target.verb_term()]).await;
        found.sort();
        let mut expected = vec![target.id, middle.id, outer.id];
        expected.sort();
        assert_eq!(found, expected, "{description}");
        assert_eq!(
            h.ids_matching(&[middle.verb_term(), target.verb_term()]).await.len(),
            2,
            "{description}: only the two references carry both verbs"
        );
    }
}

pub async fn a_reference_to_a_voided_target_matches_while_the_target_stays_hidden(h: Harness) {
    // Arrange: the xAPI suite's scenario (ST-F-07).
    let voided = Draft::new().verb("http://example.com/v/unique");
    let voiding = Draft::voiding(voided.id);
    let reference = Draft::new().verb("http://example.com/v/unique").referring_to(voided.id);
    h.insert(&[&voided]).await;
    h.insert(&[&voiding]).await;
    h.insert(&[&reference]).await;

    // Act
    let all = h.query(StatementQuery { terms: vec![voided.verb_term()], limit: 10, ..Default::default() }).await;
    let first = h.query(StatementQuery { terms: vec![voided.verb_term()], limit: 1, ..Default::default() }).await;

    // Assert
    let ids: Vec<_> = all.statements.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![reference.id, voiding.id]);
    assert!(!all.more);
    assert_eq!(first.statements.iter().map(|s| s.id).collect::<Vec<_>>(), vec![reference.id]);
    assert!(first.more);
}

pub async fn a_reference_cycle_is_stored_and_queried(h: Harness) {
    // Arrange
    let first = Draft::new().verb("http://example.com/v/first");
    let second = Draft::new().verb("http://example.com/v/second").referring_to(first.id);
    let first = first.referring_to(second.id);

    // Act
    h.insert(&[&first]).await;
    h.insert(&[&second]).await;

    // Assert
    assert_eq!(h.ids_matching(&[first.verb_term()]).await, vec![second.id, first.id]);
    assert_eq!(h.ids_matching(&[second.verb_term()]).await, vec![second.id, first.id]);
}

//! Contract cases for issued credentials: status positions are never handed out twice, an
//! award key or an unrevoked exclusive credential makes a second insert return the first
//! (and queue nothing), revocation happens once, and the reads filter and survive reopening.

use fluency::storage::{
    BadgeCommit, BadgeFilter, BadgeInsert, BadgeRecord, NewOutboxItem, OutboxKind, OutboxStatus, RevokeOutcome,
};
use serde_json::json;
use uuid::Uuid;

use super::support::Harness;

const ADA: &str = "mbox:mailto:ada@example.com";
const BO: &str = "mbox:mailto:bo@example.com";

fn badge(id: &str, person: &str, achievement: &str, award_key: &str, issued: i64, status_index: u64) -> BadgeRecord {
    BadgeRecord {
        id: id.into(),
        person: person.into(),
        achievement: achievement.into(),
        status_index,
        issued,
        award_key: award_key.into(),
        revoked: None,
        revocation_reason: None,
        document: json!({"id": id}),
    }
}

fn commit(badge: BadgeRecord, exclusive: bool) -> BadgeCommit {
    let outbox = vec![NewOutboxItem {
        key: format!("earned-{}", badge.id),
        rule: "credentials".into(),
        trigger: Uuid::from_u128(1),
        kind: OutboxKind::Emit,
        target: None,
        intent: json!({"id": badge.id}),
        created: badge.issued,
    }];
    BadgeCommit { badge, exclusive, outbox }
}

fn ids(records: &[BadgeRecord]) -> Vec<&str> {
    records.iter().map(|record| record.id.as_str()).collect()
}

pub async fn status_positions_are_unique_under_concurrent_reservations(h: Harness) {
    // Act
    let reservations = (0..40).map(|_| {
        let store = h.store.clone();
        tokio::spawn(async move {
            let first = store.reserve_badge_status(3).await.unwrap();
            [first, first + 1, first + 2]
        })
    });
    let mut positions = Vec::new();
    for reservation in reservations {
        positions.extend(reservation.await.unwrap());
    }
    let h = h.reopen().await;
    let after_reopening = h.store.reserve_badge_status(1).await.unwrap();

    // Assert
    positions.sort();
    positions.dedup();
    assert_eq!(positions.len(), 120, "no position twice, blocks included");
    assert!(positions.iter().all(|p| *p < after_reopening), "the counter survives reopening");
}

pub async fn an_award_key_or_an_unrevoked_exclusive_credential_returns_the_first(h: Harness) {
    // Arrange
    let first = badge("b1", ADA, "sql", "intent-1", 10, 0);
    assert_eq!(h.store.insert_badge(commit(first.clone(), true)).await.unwrap(), BadgeInsert::Inserted);

    // Act
    let same_key = h.store.insert_badge(commit(badge("b2", BO, "rust", "intent-1", 11, 1), false)).await.unwrap();
    let same_person = h.store.insert_badge(commit(badge("b3", ADA, "sql", "intent-2", 12, 2), true)).await.unwrap();
    let repeatable = h.store.insert_badge(commit(badge("b4", ADA, "sql", "intent-3", 13, 3), false)).await.unwrap();

    // Assert
    assert_eq!(same_key, BadgeInsert::Existing(Box::new(first.clone())), "same award key");
    assert_eq!(same_person, BadgeInsert::Existing(Box::new(first.clone())), "one unrevoked per person and achievement");
    assert_eq!(repeatable, BadgeInsert::Inserted, "a repeatable award is not exclusive");
    let pending = h.store.outbox_items(OutboxStatus::Pending, 10).await.unwrap();
    let mut keys: Vec<_> = pending.iter().map(|item| item.key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["earned-b1", "earned-b4"], "only stored credentials queue their items");
    assert_eq!(h.store.find_badge_by_award("intent-3").await.unwrap().map(|b| b.id), Some("b4".into()));
}

pub async fn revocation_happens_once_and_frees_the_exclusive_place(h: Harness) {
    // Arrange
    h.store.insert_badge(commit(badge("b1", ADA, "sql", "k1", 10, 5), true)).await.unwrap();
    h.store.insert_badge(commit(badge("b2", BO, "sql", "k2", 11, 9), true)).await.unwrap();

    // Act
    let revoked = h.store.revoke_badge("b1", 20, "issued in error").await.unwrap();
    let twice = h.store.revoke_badge("b1", 30, "again").await.unwrap();
    let missing = h.store.revoke_badge("nope", 30, "x").await.unwrap();
    let again = h.store.insert_badge(commit(badge("b3", ADA, "sql", "k3", 40, 12), true)).await.unwrap();
    let h = h.reopen().await;

    // Assert
    let expected = BadgeRecord {
        revoked: Some(20),
        revocation_reason: Some("issued in error".into()),
        ..badge("b1", ADA, "sql", "k1", 10, 5)
    };
    assert_eq!(revoked, RevokeOutcome::Revoked(Box::new(expected.clone())));
    assert_eq!(twice, RevokeOutcome::AlreadyRevoked(Box::new(expected.clone())), "the first revocation stays");
    assert_eq!(missing, RevokeOutcome::NotFound);
    assert_eq!(again, BadgeInsert::Inserted, "after revocation the achievement can be awarded again");
    assert_eq!(h.store.find_badge("b1").await.unwrap(), Some(expected));
    assert_eq!(h.store.revoked_badge_positions(0, 100).await.unwrap(), [5]);
    assert_eq!(h.store.revoked_badge_positions(6, 100).await.unwrap(), Vec::<u64>::new(), "the range is honoured");
}

pub async fn badges_are_listed_newest_first_by_person_and_achievement(h: Harness) {
    // Arrange
    for (id, person, achievement, issued) in [("a1", ADA, "sql", 10), ("a2", ADA, "rust", 20), ("b1", BO, "sql", 15)] {
        h.store.insert_badge(commit(badge(id, person, achievement, id, issued, issued as u64), false)).await.unwrap();
    }
    h.store.revoke_badge("a1", 30, "r").await.unwrap();
    let query = |person: Option<&str>, achievement: Option<&str>, include_revoked: bool| BadgeFilter {
        person: person.map(Into::into),
        achievement: achievement.map(Into::into),
        include_revoked,
        limit: 10,
    };

    // Act / Assert
    assert_eq!(ids(&h.store.query_badges(&query(Some(ADA), None, true)).await.unwrap()), ["a2", "a1"]);
    assert_eq!(ids(&h.store.query_badges(&query(Some(ADA), None, false)).await.unwrap()), ["a2"]);
    assert_eq!(ids(&h.store.query_badges(&query(None, Some("sql"), true)).await.unwrap()), ["b1", "a1"]);
    assert_eq!(ids(&h.store.query_badges(&BadgeFilter { limit: 1, ..query(None, None, true) }).await.unwrap()), ["a2"]);
    let found = h.store.find_badge("a2").await.unwrap().unwrap();
    assert_eq!(found.document, json!({"id": "a2"}), "the document is kept as given");
}

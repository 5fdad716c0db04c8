//! Contract cases for the rules engine's records: the atomic rules commit, rule state with
//! expiry, the outbox lifecycle, interventions, learner history and the evaluation feed.

use fluency::storage::{
    HistoryFilter, Intervention, InterventionQuery, NewOutboxItem, OutboxKind, OutboxStatus, OutboxUpdate, RuleRun,
    RulesCommit, StateWrite,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::support::{Draft, Harness};

fn outbox_item(key: &str, created: i64) -> NewOutboxItem {
    NewOutboxItem {
        key: key.into(),
        rule: "nudge".into(),
        trigger: Uuid::from_u128(7),
        kind: OutboxKind::Notify,
        target: Some("sales-slack".into()),
        intent: json!({"key": key, "intent": {"type": "notify"}}),
        created,
    }
}

fn intervention(key: &str, actor: &str, activity: &str, recorded: i64) -> Intervention {
    Intervention {
        key: key.into(),
        rule: "assign-on-kpi".into(),
        trigger: Uuid::from_u128(9),
        actor_id: format!("mbox::mailto:{actor}"),
        actor: json!({"mbox": format!("mailto:{actor}")}),
        activity: activity.into(),
        reason: "error rate rose".into(),
        recorded,
    }
}

fn set(rule: &str, key: &str, value: Value, expires: Option<i64>) -> StateWrite {
    StateWrite { rule: rule.into(), key: key.into(), value: Some(value), expires }
}

fn commit(through: i64) -> RulesCommit {
    RulesCommit {
        evaluated_through: Some(through),
        runs: vec![RuleRun {
            rule: "nudge".into(),
            trigger: Uuid::from_u128(7),
            evaluated: 100,
            intents: 1,
            state_changes: 1,
            error: None,
        }],
        state: vec![set("nudge", "failures", json!(2), None)],
        outbox: vec![outbox_item("k1", 100)],
        interventions: vec![intervention("i1", "ada@example.com", "http://example.com/m/1", 100)],
    }
}

pub async fn a_rules_commit_is_durable_and_idempotent(h: Harness) {
    // Arrange
    assert_eq!(h.store.rules_evaluated_through().await.unwrap(), None);

    // Act: the same commit twice (a replay after a crash), then reopen.
    h.store.commit_rules(commit(500)).await.unwrap();
    h.store.commit_rules(commit(400)).await.unwrap();
    let h = h.reopen().await;

    // Assert
    assert_eq!(h.store.rules_evaluated_through().await.unwrap(), Some(500), "progress never goes back");
    h.store.commit_rules(RulesCommit { evaluated_through: None, ..commit(0) }).await.unwrap();
    assert_eq!(h.store.rules_evaluated_through().await.unwrap(), Some(500), "a commit without a position keeps it");
    assert_eq!(h.store.rule_runs("nudge", 10).await.unwrap(), commit(0).runs);
    assert_eq!(h.store.rule_state("nudge", "failures", 0).await.unwrap(), Some(json!(2)));
    let pending = h.store.outbox_items(OutboxStatus::Pending, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].key.as_str(), pending[0].attempts, pending[0].next_attempt), ("k1", 0, 100));
    assert_eq!(pending[0].intent, outbox_item("k1", 0).intent);
    let interventions = h.store.query_interventions(&InterventionQuery { limit: 10, ..Default::default() }).await;
    assert_eq!(interventions.unwrap(), commit(0).interventions);
}

pub async fn rule_state_is_per_rule_expires_and_is_removed(h: Harness) {
    // Arrange
    let state = vec![set("a", "k", json!({"n": 1}), Some(1_000)), set("b", "k", json!("other"), None)];
    h.store.commit_rules(RulesCommit { state, ..Default::default() }).await.unwrap();

    // Act
    let before_expiry = h.store.rule_state("a", "k", 999).await.unwrap();
    let at_expiry = h.store.rule_state("a", "k", 1_000).await.unwrap();
    let removal = StateWrite { rule: "b".into(), key: "k".into(), value: None, expires: None };
    h.store.commit_rules(RulesCommit { state: vec![removal], ..Default::default() }).await.unwrap();

    // Assert
    assert_eq!(before_expiry, Some(json!({"n": 1})));
    assert_eq!(at_expiry, None);
    assert_eq!(h.store.rule_state("b", "k", 0).await.unwrap(), None);
    assert_eq!(h.store.rule_state("a", "missing", 0).await.unwrap(), None);
    assert_eq!(h.store.rule_state_bytes("a", 999).await.unwrap(), ("k".len() + r#"{"n":1}"#.len()) as u64);
    assert_eq!(h.store.rule_state_bytes("a", 1_000).await.unwrap(), 0, "expired values do not count");
    assert_eq!(h.store.rule_state_bytes("b", 0).await.unwrap(), 0, "removed values do not count");
}

pub async fn outbox_items_are_due_retried_delivered_dead_lettered_and_redriven(h: Harness) {
    // Arrange
    let outbox = vec![outbox_item("late", 300), outbox_item("early", 100), outbox_item("never", 200)];
    h.store.commit_rules(RulesCommit { outbox, ..Default::default() }).await.unwrap();
    let due_keys = |items: Vec<fluency::storage::OutboxItem>| items.into_iter().map(|i| i.key).collect::<Vec<_>>();

    // Act
    let due_at_250 = due_keys(h.store.outbox_due(250, 10).await.unwrap());
    let retry = OutboxUpdate::RetryLater { attempts: 1, next_attempt: 1_000, error: "503".into(), at: 260 };
    assert!(h.store.update_outbox("early", retry).await.unwrap());
    assert!(h.store.update_outbox("late", OutboxUpdate::Delivered { attempts: 1, at: 301 }).await.unwrap());
    let dead = OutboxUpdate::DeadLetter { attempts: 8, error: "400 invalid_payload".into(), at: 302 };
    assert!(h.store.update_outbox("never", dead).await.unwrap());
    let again = OutboxUpdate::Delivered { attempts: 2, at: 303 };
    let updated_delivered = h.store.update_outbox("late", again).await.unwrap();

    // Assert
    assert_eq!(due_at_250, ["early", "never"], "earliest due first, future items wait");
    assert_eq!(due_keys(h.store.outbox_due(999, 10).await.unwrap()), Vec::<String>::new());
    assert_eq!(due_keys(h.store.outbox_due(1_000, 10).await.unwrap()), ["early"]);
    assert!(!updated_delivered, "only pending items take attempt outcomes");
    let dead_letters = h.store.outbox_items(OutboxStatus::DeadLetter, 10).await.unwrap();
    assert_eq!(dead_letters.len(), 1);
    assert_eq!((dead_letters[0].attempts, dead_letters[0].last_error.as_deref()), (8, Some("400 invalid_payload")));
    assert!(h.store.redrive_outbox("never", 2_000).await.unwrap());
    assert!(!h.store.redrive_outbox("late", 2_000).await.unwrap(), "a delivered item is not re-driven");
    let redriven = h.store.outbox_due(2_000, 10).await.unwrap();
    let never = redriven.iter().find(|item| item.key == "never").expect("re-driven item is due");
    assert_eq!((never.attempts, never.status), (0, OutboxStatus::Pending));
    assert_eq!(h.store.outbox_items(OutboxStatus::Delivered, 10).await.unwrap()[0].key, "late");
}

pub async fn interventions_are_filtered_by_rule_activity_actor_and_time(h: Harness) {
    // Arrange
    let interventions = vec![
        intervention("i1", "ada@example.com", "http://example.com/m/1", 100),
        intervention("i2", "bob@example.com", "http://example.com/m/1", 200),
        intervention("i3", "ada@example.com", "http://example.com/m/2", 300),
    ];
    h.store.commit_rules(RulesCommit { interventions, ..Default::default() }).await.unwrap();
    let keys = |query: InterventionQuery| {
        let store = h.store.clone();
        async move {
            let found = store.query_interventions(&InterventionQuery { limit: 10, ..query }).await.unwrap();
            found.into_iter().map(|i| i.key).collect::<Vec<_>>()
        }
    };

    // Act + Assert
    let by_activity = InterventionQuery { activity: Some("http://example.com/m/1".into()), ..Default::default() };
    assert_eq!(keys(by_activity).await, ["i1", "i2"]);
    let by_actor = InterventionQuery { actor_id: Some("mbox::mailto:ada@example.com".into()), ..Default::default() };
    assert_eq!(keys(by_actor).await, ["i1", "i3"]);
    let window = InterventionQuery { since: Some(100), until: Some(300), ..Default::default() };
    assert_eq!(keys(window).await, ["i2", "i3"], "since exclusive, until inclusive");
    let other_rule = InterventionQuery { rule: Some("other".into()), ..Default::default() };
    assert!(keys(other_rule).await.is_empty());
}

pub async fn history_counts_and_averages_a_learners_statements_in_a_window(h: Harness) {
    // Arrange
    let failed = "http://adlnet.gov/expapi/verbs/failed";
    let quiz = "http://example.com/quiz";
    let first = Draft::new().actor("ada@example.com").verb(failed).activity(quiz).scaled_score(0.2);
    let second = Draft::new().actor("ada@example.com").verb(failed).activity(quiz).scaled_score(0.6);
    let voided = Draft::new().actor("ada@example.com").verb(failed).activity(quiz).scaled_score(0.0);
    let unscored = Draft::new().actor("ada@example.com").verb(failed).activity(quiz);
    let other_actor = Draft::new().actor("bob@example.com").verb(failed).activity(quiz).scaled_score(1.0);
    let other_verb = Draft::new().actor("ada@example.com").activity(quiz).scaled_score(1.0);
    let stored = h.insert(&[&first, &second, &voided, &unscored, &other_actor, &other_verb]).await;
    h.insert(&[&Draft::voiding(voided.id)]).await;
    let filter = HistoryFilter {
        actor_id: first.agent_term_key(),
        verb: Some(failed.into()),
        activity: Some(quiz.into()),
        since: stored[0],
        until: stored[5],
    };

    // Act
    let all = h.store.history(&filter).await.unwrap();
    let from_second = h.store.history(&HistoryFilter { since: stored[1], ..filter.clone() }).await.unwrap();
    let any_verb = h.store.history(&HistoryFilter { verb: None, ..filter.clone() }).await.unwrap();
    let nobody = h.store.history(&HistoryFilter { actor_id: "mbox::mailto:x@example.com".into(), ..filter }).await;

    // Assert
    assert_eq!(all.count, 3, "voided, other actors and other verbs are not counted");
    assert!((all.average_score.unwrap() - 0.4).abs() < 1e-12, "{all:?}");
    assert_eq!(from_second.count, 2, "bounds are inclusive");
    assert_eq!(any_verb.count, 4);
    assert_eq!(nobody.unwrap(), Default::default());
}

pub async fn statements_stored_after_feed_the_rules_oldest_first_voided_included(h: Harness) {
    // Arrange
    let (a, b, c) = (Draft::new(), Draft::new(), Draft::new());
    let stored = h.insert(&[&a, &b, &c]).await;
    h.insert(&[&Draft::voiding(b.id)]).await;

    // Act
    let first_page = h.store.statements_stored_after(0, 2).await.unwrap();
    let rest = h.store.statements_stored_after(first_page[1].stored, 10).await.unwrap();

    // Assert
    let ids: Vec<Uuid> = first_page.iter().chain(&rest).map(|s| s.id).collect();
    assert_eq!(&ids[..3], [a.id, b.id, c.id]);
    assert_eq!(ids.len(), 4, "the voiding statement comes last");
    assert_eq!(first_page[0].stored, stored[0]);
    assert!(first_page[1].voided, "voided statements are still evaluated");
}

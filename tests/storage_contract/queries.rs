//! Contract cases for statement queries: each term kind, AND of terms, `since` / `until`,
//! order, `limit` with `more`, keyset paging while statements arrive, and finding by id.

use std::collections::HashSet;

use fluency::storage::{IndexTerm, StatementQuery};
use uuid::Uuid;

use super::support::{Draft, Harness};

/// A term constructor, e.g. `IndexTerm::Verb`.
type MakeTerm = fn(String) -> IndexTerm;

fn ids(page: &fluency::storage::StatementPage) -> Vec<Uuid> {
    page.statements.iter().map(|statement| statement.id).collect()
}

pub async fn each_term_kind_finds_only_the_statements_with_that_term(h: Harness) {
    // Arrange: two statements carrying one term of every kind, each with its own value.
    let kinds: [(&str, MakeTerm); 7] = [
        ("agent", IndexTerm::Agent),
        ("related agent", IndexTerm::RelatedAgent),
        ("verb", IndexTerm::Verb),
        ("activity", IndexTerm::Activity),
        ("related activity", IndexTerm::RelatedActivity),
        ("registration", IndexTerm::Registration),
        ("authority", IndexTerm::Authority),
    ];
    let value = |kind: &str, index: usize| format!("{kind}/{index}");
    let mut drafts = [Draft::new(), Draft::new()];
    for (index, draft) in drafts.iter_mut().enumerate() {
        for (kind, make) in &kinds {
            *draft = draft.clone().term(make(value(kind, index)));
        }
    }
    h.insert(&[&drafts[0], &drafts[1]]).await;

    for (position, (kind, make)) in kinds.iter().enumerate() {
        // Act
        let found = h.ids_matching(&[make(value(kind, 1))]).await;
        let (other_kind, _) = kinds[(position + 1) % kinds.len()];
        let value_of_another_kind = h.ids_matching(&[make(value(other_kind, 1))]).await;

        // Assert
        assert_eq!(found, vec![drafts[1].id], "query by {kind}");
        assert!(value_of_another_kind.is_empty(), "{kind} must not match the {other_kind} value");
    }
}

pub async fn several_terms_match_only_statements_having_all_of_them(h: Harness) {
    // Arrange
    let verb = "http://example.com/v/answered";
    let both = Draft::new().verb(verb).actor("both@example.com");
    let verb_only = Draft::new().verb(verb).actor("other@example.com");
    let actor_only = Draft::new().actor("both@example.com");
    h.insert(&[&both, &verb_only, &actor_only]).await;
    let registration = IndexTerm::Registration("ec531277-b57b-4c15-8d91-d292c5b2b8f7".into());

    // Act
    let found = h.ids_matching(&[both.verb_term(), both.agent_term()]).await;
    let with_missing_term = h.ids_matching(&[both.verb_term(), both.agent_term(), registration]).await;
    let repeated = h.ids_matching(&[both.verb_term(), both.verb_term()]).await;

    // Assert
    assert_eq!(found, vec![both.id]);
    assert!(with_missing_term.is_empty());
    assert_eq!(repeated, vec![verb_only.id, both.id]);
}

pub async fn since_is_exclusive_and_until_is_inclusive(h: Harness) {
    // Arrange
    let drafts: Vec<Draft> = (0..5).map(|_| Draft::new()).collect();
    let stored = h.insert(&drafts.iter().collect::<Vec<_>>()).await;

    for terms in [vec![], vec![drafts[0].verb_term()]] {
        // Act
        let page = h
            .query(StatementQuery {
                terms: terms.clone(),
                since: Some(stored[1]),
                until: Some(stored[3]),
                limit: 10,
                ..Default::default()
            })
            .await;

        // Assert
        assert_eq!(ids(&page), vec![drafts[3].id, drafts[2].id], "terms {terms:?}");
        assert!(!page.more);
    }
}

pub async fn results_are_newest_first_unless_ascending(h: Harness) {
    // Arrange
    let drafts: Vec<Draft> = (0..3).map(|_| Draft::new()).collect();
    for draft in &drafts {
        h.insert(&[draft]).await;
    }
    let newest_first: Vec<Uuid> = drafts.iter().rev().map(|draft| draft.id).collect();
    let oldest_first: Vec<Uuid> = drafts.iter().map(|draft| draft.id).collect();

    for terms in [vec![], vec![drafts[0].agent_term()]] {
        // Act
        let descending = h.query(StatementQuery { terms: terms.clone(), limit: 10, ..Default::default() }).await;
        let ascending = h.query(StatementQuery { terms, limit: 10, ascending: true, ..Default::default() }).await;

        // Assert
        assert_eq!(ids(&descending), newest_first);
        assert_eq!(ids(&ascending), oldest_first);
    }
}

pub async fn limit_sets_more_only_when_statements_remain(h: Harness) {
    // Arrange
    let drafts: Vec<Draft> = (0..3).map(|_| Draft::new()).collect();
    h.insert(&drafts.iter().collect::<Vec<_>>()).await;

    for (limit, expected_len, expected_more) in [(1, 1, true), (2, 2, true), (3, 3, false), (4, 3, false), (0, 1, true)]
    {
        // Act
        let page = h.query(StatementQuery { limit, ..Default::default() }).await;

        // Assert
        assert_eq!((page.statements.len(), page.more), (expected_len, expected_more), "limit {limit}");
    }
}

pub async fn paging_has_no_duplicates_or_gaps_while_statements_arrive(h: Harness) {
    for ascending in [false, true] {
        for with_terms in [false, true] {
            // Arrange
            let verb = format!("http://example.com/v/{}", Uuid::new_v4());
            let terms = if with_terms { vec![IndexTerm::Verb(verb.clone())] } else { vec![] };
            let make = || Draft::new().verb(&verb);
            let initial: Vec<Draft> = (0..10).map(|_| make()).collect();
            let floor = h.insert(&initial.iter().collect::<Vec<_>>()).await[0] - 1;
            let mut expected: Vec<Uuid> = initial.iter().map(|draft| draft.id).collect();

            // Act: page by 3, storing 2 more statements between pages.
            let mut seen = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let query = StatementQuery {
                    terms: terms.clone(),
                    since: Some(floor),
                    ascending,
                    limit: 3,
                    after,
                    ..Default::default()
                };
                let page = h.query(query).await;
                pages += 1;
                assert!(pages < 50, "paging does not end");
                seen.extend(ids(&page));
                after = page.statements.last().map(|statement| statement.stored);
                if !page.more {
                    break;
                }
                let arriving = [make(), make()];
                h.insert(&[&arriving[0], &arriving[1]]).await;
                expected.extend(arriving.iter().map(|draft| draft.id));
            }

            // Assert
            let description = format!("ascending={ascending} terms={with_terms}");
            let distinct: HashSet<_> = seen.iter().collect();
            assert_eq!(distinct.len(), seen.len(), "{description}: duplicates");
            if ascending {
                // New statements sort after the cursor: every one of them is reached.
                assert_eq!(seen, expected, "{description}");
            } else {
                // New statements sort before the first page: exactly the initial ones.
                expected.truncate(initial.len());
                expected.reverse();
                assert_eq!(seen, expected, "{description}");
            }
        }
    }
}

pub async fn find_statements_returns_the_stored_ones_voided_included(h: Harness) {
    // Arrange
    let (kept, voided) = (Draft::new(), Draft::new());
    h.insert(&[&kept, &voided, &Draft::voiding(voided.id)]).await;
    let missing = Uuid::new_v4();

    // Act
    let mut found = h.store.find_statements(&[voided.id, missing, kept.id]).await.unwrap();

    // Assert
    found.sort_by_key(|statement| statement.stored);
    let summary: Vec<_> = found.iter().map(|statement| (statement.id, statement.voided)).collect();
    assert_eq!(summary, vec![(kept.id, false), (voided.id, true)]);
}

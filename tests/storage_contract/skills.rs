//! Contract cases for skills inference: the atomic skills commit (position, evidence,
//! estimates, items), its replay, the reads by person and by skill, and the reset a
//! rebuild starts with.

use fluency::storage::{EstimateFilter, EstimateRecord, EvidenceRecord, ItemRecord, SkillsCommit};
use uuid::Uuid;

use super::support::Harness;

const SQL: &str = "https://skills.example.com/sql";
const SALES: &str = "https://skills.example.com/sales";

fn estimate(person: &str, skill: &str, mean: f64) -> EstimateRecord {
    EstimateRecord { person: person.into(), skill: skill.into(), mean, variance: 0.5, at: 100, evidence: 2 }
}

fn evidence(person: &str, skill: &str, statement: u128, at: i64) -> EvidenceRecord {
    EvidenceRecord {
        person: person.into(),
        skill: skill.into(),
        statement: Uuid::from_u128(statement),
        at,
        item: "https://lms.example.com/sql-quiz".into(),
        outcome: 1.0,
        weight: 0.75,
        predicted: 0.5,
        mean_change: 0.25,
        steps_up: 0,
    }
}

fn commit(through: i64) -> SkillsCommit {
    SkillsCommit {
        evaluated_through: through,
        evidence: vec![evidence("ada", SQL, 2, 90), evidence("ada", SQL, 1, 50), evidence("bo", SALES, 3, 70)],
        estimates: vec![estimate("ada", SQL, 0.8), estimate("bo", SALES, -0.2), estimate("ada", SALES, 0.1)],
        items: vec![ItemRecord {
            item: "https://lms.example.com/sql-quiz".into(),
            skill: SQL.into(),
            mean: -0.3,
            variance: 0.4,
            observations: 2,
        }],
    }
}

pub async fn a_skills_commit_is_durable_idempotent_and_read_by_person_and_skill(h: Harness) {
    // Arrange
    assert_eq!(h.store.skills_evaluated_through().await.unwrap(), None);

    // Act: the same commit twice (a replay after a crash), an older position, then reopen.
    h.store.commit_skills(commit(500)).await.unwrap();
    h.store.commit_skills(commit(400)).await.unwrap();
    let h = h.reopen().await;

    // Assert
    assert_eq!(h.store.skills_evaluated_through().await.unwrap(), Some(500), "progress never goes back");
    let ada = h.store.skill_estimates(&EstimateFilter { person: Some("ada".into()), skill: None }).await.unwrap();
    assert_eq!(ada, vec![estimate("ada", SALES, 0.1), estimate("ada", SQL, 0.8)], "by skill");
    let sql = h.store.skill_estimates(&EstimateFilter { person: None, skill: Some(SQL.into()) }).await.unwrap();
    assert_eq!(sql, vec![estimate("ada", SQL, 0.8)]);
    assert_eq!(h.store.skill_estimates(&EstimateFilter::default()).await.unwrap().len(), 3);
    let evidence_of_ada = h.store.skill_evidence("ada", Some(SQL), 10).await.unwrap();
    assert_eq!(evidence_of_ada, vec![evidence("ada", SQL, 1, 50), evidence("ada", SQL, 2, 90)], "oldest first, once");
    assert_eq!(h.store.skill_evidence("ada", None, 1).await.unwrap().len(), 1, "limit");
    assert_eq!(h.store.skill_items().await.unwrap(), commit(0).items);
}

pub async fn a_later_commit_replaces_estimates_and_items_and_reset_clears_everything(h: Harness) {
    // Arrange
    h.store.commit_skills(commit(500)).await.unwrap();
    let mut later = SkillsCommit { evaluated_through: 600, ..Default::default() };
    later.estimates.push(estimate("ada", SQL, 1.5));
    later.items.push(ItemRecord { mean: 0.7, ..commit(0).items[0].clone() });

    // Act
    h.store.commit_skills(later).await.unwrap();
    let replaced =
        h.store.skill_estimates(&EstimateFilter { person: Some("ada".into()), skill: Some(SQL.into()) }).await;
    let items = h.store.skill_items().await.unwrap();
    h.store.reset_skills().await.unwrap();

    // Assert
    assert_eq!(replaced.unwrap(), vec![estimate("ada", SQL, 1.5)]);
    assert_eq!(items[0].mean, 0.7);
    assert_eq!(h.store.skills_evaluated_through().await.unwrap(), None);
    assert!(h.store.skill_estimates(&EstimateFilter::default()).await.unwrap().is_empty());
    assert!(h.store.skill_evidence("ada", None, 10).await.unwrap().is_empty());
    assert!(h.store.skill_items().await.unwrap().is_empty());
}

pub async fn evidence_volumes_count_direct_evidence_and_people_per_skill_and_month(h: Harness) {
    // Arrange: 2026-01-15 and 2026-02-10 (UTC), one record counted through a broader link.
    let (january, february) = (1_768_435_200_000_000, 1_770_681_600_000_000);
    let mut through_broader = evidence("bo", SALES, 9, february);
    through_broader.steps_up = 1;
    let commit = SkillsCommit {
        evaluated_through: 1,
        evidence: vec![
            evidence("ada", SQL, 1, january),
            evidence("ada", SQL, 2, january + 1),
            evidence("bo", SQL, 3, january + 2),
            evidence("ada", SQL, 4, february),
            evidence("old", SQL, 5, 1_000),
            through_broader,
        ],
        ..Default::default()
    };
    h.store.commit_skills(commit).await.unwrap();

    // Act
    let volumes = h.store.skill_evidence_volumes(1_700_000_000_000_000).await.unwrap();

    // Assert
    let summary: Vec<(&str, &str, u64, u64)> =
        volumes.iter().map(|v| (v.skill.as_str(), v.month.as_str(), v.evidence, v.people)).collect();
    assert_eq!(summary, vec![(SQL, "2026-01", 3, 2), (SQL, "2026-02", 1, 1)]);
}

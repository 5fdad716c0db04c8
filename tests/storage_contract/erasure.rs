//! Contract cases for erasure: the statement step removes a person's statements wherever
//! they are named (actor, related agent, a reference to theirs), in steps, from every way
//! of finding them, and nobody else's; the record step removes their records; jobs stay
//! recorded until finished, tombstones for good.

use fluency::storage::{
    Document, DocumentKey, DocumentKind, DocumentScope, ErasureJob, EstimateRecord, Expectation, IndexTerm,
    PersonRecord, RulesCommit, SkillsCommit, StateWrite, StatementQuery,
};
use serde_json::json;
use uuid::Uuid;

use super::support::{batch, Draft, Harness};

const ADA: &str = "ada@example.com";
const BO: &str = "bo@example.com";

fn ada_key() -> String {
    Draft::new().actor(ADA).agent_term_key()
}

fn job() -> ErasureJob {
    ErasureJob {
        id: "job-1".into(),
        keys: vec![ada_key()],
        needles: vec![ADA.into()],
        names: vec!["Ada".into()],
        tombstones: vec!["f00d".into()],
        requested: 10,
        requested_by: "admin".into(),
        purging: false,
    }
}

async fn all_ids(h: &Harness, terms: Vec<IndexTerm>) -> Vec<Uuid> {
    let page = h.query(StatementQuery { terms, limit: 1000, ..Default::default() }).await;
    page.statements.iter().map(|s| s.id).collect()
}

pub async fn erasing_statements_removes_every_statement_naming_the_person_and_nothing_else(h: Harness) {
    // Arrange: Ada as actor (one voided by an administrator), as a related agent of Bo's
    // statement, and as the target of Bo's reference; Bo's own statements beside them.
    let (ada_first, ada_second) = (Draft::new().actor(ADA), Draft::new().actor(ADA));
    let about_ada = Draft::new().actor(BO).term(IndexTerm::RelatedAgent(ada_key()));
    let bo_alone = Draft::new().actor(BO);
    h.insert(&[&ada_first, &bo_alone, &about_ada]).await;
    let voiding = Draft::voiding(ada_first.id).actor("admin@example.com");
    let reference = Draft::new().actor(BO).referring_to(ada_second.id);
    h.insert(&[&reference]).await;
    h.insert(&[&ada_second, &voiding]).await;
    let bo_later = Draft::new().actor(BO);
    h.insert(&[&bo_later]).await;
    let ada_ids = [ada_first.id, ada_second.id, about_ada.id, voiding.id, reference.id];

    // Act: in steps of two.
    let mut steps = Vec::new();
    loop {
        let step = h.store.erase_statements(&[ada_key()], 2).await.expect("the step runs");
        let more = step.more;
        steps.push(step);
        if !more {
            break;
        }
    }

    // Assert
    assert_eq!(steps.iter().map(|s| s.statements).sum::<u64>(), ada_ids.len() as u64);
    assert!(steps.len() >= 3, "no step removed more than its limit");
    assert!(h.store.find_statements(&ada_ids).await.unwrap().is_empty());
    assert!(all_ids(&h, vec![IndexTerm::RelatedAgent(ada_key())]).await.is_empty());
    let bo_ids = all_ids(&h, vec![IndexTerm::Agent(Draft::new().actor(BO).agent_term_key())]).await;
    assert_eq!(bo_ids, vec![bo_later.id, bo_alone.id]);
    assert_eq!(all_ids(&h, vec![]).await, vec![bo_later.id, bo_alone.id]);
    let again = h.store.erase_statements(&[ada_key()], 2).await.unwrap();
    assert_eq!((again.statements, again.more), (0, false), "a repeated step finds nothing");

    // Reopened, the store still finds Bo's and none of Ada's.
    let h = h.reopen().await;
    assert!(h.store.find_statements(&ada_ids).await.unwrap().is_empty());
    assert_eq!(all_ids(&h, vec![]).await, vec![bo_later.id, bo_alone.id]);
    assert_eq!(h.store.find_statements(&[bo_alone.id]).await.unwrap().len(), 1);
}

pub async fn an_erasure_job_stays_recorded_until_finished_and_its_tombstones_stay_for_good(h: Harness) {
    h.store.begin_erasure(job()).await.unwrap();
    let h = h.reopen().await;
    assert_eq!(h.store.pending_erasures().await.unwrap(), vec![job()]);
    let purging = ErasureJob { keys: vec![], needles: vec![], names: vec![], purging: true, ..job() };
    h.store.begin_erasure(purging.clone()).await.unwrap();
    assert_eq!(h.store.pending_erasures().await.unwrap(), vec![purging], "the same id is replaced");

    h.store.finish_erasure("job-1").await.unwrap();
    h.store.purge_deleted(false).await.unwrap();

    assert!(h.store.pending_erasures().await.unwrap().is_empty());
    let tombstones = h.store.tombstones().await.unwrap();
    assert_eq!(tombstones.iter().map(|t| (t.hash.as_str(), t.erased)).collect::<Vec<_>>(), vec![("f00d", 10)]);
}

pub async fn erasing_records_removes_the_persons_records_and_keeps_everyone_elses(h: Harness) {
    // Arrange
    let (ada, bo) = (ada_key(), Draft::new().actor(BO).agent_term_key());
    let mut named = batch(&[&Draft::new().actor(ADA), &Draft::new().actor(BO)]);
    named.agents =
        vec![(ada.clone(), json!({"mbox": "mailto:ada@example.com", "name": "Ada"})), (bo.clone(), json!({}))];
    h.store.insert_statements(named).await.unwrap();
    for person in [&ada, &bo] {
        let scope = DocumentScope {
            kind: DocumentKind::AgentProfile,
            activity_id: None,
            agent: Some(person.clone()),
            registration: None,
        };
        let document =
            Document { content: b"{}".to_vec(), content_type: "application/json".into(), etag: "e".into(), updated: 1 };
        let key = DocumentKey { scope, id: "prefs".into() };
        h.store.insert_document(&key, document, Expectation::Anything).await.unwrap();
    }
    let people = [&ada, &bo].map(|p| PersonRecord { person: p.clone(), team: Some("t".into()), ..Default::default() });
    h.store.upsert_people(people.to_vec()).await.unwrap();
    let estimates = [&ada, &bo].map(|p| EstimateRecord {
        person: p.clone(),
        skill: "s".into(),
        mean: 0.0,
        variance: 1.0,
        at: 1,
        evidence: 1,
    });
    h.store
        .commit_skills(SkillsCommit { evaluated_through: 1, estimates: estimates.to_vec(), ..Default::default() })
        .await
        .unwrap();
    let state = |key: &str| StateWrite { rule: "r".into(), key: key.into(), value: Some(json!(1)), expires: None };
    let rules = RulesCommit {
        state: vec![state("mailto:ada@example.com"), state("mailto:bo@example.com")],
        ..Default::default()
    };
    h.store.commit_rules(rules).await.unwrap();

    // Act
    let erased = h.store.erase_records(&job()).await.unwrap();

    // Assert
    assert_eq!(
        (erased.documents, erased.agents, erased.people, erased.skill_estimates, erased.rule_state),
        (1, 1, 1, 1, 1)
    );
    assert!(h.store.find_agents(std::slice::from_ref(&ada)).await.unwrap().is_empty());
    assert_eq!(h.store.find_agents(std::slice::from_ref(&bo)).await.unwrap().len(), 1);
    assert_eq!(h.store.find_people(&[ada.clone(), bo.clone()]).await.unwrap().len(), 1);
    assert!(h.store.rule_state("r", "mailto:ada@example.com", 0).await.unwrap().is_none());
    assert!(h.store.rule_state("r", "mailto:bo@example.com", 0).await.unwrap().is_some());
    let scope = |p: &String| DocumentScope {
        kind: DocumentKind::AgentProfile,
        activity_id: None,
        agent: Some(p.clone()),
        registration: None,
    };
    assert!(h.store.query_document_ids(&scope(&ada), None).await.unwrap().is_empty());
    assert_eq!(h.store.query_document_ids(&scope(&bo), None).await.unwrap().len(), 1);
}

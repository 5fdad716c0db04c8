//! Contract cases for people and teams: the upsert (fields not given are kept), the reads
//! by key and by team, and the team counts.

use fluency::storage::{PersonRecord, TeamCount};

use super::support::Harness;

const ADA: &str = "mbox:mailto:ada@example.com";
const BO: &str = "mbox:mailto:bo@example.com";
const CY: &str = "account:[\"https://hr.example.com\",\"cy\"]";
const ANALYST: &str = "https://roles.example.com/analyst";

fn person(key: &str, team: Option<&str>, updated: i64) -> PersonRecord {
    PersonRecord { person: key.into(), team: team.map(Into::into), updated, ..Default::default() }
}

fn team(name: &str, members: u64) -> TeamCount {
    TeamCount { team: name.into(), members }
}

pub async fn people_are_upserted_found_by_key_and_listed_by_team_and_survive_reopening(h: Harness) {
    // Arrange
    let ada = PersonRecord {
        name: Some("Ada".into()),
        manager: Some(BO.into()),
        role: Some(ANALYST.into()),
        ..person(ADA, Some("north"), 10)
    };

    // Act
    h.store
        .upsert_people(vec![person(CY, Some("south"), 10), ada.clone(), person(BO, Some("north"), 10)])
        .await
        .unwrap();
    h.store.upsert_people(vec![person("mbox:mailto:dee@example.com", None, 10)]).await.unwrap();
    let h = h.reopen().await;

    // Assert
    let keys = [BO.to_string(), "mbox:mailto:nobody@example.com".into(), ADA.into(), ADA.into()];
    let found = h.store.find_people(&keys).await.unwrap();
    assert_eq!(found, vec![ada.clone(), person(BO, Some("north"), 10)], "by key, each once, unknown keys left out");
    let north = h.store.people_in_team("north").await.unwrap();
    assert_eq!(north.iter().map(|p| p.person.as_str()).collect::<Vec<_>>(), [ADA, BO]);
    assert!(h.store.people_in_team("North").await.unwrap().is_empty(), "team names are exact");
    assert_eq!(
        h.store.teams().await.unwrap(),
        vec![team("north", 2), team("south", 1)],
        "people without team left out"
    );
}

pub async fn a_later_upsert_replaces_only_the_fields_it_gives(h: Harness) {
    // Arrange
    let first = PersonRecord { name: Some("Ada".into()), role: Some(ANALYST.into()), ..person(ADA, Some("north"), 10) };
    h.store.upsert_people(vec![first, person(BO, Some("north"), 10)]).await.unwrap();

    // Act: Ada moves team and gains a manager; Bo is given twice in one upsert.
    let moved = PersonRecord { manager: Some(BO.into()), ..person(ADA, Some("south"), 20) };
    h.store.upsert_people(vec![moved, person(BO, Some("east"), 20), person(BO, Some("west"), 30)]).await.unwrap();

    // Assert
    let found = h.store.find_people(&[ADA.into(), BO.into()]).await.unwrap();
    let expected_ada = PersonRecord {
        name: Some("Ada".into()),
        manager: Some(BO.into()),
        role: Some(ANALYST.into()),
        ..person(ADA, Some("south"), 20)
    };
    assert_eq!(found, vec![expected_ada, person(BO, Some("west"), 30)]);
    assert_eq!(h.store.teams().await.unwrap(), vec![team("south", 1), team("west", 1)], "nobody is left in north");
}

pub async fn consent_is_replaced_per_person_and_kept_across_reopening(h: Harness) {
    use fluency::storage::ConsentRecord;
    // Arrange
    let record = |person: &str, inference: bool, nudges: bool, updated: i64| ConsentRecord {
        person: person.into(),
        inference_opt_out: inference,
        nudges_opt_out: nudges,
        updated,
    };
    h.store.set_consent(record("mbox:mailto:b@example.com", true, false, 1)).await.unwrap();
    h.store.set_consent(record("mbox:mailto:a@example.com", true, true, 2)).await.unwrap();

    // Act
    h.store.set_consent(record("mbox:mailto:a@example.com", false, true, 3)).await.unwrap();
    let h = h.reopen().await;

    // Assert
    assert_eq!(
        h.store.consents().await.unwrap(),
        vec![record("mbox:mailto:a@example.com", false, true, 3), record("mbox:mailto:b@example.com", true, false, 1)]
    );
}

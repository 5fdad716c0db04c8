//! Recovery on simulated data with known abilities (`skills::simulate`): the estimates rank
//! people as their true abilities do, the model's predictions are calibrated, and both beat
//! the naive share of attempts passed. The floors here are looser than the figures the
//! benchmark prints at full size (`cargo bench --bench lrs -- --skills`).

use std::collections::BTreeSet;

use fluency::skills::simulate::{simulate, Recovery, SimulationSpec};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::{caught_up, put_framework};

#[tokio::test]
async fn estimates_recover_true_abilities_and_beat_the_share_of_attempts_passed() {
    // Arrange
    let app = TestApp::spawn().await;
    let spec = SimulationSpec { people: 200, half_life_days: 365.0, ..Default::default() };
    let simulation = simulate(&spec);
    put_framework(&app, "simulated.toml", &simulation.framework).await;

    // Act
    for batch in simulation.statements.chunks(500) {
        let response = app.post_statements(&Value::Array(batch.to_vec())).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
    caught_up(&app).await;
    let at = simulation.end.to_rfc3339();
    let people: BTreeSet<&str> = simulation.truth.keys().map(|(p, _)| p.as_str()).collect();
    let mut profiles = Vec::new();
    for person in people {
        let agent = json!({"mbox": person.strip_prefix("mbox:").unwrap()}).to_string();
        let query = [("agent", agent.as_str()), ("at", at.as_str())];
        let response = app.api(reqwest::Method::GET, "skills/profile").query(&query).send().await.unwrap();
        assert_eq!(response.status(), 200);
        profiles.push(response.json::<Value>().await.unwrap());
    }

    // Assert
    for skill in profiles.iter().flat_map(|p| p["skills"].as_array().unwrap()) {
        let explained: f64 =
            skill["contributions"].as_array().unwrap().iter().map(|c| c["change_now"].as_f64().unwrap()).sum();
        let mean = skill["mean"].as_f64().unwrap();
        assert!((skill["prior_mean"].as_f64().unwrap() + explained - mean).abs() < 1e-9, "the explanation adds up");
    }
    let recovery = Recovery::from_profiles(&profiles, &simulation.truth);
    println!("{recovery}");
    assert!(recovery.estimates > 500, "{recovery}");
    assert!(recovery.spearman >= 0.85, "{recovery}");
    assert!(recovery.ece <= 0.06, "{recovery}");
    assert!(recovery.spearman > recovery.naive_spearman && recovery.brier < recovery.naive_brier, "{recovery}");
}

//! Recovery on simulated data with known abilities (`skills::simulate`): the estimates rank
//! people as their true abilities do, the model's predictions are calibrated, and both beat
//! the naive share of attempts passed. The floors here are looser than the figures the
//! benchmark prints at full size.

use std::collections::BTreeSet;

use fluency::skills::simulate::{calibration, simulate, spearman, SimulationSpec};
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

    // Assert
    let at = simulation.end.to_rfc3339();
    let mut estimated = Vec::new();
    let mut naive = Vec::new();
    let mut predictions = Vec::new();
    let mut naive_predictions = Vec::new();
    let people: Vec<String> =
        simulation.truth.keys().map(|(p, _)| p.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    for person in &people {
        let mbox = person.strip_prefix("mbox:").unwrap();
        let agent = json!({"mbox": mbox}).to_string();
        let response = app
            .api(reqwest::Method::GET, "skills/profile")
            .query(&[("agent", agent.as_str()), ("at", at.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let profile: Value = response.json().await.unwrap();
        for skill in profile["skills"].as_array().unwrap() {
            let iri = skill["skill"].as_str().unwrap().to_string();
            let truth = simulation.truth[&(person.clone(), iri)];
            let contributions = skill["contributions"].as_array().unwrap();
            // Prequential: each prediction was made before its outcome was seen.
            let (mut passes, mut attempts) = (0.0, 0.0);
            for c in contributions {
                let outcome = c["outcome"].as_f64().unwrap();
                predictions.push((c["predicted"].as_f64().unwrap(), outcome));
                naive_predictions.push(((passes + 1.0) / (attempts + 2.0), outcome));
                passes += outcome;
                attempts += 1.0;
            }
            if contributions.len() >= 10 {
                estimated.push((skill["mean"].as_f64().unwrap(), truth));
                naive.push((passes / attempts, truth));
            }
            let sum: f64 = contributions.iter().map(|c| c["change_now"].as_f64().unwrap()).sum();
            assert!(
                (skill["prior_mean"].as_f64().unwrap() + sum - skill["mean"].as_f64().unwrap()).abs() < 1e-9,
                "the explanation adds up to the estimate"
            );
        }
    }
    let (rho, naive_rho) = (spearman(&estimated), spearman(&naive));
    let (ece, brier) = calibration(&predictions);
    let (naive_ece, naive_brier) = calibration(&naive_predictions);
    println!("{} estimates: Spearman {rho:.3} (naive {naive_rho:.3}); ECE {ece:.4} (naive {naive_ece:.4}); Brier {brier:.4} (naive {naive_brier:.4})", estimated.len());
    assert!(estimated.len() > 500, "{}", estimated.len());
    assert!(rho >= 0.85, "Spearman {rho}");
    assert!(ece <= 0.06, "ECE {ece}");
    assert!(
        rho > naive_rho && brier < naive_brier,
        "beats the naive baseline: {rho} vs {naive_rho}, {brier} vs {naive_brier}"
    );
}

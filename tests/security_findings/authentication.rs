//! Finding 3: sign-in must not tell which keys exist, and wrong secrets must neither be
//! guessable quickly nor stall other clients' sign-ins.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{basic, TestApp, ADMIN_KEY};

/// A client whose requests come from `address` (any of 127.0.0.0/8 reaches the server).
fn client_from(address: &str) -> reqwest::Client {
    let address: IpAddr = address.parse().unwrap();
    reqwest::Client::builder().local_address(address).build().unwrap()
}

async fn about_as(app: &TestApp, client: &reqwest::Client, key: &str, secret: &str) -> reqwest::Response {
    // `statements` needs credentials (about does not).
    client
        .get(app.url("statements"))
        .query(&[("limit", "1")])
        .header("X-Experience-API-Version", "1.0.3")
        .header("Authorization", basic(key, secret))
        .send()
        .await
        .expect("request sent")
}

async fn median_refusal(app: &TestApp, client: &reqwest::Client, key: &str) -> Duration {
    let mut times = Vec::new();
    for attempt in 0..7 {
        let started = Instant::now();
        let response = about_as(app, client, key, &format!("wrong-{attempt}-{}", uuid::Uuid::new_v4())).await;
        times.push(started.elapsed());
        assert_eq!(response.status(), 401);
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn an_unknown_key_takes_as_long_to_refuse_as_a_known_one() {
    // Arrange: a limit high enough not to interfere with the measurement.
    let app = TestApp::spawn_with(|s| s.auth_failures_per_minute = 1000).await;
    let client = client_from("127.0.0.1");

    // Act
    let known = median_refusal(&app, &client, ADMIN_KEY).await;
    let unknown = median_refusal(&app, &client, "no-such-key").await;

    // Assert: an early return is a hundred times faster than an Argon2 verification.
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(ratio > 0.3, "unknown key refused in {unknown:?}, known key in {known:?}: the time tells keys apart");
}

#[tokio::test]
async fn wrong_secrets_past_the_limit_get_429_with_retry_after() {
    // Arrange
    let app = TestApp::spawn().await;
    let attacker = client_from("127.0.0.2");

    // Act: distinct guesses (a repeated one is cached and not counted).
    let mut statuses = Vec::new();
    for guess in 0..12 {
        statuses.push(about_as(&app, &attacker, ADMIN_KEY, &format!("guess-{guess}")).await);
    }
    let refused = statuses.pop().unwrap();
    let repeated = about_as(&app, &attacker, ADMIN_KEY, "guess-0").await;

    // Assert
    let early: Vec<u16> = statuses.iter().take(10).map(|r| r.status().as_u16()).collect();
    assert_eq!(early, vec![401; 10], "the first ten wrong secrets are simply refused");
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["Retry-After"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "too_many_requests");
    assert!(body["message"].as_str().unwrap().starts_with("Authorization:"), "{body}");
    assert_eq!(repeated.status(), 401, "a wrong secret already seen is answered from the cache");
}

#[tokio::test]
async fn a_stream_of_wrong_secrets_does_not_stall_another_clients_sign_in() {
    // Arrange: a credential that has never signed in, so its first sign-in must hash.
    let app = TestApp::spawn().await;
    let lms = fluency::auth::create_credential(app.statements.store(), vec![fluency::auth::Scope::All], "LMS", None)
        .await
        .unwrap();
    let attacker = client_from("127.0.0.2");
    let guesses: Vec<_> = (0..200)
        .map(|guess| {
            let (attacker, url) = (attacker.clone(), app.url("statements"));
            tokio::spawn(async move {
                let response = attacker
                    .get(url)
                    .header("X-Experience-API-Version", "1.0.3")
                    .header("Authorization", basic(ADMIN_KEY, &format!("guess-{guess}")))
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Act
    let started = Instant::now();
    let signed_in = about_as(&app, &client_from("127.0.0.3"), &lms.key, &lms.secret).await;
    let waited = started.elapsed();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }

    // Assert: 200 queued Argon2 verifications, two at a time, would take seconds.
    assert_eq!(signed_in.status(), 200);
    assert!(waited < Duration::from_millis(1500), "the LMS waited {waited:?} behind the attacker");
    assert!(statuses.iter().filter(|s| **s == 429).count() >= 150, "most guesses were refused unhashed: {statuses:?}");
}

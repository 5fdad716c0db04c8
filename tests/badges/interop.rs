//! Independent verification: credentials issued by the running server, fetched from their
//! public URLs, checked by Digital Bazaar's `@digitalbazaar/vc` with the
//! `eddsa-rdfc-2022` cryptosuite, did:key resolved by `@digitalbazaar/did-method-key`, and
//! revocation by `@digitalcredentials/vc-bitstring-status-list` reading our status list.

use reqwest::Method;
use serde_json::{json, Value};

use crate::{award, fetch_public, put_achievement, spawn_app, verify_with_digital_bazaar};
use fluency::credentials::{keys::IssuerKey, proof};

fn verdict<'a>(results: &'a [Value], name: &str) -> &'a Value {
    results.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("no result for {name}"))
}

fn errors(result: &Value) -> String {
    result["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap_or_default()).collect::<Vec<_>>().join(" | ")
}

#[tokio::test]
async fn issued_credentials_verify_and_changed_foreign_expired_and_revoked_ones_fail_for_their_reason() {
    // Arrange: two credentials from the server, one of an achievement valid for a day.
    let app = spawn_app().await;
    put_achievement(&app, &crate::achievement("sql-basics")).await;
    let mut expiring = crate::achievement("safety-briefing");
    expiring["valid_for_days"] = json!(1);
    put_achievement(&app, &expiring).await;
    let (status, awarded) = award(&app, "mailto:ada@example.com", "sql-basics").await;
    assert_eq!(status, 201, "{awarded}");
    let valid = fetch_public(awarded["url"].as_str().unwrap()).await;
    let (_, to_revoke) = award(&app, "mailto:bo@example.com", "sql-basics").await;
    let (_, expiring) = award(&app, "mailto:cy@example.com", "safety-briefing").await;
    let expiring = fetch_public(expiring["url"].as_str().unwrap()).await;

    // One changed byte: a letter of the achievement's name.
    let mut changed = valid.clone();
    let name = changed["credentialSubject"]["achievement"]["name"].as_str().unwrap().replacen('s', "z", 1);
    changed["credentialSubject"]["achievement"]["name"] = json!(name);
    // Signed by another key, still naming the issuer's verification method.
    let mut unsigned = valid.as_object().unwrap().clone();
    let method = valid["proof"]["verificationMethod"].as_str().unwrap().to_string();
    let created = valid["proof"]["created"].as_str().unwrap().to_string();
    unsigned.remove("proof");
    let forged = proof::sign(unsigned, &IssuerKey::generate(), &method, &created).unwrap();

    // Act: revoke one, then verify all of them.
    let revoke = app
        .api(Method::POST, &format!("badges/credentials/{}/revoke", to_revoke["id"].as_str().unwrap()))
        .json(&json!({"reason": "awarded to the wrong person"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let revoked = fetch_public(to_revoke["url"].as_str().unwrap()).await;
    let two_days_on = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let Some(results) = verify_with_digital_bazaar(&[
        ("valid", valid.clone(), None),
        ("changed", changed, None),
        ("forged", Value::Object(forged), None),
        ("expiring-today", expiring.clone(), None),
        ("expired", expiring, Some(&two_days_on)),
        ("revoked", revoked, None),
    ]) else {
        return;
    };

    // Assert
    let valid_result = verdict(&results, "valid");
    assert_eq!(valid_result["verified"], true, "{}", errors(valid_result));
    assert_eq!(valid_result["status"], true, "the status list says not revoked");
    assert_eq!(
        verdict(&results, "expiring-today")["verified"],
        true,
        "{}",
        errors(verdict(&results, "expiring-today"))
    );
    for (name, reason) in
        [("changed", "Invalid signature"), ("forged", "Invalid signature"), ("expired", "is after \"validUntil\"")]
    {
        let result = verdict(&results, name);
        assert_eq!(result["verified"], false, "{name} must fail");
        assert!(errors(result).contains(reason), "{name}: expected {reason:?} in {}", errors(result));
    }
    let revoked = verdict(&results, "revoked");
    assert_eq!(revoked["verified"], false, "a revoked credential must fail: {}", errors(revoked));
    assert_eq!(revoked["status"], false, "revoked by the status list, not for another reason: {}", errors(revoked));
    assert!(errors(revoked).is_empty() || !errors(revoked).contains("signature"), "{}", errors(revoked));
    assert!(valid["issuer"]["id"].as_str().unwrap().starts_with("did:key:z6Mk"), "{valid}");
}

//! The badges API: awards are idempotent and leave their records (the credential at its
//! public URL, an "earned" statement, an audit entry, a baked image); verification names
//! the check that failed; bad input gets the JSON error naming the field and the rule.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::{award, fetch_public, put_achievement, spawn_app};

const EARNED: &str = "https://fluency.dev/xapi/verbs/earned";
const CREDENTIAL_EXTENSION: &str = "https://fluency.dev/xapi/extensions/credential";

async fn verify(app: &TestApp, body: String) -> (u16, Value) {
    let response = app.client.post(format!("{}/api/badges/verify", app.address)).body(body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn check<'a>(verdict: &'a Value, name: &str) -> &'a Value {
    verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("{name} in {verdict}"))
}

#[tokio::test]
async fn an_award_is_issued_once_recorded_in_the_lrs_and_audit_log_and_verifies_until_revoked() {
    // Arrange
    let app = spawn_app().await;
    put_achievement(&app, &crate::achievement("sql-basics")).await;

    // Act
    let (first_status, first) = award(&app, "mailto:ada@example.com", "sql-basics").await;
    let (second_status, second) = award(&app, "mailto:ada@example.com", "sql-basics").await;

    // Assert: one credential, at an unguessable public URL.
    assert_eq!((first_status, second_status), (201, 200), "{first} {second}");
    assert_eq!(first["id"], second["id"], "one active credential per person and achievement");
    let id = first["id"].as_str().unwrap();
    assert_eq!(id.len(), 32, "128 random bits in hex");
    let credential = fetch_public(first["url"].as_str().unwrap()).await;
    assert_eq!(credential, first["credential"]);
    assert_eq!(credential["type"], json!(["VerifiableCredential", "OpenBadgeCredential"]));
    assert!(!credential.to_string().contains("ada@example.com"), "the recipient is a salted hash: {credential}");

    // The LRS records it.
    let page: Value = app.get_statements(&[("verb", EARNED)]).await.json().await.unwrap();
    let earned = &page["statements"].as_array().unwrap()[..];
    assert_eq!(earned.len(), 1, "one earned statement: {page}");
    assert_eq!(earned[0]["actor"]["mbox"], "mailto:ada@example.com");
    assert_eq!(earned[0]["result"]["extensions"][CREDENTIAL_EXTENSION], first["url"]);
    let audit = app.api_json("audit").await;
    let awards: Vec<&Value> =
        audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "badges.award").collect();
    assert_eq!(awards.len(), 1, "{audit}");
    assert_eq!(awards[0]["target"], id);

    // Listing by person, the baked image, and verification.
    let listed = app
        .api(Method::GET, "badges/awards")
        .query(&[("agent", r#"{"mbox":"mailto:ada@example.com"}"#)])
        .send()
        .await
        .unwrap();
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let svg = reqwest::get(first["svg_url"].as_str().unwrap()).await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let baked = fluency::credentials::baking::unbake_svg(&svg.text().await.unwrap()).expect("a baked credential");
    assert_eq!(baked, credential);
    let (_, verdict) = verify(&app, credential.to_string()).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(check(&verdict, "status")["passed"], true);

    // Revoked: the status list shows it at once, with the reason in the audit log.
    let revoke = |reason: &str| {
        app.api(Method::POST, &format!("badges/credentials/{id}/revoke")).json(&json!({"reason": reason})).send()
    };
    assert_eq!(revoke("issued in error").await.unwrap().status(), 200);
    let (_, verdict) = verify(&app, credential.to_string()).await;
    assert_eq!(verdict["verified"], false);
    assert_eq!(check(&verdict, "status")["message"], "revoked");
    assert_eq!(check(&verdict, "proof")["passed"], true, "only the status fails");
    let list_url = credential["credentialStatus"]["statusListCredential"].as_str().unwrap();
    let list = fetch_public(list_url).await;
    let index: u64 = credential["credentialStatus"]["statusListIndex"].as_str().unwrap().parse().unwrap();
    let encoded = list["credentialSubject"]["encodedList"].as_str().unwrap();
    assert!(fluency::credentials::status::bit_is_set(encoded, index).unwrap());
    let audit = app.api_json("audit").await;
    let revocation = audit["entries"].as_array().unwrap().iter().find(|e| e["action"] == "badges.revoke").unwrap();
    assert_eq!(revocation["details"]["reason"], "issued in error");
    let (again, _) = award(&app, "mailto:ada@example.com", "sql-basics").await;
    assert_eq!(again, 201, "after a revocation the achievement can be awarded again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_awards_of_one_achievement_to_one_person_issue_one_credential() {
    let app = spawn_app().await;
    put_achievement(&app, &crate::achievement("sql-basics")).await;

    let awards = (0..8).map(|_| award(&app, "mailto:ada@example.com", "sql-basics"));
    let results = futures_util::future::join_all(awards).await;

    let created = results.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(created, 1, "{results:?}");
    assert!(results.iter().all(|(_, body)| body["id"] == results[0].1["id"]), "{results:?}");
    let listed: Value = app.api(Method::GET, "badges/awards").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_award_of_a_repeatable_achievement() {
    let app = spawn_app().await;
    let mut repeatable = crate::achievement("kudos");
    repeatable["repeatable"] = json!(true);
    put_achievement(&app, &repeatable).await;
    let send = |key: &str| {
        let body = json!({"agent": {"mbox": "mailto:ada@example.com"}, "achievement": "kudos", "idempotency_key": key});
        app.api(Method::POST, "badges/awards").json(&body).send()
    };

    let first: Value = send("k1").await.unwrap().json().await.unwrap();
    let replay = send("k1").await.unwrap();
    let replay_status = replay.status();
    let replay: Value = replay.json().await.unwrap();
    let other: Value = send("k2").await.unwrap().json().await.unwrap();

    assert_eq!((replay_status.as_u16(), &replay["id"]), (200, &first["id"]), "the same key, the same credential");
    assert_ne!(other["id"], first["id"], "a repeatable achievement is earned again with another key");
}

#[tokio::test]
async fn bad_input_gets_the_json_error_naming_the_field_and_the_rule() {
    // Arrange
    let app = spawn_app().await;
    put_achievement(&app, &crate::achievement("sql-basics")).await;
    let opt_out = json!({"agent": {"mbox": "mailto:private@example.com"}, "inference": false, "nudges": true});
    assert_eq!(app.api(Method::PUT, "people/consent").json(&opt_out).send().await.unwrap().status(), 200);
    let (_, awarded) = award(&app, "mailto:ada@example.com", "sql-basics").await;
    let id = awarded["id"].as_str().unwrap().to_string();
    let revoke_path = format!("badges/credentials/{id}/revoke");
    assert_eq!(
        app.api(Method::POST, &revoke_path).json(&json!({"reason": "test"})).send().await.unwrap().status(),
        200
    );
    let mut unknown_field = crate::achievement("bad");
    unknown_field["colour"] = json!("red");
    let mut other_id = crate::achievement("other");
    other_id["id"] = json!("not-the-url");
    let mut bad_alignment = crate::achievement("aligned");
    bad_alignment["alignments"] = json!(["https://skills.example.com/not-in-the-framework"]);
    let award_body = |agent: Value, achievement: &str| json!({"agent": agent, "achievement": achievement});
    let cases: Vec<(&str, Method, String, Value, u16, &str, &str)> = vec![
        (
            "an unknown achievement",
            Method::POST,
            "badges/awards".into(),
            award_body(json!({"mbox": "mailto:ada@example.com"}), "nope"),
            400,
            "invalid_request",
            "achievement: no achievement is defined with id \"nope\"",
        ),
        (
            "an opted-out person",
            Method::POST,
            "badges/awards".into(),
            award_body(json!({"mbox": "mailto:private@example.com"}), "sql-basics"),
            409,
            "opted_out",
            "opted out of skills inference",
        ),
        (
            "an agent without an identifier",
            Method::POST,
            "badges/awards".into(),
            award_body(json!({"name": "Ada"}), "sql-basics"),
            400,
            "invalid_parameter",
            "agent:",
        ),
        (
            "an unknown body field",
            Method::POST,
            "badges/awards".into(),
            json!({"agent": {"mbox": "mailto:ada@example.com"}, "achievement": "sql-basics", "colour": 1}),
            400,
            "invalid_request",
            "unknown field `colour`",
        ),
        (
            "revoking twice",
            Method::POST,
            revoke_path.clone(),
            json!({"reason": "again"}),
            409,
            "already_revoked",
            "was already revoked",
        ),
        (
            "revoking without a reason",
            Method::POST,
            revoke_path,
            json!({"reason": " "}),
            400,
            "invalid_request",
            "reason: must be non-empty",
        ),
        (
            "revoking an unknown credential",
            Method::POST,
            format!("badges/credentials/{}/revoke", "0".repeat(32)),
            json!({"reason": "x"}),
            404,
            "not_found",
            "no credential",
        ),
        (
            "a definition with an unknown field",
            Method::PUT,
            "badges/achievements/bad".into(),
            unknown_field,
            400,
            "invalid_achievement",
            "unknown field `colour`",
        ),
        (
            "a definition whose id is not the URL's",
            Method::PUT,
            "badges/achievements/other".into(),
            other_id,
            400,
            "invalid_achievement",
            "differs from the URL's",
        ),
        (
            "a definition aligned to an unknown skill",
            Method::PUT,
            "badges/achievements/aligned".into(),
            bad_alignment,
            400,
            "invalid_achievement",
            "is not a skill of the framework",
        ),
        (
            "a path that is not an id",
            Method::PUT,
            "badges/achievements/..%2Fescape".into(),
            crate::achievement("x"),
            400,
            "invalid_achievement",
            "id: must be 1 to 64",
        ),
    ];

    for (description, method, path, body, status, code, message) in cases {
        // Act
        let response = app.api(method, &path).json(&body).send().await.unwrap();

        // Assert
        assert_eq!(response.status().as_u16(), status, "{description}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{description}: {error}");
        assert!(error["message"].as_str().unwrap().contains(message), "{description}: {error}");
    }
    let unknown = app.api(Method::GET, "badges/awards").query(&[("colour", "red")]).send().await.unwrap();
    assert_eq!(unknown.status(), 400);
    assert_eq!(unknown.json::<Value>().await.unwrap()["code"], "unknown_parameter");
    let anonymous =
        app.client.post(format!("{}/api/badges/awards", app.address)).json(&json!({})).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "awarding needs the admin scope");
    assert!(app.data_dir.path().join("achievements/bad.json").exists().not(), "a refused definition is not written");
}

trait Not {
    fn not(self) -> bool;
}
impl Not for bool {
    fn not(self) -> bool {
        !self
    }
}

#[tokio::test]
async fn hostile_credentials_sent_to_verify_are_refused_with_the_check_that_failed() {
    // Arrange
    let app = spawn_app().await;
    put_achievement(&app, &crate::achievement("sql-basics")).await;
    let (_, awarded) = award(&app, "mailto:ada@example.com", "sql-basics").await;
    let credential = awarded["credential"].clone();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut copy = credential.clone();
        change(&mut copy);
        copy.to_string()
    };
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("a changed name", with(&|c| c["name"] = json!("SQL master")), "proof", "signature does not match"),
        (
            "a fetched context",
            with(&|c| c["@context"][1] = json!("https://attacker.example/context.json")),
            "format",
            "is not a context this server knows",
        ),
        (
            "an embedded context",
            with(&|c| c["@context"][1] = json!({"name": "https://attacker.example/name"})),
            "format",
            "embedded contexts are not accepted",
        ),
        (
            "another issuer",
            with(&|c| c["issuer"]["id"] = json!("did:web:attacker.example")),
            "issuer",
            "is not a key of the issuer",
        ),
        (
            "no proof",
            with(&|c| {
                c.as_object_mut().unwrap().remove("proof");
            }),
            "issuer",
            "has no proof",
        ),
        ("a proof set", with(&|c| c["proof"] = json!([c["proof"].clone()])), "issuer", "verificationMethod"),
        ("an expired one", with(&|c| c["validUntil"] = json!("2001-01-01T00:00:00Z")), "validity", "expired"),
        ("not yet valid", with(&|c| c["validFrom"] = json!("2999-01-01T00:00:00Z")), "validity", "not valid yet"),
        (
            "an index beyond the list",
            with(&|c| c["credentialStatus"]["statusListIndex"] = json!("999999999")),
            "status",
            "beyond the list",
        ),
        ("not a credential", "[1, 2]".into(), "format", "must be a JSON object"),
    ];

    for (description, body, failed, message) in cases {
        // Act
        let (status, verdict) = verify(&app, body).await;

        // Assert
        assert_eq!(status, 200, "{description}");
        assert_eq!(verdict["verified"], false, "{description}: {verdict}");
        let check = check(&verdict, failed);
        assert_eq!(check["passed"], false, "{description}: {verdict}");
        assert!(check["message"].as_str().unwrap().contains(message), "{description}: {verdict}");
    }
    let list = credential["credentialStatus"]["statusListCredential"].as_str().unwrap();
    let (prefix, _) = list.rsplit_once('/').unwrap();
    for (description, url) in [
        ("a list far past the newest credential", format!("{prefix}/5")),
        ("a list number overflowing", format!("{prefix}/99999999999999999999")),
        (
            "a key that is not ours",
            format!("{}/api/badges/status/z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK/0", app.address),
        ),
        ("a path escaping the key directory", format!("{}/api/badges/status/..%2Fcurrent/0", app.address)),
    ] {
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 404, "{description}: {url}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], "not_found", "{description}");
    }
    for guess in ["0", "../../fluency.db", &"f".repeat(32)] {
        let response = reqwest::get(format!("{}/api/badges/credentials/{guess}", app.address)).await.unwrap();
        assert_eq!(response.status(), 404, "{guess}");
    }
    let (status, error) = verify(&app, "{not json".into()).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("malformed_json")));
    let huge =
        app.client.post(format!("{}/api/badges/verify", app.address)).body(vec![b' '; 70_000]).send().await.unwrap();
    assert_eq!(huge.status(), 413, "verification reads at most 64 kB");
}

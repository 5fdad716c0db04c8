//! Test keys and certificates in `testdata/` were made once with `openssl req -x509 -newkey`;
//! they sign nothing outside these tests.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;
use serde_json::json;

use super::*;

const KEY_A: &str = include_str!("testdata/jws-key-a.pem");
const CERT_A: &str = include_str!("testdata/jws-cert-a.pem");
const CERT_B: &str = include_str!("testdata/jws-cert-b.pem");
const CERT_EC: &str = include_str!("testdata/jws-cert-ec.pem");

/// The base64 text between the PEM armour lines, which is also the `x5c` form of a certificate.
fn pem_base64(pem: &str) -> String {
    pem.lines().filter(|line| !line.starts_with("-----")).collect()
}

fn key_a() -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_der(&STANDARD.decode(pem_base64(KEY_A)).unwrap()).unwrap()
}

fn statement() -> Value {
    json!({
        "actor": {"mbox": "mailto:signer@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "http://example.com/activity"}
    })
}

/// A compact JWS over `payload` signed by key A with `header["alg"]`.
fn sign(header: &Value, payload: &[u8]) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(payload));
    let key = key_a();
    let signature = match header["alg"].as_str().unwrap() {
        "RS256" => key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&input)),
        "RS384" => key.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(&input)),
        "RS512" => key.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(&input)),
        other => panic!("test signs only RS*, not {other}"),
    }
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn signed_statement(header: Value) -> String {
    sign(&header, statement().to_string().as_bytes())
}

fn refusal(jws: &str) -> String {
    verify_jws(jws.as_bytes(), 2).expect_err("should be refused").to_string()
}

#[test]
fn a_jws_without_x5c_is_accepted_for_each_rs_alg() {
    for alg in ["RS256", "RS384", "RS512"] {
        let jws = signed_statement(json!({"alg": alg, "typ": "JWT"}));

        let payload = verify_jws(jws.as_bytes(), 0);

        assert_eq!(payload, Ok(statement()), "{alg}");
    }
}

#[test]
fn a_jws_with_the_signers_x5c_certificate_verifies_for_each_rs_alg() {
    for alg in ["RS256", "RS384", "RS512"] {
        let jws = signed_statement(json!({"alg": alg, "x5c": [pem_base64(CERT_A), pem_base64(CERT_B)]}));

        let payload = verify_jws(jws.as_bytes(), 0);

        assert_eq!(payload, Ok(statement()), "{alg}");
    }
}

#[test]
fn surrounding_whitespace_such_as_a_final_newline_is_ignored() {
    let jws = format!("{}\r\n", signed_statement(json!({"alg": "RS256"})));
    assert_eq!(verify_jws(jws.as_bytes(), 0), Ok(statement()));
}

#[test]
fn a_tampered_payload_is_refused_when_x5c_allows_checking() {
    // Arrange: swap in another payload, keeping header and signature.
    let jws = signed_statement(json!({"alg": "RS256", "x5c": [pem_base64(CERT_A)]}));
    let segments: Vec<&str> = jws.split('.').collect();
    let mut other = statement();
    other["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/failed");
    let tampered = format!("{}.{}.{}", segments[0], URL_SAFE_NO_PAD.encode(other.to_string()), segments[2]);

    // Act
    let error = refusal(&tampered);

    // Assert
    assert_eq!(
        error,
        "attachments[2]: signature JWS RS256 signature does not verify with the public key of its x5c[0] certificate"
    );
}

#[test]
fn a_tampered_payload_without_x5c_cannot_be_detected_and_is_accepted() {
    // SIG-07: without a certificate there is no key; the service still compares the payload.
    let jws = signed_statement(json!({"alg": "RS256"}));
    let segments: Vec<&str> = jws.split('.').collect();
    let tampered = format!("{}.{}.{}", segments[0], URL_SAFE_NO_PAD.encode("{}"), segments[2]);
    assert_eq!(verify_jws(tampered.as_bytes(), 0), Ok(json!({})));
}

#[test]
fn a_leaf_certificate_of_another_key_is_refused() {
    let jws = signed_statement(json!({"alg": "RS384", "x5c": [pem_base64(CERT_B), pem_base64(CERT_A)]}));
    assert!(refusal(&jws).contains("RS384 signature does not verify"));
}

#[test]
fn malformed_signatures_are_refused_saying_which_check_failed() {
    let good = signed_statement(json!({"alg": "RS256"}));
    let (header, rest) = good.split_once('.').unwrap();
    let encode = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "HS256",
            format!("{}.{rest}", encode(json!({"alg": "HS256"}))),
            "alg must be RS256, RS384 or RS512, not \"HS256\"",
        ),
        ("alg none", format!("{}.{rest}", encode(json!({"alg": "none"}))), "not \"none\""),
        ("lowercase alg", format!("{}.{rest}", encode(json!({"alg": "rs256"}))), "not \"rs256\""),
        ("no alg", format!("{}.{rest}", encode(json!({"typ": "JWT"}))), "header has no alg"),
        ("two segments", format!("{header}.{}", rest.split('.').next().unwrap()), "found 2 segment(s)"),
        ("four segments", format!("{good}.e30"), "found 4 segment(s)"),
        ("JSON serialization", json!({"payload": "e30", "signatures": []}).to_string(), "compact serialization"),
        ("header not base64url", format!("***.{rest}"), "header must be a base64url-encoded JSON object"),
        ("header not an object", format!("{}.{rest}", encode(json!(["RS256"]))), "header must be"),
        ("payload not base64url", format!("{header}.***.AAAA"), "payload is not valid base64url"),
        (
            "payload not JSON",
            sign(&json!({"alg": "RS256"}), statement().to_string().replacen('"', "'", 1).as_bytes()),
            "payload must be the signed statement as JSON",
        ),
        (
            "empty signature",
            format!("{header}.{}.", URL_SAFE_NO_PAD.encode("{}")),
            "signature segment must be non-empty",
        ),
        (
            "x5c not an array",
            signed_statement(json!({"alg": "RS256", "x5c": pem_base64(CERT_A)})),
            "x5c must be a non-empty array",
        ),
        ("x5c empty", signed_statement(json!({"alg": "RS256", "x5c": []})), "x5c must be a non-empty array"),
        ("x5c not base64", signed_statement(json!({"alg": "RS256", "x5c": ["%%"]})), "x5c[0] is not valid base64"),
        (
            "x5c not a certificate",
            signed_statement(json!({"alg": "RS256", "x5c": ["AAAA"]})),
            "x5c[0] is not a DER X.509 certificate",
        ),
        (
            "x5c with an EC key",
            signed_statement(json!({"alg": "RS256", "x5c": [pem_base64(CERT_EC)]})),
            "must hold an RSA public key",
        ),
    ];
    for (description, jws, message) in cases {
        let error = refusal(&jws);
        assert!(error.starts_with("attachments[2]: signature"), "{description}: {error}");
        assert!(error.contains(message), "{description}: {error:?} should mention {message:?}");
    }
}

#[test]
fn bytes_that_are_not_text_are_refused() {
    let error = verify_jws(b"\xff\xfe.a.b", 0).unwrap_err();
    assert_eq!(error.path, "attachments[0]");
    assert!(error.rule.contains("not ASCII text"));
}

#[test]
fn a_jws_made_by_openssl_with_x5c_verifies() {
    // An independent signer: `openssl dgst -sha512 -sign testdata/jws-key-a.pem` over the
    // encoded header (RS512, x5c = certificate A) and payload.
    let jws = include_str!("testdata/jws-openssl-rs512.txt");

    let payload = verify_jws(jws.as_bytes(), 0).unwrap();

    assert_eq!(payload["actor"]["mbox"], "mailto:openssl@example.com");
}

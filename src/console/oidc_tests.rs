//! Attacker tests of ID token validation: tokens signed by the provider's key pass; forged,
//! expired, misaddressed, replayed-nonce and symmetric-algorithm tokens are refused.

use super::*;
use jsonwebtoken::{EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;

const ISSUER: &str = "https://idp.example.com";
const CLIENT: &str = "fluency-console";

struct Signer {
    key: EncodingKey,
    jwk: Value,
}

fn signer(kid: &str) -> Signer {
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("an RSA key");
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": b64(private.n().to_bytes_be()), "e": b64(private.e().to_bytes_be())});
    let der = private.to_pkcs1_der().expect("DER");
    Signer { key: EncodingKey::from_rsa_der(der.as_bytes()), jwk }
}

fn client(published: &[&Signer]) -> OidcClient {
    let settings: OidcSettings =
        toml::from_str(&format!("issuer = {ISSUER:?}\nclient_id = {CLIENT:?}\nclient_secret = \"s\"\n")).unwrap();
    let client = OidcClient::new(settings, "http://lrs/console/auth/callback".into()).unwrap();
    let keys: JwkSet =
        serde_json::from_value(json!({"keys": published.iter().map(|s| &s.jwk).collect::<Vec<_>>()})).unwrap();
    let discovery = Discovery {
        issuer: ISSUER.into(),
        authorization_endpoint: format!("{ISSUER}/auth"),
        token_endpoint: format!("{ISSUER}/token"),
        jwks_uri: format!("{ISSUER}/jwks"),
        userinfo_endpoint: None,
    };
    *client.provider.try_write().unwrap() = Some(Provider { discovery, keys, keys_fetched: Instant::now() });
    client
}

fn claims(changes: Value) -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({"iss": ISSUER, "aud": CLIENT, "sub": "person-1", "nonce": "n-1",
        "iat": now, "exp": now + 300, "groups": ["leader:Team 1"]});
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn sign(signer: &Signer, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &signer.key).unwrap()
}

#[tokio::test]
async fn a_token_signed_by_the_provider_for_us_is_accepted() {
    let provider = signer("k1");
    let client = client(&[&provider]);

    let accepted = client.validate(&sign(&provider, "k1", &claims(json!({}))), "n-1").await.unwrap();

    assert_eq!(accepted["sub"], "person-1");
}

#[tokio::test]
async fn forged_expired_misaddressed_and_replayed_tokens_are_refused() {
    let provider = signer("k1");
    let attacker = signer("k1");
    let client = client(&[&provider]);
    let now = jsonwebtoken::get_current_timestamp();
    let cases = [
        ("signed by another key under the provider's key id", sign(&attacker, "k1", &claims(json!({})))),
        ("signed by a key the provider does not publish", sign(&attacker, "k2", &claims(json!({})))),
        ("expired", sign(&provider, "k1", &claims(json!({"exp": now - 3600})))),
        ("without an expiry", sign(&provider, "k1", &claims(json!({"exp": null})))),
        ("for another client", sign(&provider, "k1", &claims(json!({"aud": "someone-else"})))),
        ("from another issuer", sign(&provider, "k1", &claims(json!({"iss": "https://evil.example.com"})))),
        ("for another sign-in (nonce)", sign(&provider, "k1", &claims(json!({"nonce": "n-2"})))),
        ("without a nonce", sign(&provider, "k1", &claims(json!({"nonce": null})))),
        ("issued in the future", sign(&provider, "k1", &claims(json!({"iat": now + 3600})))),
        (
            "several audiences, another authorized party",
            sign(&provider, "k1", &claims(json!({"aud": [CLIENT, "other"], "azp": "other"}))),
        ),
    ];
    for (description, token) in cases {
        let refused = client.validate(&token, "n-1").await;
        assert!(matches!(refused, Err(SignInError::Token(_))), "{description}: {refused:?}");
    }
}

#[tokio::test]
async fn symmetric_and_unsigned_tokens_are_refused_before_any_key_is_tried() {
    let client = client(&[&signer("k1")]);
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(b"the client secret"),
    )
    .unwrap();
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    let unsigned = format!("eyJhbGciOiJub25lIn0.{body}.");

    for (description, token) in [("HS256", hs256), ("alg none", unsigned), ("not a JWT", "x.y".into())] {
        let refused = client.validate(&token, "n-1").await;
        assert!(matches!(refused, Err(SignInError::Token(_))), "{description}: {refused:?}");
    }
}

#[tokio::test]
async fn the_authorization_request_carries_a_pkce_challenge_state_and_nonce() {
    let client = client(&[&signer("k1")]);

    let request = client.authorization_request().await.unwrap();

    let query = request.url.split_once('?').unwrap().1;
    let params: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(request.verifier.as_bytes()));
    assert_eq!(params["code_challenge"], challenge);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["state"], request.state);
    assert_eq!(params["nonce"], request.nonce);
    assert_eq!(params["response_type"], "code");
    assert!(params["scope"].split(' ').any(|s| s == "openid"));
    assert!(request.verifier.len() >= 43, "RFC 7636 wants at least 43 characters");
}

#[tokio::test]
async fn a_token_whose_algorithm_differs_from_its_key_s_declared_one_is_refused() {
    let mut provider = signer("k1");
    provider.jwk["alg"] = json!("RS512");
    let client = client(&[&provider]);

    let refused = client.validate(&sign(&provider, "k1", &claims(json!({}))), "n-1").await;

    assert!(matches!(refused, Err(SignInError::Token(_))), "{refused:?}");
}

//! OpenID Connect sign-in: the authorization code flow with PKCE (S256) against any
//! standard provider. The provider is found by discovery from its issuer (checked to be
//! the one configured), its signing keys are fetched from `jwks_uri` (again when a token
//! names an unknown key), and an ID token is accepted only with a valid signature by one of
//! them (asymmetric algorithms only), the issuer, our client id as audience (and as `azp`
//! when there are several), the nonce of this login, and an expiry still ahead.

use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use super::settings::OidcSettings;
use crate::auth::secret::random_token;

/// Keys are fetched again at most this often when a token names an unknown one.
const KEYS_REFRESH: Duration = Duration::from_secs(60);
/// Clock difference tolerated on `exp` and `iat`.
const LEEWAY_SECONDS: u64 = 60;
/// Most bytes read from the provider in one answer.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the identity provider could not be reached or answered badly: {0}")]
    Provider(String),
    #[error("the ID token was refused: {0}")]
    Token(String),
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
}

#[derive(Clone, Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

struct Provider {
    discovery: Discovery,
    keys: JwkSet,
    keys_fetched: Instant,
}

/// Where to send the browser, and what to remember until it comes back.
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

pub struct OidcClient {
    settings: OidcSettings,
    redirect_uri: String,
    http: reqwest::Client,
    provider: RwLock<Option<Provider>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: String,
    #[serde(default)]
    access_token: Option<String>,
}

impl OidcClient {
    pub fn new(settings: OidcSettings, redirect_uri: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // A provider never needs to redirect its API calls; following could leak the code.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { settings, redirect_uri, http, provider: RwLock::new(None) })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The provider's authorization URL for a fresh login.
    pub async fn authorization_request(&self) -> Result<AuthorizationRequest, SignInError> {
        let endpoint = self.discovery().await?.authorization_endpoint;
        let (state, nonce, verifier) = (random_token(32), random_token(32), random_token(64));
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut scopes = vec!["openid".to_string()];
        scopes.extend(self.settings.scopes.iter().filter(|s| *s != "openid").cloned());
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Ok(AuthorizationRequest { url: format!("{endpoint}{separator}{query}"), state, nonce, verifier })
    }

    /// Redeems the code and returns the person's validated claims (with the userinfo
    /// endpoint's when the ID token lacks the roles claim).
    pub async fn redeem(&self, code: &str, verifier: &str, nonce: &str) -> Result<Value, SignInError> {
        let discovery = self.discovery().await?;
        let answer = self
            .http
            .post(&discovery.token_endpoint)
            .basic_auth(encode_client(&self.settings.client_id), Some(encode_client(&self.settings.client_secret)))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| SignInError::Provider(format!("token endpoint: {e}")))?;
        let status = answer.status();
        let body = read_limited(answer).await?;
        if !status.is_success() {
            let error: Value = serde_json::from_slice(&body).unwrap_or_default();
            let reason = error.get("error").and_then(Value::as_str).unwrap_or("no reason given");
            return Err(SignInError::Refused(format!("token endpoint answered {status}: {reason}")));
        }
        let tokens: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| SignInError::Provider(format!("token endpoint: not a token answer: {e}")))?;
        let mut claims = self.validate(&tokens.id_token, nonce).await?;
        if claims.get(&self.settings.roles_claim).is_none() {
            if let (Some(endpoint), Some(access)) = (&discovery.userinfo_endpoint, &tokens.access_token) {
                self.merge_userinfo(&mut claims, endpoint, access).await?;
            }
        }
        Ok(claims)
    }

    /// Checks an ID token and returns its claims.
    pub async fn validate(&self, token: &str, nonce: &str) -> Result<Value, SignInError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| SignInError::Token(format!("header: {e}")))?;
        if !is_asymmetric(header.alg) {
            return Err(SignInError::Token(format!(
                "alg {:?} is not accepted (asymmetric signatures only)",
                header.alg
            )));
        }
        let key = self.key_for(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let data =
            jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| SignInError::Token(e.to_string()))?;
        let claims = data.claims;
        check_claims(&claims, &self.settings.client_id, nonce)?;
        Ok(claims)
    }

    async fn merge_userinfo(&self, claims: &mut Value, endpoint: &str, access: &str) -> Result<(), SignInError> {
        let answer = self
            .http
            .get(endpoint)
            .bearer_auth(access)
            .send()
            .await
            .map_err(|e| SignInError::Provider(format!("userinfo: {e}")))?;
        if !answer.status().is_success() {
            return Err(SignInError::Provider(format!("userinfo answered {}", answer.status())));
        }
        let info: Value = serde_json::from_slice(&read_limited(answer).await?)
            .map_err(|e| SignInError::Provider(format!("userinfo: not JSON: {e}")))?;
        // Userinfo about someone else must not add to this person's roles.
        if info.get("sub") != claims.get("sub") {
            return Err(SignInError::Token("userinfo describes another subject".into()));
        }
        if let (Some(into), Some(from)) = (claims.as_object_mut(), info.as_object()) {
            for (name, value) in from {
                into.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        Ok(())
    }

    async fn discovery(&self) -> Result<Discovery, SignInError> {
        if let Some(provider) = &*self.provider.read().await {
            return Ok(provider.discovery.clone());
        }
        let mut slot = self.provider.write().await;
        if let Some(provider) = &*slot {
            return Ok(provider.discovery.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer.trim_end_matches('/'));
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer != self.settings.issuer {
            return Err(SignInError::Provider(format!(
                "discovery names the issuer {:?}, not the configured {:?} (console.oidc.issuer)",
                discovery.issuer, self.settings.issuer
            )));
        }
        let keys: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        *slot = Some(Provider { discovery: discovery.clone(), keys, keys_fetched: Instant::now() });
        Ok(discovery)
    }

    /// The provider's key for a token, fetching the key set again (at most once a
    /// `KEYS_REFRESH`) when it names a key not yet known.
    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, SignInError> {
        self.discovery().await?;
        if let Some(key) = self.known_key(kid, alg).await? {
            return Ok(key);
        }
        let mut slot = self.provider.write().await;
        let provider = slot.as_mut().expect("discovered above");
        if provider.keys_fetched.elapsed() >= KEYS_REFRESH {
            provider.keys = self.get_json(&provider.discovery.jwks_uri).await?;
            provider.keys_fetched = Instant::now();
        }
        drop(slot);
        self.known_key(kid, alg)
            .await?
            .ok_or_else(|| SignInError::Token("signed by a key the provider does not publish".into()))
    }

    async fn known_key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Option<DecodingKey>, SignInError> {
        let slot = self.provider.read().await;
        let Some(provider) = &*slot else { return Ok(None) };
        let keys = &provider.keys.keys;
        let found = match kid {
            Some(kid) => keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)),
            // Without a key id, only an unambiguous key set is usable.
            None if keys.len() == 1 => keys.first(),
            None => None,
        };
        let Some(jwk) = found else { return Ok(None) };
        let declared = jwk.common.key_algorithm.map(|declared| declared.to_string().parse::<Algorithm>().ok());
        if declared.is_some_and(|declared| declared != Some(alg)) {
            return Err(SignInError::Token(format!("the key is for another algorithm than {alg:?}")));
        }
        DecodingKey::from_jwk(jwk).map(Some).map_err(|e| SignInError::Provider(format!("jwks: unusable key: {e}")))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, SignInError> {
        let answer = self.http.get(url).send().await.map_err(|e| SignInError::Provider(format!("{url}: {e}")))?;
        if !answer.status().is_success() {
            return Err(SignInError::Provider(format!("{url} answered {}", answer.status())));
        }
        let body = read_limited(answer).await?;
        serde_json::from_slice(&body).map_err(|e| SignInError::Provider(format!("{url}: {e}")))
    }
}

fn is_asymmetric(alg: Algorithm) -> bool {
    use Algorithm::*;
    matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA)
}

/// What the library leaves to us: the nonce, `azp` with several audiences, `iat` not ahead.
fn check_claims(claims: &Value, client_id: &str, nonce: &str) -> Result<(), SignInError> {
    let given = claims.get("nonce").and_then(Value::as_str).unwrap_or_default();
    if !super::session::same_token(given, nonce) {
        return Err(SignInError::Token("nonce: does not match this sign-in".into()));
    }
    if let Some(Value::Array(audiences)) = claims.get("aud") {
        if audiences.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(client_id) {
            return Err(SignInError::Token("azp: must be our client id when there are several audiences".into()));
        }
    }
    let now = jsonwebtoken::get_current_timestamp();
    if claims.get("iat").and_then(Value::as_u64).is_some_and(|iat| iat > now + LEEWAY_SECONDS) {
        return Err(SignInError::Token("iat: issued in the future".into()));
    }
    Ok(())
}

/// RFC 6749 2.3.1: the client id and secret are form-encoded before Basic encoding.
fn encode_client(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn read_limited(mut answer: reqwest::Response) -> Result<Vec<u8>, SignInError> {
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(|e| SignInError::Provider(e.to_string()))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(SignInError::Provider(format!("answer larger than {MAX_ANSWER_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;

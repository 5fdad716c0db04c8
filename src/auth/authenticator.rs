//! Resolves an `Authorization` header to a `Principal`. Argon2 verification is slow by
//! design, so a verification is remembered for a short time under a keyed fingerprint of
//! the credentials (never the secret itself): successes to skip the hash, failures so that
//! repeating a wrong secret costs nothing. An unknown key is verified against a dummy hash,
//! so response time does not tell which keys exist, and failed attempts are limited per
//! key and per client address (429 with `Retry-After`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::limiter::{FailureLimiter, Subject};
use super::scope::{self, Access, ReadReach, Scope};
use super::secret::{hash_secret, random_token, verify_secret};
use crate::error::{ApiError, ErrorCode};
use crate::storage::{CredentialRecord, Store};

/// How long a verified credential is trusted without asking the store again; a revoked
/// credential stops working at most this long after revocation.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// How long credentials that verified stay exempt from the failure limit (they are still
/// verified again after `CACHE_TTL`).
const PROVEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const CACHE_CAPACITY: usize = 10_000;
/// Argon2 verifications running at once. Each uses ~19 MB and a core by design; when a
/// cached credential expires under load, the waiting requests find the fresh entry instead
/// of all verifying it again.
const CONCURRENT_VERIFICATIONS: usize = 2;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub key: String,
    pub scopes: Vec<Scope>,
    /// The Agent written as `authority` on the statements this caller stores.
    pub authority: Arc<Value>,
}

impl Principal {
    /// A principal whose authority is the account `name` on this LRS (`public_url`):
    /// credentials, rules and importers all write statements as such an account.
    pub fn for_account(public_url: &str, name: &str, scopes: Vec<Scope>) -> Self {
        let authority = json!({"objectType": "Agent", "account": {"homePage": public_url, "name": name}});
        Self { key: name.to_string(), scopes, authority: Arc::new(authority) }
    }

    pub fn require(&self, access: Access) -> Result<(), ApiError> {
        if scope::grants(&self.scopes, access) {
            return Ok(());
        }
        let held: Vec<_> = self.scopes.iter().map(|s| s.as_str()).collect();
        Err(ApiError::new(
            ErrorCode::MissingScope,
            format!("credential {:?} lacks a scope for {access:?}; it holds: {}", self.key, held.join(", ")),
        ))
    }

    pub fn may(&self, access: Access) -> bool {
        scope::grants(&self.scopes, access)
    }

    pub fn read_reach(&self) -> ReadReach {
        scope::read_reach(&self.scopes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("Authorization: required (HTTP Basic with a key and secret)")]
    Missing,
    #[error("Authorization: must be \"Basic \" followed by base64 of key:secret")]
    Malformed,
    #[error("Authorization: unknown key, wrong secret or revoked credential")]
    Invalid,
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let code = match error {
            AuthError::Missing => ErrorCode::MissingCredentials,
            AuthError::Malformed | AuthError::Invalid => ErrorCode::InvalidCredentials,
        };
        ApiError::new(code, error.to_string())
    }
}

/// What a verification concluded, remembered under the credentials' fingerprint.
#[derive(Clone)]
enum Verdict {
    Valid(Principal),
    Invalid,
}

pub struct Authenticator {
    store: Arc<dyn Store>,
    public_url: String,
    fingerprint_key: [u8; 32],
    verdicts: Mutex<HashMap<[u8; 32], (Instant, Verdict)>>,
    /// Credentials that verified within `PROVEN_TTL`: exempt from the failure limit.
    proven: Mutex<HashMap<[u8; 32], (Instant, ())>>,
    verifying: tokio::sync::Semaphore,
    verifications: std::sync::atomic::AtomicU64,
    failures: FailureLimiter,
    /// Verified in place of a missing or revoked credential's hash, at the same cost.
    dummy_hash: tokio::sync::OnceCell<String>,
}

impl Authenticator {
    /// `failures_per_minute` wrong attempts are allowed per key and per client address.
    pub fn new(store: Arc<dyn Store>, public_url: String, failures_per_minute: u32) -> Self {
        Self {
            store,
            public_url,
            fingerprint_key: rand::random(),
            verdicts: Mutex::new(HashMap::new()),
            proven: Mutex::new(HashMap::new()),
            verifying: tokio::sync::Semaphore::new(CONCURRENT_VERIFICATIONS),
            verifications: std::sync::atomic::AtomicU64::new(0),
            failures: FailureLimiter::new(failures_per_minute),
            dummy_hash: tokio::sync::OnceCell::new(),
        }
    }

    /// Argon2 verifications run so far (each a cache miss).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `client` is the peer address of the request, when known.
    pub async fn authenticate(&self, header: Option<&str>, client: Option<IpAddr>) -> Result<Principal, ApiError> {
        let header = header.ok_or(AuthError::Missing)?;
        let (key, secret) = parse_basic(header).ok_or(AuthError::Malformed)?;
        let fingerprint = self.fingerprint(&key, &secret);
        if let Some(Verdict::Valid(principal)) = self.cached(&fingerprint) {
            return Ok(principal);
        }
        // Repeating a wrong secret guesses nothing and costs no hash: not counted.
        if let Some(Verdict::Invalid) = self.cached(&fingerprint) {
            return Err(AuthError::Invalid.into());
        }
        let subjects: Vec<Subject> =
            std::iter::once(Subject::Key(key.clone())).chain(client.map(Subject::Address)).collect();
        // Credentials that verified before pass, so a client using its own secret is not
        // locked out by someone else's wrong guesses.
        if !self.proven(&fingerprint) {
            self.refuse_when_limited(&subjects)?;
        }
        let _permit = self.verifying.acquire().await.map_err(ApiError::internal)?;
        // Another request may have verified these credentials while this one waited, or
        // the guesses queued beside it may have reached the limit.
        match self.cached(&fingerprint) {
            Some(Verdict::Valid(principal)) => return Ok(principal),
            Some(Verdict::Invalid) => return Err(AuthError::Invalid.into()),
            None => {}
        }
        if !self.proven(&fingerprint) {
            self.refuse_when_limited(&subjects)?;
        }
        self.verifications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let record = self.store.find_credential(&key).await?;
        let usable = record.as_ref().filter(|c| !c.revoked);
        let hash = match usable {
            Some(record) => record.secret_hash.clone(),
            None => self.dummy_hash().await?,
        };
        let matches =
            tokio::task::spawn_blocking(move || verify_secret(&secret, &hash)).await.map_err(ApiError::internal)?;
        match usable {
            Some(record) if matches => {
                let principal = self.principal(record);
                self.failures.record_success(&key);
                self.remember(fingerprint, Verdict::Valid(principal.clone()));
                bounded_insert(&mut self.proven.lock().expect("proven lock"), fingerprint, (PROVEN_TTL, ()));
                Ok(principal)
            }
            _ => {
                self.remember(fingerprint, Verdict::Invalid);
                Err(self.failed(&subjects))
            }
        }
    }

    fn refuse_when_limited(&self, subjects: &[Subject]) -> Result<(), ApiError> {
        match self.failures.blocked(subjects) {
            Some(seconds) => Err(ApiError::new(
                ErrorCode::TooManyRequests,
                format!("Authorization: too many failed attempts for this key or address; retry in {seconds} s"),
            )
            .with_retry_after(seconds)),
            None => Ok(()),
        }
    }

    fn failed(&self, subjects: &[Subject]) -> ApiError {
        self.failures.record_failure(subjects);
        AuthError::Invalid.into()
    }

    /// A hash made like every stored one, of a secret nobody knows.
    async fn dummy_hash(&self) -> Result<String, ApiError> {
        let hash = self
            .dummy_hash
            .get_or_try_init(|| async {
                let secret = random_token(40);
                tokio::task::spawn_blocking(move || hash_secret(&secret))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal)
            })
            .await?;
        Ok(hash.clone())
    }

    /// The principal of a credential that was authenticated earlier (e.g. when a `more`
    /// link was issued), if the credential is still valid.
    pub async fn principal_for_key(&self, key: &str) -> Result<Option<Principal>, ApiError> {
        let record = self.store.find_credential(key).await?;
        Ok(record.filter(|c| !c.revoked).map(|c| self.principal(&c)))
    }

    fn principal(&self, record: &CredentialRecord) -> Principal {
        let scopes = record.scopes.iter().filter_map(|s| s.parse().ok()).collect();
        Principal::for_account(&self.public_url, &record.key, scopes)
    }

    fn fingerprint(&self, key: &str, secret: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.fingerprint_key).expect("any key length works");
        mac.update(key.as_bytes());
        mac.update(&[0]);
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn proven(&self, fingerprint: &[u8; 32]) -> bool {
        let proven = self.proven.lock().expect("proven lock");
        proven.get(fingerprint).is_some_and(|(at, _)| at.elapsed() < PROVEN_TTL)
    }

    fn cached(&self, fingerprint: &[u8; 32]) -> Option<Verdict> {
        let cache = self.verdicts.lock().expect("cache lock");
        cache.get(fingerprint).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, v)| v.clone())
    }

    fn remember(&self, fingerprint: [u8; 32], verdict: Verdict) {
        bounded_insert(&mut self.verdicts.lock().expect("cache lock"), fingerprint, (CACHE_TTL, verdict));
    }
}

/// Inserts, first dropping expired entries (then all) when the map is full.
fn bounded_insert<V>(map: &mut HashMap<[u8; 32], (Instant, V)>, fingerprint: [u8; 32], (ttl, value): (Duration, V)) {
    if map.len() >= CACHE_CAPACITY {
        map.retain(|_, (at, _)| at.elapsed() < ttl);
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
    }
    map.insert(fingerprint, (Instant::now(), value));
}

/// `Basic base64(key:secret)` -> (key, secret). The scheme name is case-insensitive.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (key, secret) = text.split_once(':')?;
    if key.is_empty() {
        return None;
    }
    Some((key.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{create_credential, Scope};
    use crate::storage::sqlite::{SqliteSettings, SqliteStore};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_with_the_same_credentials_verify_the_secret_at_most_once_per_permit() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(SqliteSettings::new(dir.path().join("db"))).unwrap());
        let created = create_credential(&store, vec![Scope::All], "test", None).await.unwrap();
        let authenticator = Arc::new(Authenticator::new(store, "http://lrs.example".into(), 10));
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", created.key, created.secret))
        );

        let logins = (0..16).map(|_| {
            let (authenticator, header) = (authenticator.clone(), header.clone());
            tokio::spawn(async move { authenticator.authenticate(Some(&header), None).await.map(|p| p.key) })
        });
        let keys: Vec<_> = futures_util::future::join_all(logins).await;

        assert!(keys.iter().all(|k| k.as_ref().unwrap().as_ref().unwrap() == &created.key));
        let verifications = authenticator.verifications();
        assert!((1..=CONCURRENT_VERIFICATIONS as u64).contains(&verifications), "{verifications} verifications");
    }

    #[test]
    fn basic_headers_parse_and_malformed_ones_do_not() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("key:se:cret");
        assert_eq!(parse_basic(&format!("Basic {encoded}")), Some(("key".into(), "se:cret".into())));
        assert_eq!(parse_basic(&format!("basic {encoded}")), Some(("key".into(), "se:cret".into())));
        for bad in ["Basic:xxxx", "Bearer abc", "Basic !!!", "Basic", "Basic Og=="] {
            assert_eq!(parse_basic(bad), None, "{bad}");
        }
    }
}

//! Creating credentials, and the administrator credential made on first start.

use std::sync::Arc;

use super::scope::Scope;
use super::secret::{hash_secret, random_token};
use crate::storage::{CredentialRecord, Store};
use crate::xapi::time::now_micros;

/// A credential as shown to its owner once: the secret is not kept anywhere else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCredential {
    pub key: String,
    pub secret: String,
    pub scopes: Vec<Scope>,
}

/// Stores a credential with the given (or a generated) key and secret.
pub async fn create_credential(
    store: &Arc<dyn Store>,
    scopes: Vec<Scope>,
    label: &str,
    key_and_secret: Option<(String, String)>,
) -> anyhow::Result<NewCredential> {
    let (key, secret) = key_and_secret.unwrap_or_else(|| (random_token(20), random_token(40)));
    // HTTP Basic ends the key at its first colon; rules' own accounts use one.
    anyhow::ensure!(!key.is_empty() && !key.contains(':'), "key {key:?}: must be non-empty and contain no colon");
    let secret_hash = {
        let secret = secret.clone();
        tokio::task::spawn_blocking(move || hash_secret(&secret)).await??
    };
    let record = CredentialRecord {
        key: key.clone(),
        secret_hash,
        scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
        label: label.to_string(),
        created: now_micros(),
        revoked: false,
    };
    store.insert_credential(record).await?;
    Ok(NewCredential { key, secret, scopes })
}

/// Makes sure an administrator (`all` and `admin`) credential exists. With `configured` key and secret
/// (from `FLUENCY_ADMIN_KEY` / `FLUENCY_ADMIN_SECRET`) that credential is created when its
/// key is unknown; otherwise one is generated when the store has no credential at all.
/// Returns the credential when one was created, so the caller can show it once.
pub async fn ensure_admin_credential(
    store: &Arc<dyn Store>,
    configured: Option<(String, String)>,
) -> anyhow::Result<Option<NewCredential>> {
    match configured {
        Some((key, secret)) => {
            if store.find_credential(&key).await?.is_some() {
                return Ok(None);
            }
            Ok(Some(
                create_credential(store, vec![Scope::All, Scope::Admin], "administrator", Some((key, secret))).await?,
            ))
        }
        None => {
            if !store.query_credentials().await?.is_empty() {
                return Ok(None);
            }
            Ok(Some(create_credential(store, vec![Scope::All, Scope::Admin], "administrator", None).await?))
        }
    }
}

//! The issuer: its Profile, its DID and the keys behind it. `did:key` (the default) needs no
//! public name: each key is its own DID, so a rotated key's credentials keep verifying under
//! the DID they name. `did:web` names the configured public URL's host, and its DID document
//! (served at `/.well-known/did.json`) lists every key, old ones included.

use std::sync::Mutex;

use anyhow::{bail, Context};
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::canon::CanonError;
use super::contexts::MULTIKEY_V1;
use super::document::IssuerProfile;
use super::keys::{parse_multikey, IssuerKey, KeyRing};
use super::proof;

/// Which DID method names the issuer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DidMethod {
    #[default]
    Key,
    Web,
}

/// The `[credentials]` table of the configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialsSettings {
    /// The issuer Profile's `name`.
    pub issuer_name: String,
    /// The issuer Profile's `url` (a web page about the issuer).
    pub issuer_url: Option<String>,
    /// `key` or `web` (needs an https `public_url`).
    pub did_method: DidMethod,
    /// Delivery targets told of every award.
    pub notify: Vec<String>,
    /// Seconds between two looks at `<data_dir>/achievements/` (0: never).
    pub reload_seconds: u64,
}

impl Default for CredentialsSettings {
    fn default() -> Self {
        Self {
            issuer_name: "Fluency".into(),
            issuer_url: None,
            did_method: DidMethod::Key,
            notify: Vec::new(),
            reload_seconds: 5,
        }
    }
}

/// `did:web:<host>` for an https URL without a path (a port is percent-encoded).
pub fn did_web(public_url: &str) -> anyhow::Result<String> {
    let Some(rest) = public_url.strip_prefix("https://") else {
        bail!("credentials.did_method = \"web\" needs an https public_url, not {public_url:?}");
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') {
        bail!("credentials.did_method = \"web\" needs a public_url without a path ({public_url:?})");
    }
    Ok(format!("did:web:{}", host.replace(':', "%3A")))
}

pub struct Issuer {
    ring: KeyRing,
    method: DidMethod,
    web_did: Option<String>,
    name: String,
    url: Option<String>,
    /// The current key, kept while the `current` file names it.
    cached: Mutex<Option<std::sync::Arc<IssuerKey>>>,
}

impl Issuer {
    pub fn new(ring: KeyRing, settings: &CredentialsSettings, public_url: &str) -> anyhow::Result<Self> {
        let web_did = match settings.did_method {
            DidMethod::Web => Some(did_web(public_url)?),
            DidMethod::Key => None,
        };
        Ok(Self {
            ring,
            method: settings.did_method,
            web_did,
            name: settings.issuer_name.clone(),
            url: settings.issuer_url.clone(),
            cached: Mutex::new(None),
        })
    }

    pub fn method(&self) -> DidMethod {
        self.method
    }

    /// The key credentials are signed with now.
    pub fn current_key(&self) -> anyhow::Result<std::sync::Arc<IssuerKey>> {
        let name = self.ring.current_name()?;
        let mut cached = self.cached.lock().expect("issuer key lock");
        if let (Some(key), Some(name)) = (cached.as_ref(), name.as_deref()) {
            if key.multikey() == name {
                return Ok(key.clone());
            }
        }
        let key = std::sync::Arc::new(self.ring.current()?);
        *cached = Some(key.clone());
        Ok(key)
    }

    pub fn rotate(&self) -> anyhow::Result<String> {
        let key = self.ring.rotate()?;
        *self.cached.lock().expect("issuer key lock") = None;
        Ok(key.multikey().to_string())
    }

    /// The issuer DID for credentials signed by `key`.
    pub fn did_for(&self, key: &IssuerKey) -> String {
        self.web_did.clone().unwrap_or_else(|| key.did_key())
    }

    pub fn verification_method(&self, key: &IssuerKey) -> String {
        format!("{}#{}", self.did_for(key), key.multikey())
    }

    pub fn profile(&self, key: &IssuerKey) -> IssuerProfile {
        IssuerProfile { id: self.did_for(key), name: self.name.clone(), url: self.url.clone() }
    }

    /// Signs `document` with the current key (or `key`) as of `created`.
    pub fn sign(
        &self,
        document: Map<String, Value>,
        key: &IssuerKey,
        created: &str,
    ) -> Result<Map<String, Value>, CanonError> {
        proof::sign(document, key, &self.verification_method(key), created)
    }

    /// One of our keys by its multikey name (for status lists of older credentials).
    pub fn key_named(&self, multikey: &str) -> anyhow::Result<IssuerKey> {
        parse_multikey(multikey).map_err(anyhow::Error::msg)?;
        self.ring.load(multikey)
    }

    /// The DID document of the did:web issuer; `None` with did:key.
    pub fn did_document(&self) -> anyhow::Result<Option<Value>> {
        let Some(did) = &self.web_did else { return Ok(None) };
        let keys = self.ring.public_keys().context("listing issuer keys")?;
        let methods: Vec<Value> = keys
            .iter()
            .map(|key| json!({"id": format!("{did}#{key}"), "type": "Multikey", "controller": did, "publicKeyMultibase": key}))
            .collect();
        let ids: Vec<Value> = keys.iter().map(|key| json!(format!("{did}#{key}"))).collect();
        Ok(Some(json!({
            "@context": ["https://www.w3.org/ns/did/v1", MULTIKEY_V1],
            "id": did,
            "verificationMethod": methods,
            "assertionMethod": ids,
        })))
    }

    /// The public key a verification method names, when it belongs to `issuer`: any did:key
    /// (it is the key), and our own did:web's keys. Nothing is fetched.
    pub fn resolve(&self, issuer: &str, verification_method: &str) -> Result<VerifyingKey, String> {
        let (did, fragment) = verification_method
            .split_once('#')
            .ok_or_else(|| format!("proof.verificationMethod {verification_method:?} has no #fragment"))?;
        if did != issuer {
            return Err(format!(
                "proof.verificationMethod {verification_method:?} is not a key of the issuer {issuer:?}"
            ));
        }
        if let Some(multikey) = did.strip_prefix("did:key:") {
            if multikey != fragment {
                return Err(format!(
                    "proof.verificationMethod {verification_method:?}: a did:key's key is its own fragment"
                ));
            }
            return parse_multikey(multikey).map_err(|e| format!("issuer did:key: {e}"));
        }
        if self.web_did.as_deref() == Some(did) {
            let keys = self.ring.public_keys().map_err(|e| e.to_string())?;
            if keys.iter().any(|key| key == fragment) {
                return parse_multikey(fragment);
            }
            return Err(format!(
                "proof.verificationMethod {verification_method:?} is not in this issuer's DID document"
            ));
        }
        Err(format!("issuer {issuer:?}: only did:key issuers and this server's own DID can be resolved here"))
    }
}

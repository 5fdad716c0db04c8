//! Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite: the proof configuration and
//! the unsecured document are each canonicalised (RDFC-1.0) and hashed (SHA-256), and Ed25519
//! signs the proof configuration's hash followed by the document's. `proofValue` is the
//! signature in base58btc multibase.

use ed25519_dalek::VerifyingKey;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::canon::{canonical_nquads, CanonError};
use super::keys::{verify_signature, IssuerKey};

pub const PROOF_TYPE: &str = "DataIntegrityProof";
pub const CRYPTOSUITE: &str = "eddsa-rdfc-2022";
pub const ASSERTION_METHOD: &str = "assertionMethod";

/// Why a proof does not hold.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProofError {
    #[error("the credential has no proof")]
    Missing,
    #[error("proof: {0}")]
    Malformed(String),
    #[error("proof.verificationMethod {0:?} is not a key of the issuer")]
    UnknownKey(String),
    #[error("the signature does not match the credential (it was changed, or signed by another key)")]
    BadSignature,
    #[error("{0}")]
    Canonicalisation(String),
}

impl From<CanonError> for ProofError {
    fn from(error: CanonError) -> Self {
        ProofError::Canonicalisation(error.to_string())
    }
}

/// `document` with an `eddsa-rdfc-2022` proof made by `key` at `created` (xsd:dateTime).
pub fn sign(
    mut document: Map<String, Value>,
    key: &IssuerKey,
    verification_method: &str,
    created: &str,
) -> Result<Map<String, Value>, CanonError> {
    document.remove("proof");
    let mut proof = Map::new();
    proof.insert("type".into(), PROOF_TYPE.into());
    proof.insert("cryptosuite".into(), CRYPTOSUITE.into());
    proof.insert("created".into(), created.into());
    proof.insert("verificationMethod".into(), verification_method.into());
    proof.insert("proofPurpose".into(), ASSERTION_METHOD.into());
    let signed = hash_data(&document, &proof)?;
    let signature = key.sign(&signed);
    proof.insert("proofValue".into(), format!("z{}", bs58::encode(signature).into_string()).into());
    document.insert("proof".into(), Value::Object(proof));
    Ok(document)
}

/// The verification method a document's proof names, before any check.
pub fn verification_method(document: &Map<String, Value>) -> Result<&str, ProofError> {
    let proof = document.get("proof").ok_or(ProofError::Missing)?;
    proof
        .get("verificationMethod")
        .and_then(Value::as_str)
        .ok_or_else(|| ProofError::Malformed("verificationMethod must be a string".into()))
}

/// Checks the document's single proof against `key` (which the caller resolved from the
/// proof's verification method and checked belongs to the issuer).
pub fn verify(document: &Map<String, Value>, key: &VerifyingKey) -> Result<(), ProofError> {
    let Some(Value::Object(proof)) = document.get("proof") else {
        return Err(match document.get("proof") {
            None => ProofError::Missing,
            Some(_) => ProofError::Malformed("must be one object (a proof set or chain is not accepted)".into()),
        });
    };
    let field = |name: &str| proof.get(name).and_then(Value::as_str);
    if field("type") != Some(PROOF_TYPE) {
        return Err(ProofError::Malformed(format!("type must be {PROOF_TYPE:?}")));
    }
    if field("cryptosuite") != Some(CRYPTOSUITE) {
        return Err(ProofError::Malformed(format!("cryptosuite must be {CRYPTOSUITE:?}")));
    }
    if field("proofPurpose") != Some(ASSERTION_METHOD) {
        return Err(ProofError::Malformed(format!("proofPurpose must be {ASSERTION_METHOD:?}")));
    }
    let signature = field("proofValue")
        .and_then(|value| value.strip_prefix('z'))
        .and_then(|encoded| bs58::decode(encoded).into_vec().ok())
        .ok_or_else(|| ProofError::Malformed("proofValue must be base58btc multibase ('z…')".into()))?;
    let mut options = proof.clone();
    options.remove("proofValue");
    options.remove("@context");
    let mut unsecured = document.clone();
    unsecured.remove("proof");
    let signed = hash_data(&unsecured, &options)?;
    match verify_signature(key, &signed, &signature) {
        true => Ok(()),
        false => Err(ProofError::BadSignature),
    }
}

/// `sha256(canonical proof configuration) ‖ sha256(canonical document)`; the configuration
/// is read with the document's own `@context`.
fn hash_data(unsecured: &Map<String, Value>, proof_options: &Map<String, Value>) -> Result<Vec<u8>, CanonError> {
    let mut config = proof_options.clone();
    if let Some(context) = unsecured.get("@context") {
        config.insert("@context".into(), context.clone());
    }
    let config_hash = Sha256::digest(canonical_nquads(&Value::Object(config))?.as_bytes());
    let document_hash = Sha256::digest(canonical_nquads(&Value::Object(unsecured.clone()))?.as_bytes());
    Ok([config_hash.as_slice(), document_hash.as_slice()].concat())
}

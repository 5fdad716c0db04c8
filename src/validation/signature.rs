//! Signed statements (digest §3.12): checks the JWS held by a signature attachment part and
//! returns its payload. Called by the statement service, which then compares the payload with
//! the statement using its own equivalence rules (SIG-05). Well-formedness, not trust (SIG-09).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

use super::ValidationError;

/// The `usageType` that marks an attachment as the statement's signature (SIG-01).
pub const SIGNATURE_USAGE: &str = "http://adlnet.gov/expapi/attachments/signature";

/// JWS segments are unpadded base64url; padding is tolerated since it changes nothing.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `x5c` entries are standard (not URL-safe) base64 DER certificates (RFC 7515 §4.1.6).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, Copy)]
enum Alg {
    Rs256,
    Rs384,
    Rs512,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
        }
    }
}

/// Checks the bytes of the signature part of `attachments[attachment_index]`: a compact JWS
/// (SIG-02) with `alg` RS256, RS384 or RS512 (SIG-03) and a JSON payload (SIG-04). With an
/// `x5c` header the signature must verify against the leaf certificate's RSA key (SIG-07);
/// without one there is nothing to verify against, and the JWS is accepted. Returns the payload.
pub fn verify_jws(jws: &[u8], attachment_index: usize) -> Result<Value, ValidationError> {
    let refuse = |rule: String| ValidationError::new(format!("attachments[{attachment_index}]"), rule);

    let text = std::str::from_utf8(jws)
        .map_err(|_| refuse("signature must be a JWS in compact serialization, but it is not ASCII text".into()))?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    let segments: Vec<&str> = text.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = segments[..] else {
        return Err(refuse(format!(
            "signature must be a JWS in compact serialization (3 base64url segments separated by '.'), found {} segment(s)",
            segments.len()
        )));
    };

    let header = decode_segment(header_b64)
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(Value::is_object)
        .ok_or_else(|| refuse("signature JWS header must be a base64url-encoded JSON object".into()))?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) if alg == "RS256" => Alg::Rs256,
        Some(Value::String(alg)) if alg == "RS384" => Alg::Rs384,
        Some(Value::String(alg)) if alg == "RS512" => Alg::Rs512,
        Some(other) => return Err(refuse(format!("signature JWS alg must be RS256, RS384 or RS512, not {other}"))),
        None => return Err(refuse("signature JWS header has no alg; it must be RS256, RS384 or RS512".into())),
    };

    let payload_bytes =
        decode_segment(payload_b64).ok_or_else(|| refuse("signature JWS payload is not valid base64url".into()))?;
    let payload: Value = serde_json::from_slice(&payload_bytes).map_err(|e| {
        refuse(format!("signature JWS payload must be the signed statement as JSON, but it is not valid JSON ({e})"))
    })?;

    let signature = decode_segment(signature_b64)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse("signature JWS signature segment must be non-empty base64url".into()))?;
    if let Some(x5c) = header.get("x5c") {
        let key = leaf_certificate_key(x5c).map_err(refuse)?;
        // The JWS signing input is the two encoded segments exactly as sent (RFC 7515 §5.2).
        let signing_input = &text[..header_b64.len() + 1 + payload_b64.len()];
        if !verify_rsa(&key, alg, signing_input.as_bytes(), &signature) {
            return Err(refuse(format!(
                "signature JWS {} signature does not verify with the public key of its x5c[0] certificate",
                alg.name()
            )));
        }
    }
    Ok(payload)
}

fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    BASE64URL.decode(segment).ok()
}

/// The RSA public key of `x5c[0]`, the certificate holding the signing key.
fn leaf_certificate_key(x5c: &Value) -> Result<RsaPublicKey, String> {
    let leaf = match x5c.as_array().and_then(|chain| chain.first()) {
        Some(Value::String(leaf)) => leaf,
        _ => return Err("signature JWS x5c must be a non-empty array of base64 DER certificates".into()),
    };
    let der = BASE64.decode(leaf).map_err(|_| "signature JWS x5c[0] is not valid base64".to_string())?;
    let certificate = Certificate::from_der(&der)
        .map_err(|e| format!("signature JWS x5c[0] is not a DER X.509 certificate ({e})"))?;
    let key_info = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("signature JWS x5c[0] public key cannot be read ({e})"))?;
    RsaPublicKey::from_public_key_der(&key_info)
        .map_err(|e| format!("signature JWS x5c[0] certificate must hold an RSA public key ({e})"))
}

/// RSASSA-PKCS1-v1_5 with the alg's SHA-2 (RFC 7518 §3.3).
fn verify_rsa(key: &RsaPublicKey, alg: Alg, input: &[u8], signature: &[u8]) -> bool {
    let result = match alg {
        Alg::Rs256 => key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input), signature),
        Alg::Rs384 => key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input), signature),
        Alg::Rs512 => key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input), signature),
    };
    result.is_ok()
}

#[cfg(test)]
mod tests;

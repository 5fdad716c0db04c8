//! Standard Webhooks v1 signatures: what the sender adds to every webhook request and how a
//! receiver checks it. Used by `sender` for `webhook` targets, and by tests as the receiver.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header carrying the message id (our intent's idempotency key, the same on every retry).
pub const ID_HEADER: &str = "webhook-id";
/// Header carrying the signing time, in unix seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Header carrying one or more space-separated `v1,<base64>` signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a receiver lets a timestamp drift from its clock, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// The shared key of a webhook target: 24 to 64 bytes, written as `whsec_<base64>` or
/// used as raw text. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = match text.strip_prefix("whsec_") {
            Some(encoded) => STANDARD
                .decode(encoded)
                .map_err(|_| "a `whsec_` secret must continue with standard base64".to_string())?,
            None => text.as_bytes().to_vec(),
        };
        if !(24..=64).contains(&bytes.len()) {
            return Err(format!("must be 24 to 64 bytes long (this one is {})", bytes.len()));
        }
        Ok(Self(bytes))
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

fn signed_mac(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = secret.mac();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

/// `v1,<base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}"))>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = signed_mac(secret, id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// The three Standard Webhooks headers for one attempt.
pub fn signature_headers(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> [(&'static str, String); 3] {
    [
        (ID_HEADER, id.to_string()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (SIGNATURE_HEADER, sign(secret, id, timestamp, body)),
    ]
}

/// Why a receiver refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-timestamp is not a whole number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than {TOLERANCE_SECONDS} s away from now")]
    OutsideTolerance,
    #[error("no v1 signature matches")]
    NoMatch,
}

/// What a receiver does with the three headers and the raw body: refuse stale or future
/// timestamps (replays), then accept if any `v1` signature matches, compared in constant
/// time. Several signatures appear while a secret is being rotated.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(VerifyError::OutsideTolerance);
    }
    let expected = signed_mac(secret, id, timestamp, body);
    let matches = signatures
        .split(' ')
        .filter_map(|candidate| candidate.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, encoded)| STANDARD.decode(encoded).ok())
        .any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed independently at development time with Python's standard
    // library, not with this code:
    //   python3 -c "import hmac,hashlib,base64; k=bytes(range(1,33)); \
    //     print(base64.b64encode(hmac.new(k, b'3b1f0c6e8a.1718000000.' + BODY, hashlib.sha256).digest()))"
    const BODY: &[u8] = br#"{"type":"fluency.notify","data":{"text":"hi"}}"#;
    const ID: &str = "3b1f0c6e8a";
    const TIMESTAMP: i64 = 1_718_000_000;
    const WHSEC: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    const WHSEC_SIGNATURE: &str = "v1,8/ZjQ+zwRKE8IrRappCD0UqVN3Zl1Qw50zQA53/VXxE=";
    const RAW: &str = "a-raw-secret-of-28-bytes-xyz";
    const RAW_SIGNATURE: &str = "v1,qTLRShSJQtRcjvzW3Uf+D7sxFQU9wGA6IvWhm/2QQ4s=";

    #[test]
    fn signatures_match_an_independently_computed_vector() {
        let whsec = WebhookSecret::parse(WHSEC).unwrap();
        let raw = WebhookSecret::parse(RAW).unwrap();

        assert_eq!(sign(&whsec, ID, TIMESTAMP, BODY), WHSEC_SIGNATURE);
        assert_eq!(sign(&raw, ID, TIMESTAMP, BODY), RAW_SIGNATURE);
    }

    #[test]
    fn headers_carry_the_id_the_timestamp_and_the_signature() {
        let secret = WebhookSecret::parse(WHSEC).unwrap();

        let headers = signature_headers(&secret, ID, TIMESTAMP, BODY);

        assert_eq!(
            headers,
            [
                ("webhook-id", ID.to_string()),
                ("webhook-timestamp", "1718000000".to_string()),
                ("webhook-signature", WHSEC_SIGNATURE.to_string()),
            ]
        );
    }

    #[test]
    fn verify_accepts_a_good_signature_among_several() {
        let secret = WebhookSecret::parse(WHSEC).unwrap();
        let rotated = format!("v1,AAAA v1a,whatever {WHSEC_SIGNATURE}");

        assert_eq!(verify(&secret, ID, "1718000000", WHSEC_SIGNATURE, BODY, TIMESTAMP + 10), Ok(()));
        assert_eq!(verify(&secret, ID, "1718000000", &rotated, BODY, TIMESTAMP - 10), Ok(()));
    }

    #[test]
    fn verify_refuses_tampering_replays_and_garbage() {
        let secret = WebhookSecret::parse(WHSEC).unwrap();
        let other = WebhookSecret::parse(RAW).unwrap();
        let ts = "1718000000";
        // (description, secret, id, timestamp, body, receiver's clock, refusal)
        type Case<'a> = (&'a str, &'a WebhookSecret, &'a str, &'a str, &'a [u8], i64, VerifyError);
        let cases: [Case; 7] = [
            ("another body", &secret, ID, ts, b"{}", TIMESTAMP, VerifyError::NoMatch),
            ("another id", &secret, "x", ts, BODY, TIMESTAMP, VerifyError::NoMatch),
            ("another secret", &other, ID, ts, BODY, TIMESTAMP, VerifyError::NoMatch),
            ("an old timestamp", &secret, ID, ts, BODY, TIMESTAMP + 301, VerifyError::OutsideTolerance),
            ("a future timestamp", &secret, ID, ts, BODY, TIMESTAMP - 301, VerifyError::OutsideTolerance),
            ("a timestamp that is no number", &secret, ID, "soon", BODY, TIMESTAMP, VerifyError::BadTimestamp),
            ("a changed timestamp", &secret, ID, "1718000001", BODY, TIMESTAMP, VerifyError::NoMatch),
        ];

        for (description, secret, id, timestamp, body, now, expected) in cases {
            assert_eq!(verify(secret, id, timestamp, WHSEC_SIGNATURE, body, now), Err(expected), "{description}");
        }
        assert_eq!(verify(&secret, ID, ts, "v2,abc", BODY, TIMESTAMP), Err(VerifyError::NoMatch), "unknown version");
        assert_eq!(verify(&secret, ID, ts, "v1,!!!", BODY, TIMESTAMP), Err(VerifyError::NoMatch), "bad base64");
    }

    #[test]
    fn secrets_are_24_to_64_bytes_and_never_printed() {
        assert!(WebhookSecret::parse("too-short").is_err());
        assert!(WebhookSecret::parse(&"x".repeat(65)).is_err());
        assert!(WebhookSecret::parse("whsec_not base64!").is_err());

        let secret = WebhookSecret::parse(RAW).unwrap();

        assert!(!format!("{secret:?}").contains(RAW));
    }
}

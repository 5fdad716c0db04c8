//! `more` links: a stateless keyset cursor (the original parameters plus the position),
//! sealed with an HMAC so it cannot be forged, valid for 24 hours. The sealed token is
//! the capability: the suite and some clients follow `more` without credentials, so the
//! credential that issued the link is re-checked (still valid) when it is followed.

use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{ApiError, ErrorCode};
use crate::xapi::time::Micros;

const LIFETIME_SECONDS: i64 = 24 * 60 * 60;
const TAG_BYTES: usize = 16;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MoreCursor {
    #[serde(rename = "p")]
    pub params: Vec<(String, String)>,
    /// `stored` of the last statement already returned.
    #[serde(rename = "a")]
    pub after: Micros,
    /// Upper bound fixed when the first page was read, so ascending paging is stable
    /// while statements keep arriving.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub until_cap: Option<Micros>,
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "v")]
    pub version: String,
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub accept_language: Option<String>,
    #[serde(rename = "e")]
    pub expires: i64,
}

impl MoreCursor {
    pub fn expiry_from_now() -> i64 {
        chrono::Utc::now().timestamp() + LIFETIME_SECONDS
    }
}

pub struct CursorSealer {
    key: Vec<u8>,
}

impl CursorSealer {
    /// Uses the key kept in the data directory (made on first start), so links survive
    /// restarts.
    pub fn from_data_dir(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("cursor.key");
        let key = match std::fs::read(&path) {
            Ok(key) if key.len() >= 32 => key,
            _ => {
                let key: [u8; 32] = rand::random();
                std::fs::write(&path, key).with_context(|| format!("writing {}", path.display()))?;
                key.to_vec()
            }
        };
        Ok(Self { key })
    }

    fn tag(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(payload);
        mac.finalize().into_bytes()[..TAG_BYTES].to_vec()
    }

    pub fn seal(&self, cursor: &MoreCursor) -> String {
        let payload = serde_json::to_vec(cursor).expect("a cursor always serialises");
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(self.tag(&payload)))
    }

    pub fn open(&self, token: &str) -> Result<MoreCursor, ApiError> {
        let invalid = || ApiError::new(ErrorCode::NotFound, "more: this link is unknown, altered or expired");
        let (payload, tag) = token.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(&payload);
        mac.verify_truncated_left(&tag).map_err(|_| invalid())?;
        let cursor: MoreCursor = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if cursor.expires < chrono::Utc::now().timestamp() {
            return Err(invalid());
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> MoreCursor {
        MoreCursor {
            params: vec![("verb".into(), "http://example.com/v".into())],
            after: 42,
            until_cap: None,
            key: "k".into(),
            version: "1.0.3".into(),
            accept_language: None,
            expires: MoreCursor::expiry_from_now(),
        }
    }

    #[test]
    fn a_sealed_cursor_opens_to_itself_and_a_tampered_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = CursorSealer::from_data_dir(dir.path()).unwrap();
        let token = sealer.seal(&cursor());
        assert_eq!(sealer.open(&token).unwrap(), cursor());
        let mut tampered = token.clone().into_bytes();
        tampered[3] ^= 1;
        assert!(sealer.open(&String::from_utf8(tampered).unwrap()).is_err());
        let other = CursorSealer::from_data_dir(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open(&token).is_err());
    }

    #[test]
    fn an_expired_cursor_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = CursorSealer::from_data_dir(dir.path()).unwrap();
        let token = sealer.seal(&MoreCursor { expires: 0, ..cursor() });
        assert_eq!(sealer.open(&token).unwrap_err().status(), 404);
    }

    #[test]
    fn the_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let token = CursorSealer::from_data_dir(dir.path()).unwrap().seal(&cursor());
        assert!(CursorSealer::from_data_dir(dir.path()).unwrap().open(&token).is_ok());
    }
}

//! `more` links: a stateless keyset cursor (the original parameters plus the position),
//! sealed with an HMAC so it cannot be forged, valid for 24 hours. The sealed token is
//! the capability: the suite and some clients follow `more` without credentials, so the
//! credential that issued the link is re-checked (still valid) when it is followed.
//!
//! A token is `<key id>.<payload>.<tag>`: the tag is checked on its full length, in
//! constant time, with the key the id names. Keys live in `<data_dir>/cursor-keys.json`
//! (mode 0600, synced before use); a new key is made every 30 days, and a key is dropped
//! once every link it sealed has expired.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{ApiError, ErrorCode};
use crate::xapi::time::Micros;

const LIFETIME_SECONDS: i64 = 24 * 60 * 60;
/// How long a key seals new links before a fresh one replaces it.
const ROTATION_SECONDS: i64 = 30 * 24 * 60 * 60;
const TAG_BYTES: usize = 16;
const KEY_FILE: &str = "cursor-keys.json";
/// Written by earlier versions, world-readable and without an id: removed on start.
const LEGACY_KEY_FILE: &str = "cursor.key";

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

/// One sealing key: `id` names it in tokens; `created` (Unix seconds) dates it.
#[derive(Clone, Serialize, Deserialize)]
struct CursorKey {
    id: String,
    created: i64,
    #[serde(with = "hex_bytes")]
    secret: Vec<u8>,
}

#[derive(Default, Serialize, Deserialize)]
struct KeyFile {
    /// Oldest first; the last one seals new links.
    keys: Vec<CursorKey>,
}

pub struct CursorSealer {
    path: PathBuf,
    keys: RwLock<Vec<CursorKey>>,
}

impl CursorSealer {
    /// Uses the keys kept in the data directory (made on first start), so links survive
    /// restarts.
    pub fn from_data_dir(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(KEY_FILE);
        let keys = match std::fs::read(&path) {
            Ok(bytes) => {
                crate::private_file::restrict_permissions(&path)?;
                serde_json::from_slice::<KeyFile>(&bytes)
                    .with_context(|| format!("{}: not a cursor key file", path.display()))?
                    .keys
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        let _ = std::fs::remove_file(dir.join(LEGACY_KEY_FILE));
        let sealer = Self { path, keys: RwLock::new(keys) };
        sealer.rotate_if_due(now_seconds())?;
        Ok(sealer)
    }

    fn is_due(&self, now: i64) -> bool {
        due(&self.keys.read().expect("cursor keys lock"), now)
    }

    /// Makes a new key when there is none or the newest is `ROTATION_SECONDS` old, and
    /// drops keys whose links have all expired.
    fn rotate_if_due(&self, now: i64) -> anyhow::Result<()> {
        let mut keys = self.keys.write().expect("cursor keys lock");
        if !due(&keys, now) {
            return Ok(());
        }
        let mut next = keys.clone();
        next.push(CursorKey {
            id: hex::encode(rand::random::<[u8; 4]>()),
            created: now,
            secret: rand::random::<[u8; 32]>().to_vec(),
        });
        // A key seals links until its successor is made; those expire LIFETIME later.
        let retired_before = now - LIFETIME_SECONDS;
        let keep_from = (1..next.len()).rev().find(|&i| next[i].created <= retired_before).unwrap_or(0);
        next.drain(..keep_from);
        write_key_file(&self.path, &KeyFile { keys: next.clone() })?;
        *keys = next;
        Ok(())
    }

    fn tag(secret: &[u8], payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length works");
        mac.update(payload);
        mac
    }

    pub fn seal(&self, cursor: &MoreCursor) -> String {
        let now = now_seconds();
        // Every page seals a link: only the rare rotation takes the write lock.
        if self.is_due(now) {
            if let Err(error) = self.rotate_if_due(now) {
                tracing::error!(error = format!("{error:#}"), "Rotating the cursor key failed; the current key stays.");
            }
        }
        let keys = self.keys.read().expect("cursor keys lock");
        let key = keys.last().expect("a sealer always holds a key");
        let payload = serde_json::to_vec(cursor).expect("a cursor always serialises");
        let tag = Self::tag(&key.secret, &payload).finalize().into_bytes();
        format!("{}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]))
    }

    pub fn open(&self, token: &str) -> Result<MoreCursor, ApiError> {
        let invalid = || ApiError::new(ErrorCode::NotFound, "more: this link is unknown, altered or expired");
        let mut segments = token.split('.');
        let (Some(id), Some(payload), Some(tag), None) =
            (segments.next(), segments.next(), segments.next(), segments.next())
        else {
            return Err(invalid());
        };
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        // A shorter tag would be guessable byte by byte: only the full length is accepted.
        if tag.len() != TAG_BYTES {
            return Err(invalid());
        }
        let keys = self.keys.read().expect("cursor keys lock");
        let key = keys.iter().find(|k| k.id == id).ok_or_else(invalid)?;
        Self::tag(&key.secret, &payload).verify_truncated_left(&tag).map_err(|_| invalid())?;
        let cursor: MoreCursor = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if cursor.expires < now_seconds() {
            return Err(invalid());
        }
        Ok(cursor)
    }
}

/// Whether the newest key (if any) has sealed links for `ROTATION_SECONDS`.
fn due(keys: &[CursorKey], now: i64) -> bool {
    keys.last().is_none_or(|newest| now - newest.created >= ROTATION_SECONDS)
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Writes the key file readable by its owner only, whole (see `private_file`).
fn write_key_file(path: &Path, keys: &KeyFile) -> anyhow::Result<()> {
    crate::private_file::write_private(path, &serde_json::to_vec_pretty(keys)?)
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
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

    fn with_tag(token: &str, change: impl FnOnce(&mut Vec<u8>)) -> String {
        let (head, tag) = token.rsplit_once('.').unwrap();
        let mut tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
        change(&mut tag);
        format!("{head}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    #[test]
    fn only_the_whole_tag_unaltered_opens_a_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = CursorSealer::from_data_dir(dir.path()).unwrap();
        let token = sealer.seal(&cursor());
        let cases: Vec<(&str, String)> = vec![
            ("one byte", with_tag(&token, |t| t.truncate(1))),
            ("one byte short", with_tag(&token, |t| t.truncate(TAG_BYTES - 1))),
            ("one byte more", with_tag(&token, |t| t.push(0))),
            ("the whole HMAC", {
                let (id, rest) = token.split_once('.').unwrap();
                let payload = URL_SAFE_NO_PAD.decode(rest.split('.').next().unwrap()).unwrap();
                let secret = sealer.keys.read().unwrap().iter().find(|k| k.id == id).unwrap().secret.clone();
                let full = CursorSealer::tag(&secret, &payload).finalize().into_bytes();
                with_tag(&token, |t| *t = full.to_vec())
            }),
            ("last bit flipped", with_tag(&token, |t| t[TAG_BYTES - 1] ^= 1)),
            ("empty", with_tag(&token, |t| t.clear())),
            ("no key id", token.split_once('.').unwrap().1.to_string()),
            ("unknown key id", format!("00000000.{}", token.split_once('.').unwrap().1)),
        ];
        for (what, forged) in cases {
            assert!(sealer.open(&forged).is_err(), "a tag changed so ({what}) was accepted");
        }
        assert!(sealer.open(&token).is_ok());
    }

    #[test]
    fn a_rotated_key_opens_its_links_until_they_expire_and_is_then_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = CursorSealer::from_data_dir(dir.path()).unwrap();
        let before = sealer.seal(&cursor());
        let start = now_seconds();

        sealer.rotate_if_due(start + ROTATION_SECONDS).unwrap();
        let reopened = CursorSealer::from_data_dir(dir.path()).unwrap();
        assert!(reopened.open(&before).is_ok(), "a link sealed before the rotation still opens");
        assert_ne!(reopened.seal(&cursor()).split('.').next(), before.split('.').next(), "new links use the new key");

        reopened.rotate_if_due(start + 2 * ROTATION_SECONDS).unwrap();
        assert!(reopened.open(&before).is_err(), "a key whose links have all expired is dropped");
        assert_eq!(reopened.keys.read().unwrap().len(), 2);
    }

    #[test]
    fn the_key_file_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LEGACY_KEY_FILE), [7u8; 32]).unwrap();
        CursorSealer::from_data_dir(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions();
        let mode = std::os::unix::fs::PermissionsExt::mode(&mode);
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.path().join(LEGACY_KEY_FILE).exists(), "the world-readable legacy key is removed");
    }
}

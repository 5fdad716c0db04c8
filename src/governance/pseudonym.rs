//! Keyed hashes of identifiers: the tombstones of erased people, the names the audit log
//! gives people, and the identifiers of a pseudonymised export. HMAC-SHA256 under a key
//! kept in the data directory (`pseudonym.key`, mode 0600, made on first use): without the
//! key, a hash cannot be tested against a guessed e-mail address.

use std::path::Path;

use anyhow::Context;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const KEY_FILE: &str = "pseudonym.key";

#[derive(Clone)]
pub struct Pseudonyms {
    key: [u8; 32],
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonyms { key: <hidden> }")
    }
}

impl Pseudonyms {
    /// Reads the data directory's key, making one the first time.
    pub fn from_data_dir(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim()).with_context(|| format!("{}: not hex", path.display()))?;
                let key = bytes.try_into().map_err(|_| anyhow::anyhow!("{}: not a 32-byte key", path.display()))?;
                crate::private_file::restrict_permissions(&path)?;
                Ok(Self { key })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                crate::private_file::write_private(&path, hex::encode(key).as_bytes())?;
                Ok(Self { key })
            }
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }

    #[cfg(test)]
    pub fn with_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The keyed hash of `text` (an IFI key), as 64 hex digits.
    pub fn hash(&self, text: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The name an export gives a person: a hash of its own (domain-separated), so an export
    /// cannot be matched against the audit log or the tombstones.
    pub fn export_name(&self, ifi_key: &str) -> String {
        self.hash(&format!("export\u{1f}{ifi_key}"))
    }

    /// How the audit log names a person: `person:` and the first half of the hash.
    pub fn person_label(&self, ifi_key: &str) -> String {
        format!("person:{}", &self.hash(ifi_key)[..32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_kept_private_and_gives_stable_distinct_hashes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = Pseudonyms::from_data_dir(dir.path()).unwrap();
        let again = Pseudonyms::from_data_dir(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(first.hash("mbox:mailto:a@example.com"), again.hash("mbox:mailto:a@example.com"));
        assert_ne!(first.hash("mbox:mailto:a@example.com"), first.hash("mbox:mailto:b@example.com"));
        let other = Pseudonyms::with_key([7; 32]);
        assert_ne!(first.hash("x"), other.hash("x"), "another key, another hash");
        assert!(!format!("{first:?}").contains(&hex::encode(first.key)));
    }
}

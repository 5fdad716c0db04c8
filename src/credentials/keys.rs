//! Issuer signing keys: Ed25519, each a 32-byte secret in its own file under
//! `<data_dir>/credentials/keys/` (mode 0600, never logged), named by its public key's
//! multibase form. Rotation adds a key and makes it current; older keys stay, so credentials
//! they signed keep verifying (did:key names the key itself; did:web lists every key).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// The multicodec prefix of an Ed25519 public key (`ed25519-pub`, varint 0xed).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];

/// One issuer key.
pub struct IssuerKey {
    signing: SigningKey,
    multikey: String,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey").field("multikey", &self.multikey).finish_non_exhaustive()
    }
}

impl IssuerKey {
    pub fn generate() -> Self {
        let seed: [u8; 32] = rand::random();
        Self::from_seed(seed)
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        let multikey = public_multikey(&signing.verifying_key());
        Self { signing, multikey }
    }

    /// `z6Mk…`: the public key as a Multikey `publicKeyMultibase`.
    pub fn multikey(&self) -> &str {
        &self.multikey
    }

    pub fn did_key(&self) -> String {
        format!("did:key:{}", self.multikey)
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// The Multikey form of an Ed25519 public key.
pub fn public_multikey(key: &VerifyingKey) -> String {
    let mut bytes = ED25519_PUB.to_vec();
    bytes.extend_from_slice(key.as_bytes());
    format!("z{}", bs58::encode(bytes).into_string())
}

/// Reads a Multikey `publicKeyMultibase` that must be an Ed25519 public key.
pub fn parse_multikey(text: &str) -> Result<VerifyingKey, String> {
    let encoded = text.strip_prefix('z').ok_or("the key is not base58btc multibase (no 'z' prefix)")?;
    let bytes = bs58::decode(encoded).into_vec().map_err(|_| "the key is not valid base58")?;
    let raw = bytes.strip_prefix(&ED25519_PUB[..]).ok_or("the key is not an Ed25519 public key")?;
    let raw: [u8; 32] = raw.try_into().map_err(|_| "an Ed25519 public key has 32 bytes")?;
    VerifyingKey::from_bytes(&raw).map_err(|_| "the key is not a valid Ed25519 point".to_string())
}

/// Whether `signature` over `message` was made by `key`.
pub fn verify_signature(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(signature) = Signature::from_slice(signature) else { return false };
    key.verify(message, &signature).is_ok()
}

/// The key directory: one `<multikey>.key` file a key, plus `current` naming the key in use.
pub struct KeyRing {
    dir: PathBuf,
}

impl KeyRing {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The current key's name, `None` before the first key is made.
    pub fn current_name(&self) -> anyhow::Result<Option<String>> {
        match fs::read_to_string(self.dir.join("current")) {
            Ok(name) => Ok(Some(name.trim().to_string())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).context("reading the current issuer key's name"),
        }
    }

    /// The current key, made on first use.
    pub fn current(&self) -> anyhow::Result<IssuerKey> {
        match fs::read_to_string(self.dir.join("current")) {
            Ok(name) => self.load(name.trim()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => self.rotate(),
            Err(error) => Err(error).context("reading the current issuer key's name"),
        }
    }

    /// Makes a new key current; the old ones stay for verification.
    pub fn rotate(&self) -> anyhow::Result<IssuerKey> {
        create_private_dir(&self.dir)?;
        let key = IssuerKey::generate();
        write_private(
            &self.dir.join(format!("{}.key", key.multikey())),
            hex::encode(key.signing.to_bytes()).as_bytes(),
        )?;
        let pointer = self.dir.join("current.tmp");
        write_private(&pointer, key.multikey().as_bytes())?;
        fs::rename(&pointer, self.dir.join("current")).context("making the new issuer key current")?;
        Ok(key)
    }

    /// Every key's public form, oldest first by file time.
    pub fn public_keys(&self) -> anyhow::Result<Vec<String>> {
        let mut keys = Vec::new();
        let Ok(entries) = fs::read_dir(&self.dir) else { return Ok(Vec::new()) };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(multikey) = name.strip_suffix(".key") {
                keys.push((entry.metadata()?.modified()?, multikey.to_string()));
            }
        }
        keys.sort();
        Ok(keys.into_iter().map(|(_, key)| key).collect())
    }

    pub fn load(&self, multikey: &str) -> anyhow::Result<IssuerKey> {
        if parse_multikey(multikey).is_err() {
            bail!("the current issuer key's name is not an Ed25519 multikey");
        }
        let path = self.dir.join(format!("{multikey}.key"));
        let text = fs::read_to_string(&path).with_context(|| format!("reading issuer key {}", path.display()))?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .with_context(|| format!("issuer key {} is not 32 hex-encoded bytes", path.display()))?;
        let key = IssuerKey::from_seed(seed);
        if key.multikey() != multikey {
            bail!("issuer key {} does not match its name", path.display());
        }
        Ok(key)
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a file only its owner can read, created with that mode (never briefly wider).
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multikey_round_trips_and_starts_as_did_key_ed25519_keys_do() {
        let key = IssuerKey::from_seed([7; 32]);
        assert!(key.multikey().starts_with("z6Mk"), "{}", key.multikey());
        let parsed = parse_multikey(key.multikey()).unwrap();
        assert_eq!(public_multikey(&parsed), key.multikey());
    }

    #[test]
    fn malformed_multikeys_are_refused_with_the_reason() {
        for (text, reason) in
            [("6Mk", "no 'z' prefix"), ("z0OIl", "not valid base58"), ("z2222", "not an Ed25519 public key")]
        {
            let error = parse_multikey(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_private_files_and_rotation_keeps_the_old_ones() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::new(dir.path().join("keys"));
        let first = ring.current().unwrap();
        assert_eq!(ring.current().unwrap().multikey(), first.multikey(), "current is stable");
        let mode = fs::metadata(dir.path().join("keys").join(format!("{}.key", first.multikey())))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = ring.rotate().unwrap();
        assert_ne!(second.multikey(), first.multikey());
        assert_eq!(ring.current().unwrap().multikey(), second.multikey());
        let all = ring.public_keys().unwrap();
        assert!(all.contains(&first.multikey().to_string()) && all.contains(&second.multikey().to_string()));
    }
}

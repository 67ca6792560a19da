//! Key files: the node key (`node.key`, 0600) and the public keys it replaced (`trusted-keys`).
//!
//! Rotation writes a new node key and appends the old public key to `trusted-keys`, so entries,
//! checkpoints and passes signed before the rotation still verify.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use axtary_core::pass::{NodeKey, key_id};
use ed25519_dalek::VerifyingKey;
use zeroize::Zeroizing;

const HEADER: &str = "axtary-node-key-v1";

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}` is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    Permissions { path: String, mode: u32 },
    #[error("`{path}` is not an Axtary node key")]
    Format { path: String },
    #[error("cannot read the system random source: {0}")]
    Random(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `contents` to a new file that only its owner can read (0600), synced. Returns `false`
/// (and writes nothing) if the file exists already.
pub fn create_private(path: &Path, contents: &[u8]) -> Result<bool, KeyError> {
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io(path)(e)),
    };
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io(path))?;
    Ok(true)
}

/// Refuses files that group or others can read or write: secrets must be 0600.
pub fn check_private(path: &Path) -> Result<(), KeyError> {
    let meta = fs::metadata(path).map_err(io(path))?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

/// Reads the node key, refusing loose permissions.
pub fn load_node_key(path: &Path) -> Result<NodeKey, KeyError> {
    check_private(path)?;
    let text = Zeroizing::new(fs::read_to_string(path).map_err(io(path))?);
    let format = || KeyError::Format {
        path: path.display().to_string(),
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(format());
    }
    let seed_hex = lines
        .find_map(|l| l.strip_prefix("seed: "))
        .ok_or_else(format)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    decode_hex(seed_hex, seed.as_mut_slice()).ok_or_else(format)?;
    Ok(NodeKey::from_seed(&seed))
}

/// Creates a new node key file (0600). Returns `false` if one exists already.
pub fn create_node_key(path: &Path) -> Result<bool, KeyError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut_slice()).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = NodeKey::from_seed(&seed);
    let text = Zeroizing::new(format!(
        "{HEADER}\nalg: ed25519\nkid: {}\nseed: {}\npublic: {}\n",
        key.key_id(),
        encode_hex(seed.as_slice()),
        encode_hex(key.verifying_key().as_bytes())
    ));
    if !create_private(path, text.as_bytes())? {
        return Ok(false);
    }
    Ok(true)
}

/// Replaces the node key with a new one and keeps the old public key trusted.
/// Returns `(old key id, new key id)`.
pub fn rotate(home: &Path) -> Result<(String, String), KeyError> {
    let key_path = home.join("node.key");
    let old = load_node_key(&key_path)?;
    let trusted = home.join("trusted-keys");
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&trusted)
        .map_err(io(&trusted))?;
    writeln!(
        f,
        "{} {}",
        old.key_id(),
        encode_hex(old.verifying_key().as_bytes())
    )
    .and_then(|()| f.sync_all())
    .map_err(io(&trusted))?;
    let tmp = home.join("node.key.new");
    let _ = fs::remove_file(&tmp);
    create_node_key(&tmp)?;
    fs::rename(&tmp, &key_path).map_err(io(&key_path))?;
    let new = load_node_key(&key_path)?;
    Ok((old.key_id().to_owned(), new.key_id().to_owned()))
}

/// Every public key this node trusts: the current one first, then rotated ones.
pub fn trusted_keys(home: &Path) -> Result<Vec<VerifyingKey>, KeyError> {
    let mut keys = vec![load_node_key(&home.join("node.key"))?.verifying_key()];
    let path = home.join("trusted-keys");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(e) => return Err(io(&path)(e)),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let key = line
            .split_whitespace()
            .nth(1)
            .and_then(parse_public_key)
            .ok_or_else(|| KeyError::Format {
                path: path.display().to_string(),
            })?;
        keys.push(key);
    }
    Ok(keys)
}

/// Parses 64 hex digits of an Ed25519 public key.
pub fn parse_public_key(hex: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    decode_hex(hex, &mut bytes)?;
    VerifyingKey::from_bytes(&bytes).ok()
}

pub fn encode_hex(bytes: &[u8]) -> String {
    axtary_core::hex::encode(bytes)
}

fn decode_hex(hex: &str, out: &mut [u8]) -> Option<()> {
    axtary_core::hex::decode(hex.trim(), out)
}

/// The key id shown to users.
pub fn describe(key: &VerifyingKey) -> (String, String) {
    (key_id(key), encode_hex(key.as_bytes()))
}

/// Creates `dir` (0700) if missing.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("axtary-keys-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        ensure_private_dir(&d).unwrap();
        d
    }

    #[test]
    fn create_load_rotate() {
        let home = tmp("rotate");
        let path = home.join("node.key");
        assert!(create_node_key(&path).unwrap());
        assert!(!create_node_key(&path).unwrap(), "an existing key is kept");
        let key = load_node_key(&path).unwrap();
        let (old, new) = rotate(&home).unwrap();
        assert_eq!(old, key.key_id());
        assert_ne!(old, new);
        let trusted = trusted_keys(&home).unwrap();
        assert_eq!(trusted.len(), 2);
        assert_eq!(key_id(&trusted[0]), new);
        assert_eq!(key_id(&trusted[1]), old);
        fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn refuses_loose_permissions_and_garbage() {
        let home = tmp("perms");
        let path = home.join("node.key");
        create_node_key(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_node_key(&path),
            Err(KeyError::Permissions { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "not a key").unwrap();
        assert!(matches!(load_node_key(&path), Err(KeyError::Format { .. })));
        fs::remove_dir_all(&home).unwrap();
    }
}

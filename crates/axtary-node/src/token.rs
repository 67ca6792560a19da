//! The local agent token (`agent.token`, 0600): the bearer secret that lets a local agent call
//! the daemon's HTTP API, so that other local users cannot drive it.
//!
//! The file holds 64 hex digits (256 random bits) and a newline. Like `node.key`, it is refused
//! if group or others can read or write it.

use std::fs;
use std::path::Path;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::keys::{KeyError, check_private, create_private, encode_hex};

/// The agent token, held in memory only to compare against presented tokens.
pub struct AgentToken {
    value: Zeroizing<String>,
}

impl AgentToken {
    /// Whether `presented` is the token. Constant time in the contents (a length mismatch is
    /// answered at once, but every token has the same length).
    pub fn matches(&self, presented: &str) -> bool {
        let expected = self.value.as_bytes();
        let presented = presented.as_bytes();
        expected.len() == presented.len() && bool::from(expected.ct_eq(presented))
    }
}

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentToken([REDACTED])")
    }
}

/// Creates a new agent token file (0600). Returns `false` if one exists already.
pub fn create(path: &Path) -> Result<bool, KeyError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut_slice()).map_err(|e| KeyError::Random(e.to_string()))?;
    let text = Zeroizing::new(format!("{}\n", encode_hex(bytes.as_slice())));
    create_private(path, text.as_bytes())
}

/// Reads the agent token, refusing loose permissions and anything but 64 hex digits.
pub fn load(path: &Path) -> Result<AgentToken, KeyError> {
    check_private(path)?;
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?);
    let value = text.trim();
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::Format {
            path: path.display().to_string(),
        });
    }
    Ok(AgentToken {
        value: Zeroizing::new(value.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn create_load_compare_and_refuse_loose_permissions() {
        let dir = std::env::temp_dir().join(format!("axtary-token-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        crate::keys::ensure_private_dir(&dir).unwrap();
        let path = dir.join("agent.token");
        assert!(create(&path).unwrap());
        assert!(!create(&path).unwrap(), "an existing token is kept");
        let text = fs::read_to_string(&path).unwrap();
        let token = load(&path).unwrap();
        assert!(token.matches(text.trim()));
        assert!(!token.matches(&text.trim().replace(|c: char| c.is_ascii_digit(), "a")));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains(text.trim()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(load(&path), Err(KeyError::Permissions { .. })));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "short\n").unwrap();
        assert!(matches!(load(&path), Err(KeyError::Format { .. })));
        fs::remove_dir_all(&dir).unwrap();
    }
}

//! Signed ledger checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes.
//!
//! ```text
//! axtary/<node>/v1
//! 1234
//! <base64 root hash>
//!
//! — axtary/<node>/v1 <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>
//! ```
//! The key id is `SHA-256(name || 0x0A || 0x01 || public key)[:4]` (signature type 0x01 is
//! Ed25519), so any C2SP note verifier (e.g. Go's `golang.org/x/mod/sumdb/note`) can check it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;
use crate::pass::NodeKey;

/// The unsigned content of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

/// Why a signed checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("checkpoint is malformed: {0}")]
    Malformed(String),
    #[error("checkpoint has no valid signature by `{0}`")]
    NoValidSignature(String),
}

/// The origin line of a node's log.
pub fn origin(node: &str) -> String {
    format!("axtary/{node}/v1")
}

/// The C2SP note key id of an Ed25519 key named `name`.
pub fn note_key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, 0x01]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A C2SP `vkey` string (`name+hexkeyid+base64(0x01||key)`), for verifiers in other languages.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    let id = note_key_id(name, key);
    let mut raw = vec![0x01];
    raw.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{:08x}+{}",
        u32::from_be_bytes(id),
        STANDARD.encode(raw)
    )
}

impl Checkpoint {
    /// The note body: origin, size and base64 root, each on its own line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Signs the checkpoint as a signed note, with the origin as key name.
    pub fn sign(&self, key: &NodeKey) -> String {
        let body = self.body();
        let sig = key.sign(body.as_bytes());
        let mut blob = note_key_id(&self.origin, &key.verifying_key()).to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!(
            "{body}\n\u{2014} {} {}\n",
            self.origin,
            STANDARD.encode(blob)
        )
    }

    /// Reads a signed note's checkpoint WITHOUT checking any signature (for notes signed by
    /// keys no longer at hand, whose content is otherwise checked).
    pub fn parse_unverified(note: &str) -> Result<Checkpoint, NoteError> {
        Self::parse(note).map(|(cp, _, _)| cp)
    }

    fn parse(note: &str) -> Result<(Checkpoint, String, &str), NoteError> {
        let malformed = |m: &str| NoteError::Malformed(m.to_owned());
        if note.len() > 64 * 1024 {
            return Err(malformed("longer than 64 KiB"));
        }
        let (body, sigs) = note
            .split_once("\n\n")
            .ok_or_else(|| malformed("no blank line before the signatures"))?;
        let body = format!("{body}\n");
        let mut lines = body.lines();
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("expected origin, tree size and root hash lines"));
        };
        if origin.is_empty() {
            return Err(malformed("empty origin"));
        }
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(malformed("tree size is not a decimal number"));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| malformed("tree size is out of range"))?;
        let root: Hash = STANDARD
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| malformed("root is not a base64 SHA-256 hash"))?;
        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        };
        if checkpoint.body() != body {
            // Extension lines are allowed by tlog-checkpoint; Axtary writes none and accepts none.
            return Err(malformed("unexpected extra lines in the checkpoint body"));
        }
        Ok((checkpoint, body, sigs))
    }

    /// Parses a signed note and checks that one of its signatures is by `key` under the
    /// checkpoint's own origin. Other signatures (witness cosignatures) are ignored.
    pub fn verify(note: &str, keys: &[VerifyingKey]) -> Result<Checkpoint, NoteError> {
        let malformed = |m: &str| NoteError::Malformed(m.to_owned());
        let (checkpoint, body, sigs) = Self::parse(note)?;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(malformed("signature lines must start with an em dash"));
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return Err(malformed("signature line needs a key name and a signature"));
            };
            if name != checkpoint.origin {
                continue;
            }
            let Ok(blob) = STANDARD.decode(b64) else {
                continue;
            };
            let (Some(id), Some(sig)) = (blob.get(..4), blob.get(4..)) else {
                continue;
            };
            let Ok(sig) = Signature::from_slice(sig) else {
                continue;
            };
            for key in keys {
                if note_key_id(name, key) == id && key.verify_strict(body.as_bytes(), &sig).is_ok()
                {
                    return Ok(checkpoint);
                }
            }
        }
        Err(NoteError::NoValidSignature(checkpoint.origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: origin("laptop"),
            size: 3,
            root: leaf_hash(b"x"),
        }
    }

    #[test]
    fn sign_and_verify() {
        let key = NodeKey::from_seed(&[1; 32]);
        let note = checkpoint().sign(&key);
        assert!(note.starts_with("axtary/laptop/v1\n3\n"), "{note}");
        assert!(note.contains("\n\n\u{2014} axtary/laptop/v1 "), "{note}");
        assert_eq!(
            Checkpoint::verify(&note, &[key.verifying_key()]),
            Ok(checkpoint())
        );
    }

    #[test]
    fn refuses_tampering_and_other_keys() {
        let key = NodeKey::from_seed(&[1; 32]);
        let other = NodeKey::from_seed(&[2; 32]);
        let note = checkpoint().sign(&key);
        assert!(matches!(
            Checkpoint::verify(&note, &[other.verifying_key()]),
            Err(NoteError::NoValidSignature(_))
        ));
        let bigger = note.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(
            Checkpoint::verify(&bigger, &[key.verifying_key()]),
            Err(NoteError::NoValidSignature(_))
        ));
        for bad in [
            "",
            "x\n\n",
            "axtary/x/v1\n01\nAAAA\n\n",
            "a\n1\nnot-base64!\n\n— a x\n",
        ] {
            assert!(
                Checkpoint::verify(bad, &[key.verifying_key()]).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn key_id_matches_the_c2sp_definition() {
        let key = NodeKey::from_seed(&[1; 32]);
        let vkey = verifier_key("axtary/laptop/v1", &key.verifying_key());
        let parts: Vec<&str> = vkey.split('+').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].len(), 8);
        let mut h = Sha256::new();
        h.update(b"axtary/laptop/v1\n\x01");
        h.update(key.verifying_key().as_bytes());
        let d = h.finalize();
        assert_eq!(
            parts[1],
            format!("{:02x}{:02x}{:02x}{:02x}", d[0], d[1], d[2], d[3])
        );
    }
}

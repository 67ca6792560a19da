//! Self-contained, offline-verifiable exports: the published form of a node's public keys and
//! the inclusion receipt of one ledger entry (`axtary ledger prove`).
//!
//! A receipt carries the entry's exact canonical bytes, the RFC 6962 inclusion proof of its leaf
//! in a tree of `tree_size` leaves, and the signed checkpoint of that size, so anyone holding
//! the node's public key can check that the entry is in the log with nothing else.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, NoteError, verifier_key};
use crate::ledger::{EntryKind, hex, parse_hex, read_head};
use crate::merkle::{Hash, leaf_hash, verify_inclusion};
use crate::pass::key_id;

/// The `format` of an inclusion receipt. (contract)
pub const RECEIPT_FORMAT: &str = "axtary-inclusion-proof";
/// The `version` of an inclusion receipt. (contract)
pub const RECEIPT_VERSION: u32 = 1;

/// A public key as exports publish it: Axtary key id, raw key in hex, and the C2SP `vkey`
/// (named by the log's origin) for note verifiers in other languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedKey {
    pub kid: String,
    pub public_key: String,
    pub vkey: String,
}

/// Why a published key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key `{0}` is not 64 hex digits of an Ed25519 key")]
    PublicKey(String),
    #[error("key id `{kid}` does not belong to public key `{public_key}`")]
    KeyId { kid: String, public_key: String },
    #[error("vkey `{0}` does not describe the same key under the log's origin")]
    Vkey(String),
}

impl PublishedKey {
    pub fn new(origin: &str, key: &VerifyingKey) -> Self {
        Self {
            kid: key_id(key),
            public_key: hex(key.as_bytes()),
            vkey: verifier_key(origin, key),
        }
    }

    /// The key, after checking that its id and `vkey` agree with it.
    pub fn key(&self, origin: &str) -> Result<VerifyingKey, KeyError> {
        let key = parse_public_key(&self.public_key)
            .ok_or_else(|| KeyError::PublicKey(self.public_key.clone()))?;
        if key_id(&key) != self.kid {
            return Err(KeyError::KeyId {
                kid: self.kid.clone(),
                public_key: self.public_key.clone(),
            });
        }
        if verifier_key(origin, &key) != self.vkey {
            return Err(KeyError::Vkey(self.vkey.clone()));
        }
        Ok(key)
    }
}

/// Parses 64 lower-case hex digits of an Ed25519 public key.
pub fn parse_public_key(s: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&parse_hex(s.trim())?).ok()
}

/// An inclusion receipt. (contract: field names and meaning)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionReceipt {
    pub format: String,
    pub version: u32,
    pub origin: String,
    pub seq: u64,
    /// The entry's exact canonical bytes (UTF-8 JSON, as a string).
    pub entry: String,
    /// `SHA-256(0x00 || entry)`, hex.
    pub leaf_hash: String,
    pub tree_size: u64,
    /// RFC 6962 audit path of leaf `seq - 1` in the tree of `tree_size` leaves, hex.
    pub proof: Vec<String>,
    /// The signed note of the checkpoint at `tree_size`.
    pub checkpoint: String,
    /// The node's public keys (informational; a verifier should pin the key it expects).
    pub keys: Vec<PublishedKey>,
}

/// Why a receipt does not prove what it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("not an inclusion receipt: {0}")]
    Format(String),
    #[error("the entry is not a canonical ledger entry")]
    Entry,
    #[error("the receipt is for entry {receipt}, but its entry bytes say {entry}")]
    Seq { receipt: u64, entry: u64 },
    #[error("`leaf_hash` is not the hash of the entry bytes")]
    LeafHash,
    #[error("checkpoint: {0}")]
    Checkpoint(NoteError),
    #[error("the checkpoint is for origin `{checkpoint}`, the receipt for `{receipt}`")]
    Origin { receipt: String, checkpoint: String },
    #[error("the checkpoint covers {checkpoint} entries, the receipt claims {receipt}")]
    TreeSize { receipt: u64, checkpoint: u64 },
    #[error("entry {seq} is beyond the checkpoint's {size} entries")]
    Beyond { seq: u64, size: u64 },
    #[error("the inclusion proof does not lead to the checkpoint's root")]
    Proof,
    #[error("embedded key: {0}")]
    Key(KeyError),
}

/// What a verified receipt proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptVerified {
    pub origin: String,
    pub seq: u64,
    pub kind: EntryKind,
    pub ts: i64,
    pub tree_size: u64,
    /// The checkpoint's root, hex.
    pub root: String,
}

impl InclusionReceipt {
    /// The keys the receipt carries, each checked for internal consistency.
    pub fn embedded_keys(&self) -> Result<Vec<VerifyingKey>, ReceiptError> {
        self.keys
            .iter()
            .map(|k| k.key(&self.origin).map_err(ReceiptError::Key))
            .collect()
    }

    /// Checks everything the receipt claims, with the checkpoint signed by one of `keys`.
    pub fn verify(&self, keys: &[VerifyingKey]) -> Result<ReceiptVerified, ReceiptError> {
        if self.format != RECEIPT_FORMAT {
            return Err(ReceiptError::Format(format!(
                "`format` is `{}`, expected `{RECEIPT_FORMAT}`",
                self.format
            )));
        }
        if self.version != RECEIPT_VERSION {
            return Err(ReceiptError::Format(format!(
                "unsupported version {}",
                self.version
            )));
        }
        let bytes = self.entry.as_bytes();
        let head = read_head(bytes).ok_or(ReceiptError::Entry)?;
        if head.seq != self.seq {
            return Err(ReceiptError::Seq {
                receipt: self.seq,
                entry: head.seq,
            });
        }
        let leaf = leaf_hash(bytes);
        if parse_hex(&self.leaf_hash) != Some(leaf) {
            return Err(ReceiptError::LeafHash);
        }
        let cp = Checkpoint::verify(&self.checkpoint, keys).map_err(ReceiptError::Checkpoint)?;
        if cp.origin != self.origin {
            return Err(ReceiptError::Origin {
                receipt: self.origin.clone(),
                checkpoint: cp.origin,
            });
        }
        if cp.size != self.tree_size {
            return Err(ReceiptError::TreeSize {
                receipt: self.tree_size,
                checkpoint: cp.size,
            });
        }
        if self.seq == 0 || self.seq > cp.size {
            return Err(ReceiptError::Beyond {
                seq: self.seq,
                size: cp.size,
            });
        }
        let proof: Vec<Hash> = self
            .proof
            .iter()
            .map(|p| parse_hex(p).ok_or(ReceiptError::Proof))
            .collect::<Result<_, _>>()?;
        if !verify_inclusion(self.seq - 1, cp.size, &leaf, &proof, &cp.root) {
            return Err(ReceiptError::Proof);
        }
        Ok(ReceiptVerified {
            origin: cp.origin,
            seq: self.seq,
            kind: head.kind,
            ts: head.ts_ms,
            tree_size: cp.size,
            root: hex(&cp.root),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checkpoint::origin;
    use crate::ledger::{GENESIS_PREV, entry_bytes};
    use crate::merkle::{MemoryTree, inclusion_proof};
    use crate::pass::NodeKey;

    fn receipt(seq: u64, size: u64, key: &NodeKey) -> InclusionReceipt {
        let mut prev = GENESIS_PREV;
        let mut tree = MemoryTree::new();
        let mut entries = Vec::new();
        for s in 1..=size {
            let bytes = entry_bytes(s, 7, EntryKind::Decision, &json!({"s": s}), &prev);
            prev = leaf_hash(&bytes);
            tree.push(prev);
            entries.push(bytes);
        }
        let note = Checkpoint {
            origin: origin("n"),
            size,
            root: tree.root(),
        }
        .sign(key);
        let entry = String::from_utf8(entries[seq as usize - 1].clone()).unwrap();
        InclusionReceipt {
            format: RECEIPT_FORMAT.into(),
            version: RECEIPT_VERSION,
            origin: origin("n"),
            seq,
            leaf_hash: hex(&leaf_hash(entry.as_bytes())),
            entry,
            tree_size: size,
            proof: inclusion_proof(&tree, seq - 1, size)
                .unwrap()
                .iter()
                .map(hex)
                .collect(),
            checkpoint: note,
            keys: vec![PublishedKey::new(&origin("n"), &key.verifying_key())],
        }
    }

    #[test]
    fn receipts_verify_and_refuse_tampering() {
        let key = NodeKey::from_seed(&[1; 32]);
        let keys = [key.verifying_key()];
        for (seq, size) in [(1, 1), (2, 5), (5, 5), (4, 13)] {
            let r = receipt(seq, size, &key);
            assert_eq!(r.embedded_keys().unwrap(), keys);
            let ok = r.verify(&keys).unwrap();
            assert_eq!((ok.seq, ok.tree_size), (seq, size));
        }
        let good = receipt(3, 9, &key);

        let mut edited = good.clone();
        edited.entry = edited.entry.replace("\"s\":3", "\"s\":4");
        assert_eq!(edited.verify(&keys), Err(ReceiptError::LeafHash));
        edited.leaf_hash = hex(&leaf_hash(edited.entry.as_bytes()));
        assert_eq!(edited.verify(&keys), Err(ReceiptError::Proof));

        let mut moved = good.clone();
        moved.seq = 4;
        assert!(matches!(moved.verify(&keys), Err(ReceiptError::Seq { .. })));

        let mut resized = good.clone();
        resized.tree_size = 10;
        assert!(matches!(
            resized.verify(&keys),
            Err(ReceiptError::TreeSize { .. })
        ));

        let mut short = good.clone();
        short.proof.pop();
        assert_eq!(short.verify(&keys), Err(ReceiptError::Proof));

        let other = NodeKey::from_seed(&[2; 32]);
        assert!(matches!(
            good.verify(&[other.verifying_key()]),
            Err(ReceiptError::Checkpoint(_))
        ));

        let mut bad_key = good.clone();
        bad_key.keys[0].kid = "0000000000000000".into();
        assert!(matches!(bad_key.embedded_keys(), Err(ReceiptError::Key(_))));
    }
}

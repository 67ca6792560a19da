//! Ledger records and offline verification (DESIGN.md §7).
//!
//! Every entry is stored as its canonical bytes, RFC 8785 JCS of
//! `{"body":…,"kind":…,"prev":…,"seq":…,"ts":…,"v":1}`. Its leaf hash is
//! `SHA-256(0x00 || bytes)` and `prev` is the previous entry's leaf hash (64 zeros for the
//! first), so the hash chain lives inside the leaves and every Merkle root covers it. Sequence
//! numbers start at 1; entry `seq` is leaf `seq - 1`, and a checkpoint of size N covers entries
//! 1..=N.
//!
//! [`Verifier`] recomputes everything from the bytes alone: sequence, chain links, leaf hashes,
//! Merkle roots at every checkpoint, checkpoint signatures, and agreement with any checkpoint
//! saved earlier. It reports the first bad entry and why.

use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::{Checkpoint, NoteError};
use crate::json::{self, Limits};
use crate::merkle::{Hash, MemoryTree, leaf_hash};

/// Version of the entry format.
pub const ENTRY_VERSION: u32 = 1;

/// What an entry records. (contract: DESIGN.md §3, plus `key_rotated`)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Decision,
    ApprovalRequested,
    Approval,
    PassIssued,
    Executed,
    Failed,
    OutcomeUnknown,
    Checkpoint,
    PolicyLoaded,
    KeyRotated,
}

impl EntryKind {
    pub const ALL: [EntryKind; 10] = [
        EntryKind::Decision,
        EntryKind::ApprovalRequested,
        EntryKind::Approval,
        EntryKind::PassIssued,
        EntryKind::Executed,
        EntryKind::Failed,
        EntryKind::OutcomeUnknown,
        EntryKind::Checkpoint,
        EntryKind::PolicyLoaded,
        EntryKind::KeyRotated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Decision => "decision",
            EntryKind::ApprovalRequested => "approval_requested",
            EntryKind::Approval => "approval",
            EntryKind::PassIssued => "pass_issued",
            EntryKind::Executed => "executed",
            EntryKind::Failed => "failed",
            EntryKind::OutcomeUnknown => "outcome_unknown",
            EntryKind::Checkpoint => "checkpoint",
            EntryKind::PolicyLoaded => "policy_loaded",
            EntryKind::KeyRotated => "key_rotated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `prev` of the first entry.
pub const GENESIS_PREV: Hash = [0; 32];

/// Lower-case hex of a hash.
pub fn hex(h: &Hash) -> String {
    crate::hex::encode(h)
}

/// Parses 64 lower-case hex digits.
pub fn parse_hex(s: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    crate::hex::decode_lower(s, &mut out)?;
    Some(out)
}

/// The canonical bytes of an entry. `body` must be strict JSON (see [`json::check_value`]).
pub fn entry_bytes(seq: u64, ts_ms: i64, kind: EntryKind, body: &Value, prev: &Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"body\":");
    json::write_canonical(body, &mut out);
    out.extend_from_slice(b",\"kind\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"prev\":\"");
    out.extend_from_slice(hex(prev).as_bytes());
    out.extend_from_slice(b"\",\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"ts\":");
    out.extend_from_slice(ts_ms.to_string().as_bytes());
    out.extend_from_slice(b",\"v\":1}");
    out
}

/// The fixed fields of an entry, read back from its canonical bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryHead {
    pub seq: u64,
    pub ts_ms: i64,
    pub kind: EntryKind,
    pub prev: Hash,
}

/// Reads the fixed fields from the end of an entry's bytes without parsing the body.
///
/// INVARIANT: in JCS output `body` sorts first and every other field is a scalar, so the bytes
/// end with exactly `,"kind":"K","prev":"H","seq":N,"ts":N,"v":1}`; a string inside the body
/// cannot contain an unescaped `"`, so the structural quotes found from the end are unambiguous.
pub fn read_head(bytes: &[u8]) -> Option<EntryHead> {
    // Bytes, not `str`: this runs once per entry in `ledger verify`, and validating the whole
    // body as UTF-8 there would cost more than the rest of the head together. The body is
    // bound by the hash either way; `--deep` checks it is canonical JSON.
    let b = bytes.strip_prefix(b"{\"body\":")?;
    let b = b.strip_suffix(b",\"v\":1}")?;
    let (b, ts) = split_number(b, b",\"ts\":", true)?;
    let (b, seq) = split_number(b, b",\"seq\":", false)?;
    let b = b.strip_suffix(b"\"")?;
    let (b, prev) = b.split_at_checked(b.len().checked_sub(64)?)?;
    let b = b.strip_suffix(b",\"prev\":\"")?.strip_suffix(b"\"")?;
    let kind_start = b.iter().rposition(|&c| c == b'"')? + 1;
    let (b, kind) = b.split_at(kind_start);
    let body = b.strip_suffix(b",\"kind\":\"")?;
    if body.is_empty() {
        return None;
    }
    Some(EntryHead {
        seq: std::str::from_utf8(seq).ok()?.parse().ok()?,
        ts_ms: std::str::from_utf8(ts).ok()?.parse().ok()?,
        kind: EntryKind::parse(std::str::from_utf8(kind).ok()?)?,
        prev: parse_hex(std::str::from_utf8(prev).ok()?)?,
    })
}

/// Splits `<rest><marker><integer>` into `rest` and the integer's bytes, which must be
/// canonical (no leading zero, no `+`; a `-` only if `signed`).
fn split_number<'a>(b: &'a [u8], marker: &[u8], signed: bool) -> Option<(&'a [u8], &'a [u8])> {
    let start = b.iter().rposition(|c| !c.is_ascii_digit())? + 1;
    let (rest, digits) = b.split_at(start);
    let (rest, number) = match rest.strip_suffix(b"-") {
        Some(r) if signed => (r, &b[start - 1..]),
        _ => (rest, digits),
    };
    let canonical = !digits.is_empty() && (digits == b"0" || digits[0] != b'0');
    if !canonical || number == b"-0" {
        return None;
    }
    Some((rest.strip_suffix(marker)?, number))
}

/// A decoded entry, for display and export.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub seq: u64,
    pub ts: i64,
    pub kind: EntryKind,
    pub body: Value,
    pub prev: String,
    pub hash: String,
}

impl Entry {
    /// Decodes canonical entry bytes (strictly).
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        let head = read_head(bytes)?;
        let value = json::parse_strict(
            bytes,
            Limits {
                max_bytes: usize::MAX,
                max_depth: 80,
            },
        )
        .ok()?;
        let body = value.get("body")?.clone();
        Some(Entry {
            seq: head.seq,
            ts: head.ts_ms,
            kind: head.kind,
            body,
            prev: hex(&head.prev),
            hash: hex(&leaf_hash(bytes)),
        })
    }
}

/// Why verification stopped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("entry {seq}: not a canonical ledger entry")]
    Malformed { seq: u64 },
    #[error("entry {seq}: stored hash does not match its bytes")]
    BadHash { seq: u64 },
    #[error("entry {seq}: broken chain (its `prev` is not the hash of entry {})", seq - 1)]
    BrokenChain { seq: u64 },
    #[error(
        "entry at position {position}: expected sequence number {position}, found {found} (entries reordered, missing or duplicated)"
    )]
    Reordered { position: u64, found: u64 },
    #[error("entry {seq}: body is not canonical JSON")]
    NotCanonical { seq: u64 },
    #[error("checkpoint at size {size}: {source}")]
    BadSignature { size: u64, source: NoteError },
    #[error(
        "checkpoint at size {size}: its root does not match the entries (the log was rewritten after it was signed)"
    )]
    InconsistentCheckpoint { size: u64 },
    #[error("checkpoint for origin `{found}` in the log of `{expected}`")]
    WrongOrigin { expected: String, found: String },
    #[error("truncated: a checkpoint covers {expected} entries but only {found} are present")]
    Truncated { expected: u64, found: u64 },
}

impl VerifyError {
    /// The sequence number of the first bad entry, where one is known.
    pub fn seq(&self) -> Option<u64> {
        match self {
            VerifyError::Malformed { seq }
            | VerifyError::BadHash { seq }
            | VerifyError::BrokenChain { seq }
            | VerifyError::NotCanonical { seq } => Some(*seq),
            VerifyError::Reordered { position, .. } => Some(*position),
            VerifyError::Truncated { found, .. } => Some(found + 1),
            _ => None,
        }
    }
}

/// The result of a successful verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub entries: u64,
    pub checkpoints: usize,
    /// Root of the whole log.
    pub root: String,
    /// Size of the newest checkpoint.
    pub checkpointed: u64,
}

/// Verifies a log entry by entry. Feed entries in order with [`Verifier::push`], then call
/// [`Verifier::finish`] with the signed checkpoints.
pub struct Verifier {
    tree: MemoryTree,
    prev: Hash,
    deep: bool,
}

impl Verifier {
    /// `deep` also parses every entry and checks its body is canonical JSON (slower).
    pub fn new(deep: bool) -> Self {
        Self {
            tree: MemoryTree::new(),
            prev: GENESIS_PREV,
            deep,
        }
    }

    /// Checks the next entry. `stored_hash` is the hash kept beside the bytes, if any.
    pub fn push(&mut self, bytes: &[u8], stored_hash: Option<&Hash>) -> Result<Hash, VerifyError> {
        let position = self.tree.size() + 1;
        let head = read_head(bytes).ok_or(VerifyError::Malformed { seq: position })?;
        if head.seq != position {
            return Err(VerifyError::Reordered {
                position,
                found: head.seq,
            });
        }
        let leaf = leaf_hash(bytes);
        if stored_hash.is_some_and(|h| *h != leaf) {
            return Err(VerifyError::BadHash { seq: position });
        }
        if head.prev != self.prev {
            return Err(VerifyError::BrokenChain { seq: position });
        }
        if self.deep {
            let value = json::parse_strict(
                bytes,
                Limits {
                    max_bytes: usize::MAX,
                    max_depth: 80,
                },
            )
            .map_err(|_| VerifyError::NotCanonical { seq: position })?;
            if json::canonicalize(&value) != bytes {
                return Err(VerifyError::NotCanonical { seq: position });
            }
        }
        self.tree.push(leaf);
        self.prev = leaf;
        Ok(leaf)
    }

    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The tree so far, for proofs.
    pub fn tree(&self) -> &MemoryTree {
        &self.tree
    }

    /// Checks every checkpoint (signed notes) against the entries: signature by one of `keys`,
    /// origin, and root at its size. `pinned` are checkpoints saved earlier (e.g. by a witness)
    /// that the log must extend.
    pub fn finish(
        &self,
        origin: &str,
        checkpoints: &[String],
        pinned: &[String],
        keys: &[VerifyingKey],
    ) -> Result<Verified, VerifyError> {
        let mut newest = 0;
        for note in checkpoints.iter().chain(pinned) {
            let cp =
                Checkpoint::verify(note, keys).map_err(|source| VerifyError::BadSignature {
                    size: note_size(note),
                    source,
                })?;
            if cp.origin != origin {
                return Err(VerifyError::WrongOrigin {
                    expected: origin.to_owned(),
                    found: cp.origin,
                });
            }
            if cp.size > self.tree.size() {
                return Err(VerifyError::Truncated {
                    expected: cp.size,
                    found: self.tree.size(),
                });
            }
            let root = crate::merkle::root(&self.tree, cp.size)
                .map_err(|_| VerifyError::InconsistentCheckpoint { size: cp.size })?;
            if root != cp.root {
                return Err(VerifyError::InconsistentCheckpoint { size: cp.size });
            }
            newest = newest.max(cp.size);
        }
        Ok(Verified {
            entries: self.tree.size(),
            checkpoints: checkpoints.len(),
            root: hex(&self.tree.root()),
            checkpointed: newest,
        })
    }
}

/// The size line of a note, for error messages about notes that do not verify.
fn note_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::checkpoint::origin;
    use crate::pass::NodeKey;

    fn log(n: u64) -> Vec<Vec<u8>> {
        let mut prev = GENESIS_PREV;
        (1..=n)
            .map(|seq| {
                let bytes = entry_bytes(
                    seq,
                    1_790_000_000_000 + seq as i64,
                    EntryKind::Decision,
                    &json!({"n": seq, "s": "a\"b,\"kind\":\"x"}),
                    &prev,
                );
                prev = leaf_hash(&bytes);
                bytes
            })
            .collect()
    }

    fn verify(
        entries: &[Vec<u8>],
        notes: &[String],
        key: &NodeKey,
    ) -> Result<Verified, VerifyError> {
        let mut v = Verifier::new(true);
        for e in entries {
            v.push(e, None)?;
        }
        v.finish(&origin("n"), notes, &[], &[key.verifying_key()])
    }

    fn note(entries: &[Vec<u8>], size: u64, key: &NodeKey) -> String {
        let mut tree = MemoryTree::new();
        for e in &entries[..size as usize] {
            tree.push(leaf_hash(e));
        }
        Checkpoint {
            origin: origin("n"),
            size,
            root: tree.root(),
        }
        .sign(key)
    }

    #[test]
    fn heads_are_read_strictly_from_the_end() {
        let prev = "ab".repeat(32);
        let entry = |tail: &str| format!("{{\"body\":{{\"x\":\"\\\",\\\"kind\\\":\"}}{tail}");
        let good = entry(&format!(
            ",\"kind\":\"executed\",\"prev\":\"{prev}\",\"seq\":12,\"ts\":-5,\"v\":1}}"
        ));
        let head = read_head(good.as_bytes()).unwrap();
        assert_eq!(
            (head.seq, head.ts_ms, head.kind),
            (12, -5, EntryKind::Executed)
        );
        for bad in [
            format!(",\"kind\":\"executed\",\"prev\":\"{prev}\",\"seq\":012,\"ts\":5,\"v\":1}}"),
            format!(",\"kind\":\"executed\",\"prev\":\"{prev}\",\"seq\":-1,\"ts\":5,\"v\":1}}"),
            format!(",\"kind\":\"executed\",\"prev\":\"{prev}\",\"seq\":1,\"ts\":-0,\"v\":1}}"),
            format!(",\"kind\":\"executed\",\"prev\":\"{prev}\",\"seq\":,\"ts\":5,\"v\":1}}"),
            format!(",\"kind\":\"nope\",\"prev\":\"{prev}\",\"seq\":1,\"ts\":5,\"v\":1}}"),
            format!(
                ",\"kind\":\"executed\",\"prev\":\"{}\",\"seq\":1,\"ts\":5,\"v\":1}}",
                "AB".repeat(32)
            ),
            format!(
                ",\"kind\":\"executed\",\"prev\":\"{}\",\"seq\":1,\"ts\":5,\"v\":1}}",
                "ab".repeat(31)
            ),
            format!(",\"kind\":\"executed\",\"prev\":\"{prev}\",\"seq\":1,\"ts\":5,\"v\":2}}"),
            format!("\"kind\":\"executed\",\"prev\":\"{prev}\",\"seq\":1,\"ts\":5,\"v\":1}}"),
        ] {
            assert!(read_head(entry(&bad).as_bytes()).is_none(), "{bad}");
        }
        let bodyless = format!(
            "{{\"body\":,\"kind\":\"executed\",\"prev\":\"{prev}\",\"seq\":1,\"ts\":5,\"v\":1}}"
        );
        assert!(read_head(bodyless.as_bytes()).is_none());
        assert!(read_head(b"").is_none());
        assert!(read_head(b"{\"body\":").is_none());
    }

    #[test]
    fn entries_round_trip() {
        let entries = log(3);
        let head = read_head(&entries[1]).unwrap();
        assert_eq!(head.seq, 2);
        assert_eq!(head.kind, EntryKind::Decision);
        assert_eq!(head.prev, leaf_hash(&entries[0]));
        let e = Entry::decode(&entries[2]).unwrap();
        assert_eq!(e.body["n"], 3);
        assert!(
            std::str::from_utf8(&entries[0])
                .unwrap()
                .starts_with("{\"body\":{\"n\":1,")
        );
        let v: Value = serde_json::from_slice(&entries[0]).unwrap();
        assert_eq!(json::canonicalize(&v), entries[0]);
    }

    #[test]
    fn a_good_log_verifies() {
        let key = NodeKey::from_seed(&[3; 32]);
        let entries = log(20);
        let notes = vec![note(&entries, 7, &key), note(&entries, 20, &key)];
        let ok = verify(&entries, &notes, &key).unwrap();
        assert_eq!((ok.entries, ok.checkpoints, ok.checkpointed), (20, 2, 20));
    }

    #[test]
    fn names_the_first_bad_entry() {
        let key = NodeKey::from_seed(&[3; 32]);
        let entries = log(10);
        let notes = vec![note(&entries, 10, &key)];

        let mut edited = entries.clone();
        edited[4] = String::from_utf8(edited[4].clone())
            .unwrap()
            .replace("\"n\":5", "\"n\":6")
            .into_bytes();
        assert_eq!(
            verify(&edited, &notes, &key),
            Err(VerifyError::BrokenChain { seq: 6 })
        );

        let mut reordered = entries.clone();
        reordered.swap(3, 4);
        assert_eq!(
            verify(&reordered, &notes, &key),
            Err(VerifyError::Reordered {
                position: 4,
                found: 5
            })
        );

        assert_eq!(
            verify(&entries[..8], &notes, &key),
            Err(VerifyError::Truncated {
                expected: 10,
                found: 8
            })
        );

        let mut garbage = entries.clone();
        garbage[2] = b"{}".to_vec();
        assert_eq!(
            verify(&garbage, &notes, &key),
            Err(VerifyError::Malformed { seq: 3 })
        );

        // A rewritten log with a consistent chain but a different history fails at the checkpoint.
        let mut rewritten = log(10);
        let mut prev = GENESIS_PREV;
        for (i, e) in rewritten.iter_mut().enumerate() {
            *e = entry_bytes(
                i as u64 + 1,
                1,
                EntryKind::Decision,
                &json!({"forged": i}),
                &prev,
            );
            prev = leaf_hash(e);
        }
        assert_eq!(
            verify(&rewritten, &notes, &key),
            Err(VerifyError::InconsistentCheckpoint { size: 10 })
        );

        let other = NodeKey::from_seed(&[4; 32]);
        assert!(matches!(
            verify(&entries, &[note(&entries, 10, &other)], &key),
            Err(VerifyError::BadSignature { size: 10, .. })
        ));

        let mut v = Verifier::new(false);
        assert_eq!(
            v.push(&entries[0], Some(&[9; 32])),
            Err(VerifyError::BadHash { seq: 1 })
        );
    }

    #[test]
    fn deep_mode_rejects_non_canonical_bodies() {
        let bytes = b"{\"body\":{\"b\":1, \"a\":2},\"kind\":\"decision\",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":1,\"ts\":5,\"v\":1}";
        assert!(Verifier::new(false).push(bytes, None).is_ok());
        assert_eq!(
            Verifier::new(true).push(bytes, None),
            Err(VerifyError::NotCanonical { seq: 1 })
        );
    }

    #[test]
    fn hex_round_trip() {
        let h = leaf_hash(b"x");
        assert_eq!(parse_hex(&hex(&h)), Some(h));
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_hex(&"A".repeat(64)), None);
    }
}

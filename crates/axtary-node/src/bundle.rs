//! Ledger bundles: a self-contained JSON export that verifies on another machine with nothing
//! else (DESIGN.md §7). (contract: the format below)
//!
//! ```text
//! {"format":"axtary-ledger-bundle","version":1,"origin":"axtary/<node>/v1",
//! "keys":[{"kid":…,"public_key":<hex>,"vkey":<C2SP vkey>},…],
//! "checkpoints":[<signed note>,…],
//! "entries":[
//! "<entry 1's canonical bytes>",
//! …
//! ]}
//! ```
//! Entries are carried as their exact canonical bytes (a JSON string holds any UTF-8 text
//! exactly), because every hash is over those bytes. Writing and reading both stream: memory
//! stays bounded by the Merkle tree being rebuilt (about 64 bytes per entry), not by the file.

use std::fmt;
use std::io::{self, Read, Write};

use axtary_core::export::PublishedKey;
use axtary_core::ledger::{Verifier, VerifyError};
use ed25519_dalek::VerifyingKey;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::ledger::{LedgerError, PROGRESS_EVERY, Reader};

/// The `format` of a bundle.
pub const BUNDLE_FORMAT: &str = "axtary-ledger-bundle";
/// The `version` of a bundle.
pub const BUNDLE_VERSION: u32 = 1;

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("entry {seq} is not UTF-8 text, so it cannot be carried in a bundle")]
    NotUtf8 { seq: u64 },
    #[error("not a ledger bundle: {0}")]
    Format(String),
}

/// What [`write`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    pub entries: u64,
    pub checkpoints: usize,
}

/// Writes the whole ledger behind `reader` as a bundle, with `keys` published under the log's
/// origin. `progress` is called with the number of entries written every so often.
pub fn write(
    reader: &Reader,
    keys: &[VerifyingKey],
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<Written, BundleError> {
    let origin = reader.origin()?.unwrap_or_default();
    let published: Vec<PublishedKey> = keys.iter().map(|k| PublishedKey::new(&origin, k)).collect();
    let checkpoints = reader.checkpoints()?;
    write!(
        out,
        "{{\"format\":\"{BUNDLE_FORMAT}\",\"version\":{BUNDLE_VERSION},\"origin\":{},\n\"keys\":{},\n\"checkpoints\":{},\n\"entries\":[",
        to_json(&origin),
        to_json(&published),
        to_json(&checkpoints)
    )?;
    let mut written = 0u64;
    let mut io_error = None;
    let mut not_utf8 = None;
    reader
        .for_each(1, |e| {
            let Ok(text) = std::str::from_utf8(&e.bytes) else {
                not_utf8 = Some(e.seq);
                return Err(LedgerError::Inconsistent(String::new()));
            };
            let sep = if written == 0 { "\n" } else { ",\n" };
            let line = to_json(text);
            if let Err(err) = out
                .write_all(sep.as_bytes())
                .and_then(|()| out.write_all(line.as_bytes()))
            {
                io_error = Some(err);
                return Err(LedgerError::Storage(String::new()));
            }
            written += 1;
            if written.is_multiple_of(PROGRESS_EVERY) {
                progress(written);
            }
            Ok(())
        })
        .map_err(|e| match (io_error.take(), not_utf8) {
            (Some(io), _) => BundleError::Io(io),
            (None, Some(seq)) => BundleError::NotUtf8 { seq },
            (None, None) => BundleError::Ledger(e),
        })?;
    out.write_all(b"\n]}\n")?;
    out.flush()?;
    Ok(Written {
        entries: written,
        checkpoints: checkpoints.len(),
    })
}

/// JSON text of a header field: a string, a list of strings or a list of keys.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // INVARIANT: strings and structs of strings serialize infallibly.
    serde_json::to_string(value).unwrap_or_default()
}

/// A bundle as read: its header, and its entries already pushed through a [`Verifier`].
pub struct ReadBundle {
    pub origin: String,
    pub keys: Vec<PublishedKey>,
    pub checkpoints: Vec<String>,
    /// Holds every entry up to the first bad one.
    pub verifier: Verifier,
    /// The first entry that failed, if any. Reading goes on so a malformed file is reported as
    /// such, but nothing after the first failure is checked.
    pub failure: Option<VerifyError>,
}

impl fmt::Debug for ReadBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadBundle")
            .field("origin", &self.origin)
            .field("entries", &self.verifier.size())
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl ReadBundle {
    /// The embedded keys, each checked against its id and vkey.
    pub fn embedded_keys(&self) -> Result<Vec<VerifyingKey>, BundleError> {
        self.keys
            .iter()
            .map(|k| {
                k.key(&self.origin)
                    .map_err(|e| BundleError::Format(format!("embedded key: {e}")))
            })
            .collect()
    }
}

/// Reads a bundle from `input`, streaming its entries through a [`Verifier`] (`deep` as in
/// [`Verifier::new`]). Checkpoints are not checked here: call [`Verifier::finish`] with the
/// keys you trust.
pub fn read(
    input: impl Read,
    deep: bool,
    mut progress: impl FnMut(u64),
) -> Result<ReadBundle, BundleError> {
    let mut de = serde_json::Deserializer::from_reader(io::BufReader::new(input));
    let bundle = BundleSeed {
        deep,
        progress: &mut progress,
    }
    .deserialize(&mut de)
    .and_then(|b| de.end().map(|()| b))
    .map_err(|e| {
        if e.is_io() {
            BundleError::Io(io::Error::other(e))
        } else {
            BundleError::Format(e.to_string())
        }
    })?;
    if bundle.format != BUNDLE_FORMAT {
        return Err(BundleError::Format(format!(
            "`format` is `{}`, expected `{BUNDLE_FORMAT}`",
            bundle.format
        )));
    }
    if bundle.version != BUNDLE_VERSION {
        return Err(BundleError::Format(format!(
            "unsupported version {}",
            bundle.version
        )));
    }
    Ok(bundle.read)
}

struct Parsed {
    format: String,
    version: u32,
    read: ReadBundle,
}

struct BundleSeed<'a, P> {
    deep: bool,
    progress: &'a mut P,
}

const FIELDS: &[&str] = &[
    "format",
    "version",
    "origin",
    "keys",
    "checkpoints",
    "entries",
];

impl<'de, P: FnMut(u64)> DeserializeSeed<'de> for BundleSeed<'_, P> {
    type Value = Parsed;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, P: FnMut(u64)> Visitor<'de> for BundleSeed<'_, P> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a ledger bundle object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut format: Option<String> = None;
        let mut version: Option<u32> = None;
        let mut origin: Option<String> = None;
        let mut keys: Option<Vec<PublishedKey>> = None;
        let mut checkpoints: Option<Vec<String>> = None;
        let mut entries_seen = false;
        let mut verifier = Verifier::new(self.deep);
        let mut failure = None;
        fn set<T, E: de::Error>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), E> {
            if slot.replace(v).is_some() {
                return Err(E::duplicate_field(name));
            }
            Ok(())
        }
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => set(&mut format, map.next_value()?, "format")?,
                "version" => set(&mut version, map.next_value()?, "version")?,
                "origin" => set(&mut origin, map.next_value()?, "origin")?,
                "keys" => set(&mut keys, map.next_value()?, "keys")?,
                "checkpoints" => set(&mut checkpoints, map.next_value()?, "checkpoints")?,
                "entries" => {
                    if entries_seen {
                        return Err(de::Error::duplicate_field("entries"));
                    }
                    entries_seen = true;
                    map.next_value_seed(EntriesSeed {
                        verifier: &mut verifier,
                        failure: &mut failure,
                        progress: &mut *self.progress,
                    })?;
                }
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        if !entries_seen {
            return Err(de::Error::missing_field("entries"));
        }
        let origin = origin.ok_or_else(|| de::Error::missing_field("origin"))?;
        if origin.is_empty() {
            return Err(de::Error::custom("`origin` is empty"));
        }
        Ok(Parsed {
            format: format.ok_or_else(|| de::Error::missing_field("format"))?,
            version: version.ok_or_else(|| de::Error::missing_field("version"))?,
            read: ReadBundle {
                origin,
                keys: keys.ok_or_else(|| de::Error::missing_field("keys"))?,
                checkpoints: checkpoints.ok_or_else(|| de::Error::missing_field("checkpoints"))?,
                verifier,
                failure,
            },
        })
    }
}

struct EntriesSeed<'a, P> {
    verifier: &'a mut Verifier,
    failure: &'a mut Option<VerifyError>,
    progress: &'a mut P,
}

impl<'de, P: FnMut(u64)> DeserializeSeed<'de> for EntriesSeed<'_, P> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, P: FnMut(u64)> Visitor<'de> for EntriesSeed<'_, P> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of entries, each a string of canonical JSON")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<String>()? {
            if self.failure.is_some() {
                continue;
            }
            match self.verifier.push(entry.as_bytes(), None) {
                Ok(_) => {
                    if self.verifier.size().is_multiple_of(PROGRESS_EVERY) {
                        (self.progress)(self.verifier.size());
                    }
                }
                Err(e) => *self.failure = Some(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use axtary_core::checkpoint::origin;
    use axtary_core::ledger::EntryKind;
    use axtary_core::pass::NodeKey;
    use serde_json::json;

    use super::*;
    use crate::ledger::{Ledger, LedgerOptions};

    fn ledger(name: &str, n: u64) -> (std::path::PathBuf, NodeKey) {
        let dir = std::env::temp_dir().join(format!("axtary-bundle-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ledger.db");
        let key = NodeKey::from_seed(&[8; 32]);
        let l = Ledger::open(
            &path,
            &origin("b"),
            NodeKey::from_seed(&[8; 32]),
            LedgerOptions::default(),
        )
        .unwrap();
        for i in 0..n {
            l.append(
                EntryKind::Decision,
                json!({"i": i, "text": "quote \" backslash \\ é \u{1F600} \n"}),
            )
            .unwrap();
        }
        l.close().unwrap();
        (path, key)
    }

    #[test]
    fn round_trip_keeps_exact_bytes() {
        let (path, key) = ledger("round", 25);
        let reader = Reader::open(&path).unwrap();
        let mut out = Vec::new();
        let written = write(&reader, &[key.verifying_key()], &mut out, |_| {}).unwrap();
        assert_eq!(written.entries, 25);
        let read = read(out.as_slice(), true, |_| {}).unwrap();
        assert!(read.failure.is_none());
        assert_eq!(read.embedded_keys().unwrap(), vec![key.verifying_key()]);
        let ok = read
            .verifier
            .finish(&read.origin, &read.checkpoints, &[], &[key.verifying_key()])
            .unwrap();
        assert_eq!(ok.entries, 25);
        assert_eq!(ok.checkpointed, 25);
        let local = reader
            .verify(&[key.verifying_key()], &[], true)
            .unwrap()
            .unwrap();
        assert_eq!(ok.root, local.root);
    }

    #[test]
    fn refuses_what_is_not_a_bundle() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"format":"x","version":1,"origin":"o","keys":[],"checkpoints":[],"entries":[]}"#,
            r#"{"format":"axtary-ledger-bundle","version":2,"origin":"o","keys":[],"checkpoints":[],"entries":[]}"#,
            r#"{"format":"axtary-ledger-bundle","version":1,"origin":"o","keys":[],"checkpoints":[],"entries":[],"extra":1}"#,
            r#"{"format":"axtary-ledger-bundle","format":"axtary-ledger-bundle","version":1,"origin":"o","keys":[],"checkpoints":[],"entries":[]}"#,
            r#"{"format":"axtary-ledger-bundle","version":1,"origin":"o","keys":[],"checkpoints":[],"entries":[]} x"#,
            r#"{"format":"axtary-ledger-bundle","version":1,"origin":"o","keys":[],"checkpoints":[],"entries":[1]}"#,
        ] {
            assert!(
                matches!(
                    read(bad.as_bytes(), false, |_| {}),
                    Err(BundleError::Format(_))
                ),
                "{bad}"
            );
        }
    }
}

//! The credential broker: provider credentials, stored under `$AXTARY_HOME`, never printed.
//!
//! Secrets live in `secrets.json` (mode 0600; a looser file is refused, never "fixed"
//! silently). Values are held in [`Zeroizing`] strings and leave this module only as such,
//! or inside a [`Scrubber`] that redacts them. [`Broker::list`] returns names and update times
//! only. Writes go through a temporary 0600 file, fsync and rename, so a crash leaves either
//! the old or the new file, never a torn one.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::scrub::Scrubber;

/// File name of the secrets store inside the home directory.
pub const SECRETS_FILE: &str = "secrets.json";
/// Shortest secret accepted: shorter values cannot be redacted without mangling output.
pub const MIN_SECRET_LEN: usize = 8;
/// Longest secret accepted.
pub const MAX_SECRET_LEN: usize = 64 * 1024;
const FILE_VERSION: u32 = 1;

/// Why the broker could not do what was asked. No variant ever carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "`{path}` is accessible to other users (mode {mode:03o}); refusing to use it\nhint: run `chmod 600 {path}`"
    )]
    Permissions { path: String, mode: u32 },
    #[error("`{path}` is not a valid secrets file: {message}")]
    Format { path: String, message: String },
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid secret name `{0}`: use 1 to 64 of A-Z a-z 0-9 _ . -")]
    Name(String),
    #[error("no secret named `{0}`\nhint: store it with `axtary secrets set {0}`")]
    NotFound(String),
    #[error(
        "a secret must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} bytes with no line breaks (shorter values cannot be redacted reliably)"
    )]
    Value,
}

/// Names of secrets: what `valid_name` accepts.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A secret's name and when it was last set; what `axtary secrets list` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    pub name: String,
    /// Seconds since the Unix epoch.
    pub updated_at: i64,
}

struct Entry {
    value: Zeroizing<String>,
    updated_at: i64,
}

struct Inner {
    secrets: BTreeMap<String, Entry>,
    scrubber: Arc<Scrubber>,
}

impl Inner {
    fn new(secrets: BTreeMap<String, Entry>) -> Self {
        let scrubber = Arc::new(Scrubber::new(
            secrets.iter().map(|(k, e)| (k.as_str(), e.value.as_str())),
        ));
        Self { secrets, scrubber }
    }
}

/// The secrets store. Cheap to share behind an `Arc`; reads and writes are serialized.
pub struct Broker {
    path: PathBuf,
    inner: RwLock<Inner>,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("path", &self.path)
            .field("secrets", &self.list().len())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    version: u32,
    secrets: BTreeMap<String, EntryRepr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryRepr {
    value: String,
    updated_at: i64,
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    secrets: BTreeMap<&'a str, EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    value: &'a str,
    updated_at: i64,
}

impl Broker {
    /// Opens `secrets.json` in `home` (an absent file is an empty store).
    pub fn open(home: &Path) -> Result<Self, BrokerError> {
        Self::open_file(home.join(SECRETS_FILE))
    }

    /// Opens a secrets file at `path`.
    pub fn open_file(path: PathBuf) -> Result<Self, BrokerError> {
        let shown = path.display().to_string();
        let secrets = match File::open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(BrokerError::Read {
                    path: shown,
                    source,
                });
            }
            Ok(mut file) => {
                let meta = file.metadata().map_err(|source| BrokerError::Read {
                    path: shown.clone(),
                    source,
                })?;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(BrokerError::Permissions { path: shown, mode });
                }
                let mut bytes = Zeroizing::new(Vec::new());
                file.read_to_end(&mut bytes)
                    .map_err(|source| BrokerError::Read {
                        path: shown.clone(),
                        source,
                    })?;
                // serde_json's messages quote no input values for these shapes; they name
                // the line and column only, so they are safe to show.
                let repr: FileRepr =
                    serde_json::from_slice(&bytes).map_err(|e| BrokerError::Format {
                        path: shown.clone(),
                        message: format!("line {} column {}", e.line(), e.column()),
                    })?;
                if repr.version != FILE_VERSION {
                    return Err(BrokerError::Format {
                        path: shown,
                        message: format!("unsupported version {}", repr.version),
                    });
                }
                let mut out = BTreeMap::new();
                for (name, e) in repr.secrets {
                    if !valid_name(&name) {
                        return Err(BrokerError::Name(name));
                    }
                    out.insert(
                        name,
                        Entry {
                            value: Zeroizing::new(e.value),
                            updated_at: e.updated_at,
                        },
                    );
                }
                out
            }
        };
        Ok(Self {
            path,
            inner: RwLock::new(Inner::new(secrets)),
        })
    }

    /// Where the secrets are stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere; the map itself is only ever replaced
        // after a successful write, so it is consistent.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `value` under `name`, replacing any previous value.
    pub fn set(&self, name: &str, value: Zeroizing<String>) -> Result<(), BrokerError> {
        if !valid_name(name) {
            return Err(BrokerError::Name(name.to_owned()));
        }
        if value.len() < MIN_SECRET_LEN
            || value.len() > MAX_SECRET_LEN
            || value.contains(['\n', '\r', '\0'])
        {
            return Err(BrokerError::Value);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.update(|secrets| {
            secrets.insert(
                name.to_owned(),
                Entry {
                    value,
                    updated_at: now,
                },
            );
            true
        })
        .map(|_| ())
    }

    /// Removes `name`; `Ok(false)` if there was no such secret.
    pub fn rm(&self, name: &str) -> Result<bool, BrokerError> {
        if !valid_name(name) {
            return Err(BrokerError::Name(name.to_owned()));
        }
        self.update(|secrets| secrets.remove(name).is_some())
    }

    fn update(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, Entry>) -> bool,
    ) -> Result<bool, BrokerError> {
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let mut next: BTreeMap<String, Entry> = guard
            .secrets
            .iter()
            .map(|(k, e)| {
                (
                    k.clone(),
                    Entry {
                        value: e.value.clone(),
                        updated_at: e.updated_at,
                    },
                )
            })
            .collect();
        if !change(&mut next) {
            return Ok(false);
        }
        self.write_file(&next)?;
        *guard = Inner::new(next);
        Ok(true)
    }

    fn write_file(&self, secrets: &BTreeMap<String, Entry>) -> Result<(), BrokerError> {
        let out = FileOut {
            version: FILE_VERSION,
            secrets: secrets
                .iter()
                .map(|(k, e)| {
                    (
                        k.as_str(),
                        EntryOut {
                            value: e.value.as_str(),
                            updated_at: e.updated_at,
                        },
                    )
                })
                .collect(),
        };
        let mut bytes = Zeroizing::new(Vec::new());
        let err = |source: std::io::Error| BrokerError::Write {
            path: self.path.display().to_string(),
            source,
        };
        serde_json::to_writer_pretty(&mut *bytes, &out)
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        bytes.push(b'\n');
        let tmp = self.path.with_extension("json.tmp");
        let _ = fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        file.write_all(&bytes).map_err(err)?;
        file.sync_all().map_err(err)?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(err)?;
        if let Some(dir) = self.path.parent() {
            // Make the rename durable; a directory that cannot be opened is not an error here.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// The value of `name`, in a buffer that is wiped when dropped.
    pub fn get(&self, name: &str) -> Result<Zeroizing<String>, BrokerError> {
        self.read()
            .secrets
            .get(name)
            .map(|e| e.value.clone())
            .ok_or_else(|| BrokerError::NotFound(name.to_owned()))
    }

    /// Names and update times, sorted by name. Never values.
    pub fn list(&self) -> Vec<SecretInfo> {
        self.read()
            .secrets
            .iter()
            .map(|(name, e)| SecretInfo {
                name: name.clone(),
                updated_at: e.updated_at,
            })
            .collect()
    }

    /// A scrubber for every secret currently stored.
    pub fn scrubber(&self) -> Arc<Scrubber> {
        Arc::clone(&self.read().scrubber)
    }
}

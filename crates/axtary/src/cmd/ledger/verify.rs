//! `axtary ledger verify [--bundle FILE]`: recompute every hash, link, root and signature
//! offline, and name the first bad entry and why.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use axtary_core::ledger::{Verified, Verifier, VerifyError};
use axtary_node::bundle::{self, BundleError};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::{Progress, note_size, open_reader, pinned_keys, trusted_keys};
use crate::exit::Exit;
use crate::home::Home;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Also parse every entry and check that its body is canonical JSON (slower)
    #[arg(long)]
    deep: bool,
    /// Verify an exported bundle (`axtary ledger export`) instead of the home's ledger; needs
    /// nothing but the file
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// A checkpoint saved earlier (`axtary ledger checkpoint --out FILE`): the log must extend
    /// it, which shows it was not rewritten or truncated since. Repeatable
    #[arg(long = "checkpoint", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// The node's public key (64 hex digits, from `axtary keys show`) that checkpoints must be
    /// signed by. Without a pinned key a bundle is checked with its own embedded keys, which
    /// proves integrity but not who wrote it. Repeatable (e.g. keys before and after a rotation)
    #[arg(long = "key", value_name = "HEX")]
    keys: Vec<String>,
    /// Like `--key`, as a C2SP vkey string (`name+keyid+base64`)
    #[arg(long = "vkey", value_name = "VKEY")]
    vkeys: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Why verification failed, in words a user can act on.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Machine-readable kind: `bad_hash`, `broken_chain`, `reordered`, `truncated`,
    /// `bad_signature`, `inconsistent_checkpoint`, `malformed`, `not_canonical`,
    /// `wrong_origin`, `not_a_bundle`, `bad_key`.
    pub kind: &'static str,
    /// The first bad entry, where one is known.
    pub seq: Option<u64>,
    /// The size of the checkpoint that failed, where a checkpoint failed.
    pub checkpoint: Option<u64>,
    pub reason: String,
}

impl Failure {
    fn new(kind: &'static str, reason: String) -> Self {
        Self {
            kind,
            seq: None,
            checkpoint: None,
            reason,
        }
    }

    /// `FAILED at entry 57: broken chain (…)`.
    pub fn line(&self) -> String {
        let label = self.kind.replace('_', " ");
        match (self.seq, self.checkpoint) {
            (Some(seq), _) => format!("FAILED at entry {seq}: {label} ({})", self.reason),
            (None, Some(size)) => {
                format!("FAILED at checkpoint {size}: {label} ({})", self.reason)
            }
            (None, None) => format!("FAILED: {label} ({})", self.reason),
        }
    }
}

/// Describes `err`. `checkpoints` are the log's own checkpoints, sorted by size, all of which
/// were checked before a pinned one (`pinned`, the file it came from).
pub fn describe(err: &VerifyError, checkpoints: &[String], pinned: Option<&Path>) -> Failure {
    let at_entry = |kind, seq: u64, reason: String| Failure {
        seq: Some(seq),
        ..Failure::new(kind, reason)
    };
    let at_checkpoint = |kind, size: u64, reason: String| Failure {
        checkpoint: Some(size),
        ..Failure::new(kind, reason)
    };
    let whose = pinned.map_or_else(
        || "the checkpoint".to_owned(),
        |p| format!("the checkpoint saved in `{}`", p.display()),
    );
    match err {
        VerifyError::Malformed { seq } => {
            at_entry("malformed", *seq, "not a canonical ledger entry".to_owned())
        }
        VerifyError::BadHash { seq } => at_entry(
            "bad_hash",
            *seq,
            "the stored hash does not match the entry's bytes: the entry was edited".to_owned(),
        ),
        VerifyError::BrokenChain { seq } => at_entry(
            "broken_chain",
            *seq,
            if *seq == 1 {
                "the first entry's `prev` is not the genesis value".to_owned()
            } else {
                format!(
                    "its `prev` is not the hash of entry {}: entry {} was edited, or entries were removed or inserted",
                    seq - 1,
                    seq - 1
                )
            },
        ),
        VerifyError::Reordered { position, found } => at_entry(
            "reordered",
            *position,
            format!(
                "expected sequence number {position}, found {found}: entries were reordered, removed or duplicated"
            ),
        ),
        VerifyError::NotCanonical { seq } => at_entry(
            "not_canonical",
            *seq,
            "the body is not canonical JSON".to_owned(),
        ),
        VerifyError::BadSignature { size, source } => at_checkpoint(
            "bad_signature",
            *size,
            format!(
                "{whose}: {source}; it is forged, altered, or signed by a key not trusted here"
            ),
        ),
        VerifyError::InconsistentCheckpoint { size } => {
            // Every checkpoint smaller than this one matched (they are checked in size order,
            // the pinned ones last), so the rewrite lies above the largest of them.
            let matched = checkpoints
                .iter()
                .filter_map(|n| note_size(n))
                .filter(|s| s < size)
                .max()
                .unwrap_or(0);
            at_checkpoint(
                "inconsistent_checkpoint",
                *size,
                format!(
                    "{whose} was signed over different entries: the log was rewritten after it was signed, somewhere in entries {}..={size}",
                    matched + 1
                ),
            )
        }
        VerifyError::WrongOrigin { expected, found } => Failure::new(
            "wrong_origin",
            format!("{whose} is for log `{found}`, this log is `{expected}`"),
        ),
        VerifyError::Truncated { expected, found } => at_entry(
            "truncated",
            found + 1,
            format!("{whose} covers {expected} entries, but only {found} are present"),
        ),
    }
}

/// A verified log and what was checked.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub origin: String,
    #[serde(flatten)]
    pub verified: Verified,
    /// Size of the newest pinned checkpoint the log extends, if any were given.
    pub extends_pinned: Option<u64>,
}

/// Checks the log's checkpoints (in size order), then each pinned one.
pub fn check(
    verifier: &Verifier,
    origin: &str,
    mut checkpoints: Vec<String>,
    pinned: &[(PathBuf, String)],
    keys: &[VerifyingKey],
) -> Result<Outcome, Failure> {
    checkpoints.sort_by_key(|n| note_size(n));
    let verified = verifier
        .finish(origin, &checkpoints, &[], keys)
        .map_err(|e| describe(&e, &checkpoints, None))?;
    let mut extends_pinned = None;
    for (path, note) in pinned {
        let v = verifier
            .finish(origin, &[], std::slice::from_ref(note), keys)
            .map_err(|e| describe(&e, &checkpoints, Some(path)))?;
        extends_pinned = extends_pinned.max(Some(v.checkpointed));
    }
    Ok(Outcome {
        origin: origin.to_owned(),
        verified,
        extends_pinned,
    })
}

/// Reads `--checkpoint` files; a file that is not a checkpoint note is invalid input.
pub fn read_pinned(
    paths: &[PathBuf],
) -> Result<std::result::Result<Vec<(PathBuf, String)>, String>> {
    let mut out = Vec::new();
    for p in paths {
        let note =
            std::fs::read_to_string(p).with_context(|| format!("cannot read `{}`", p.display()))?;
        if let Err(e) = axtary_core::checkpoint::Checkpoint::parse_unverified(&note) {
            return Ok(Err(format!(
                "`{}` is not a signed checkpoint: {e}",
                p.display()
            )));
        }
        out.push((p.clone(), note));
    }
    Ok(Ok(out))
}

pub fn run(home: &Home, args: &VerifyArgs) -> Result<Exit> {
    let pinned = match read_pinned(&args.checkpoints)? {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    let mut warnings = Vec::new();
    let mut progress = Progress::new("verified");
    let pinned_key_flags = !args.keys.is_empty() || !args.vkeys.is_empty();

    // Read the entries (from the bundle or the home's ledger) and settle which keys to trust.
    let (origin, entries, checkpoints, keys) = if let Some(path) = &args.bundle {
        let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
        let read = match bundle::read(file, args.deep, |n| progress.update(n)) {
            Ok(r) => r,
            Err(BundleError::Format(m)) => {
                progress.done();
                return report(Err(Failure::new("not_a_bundle", m)), &[], args.format);
            }
            Err(e) => return Err(e).context(format!("cannot read `{}`", path.display())),
        };
        let keys = if pinned_key_flags {
            match pinned_keys(&args.keys, &args.vkeys, &read.origin) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return Ok(Exit::Invalid);
                }
            }
        } else {
            match read.embedded_keys() {
                Ok(k) => {
                    let kids: Vec<&str> = read.keys.iter().map(|k| k.kid.as_str()).collect();
                    warnings.push(format!(
                        "no key pinned: checked with the bundle's own keys ({}), which proves the bundle is intact, not who wrote it\nhint: pass the node's public key with `--key HEX` (from `axtary keys show` on the node)",
                        kids.join(", ")
                    ));
                    k
                }
                Err(e) => {
                    progress.done();
                    return report(
                        Err(Failure::new("bad_key", e.to_string())),
                        &warnings,
                        args.format,
                    );
                }
            }
        };
        let entries = match read.failure {
            Some(f) => Err(f),
            None => Ok(read.verifier),
        };
        (read.origin, entries, read.checkpoints, keys)
    } else {
        let reader = open_reader(home)?;
        let origin = reader.origin()?.unwrap_or_default();
        let keys = if pinned_key_flags {
            match pinned_keys(&args.keys, &args.vkeys, &origin) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return Ok(Exit::Invalid);
                }
            }
        } else {
            trusted_keys(home)?
        };
        // Checkpoints before entries: a daemon appending meanwhile cannot make the
        // checkpoints outrun the entries read.
        let checkpoints = reader.checkpoints()?;
        let entries = reader.verify_entries(args.deep, |n| progress.update(n))?;
        (origin, entries, checkpoints, keys)
    };
    progress.done();

    let outcome = match entries {
        Err(e) => Err(describe(&e, &[], None)),
        Ok(verifier) => check(&verifier, &origin, checkpoints, &pinned, &keys),
    };
    if let Ok(o) = &outcome
        && o.verified.checkpoints == 0
        && o.extends_pinned.is_none()
        && o.verified.entries > 0
    {
        warnings.push(
            "no signed checkpoint covers these entries: only their hash chain was checked"
                .to_owned(),
        );
    }
    report(outcome, &warnings, args.format)
}

/// Prints the outcome: the `ok:` line or JSON on stdout, warnings and the failure on stderr.
pub fn report(
    outcome: Result<Outcome, Failure>,
    warnings: &[String],
    format: Format,
) -> Result<Exit> {
    for w in warnings {
        eprintln!("warning: {w}");
    }
    if let Err(f) = &outcome {
        eprintln!("{}", f.line());
    }
    match format {
        Format::Json => {
            let value = match &outcome {
                Ok(o) => serde_json::json!({"ok": true, "result": o, "warnings": warnings}),
                Err(f) => serde_json::json!({"ok": false, "failure": f, "warnings": warnings}),
            };
            output::print_json(&value)?;
        }
        Format::Text => {
            if let Ok(o) = &outcome {
                let v = &o.verified;
                let mut line = format!(
                    "ok: {} entries, {} checkpoints, newest checkpoint covers {}, root {}",
                    v.entries, v.checkpoints, v.checkpointed, v.root
                );
                if let Some(p) = o.extends_pinned {
                    line.push_str(&format!(", extends the saved checkpoint at {p}"));
                }
                line.push('\n');
                output::print(&line)?;
            }
        }
    }
    Ok(if outcome.is_ok() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

//! `axtary ledger verify|export|checkpoint|prove|verify-proof|tail|show`.

pub mod export;
pub mod proof;
pub mod verify;
pub mod view;

use std::fs::{self, File};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use axtary_core::checkpoint::Checkpoint;
use axtary_core::export::parse_public_key;
use axtary_node::keys;
use axtary_node::ledger::Reader;
use ed25519_dalek::VerifyingKey;

use crate::exit::Exit;
use crate::home::Home;
use crate::node;

/// `axtary ledger ...`.
#[derive(clap::Subcommand)]
pub enum LedgerCommand {
    /// Recompute every entry hash, chain link, Merkle root and checkpoint signature offline and
    /// name the first bad entry. Exit 0 ok, 1 verification failed (reason on stderr) or error,
    /// 3 invalid flags
    Verify(verify::VerifyArgs),
    /// Write the ledger to a file: a self-contained, verifiable bundle (default), or JSON Lines
    /// or CSV for analysts. Signs a fresh checkpoint first if the ledger verifies. Exit 1 if it
    /// does not (the file is still written, as stored)
    Export(export::ExportArgs),
    /// Sign a checkpoint over the whole ledger now and print the signed note; keep it to prove
    /// later that the ledger was not rewritten. Refuses a ledger that does not verify
    Checkpoint(export::CheckpointArgs),
    /// Print an inclusion proof receipt for entry SEQ, checkable offline with `verify-proof`
    Prove(proof::ProveArgs),
    /// Verify an inclusion proof receipt offline. Exit 0 ok, 1 verification failed, 3 invalid
    /// flags
    VerifyProof(proof::VerifyProofArgs),
    /// Print the newest entries, one per line; `-f` follows new ones
    Tail(view::TailArgs),
    /// Show one entry decoded, with its hash and link. Exit 1 if its stored hash or its link to
    /// the previous entry does not match, 3 if there is no such entry
    Show(view::ShowArgs),
}

pub fn run(home: &Home, command: &LedgerCommand) -> Result<Exit> {
    match command {
        LedgerCommand::Verify(args) => verify::run(home, args),
        LedgerCommand::Export(args) => export::run(home, args),
        LedgerCommand::Checkpoint(args) => export::checkpoint(home, args),
        LedgerCommand::Prove(args) => proof::prove(home, args),
        LedgerCommand::VerifyProof(args) => proof::verify_proof(args),
        LedgerCommand::Tail(args) => view::tail(home, args),
        LedgerCommand::Show(args) => view::show(home, args),
    }
}

/// Opens the home's ledger for reading.
pub fn open_reader(home: &Home) -> Result<Reader> {
    let path = home.ledger_path();
    if !path.exists() {
        bail!(
            "no ledger at `{}`\nhint: run `axtary init`, or pass `--home DIR`",
            path.display()
        );
    }
    Reader::open(&path).with_context(|| format!("cannot open the ledger `{}`", path.display()))
}

/// Every key the home trusts: the node key, then the keys it replaced.
pub fn trusted_keys(home: &Home) -> Result<Vec<VerifyingKey>> {
    keys::trusted_keys(home.root()).with_context(|| {
        format!(
            "cannot read the node's keys (run `axtary init`? home is `{}`)",
            home.root().display()
        )
    })
}

/// Verifies the home's ledger with its trusted keys (no progress shown).
pub fn verify_home(
    home: &Home,
    reader: &Reader,
) -> Result<std::result::Result<verify::Outcome, verify::Failure>> {
    let origin = reader.origin()?.unwrap_or_default();
    let keys = trusted_keys(home)?;
    let mut progress = Progress::new("verified");
    let checkpoints = reader.checkpoints()?;
    let entries = reader.verify_entries(false, |n| progress.update(n))?;
    progress.done();
    Ok(match entries {
        Err(e) => Err(verify::describe(&e, &[], None)),
        Ok(v) => verify::check(&v, &origin, checkpoints, &[], &keys),
    })
}

/// Verifies the ledger, then signs a checkpoint over it. A ledger that does not verify is
/// never signed: a signature would vouch for the tampering.
pub fn verify_and_sign(home: &Home, reader: &Reader) -> Result<Option<String>> {
    if let Err(f) = verify_home(home, reader)? {
        bail!(
            "the ledger does not verify, so no checkpoint was signed
{}
hint: run `axtary ledger verify` for details",
            f.line()
        );
    }
    sign_checkpoint(home)
}

/// Signs a checkpoint over everything in the ledger now (if anything is new) and returns the
/// newest signed note, or `None` for an empty ledger.
pub fn sign_checkpoint(home: &Home) -> Result<Option<String>> {
    let ledger = node::open_ledger(home)?;
    let signed = ledger.checkpoint();
    ledger.close()?;
    signed.context("cannot sign a checkpoint")?;
    Ok(open_reader(home)?.checkpoints()?.pop())
}

/// The tree size a signed note claims (not verified).
pub fn note_size(note: &str) -> Option<u64> {
    Checkpoint::parse_unverified(note).ok().map(|c| c.size)
}

/// Parses `--key HEX` and `--vkey VKEY` flags into keys; `origin` is the log the vkeys must name.
pub fn pinned_keys(hex: &[String], vkeys: &[String], origin: &str) -> Result<Vec<VerifyingKey>> {
    let mut out = Vec::new();
    for h in hex {
        out.push(parse_public_key(h).with_context(|| {
            format!("`{h}` is not an Ed25519 public key (64 lower-case hex digits)")
        })?);
    }
    for v in vkeys {
        let (name, key) = axtary_core::checkpoint::parse_verifier_key(v)
            .map_err(|e| anyhow::anyhow!("`{v}`: {e}"))?;
        if name != origin {
            bail!("verifier key `{v}` is for `{name}`, but the log is `{origin}`");
        }
        out.push(key);
    }
    Ok(out)
}

/// A `verified N entries` line on stderr, updated in place, shown only on a terminal.
pub struct Progress {
    shown: bool,
    enabled: bool,
    verb: &'static str,
}

impl Progress {
    pub fn new(verb: &'static str) -> Self {
        Self {
            shown: false,
            enabled: io::stderr().is_terminal(),
            verb,
        }
    }

    pub fn update(&mut self, n: u64) {
        if self.enabled {
            self.shown = true;
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r{} {n} entries", self.verb);
            let _ = err.flush();
        }
    }

    /// Clears the line, if one was shown.
    pub fn done(&mut self) {
        if self.shown {
            self.shown = false;
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r{:60}\r", "");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done();
    }
}

/// Writes a file through a temporary sibling renamed into place, so a failed or interrupted
/// export never leaves a half-written file under the requested name.
pub fn write_file<T>(path: &Path, f: impl FnOnce(&mut BufWriter<File>) -> Result<T>) -> Result<T> {
    let mut tmp = PathBuf::from(path);
    let name = path
        .file_name()
        .with_context(|| format!("`{}` is not a file name", path.display()))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    tmp.set_file_name(tmp_name);
    let file = File::create(&tmp).with_context(|| format!("cannot create `{}`", tmp.display()))?;
    let mut out = BufWriter::new(file);
    let result = f(&mut out).and_then(|v| {
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(v)
    });
    match result {
        Ok(v) => {
            fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))?;
            Ok(v)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e.context(format!("cannot write `{}`", path.display())))
        }
    }
}

/// `ms` since the Unix epoch as RFC 3339 UTC with milliseconds.
pub fn fmt_ts(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date
    // Algorithms").
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::fmt_ts;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(fmt_ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(fmt_ts(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(fmt_ts(1_790_000_000_000), "2026-09-21T14:13:20.000Z");
        assert_eq!(fmt_ts(-1), "1969-12-31T23:59:59.999Z");
    }
}

//! `axtary ledger prove SEQ` and `axtary ledger verify-proof FILE`: inclusion receipts that
//! show one entry is in the log without the rest of it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use axtary_core::checkpoint::Checkpoint;
use axtary_core::export::{InclusionReceipt, PublishedKey, RECEIPT_FORMAT, RECEIPT_VERSION};
use axtary_core::ledger::hex;
use axtary_core::merkle::{inclusion_proof, leaf_hash};
use serde_json::json;

use super::{note_size, open_reader, pinned_keys, trusted_keys, verify_and_sign, write_file};
use crate::exit::Exit;
use crate::home::Home;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct ProveArgs {
    /// Sequence number of the entry
    seq: u64,
    /// Write the receipt to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn prove(home: &Home, args: &ProveArgs) -> Result<Exit> {
    let reader = open_reader(home)?;
    let size = reader.size()?;
    if args.seq == 0 || args.seq > size {
        eprintln!(
            "error: no entry {} (the ledger has entries 1..={size})",
            args.seq
        );
        return Ok(Exit::Invalid);
    }
    let keys = trusted_keys(home)?;
    let origin = reader.origin()?.unwrap_or_default();
    // The newest checkpoint, if it covers the entry; otherwise verify and sign one now.
    let newest = reader.checkpoints()?.pop();
    let note = match newest {
        Some(n) if note_size(&n).is_some_and(|s| s >= args.seq) => n,
        _ => verify_and_sign(home, &reader)?.context("no checkpoint could be signed")?,
    };
    let cp = Checkpoint::verify(&note, &keys)
        .map_err(|e| anyhow::anyhow!("the newest checkpoint does not verify: {e}"))?;
    let stored = reader
        .entry(args.seq)?
        .with_context(|| format!("entry {} vanished", args.seq))?;
    let entry = String::from_utf8(stored.bytes)
        .map_err(|_| anyhow::anyhow!("entry {} is not UTF-8 text", args.seq))?;
    let proof = inclusion_proof(&reader, args.seq - 1, cp.size)?;
    let receipt = InclusionReceipt {
        format: RECEIPT_FORMAT.to_owned(),
        version: RECEIPT_VERSION,
        origin: origin.clone(),
        seq: args.seq,
        leaf_hash: hex(&leaf_hash(entry.as_bytes())),
        entry,
        tree_size: cp.size,
        proof: proof.iter().map(hex).collect(),
        checkpoint: note,
        keys: keys.iter().map(|k| PublishedKey::new(&origin, k)).collect(),
    };
    // Never hand out a receipt that does not verify (a damaged tree table would produce one).
    if let Err(e) = receipt.verify(&keys) {
        bail!(
            "cannot prove entry {}: {e}\nhint: run `axtary ledger verify`",
            args.seq
        );
    }
    let mut text = serde_json::to_string_pretty(&receipt)?;
    text.push('\n');
    match &args.out {
        Some(path) => {
            write_file(path, |out| Ok(out.write_all(text.as_bytes())?))?;
            output::print(&format!(
                "inclusion proof of entry {} in the checkpoint at size {} saved to {}\n",
                args.seq,
                cp.size,
                path.display()
            ))?;
        }
        None => output::print(&text)?,
    }
    Ok(Exit::Ok)
}

#[derive(clap::Args)]
pub struct VerifyProofArgs {
    /// A receipt from `axtary ledger prove`
    file: PathBuf,
    /// The node's public key (64 hex digits) the checkpoint must be signed by; without one
    /// the receipt's own keys are used, which proves consistency, not authenticity. Repeatable
    #[arg(long = "key", value_name = "HEX")]
    keys: Vec<String>,
    /// Like `--key`, as a C2SP vkey string
    #[arg(long = "vkey", value_name = "VKEY")]
    vkeys: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn verify_proof(args: &VerifyProofArgs) -> Result<Exit> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read `{}`", args.file.display()))?;
    let receipt: InclusionReceipt = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => return report(Err(format!("not an inclusion receipt: {e}")), None, args),
    };
    let mut warning = None;
    let keys = if args.keys.is_empty() && args.vkeys.is_empty() {
        match receipt.embedded_keys() {
            Ok(k) => {
                let kids: Vec<&str> = receipt.keys.iter().map(|k| k.kid.as_str()).collect();
                warning = Some(format!(
                    "no key pinned: checked with the receipt's own keys ({}), which proves consistency, not who signed it\nhint: pass the node's public key with `--key HEX`",
                    kids.join(", ")
                ));
                k
            }
            Err(e) => return report(Err(e.to_string()), None, args),
        }
    } else {
        match pinned_keys(&args.keys, &args.vkeys, &receipt.origin) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: {e:#}");
                return Ok(Exit::Invalid);
            }
        }
    };
    let result = receipt.verify(&keys).map_err(|e| e.to_string());
    report(result, warning, args)
}

fn report(
    result: std::result::Result<axtary_core::export::ReceiptVerified, String>,
    warning: Option<String>,
    args: &VerifyProofArgs,
) -> Result<Exit> {
    if let Some(w) = &warning {
        eprintln!("warning: {w}");
    }
    if let Err(e) = &result {
        eprintln!("FAILED: {e}");
    }
    match args.format {
        Format::Json => output::print_json(&match &result {
            Ok(v) => {
                json!({"ok": true, "result": v, "warnings": warning.iter().collect::<Vec<_>>()})
            }
            Err(e) => {
                json!({"ok": false, "reason": e, "warnings": warning.iter().collect::<Vec<_>>()})
            }
        })?,
        Format::Text => {
            if let Ok(v) = &result {
                output::print(&format!(
                    "ok: entry {} ({}, {}) is in the log `{}` at tree size {}, root {}\n",
                    v.seq,
                    v.kind,
                    super::fmt_ts(v.ts),
                    v.origin,
                    v.tree_size,
                    v.root
                ))?;
            }
        }
    }
    Ok(if result.is_ok() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

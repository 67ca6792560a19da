//! `axtary ledger export --out FILE [--format bundle|jsonl|csv]` and `axtary ledger checkpoint`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use axtary_core::ledger::Entry;
use axtary_node::bundle;
use axtary_node::ledger::{LedgerError, PROGRESS_EVERY, Reader};
use serde_json::Value;

use super::{
    Progress, fmt_ts, note_size, open_reader, sign_checkpoint, trusted_keys, verify_and_sign,
    verify_home, write_file,
};
use crate::exit::Exit;
use crate::home::Home;
use crate::output;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Self-contained JSON: entries (exact bytes), every checkpoint and the public keys;
    /// `axtary ledger verify --bundle FILE` checks it anywhere
    #[default]
    Bundle,
    /// One decoded entry per line, for analysts (not verifiable)
    Jsonl,
    /// seq,ts,kind,hash,agent,connector,operation,resource,effect,rule,action_hash, for
    /// spreadsheets (not verifiable; cells starting with = + - @ are prefixed with ')
    Csv,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// File to write (replaced atomically)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    format: ExportFormat,
}

pub fn run(home: &Home, args: &ExportArgs) -> Result<Exit> {
    let reader = open_reader(home)?;
    // Sign a fresh checkpoint so the bundle covers everything, but only over a ledger that
    // verifies. A ledger that does not is still exported as stored, for investigation.
    let failure = match verify_home(home, &reader)? {
        Ok(_) => {
            sign_checkpoint(home)?;
            None
        }
        Err(f) => {
            eprintln!(
                "warning: the ledger does not verify; exporting it as stored, without signing a new checkpoint\n{}",
                f.line()
            );
            Some(f)
        }
    };
    let mut progress = Progress::new("exported");
    let (entries, checkpoints) = match args.format {
        ExportFormat::Bundle => {
            let keys = trusted_keys(home)?;
            let w = write_file(&args.out, |out| {
                Ok(bundle::write(&reader, &keys, out, |n| progress.update(n))?)
            })?;
            (w.entries, Some(w.checkpoints))
        }
        ExportFormat::Jsonl => (
            write_file(&args.out, |out| {
                decoded(&reader, &mut progress, |e| {
                    serde_json::to_writer(&mut *out, e)?;
                    out.write_all(b"\n")?;
                    Ok(())
                })
            })?,
            None,
        ),
        ExportFormat::Csv => (
            write_file(&args.out, |out| {
                out.write_all(CSV_HEADER.as_bytes())?;
                decoded(&reader, &mut progress, |e| {
                    out.write_all(csv_row(e).as_bytes())?;
                    Ok(())
                })
            })?,
            None,
        ),
    };
    progress.done();
    let mut line = format!("exported {entries} entries");
    if let Some(c) = checkpoints {
        line.push_str(&format!(" and {c} checkpoints"));
    }
    line.push_str(&format!(" to {}\n", args.out.display()));
    output::print(&line)?;
    Ok(if failure.is_some() {
        Exit::Error
    } else {
        Exit::Ok
    })
}

/// Streams every entry, decoded, to `f`.
fn decoded(
    reader: &Reader,
    progress: &mut Progress,
    mut f: impl FnMut(&Entry) -> Result<()>,
) -> Result<u64> {
    let mut n = 0u64;
    let mut failed = None;
    let read = reader.for_each(1, |stored| {
        let result = Entry::decode(&stored.bytes)
            .with_context(|| format!("entry {} is not a canonical ledger entry", stored.seq))
            .and_then(|e| f(&e));
        if let Err(e) = result {
            failed = Some(e);
            return Err(LedgerError::Inconsistent(String::new()));
        }
        n += 1;
        if n.is_multiple_of(PROGRESS_EVERY) {
            progress.update(n);
        }
        Ok(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    read?;
    Ok(n)
}

const CSV_HEADER: &str =
    "seq,ts,kind,hash,agent,connector,operation,resource,effect,rule,action_hash\n";

/// One CSV row (RFC 4180): fields from the body where present, empty otherwise.
pub fn csv_row(e: &Entry) -> String {
    let body = |k: &str| match e.body.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let fields = [
        e.seq.to_string(),
        fmt_ts(e.ts),
        e.kind.to_string(),
        e.hash.clone(),
        body("agent"),
        body("connector"),
        body("operation"),
        body("resource"),
        body("effect"),
        body("rule"),
        body("action_hash"),
    ];
    let mut row = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    row.push('\n');
    row
}

/// Quotes a field when needed, and defuses spreadsheet formulas: agents choose resource names
/// and rule ids can be anything, and a cell like `=HYPERLINK(...)` must stay text.
fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{f}")
    } else {
        f.to_owned()
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

#[derive(clap::Args)]
pub struct CheckpointArgs {
    /// Also save the note to FILE, to prove later (`axtary ledger verify --checkpoint FILE`)
    /// that the ledger was not rewritten or truncated
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `axtary ledger checkpoint`: verify, sign a checkpoint now, print the note.
pub fn checkpoint(home: &Home, args: &CheckpointArgs) -> Result<Exit> {
    let reader = open_reader(home)?;
    let Some(note) = verify_and_sign(home, &reader)? else {
        bail!("the ledger is empty: there is nothing to sign");
    };
    match &args.out {
        Some(path) => {
            write_file(path, |out| Ok(out.write_all(note.as_bytes())?))?;
            output::print(&format!(
                "checkpoint at size {} saved to {}\n",
                note_size(&note).unwrap_or(0),
                path.display()
            ))?;
        }
        None => output::print(&note)?,
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("@x,y"), "\"'@x,y\"");
    }
}

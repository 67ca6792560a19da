//! `axtary ledger tail [-n N] [-f]` and `axtary ledger show SEQ`.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use anyhow::Result;
use axtary_core::ledger::{Entry, EntryKind, GENESIS_PREV, hex, read_head};
use axtary_core::merkle::leaf_hash;
use axtary_node::ledger::{LedgerError, Reader, StoredEntry};
use serde_json::{Value, json};

use super::{fmt_ts, open_reader};
use crate::exit::Exit;
use crate::home::Home;
use crate::output::{self, Format};

#[derive(clap::Args)]
pub struct TailArgs {
    /// How many of the newest entries to show
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 10)]
    lines: u64,
    /// Keep printing new entries as they are appended (Ctrl-C ends)
    #[arg(short = 'f', long)]
    follow: bool,
    /// `text`: `seq ts kind summary` per line; `json`: one entry per line (JSON Lines)
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// How often `tail -f` looks for new entries.
const POLL: Duration = Duration::from_millis(200);

pub fn tail(home: &Home, args: &TailArgs) -> Result<Exit> {
    let reader = open_reader(home)?;
    let size = reader.size()?;
    let mut next = size.saturating_sub(args.lines) + 1;
    let mut out = BufWriter::new(io::stdout().lock());
    loop {
        match print_from(&reader, next, args.format, &mut out) {
            Ok(n) => next = n,
            // The reader went away (`| head`): that is how a pipe ends, not an error.
            Err(Stop::Pipe) => return Ok(Exit::Ok),
            Err(Stop::Other(e)) => return Err(e),
        }
        if !args.follow {
            return Ok(Exit::Ok);
        }
        std::thread::sleep(POLL);
    }
}

enum Stop {
    Pipe,
    Other(anyhow::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Stop::Pipe
        } else {
            Stop::Other(e.into())
        }
    }
}

/// Prints entries from `from` on; returns the next sequence number to print.
fn print_from(
    reader: &Reader,
    from: u64,
    format: Format,
    out: &mut impl Write,
) -> std::result::Result<u64, Stop> {
    let mut next = from;
    let mut io_error = None;
    let read = reader.for_each(from, |e| {
        next = e.seq + 1;
        let line = line(&e, format);
        if let Err(err) = out.write_all(line.as_bytes()) {
            io_error = Some(err);
            return Err(LedgerError::Storage(String::new()));
        }
        Ok(())
    });
    if let Some(e) = io_error {
        return Err(e.into());
    }
    read.map_err(|e| Stop::Other(e.into()))?;
    out.flush()?;
    Ok(next)
}

fn line(e: &StoredEntry, format: Format) -> String {
    let decoded = Entry::decode(&e.bytes);
    match (format, decoded) {
        (Format::Json, Some(entry)) => {
            let mut s = serde_json::to_string(&entry).unwrap_or_default();
            s.push('\n');
            s
        }
        (Format::Json, None) => format!(
            "{}\n",
            json!({"seq": e.seq, "error": "not a canonical ledger entry"})
        ),
        (Format::Text, Some(entry)) => format!(
            "{} {} {} {}\n",
            entry.seq,
            fmt_ts(entry.ts),
            entry.kind,
            summary(&entry)
        ),
        (Format::Text, None) => format!("{} ? ? (not a canonical ledger entry)\n", e.seq),
    }
}

/// A one-line summary of an entry's body, safe to print on a terminal.
pub fn summary(e: &Entry) -> String {
    let field = |k: &str| match e.body.get(k) {
        Some(Value::String(s)) => clean(s),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => clean(&other.to_string()),
    };
    match e.kind {
        EntryKind::Decision => [
            "effect",
            "rule",
            "agent",
            "connector",
            "operation",
            "resource",
        ]
        .map(field)
        .join(" "),
        EntryKind::KeyRotated => format!("{} -> {}", field("old_kid"), field("new_kid")),
        _ => {
            // Compact JSON escapes every control character, so it is terminal-safe.
            let mut s = e.body.to_string();
            if s.len() > 160 {
                let cut = (0..=157)
                    .rev()
                    .find(|i| s.is_char_boundary(*i))
                    .unwrap_or(0);
                s.truncate(cut);
                s.push_str("...");
            }
            s
        }
    }
}

/// Escapes control characters (an agent-chosen resource name must not drive the terminal) and
/// spaces (so the summary's fields stay separable).
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' => out.push_str("\\x20"),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// Sequence number of the entry
    seq: u64,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `axtary ledger show SEQ`: exit 0 if the entry's hash and link check out, 1 if not.
pub fn show(home: &Home, args: &ShowArgs) -> Result<Exit> {
    let reader = open_reader(home)?;
    let Some(stored) = reader.entry(args.seq)? else {
        eprintln!(
            "error: no entry {} (the ledger has entries 1..={})",
            args.seq,
            reader.size()?
        );
        return Ok(Exit::Invalid);
    };
    let computed = leaf_hash(&stored.bytes);
    let hash_matches = stored.hash.as_slice() == computed.as_slice();
    let expected_prev = if args.seq == 1 {
        Some(GENESIS_PREV.to_vec())
    } else {
        reader.entry(args.seq - 1)?.map(|p| p.hash)
    };
    let head = read_head(&stored.bytes);
    let prev_matches = head
        .as_ref()
        .is_some_and(|h| expected_prev.as_deref() == Some(h.prev.as_slice()));
    let Some(entry) = Entry::decode(&stored.bytes) else {
        eprintln!("error: entry {} is not a canonical ledger entry", args.seq);
        let raw = String::from_utf8_lossy(&stored.bytes);
        output::print(&format!("{}\n", serde_json::to_string(&raw)?))?;
        return Ok(Exit::Error);
    };
    let stored_hex = axtary_core::hex::encode(&stored.hash);
    match args.format {
        Format::Json => output::print_json(&json!({
            "seq": entry.seq,
            "ts": entry.ts,
            "time": fmt_ts(entry.ts),
            "kind": entry.kind,
            "body": entry.body,
            "prev": entry.prev,
            "hash": entry.hash,
            "stored_hash": stored_hex,
            "hash_matches": hash_matches,
            "prev_matches": prev_matches,
        }))?,
        Format::Text => {
            let hash_note = if hash_matches {
                "matches the stored hash".to_owned()
            } else {
                format!("DOES NOT match the stored hash {stored_hex}: the entry was edited")
            };
            let prev_note = match (args.seq, prev_matches) {
                (1, true) => "genesis".to_owned(),
                (s, true) => format!("the hash of entry {}", s - 1),
                (s, false) => format!("DOES NOT match entry {}: broken chain", s - 1),
            };
            output::print(&format!(
                "entry {} ({})\ntime: {} (ts {})\nhash: {} ({hash_note})\nprev: {} ({prev_note})\nbody:\n{}\n",
                entry.seq,
                entry.kind,
                fmt_ts(entry.ts),
                entry.ts,
                hex(&computed),
                entry.prev,
                serde_json::to_string_pretty(&entry.body)?
            ))?;
        }
    }
    Ok(if hash_matches && prev_matches {
        Exit::Ok
    } else {
        Exit::Error
    })
}

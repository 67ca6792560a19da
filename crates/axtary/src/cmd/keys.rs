//! `axtary keys show|rotate`.

use anyhow::{Context, Result};
use axtary_core::checkpoint;
use axtary_core::export::PublishedKey;
use axtary_core::ledger::EntryKind;
use axtary_node::keys;
use serde_json::json;

use crate::exit::Exit;
use crate::home::Home;
use crate::node;
use crate::output::{self, Format};

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Show the node's public key (key id, hex, C2SP vkey) and the old keys it still trusts
    Show {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Replace the node key with a new one. The old public key stays trusted, a `key_rotated`
    /// entry is appended, and checkpoints are signed with the old key before and the new key
    /// after, so the ledger keeps verifying
    Rotate {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

pub fn run(home: &Home, command: &KeysCommand) -> Result<Exit> {
    match command {
        KeysCommand::Show { format } => show(home, *format),
        KeysCommand::Rotate { format } => rotate(home, *format),
    }
}

fn show(home: &Home, format: Format) -> Result<Exit> {
    let origin = checkpoint::origin(&home.config()?.node);
    let trusted = keys::trusted_keys(home.root()).with_context(|| {
        format!(
            "cannot read the node's keys (run `axtary init`? home is `{}`)",
            home.root().display()
        )
    })?;
    let published: Vec<PublishedKey> = trusted
        .iter()
        .map(|k| PublishedKey::new(&origin, k))
        .collect();
    let Some((current, previous)) = published.split_first() else {
        anyhow::bail!("no node key");
    };
    match format {
        Format::Json => output::print_json(&json!({
            "origin": origin,
            "kid": current.kid,
            "public_key": current.public_key,
            "vkey": current.vkey,
            "previous_keys": previous,
        }))?,
        Format::Text => {
            let mut text = format!(
                "origin:     {origin}\nkey id:     {}\npublic key: {}\nvkey:       {}\n",
                current.kid, current.public_key, current.vkey
            );
            if !previous.is_empty() {
                text.push_str("previous keys (still trusted for what they signed):\n");
                for k in previous {
                    text.push_str(&format!("  {} {}\n", k.kid, k.public_key));
                }
            }
            output::print(&text)?;
        }
    }
    Ok(Exit::Ok)
}

fn rotate(home: &Home, format: Format) -> Result<Exit> {
    // The old key's last checkpoint covers everything written before the rotation.
    let ledger = node::open_ledger(home)?;
    let signed = ledger.checkpoint();
    ledger.close()?;
    signed.context("cannot sign a checkpoint with the current key; nothing was rotated")?;

    let (old_kid, new_kid) = keys::rotate(home.root()).context("cannot rotate the node key")?;
    let new_key = keys::load_node_key(&home.key_path())?;
    let new_public_key = keys::encode_hex(new_key.verifying_key().as_bytes());
    let recorded = (|| -> Result<u64> {
        let ledger = node::open_ledger(home)?;
        let appended = ledger.append(
            EntryKind::KeyRotated,
            json!({"old_kid": old_kid, "new_kid": new_kid, "new_public_key": new_public_key}),
        );
        // The new key's first checkpoint covers the rotation entry.
        let signed = appended.is_ok().then(|| ledger.checkpoint());
        ledger.close()?;
        let seq = appended?.seq;
        if let Some(s) = signed {
            s?;
        }
        Ok(seq)
    })();
    let seq = recorded.with_context(|| {
        format!("the key was rotated (new key id {new_kid}), but the rotation could not be recorded in the ledger")
    })?;
    match format {
        Format::Json => output::print_json(&json!({
            "old_kid": old_kid, "new_kid": new_kid, "new_public_key": new_public_key, "ledger_seq": seq,
        }))?,
        Format::Text => output::print(&format!(
            "rotated: {old_kid} -> {new_kid}\nnew public key: {new_public_key}\nrecorded as ledger entry {seq}; the old key stays trusted for what it signed\n"
        ))?,
    }
    Ok(Exit::Ok)
}

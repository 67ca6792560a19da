//! Opening the node's stateful parts (key, ledger) from the home directory.

use anyhow::{Context, Result};
use axtary_core::checkpoint;
use axtary_node::keys;
use axtary_node::ledger::{Ledger, LedgerOptions};

use crate::home::Home;

/// Opens the ledger for a one-shot command: checkpoints follow the interval schedule rather
/// than being signed at every exit.
pub fn open_ledger(home: &Home) -> Result<Ledger> {
    let config = home.config()?;
    let key = keys::load_node_key(&home.key_path()).with_context(|| {
        format!(
            "cannot load the node key (run `axtary init`? home is `{}`)",
            home.root().display()
        )
    })?;
    let options = LedgerOptions {
        checkpoint_on_close: false,
        background_wal_checkpoints: false,
        ..LedgerOptions::default()
    };
    Ledger::open(
        &home.ledger_path(),
        &checkpoint::origin(&config.node),
        key,
        options,
    )
    .with_context(|| format!("cannot open the ledger `{}`", home.ledger_path().display()))
}

pub use axtary_node::ledger::now_ms;

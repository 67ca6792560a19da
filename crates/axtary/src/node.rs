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

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

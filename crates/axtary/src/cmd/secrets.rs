//! `axtary secrets set|list|rm`: the credential broker. Values go in on stdin and never come out.

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result};
use axtary_connectors::broker::Broker;
use clap::Subcommand;
use zeroize::Zeroizing;

use crate::exit::Exit;
use crate::home::Home;
use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Store a secret read from stdin (never echoed; a trailing newline is dropped)
    Set { name: String },
    /// List secret names and when each was last set (never the values)
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove a secret
    Rm { name: String },
}

fn open(home: &Home) -> Result<Broker> {
    Broker::open(home.root()).with_context(|| {
        format!(
            "cannot open the secrets store in `{}`",
            home.root().display()
        )
    })
}

pub fn run(home: &Home, command: SecretsCommand) -> Result<Exit> {
    match command {
        SecretsCommand::Set { name } => {
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "paste the value of `{name}`, then press Enter and Ctrl-D (it is not echoed back)"
                );
            }
            let mut value = Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .take(1024 * 1024)
                .read_to_string(&mut value)
                .context("cannot read the secret from stdin")?;
            let trimmed = Zeroizing::new(value.trim_end_matches(['\n', '\r']).to_owned());
            open(home)?.set(&name, trimmed)?;
            eprintln!("stored secret `{name}`");
        }
        SecretsCommand::List { format } => {
            let list = open(home)?.list();
            match format {
                Format::Json => output::print_json(&list)?,
                Format::Text if list.is_empty() => {
                    output::print("no secrets\nhint: axtary secrets set NAME < value-file\n")?
                }
                Format::Text => {
                    let text: String = list
                        .iter()
                        .map(|s| format!("{}\t(updated {})\n", s.name, s.updated_at))
                        .collect();
                    output::print(&text)?;
                }
            }
        }
        SecretsCommand::Rm { name } => {
            if !open(home)?.rm(&name)? {
                eprintln!("error: no secret named `{name}`");
                return Ok(Exit::Error);
            }
            eprintln!("removed secret `{name}`");
        }
    }
    Ok(Exit::Ok)
}

//! The `axtary` binary: the only crate that prints. `main` parses arguments and dispatches;
//! each subcommand lives in its own module under `cmd/`.

mod cmd;
mod exit;
mod home;
mod output;
mod request;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Exit;
use crate::home::Home;
use crate::output::Format;

/// Runtime authorization for AI-agent actions.
#[derive(Parser)]
#[command(name = "axtary", version, about, propagate_version = true)]
struct Cli {
    /// Axtary's home directory [default: ~/.axtary]
    #[arg(long, global = true, env = "AXTARY_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the home directory with a node key, config and a starter policy (idempotent)
    Init {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show the normalized action (facts and action_hash) for an ActionRequest on stdin
    Normalize {
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Home::locate(cli.home).and_then(|home| match cli.command {
        Command::Init { format } => cmd::init::run(&home, format),
        Command::Normalize { format } => cmd::normalize::run(&home, format),
    });
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Error.into()
        }
    }
}

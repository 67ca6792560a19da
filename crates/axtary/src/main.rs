//! The `axtary` binary: the only crate that prints. `main` parses arguments and dispatches;
//! each subcommand lives in its own module under `cmd/`.

mod cmd;
mod exit;
mod home;
mod node;
mod output;
mod policy_file;
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
    /// Decide on an ActionRequest on stdin: Decision JSON on stdout; exit 0 allow, 2 deny,
    /// 4 approval required, 3 invalid input or policy
    Decide {
        /// Policy file [default: the one in $AXTARY_HOME]
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Check, test and explain policies
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Load a policy and report every error and warning (exit 3 if invalid)
    Check {
        /// Policy file [default: the one in $AXTARY_HOME]
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Run the tests written in a policy file (exit 1 if any fails)
    Test {
        /// Policy file [default: the one in $AXTARY_HOME]
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show every rule considered for an action, and why it matched or not
    Explain {
        /// File holding an ActionRequest (`-` for stdin)
        #[arg(long, value_name = "FILE")]
        action: PathBuf,
        /// Policy file [default: the one in $AXTARY_HOME]
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Home::locate(cli.home).and_then(|home| match cli.command {
        Command::Init { format } => cmd::init::run(&home, format),
        Command::Normalize { format } => cmd::normalize::run(&home, format),
        Command::Decide { policy, format } => cmd::decide::run(&home, policy.as_deref(), format),
        Command::Policy(PolicyCommand::Check { file, format }) => {
            cmd::policy::check(&home, file.as_deref(), format)
        }
        Command::Policy(PolicyCommand::Test { file, format }) => {
            cmd::policy::test(&home, file.as_deref(), format)
        }
        Command::Policy(PolicyCommand::Explain {
            action,
            policy,
            format,
        }) => cmd::policy::explain(&home, policy.as_deref(), &action, format),
    });
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Error.into()
        }
    }
}

//! The `axtary` binary: the only crate that prints. `main` parses arguments and dispatches;
//! each subcommand lives in its own module under `cmd/`.

mod cmd;
mod exit;
mod node;
mod output;
mod request;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub(crate) use axtary_node::{home, policy_file};

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
    /// Run an ActionRequest on stdin through the whole pipeline (decide, pass, ledger,
    /// connector): result JSON on stdout; exit 0 executed, 1 failed, 2 deny, 3 invalid,
    /// 4 approval pending
    Run {
        /// Record and print exactly what would be sent, send nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// The main job for a newcomer: `init` if needed, then `serve` (the local daemon), printing
    /// the URLs and next steps
    Up {
        /// Address to listen on [default: config `serve.listen`, else 127.0.0.1:7777]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Run the local daemon: the HTTP API for agents (POST /v1/actions, /v1/decide, ...) and
    /// the /proxy/UPSTREAM/... reverse proxy, on 127.0.0.1:7777 by default
    Serve {
        /// Address to listen on [default: config `serve.listen`, else 127.0.0.1:7777]; port 0
        /// picks a free port (the first line printed names it)
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Allow an address reachable from other machines (the agent token is then all that
        /// protects the API)
        #[arg(long)]
        allow_remote: bool,
    },
    /// MCP surfaces: Axtary's connectors as an MCP server, and guarding third-party servers
    #[command(subcommand)]
    Mcp(cmd::mcp::McpCommand),
    /// Check, test and explain policies
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Review, approve and deny actions that need a human
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Verify, export, prove and read the tamper-evident ledger
    #[command(subcommand)]
    Ledger(cmd::ledger::LedgerCommand),
    /// Show or rotate the node's signing key
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Inspect and verify ActionPasses
    #[command(subcommand)]
    Pass(cmd::pass::PassCommand),
    /// Agent hooks, run by the agent's tooling on every tool call (not by people)
    #[command(subcommand)]
    Hook(HookCommand),
    /// Route an agent's tool calls through Axtary: Claude Code's hook, MCP clients' servers
    #[command(subcommand)]
    Install(InstallCommand),
    /// Store provider credentials that connectors use and agents never see
    #[command(subcommand)]
    Secrets(cmd::secrets::SecretsCommand),
}

#[derive(Subcommand)]
enum HookCommand {
    /// Claude Code's PreToolUse/PostToolUse hook: hook JSON on stdin, a permission decision
    /// on stdout. Any failure exits 2, which blocks the tool call
    ClaudeCode {
        /// Deny (exit 2) if no decision is made within this many milliseconds
        #[arg(long, env = "AXTARY_HOOK_TIMEOUT_MS", value_name = "MS",
              default_value_t = cmd::hook::DEFAULT_TIMEOUT_MS,
              value_parser = clap::value_parser!(u64).range(1..=cmd::hook::MAX_TIMEOUT_MS))]
        timeout_ms: u64,
    },
}

#[derive(Subcommand)]
enum InstallCommand {
    /// Add Axtary's hook to Claude Code's settings (project `.claude/settings.json` by
    /// default), keeping everything else in the file
    ClaudeCode(cmd::install::ClaudeCodeArgs),
    /// Route an MCP client's server through `axtary mcp wrap` (keeps a backup of the config)
    Mcp(cmd::install_mcp::InstallMcpArgs),
}

#[derive(Subcommand)]
enum ApprovalsCommand {
    /// List pending approval requests (all of them with --all)
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show the exact action of a request: a diff for file changes, the statement for SQL, ...
    Show {
        id: String,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Approve a request after typing the first 8 characters of its action hash
    Approve {
        id: String,
        /// Approver name [default: $USER]; each approver signs with their own key
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
        /// The full action hash, to approve without a terminal after reviewing it
        #[arg(long, value_name = "HASH")]
        confirm_hash: Option<String>,
    },
    /// Deny a request; the same action stays denied
    Deny {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
    },
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
    // Usage errors exit 3 (invalid input), not clap's default 2, which means deny here. For
    // the hook, every failure must block the tool call, and only exit 2 does.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if invoked_as_hook() => {
            let _ = e.print();
            return cmd::hook::block(
                "Axtary denied this tool call: the hook's command line is invalid",
            )
            .into();
        }
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Exit::Ok.into()
                }
                _ => Exit::Invalid.into(),
            };
        }
    };
    if let Command::Hook(HookCommand::ClaudeCode { timeout_ms }) = cli.command {
        return cmd::hook::claude_code(cli.home, timeout_ms).into();
    }
    let result = Home::locate(cli.home).and_then(|home| match cli.command {
        Command::Init { format } => cmd::init::run(&home, format),
        Command::Normalize { format } => cmd::normalize::run(&home, format),
        Command::Decide { policy, format } => cmd::decide::run(&home, policy.as_deref(), format),
        Command::Run { dry_run, format } => cmd::run::run(&home, dry_run, format),
        Command::Up { listen } => {
            // stdout's first line stays serve's `listening on ...`: the init report goes to
            // stderr.
            eprint!("{}", cmd::init::report(&home)?);
            cmd::serve::run(&home, listen, false)
        }
        Command::Serve {
            listen,
            allow_remote,
        } => cmd::serve::run(&home, listen, allow_remote),
        Command::Mcp(c) => cmd::mcp::run(&home, c),
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
        Command::Approvals(ApprovalsCommand::List { all, format }) => {
            cmd::approvals::list(&home, all, format)
        }
        Command::Approvals(ApprovalsCommand::Show { id, format }) => {
            cmd::approvals::show(&home, &id, format)
        }
        Command::Approvals(ApprovalsCommand::Approve {
            id,
            as_name,
            confirm_hash,
        }) => cmd::approvals::approve(&home, &id, as_name, confirm_hash.as_deref()),
        Command::Approvals(ApprovalsCommand::Deny {
            id,
            reason,
            as_name,
        }) => cmd::approvals::deny(&home, &id, as_name, &reason),
        Command::Ledger(c) => cmd::ledger::run(&home, &c),
        Command::Keys(c) => cmd::keys::run(&home, &c),
        Command::Secrets(c) => cmd::secrets::run(&home, c),
        Command::Install(InstallCommand::ClaudeCode(args)) => {
            cmd::install::claude_code(&home, &args)
        }
        // Handled above, before anything that could fail the usual way.
        Command::Hook(HookCommand::ClaudeCode { timeout_ms }) => Ok(cmd::hook::claude_code(
            Some(home.root().to_path_buf()),
            timeout_ms,
        )),
        Command::Install(InstallCommand::Mcp(args)) => cmd::install_mcp::run(&home, args),
        Command::Pass(c) => cmd::pass::run(&home, &c),
    });
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            Exit::Error.into()
        }
    }
}

/// Whether the first subcommand word is `hook` (skipping `--home DIR`).
fn invoked_as_hook() -> bool {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("--home") => {
                args.next();
            }
            Some(s) if s.starts_with('-') => {}
            Some(s) => return s == "hook",
            None => return false,
        }
    }
    false
}

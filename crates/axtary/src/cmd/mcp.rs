//! `axtary mcp serve|wrap`. `wrap` guards a third-party MCP server (see `axtary_node::mcp`);
//! `serve` lives in `mcp_serve.rs`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axtary_connectors::broker::Broker;
use axtary_connectors::scrub::Scrubber;
use axtary_node::mcp::gate::{NodeGate, Unavailable};
use axtary_node::mcp::relay::{Gate, MAX_LINE, RelayOptions};
use axtary_node::mcp::wrap::{self, ChildSpec};
use axtary_node::pipeline::{Node, NodeOptions};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::exit::Exit;
use crate::home::Home;

#[derive(Subcommand)]
pub enum McpCommand {
    /// Serve the configured connectors as MCP tools on stdio; every call runs the whole
    /// pipeline (policy, approvals, pass, ledger) and no token reaches the agent
    Serve {
        /// The agent name tool calls are made as (policy can match on it)
        #[arg(long, default_value = "mcp")]
        agent: String,
    },
    /// Run a third-party MCP server (stdio) behind Axtary: every tools/call is decided and
    /// recorded before it reaches the server; denied calls come back as tool errors
    Wrap(WrapArgs),
}

#[derive(Args)]
pub struct WrapArgs {
    /// The server's name in policy (connector `mcp:NAME`) [default: the command's file name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Set VAR in the server's environment: `VAR=secret:NAME` takes the value from
    /// `axtary secrets` (never printed), `VAR=VALUE` sets it as given. Repeatable
    #[arg(long = "env", value_name = "VAR=secret:NAME")]
    pub env: Vec<String>,
    /// The agent every call is made as [default: the name the client reports in `clientInfo`,
    /// else `mcp-client`]
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Remove from `tools/list` the tools the policy never allows (no allow or approval rule
    /// matches them, or a deny rule always does), so the agent does not try them
    #[arg(long)]
    pub hide_denied_tools: bool,
    /// Policy file [default: the one in $AXTARY_HOME]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The server's command and arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub fn run(home: &Home, command: McpCommand) -> Result<Exit> {
    match command {
        McpCommand::Serve { agent } => crate::cmd::mcp_serve::run(home, agent),
        McpCommand::Wrap(args) => wrap(home, args),
    }
}

fn wrap(home: &Home, args: WrapArgs) -> Result<Exit> {
    let Some((program, rest)) = args.command.split_first() else {
        bail!("no server command given\nhint: axtary mcp wrap --name NAME -- CMD ARGS...");
    };
    let name = match &args.name {
        Some(n) => n.clone(),
        None => default_name(program),
    };
    if let Some(agent) = &args.agent
        && (agent.is_empty() || agent.len() > 256 || agent.chars().any(char::is_control))
    {
        bail!("invalid agent name: use 1 to 256 characters, no control characters");
    }
    if !valid_server_name(&name) {
        bail!(
            "invalid server name `{name}`: use 1 to 64 of A-Z a-z 0-9 _ . -\nhint: pass `--name NAME`"
        );
    }
    // Resolve the environment before anything starts: a missing secret is an error, not a
    // server started without its credential.
    let mut env = Vec::new();
    let mut injected: Vec<(String, Zeroizing<String>)> = Vec::new();
    let mut broker: Option<Broker> = None;
    for spec in &args.env {
        let Some((var, value)) = spec.split_once('=') else {
            bail!("invalid `--env {spec}`: expected VAR=secret:NAME or VAR=VALUE");
        };
        if var.is_empty() || var.contains('\0') {
            bail!("invalid `--env {spec}`: the variable name is empty");
        }
        let value = match value.strip_prefix("secret:") {
            Some(secret) => {
                if broker.is_none() {
                    broker = Some(Broker::open(home.root()).with_context(|| {
                        format!(
                            "cannot open the secrets store in `{}`",
                            home.root().display()
                        )
                    })?);
                }
                let Some(b) = broker.as_ref() else {
                    bail!("cannot open the secrets store");
                };
                let v = b
                    .get(secret)
                    .with_context(|| format!("`--env {var}=secret:{secret}`"))?;
                injected.push((secret.to_owned(), v.clone()));
                v
            }
            None => Zeroizing::new(value.to_owned()),
        };
        env.push((OsString::from(var), value));
    }
    let scrubber = Scrubber::new(injected.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    drop(injected);

    let spec = ChildSpec {
        program: program.clone(),
        args: rest.to_vec(),
        env,
    };
    let log: Arc<dyn Fn(&str) + Send + Sync> = {
        let name = name.clone();
        Arc::new(move |m: &str| eprintln!("axtary mcp wrap [{name}]: {m}"))
    };
    let options = NodeOptions {
        policy_path: args.policy.clone(),
        checkpoint_on_close: true,
        policy_cache: false,
    };
    let opened = Node::open(home, options);
    let shown = program.to_string_lossy().into_owned();
    match opened {
        Ok(node) => {
            let node = Arc::new(node);
            if let Err(failure) = &node.policy().loaded {
                log(&format!(
                    "no usable policy, every tools/call is denied: {}",
                    failure.summary
                ));
            }
            let opts = relay_options(
                &name,
                args.agent.clone(),
                node.limits(),
                scrubber,
                args.hide_denied_tools,
            );
            let gate = Arc::new(NodeGate::new(Arc::clone(&node), log.clone()));
            let ended = serve(spec, gate, opts, &shown, &*log);
            if let Err(e) = node.close() {
                log(&format!("cannot close the ledger cleanly: {e}"));
            }
            ended
        }
        Err(e) => {
            let reason = format!("{e:#}");
            log(&format!(
                "every tools/call is denied: {reason}\nhint: run `axtary init`"
            ));
            let limits = axtary_core::json::Limits::default();
            let opts = relay_options(
                &name,
                args.agent.clone(),
                limits,
                scrubber,
                args.hide_denied_tools,
            );
            serve(spec, Arc::new(Unavailable { reason }), opts, &shown, &*log)
        }
    }
}

fn relay_options(
    name: &str,
    agent: Option<String>,
    limits: axtary_core::json::Limits,
    scrubber: Scrubber,
    hide_denied_tools: bool,
) -> RelayOptions {
    RelayOptions {
        server: name.to_owned(),
        agent,
        limits,
        max_line: MAX_LINE,
        scrubber,
        hide_denied_tools,
    }
}

fn serve<G: Gate>(
    spec: ChildSpec,
    gate: Arc<G>,
    opts: RelayOptions,
    shown: &str,
    log: &dyn Fn(&str),
) -> Result<Exit> {
    let ended = wrap::run(spec, gate, opts).with_context(|| format!("cannot start `{shown}`"))?;
    if let Some(report) = &ended.report {
        log(report);
    }
    Ok(Exit::Child(ended.code))
}

/// The command's file name, made into a valid server name.
fn default_name(program: &OsString) -> String {
    let base = Path::new(program)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "server".to_owned()
    } else {
        cleaned
    }
}

pub fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

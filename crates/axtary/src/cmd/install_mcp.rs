//! `axtary install mcp`: route an MCP client's server through `axtary mcp wrap`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use axtary_node::mcp::install::{self, Client, Definition, Location, Scope, Shadowed, Wrapping};
use clap::{Args, ValueEnum};

use crate::cmd::mcp::valid_server_name;
use crate::exit::Exit;
use crate::home::Home;
use crate::output;

#[derive(Clone, Copy, ValueEnum)]
pub enum ClientArg {
    ClaudeCode,
    ClaudeDesktop,
    Cursor,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    /// Claude Code only: this project's servers in `~/.claude.json` (what `claude mcp add` writes
    /// by default)
    Local,
    /// The project's file in the current directory (`.mcp.json`, `.cursor/mcp.json`)
    Project,
    /// The user's file (`~/.claude.json`, Claude Desktop's config, `~/.cursor/mcp.json`)
    User,
}

#[derive(Args)]
pub struct InstallMcpArgs {
    /// The MCP client whose config to change
    #[arg(long, value_enum)]
    pub client: ClientArg,
    /// The server's name in the client's config (and in policy: connector `mcp:NAME`)
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Which config [default for claude-code: the scope Claude Code takes NAME from (local, then
    /// project, then user), or local for a new server; user for the others]
    #[arg(long, value_enum, conflicts_with = "config")]
    pub scope: Option<ScopeArg>,
    /// Edit this config file instead
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Pass `--env VAR=secret:NAME` to the wrapper (repeatable) [default on re-install: keep]
    #[arg(long = "env", value_name = "VAR=secret:NAME")]
    pub env: Vec<String>,
    /// Restore the entry to run the server directly
    #[arg(long, conflicts_with_all = ["env", "command"])]
    pub uninstall: bool,
    /// The server's command [default: the entry's own command]
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(home: &Home, args: InstallMcpArgs) -> Result<Exit> {
    if !valid_server_name(&args.name) {
        bail!(
            "invalid server name `{}`: use 1 to 64 of A-Z a-z 0-9 _ . -",
            args.name
        );
    }
    for e in &args.env {
        if e.split_once('=').is_none_or(|(var, _)| var.is_empty()) {
            bail!("invalid `--env {e}`: expected VAR=secret:NAME or VAR=VALUE");
        }
    }
    let client = match args.client {
        ClientArg::ClaudeCode => Client::ClaudeCode,
        ClientArg::ClaudeDesktop => Client::ClaudeDesktop,
        ClientArg::Cursor => Client::Cursor,
    };
    let (location, scope) = match &args.config {
        Some(p) => (Location::file(p.clone()), None),
        None => {
            let (location, scope) = locate(client, &args)?;
            (location, Some(scope))
        }
    };
    let path = &location.path;
    let at = location.at();
    let shown = match (client, scope) {
        (Client::ClaudeCode, Some(scope)) => {
            format!("Claude Code's {scope} scope ({})", location.describe())
        }
        _ => location.describe(),
    };
    let text = read_config(path)?;

    let edited = if args.uninstall {
        install::uninstall(&text, &path.display().to_string(), &at, &args.name)?
    } else {
        let axtary = std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .context("cannot find the path of this axtary binary")?;
        let default_home = Home::locate(None).ok();
        let home_flag = (default_home.as_ref().map(Home::root) != Some(home.root()))
            .then(|| home.root().display().to_string());
        let wrapping = Wrapping {
            axtary: axtary.display().to_string(),
            home: home_flag,
            env: (!args.env.is_empty()).then(|| args.env.clone()),
            command: (!args.command.is_empty()).then(|| args.command.clone()),
        };
        install::install(
            &text,
            &path.display().to_string(),
            &at,
            &args.name,
            &wrapping,
        )?
    };
    if edited.text == text {
        output::print(&format!(
            "`{}` in {shown} is already set up; nothing changed\n",
            args.name
        ))?;
        return Ok(Exit::Ok);
    }
    let backup = install::write_config(path, &edited.text)
        .with_context(|| format!("cannot write `{}`", path.display()))?;

    let inner = edited.command.join(" ");
    let mut report = if args.uninstall {
        format!(
            "restored `{}` in {shown}: it runs `{inner}` directly\n",
            args.name
        )
    } else {
        format!(
            "`{}` in {shown} now runs through `axtary mcp wrap --name {}`: `{inner}`\n",
            args.name, args.name
        )
    };
    if let Some(b) = backup {
        report.push_str(&format!("backup of the previous file: `{}`\n", b.display()));
    }
    report.push_str("restart the client (or reload its MCP servers) to pick it up\n");
    output::print(&report)?;
    for var in edited.secret_like_env.iter().filter(|_| !args.uninstall) {
        eprintln!(
            "warning: `{var}` in this entry's `env` looks like a credential, and the agent's config can be read by the agent\nhint: `axtary secrets set NAME`, remove `{var}` from `env` and re-run with `--env {var}=secret:NAME`"
        );
    }
    for spec in &edited.dropped_env {
        let var = spec.split_once('=').map_or(spec.as_str(), |(v, _)| v);
        eprintln!(
            "warning: the server no longer gets `{var}` (it was `--env {spec}`); set it in the entry's `env` if it needs it"
        );
    }
    Ok(Exit::Ok)
}

/// The config to edit when `--config` is not given: the one of `--scope`, or the default one.
/// For Claude Code the default is the scope it takes the server from (local, then project, then
/// user), or local for a new one; and an install is refused when a scope Claude Code prefers
/// holds the server unwrapped, since Claude Code would keep running that one.
fn locate(client: Client, args: &InstallMcpArgs) -> Result<(Location, Scope)> {
    let user_home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .context("cannot find your home directory: HOME is not set")?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let location = |scope: Scope| client.location(scope, &cwd, &user_home);
    // How a Claude Code scope defines the server.
    let lookup = |scope: Scope| -> Result<Option<Definition>> {
        let Some(l) = location(scope) else {
            return Ok(None);
        };
        let text = read_config(&l.path)?;
        install::definition(&text, &l.path.display().to_string(), &l.at(), &args.name).with_context(
            || {
                format!(
                    "cannot tell whether Claude Code's {scope} scope defines `{}`",
                    args.name
                )
            },
        )
    };
    let scope = match (args.scope, client) {
        (Some(ScopeArg::Local), _) => Scope::Local,
        (Some(ScopeArg::Project), _) => Scope::Project,
        (Some(ScopeArg::User), _) => Scope::User,
        (None, Client::ClaudeCode) => match install::claude_code_active_scope(lookup)? {
            Some(scope) => scope,
            None if args.uninstall || args.command.is_empty() => {
                let places: Vec<String> = install::CLAUDE_CODE_SCOPES
                    .iter()
                    .filter_map(|s| Some(format!("{s}: {}", location(*s)?.describe())))
                    .collect();
                let hint = if args.uninstall {
                    String::new()
                } else {
                    format!(
                        "\nhint: give its command: axtary install mcp --client claude-code --name {} -- CMD ARGS...",
                        args.name
                    )
                };
                bail!(
                    "there is no server `{}` in any of Claude Code's scopes ({}){hint}",
                    args.name,
                    places.join("; ")
                );
            }
            None => client.default_scope(),
        },
        (None, _) => client.default_scope(),
    };
    let Some(chosen) = location(scope) else {
        let hint = match client {
            Client::Cursor => "use `--scope project` or `--scope user`",
            Client::ClaudeCode | Client::ClaudeDesktop => "use `--scope user`",
        };
        if scope == Scope::Local {
            bail!("only claude-code has a local scope; {hint}");
        }
        bail!("this client has no {scope} config; {hint}");
    };
    if client == Client::ClaudeCode
        && !args.uninstall
        && let Some((other, definition)) = install::claude_code_shadowing(scope, lookup)?
    {
        let place = location(other).map(|l| l.describe()).unwrap_or_default();
        return Err(Shadowed::new(&args.name, other, place, definition).into());
    }
    Ok((chosen, scope))
}

/// The text of a config file; empty when there is none.
fn read_config(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    }
}

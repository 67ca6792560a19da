//! `axtary serve`: the local daemon. Opens the node, recovers outcomes left unknown by an
//! earlier process, serves the HTTP API (crates/axtary-node/src/daemon) until SIGINT/SIGTERM,
//! then flushes the ledger and signs a checkpoint.
//!
//! The first line on stdout is `listening on http://ADDR` (scripts and tests read the port
//! from it when `--listen` names port 0); everything after that on stdout is guidance, and
//! operational messages go to stderr.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axtary_node::daemon::{self, Event, Reporter};
use axtary_node::pipeline::{Node, NodeOptions};

use crate::exit::Exit;
use crate::home::Home;
use crate::output;

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7777";

pub fn run(home: &Home, listen: Option<String>, allow_remote: bool) -> Result<Exit> {
    let config = home.config()?;
    let listen = listen
        .or_else(|| config.serve.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the listen address `{listen}`"))?
        .collect();
    if addrs.is_empty() {
        bail!("the listen address `{listen}` resolves to nothing");
    }
    if !allow_remote && addrs.iter().any(|a| !a.ip().is_loopback()) {
        eprintln!(
            "error: refusing to listen on `{listen}`: it is reachable from other machines\n\
             hint: use a loopback address such as {DEFAULT_LISTEN}, or pass --allow-remote if you \
             really mean to expose the API (the agent token is then all that protects it)"
        );
        return Ok(Exit::Invalid);
    }
    let token_path = home.agent_token_path();
    let token = axtary_node::token::load(&token_path).with_context(|| {
        format!(
            "cannot load the agent token `{}` (run `axtary init` to create it)",
            token_path.display()
        )
    })?;
    let options = NodeOptions {
        policy_path: None,
        checkpoint_on_close: true,
        policy_cache: false,
    };
    let node = Arc::new(Node::open(home, options)?);
    match node.recover() {
        Ok(0) => {}
        Ok(n) => eprintln!(
            "recovered: {n} pass(es) issued by an earlier process had no outcome; recorded as outcome_unknown"
        ),
        Err(e) => eprintln!("warning: cannot check for passes left without an outcome: {e}"),
    }
    match &node.policy().loaded {
        Ok(loaded) => node.record_policy_loaded(loaded.policy.hash()),
        Err(failure) => {
            eprint!("{}", failure.details);
            eprintln!(
                "warning: no valid policy, so every action is denied until `{}` is fixed (it is reloaded when it changes)",
                node.policy_path().display()
            );
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("axtary-serve")
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addrs[..])
            .await
            .with_context(|| format!("cannot listen on `{listen}`"))?;
        let addr = listener.local_addr()?;
        output::print(&banner(home, addr))?;
        let report: Reporter = Arc::new(report);
        daemon::serve(
            Arc::clone(&node),
            token,
            listener,
            report,
            daemon::shutdown_signal(),
        )
        .await
        .context("the HTTP server failed")
    });
    // Outcomes queued by the last requests are written before the checkpoint is signed.
    let closed = node.close();
    runtime.shutdown_timeout(Duration::from_secs(5));
    served?;
    closed.context("cannot close the ledger cleanly")?;
    eprintln!("stopped: ledger flushed and checkpoint signed");
    Ok(Exit::Ok)
}

/// What `serve` prints on start: the address first, then how to use it.
fn banner(home: &Home, addr: SocketAddr) -> String {
    let token = home.agent_token_path();
    let token = token.display();
    format!(
        "listening on http://{addr}\n\
         \n\
         agent token:  cat {token}\n\
         health:       curl -s http://{addr}/healthz\n\
         decide:       curl -s -H \"Authorization: Bearer $(cat {token})\" \\\n\
         \x20               -d '{{\"agent\":\"me\",\"connector\":\"slack\",\"operation\":\"chat.post\",\"input\":{{\"channel\":\"#eng-bots\",\"text\":\"hi\"}}}}' \\\n\
         \x20               http://{addr}/v1/decide\n\
         run:          POST http://{addr}/v1/actions (same body; ?wait=SECONDS for approvals)\n\
         proxy:        http://{addr}/proxy/UPSTREAM/PATH for upstreams under connectors.http\n\
         MCP:          http://{addr}/mcp (Streamable HTTP; same token; the tools of `axtary mcp serve`)\n\
         API:          GET http://{addr}/openapi.json (docs/http-api.md)\n\
         watch:        axtary ledger tail -f\n\
         stop:         Ctrl-C or SIGTERM (finishes in-flight requests, flushes the ledger, signs a checkpoint)\n"
    )
}

fn report(event: Event) {
    match event {
        Event::PolicyReloaded { hash } => eprintln!("policy reloaded: {hash}"),
        Event::PolicyRejected { details, kept } => {
            eprint!("{details}");
            match kept {
                Some(hash) => eprintln!(
                    "warning: the changed policy was rejected; the previous policy {hash} stays in force"
                ),
                None => eprintln!("error: no valid policy; every action is denied"),
            }
        }
        Event::ShuttingDown => {
            eprintln!("shutting down: finishing in-flight requests");
        }
        Event::Internal(message) => eprintln!("error: {message}"),
    }
}

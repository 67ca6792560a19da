//! `axtary mcp serve`: the configured connectors as MCP tools over stdio.

use std::sync::Arc;

use anyhow::{Context, Result};
use axtary_node::mcp_server::{McpServer, serve_stdio};
use axtary_node::pipeline::{Node, NodeOptions};

use crate::exit::Exit;
use crate::home::Home;

pub fn run(home: &Home, agent: String) -> Result<Exit> {
    // stdout carries only MCP messages: everything else goes to stderr.
    let options = NodeOptions {
        policy_path: None,
        checkpoint_on_close: true,
        policy_cache: false,
    };
    let node = Arc::new(Node::open(home, options)?);
    if let Err(e) = node.recover() {
        eprintln!("axtary mcp: cannot check for passes left without an outcome: {e}");
    }
    if let Err(failure) = &node.policy().loaded {
        eprint!("{}", failure.details);
        eprintln!("axtary mcp: every tool call is denied until the policy is fixed");
    }
    let tools = node.connector_names();
    if tools.is_empty() {
        eprintln!(
            "axtary mcp: no connectors are configured, so no tools are offered\nhint: add them under `connectors:` in {}",
            home.config_path().display()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let server = Arc::new(McpServer::new(Arc::clone(&node), agent, "mcp"));
    let served = runtime.block_on(serve_stdio(server));
    drop(runtime);
    node.close()?;
    served.context("MCP stdio failed")?;
    Ok(Exit::Ok)
}

//! `axtary run`: the whole pipeline in-process. ActionRequest on stdin, result JSON on stdout.

use std::sync::Arc;

use anyhow::{Context, Result};
use axtary_node::pipeline::{RunOptions, RunResult, RunStatus};

use crate::cmd::decide::{exit_for_decided, open, report};
use crate::exit::Exit;
use crate::home::Home;
use crate::output::{self, Format};
use crate::request;

pub fn run(home: &Home, dry_run: bool, format: Format) -> Result<Exit> {
    let node = match open(home, None) {
        Ok(node) => Arc::new(node),
        Err(refused) => {
            let (decision, exit) = *refused;
            output::print_json(&serde_json::json!({"status": "denied", "decision": decision}))?;
            return Ok(exit);
        }
    };
    if let Err(e) = node.recover() {
        eprintln!("warning: cannot check for passes left without an outcome: {e}");
    }
    let bytes = match request::read_stdin(node.limits()) {
        Ok(bytes) => bytes,
        Err(message) => {
            let decided = node.deny_unreadable(message, "cli");
            node.close()?;
            report(&node, &decided);
            let status = serde_json::json!({"status": "denied", "decision": decided.decision});
            output::print_json(&status)?;
            return Ok(exit_for_decided(&node, &decided));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let options = RunOptions {
        dry_run,
        durable_outcome: true,
    };
    let result = runtime.block_on(node.run(bytes, "cli".to_owned(), options));
    node.close()?;
    if let Err(failure) = &node.policy().loaded {
        eprint!("{}", failure.details);
    }
    if let Some(e) = &result.error {
        eprintln!("error: {e}");
    }
    print(&result, format)?;
    Ok(exit_for(&node, &result))
}

fn exit_for(node: &axtary_node::pipeline::Node, result: &RunResult) -> Exit {
    match result.status {
        RunStatus::Executed | RunStatus::DryRun => Exit::Ok,
        RunStatus::Failed => Exit::Error,
        RunStatus::PendingApproval => Exit::ApprovalRequired,
        RunStatus::Denied if result.invalid_input || node.policy().loaded.is_err() => Exit::Invalid,
        RunStatus::Denied if result.decision.ledger_seq.is_none() => Exit::Error,
        RunStatus::Denied => Exit::Deny,
    }
}

fn print(result: &RunResult, format: Format) -> Result<()> {
    match format {
        Format::Json => output::print_json(result)?,
        Format::Text => {
            let d = &result.decision;
            let mut text = format!(
                "{}: {} by {}: {}\n",
                serde_json::to_value(result.status)?
                    .as_str()
                    .unwrap_or("unknown"),
                d.effect,
                d.rule,
                d.reason
            );
            if let Some(r) = &result.result {
                text.push_str(&serde_json::to_string_pretty(r)?);
                text.push('\n');
            }
            output::print(&text)?;
        }
    }
    Ok(())
}

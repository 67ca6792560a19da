//! `axtary decide`: ActionRequest on stdin, Decision on stdout, the effect in the exit code.

use std::path::Path;

use anyhow::Result;
use axtary_core::decision::{Decided, Decision, LEDGER_UNAVAILABLE};
use axtary_core::policy::Effect;
use axtary_node::pipeline::{Node, NodeOptions};

use crate::exit::Exit;
use crate::home::Home;
use crate::output::{self, Format};
use crate::{policy_file, request};

pub fn run(home: &Home, policy_flag: Option<&Path>, format: Format) -> Result<Exit> {
    let node = match open(home, policy_flag) {
        Ok(node) => node,
        Err(refused) => {
            let (decision, exit) = *refused;
            print(&decision, format)?;
            return Ok(exit);
        }
    };
    let decided = match request::read_stdin(node.limits()) {
        Ok(bytes) => node.decide(&bytes, "cli"),
        Err(message) => node.deny_unreadable(message, "cli"),
    };
    node.close()?;
    report(&node, &decided);
    print(&decided.decision, format)?;
    Ok(exit_for_decided(&node, &decided))
}

/// Opens the node for a one-shot command. Fails closed: a broken config or an unusable ledger
/// still yields a printed deny (and its exit code), not just an error.
pub fn open(home: &Home, policy_flag: Option<&Path>) -> Result<Node, Box<(Decision, Exit)>> {
    let options = NodeOptions {
        policy_path: policy_flag.map(Path::to_path_buf),
        checkpoint_on_close: false,
        policy_cache: true,
    };
    Node::open(home, options).map_err(|e| Box::new(refusal(home, policy_flag, &e)))
}

/// The deny (and exit code) for a node that cannot open.
fn refusal(home: &Home, policy_flag: Option<&Path>, e: &anyhow::Error) -> (Decision, Exit) {
    eprintln!("error: {e:#}");
    let config = match home.config() {
        Ok(c) => c,
        Err(_) => {
            return (
                Decision::invalid_policy(format!("{e:#}"), None),
                Exit::Invalid,
            );
        }
    };
    // Say what is wrong with the policy too: that is the likelier thing to fix first.
    let path = policy_file::path(home, &config, policy_flag);
    if let Err(failure) = policy_file::load(&path, &policy_file::env(home)) {
        eprint!("{}", failure.details);
        return (
            Decision::invalid_policy(failure.summary, None),
            Exit::Invalid,
        );
    }
    let deny = Decision::invalid_policy(String::new(), None);
    (deny.unrecorded(&format!("{e:#}")), Exit::Error)
}

/// Prints the policy's load failure and the input error, if any, to stderr.
pub fn report(node: &Node, decided: &Decided) {
    if let Err(failure) = &node.policy().loaded {
        eprint!("{}", failure.details);
    }
    if let Some(e) = &decided.input_error {
        eprintln!("error: {}", e.message);
        if let Some(hint) = e.hint {
            eprintln!("hint: {hint}");
        }
    }
    if decided.decision.ledger_seq.is_none() && decided.decision.rule != LEDGER_UNAVAILABLE {
        eprintln!("warning: this deny was not recorded in the ledger");
    }
}

/// The exit code for a decision: an unrecordable decision is an error, an invalid policy or
/// input is 3, else the effect's code.
pub fn exit_for_decided(node: &Node, decided: &Decided) -> Exit {
    if decided.decision.rule == LEDGER_UNAVAILABLE {
        Exit::Error
    } else if node.policy().loaded.is_err() || decided.input_error.is_some() {
        Exit::Invalid
    } else {
        exit_for(decided.decision.effect)
    }
}

pub fn exit_for(effect: Effect) -> Exit {
    match effect {
        Effect::Allow => Exit::Ok,
        Effect::Deny => Exit::Deny,
        Effect::RequireApproval => Exit::ApprovalRequired,
    }
}

fn print(decision: &Decision, format: Format) -> Result<()> {
    match format {
        Format::Json => output::print_json(decision)?,
        Format::Text => {
            let mut text = format!(
                "{} by {}: {}\n",
                decision.effect, decision.rule, decision.reason
            );
            if let Some(a) = &decision.approvers {
                text.push_str(&format!("approvers: {} x{}\n", a.group, a.count));
            }
            if let Some(h) = &decision.action_hash {
                text.push_str(&format!("action_hash: {h}\n"));
            }
            output::print(&text)?;
        }
    }
    Ok(())
}

//! `axtary decide`: ActionRequest on stdin, Decision on stdout, the effect in the exit code.

use std::path::Path;

use anyhow::Result;
use axtary_core::decision::{Decided, Decision, InputError, decide_bytes};
use axtary_core::ledger::EntryKind;
use axtary_core::normalize::NormalizeOptions;
use axtary_core::policy::Effect;
use axtary_node::approvals::{self, Approvals};
use axtary_node::record;

use crate::exit::Exit;
use crate::home::{self, Config, Home};
use crate::output::{self, Format};
use crate::{node, policy_file, request};

pub fn run(home: &Home, policy_flag: Option<&Path>, format: Format) -> Result<Exit> {
    // Fail closed: a broken config still yields a printed deny, not just an error.
    let config = match home.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            let decision = Decision::invalid_policy(format!("{e:#}"), None);
            print(&decision, format)?;
            return Ok(Exit::Invalid);
        }
    };
    let limits = config.json_limits();
    let opts = NormalizeOptions {
        limits,
        user_home: home::user_home(),
    };
    let policy_path = policy_file::path(home, &config, policy_flag);
    let loaded = policy_file::load(&policy_path, &policy_file::env(home));

    let policy = match &loaded {
        Ok((l, _)) => Ok(&l.policy),
        Err(f) => Err(f.summary.as_str()),
    };
    let decided = match request::read_stdin(limits) {
        Ok(bytes) => decide_bytes(&bytes, policy, &opts),
        Err(message) => Decided {
            decision: Decision::invalid_input(message.clone(), None, policy.ok().map(|p| p.hash())),
            action: None,
            input_error: Some(InputError {
                message,
                hint: None,
            }),
            context: None,
        },
    };

    // Record before answering: an allow that cannot be recorded becomes a deny.
    let mut decided = decided;
    let mut unrecorded = false;
    match settle(home, &config, &mut decided) {
        Ok(seq) => decided.decision.ledger_seq = Some(seq),
        Err(e) => {
            eprintln!("error: {e:#}");
            if decided.decision.effect != Effect::Deny {
                decided.decision = decided.decision.unrecorded(&format!("{e:#}"));
                unrecorded = true;
            } else {
                eprintln!("warning: this deny was not recorded in the ledger");
            }
        }
    }

    if let Err(failure) = &loaded {
        eprint!("{}", failure.details);
    }
    if let Some(e) = &decided.input_error {
        eprintln!("error: {}", e.message);
        if let Some(hint) = e.hint {
            eprintln!("hint: {hint}");
        }
    }
    print(&decided.decision, format)?;
    Ok(if unrecorded {
        Exit::Error
    } else if loaded.is_err() || decided.input_error.is_some() {
        Exit::Invalid
    } else {
        exit_for(decided.decision.effect)
    })
}

/// Applies approvals, then appends the decision to the ledger; returns its sequence number once
/// durable.
fn settle(home: &Home, config: &Config, decided: &mut Decided) -> Result<u64> {
    let ledger = node::open_ledger(home)?;
    let mut approvals = Approvals::open(&home.ledger_path()).map_err(|e| e.to_string());
    let ttl_ms = i64::from(config.approvals.ttl_seconds) * 1000;
    approvals::resolve(
        decided,
        approvals.as_mut().map_err(|e| e.clone()),
        &ledger,
        ttl_ms,
        node::now_ms(),
    );
    let body = record::decision_body(decided, "cli", decided.context.as_ref());
    let appended = ledger.append(EntryKind::Decision, body);
    ledger.close()?;
    Ok(appended?.seq)
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

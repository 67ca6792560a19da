//! The [`Gate`] of a real node: decisions and outcomes go to its policy, approvals and ledger.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axtary_core::ActionRequest;
use axtary_core::decision::LEDGER_UNAVAILABLE;
use axtary_core::normalize::normalize;
use axtary_core::policy::Effect;
use serde_json::Value;

use super::relay::{Gate, Verdict};
use crate::pipeline::{Effected, Node};

/// Surface name recorded with every decision the wrapper asks for.
pub const SURFACE: &str = "mcp-wrap";

type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A gate backed by a [`Node`]. The wrapper runs for a whole agent session, so the policy file
/// is reloaded when it changes (checked before each call: one `stat`); a policy that fails to
/// load keeps the previous good one in force, and the failure is logged.
pub struct NodeGate {
    node: Arc<Node>,
    log: Log,
    policy_stamp: Mutex<Option<Stamp>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(node: &Node) -> Option<Stamp> {
    let meta = std::fs::metadata(node.policy_path()).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

impl NodeGate {
    pub fn new(node: Arc<Node>, log: Log) -> Self {
        let policy_stamp = Mutex::new(stamp(&node));
        Self {
            node,
            log,
            policy_stamp,
        }
    }

    fn reload_if_changed(&self) {
        let now = stamp(&self.node);
        let mut last = self
            .policy_stamp
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *last == now {
            return;
        }
        *last = now;
        match self.node.reload_policy() {
            Ok(hash) => (self.log)(&format!("policy changed on disk; now in force: {hash}")),
            Err(failure) => (self.log)(&format!(
                "policy changed on disk but does not load ({}); {}",
                failure.summary,
                if self.node.policy().loaded.is_ok() {
                    "the previous policy stays in force"
                } else {
                    "every call is denied"
                }
            )),
        }
    }
}

impl Gate for NodeGate {
    fn check(&self, request: &ActionRequest) -> Verdict {
        self.reload_if_changed();
        let d = self.node.decide_request(request, SURFACE).decision;
        match (d.effect, d.ledger_seq, d.approval_id) {
            (Effect::Allow, Some(decision_seq), _) => Verdict::Allow { decision_seq },
            // Record before effect: an allow that is not in the ledger does not run.
            (Effect::Allow, None, _) => Verdict::Deny {
                rule: LEDGER_UNAVAILABLE.to_owned(),
                reason: "the decision could not be recorded, so nothing may run".to_owned(),
            },
            (Effect::RequireApproval, _, Some(approval_id)) => Verdict::Pending {
                approval_id,
                rule: d.rule,
                reason: d.reason,
            },
            (Effect::Deny | Effect::RequireApproval, _, _) => Verdict::Deny {
                rule: d.rule,
                reason: d.reason,
            },
        }
    }

    fn may_allow(&self, request: &ActionRequest) -> bool {
        self.reload_if_changed();
        let policy = self.node.policy();
        // Without a policy every call is denied with the reason; keep the tools visible so the
        // agent gets to read it.
        let Ok(loaded) = &policy.loaded else {
            return true;
        };
        normalize(request, self.node.normalize_options())
            .is_ok_and(|action| loaded.policy.may_allow(&action))
    }

    fn record(&self, decision_seq: u64, succeeded: bool, detail: Value) {
        // The relay marks a call that never got an answer with `outcome: "unknown"`.
        let outcome = match (succeeded, detail.get("outcome").and_then(Value::as_str)) {
            (true, _) => Effected::Succeeded,
            (false, Some("unknown")) => Effected::Unknown,
            (false, _) => Effected::Failed,
        };
        if let Err(e) = self.node.record_outcome(decision_seq, outcome, detail) {
            (self.log)(&format!(
                "cannot record the outcome of decision {decision_seq}: {e}"
            ));
        }
    }
}

/// The gate of a wrapper whose node could not open (no `axtary init`, a broken config, an
/// unusable ledger): the server still starts, so the agent learns why, and every call is
/// denied. Nothing can be recorded.
pub struct Unavailable {
    pub reason: String,
}

impl Gate for Unavailable {
    fn check(&self, _request: &ActionRequest) -> Verdict {
        Verdict::Deny {
            rule: LEDGER_UNAVAILABLE.to_owned(),
            reason: format!(
                "Axtary cannot open its node, so nothing may run: {}",
                self.reason
            ),
        }
    }

    fn record(&self, _decision_seq: u64, _succeeded: bool, _detail: Value) {}
}

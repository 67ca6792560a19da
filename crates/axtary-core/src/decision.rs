//! From request bytes to a [`Decision`], failing closed at every step.
//!
//! This is the one function every surface calls, so every surface fails the same way: bytes
//! that are not a valid request, a request that cannot be normalized, and a policy that did not
//! load all come out as a deny that names why.

use serde::Serialize;

use crate::action::{Action, ActionHash, ActionRequest};
use crate::normalize::{NormalizeOptions, normalize};
use crate::policy::{ApprovalMode, Approvers, Effect, INVALID_INPUT, Policy, Verdict};

/// Rule id of every decision made without a loaded policy.
pub const INVALID_POLICY: &str = "builtin:invalid-policy";
/// Rule id of a decision that could not be written to the ledger.
pub const LEDGER_UNAVAILABLE: &str = "builtin:ledger-unavailable";

/// A decision on one action. (contract: DESIGN.md §3)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub effect: Effect,
    pub rule: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Approvers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_mode: Option<ApprovalMode>,
    /// `null` only when the request was invalid, so there was no action to hash.
    pub action_hash: Option<ActionHash>,
    /// `null` only when no policy was loaded.
    pub policy_hash: Option<ActionHash>,
    /// Sequence number of the ledger entry that recorded this decision, once recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_seq: Option<u64>,
    /// The pending approval request, when the effect is `require_approval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// Approvals that authorized this action (each use consumed), when it was approved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<String>,
}

impl Decision {
    fn from_verdict(
        v: Verdict,
        action_hash: Option<ActionHash>,
        policy_hash: Option<ActionHash>,
    ) -> Self {
        Decision {
            effect: v.effect,
            rule: v.rule,
            reason: v.reason,
            approvers: v.approvers,
            approval_mode: v.approval_mode,
            action_hash,
            policy_hash,
            ledger_seq: None,
            approval_id: None,
            approvals: Vec::new(),
        }
    }

    /// The deny for an action whose decision could not be recorded (record before effect).
    pub fn unrecorded(&self, why: &str) -> Self {
        Decision {
            effect: Effect::Deny,
            rule: LEDGER_UNAVAILABLE.to_owned(),
            reason: format!("the decision could not be recorded, so nothing may run: {why}"),
            approvers: None,
            approval_mode: None,
            action_hash: self.action_hash,
            policy_hash: self.policy_hash,
            ledger_seq: None,
            approval_id: None,
            approvals: Vec::new(),
        }
    }

    /// The deny for a request that could not be read or normalized.
    pub fn invalid_input(
        reason: String,
        action_hash: Option<ActionHash>,
        policy_hash: Option<ActionHash>,
    ) -> Self {
        Self::from_verdict(
            Verdict::deny(INVALID_INPUT, reason),
            action_hash,
            policy_hash,
        )
    }

    /// The deny for every action while no valid policy is loaded.
    pub fn invalid_policy(reason: String, action_hash: Option<ActionHash>) -> Self {
        Self::from_verdict(Verdict::deny(INVALID_POLICY, reason), action_hash, None)
    }
}

/// Why a request was refused before policy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub message: String,
    pub hint: Option<&'static str>,
}

/// The result of deciding on request bytes.
#[derive(Clone, Debug)]
pub struct Decided {
    pub decision: Decision,
    /// The normalized action, when the request was valid.
    pub action: Option<Action>,
    /// Why the request was invalid, when it was.
    pub input_error: Option<InputError>,
    /// The request's `context`, when the request was readable.
    pub context: Option<serde_json::Value>,
}

/// Decides on a request given as bytes. Total: every failure is a deny.
pub fn decide_bytes(
    bytes: &[u8],
    policy: Result<&Policy, &str>,
    opts: &NormalizeOptions,
) -> Decided {
    match ActionRequest::from_slice(bytes, opts.limits) {
        Ok(req) => decide_request(&req, policy, opts),
        Err(e) => invalid(e.to_string(), None, policy),
    }
}

/// Decides on a parsed request. Total: every failure is a deny.
pub fn decide_request(
    req: &ActionRequest,
    policy: Result<&Policy, &str>,
    opts: &NormalizeOptions,
) -> Decided {
    match normalize(req, opts) {
        Ok(action) => {
            let decision = decide_action(&action, policy);
            Decided {
                decision,
                action: Some(action),
                input_error: None,
                context: req.context.clone(),
            }
        }
        Err(e) => Decided {
            context: req.context.clone(),
            ..invalid(e.to_string(), e.hint(), policy)
        },
    }
}

/// Decides on a normalized action.
pub fn decide_action(action: &Action, policy: Result<&Policy, &str>) -> Decision {
    let hash = action.hash();
    match policy {
        Ok(p) => Decision::from_verdict(p.evaluate(action), Some(hash), Some(p.hash())),
        Err(why) => Decision::invalid_policy(why.to_owned(), Some(hash)),
    }
}

fn invalid(message: String, hint: Option<&'static str>, policy: Result<&Policy, &str>) -> Decided {
    let decision = match policy {
        Ok(p) => Decision::invalid_input(message.clone(), None, Some(p.hash())),
        Err(_) => Decision::invalid_input(message.clone(), None, None),
    };
    Decided {
        decision,
        action: None,
        input_error: Some(InputError { message, hint }),
        context: None,
    }
}

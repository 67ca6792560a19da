//! What goes into ledger entries: the bodies of decisions and other records.
//!
//! INVARIANT: no entry body carries a detected secret. A payload whose content facts name a
//! secret is replaced by a note that it was withheld (its `action_hash` still binds it), and
//! free text that trips a detector is withheld the same way.

use axtary_core::Action;
use axtary_core::decision::Decided;
use axtary_core::facts::Fact;
use axtary_core::normalize::detect_secrets;
use serde_json::{Map, Value, json};

/// The body of a `decision` entry.
pub fn decision_body(decided: &Decided, surface: &str, context: Option<&Value>) -> Value {
    let d = &decided.decision;
    let mut body = Map::new();
    body.insert("surface".into(), surface.into());
    body.insert("effect".into(), json!(d.effect));
    body.insert("rule".into(), d.rule.clone().into());
    body.insert("reason".into(), withhold_secrets(&d.reason).into());
    if let Some(a) = &d.approvers {
        body.insert("approvers".into(), json!(a));
    }
    if let Some(id) = &d.approval_id {
        body.insert("approval_id".into(), id.clone().into());
    }
    if !d.approvals.is_empty() {
        // The approvals this allow consumed: the ledger ties the effect to the humans.
        body.insert("approvals".into(), json!(d.approvals));
    }
    body.insert("action_hash".into(), json!(d.action_hash));
    body.insert("policy_hash".into(), json!(d.policy_hash));
    if let Some(action) = &decided.action {
        insert_action(&mut body, action);
    }
    if let Some(e) = &decided.input_error {
        body.insert("error".into(), withhold_secrets(&e.message).into());
    }
    if let Some(c) = context.filter(|c| detect_secrets(c).is_empty()) {
        body.insert("context".into(), c.clone());
    }
    Value::Object(body)
}

/// Adds the action's identity, payload (or a note that it was withheld) and facts.
pub fn insert_action(body: &mut Map<String, Value>, action: &Action) {
    body.insert("agent".into(), action.agent.clone().into());
    body.insert("connector".into(), action.connector.clone().into());
    body.insert("operation".into(), action.operation.clone().into());
    body.insert("resource".into(), action.resource.clone().into());
    let secrets = match action.facts.get("secrets") {
        Some(Fact::List(s)) if !s.is_empty() => Some(s.join(", ")),
        _ => None,
    };
    match secrets {
        None => {
            body.insert("payload".into(), action.payload.clone());
            body.insert("facts".into(), json!(action.facts));
        }
        Some(names) => {
            body.insert(
                "payload_withheld".into(),
                format!(
                    "the payload contains what looks like a secret ({names}); only its hash is kept"
                )
                .into(),
            );
        }
    }
}

/// `text`, or a note that it was withheld when a secret detector matches it.
pub fn withhold_secrets(text: &str) -> String {
    let found = detect_secrets(&Value::String(text.to_owned()));
    if found.is_empty() {
        text.to_owned()
    } else {
        format!(
            "(withheld: contains what looks like a secret: {})",
            found.join(", ")
        )
    }
}

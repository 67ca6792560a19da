//! linear: `issue.create` through the GraphQL `issueCreate` mutation.
//!
//! GraphQL errors arrive with HTTP 200, so both `errors` and `issueCreate.success` are
//! checked. Linear has no idempotency keys: a create is never retried, and a lost answer is
//! reported as `unknown` (the issue may exist).

use std::sync::Arc;

use axtary_core::Action;
use axtary_core::pass::VerifiedPass;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::broker::Broker;
use crate::config::{LinearAuth, LinearConfig};
use crate::github::{dry, truncate};
use crate::http::{Body, Header, Planned, SendError, Transport, join};
use crate::{
    BoxFuture, ConfigError, Connector, ExecOptions, Outcome, Refusal, check_pass, field,
    input_error, str_field,
};

/// The mutation sent (refs/PROTOCOLS.md §5).
pub const ISSUE_CREATE: &str = "mutation IssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier url title } } }";

pub(crate) struct Linear {
    cfg: LinearConfig,
    broker: Arc<Broker>,
    transport: Transport,
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

impl Linear {
    pub fn new(cfg: LinearConfig, broker: Arc<Broker>) -> Result<Self, ConfigError> {
        let transport = Transport::new(&cfg)?;
        Ok(Self {
            cfg,
            broker,
            transport,
        })
    }

    /// The `IssueCreateInput` for the action.
    fn input(&self, action: &Action) -> Result<Value, Refusal> {
        let team = str_field(action, "team")?;
        let team_id = match self.cfg.teams.get(team) {
            Some(id) => id.clone(),
            None if is_uuid(team) => team.to_owned(),
            None => {
                return Err(Refusal::Config(format!(
                    "unknown linear team `{team}`\nhint: map it to a team id under `connectors.linear.teams`"
                )));
            }
        };
        let mut input = Map::new();
        input.insert("teamId".into(), team_id.into());
        input.insert("title".into(), str_field(action, "title")?.into());
        if let Some(d) = field(action, "description").filter(|v| !v.is_null()) {
            input.insert("description".into(), d.clone());
        }
        if let Some(p) = field(action, "priority").filter(|v| !v.is_null()) {
            input.insert("priority".into(), p.clone());
        }
        if let Some(labels) = field(action, "labels").and_then(Value::as_array) {
            let mut ids = Vec::with_capacity(labels.len());
            for l in labels {
                let name = l
                    .as_str()
                    .ok_or_else(|| input_error(action, "`labels` must be strings"))?;
                match self.cfg.labels.get(name) {
                    Some(id) => ids.push(Value::String(id.clone())),
                    None if is_uuid(name) => ids.push(name.into()),
                    None => {
                        return Err(Refusal::Config(format!(
                            "unknown linear label `{name}`\nhint: map it to a label id under `connectors.linear.labels`"
                        )));
                    }
                }
            }
            if !ids.is_empty() {
                input.insert("labelIds".into(), Value::Array(ids));
            }
        }
        Ok(Value::Object(input))
    }

    async fn run(&self, action: &Action, dry_run: bool) -> Result<Outcome, Refusal> {
        if action.operation != "issue.create" {
            return Err(input_error(
                action,
                format!("linear cannot execute operation `{}`", action.operation),
            ));
        }
        let input = self.input(action)?;
        let token = self.broker.get(self.cfg.token.name())?;
        let template = match self.cfg.auth {
            LinearAuth::ApiKey => "{secret}",
            LinearAuth::Oauth => "Bearer {secret}",
        };
        let planned = Planned {
            method: Method::POST,
            url: join(&self.cfg.base_url, "/graphql"),
            headers: vec![
                Header::secret("authorization", template, self.cfg.token.name(), &token),
                Header::plain("user-agent", crate::http::USER_AGENT),
            ],
            body: Body::Json(json!({"query": ISSUE_CREATE, "variables": {"input": input}})),
        };
        if dry_run {
            return Ok(dry(&[planned]));
        }
        // Exactly one attempt: Linear has no idempotency keys.
        let resp = match self.transport.send(&planned).await {
            Ok(r) => r,
            Err(e @ SendError::NotReached(_)) => {
                return Ok(Outcome::failed(
                    false,
                    format!("linear: {}", e.message()),
                    json!({}),
                ));
            }
            Err(e) => {
                return Ok(Outcome::unknown(
                    format!(
                        "linear: {}; the issue may have been created, so it was not retried",
                        e.message()
                    ),
                    json!({}),
                ));
            }
        };
        let body = resp.json();
        if let Some(errors) = body
            .as_ref()
            .and_then(|b| b.get("errors"))
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let messages: Vec<&str> = errors
                .iter()
                .map(|e| e.get("message").and_then(Value::as_str).unwrap_or("error"))
                .collect();
            return Ok(Outcome::failed(
                true,
                format!("linear rejected the request: {}", messages.join("; ")),
                json!({"http_status": resp.status, "errors": errors}),
            ));
        }
        if !resp.is_success() {
            return Ok(Outcome::failed(
                true,
                format!(
                    "linear answered HTTP {}: {}",
                    resp.status,
                    truncate(&String::from_utf8_lossy(&resp.body), 300)
                ),
                json!({"http_status": resp.status}),
            ));
        }
        let created = body.as_ref().and_then(|b| b.pointer("/data/issueCreate"));
        match created {
            Some(c) if c.get("success").and_then(Value::as_bool) == Some(true) => Ok(
                Outcome::succeeded(c.get("issue").cloned().unwrap_or(Value::Null)),
            ),
            _ => Ok(Outcome::failed(
                true,
                "linear did not report `success: true` for issueCreate".into(),
                json!({"response": resp.body_value()}),
            )),
        }
    }
}

impl Connector for Linear {
    fn name(&self) -> &str {
        "linear"
    }

    fn execute<'a>(
        &'a self,
        pass: &'a VerifiedPass,
        action: &'a Action,
        opts: &'a ExecOptions,
    ) -> BoxFuture<'a, Result<Outcome, Refusal>> {
        Box::pin(async move {
            check_pass(self.name(), pass, action)?;
            let outcome = self.run(action, opts.dry_run || self.cfg.dry_run).await?;
            Ok(outcome.scrubbed(&self.broker.scrubber()))
        })
    }
}

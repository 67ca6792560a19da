//! slack: `chat.post` through `chat.postMessage`.
//!
//! Slack reports most errors with HTTP 200 and `{"ok": false, "error": CODE}`, so `ok` is
//! always checked. HTTP 429 is retried once after `Retry-After` when that is at most the
//! configured cap (a 429 means the message was not accepted, so one retry cannot duplicate it).

use std::sync::Arc;
use std::time::Duration;

use axtary_core::Action;
use axtary_core::pass::VerifiedPass;
use reqwest::Method;
use serde_json::{Value, json};

use crate::broker::Broker;
use crate::config::SlackConfig;
use crate::github::{dry, truncate};
use crate::http::{Body, Header, Planned, Transport, join};
use crate::{BoxFuture, ConfigError, Connector, ExecOptions, Outcome, Refusal, check_pass};

pub(crate) struct Slack {
    cfg: SlackConfig,
    broker: Arc<Broker>,
    transport: Transport,
}

impl Slack {
    pub fn new(cfg: SlackConfig, broker: Arc<Broker>) -> Result<Self, ConfigError> {
        let transport = Transport::new(&cfg)?;
        Ok(Self {
            cfg,
            broker,
            transport,
        })
    }

    async fn run(&self, action: &Action, dry_run: bool) -> Result<Outcome, Refusal> {
        if action.operation != "chat.post" {
            return Err(crate::input_error(
                action,
                format!("slack cannot execute operation `{}`", action.operation),
            ));
        }
        let token = self.broker.get(self.cfg.token.name())?;
        // The payload is the validated input {channel, text, thread_ts?}: sent as is.
        let planned = Planned {
            method: Method::POST,
            url: join(&self.cfg.base_url, "/chat.postMessage"),
            headers: vec![
                Header::secret(
                    "authorization",
                    "Bearer {secret}",
                    self.cfg.token.name(),
                    &token,
                ),
                Header::plain("user-agent", crate::http::USER_AGENT),
            ],
            body: Body::Json(action.payload.clone()),
        };
        if dry_run {
            return Ok(dry(&[planned]));
        }
        let mut retried = false;
        loop {
            let resp = match self.transport.send(&planned).await {
                Ok(r) => r,
                Err(e) => return Ok(e.into_outcome("slack")),
            };
            if resp.status == 429 {
                let wait = resp
                    .retry_after
                    .as_deref()
                    .and_then(|s| s.trim().parse::<u64>().ok());
                match wait {
                    Some(secs) if !retried && secs <= self.cfg.max_retry_after_secs => {
                        retried = true;
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                        continue;
                    }
                    _ => {
                        let after =
                            wait.map_or_else(String::new, |s| format!(" (retry after {s} s)"));
                        return Ok(Outcome::failed(
                            true,
                            format!("slack rate limited the message{after}; it was not posted"),
                            json!({"http_status": 429}),
                        ));
                    }
                }
            }
            let body = resp.json();
            let ok = body
                .as_ref()
                .and_then(|b| b.get("ok"))
                .and_then(Value::as_bool);
            return Ok(match (resp.status, ok, body) {
                (200, Some(true), Some(b)) => Outcome::succeeded(json!({
                    "channel": b.get("channel"), "ts": b.get("ts"),
                })),
                (_, Some(false), Some(b)) => {
                    let code = b.get("error").and_then(Value::as_str).unwrap_or("unknown");
                    Outcome::failed(
                        true,
                        format!("slack refused the message: {}", describe(code)),
                        json!({"http_status": resp.status, "error": code}),
                    )
                }
                (status, _, _) => Outcome::failed(
                    true,
                    format!(
                        "slack answered HTTP {status} without `ok`: {}",
                        truncate(&String::from_utf8_lossy(&resp.body), 300)
                    ),
                    json!({"http_status": status}),
                ),
            });
        }
    }
}

/// A sentence for Slack's error codes (refs/PROTOCOLS.md §4).
fn describe(code: &str) -> String {
    let what = match code {
        "channel_not_found" => {
            "channel not found (prefer channel ids; invite the app to private channels)"
        }
        "not_in_channel" => "the app is not a member of the channel",
        "is_archived" => "the channel is archived",
        "msg_too_long" => "the message is too long",
        "no_text" => "the message has no text",
        "invalid_auth" | "not_authed" | "token_revoked" | "account_inactive" => {
            "the token was rejected (check the secret)"
        }
        "missing_scope" => "the token lacks the `chat:write` scope",
        "rate_limited" | "ratelimited" => "rate limited",
        _ => "",
    };
    if what.is_empty() {
        format!("`{code}`")
    } else {
        format!("{what} (`{code}`)")
    }
}

impl Connector for Slack {
    fn name(&self) -> &str {
        "slack"
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

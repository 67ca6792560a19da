//! Axtary's execute side: connectors that hold provider credentials and run an action only
//! under a verified pass, and the credential broker.
//!
//! **Invariant:** a connector runs nothing without a [`VerifiedPass`] (which only
//! `axtary_core::pass::verify` builds), and before sending anything it re-checks that the
//! pass names this connector, this operation, this resource, this agent and the hash of the
//! exact action about to run. A mismatch is a [`Refusal`]: nothing was sent.
//!
//! **Invariant:** every provider response and every error goes through the broker's
//! [`Scrubber`](scrub::Scrubber) before it leaves the crate; dry-run output shows credentials
//! as `[REDACTED:NAME]`.

pub mod broker;
pub mod config;
mod github;
pub(crate) mod http;
mod linear;
mod postgres;
pub mod scrub;
mod slack;
mod sqlite;
mod upstream;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axtary_core::Action;
use axtary_core::pass::VerifiedPass;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use broker::{Broker, BrokerError};
pub use config::{ConfigError, ConnectorsConfig};

/// A boxed, sendable future (the trait is object-safe so the node can hold `dyn Connector`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How to run one action.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    /// Build the requests but send nothing; the outcome lists exactly what would be sent.
    /// A connector configured with `dry_run: true` always behaves so.
    pub dry_run: bool,
    /// The compact pass token the [`VerifiedPass`] was verified from, for connectors that
    /// forward it (`http` sends it as `Axtary-Pass`). Its `jti` and `ah` must match the pass.
    pub pass_token: Option<String>,
}

/// What happened, as far as the connector can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The provider accepted the action.
    Succeeded,
    /// The provider refused it, or it could not be sent; it did not take effect.
    Failed,
    /// It may or may not have taken effect (e.g. a timeout after sending). Never retried.
    Unknown,
    /// Nothing was sent; `result` lists what would have been.
    DryRun,
}

/// The result of executing one action. Everything in it has been scrubbed of secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    /// Whether any byte reached the provider.
    pub provider_reached: bool,
    /// Provider-specific result (or, in a dry run, `{"dry_run": true, "requests": [...]}`).
    pub result: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    pub(crate) fn succeeded(result: Value) -> Self {
        Self {
            status: Status::Succeeded,
            provider_reached: true,
            result,
            error: None,
        }
    }

    pub(crate) fn failed(reached: bool, error: String, result: Value) -> Self {
        Self {
            status: Status::Failed,
            provider_reached: reached,
            result,
            error: Some(error),
        }
    }

    pub(crate) fn unknown(error: String, result: Value) -> Self {
        Self {
            status: Status::Unknown,
            provider_reached: true,
            result,
            error: Some(error),
        }
    }

    pub(crate) fn dry_run(result: Value) -> Self {
        Self {
            status: Status::DryRun,
            provider_reached: false,
            result,
            error: None,
        }
    }

    /// Runs the result and the error through `scrubber`.
    pub(crate) fn scrubbed(mut self, scrubber: &scrub::Scrubber) -> Self {
        scrubber.scrub_json(&mut self.result);
        self.error = self.error.map(|e| scrubber.scrub(&e));
        self
    }
}

/// Why a connector refused to run an action. Nothing was sent to the provider.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("pass is for connector `{pass}`, but this is connector `{connector}`")]
    Audience { pass: String, connector: String },
    #[error("pass authorizes action {authorized}, but the action about to run is {actual}")]
    ActionHash { authorized: String, actual: String },
    #[error("pass is for {field} `{pass}`, but the action has `{action}`")]
    Mismatch {
        field: &'static str,
        pass: String,
        action: String,
    },
    #[error("connector `{0}` is not configured\nhint: add it under `connectors:` in config.yaml")]
    NotConfigured(String),
    #[error("{0}")]
    Config(String),
    #[error("invalid action for {connector} {operation}: {message}")]
    Input {
        connector: String,
        operation: String,
        message: String,
    },
    #[error(transparent)]
    Secret(#[from] BrokerError),
}

/// Re-checks the pass against the action about to run (defense in depth: the node verified
/// the pass against this action already, but the connector trusts no caller).
pub fn check_pass(connector: &str, pass: &VerifiedPass, action: &Action) -> Result<(), Refusal> {
    let c = pass.claims();
    if c.aud != connector {
        return Err(Refusal::Audience {
            pass: c.aud.clone(),
            connector: connector.to_owned(),
        });
    }
    if action.connector != connector {
        return Err(Refusal::Mismatch {
            field: "connector",
            pass: connector.to_owned(),
            action: action.connector.clone(),
        });
    }
    let actual = action.hash();
    if c.ah != actual {
        return Err(Refusal::ActionHash {
            authorized: c.ah.to_string(),
            actual: actual.to_string(),
        });
    }
    for (field, pass_value, action_value) in [
        ("operation", &c.op, &action.operation),
        ("resource", &c.res, &action.resource),
        ("agent", &c.sub, &action.agent),
    ] {
        if pass_value != action_value {
            return Err(Refusal::Mismatch {
                field,
                pass: pass_value.clone(),
                action: action_value.clone(),
            });
        }
    }
    Ok(())
}

/// A provider connector: executes one action under one verified pass.
pub trait Connector: Send + Sync {
    /// The connector name: the pass audience and `Action::connector`.
    fn name(&self) -> &str;

    /// Runs `action`. Implementations call [`check_pass`] before building any request.
    fn execute<'a>(
        &'a self,
        pass: &'a VerifiedPass,
        action: &'a Action,
        opts: &'a ExecOptions,
    ) -> BoxFuture<'a, Result<Outcome, Refusal>>;
}

/// Every configured connector, by name.
pub struct Connectors {
    map: BTreeMap<String, Box<dyn Connector>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.map.keys()).finish()
    }
}

impl Connectors {
    /// Builds every connector in `cfg`. Secrets are looked up at execution time, so
    /// `axtary secrets set` takes effect without a restart of the connector set.
    pub fn from_config(cfg: &ConnectorsConfig, broker: Arc<Broker>) -> Result<Self, ConfigError> {
        config::validate(cfg)?;
        let mut map: BTreeMap<String, Box<dyn Connector>> = BTreeMap::new();
        if let Some(c) = &cfg.github {
            map.insert(
                "github".into(),
                Box::new(github::Github::new(c.clone(), Arc::clone(&broker))?),
            );
        }
        if let Some(c) = &cfg.slack {
            map.insert(
                "slack".into(),
                Box::new(slack::Slack::new(c.clone(), Arc::clone(&broker))?),
            );
        }
        if let Some(c) = &cfg.linear {
            map.insert(
                "linear".into(),
                Box::new(linear::Linear::new(c.clone(), Arc::clone(&broker))?),
            );
        }
        if let Some(c) = &cfg.http {
            map.insert(
                "http".into(),
                Box::new(upstream::Http::new(c.clone(), Arc::clone(&broker))?),
            );
        }
        if let Some(c) = &cfg.postgres {
            map.insert(
                "postgres".into(),
                Box::new(postgres::Postgres::new(c.clone(), Arc::clone(&broker))),
            );
        }
        if let Some(c) = &cfg.sqlite {
            map.insert(
                "sqlite".into(),
                Box::new(sqlite::Sqlite::new(c.clone(), Arc::clone(&broker))),
            );
        }
        Ok(Self { map })
    }

    /// The connector called `name`, if configured.
    pub fn get(&self, name: &str) -> Option<&dyn Connector> {
        self.map.get(name).map(|c| &**c)
    }

    /// Names of the configured connectors.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Runs `action` on the connector it names.
    pub async fn execute(
        &self,
        pass: &VerifiedPass,
        action: &Action,
        opts: &ExecOptions,
    ) -> Result<Outcome, Refusal> {
        let connector = self
            .get(&action.connector)
            .ok_or_else(|| Refusal::NotConfigured(action.connector.clone()))?;
        connector.execute(pass, action, opts).await
    }
}

/// Reads a field of a normalized payload (normalizers validated the shape; this stays total).
pub(crate) fn field<'v>(action: &'v Action, name: &str) -> Option<&'v Value> {
    action.payload.get(name)
}

pub(crate) fn input_error(action: &Action, message: impl Into<String>) -> Refusal {
    Refusal::Input {
        connector: action.connector.clone(),
        operation: action.operation.clone(),
        message: message.into(),
    }
}

pub(crate) fn str_field<'v>(action: &'v Action, name: &str) -> Result<&'v str, Refusal> {
    field(action, name)
        .and_then(Value::as_str)
        .ok_or_else(|| input_error(action, format!("`{name}` must be a string")))
}

//! Normalizers: provider-specific requests in, provider-neutral [`Action`]s with facts out.
//!
//! Every normalizer is total: any request yields an [`Action`] or a [`NormalizeError`] that says
//! what to fix, never a panic. Every normalizer checks its input strictly (unknown fields are
//! errors, because a field policy cannot see must not reach a provider) and derives the facts in
//! [`crate::facts::FACTS`] that policy matches on. The payload is the validated input: exactly
//! what will be sent, and exactly what the action hash binds.

mod claude_code;
mod fs;
mod github;
mod http;
mod input;
mod linear;
mod mcp;
pub mod paths;
pub mod secrets;
pub mod shell;
mod slack;
pub mod sql;
mod web;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::action::{ACTION_VERSION, Action, ActionRequest};
use crate::facts::{Fact, Facts, Family};
use crate::json::{self, JsonError, Limits};

/// Settings that shape normalization. Normalization needs no connector config.
#[derive(Clone, Debug, Default)]
pub struct NormalizeOptions {
    /// Limits re-applied to inputs that did not come through [`json::parse_strict`].
    pub limits: Limits,
    /// The user's home directory, used to resolve `~/` in paths. Without it `~/x` stays as written.
    pub user_home: Option<String>,
}

/// Why a request could not be normalized. Every variant is a deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("unknown connector `{connector}`")]
    UnknownConnector { connector: String },
    #[error(
        "unknown operation `{operation}` for connector `{connector}` (expected one of: {expected})"
    )]
    UnknownOperation {
        connector: String,
        operation: String,
        expected: &'static str,
    },
    #[error("{connector} {operation}: {message}")]
    Input {
        connector: String,
        operation: String,
        message: String,
    },
    #[error("invalid input: {0}")]
    Json(#[from] JsonError),
}

impl NormalizeError {
    /// A hint for the user, where one helps.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            NormalizeError::UnknownConnector { .. } => Some(
                "known connectors: github, slack, linear, postgres, sqlite, http, fs, shell, web, mcp:<server>, claude-code:<tool>",
            ),
            _ => None,
        }
    }
}

/// What one connector's normalizer produces; the dispatcher adds the common parts.
pub(crate) struct Normalized {
    pub resource: String,
    pub payload: Value,
    pub facts: Facts,
}

/// Normalizes `req` into an [`Action`].
pub fn normalize(req: &ActionRequest, opts: &NormalizeOptions) -> Result<Action, NormalizeError> {
    json::check_value(&req.input, opts.limits)?;
    let family = Family::of(&req.connector).ok_or_else(|| NormalizeError::UnknownConnector {
        connector: req.connector.clone(),
    })?;
    let op = req.operation.as_str();
    let err = |message: String| NormalizeError::Input {
        connector: req.connector.clone(),
        operation: req.operation.clone(),
        message,
    };
    let unknown_op = |expected: &'static str| NormalizeError::UnknownOperation {
        connector: req.connector.clone(),
        operation: req.operation.clone(),
        expected,
    };
    let normalized = match family {
        Family::Github => {
            github::normalize(op, &req.input).map_err(|e| e.into_error(unknown_op, err))?
        }
        Family::Slack => {
            slack::normalize(op, &req.input).map_err(|e| e.into_error(unknown_op, err))?
        }
        Family::Linear => {
            linear::normalize(op, &req.input).map_err(|e| e.into_error(unknown_op, err))?
        }
        Family::Sql => sql_normalize(&req.connector, op, &req.input)
            .map_err(|e| e.into_error(unknown_op, err))?,
        Family::Http => {
            http::normalize(op, &req.input).map_err(|e| e.into_error(unknown_op, err))?
        }
        Family::Fs => {
            fs::normalize(op, &req.input, opts).map_err(|e| e.into_error(unknown_op, err))?
        }
        Family::Shell => {
            shell_normalize(op, &req.input, opts).map_err(|e| e.into_error(unknown_op, err))?
        }
        Family::Mcp => mcp::normalize(&req.connector, op, &req.input)
            .map_err(|e| e.into_error(unknown_op, err))?,
        Family::Web => web::normalize(op, &req.input).map_err(|e| e.into_error(unknown_op, err))?,
        Family::ClaudeCode => claude_code::normalize(&req.connector, op, &req.input, opts)
            .map_err(|e| e.into_error(unknown_op, err))?,
    };
    let Normalized {
        resource,
        payload,
        mut facts,
    } = normalized;
    facts.insert("secrets".to_owned(), Fact::List(detect_secrets(&payload)));
    Ok(Action {
        v: ACTION_VERSION,
        agent: req.agent.clone(),
        connector: req.connector.clone(),
        operation: req.operation.clone(),
        resource,
        payload,
        facts,
    })
}

/// Runs every secret detector over every string in `payload` (keys included).
pub fn detect_secrets(payload: &Value) -> Vec<String> {
    fn walk(v: &Value, found: &mut BTreeSet<&'static str>) {
        match v {
            Value::String(s) => secrets::detect(s, found),
            Value::Array(items) => items.iter().for_each(|i| walk(i, found)),
            Value::Object(map) => map.iter().for_each(|(k, v)| {
                secrets::detect(k, found);
                walk(v, found);
            }),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut found = BTreeSet::new();
    walk(payload, &mut found);
    found.into_iter().map(str::to_owned).collect()
}

/// A normalizer's failure before the dispatcher names the connector and operation.
pub(crate) enum Failure {
    UnknownOperation(&'static str),
    Input(String),
}

impl Failure {
    fn into_error(
        self,
        unknown_op: impl FnOnce(&'static str) -> NormalizeError,
        err: impl FnOnce(String) -> NormalizeError,
    ) -> NormalizeError {
        match self {
            Failure::UnknownOperation(expected) => unknown_op(expected),
            Failure::Input(message) => err(message),
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Input(message)
    }
}

fn sql_normalize(connector: &str, op: &str, value: &Value) -> Result<Normalized, Failure> {
    if op != "query" {
        return Err(Failure::UnknownOperation("query"));
    }
    let input = input::Input::new(value, &["database", "sql", "params"])?;
    let database = input.name("database")?;
    let text = input.text("sql", 1024 * 1024)?;
    if let Some(params) = input.get("params") {
        let Value::Array(items) = params else {
            return Err(Failure::Input("`params` must be an array".into()));
        };
        if items.iter().any(|p| p.is_array() || p.is_object()) {
            return Err(Failure::Input(
                "`params` must hold only strings, numbers, booleans or null".into(),
            ));
        }
    }
    let dialect = if connector == "sqlite" {
        sql::Dialect::Sqlite
    } else {
        sql::Dialect::Postgres
    };
    let a = sql::analyze(dialect, text);
    let mut facts = Facts::new();
    facts.insert("database".into(), database.into());
    facts.insert("dialect".into(), connector.into());
    facts.insert("statement_kinds".into(), Fact::List(a.statement_kinds));
    facts.insert("tables".into(), Fact::List(a.tables));
    facts.insert("unbounded_write".into(), a.unbounded_write.into());
    facts.insert("multiple_statements".into(), a.multiple_statements.into());
    facts.insert("read_only".into(), a.read_only.into());
    facts.insert("functions".into(), Fact::List(a.functions));
    facts.insert(
        "side_effect_functions".into(),
        a.side_effect_functions.into(),
    );
    facts.insert("parse_error".into(), a.parse_error.is_some().into());
    Ok(Normalized {
        resource: format!("{connector}:{database}"),
        payload: value.clone(),
        facts,
    })
}

fn shell_normalize(
    op: &str,
    value: &Value,
    opts: &NormalizeOptions,
) -> Result<Normalized, Failure> {
    if op != "exec" {
        return Err(Failure::UnknownOperation("exec"));
    }
    let input = input::Input::new(value, &["command", "cwd", "options", "real_paths"])?;
    let command = input.text("command", 64 * 1024)?;
    let cwd = input.opt_abs_dir("cwd")?;
    let options = input.options()?;
    let real = input.real_paths()?.unwrap_or_default();
    let a = shell::analyze(command);
    // After a `cd`, relative paths may be relative to another directory: keep them relative
    // (so `**/.env`-style globs still match) instead of claiming an absolute path.
    let base = if a.changes_dir { None } else { cwd.as_deref() };
    let mut resolver = paths::PathSet::new(base, opts.user_home.as_deref()).with_real(&real);
    let paths_read = resolver.add_all(&a.paths_read);
    let paths_written = resolver.add_all(&a.paths_written);
    let mut facts = Facts::new();
    facts.insert("programs".into(), Fact::List(a.programs));
    facts.insert("commands".into(), Fact::List(a.commands));
    facts.insert("changes_dir".into(), a.changes_dir.into());
    facts.insert("paths_read".into(), Fact::List(paths_read));
    facts.insert("paths_written".into(), Fact::List(paths_written));
    let (paths, abs_paths) = resolver.finish();
    facts.insert("paths".into(), Fact::List(paths));
    facts.insert("abs_paths".into(), Fact::List(abs_paths));
    facts.insert("network".into(), a.network.into());
    facts.insert("git_push".into(), a.git_push.into());
    facts.insert("force".into(), a.force.into());
    facts.insert("sudo".into(), a.sudo.into());
    facts.insert("destructive".into(), a.destructive.into());
    facts.insert("opaque".into(), a.opaque.into());
    if let Some(cwd) = &cwd {
        facts.insert("cwd".into(), cwd.clone().into());
    }
    if let Some((_, keys)) = options {
        facts.insert("options".into(), Fact::List(keys));
    }
    let resource = format!("shell:{}", cwd.as_deref().unwrap_or(""));
    Ok(Normalized {
        resource,
        payload: value.clone(),
        facts,
    })
}

#[cfg(test)]
mod tests;

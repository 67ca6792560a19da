//! Connector configuration, embedded by the node config under `connectors:`.
//!
//! Secrets are referenced by name only (`secret:NAME`); values live in the
//! [`Broker`](crate::broker::Broker). Every struct rejects unknown fields, so a typo in a
//! security-relevant setting is an error rather than a silently ignored default.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::broker::valid_name;

/// Default timeout of one provider request.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Default largest provider response read.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Default row limit of a SQL query.
pub const DEFAULT_ROW_LIMIT: usize = 1000;
/// Default SQL statement timeout.
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 30_000;

/// A reference to a broker secret, written `secret:NAME` in config.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretRef(String);

impl SecretRef {
    /// Builds a reference from a bare name.
    pub fn new(name: &str) -> Result<Self, String> {
        if valid_name(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "invalid secret name `{}`: use 1 to 64 of A-Z a-z 0-9 _ . -",
                name.escape_debug()
            ))
        }
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secret:{}", self.0)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secret:{}", self.0)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let Some(name) = s.strip_prefix("secret:") else {
            // Never echo the value: it may be a credential pasted in by mistake.
            return Err(serde::de::Error::custom(
                "expected `secret:NAME` (credentials are stored with `axtary secrets set NAME`, never in config)",
            ));
        };
        SecretRef::new(name).map_err(serde::de::Error::custom)
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_SECS
}
fn default_max_response() -> usize {
    DEFAULT_MAX_RESPONSE_BYTES
}
fn default_row_limit() -> usize {
    DEFAULT_ROW_LIMIT
}
fn default_statement_timeout() -> u64 {
    DEFAULT_STATEMENT_TIMEOUT_MS
}
fn default_github_url() -> String {
    "https://api.github.com".into()
}
fn default_slack_url() -> String {
    "https://slack.com/api".into()
}
fn default_linear_url() -> String {
    "https://api.linear.app".into()
}
fn default_retry_after_cap() -> u64 {
    10
}
fn default_true() -> bool {
    true
}

/// `connectors:` in the node config. A connector that is absent is not available.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<LinearConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<SqlConfig<PostgresDatabase>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite: Option<SqlConfig<SqliteDatabase>>,
}

/// Settings every HTTP-based connector has.
pub trait HttpSettings {
    fn base_url(&self) -> &str;
    fn timeout(&self) -> Duration;
    fn max_response_bytes(&self) -> usize;
    fn dry_run(&self) -> bool;
}

macro_rules! http_settings {
    ($t:ty) => {
        impl HttpSettings for $t {
            fn base_url(&self) -> &str {
                &self.base_url
            }
            fn timeout(&self) -> Duration {
                Duration::from_secs(self.timeout_secs)
            }
            fn max_response_bytes(&self) -> usize {
                self.max_response_bytes
            }
            fn dry_run(&self) -> bool {
                self.dry_run
            }
        }
    };
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    #[serde(default = "default_github_url")]
    pub base_url: String,
    pub token: SecretRef,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_max_response")]
    pub max_response_bytes: usize,
    /// Never send: every call returns what would have been sent.
    #[serde(default)]
    pub dry_run: bool,
}
http_settings!(GithubConfig);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default = "default_slack_url")]
    pub base_url: String,
    pub token: SecretRef,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_max_response")]
    pub max_response_bytes: usize,
    /// Longest `Retry-After` honoured (once) on HTTP 429; longer waits fail at once.
    #[serde(default = "default_retry_after_cap")]
    pub max_retry_after_secs: u64,
    #[serde(default)]
    pub dry_run: bool,
}
http_settings!(SlackConfig);

/// How Linear expects the key: personal API keys bare, OAuth tokens as `Bearer`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearAuth {
    #[default]
    ApiKey,
    Oauth,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    #[serde(default = "default_linear_url")]
    pub base_url: String,
    pub token: SecretRef,
    #[serde(default)]
    pub auth: LinearAuth,
    /// Team keys or names (as agents write them in `team`) to team ids. A `team` that is
    /// already a UUID is sent as is.
    #[serde(default)]
    pub teams: BTreeMap<String, String>,
    /// Label names to label ids. A label that is already a UUID is sent as is.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_max_response")]
    pub max_response_bytes: usize,
    #[serde(default)]
    pub dry_run: bool,
}
http_settings!(LinearConfig);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub upstreams: BTreeMap<String, Upstream>,
}

/// One internal API the `http` connector may call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `https://host[:port][/prefix]`; the action's `path` is appended.
    pub base_url: String,
    /// Allowed methods, upper case. Anything else is refused before sending.
    pub methods: Vec<String>,
    /// Credential header, `Name: template` where `{secret}` stands for the secret's value,
    /// e.g. `Authorization: Bearer {secret}`. Requires `secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
    /// Forward the pass in `Axtary-Pass` so the upstream can verify it independently.
    #[serde(default = "default_true")]
    pub forward_pass: bool,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_max_response")]
    pub max_response_bytes: usize,
    #[serde(default)]
    pub dry_run: bool,
}
http_settings!(Upstream);

/// `postgres:` / `sqlite:`: named databases.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig<D> {
    pub databases: BTreeMap<String, D>,
}

impl<D> SqlConfig<D> {
    /// The database named `name` in the `connector` section, or a refusal saying where to add it.
    pub(crate) fn database(&self, connector: &str, name: &str) -> Result<&D, crate::Refusal> {
        self.databases.get(name).ok_or_else(|| {
            crate::Refusal::Config(format!(
                "unknown {connector} database `{name}`\nhint: add it under `connectors.{connector}.databases`"
            ))
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresDatabase {
    /// Secret holding the connection URL (`postgres://user:pw@host/db?sslmode=disable`).
    pub url_secret: SecretRef,
    #[serde(default = "default_row_limit")]
    pub row_limit: usize,
    #[serde(default = "default_statement_timeout")]
    pub statement_timeout_ms: u64,
    #[serde(default = "default_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteDatabase {
    /// The database file; it must exist (the connector never creates one).
    pub path: PathBuf,
    #[serde(default = "default_row_limit")]
    pub row_limit: usize,
    #[serde(default = "default_statement_timeout")]
    pub statement_timeout_ms: u64,
    #[serde(default)]
    pub dry_run: bool,
}

/// A connector config that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connectors.{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Checks what serde cannot: URLs, methods, header templates, limits.
pub fn validate(cfg: &ConnectorsConfig) -> Result<(), ConfigError> {
    let url = |path: &str, u: &str| -> Result<(), ConfigError> {
        let parsed = reqwest::Url::parse(u)
            .map_err(|e| ConfigError::new(path, format!("`{u}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ConfigError::new(
                path,
                format!("`{u}` must be http(s)://host"),
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ConfigError::new(
                path,
                "credentials in a URL are not allowed; use a secret",
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(ConfigError::new(
                path,
                "base URL must not have a query or fragment",
            ));
        }
        Ok(())
    };
    let common = |path: &str, s: &dyn HttpSettings| -> Result<(), ConfigError> {
        url(&format!("{path}.base_url"), s.base_url())?;
        if s.timeout().is_zero() {
            return Err(ConfigError::new(
                format!("{path}.timeout_secs"),
                "must be at least 1",
            ));
        }
        if s.max_response_bytes() == 0 {
            return Err(ConfigError::new(
                format!("{path}.max_response_bytes"),
                "must be at least 1",
            ));
        }
        Ok(())
    };
    if let Some(c) = &cfg.github {
        common("github", c)?;
    }
    if let Some(c) = &cfg.slack {
        common("slack", c)?;
    }
    if let Some(c) = &cfg.linear {
        common("linear", c)?;
    }
    if let Some(h) = &cfg.http {
        for (name, u) in &h.upstreams {
            let path = format!("http.upstreams.{name}");
            if !axtary_core::facts::is_server_name(name) {
                return Err(ConfigError::new(
                    path,
                    "upstream names use A-Z a-z 0-9 _ . -",
                ));
            }
            common(&path, u)?;
            if u.methods.is_empty() {
                return Err(ConfigError::new(
                    format!("{path}.methods"),
                    "list at least one method",
                ));
            }
            for m in &u.methods {
                if !matches!(
                    m.as_str(),
                    "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"
                ) {
                    return Err(ConfigError::new(
                        format!("{path}.methods"),
                        format!("`{m}` is not one of GET HEAD POST PUT PATCH DELETE OPTIONS"),
                    ));
                }
            }
            match (&u.auth_header, &u.secret) {
                (Some(h), Some(_)) => {
                    crate::http::parse_auth_header(h)
                        .map_err(|e| ConfigError::new(format!("{path}.auth_header"), e))?;
                }
                (None, None) => {}
                (Some(_), None) => {
                    return Err(ConfigError::new(path, "`auth_header` needs `secret`"));
                }
                (None, Some(_)) => {
                    return Err(ConfigError::new(path, "`secret` needs `auth_header`"));
                }
            }
        }
    }
    let sql_limits = |path: String, rows: usize, timeout: u64| {
        if rows == 0 {
            return Err(ConfigError::new(
                format!("{path}.row_limit"),
                "must be at least 1",
            ));
        }
        if timeout == 0 {
            return Err(ConfigError::new(
                format!("{path}.statement_timeout_ms"),
                "must be at least 1",
            ));
        }
        Ok(())
    };
    if let Some(p) = &cfg.postgres {
        for (name, d) in &p.databases {
            sql_limits(
                format!("postgres.databases.{name}"),
                d.row_limit,
                d.statement_timeout_ms,
            )?;
        }
    }
    if let Some(s) = &cfg.sqlite {
        for (name, d) in &s.databases {
            sql_limits(
                format!("sqlite.databases.{name}"),
                d.row_limit,
                d.statement_timeout_ms,
            )?;
        }
    }
    Ok(())
}

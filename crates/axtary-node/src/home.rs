//! Axtary's home directory: node key, config, policy.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use axtary_connectors::ConnectorsConfig;
use serde::Deserialize;

/// The starter policy written by `axtary init`.
pub const STARTER_POLICY: &str = include_str!("starter-policy.yaml");

const CONFIG_TEMPLATE: &str = "\
# Axtary node configuration. See README.md.
version: 1
# This node's name: the ledger's origin is `axtary/<node>/v1`.
node: {node}
# Policy file, relative to this directory.
policy: policy.yaml
limits:
  # Largest accepted action request, in bytes.
  max_payload_bytes: 1048576
approvals:
  # How long an approval request stays open.
  ttl_seconds: 3600
serve:
  # Address of the `axtary serve` HTTP API (loopback only, unless --allow-remote).
  listen: 127.0.0.1:7777
";

/// Where Axtary keeps its state.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `dir` (from `--home` or `$AXTARY_HOME`), else `~/.axtary`.
    pub fn locate(dir: Option<PathBuf>) -> Result<Self> {
        let root = match dir {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => {
                let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).context(
                    "cannot find the home directory: neither AXTARY_HOME nor HOME is set",
                )?;
                PathBuf::from(home).join(".axtary")
            }
        };
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()?.join(root)
        };
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.yaml")
    }

    pub fn key_path(&self) -> PathBuf {
        self.root.join("node.key")
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.root.join("ledger.db")
    }

    /// The bearer token local agents present to `axtary serve` (0600).
    /// The compiled-policy cache of one-shot processes (the hook); safe to delete.
    pub fn policy_cache_path(&self) -> PathBuf {
        self.root.join("policy.cache")
    }

    pub fn agent_token_path(&self) -> PathBuf {
        self.root.join("agent.token")
    }

    /// The policy file named by the config (default `policy.yaml`).
    pub fn policy_path(&self, config: &Config) -> PathBuf {
        self.root.join(&config.policy)
    }

    /// Reads `config.yaml`; a home without one uses the defaults.
    pub fn config(&self) -> Result<Config> {
        let path = self.config_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        };
        let config: Config = serde_saphyr::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("invalid config `{}`", path.display()))?;
        let max = axtary_core::pass::MAX_LIFETIME_SECS;
        if i64::from(config.passes.lifetime_seconds) > max || config.passes.lifetime_seconds == 0 {
            bail!(
                "invalid config `{}`: passes.lifetime_seconds must be between 1 and {max}",
                path.display()
            );
        }
        if let Err(e) = axtary_connectors::config::validate(&config.connectors) {
            bail!("invalid config `{}`: {e}", path.display());
        }
        if config.version != 1 {
            bail!(
                "invalid config `{}`: unsupported version {}",
                path.display(),
                config.version
            );
        }
        Ok(config)
    }
}

/// `config.yaml`, validated.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub version: u32,
    /// This node's name, part of the ledger's origin.
    #[serde(default = "default_node")]
    pub node: String,
    #[serde(default = "default_policy")]
    pub policy: String,
    #[serde(default)]
    pub limits: ConfigLimits,
    #[serde(default)]
    pub approvals: ConfigApprovals,
    #[serde(default)]
    pub passes: ConfigPasses,
    /// Provider connectors (docs/connectors.md). Absent connectors are not available.
    #[serde(default)]
    pub connectors: ConnectorsConfig,
    #[serde(default)]
    pub serve: ConfigServe,
}

/// The local daemon (`axtary serve`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigServe {
    /// Address to listen on (`--listen` overrides it) [default: 127.0.0.1:7777].
    #[serde(default)]
    pub listen: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPasses {
    /// ActionPass lifetime in seconds (at most 300).
    #[serde(default = "default_pass_lifetime")]
    pub lifetime_seconds: u32,
}

impl Default for ConfigPasses {
    fn default() -> Self {
        Self {
            lifetime_seconds: default_pass_lifetime(),
        }
    }
}

fn default_pass_lifetime() -> u32 {
    60
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigApprovals {
    /// How long an approval request stays open, in seconds.
    #[serde(default = "default_approval_ttl")]
    pub ttl_seconds: u32,
}

impl Default for ConfigApprovals {
    fn default() -> Self {
        Self {
            ttl_seconds: default_approval_ttl(),
        }
    }
}

fn default_approval_ttl() -> u32 {
    3600
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: 1,
            node: default_node(),
            policy: default_policy(),
            limits: ConfigLimits::default(),
            approvals: ConfigApprovals::default(),
            passes: ConfigPasses::default(),
            connectors: ConnectorsConfig::default(),
            serve: ConfigServe::default(),
        }
    }
}

fn default_node() -> String {
    "local".to_owned()
}

fn default_policy() -> String {
    "policy.yaml".to_owned()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLimits {
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: usize,
}

impl Default for ConfigLimits {
    fn default() -> Self {
        Self {
            max_payload_bytes: default_max_payload(),
        }
    }
}

fn default_max_payload() -> usize {
    1024 * 1024
}

impl Config {
    pub fn json_limits(&self) -> axtary_core::json::Limits {
        axtary_core::json::Limits {
            max_bytes: self.limits.max_payload_bytes,
            ..Default::default()
        }
    }
}

/// What `init` did with one file.
pub enum Created {
    New,
    Kept,
}

/// Creates `dir` (0700) if missing.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    crate::keys::ensure_private_dir(dir)
        .with_context(|| format!("cannot create `{}`", dir.display()))
}

/// Writes `contents` to a new file with `mode`; keeps an existing file untouched.
pub fn create_file(path: &Path, contents: &[u8], mode: u32) -> Result<Created> {
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(Created::Kept),
        Err(e) => return Err(e).with_context(|| format!("cannot create `{}`", path.display())),
    };
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(Created::New)
}

/// The config written by `init` for a node named `node`.
pub fn config_template(node: &str) -> String {
    CONFIG_TEMPLATE.replace("{node}", node)
}

/// Reads the user's home directory for `~/` in paths.
pub fn user_home() -> Option<String> {
    std::env::var("HOME").ok().filter(|h| h.starts_with('/'))
}

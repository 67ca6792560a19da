//! Finding and loading the policy file, with diagnostics rendered for a terminal.

use std::path::{Path, PathBuf};

use axtary_core::policy::{Diagnostic, Loaded, Policy, PolicyEnv};

use crate::home::{Config, Home};

/// A policy file that could not be loaded; every action is denied while this is so.
#[derive(Clone, Debug)]
pub struct LoadFailure {
    /// One line for the decision's reason.
    pub summary: String,
    /// Everything to show on stderr (rendered diagnostics, hints).
    pub details: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadFailure {
    /// A failure of the loader itself (every action is denied, as for any other failure).
    pub fn internal(why: &str) -> Self {
        Self {
            summary: format!("the policy could not be loaded: {why}"),
            details: format!("error: the policy could not be loaded: {why}\n"),
            diagnostics: Vec::new(),
        }
    }
}

/// The policy to use: `--policy` if given, else the one named by the home's config.
pub fn path(home: &Home, config: &Config, flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None => home.policy_path(config),
    }
}

pub fn env(home: &Home) -> PolicyEnv {
    let root = home.root().to_string_lossy().into_owned();
    // A home reached through a symlink is also protected under its real path.
    let aliases = std::fs::canonicalize(home.root())
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|real| *real != root)
        .into_iter()
        .collect();
    PolicyEnv {
        axtary_home: Some(root),
        axtary_home_aliases: aliases,
    }
}

/// Reads and compiles the policy at `path`. Warnings are returned with the policy.
pub fn load(path: &Path, env: &PolicyEnv) -> Result<(Loaded, String), LoadFailure> {
    let source = read(path)?;
    match Policy::load(&source, env) {
        Ok(loaded) => Ok((loaded, source)),
        Err(diagnostics) => Err(invalid(path, &source, diagnostics)),
    }
}

/// [`load`] for a one-shot process that only decides (the hook), through the policy cache
/// at `cache` (see [`Policy::load_cached`]): the policy's tests are left out. Reading or
/// writing the cache may fail; that only costs the time it saves.
pub fn load_cached(path: &Path, env: &PolicyEnv, cache: &Path) -> Result<Loaded, LoadFailure> {
    let source = read(path)?;
    let cached = std::fs::read(cache).ok();
    let (loaded, fresh) = Policy::load_cached(&source, env, cached.as_deref());
    if let Some(bytes) = fresh {
        let _ = write_cache(cache, &bytes);
    }
    loaded.map_err(|diagnostics| invalid(path, &source, diagnostics))
}

/// Replaces the cache file whole: written beside it, then renamed over it, so a concurrent
/// reader sees the old bytes or the new ones (and a torn file fails the cache's checksum).
fn write_cache(cache: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = cache.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, cache));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The policy file's text.
fn read(path: &Path) -> Result<String, LoadFailure> {
    let shown = path.display().to_string();
    let source = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadFailure {
                summary: format!("no policy at `{shown}`"),
                details: format!(
                    "error: no policy at `{shown}`\nhint: run `axtary init` to create a starter policy, or pass `--policy FILE`\n"
                ),
                diagnostics: Vec::new(),
            });
        }
        Err(e) => {
            return Err(LoadFailure {
                summary: format!("cannot read policy `{shown}`: {e}"),
                details: format!("error: cannot read policy `{shown}`: {e}\n"),
                diagnostics: Vec::new(),
            });
        }
    };
    String::from_utf8(source).map_err(|_| LoadFailure {
        summary: format!("policy `{shown}` is not valid UTF-8"),
        details: format!("error: policy `{shown}` is not valid UTF-8\n"),
        diagnostics: Vec::new(),
    })
}

/// The failure of a policy with errors.
fn invalid(path: &Path, source: &str, diagnostics: Vec<Diagnostic>) -> LoadFailure {
    let shown = path.display().to_string();
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let mut details = render_all(&diagnostics, &shown, source);
    details.push_str(&format!(
        "error: policy `{shown}` has {errors} error(s); every action is denied until it is fixed\n"
    ));
    LoadFailure {
        summary: format!(
            "policy `{shown}` is invalid ({errors} error(s); run `axtary policy check`)"
        ),
        details,
        diagnostics,
    }
}

/// Renders every diagnostic, separated by blank lines.
pub fn render_all(diagnostics: &[Diagnostic], origin: &str, source: &str) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(origin, source));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

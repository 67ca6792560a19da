//! `axtary install mcp`: points an MCP client's server entry at `axtary mcp wrap`.
//!
//! The clients (Claude Code, Claude Desktop, Cursor) all keep stdio servers as
//! `mcpServers.<name> = {command, args, env?, ...}` in a JSON file that also holds other things
//! (`~/.claude.json` holds a whole application state, and Claude Code's local scope keeps a
//! project's servers in it at `projects.<DIR>.mcpServers`). So the edit is surgical: each
//! object on the key path to the servers is read as an ordered list of members kept as their
//! exact text, only the one entry is rewritten, the objects on the path are rendered again
//! around it, and every other member is written back byte for byte, in its order. A
//! duplicate key on that path is refused (which of the two would the client read?).
//!
//! Claude Code runs a server from the first scope that defines it (local, then project, then
//! user), so [`claude_code_shadowing`] tells when a wrapped entry would never run.
//!
//! Installing wraps the entry's own command (or the one given); uninstalling restores the
//! wrapped command. Writes keep a backup of the previous file and are atomic (temporary file,
//! fsync, rename).

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// Why a config could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    #[error("`{path}` is not valid JSON: {message}")]
    Json { path: String, message: String },
    #[error("`{path}`: {message}")]
    Shape { path: String, message: String },
    #[error(
        "there is no server `{name}` in {place}\nhint: give its command: axtary install mcp ... --name {name} -- CMD ARGS..."
    )]
    NoEntry { name: String, place: String },
    #[error("server `{name}` in {place} is not a local (stdio) server; only those can be wrapped")]
    NotStdio { name: String, place: String },
    #[error("server `{name}` in {place} does not go through `axtary mcp wrap`")]
    NotWrapped { name: String, place: String },
}

/// A JSON object as its members in order, each value kept as its exact text.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Members<'a> {
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The members with their values' text, to render again.
    fn texts(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), v.get().to_owned()))
            .collect()
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'a>, A::Error> {
                let mut out: Vec<(String, &'a RawValue)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'a RawValue>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format!("duplicate key `{k}`")));
                    }
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn members<'a>(text: &'a str, path: &str, what: &str) -> Result<Members<'a>, InstallError> {
    serde_json::from_str(text).map_err(|e| InstallError::Json {
        path: path.to_owned(),
        message: format!("{what}: {e}"),
    })
}

/// What the wrapped entry runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrapping {
    /// Absolute path of the `axtary` binary.
    pub axtary: String,
    /// `--home DIR` to pass, when the home is not the default one.
    pub home: Option<String>,
    /// `--env` specs (`VAR=secret:NAME`); `None` keeps those of an already wrapped entry.
    pub env: Option<Vec<String>>,
    /// The server's command and arguments; `None` wraps the entry's own.
    pub command: Option<Vec<String>>,
}

/// The result of an edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edited {
    /// The new file.
    pub text: String,
    /// The server command inside the entry now (install: the wrapped one; uninstall: the
    /// restored one).
    pub command: Vec<String>,
    /// Variables of the entry's `env` whose values look like credentials.
    pub secret_like_env: Vec<String>,
    /// `--env` specs that an uninstall dropped (the server no longer gets those variables).
    pub dropped_env: Vec<String>,
}

/// A parsed `axtary ... mcp wrap [flags] -- CMD...` argument list.
#[derive(Debug, PartialEq, Eq)]
struct WrapArgs {
    env: Vec<String>,
    command: Vec<String>,
}

fn parse_wrap_args(command: &str, args: &[String]) -> Option<WrapArgs> {
    let program = Path::new(command).file_name()?.to_str()?;
    if program != "axtary" {
        return None;
    }
    let wrap = args
        .windows(2)
        .position(|w| w[0] == "mcp" && w[1] == "wrap")?;
    let rest = &args[wrap + 2..];
    let dash = rest.iter().position(|a| a == "--")?;
    let mut env = Vec::new();
    let mut flags = rest[..dash].iter();
    while let Some(f) = flags.next() {
        if f == "--env" {
            env.push(flags.next()?.clone());
        } else if let Some(v) = f.strip_prefix("--env=") {
            env.push(v.to_owned());
        }
    }
    Some(WrapArgs {
        env,
        command: rest[dash + 1..].to_vec(),
    })
}

fn wrap_args(name: &str, w: &Wrapping, env: &[String], command: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(home) = &w.home {
        args.push("--home".to_owned());
        args.push(home.clone());
    }
    args.extend(["mcp", "wrap", "--name", name].map(str::to_owned));
    for e in env {
        args.push("--env".to_owned());
        args.push(e.clone());
    }
    args.push("--".to_owned());
    args.extend(command.iter().cloned());
    args
}

/// The entry's `command` and `args`, if it is a stdio server.
fn stdio_command(entry: &Members<'_>) -> Option<(String, Vec<String>)> {
    let get = |k: &str| entry.get(k).map(RawValue::get);
    if let Some(t) = get("type")
        && serde_json::from_str::<String>(t).ok()? != "stdio"
    {
        return None;
    }
    if get("url").is_some() {
        return None;
    }
    let command: String = serde_json::from_str(get("command")?).ok()?;
    let args: Vec<String> = match get("args") {
        Some(a) => serde_json::from_str(a).ok()?,
        None => Vec::new(),
    };
    Some((command, args))
}

/// Rewrites server `name` in the config `text` (read from `path`, for messages) to run through
/// `axtary mcp wrap`. The servers are the `mcpServers` object at the key path `at`
/// (`["mcpServers"]`, or `["projects", DIR, "mcpServers"]` for Claude Code's local scope);
/// missing objects on that path are created. Re-installing an already wrapped entry updates it.
pub fn install(
    text: &str,
    path: &str,
    at: &[&str],
    name: &str,
    w: &Wrapping,
) -> Result<Edited, InstallError> {
    let place = describe(path, at);
    edit(text, path, at, name, |entry| {
        let existing = match entry {
            Some(e) => Some(stdio_command(e).ok_or_else(|| InstallError::NotStdio {
                name: name.to_owned(),
                place: place.clone(),
            })?),
            None => None,
        };
        let wrapped = existing.as_ref().and_then(|(c, a)| parse_wrap_args(c, a));
        let command = match (&w.command, &wrapped, &existing) {
            (Some(c), _, _) => c.clone(),
            (None, Some(wa), _) => wa.command.clone(),
            (None, None, Some((c, a))) => std::iter::once(c.clone()).chain(a.clone()).collect(),
            (None, None, None) => {
                return Err(InstallError::NoEntry {
                    name: name.to_owned(),
                    place: place.clone(),
                });
            }
        };
        if command.is_empty() {
            return Err(InstallError::Shape {
                path: path.to_owned(),
                message: format!("server `{name}` has an empty command"),
            });
        }
        let env = match (&w.env, &wrapped) {
            (Some(e), _) => e.clone(),
            (None, Some(wa)) => wa.env.clone(),
            (None, None) => Vec::new(),
        };
        Ok(NewEntry {
            command: w.axtary.clone(),
            args: wrap_args(name, w, &env, &command),
            inner: command,
            dropped_env: Vec::new(),
        })
    })
}

/// Restores server `name` of the `mcpServers` object at `at` in `text` to run its wrapped
/// command directly.
pub fn uninstall(text: &str, path: &str, at: &[&str], name: &str) -> Result<Edited, InstallError> {
    let place = describe(path, at);
    edit(text, path, at, name, |entry| {
        let Some(entry) = entry else {
            return Err(InstallError::NoEntry {
                name: name.to_owned(),
                place: place.clone(),
            });
        };
        let not_wrapped = || InstallError::NotWrapped {
            name: name.to_owned(),
            place: place.clone(),
        };
        let (c, a) = stdio_command(entry).ok_or_else(not_wrapped)?;
        let wa = parse_wrap_args(&c, &a).ok_or_else(not_wrapped)?;
        let Some((program, args)) = wa.command.split_first() else {
            return Err(not_wrapped());
        };
        Ok(NewEntry {
            command: program.clone(),
            args: args.to_vec(),
            inner: wa.command.clone(),
            dropped_env: wa.env,
        })
    })
}

/// What an entry's `command` and `args` become.
struct NewEntry {
    command: String,
    args: Vec<String>,
    /// The server command inside (see [`Edited::command`]).
    inner: Vec<String>,
    dropped_env: Vec<String>,
}

fn edit<'a>(
    text: &'a str,
    path: &str,
    at: &[&str],
    name: &str,
    rewrite: impl FnOnce(Option<&Members<'a>>) -> Result<NewEntry, InstallError>,
) -> Result<Edited, InstallError> {
    let (levels, servers) = find_servers(text, path, at)?;
    let entry = match servers.get(name) {
        Some(raw) => Some(members(raw.get(), path, &format!("server `{name}`"))?),
        None => None,
    };
    let secret_like_env = entry
        .as_ref()
        .and_then(|e| e.get("env"))
        .and_then(|v| serde_json::from_str::<Value>(v.get()).ok())
        .and_then(|v| v.as_object().cloned())
        .map(|env| {
            env.into_iter()
                .filter(|(_, v)| !axtary_core::normalize::detect_secrets(v).is_empty())
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();

    let new = rewrite(entry.as_ref())?;
    // Depths, for indentation: the file is 0, the servers object `at.len()`, the entry one more.
    let servers_depth = at.len();
    // `command` and `args` are replaced where they are; the entry's other members (env,
    // type, ...) stay as they are.
    let mut new_entry = entry.as_ref().map(Members::texts).unwrap_or_default();
    for (key, value) in [
        (
            "command",
            json_text(&Value::from(new.command), servers_depth + 2),
        ),
        ("args", json_text(&Value::from(new.args), servers_depth + 2)),
    ] {
        set(&mut new_entry, key, value);
    }
    let mut new_servers = servers.texts();
    set(
        &mut new_servers,
        name,
        render(&new_entry, servers_depth + 1),
    );
    // Each object on the path is rendered again with its changed member; every other member
    // keeps its exact text.
    let mut child = render(&new_servers, servers_depth);
    for (depth, (level, key)) in levels.iter().zip(at).enumerate().rev() {
        let mut texts = level.texts();
        set(&mut texts, key, child);
        child = render(&texts, depth);
    }
    let mut text = child;
    text.push('\n');
    Ok(Edited {
        text,
        command: new.inner,
        secret_like_env,
        dropped_env: new.dropped_env,
    })
}

/// The objects on the key path `at` in `text`, outermost first (the file, then the value of
/// each key but the last), and the servers object at its end. A missing object is empty (it is
/// created on write); one that is not an object, or has a duplicate key, is an error.
fn find_servers<'a>(
    text: &'a str,
    path: &str,
    at: &[&str],
) -> Result<(Vec<Members<'a>>, Members<'a>), InstallError> {
    if at.is_empty() {
        return Err(InstallError::Shape {
            path: path.to_owned(),
            message: "no key path to the servers".to_owned(),
        });
    }
    let text = if text.trim().is_empty() { "{}" } else { text };
    let mut objects = vec![members(text, path, "the file")?];
    for (i, key) in at.iter().enumerate() {
        let child = match objects.last().and_then(|o| o.get(key)) {
            Some(raw) => members(raw.get(), path, &key_path(&at[..=i]))?,
            None => Members(Vec::new()),
        };
        objects.push(child);
    }
    // `at` is not empty, so the loop pushed the servers object last.
    let servers = objects.pop().unwrap_or(Members(Vec::new()));
    Ok((objects, servers))
}

/// Replaces member `key` of `members`, or appends it.
fn set(members: &mut Vec<(String, String)>, key: &str, value: String) {
    match members.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => members.push((key.to_owned(), value)),
    }
}

/// `a` > `b` > `c`, for messages.
fn key_path(keys: &[&str]) -> String {
    let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    keys.join(" > ")
}

/// Where the servers at `at` in the file `path` are, for messages: `` `FILE` ``, or
/// `` `FILE`, project `DIR` `` for Claude Code's local scope.
pub fn describe(path: &str, at: &[&str]) -> String {
    match at {
        ["mcpServers"] => format!("`{path}`"),
        ["projects", project, "mcpServers"] => format!("`{path}`, project `{project}`"),
        _ => format!("`{path}` at {}", key_path(at)),
    }
}

/// `value` pretty-printed with two spaces per level, as the value of a member `depth` levels
/// deep.
fn json_text(value: &Value, depth: usize) -> String {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
    pretty.replace('\n', &format!("\n{}", "  ".repeat(depth)))
}

/// An object of already rendered members, at `depth`.
fn render(members: &[(String, String)], depth: usize) -> String {
    if members.is_empty() {
        return "{}".to_owned();
    }
    let pad = "  ".repeat(depth + 1);
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| {
            let key = serde_json::to_string(k).unwrap_or_default();
            format!("{pad}{key}: {v}")
        })
        .collect();
    format!("{{\n{}\n{}}}", body.join(",\n"), "  ".repeat(depth))
}

/// Where a client keeps its MCP servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    ClaudeCode,
    ClaudeDesktop,
    Cursor,
}

/// Which of a client's configs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Claude Code's servers for one project, kept in the user's `~/.claude.json` under
    /// `projects.<DIR>.mcpServers` (what `claude mcp add` writes by default).
    Local,
    /// The project's file, in the current directory.
    Project,
    /// The user's file.
    User,
}

impl Scope {
    /// The name used by `--scope` (and by Claude Code's `claude mcp add --scope`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Local => "local",
            Scope::Project => "project",
            Scope::User => "user",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Claude Code's scopes, the one it prefers first: when a server name is in several, Claude
/// Code runs the entry of the first (local beats project beats user).
pub const CLAUDE_CODE_SCOPES: [Scope; 3] = [Scope::Local, Scope::Project, Scope::User];

/// Where a scope keeps its servers: a file, and the key path of the `mcpServers` object in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    /// `["mcpServers"]`, or `["projects", DIR, "mcpServers"]` for Claude Code's local scope.
    pub key: Vec<String>,
}

impl Location {
    /// The top-level `mcpServers` of the file at `path`.
    pub fn file(path: PathBuf) -> Self {
        Location {
            path,
            key: vec!["mcpServers".to_owned()],
        }
    }

    /// The key path, as [`install`] and the other editing functions take it.
    pub fn at(&self) -> Vec<&str> {
        self.key.iter().map(String::as_str).collect()
    }

    /// For messages (see [`describe`]).
    pub fn describe(&self) -> String {
        describe(&self.path.display().to_string(), &self.at())
    }
}

impl Client {
    /// The scope used when none is given: the user's file for Claude Desktop and Cursor. For
    /// Claude Code this is the scope for a server that no scope defines yet (local, as for
    /// `claude mcp add`); one that is defined goes to the scope Claude Code takes it from
    /// (see [`claude_code_active_scope`]).
    pub fn default_scope(self) -> Scope {
        match self {
            Client::ClaudeCode => Scope::Local,
            Client::ClaudeDesktop | Client::Cursor => Scope::User,
        }
    }

    /// Where `scope` keeps the servers, for the project in `cwd` and the user's `home`.
    /// `None` when the client has no such scope.
    pub fn location(self, scope: Scope, cwd: &Path, home: &Path) -> Option<Location> {
        let file = |path| Some(Location::file(path));
        match (self, scope) {
            (Client::ClaudeCode, Scope::Local) => Some(Location {
                path: home.join(".claude.json"),
                // Claude Code keys a project by its directory, as a JSON string: a directory
                // name that is not UTF-8 can only be taken lossily.
                key: vec![
                    "projects".to_owned(),
                    cwd.to_string_lossy().into_owned(),
                    "mcpServers".to_owned(),
                ],
            }),
            (Client::ClaudeCode, Scope::Project) => file(cwd.join(".mcp.json")),
            (Client::ClaudeCode, Scope::User) => file(home.join(".claude.json")),
            (Client::Cursor, Scope::Project) => file(cwd.join(".cursor/mcp.json")),
            (Client::Cursor, Scope::User) => file(home.join(".cursor/mcp.json")),
            (Client::ClaudeDesktop | Client::Cursor, Scope::Local)
            | (Client::ClaudeDesktop, Scope::Project) => None,
            (Client::ClaudeDesktop, Scope::User) => file(if cfg!(target_os = "macos") {
                home.join("Library/Application Support/Claude/claude_desktop_config.json")
            } else {
                std::env::var_os("XDG_CONFIG_HOME")
                    .filter(|x| !x.is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| home.join(".config"))
                    .join("Claude/claude_desktop_config.json")
            }),
        }
    }
}

/// How a config defines a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Definition {
    /// A local (stdio) server run through `axtary mcp wrap`.
    Wrapped,
    /// A local (stdio) server run directly.
    Direct,
    /// A remote server (or anything else without a `command`), which cannot be wrapped.
    Remote,
}

/// How the `mcpServers` object at `at` in `text` (read from `path`, for messages) defines
/// server `name`; `None` when it does not. Errors as [`install`] does on a file it would not
/// edit.
pub fn definition(
    text: &str,
    path: &str,
    at: &[&str],
    name: &str,
) -> Result<Option<Definition>, InstallError> {
    let (_, servers) = find_servers(text, path, at)?;
    let Some(raw) = servers.get(name) else {
        return Ok(None);
    };
    let entry = members(raw.get(), path, &format!("server `{name}`"))?;
    Ok(Some(match stdio_command(&entry) {
        Some((c, a)) if parse_wrap_args(&c, &a).is_some() => Definition::Wrapped,
        Some(_) => Definition::Direct,
        None => Definition::Remote,
    }))
}

/// The scope Claude Code takes server `name` from: the first of [`CLAUDE_CODE_SCOPES`] whose
/// config defines it (`lookup` reads a scope's definition), or `None` when none does.
pub fn claude_code_active_scope<E>(
    mut lookup: impl FnMut(Scope) -> Result<Option<Definition>, E>,
) -> Result<Option<Scope>, E> {
    for scope in CLAUDE_CODE_SCOPES {
        if lookup(scope)?.is_some() {
            return Ok(Some(scope));
        }
    }
    Ok(None)
}

/// Whether a wrapped entry for `name` in `chosen` would be shadowed: the scope Claude Code
/// prefers to `chosen` that defines `name`, with its definition, when that definition does not
/// go through `axtary mcp wrap` (Claude Code would run it, unguarded). A wrapped entry there
/// is run instead of the one in `chosen`, guarded, so it shadows nothing that matters.
pub fn claude_code_shadowing<E>(
    chosen: Scope,
    mut lookup: impl FnMut(Scope) -> Result<Option<Definition>, E>,
) -> Result<Option<(Scope, Definition)>, E> {
    for scope in CLAUDE_CODE_SCOPES.into_iter().take_while(|s| *s != chosen) {
        match lookup(scope)? {
            None => {}
            Some(Definition::Wrapped) => return Ok(None),
            Some(d) => return Ok(Some((scope, d))),
        }
    }
    Ok(None)
}

/// An install refused because Claude Code would keep running another, unguarded entry of the
/// same name from a scope it prefers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "server `{name}` is also defined in Claude Code's {scope} scope ({place}), which Claude Code prefers: it would keep running unguarded\nhint: {hint}"
)]
pub struct Shadowed {
    name: String,
    scope: Scope,
    place: String,
    hint: String,
}

impl Shadowed {
    /// `name` is defined as `definition` in `scope`, at `place` (see [`describe`]).
    pub fn new(name: &str, scope: Scope, place: String, definition: Definition) -> Self {
        let hint = match definition {
            Definition::Remote => format!(
                "a remote server cannot be wrapped; remove it there (`claude mcp remove {name} --scope {scope}`) or use another name"
            ),
            Definition::Direct | Definition::Wrapped => format!(
                "wrap that one: axtary install mcp --client claude-code --name {name} --scope {scope}"
            ),
        };
        Shadowed {
            name: name.to_owned(),
            scope,
            place,
            hint,
        }
    }
}

/// The backup written next to `path` before each change.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".axtary-backup");
    path.with_file_name(name)
}

/// Writes `text` to `path` atomically, keeping the previous file (if any) as its backup and
/// its permissions (new files are 0600: they may hold tokens). Returns the backup's path.
pub fn write_config(path: &Path, text: &str) -> std::io::Result<Option<PathBuf>> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let (old, mode) = match fs::read(path) {
        Ok(bytes) => (
            Some(bytes),
            fs::metadata(path)?.permissions().mode() & 0o7777,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, 0o600),
        Err(e) => return Err(e),
    };
    let backup = match &old {
        Some(bytes) => {
            let b = backup_path(path);
            write_synced(&b, bytes, mode)?;
            Some(b)
        }
        None => None,
    };
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".axtary-tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    write_synced(&tmp, text.as_bytes(), mode)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::File::open(dir)?.sync_all()?;
    Ok(backup)
}

fn write_synced(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let _ = fs::remove_file(path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: &[&str] = &["mcpServers"];

    fn wrapping(command: Option<&[&str]>) -> Wrapping {
        Wrapping {
            axtary: "/usr/local/bin/axtary".into(),
            home: None,
            env: None,
            command: command.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    const EXISTING: &str = r#"{
  "numStartups": 12,
  "mcpServers": {
    "github": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}
    },
    "notion": {
      "type": "http",
      "url": "https://mcp.notion.com/mcp"
    }
  },
  "projects": {"/home/me/x": {"allowedTools": []}}
}
"#;

    #[test]
    fn wraps_an_existing_entry_and_keeps_everything_else_byte_for_byte() {
        let e = install(EXISTING, "f", TOP, "github", &wrapping(None)).unwrap();
        let v: Value = serde_json::from_str(&e.text).unwrap();
        let github = &v["mcpServers"]["github"];
        assert_eq!(github["command"], "/usr/local/bin/axtary");
        assert_eq!(
            github["args"],
            serde_json::json!([
                "mcp",
                "wrap",
                "--name",
                "github",
                "--",
                "npx",
                "-y",
                "@modelcontextprotocol/server-github"
            ])
        );
        assert_eq!(github["type"], "stdio");
        assert_eq!(
            github["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"],
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        );
        assert_eq!(e.secret_like_env, ["GITHUB_PERSONAL_ACCESS_TOKEN"]);
        assert_eq!(
            e.command,
            ["npx", "-y", "@modelcontextprotocol/server-github"]
        );
        // Untouched members keep their exact text and order.
        assert!(
            e.text
                .starts_with("{\n  \"numStartups\": 12,\n  \"mcpServers\": {")
        );
        assert!(e.text.contains(
            "\"notion\": {\n      \"type\": \"http\",\n      \"url\": \"https://mcp.notion.com/mcp\"\n    }"
        ));
        assert!(
            e.text
                .ends_with("\"projects\": {\"/home/me/x\": {\"allowedTools\": []}}\n}\n")
        );

        // Installing again changes nothing; uninstalling restores the command.
        let again = install(&e.text, "f", TOP, "github", &wrapping(None)).unwrap();
        assert_eq!(again.text, e.text);
        let back = uninstall(&e.text, "f", TOP, "github").unwrap();
        let v: Value = serde_json::from_str(&back.text).unwrap();
        let original: Value = serde_json::from_str(EXISTING).unwrap();
        assert_eq!(v, original);
    }

    #[test]
    fn adds_a_new_entry_with_secrets_and_home() {
        let w = Wrapping {
            home: Some("/srv/axtary".into()),
            env: Some(vec!["GITHUB_TOKEN=secret:github".into()]),
            ..wrapping(Some(&["uvx", "mcp-server-git"]))
        };
        for start in ["", "{}", "{\"mcpServers\": {}}"] {
            let e = install(start, "f", TOP, "git", &w).unwrap();
            let v: Value = serde_json::from_str(&e.text).unwrap();
            assert_eq!(
                v["mcpServers"]["git"]["args"],
                serde_json::json!([
                    "--home",
                    "/srv/axtary",
                    "mcp",
                    "wrap",
                    "--name",
                    "git",
                    "--env",
                    "GITHUB_TOKEN=secret:github",
                    "--",
                    "uvx",
                    "mcp-server-git"
                ])
            );
            // Re-installing without --env keeps the secret injection; uninstall reports it.
            let again = install(
                &e.text,
                "f",
                TOP,
                "git",
                &Wrapping {
                    env: None,
                    ..w.clone()
                },
            )
            .unwrap();
            assert_eq!(again.text, e.text);
            let back = uninstall(&e.text, "f", TOP, "git").unwrap();
            assert_eq!(back.dropped_env, ["GITHUB_TOKEN=secret:github"]);
            let v: Value = serde_json::from_str(&back.text).unwrap();
            assert_eq!(
                v["mcpServers"]["git"],
                serde_json::json!({"command": "uvx", "args": ["mcp-server-git"]})
            );
        }
    }

    #[test]
    fn refuses_what_it_cannot_edit_safely() {
        let w = wrapping(None);
        assert!(matches!(
            install(EXISTING, "f", TOP, "notion", &w),
            Err(InstallError::NotStdio { .. })
        ));
        assert!(matches!(
            install(EXISTING, "f", TOP, "nope", &w),
            Err(InstallError::NoEntry { .. })
        ));
        assert!(matches!(
            uninstall(EXISTING, "f", TOP, "github"),
            Err(InstallError::NotWrapped { .. })
        ));
        let dup = r#"{"mcpServers": {"a": {"command": "x"}}, "mcpServers": {}}"#;
        let err = install(dup, "f", TOP, "a", &w).unwrap_err().to_string();
        assert!(err.contains("duplicate key `mcpServers`"), "{err}");
        assert!(matches!(
            install("[1]", "f", TOP, "a", &w),
            Err(InstallError::Json { .. })
        ));
        assert!(matches!(
            install(r#"{"mcpServers": []}"#, "f", TOP, "a", &w),
            Err(InstallError::Json { .. })
        ));
    }

    #[test]
    fn parses_wrap_arguments() {
        let args: Vec<String> = [
            "--home",
            "/h",
            "mcp",
            "wrap",
            "--name",
            "x",
            "--env",
            "A=secret:B",
            "--env=C=d",
            "--",
            "node",
            "s.js",
            "--",
            "y",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            parse_wrap_args("/opt/bin/axtary", &args),
            Some(WrapArgs {
                env: vec!["A=secret:B".into(), "C=d".into()],
                command: ["node", "s.js", "--", "y"].map(str::to_owned).to_vec(),
            })
        );
        assert_eq!(parse_wrap_args("/opt/bin/node", &args), None);
    }

    /// A `~/.claude.json` as Claude Code writes it (`JSON.stringify(state, null, 2)`), with
    /// one project's local `github` server and a hand-edited compact member.
    const CLAUDE_JSON: &str = r#"{
  "numStartups": 42,
  "installMethod": "npm",
  "tipsHistory": {"memory-command": 3, "theme-command": 7},
  "mcpServers": {
    "fetch": {
      "type": "stdio",
      "command": "uvx",
      "args": [
        "mcp-server-fetch"
      ],
      "env": {}
    }
  },
  "projects": {
    "/home/me/work/api": {
      "allowedTools": [
        "Bash(git status)"
      ],
      "history": [
        {
          "display": "fix the tests",
          "pastedContents": {}
        }
      ],
      "mcpServers": {
        "github": {
          "type": "stdio",
          "command": "npx",
          "args": [
            "-y",
            "@modelcontextprotocol/server-github"
          ],
          "env": {}
        }
      },
      "enabledMcpjsonServers": [],
      "hasTrustDialogAccepted": true
    },
    "/home/me/work/site": {"allowedTools": [], "mcpServers": {}, "lastCost": 0.1234}
  },
  "userID": "3f9a0c",
  "oauthAccount": {
    "emailAddress": "me@example.com"
  }
}
"#;

    const API: &[&str] = &["projects", "/home/me/work/api", "mcpServers"];
    const SITE: &[&str] = &["projects", "/home/me/work/site", "mcpServers"];

    /// The keys of the object at key path `at` in `text`, in order.
    fn keys_at(text: &str, at: &[&str]) -> Vec<String> {
        let mut text = text.to_owned();
        for key in at {
            text = members(&text, "f", "t")
                .unwrap()
                .get(key)
                .unwrap()
                .get()
                .to_owned();
        }
        members(&text, "f", "t")
            .unwrap()
            .0
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    fn keys(text: &str) -> Vec<String> {
        keys_at(text, &[])
    }

    #[test]
    fn local_scope_install_changes_only_that_projects_entry() {
        let e = install(CLAUDE_JSON, "f", API, "github", &wrapping(None)).unwrap();
        assert_eq!(
            e.command,
            ["npx", "-y", "@modelcontextprotocol/server-github"]
        );

        // The whole file is the same text but for the entry's `command` and `args`.
        let old_entry = r#"          "command": "npx",
          "args": [
            "-y",
            "@modelcontextprotocol/server-github"
          ],"#;
        let new_entry = r#"          "command": "/usr/local/bin/axtary",
          "args": [
            "mcp",
            "wrap",
            "--name",
            "github",
            "--",
            "npx",
            "-y",
            "@modelcontextprotocol/server-github"
          ],"#;
        assert!(CLAUDE_JSON.contains(old_entry));
        assert_eq!(e.text, CLAUDE_JSON.replace(old_entry, new_entry));

        // The same, as values: only that one entry differs.
        let mut expected: Value = serde_json::from_str(CLAUDE_JSON).unwrap();
        expected["projects"]["/home/me/work/api"]["mcpServers"]["github"]["command"] =
            "/usr/local/bin/axtary".into();
        expected["projects"]["/home/me/work/api"]["mcpServers"]["github"]["args"] =
            serde_json::json!([
                "mcp",
                "wrap",
                "--name",
                "github",
                "--",
                "npx",
                "-y",
                "@modelcontextprotocol/server-github"
            ]);
        assert_eq!(serde_json::from_str::<Value>(&e.text).unwrap(), expected);
        assert_eq!(keys(&e.text), keys(CLAUDE_JSON));

        // The user scope's server of the same file is another entry.
        assert!(matches!(
            uninstall(&e.text, "f", TOP, "github"),
            Err(InstallError::NoEntry { .. })
        ));
        // Again: nothing changes; uninstall: the original file, to the byte.
        let again = install(&e.text, "f", API, "github", &wrapping(None)).unwrap();
        assert_eq!(again.text, e.text);
        let back = uninstall(&e.text, "f", API, "github").unwrap();
        assert_eq!(back.text, CLAUDE_JSON);
        assert_eq!(
            back.command,
            ["npx", "-y", "@modelcontextprotocol/server-github"]
        );
    }

    #[test]
    fn local_scope_install_keeps_compact_members_as_they_are() {
        // A new server in the project whose entry is one compact line: that project and
        // `projects` are rendered again, every other member keeps its exact text.
        let w = wrapping(Some(&["uvx", "mcp-server-git"]));
        let e = install(CLAUDE_JSON, "f", SITE, "git", &w).unwrap();
        let v: Value = serde_json::from_str(&e.text).unwrap();
        let site = &v["projects"]["/home/me/work/site"];
        assert_eq!(site["allowedTools"], serde_json::json!([]));
        assert_eq!(site["lastCost"], 0.1234);
        assert_eq!(
            site["mcpServers"]["git"]["command"],
            "/usr/local/bin/axtary"
        );
        assert_eq!(
            keys_at(&e.text, &SITE[..2]),
            ["allowedTools", "mcpServers", "lastCost"]
        );
        let mut without: Value = v.clone();
        without["projects"]["/home/me/work/site"]["mcpServers"] = serde_json::json!({});
        assert_eq!(without, serde_json::from_str::<Value>(CLAUDE_JSON).unwrap());
        for untouched in [
            r#""tipsHistory": {"memory-command": 3, "theme-command": 7}"#,
            r#""lastCost": 0.1234"#,
            "  \"oauthAccount\": {\n    \"emailAddress\": \"me@example.com\"\n  }\n}\n",
        ] {
            assert!(e.text.contains(untouched), "{untouched}");
        }
        // The other project, the user's servers: the exact text of the original.
        for region in [
            &CLAUDE_JSON[CLAUDE_JSON.find("  \"mcpServers\"").unwrap()
                ..CLAUDE_JSON.find("  \"projects\"").unwrap()],
            &CLAUDE_JSON[CLAUDE_JSON.find("    \"/home/me/work/api\"").unwrap()
                ..CLAUDE_JSON.find("    \"/home/me/work/site\"").unwrap()],
        ] {
            assert!(e.text.contains(region), "{region}");
        }
        let back = uninstall(&e.text, "f", SITE, "git").unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&back.text).unwrap()["projects"]["/home/me/work/site"]["mcpServers"]
                ["git"],
            serde_json::json!({"command": "uvx", "args": ["mcp-server-git"]})
        );
    }

    #[test]
    fn local_scope_install_creates_the_objects_on_the_path() {
        let w = wrapping(Some(&["uvx", "mcp-server-git"]));
        let at: &[&str] = &["projects", "/p", "mcpServers"];
        // Every member of `small` is in `big`, recursively.
        fn within(small: &Value, big: &Value) -> bool {
            match (small, big) {
                (Value::Object(s), Value::Object(b)) => s
                    .iter()
                    .all(|(k, v)| b.get(k).is_some_and(|bv| within(v, bv))),
                _ => small == big,
            }
        }
        for start in [
            "",
            r#"{"numStartups": 1, "userID": "x"}"#,
            r#"{"projects": {}}"#,
            r#"{"projects": {"/q": {"a": 1}}}"#,
            r#"{"projects": {"/p": {"allowedTools": ["Read"]}}}"#,
            r#"{"projects": {"/p": {"mcpServers": {}}}}"#,
            r#"{"projects": {"/p": {"mcpServers": {"other": {"command": "x"}}}}}"#,
        ] {
            let e = install(start, "f", at, "git", &w).unwrap();
            let v: Value = serde_json::from_str(&e.text).unwrap();
            assert_eq!(
                v["projects"]["/p"]["mcpServers"]["git"]["args"],
                serde_json::json!([
                    "mcp",
                    "wrap",
                    "--name",
                    "git",
                    "--",
                    "uvx",
                    "mcp-server-git"
                ]),
                "{start}"
            );
            // What was there is kept, before what was added.
            let original: Value =
                serde_json::from_str(if start.is_empty() { "{}" } else { start }).unwrap();
            assert!(within(&original, &v), "{start}");
            if start.starts_with(r#"{"numStartups""#) {
                assert_eq!(keys(&e.text), ["numStartups", "userID", "projects"]);
                assert_eq!(v["userID"], "x");
            }
            if start.contains("/q") {
                assert_eq!(keys_at(&e.text, &["projects"]), ["/q", "/p"]);
                assert!(e.text.contains(r#""/q": {"a": 1}"#));
            }
            if start.contains("other") {
                assert_eq!(keys_at(&e.text, at), ["other", "git"]);
            }
            if start.contains("allowedTools") {
                assert_eq!(
                    keys_at(&e.text, &["projects", "/p"]),
                    ["allowedTools", "mcpServers"]
                );
            }
        }
    }

    #[test]
    fn local_scope_refuses_duplicate_keys_and_wrong_shapes_on_the_path() {
        let w = wrapping(Some(&["x"]));
        let at: &[&str] = &["projects", "/p", "mcpServers"];
        for (text, key) in [
            (r#"{"projects": {}, "projects": {}}"#, "projects"),
            (r#"{"projects": {"/p": {}, "/p": {}}}"#, "/p"),
            (
                r#"{"projects": {"/p": {"mcpServers": {}, "mcpServers": {}}}}"#,
                "mcpServers",
            ),
            (
                r#"{"projects": {"/p": {"mcpServers": {"a": {}, "a": {}}}}}"#,
                "a",
            ),
            (
                r#"{"projects": {"/p": {"mcpServers": {"a": {"command": "x", "command": "y"}}}}}"#,
                "command",
            ),
        ] {
            let err = install(text, "f", at, "a", &w).unwrap_err().to_string();
            assert!(
                err.contains(&format!("duplicate key `{key}`")),
                "{text}: {err}"
            );
            let err = uninstall(text, "f", at, "a").unwrap_err().to_string();
            assert!(
                err.contains(&format!("duplicate key `{key}`")),
                "{text}: {err}"
            );
            assert!(definition(text, "f", at, "a").is_err(), "{text}");
        }
        // A duplicate in another project is not on the path.
        let other = r#"{"projects": {"/q": {"a": 1, "a": 2}, "/p": {}}}"#;
        let e = install(other, "f", at, "a", &w).unwrap();
        assert!(e.text.contains(r#""/q": {"a": 1, "a": 2}"#));
        for text in [
            r#"{"projects": []}"#,
            r#"{"projects": {"/p": null}}"#,
            r#"{"projects": {"/p": {"mcpServers": [1]}}}"#,
        ] {
            assert!(
                matches!(
                    install(text, "f", at, "a", &w),
                    Err(InstallError::Json { .. })
                ),
                "{text}"
            );
        }
        let err = install(r#"{"projects": {"/p": 3}}"#, "f", at, "a", &w)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`projects` > `/p`"), "{err}");
        let err = install("{}", "f", at, "a", &wrapping(None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("in `f`, project `/p`"), "{err}");
    }

    #[test]
    fn definitions_and_claude_code_scope_precedence() {
        let wrapped = install(CLAUDE_JSON, "f", API, "github", &wrapping(None))
            .unwrap()
            .text;
        assert_eq!(
            definition(CLAUDE_JSON, "f", API, "github").unwrap(),
            Some(Definition::Direct)
        );
        assert_eq!(
            definition(&wrapped, "f", API, "github").unwrap(),
            Some(Definition::Wrapped)
        );
        assert_eq!(definition(CLAUDE_JSON, "f", SITE, "github").unwrap(), None);
        assert_eq!(definition(CLAUDE_JSON, "f", TOP, "github").unwrap(), None);
        assert_eq!(
            definition(CLAUDE_JSON, "f", TOP, "fetch").unwrap(),
            Some(Definition::Direct)
        );
        assert_eq!(definition("", "f", API, "github").unwrap(), None);
        assert_eq!(
            definition(EXISTING, "f", TOP, "notion").unwrap(),
            Some(Definition::Remote)
        );

        use Definition::{Direct, Remote, Wrapped};
        use Scope::{Local, Project, User};
        // (local, project, user) definitions.
        let table = |defs: [Option<Definition>; 3]| {
            move |s: Scope| -> Result<Option<Definition>, ()> {
                Ok(defs[CLAUDE_CODE_SCOPES.iter().position(|x| *x == s).unwrap()])
            }
        };
        assert_eq!(
            claude_code_active_scope(table([None, None, None])),
            Ok(None)
        );
        assert_eq!(
            claude_code_active_scope(table([None, Some(Direct), Some(Direct)])),
            Ok(Some(Project))
        );
        assert_eq!(
            claude_code_active_scope(table([Some(Wrapped), Some(Direct), None])),
            Ok(Some(Local))
        );
        assert_eq!(
            claude_code_active_scope(table([None, None, Some(Remote)])),
            Ok(Some(User))
        );

        let defs = [Some(Direct), None, Some(Direct)];
        assert_eq!(
            claude_code_shadowing(Project, table(defs)),
            Ok(Some((Local, Direct)))
        );
        assert_eq!(
            claude_code_shadowing(User, table(defs)),
            Ok(Some((Local, Direct)))
        );
        assert_eq!(claude_code_shadowing(Local, table(defs)), Ok(None));
        // The first defining scope decides: a wrapped local entry is the one that runs.
        let defs = [Some(Wrapped), Some(Direct), None];
        assert_eq!(claude_code_shadowing(User, table(defs)), Ok(None));
        assert_eq!(claude_code_shadowing(Project, table(defs)), Ok(None));
        let defs = [None, Some(Remote), None];
        assert_eq!(
            claude_code_shadowing(User, table(defs)),
            Ok(Some((Project, Remote)))
        );
        // Only the scopes Claude Code prefers are read.
        let mut read = Vec::new();
        let _ = claude_code_shadowing(Project, |s| {
            read.push(s);
            Ok::<_, ()>(None)
        });
        assert_eq!(read, [Local]);

        let msg = Shadowed::new(
            "github",
            Local,
            "`/u/.claude.json`, project `/x`".into(),
            Direct,
        )
        .to_string();
        assert_eq!(
            msg,
            "server `github` is also defined in Claude Code's local scope (`/u/.claude.json`, project `/x`), which Claude Code prefers: it would keep running unguarded\nhint: wrap that one: axtary install mcp --client claude-code --name github --scope local"
        );
    }

    #[test]
    fn config_locations() {
        let cwd = Path::new("/p");
        let home = Path::new("/u");
        let at = |client: Client, scope| client.location(scope, cwd, home);
        assert_eq!(
            at(Client::ClaudeCode, Scope::Local),
            Some(Location {
                path: PathBuf::from("/u/.claude.json"),
                key: ["projects", "/p", "mcpServers"].map(str::to_owned).to_vec(),
            })
        );
        assert_eq!(
            at(Client::ClaudeCode, Scope::Project),
            Some(Location::file(PathBuf::from("/p/.mcp.json")))
        );
        assert_eq!(
            at(Client::ClaudeCode, Scope::User),
            Some(Location::file(PathBuf::from("/u/.claude.json")))
        );
        assert_eq!(
            at(Client::Cursor, Scope::User),
            Some(Location::file(PathBuf::from("/u/.cursor/mcp.json")))
        );
        assert_eq!(at(Client::ClaudeDesktop, Scope::Project), None);
        assert_eq!(at(Client::ClaudeDesktop, Scope::Local), None);
        assert_eq!(at(Client::Cursor, Scope::Local), None);
        assert_eq!(Client::ClaudeCode.default_scope(), Scope::Local);
        assert_eq!(
            at(Client::ClaudeCode, Scope::Local).unwrap().describe(),
            "`/u/.claude.json`, project `/p`"
        );
    }
}

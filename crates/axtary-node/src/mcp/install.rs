//! `axtary install mcp`: points an MCP client's server entry at `axtary mcp wrap`.
//!
//! The clients (Claude Code, Claude Desktop, Cursor) all keep stdio servers as
//! `mcpServers.<name> = {command, args, env?, ...}` in a JSON file that also holds other things
//! (`~/.claude.json` holds a whole application state). So the edit is surgical: the file is
//! read as an ordered list of top-level members kept as their exact text, only the one entry
//! is rewritten, and every other member is written back byte for byte, in its order. A file
//! with a duplicate key is refused (which of the two would the client read?).
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
        "there is no server `{name}` in `{path}`\nhint: give its command: axtary install mcp ... --name {name} -- CMD ARGS..."
    )]
    NoEntry { name: String, path: String },
    #[error("server `{name}` in `{path}` is not a local (stdio) server; only those can be wrapped")]
    NotStdio { name: String, path: String },
    #[error("server `{name}` in `{path}` does not go through `axtary mcp wrap`")]
    NotWrapped { name: String, path: String },
}

/// A JSON object as its members in order, each value kept as its exact text.
struct Members<'a>(Vec<(String, &'a RawValue)>);

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
    let get = |k: &str| {
        entry
            .0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.get())
    };
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
/// `axtary mcp wrap`. Re-installing an already wrapped entry updates it.
pub fn install(text: &str, path: &str, name: &str, w: &Wrapping) -> Result<Edited, InstallError> {
    edit(text, path, name, |entry| {
        let existing = match entry {
            Some(e) => Some(stdio_command(e).ok_or_else(|| InstallError::NotStdio {
                name: name.to_owned(),
                path: path.to_owned(),
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
                    path: path.to_owned(),
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

/// Restores server `name` in `text` to run its wrapped command directly.
pub fn uninstall(text: &str, path: &str, name: &str) -> Result<Edited, InstallError> {
    edit(text, path, name, |entry| {
        let Some(entry) = entry else {
            return Err(InstallError::NoEntry {
                name: name.to_owned(),
                path: path.to_owned(),
            });
        };
        let not_wrapped = || InstallError::NotWrapped {
            name: name.to_owned(),
            path: path.to_owned(),
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
    name: &str,
    rewrite: impl FnOnce(Option<&Members<'a>>) -> Result<NewEntry, InstallError>,
) -> Result<Edited, InstallError> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    let top = members(text, path, "the file")?;
    let servers_raw = top
        .0
        .iter()
        .find(|(k, _)| k == "mcpServers")
        .map(|(_, v)| *v);
    let servers = match servers_raw {
        Some(raw) => members(raw.get(), path, "`mcpServers`")?,
        None => Members(Vec::new()),
    };
    let entry_raw = servers.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
    let entry = match entry_raw {
        Some(raw) => Some(members(raw.get(), path, &format!("server `{name}`"))?),
        None => None,
    };
    let secret_like_env = entry
        .as_ref()
        .and_then(|e| e.0.iter().find(|(k, _)| k == "env"))
        .and_then(|(_, v)| serde_json::from_str::<Value>(v.get()).ok())
        .and_then(|v| v.as_object().cloned())
        .map(|env| {
            env.into_iter()
                .filter(|(_, v)| !axtary_core::normalize::detect_secrets(v).is_empty())
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();

    let new = rewrite(entry.as_ref())?;
    // `command` and `args` are replaced where they are; the entry's other members (env,
    // type, ...) stay as they are.
    let mut new_entry: Vec<(String, String)> = entry
        .as_ref()
        .map(|e| {
            e.0.iter()
                .map(|(k, v)| (k.clone(), v.get().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    for (key, value) in [
        ("command", json_text(&Value::from(new.command), 3)),
        ("args", json_text(&Value::from(new.args), 3)),
    ] {
        match new_entry.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => new_entry.push((key.to_owned(), value)),
        }
    }

    let mut new_servers: Vec<(String, String)> = servers
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.get().to_owned()))
        .collect();
    let rendered = render(&new_entry, 2);
    match new_servers.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = rendered,
        None => new_servers.push((name.to_owned(), rendered)),
    }
    let mut new_top: Vec<(String, String)> = top
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.get().to_owned()))
        .collect();
    let rendered = render(&new_servers, 1);
    match new_top.iter_mut().find(|(k, _)| k == "mcpServers") {
        Some(slot) => slot.1 = rendered,
        None => new_top.push(("mcpServers".to_owned(), rendered)),
    }
    let mut text = render(&new_top, 0);
    text.push('\n');
    Ok(Edited {
        text,
        command: new.inner,
        secret_like_env,
        dropped_env: new.dropped_env,
    })
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

/// Which of a client's config files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The project's file, in the current directory.
    Project,
    /// The user's file.
    User,
}

impl Client {
    /// The scope used when none is given: Claude Code's project file (`.mcp.json`, shared with
    /// the team), the user's file for the others.
    pub fn default_scope(self) -> Scope {
        match self {
            Client::ClaudeCode => Scope::Project,
            Client::ClaudeDesktop | Client::Cursor => Scope::User,
        }
    }

    /// The config file for `scope`, relative to `cwd` and the user's `home`. `None` when the
    /// client has no such scope.
    pub fn config_path(self, scope: Scope, cwd: &Path, home: &Path) -> Option<PathBuf> {
        match (self, scope) {
            (Client::ClaudeCode, Scope::Project) => Some(cwd.join(".mcp.json")),
            (Client::ClaudeCode, Scope::User) => Some(home.join(".claude.json")),
            (Client::Cursor, Scope::Project) => Some(cwd.join(".cursor/mcp.json")),
            (Client::Cursor, Scope::User) => Some(home.join(".cursor/mcp.json")),
            (Client::ClaudeDesktop, Scope::Project) => None,
            (Client::ClaudeDesktop, Scope::User) => Some(if cfg!(target_os = "macos") {
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
        let e = install(EXISTING, "f", "github", &wrapping(None)).unwrap();
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
        let again = install(&e.text, "f", "github", &wrapping(None)).unwrap();
        assert_eq!(again.text, e.text);
        let back = uninstall(&e.text, "f", "github").unwrap();
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
            let e = install(start, "f", "git", &w).unwrap();
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
                "git",
                &Wrapping {
                    env: None,
                    ..w.clone()
                },
            )
            .unwrap();
            assert_eq!(again.text, e.text);
            let back = uninstall(&e.text, "f", "git").unwrap();
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
            install(EXISTING, "f", "notion", &w),
            Err(InstallError::NotStdio { .. })
        ));
        assert!(matches!(
            install(EXISTING, "f", "nope", &w),
            Err(InstallError::NoEntry { .. })
        ));
        assert!(matches!(
            uninstall(EXISTING, "f", "github"),
            Err(InstallError::NotWrapped { .. })
        ));
        let dup = r#"{"mcpServers": {"a": {"command": "x"}}, "mcpServers": {}}"#;
        let err = install(dup, "f", "a", &w).unwrap_err().to_string();
        assert!(err.contains("duplicate key `mcpServers`"), "{err}");
        assert!(matches!(
            install("[1]", "f", "a", &w),
            Err(InstallError::Json { .. })
        ));
        assert!(matches!(
            install(r#"{"mcpServers": []}"#, "f", "a", &w),
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

    #[test]
    fn config_locations() {
        let cwd = Path::new("/p");
        let home = Path::new("/u");
        assert_eq!(
            Client::ClaudeCode.config_path(Scope::Project, cwd, home),
            Some(PathBuf::from("/p/.mcp.json"))
        );
        assert_eq!(
            Client::ClaudeCode.config_path(Scope::User, cwd, home),
            Some(PathBuf::from("/u/.claude.json"))
        );
        assert_eq!(
            Client::Cursor.config_path(Scope::User, cwd, home),
            Some(PathBuf::from("/u/.cursor/mcp.json"))
        );
        assert_eq!(
            Client::ClaudeDesktop.config_path(Scope::Project, cwd, home),
            None
        );
    }
}

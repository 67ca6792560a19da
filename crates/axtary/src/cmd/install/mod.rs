//! `axtary install claude-code`: adds (or with `--uninstall` removes) Axtary's hook in Claude
//! Code's `settings.json`, keeping everything else in the file.
//!
//! Our entries are one matcher group per event (`PreToolUse`, `PostToolUse`) with matcher `*`
//! and one command hook running this binary's `hook claude-code`. An entry is ours when its
//! command runs a program named `axtary` with `hook claude-code`; installing again updates
//! ours in place (a moved binary, another home) and adds nothing when it is current. Other
//! hooks, permissions, unknown keys and their order are kept. The file is replaced
//! atomically (temp file, fsync, rename), the previous version is kept as
//! `settings.json.axtary.bak`, and a file that is not valid JSON is refused untouched.

mod json;

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use self::json::Json;
use crate::exit::Exit;
use crate::home::Home;
use crate::output::{self, Format};

/// The hook events Axtary installs for.
const EVENTS: [&str; 2] = ["PreToolUse", "PostToolUse"];
/// Claude Code's own timeout for our hook, in seconds. Claude Code fails open when it fires,
/// so it must be well above the hook's watchdog (5 s by default, at most 20 s).
const HOOK_TIMEOUT_SECS: u64 = 30;

#[derive(clap::Args)]
pub struct ClaudeCodeArgs {
    /// Install into the project's `.claude/settings.json` (the default)
    #[arg(long, conflicts_with_all = ["user", "settings"])]
    project: bool,
    /// Install into your user settings, `~/.claude/settings.json` (every project)
    #[arg(long, conflicts_with = "settings")]
    user: bool,
    /// The project directory [default: the current directory]
    #[arg(long, value_name = "DIR", conflicts_with_all = ["user", "settings"])]
    dir: Option<PathBuf>,
    /// Edit this settings file instead
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Remove Axtary's hook entries (and nothing else)
    #[arg(long)]
    uninstall: bool,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Serialize)]
struct Report {
    settings: String,
    action: &'static str,
    changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
    command: String,
    events: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

pub fn claude_code(home: &Home, args: &ClaudeCodeArgs) -> Result<Exit> {
    let path = settings_path(args)?;
    let command = hook_command(home)?;
    let original = match fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let doc = match &original {
        None => Json::Object(Vec::new()),
        Some(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| anyhow::anyhow!("`{}` is not valid UTF-8", path.display()))?;
            if text.trim().is_empty() {
                Json::Object(Vec::new())
            } else {
                Json::parse(text).map_err(|e| {
                    anyhow::anyhow!(
                        "`{}` is not valid JSON: {e}\nhint: fix the file (or move it away) and run this again; it was not changed",
                        path.display()
                    )
                })?
            }
        }
    };
    let (doc, changed) = if args.uninstall {
        uninstall(doc)
    } else {
        install(doc, &command)
    }
    .with_context(|| format!("cannot update `{}`", path.display()))?;

    let mut backup = None;
    if changed {
        backup = write_atomically(&path, original.as_deref(), doc.to_pretty().as_bytes())?;
    }
    let mut warnings = Vec::new();
    if !args.uninstall && !home.key_path().exists() {
        warnings.push(format!(
            "Axtary's home `{}` is not initialized: the hook denies every tool call until you run `axtary init`",
            home.root().display()
        ));
    }
    let report = Report {
        settings: path.display().to_string(),
        action: if args.uninstall {
            "uninstall"
        } else {
            "install"
        },
        changed,
        backup: backup.map(|b| b.display().to_string()),
        command,
        events: EVENTS.to_vec(),
        warnings,
    };
    print(&report, args.format)?;
    Ok(Exit::Ok)
}

fn print(r: &Report, format: Format) -> Result<()> {
    match format {
        Format::Json => output::print_json(r)?,
        Format::Text => {
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            let mut text = match (r.action, r.changed) {
                ("install", true) => format!(
                    "installed Axtary's Claude Code hook in `{}` ({})\n  command: {}\n",
                    r.settings,
                    r.events.join(", "),
                    r.command
                ),
                ("install", false) => format!(
                    "Axtary's Claude Code hook is already installed in `{}`; nothing changed\n",
                    r.settings
                ),
                (_, true) => format!("removed Axtary's Claude Code hook from `{}`\n", r.settings),
                (_, false) => format!("`{}` has no Axtary hook; nothing changed\n", r.settings),
            };
            if let Some(b) = &r.backup {
                text.push_str(&format!("  previous version kept as `{b}`\n"));
            }
            if r.changed {
                text.push_str("Restart Claude Code: it reads its settings at start-up.\n");
            }
            output::print(&text)?;
        }
    }
    Ok(())
}

fn settings_path(args: &ClaudeCodeArgs) -> Result<PathBuf> {
    if let Some(p) = &args.settings {
        return absolute(p);
    }
    if args.user {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .context("cannot find your home directory: HOME is not set")?;
        return Ok(PathBuf::from(home).join(".claude/settings.json"));
    }
    let dir = match &args.dir {
        Some(d) => absolute(d)?,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    Ok(dir.join(".claude/settings.json"))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the current directory")?
            .join(p)
    })
}

/// `<this binary> [--home DIR] hook claude-code`, shell-quoted where needed. The binary is
/// named by the path it was started as (a symlink such as `~/.cargo/bin/axtary` survives
/// upgrades; the file it points at may not); `--home` only when it is not the default.
fn hook_command(home: &Home) -> Result<String> {
    let exe = invoked_path()?;
    let mut cmd = shell_quote(&exe.to_string_lossy());
    let default_home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".axtary"));
    if default_home.as_deref() != Some(home.root()) {
        cmd.push_str(" --home ");
        cmd.push_str(&shell_quote(&home.root().to_string_lossy()));
    }
    cmd.push_str(" hook claude-code");
    Ok(cmd)
}

/// The absolute path this process was started as: `argv[0]` if it names a path, else the
/// first `PATH` entry that is this same binary, else the resolved executable.
fn invoked_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the axtary binary's path")?;
    let same =
        |p: &Path| fs::canonicalize(p).ok().as_deref() == fs::canonicalize(&exe).ok().as_deref();
    let argv0: Option<OsString> = std::env::args_os().next();
    if let Some(a) = argv0.map(PathBuf::from) {
        if a.components().count() > 1 {
            let a = absolute(&a)?;
            if same(&a) {
                return Ok(a);
            }
        } else if let Some(paths) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&paths).filter(|d| d.is_absolute()) {
                let candidate = dir.join(&a);
                if same(&candidate) {
                    return Ok(candidate);
                }
            }
        }
    }
    Ok(exe)
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%=".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Whether a hook command is Axtary's (any binary path, any home).
fn is_ours(command: &str) -> bool {
    let words = shell_words(command);
    let runs_axtary = words
        .first()
        .is_some_and(|w| w == "axtary" || w.ends_with("/axtary"));
    runs_axtary && words.windows(2).any(|p| p == ["hook", "claude-code"])
}

/// Splits a command line into words the way a POSIX shell would for simple commands
/// (single and double quotes, backslashes); enough to read our own commands back.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    w.push(c);
                }
            }
            '"' => {
                let w = cur.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            '\\' => cur.get_or_insert_with(String::new).extend(chars.next()),
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(cur);
    words
}

fn our_group(command: &str) -> Json {
    Json::Object(vec![
        ("matcher".into(), Json::str("*")),
        (
            "hooks".into(),
            Json::Array(vec![Json::Object(vec![
                ("type".into(), Json::str("command")),
                ("command".into(), Json::str(command)),
                (
                    "timeout".into(),
                    Json::Number(HOOK_TIMEOUT_SECS.to_string()),
                ),
            ])]),
        ),
    ])
}

/// The members of the object under `key` of `obj`, created (at the end) if missing.
fn object_entry<'a>(
    obj: &'a mut Vec<(String, Json)>,
    key: &str,
    what: &str,
) -> Result<&'a mut Vec<(String, Json)>> {
    if !obj.iter().any(|(k, _)| k == key) {
        obj.push((key.to_owned(), Json::Object(Vec::new())));
    }
    match obj.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v) {
        Some(Json::Object(m)) => Ok(m),
        _ => bail!("{what} must be a JSON object"),
    }
}

/// Adds or updates our groups. Returns the document and whether it changed.
fn install(mut doc: Json, command: &str) -> Result<(Json, bool)> {
    let Json::Object(top) = &mut doc else {
        bail!("the settings file must hold a JSON object");
    };
    let hooks = object_entry(top, "hooks", "`hooks`")?;
    let mut changed = false;
    for event in EVENTS {
        if !hooks.iter().any(|(k, _)| k == event) {
            hooks.push((event.to_owned(), Json::Array(Vec::new())));
        }
        let Some((_, Json::Array(groups))) = hooks.iter_mut().find(|(k, _)| k == event) else {
            bail!("`hooks.{event}` must be a JSON array");
        };
        let want = our_group(command);
        // Ours, in the first group that holds one of our commands: keep it exactly once.
        let ours: Vec<usize> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| group_commands(g).iter().any(|c| is_ours(c)))
            .map(|(i, _)| i)
            .collect();
        match ours.as_slice() {
            [] => {
                groups.push(want);
                changed = true;
            }
            [i] if groups[*i] == want => {}
            _ => {
                // Stale (another binary or home) or duplicated: drop our commands wherever
                // they are, then add the current group once where the first one was.
                let at = ours[0];
                for &i in ours.iter().rev() {
                    remove_ours(&mut groups[i]);
                    if group_is_empty(&groups[i]) {
                        groups.remove(i);
                    }
                }
                groups.insert(at.min(groups.len()), want);
                changed = true;
            }
        }
    }
    Ok((doc, changed))
}

/// Removes our commands (and groups, events and `hooks` left empty by that).
fn uninstall(mut doc: Json) -> Result<(Json, bool)> {
    let Json::Object(top) = &mut doc else {
        bail!("the settings file must hold a JSON object");
    };
    let Some(Json::Object(hooks)) = top.iter_mut().find(|(k, _)| k == "hooks").map(|(_, v)| v)
    else {
        return Ok((doc, false));
    };
    let mut changed = false;
    for (_, v) in hooks.iter_mut() {
        let Json::Array(groups) = v else { continue };
        let mut touched = false;
        for g in groups.iter_mut() {
            touched |= remove_ours(g);
        }
        if touched {
            groups.retain(|g| !group_is_empty(g));
            changed = true;
        }
    }
    if changed {
        hooks.retain(|(_, v)| !matches!(v, Json::Array(a) if a.is_empty()));
        if hooks.is_empty() {
            top.retain(|(k, _)| k != "hooks");
        }
    }
    Ok((doc, changed))
}

fn group_commands(group: &Json) -> Vec<&str> {
    match group.get("hooks") {
        Some(Json::Array(hs)) => hs
            .iter()
            .filter_map(|h| match h.get("command") {
                Some(Json::String(c)) => Some(c.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Removes our commands from a matcher group; returns whether any was there.
fn remove_ours(group: &mut Json) -> bool {
    let Json::Object(members) = group else {
        return false;
    };
    let Some((_, Json::Array(hs))) = members.iter_mut().find(|(k, _)| k == "hooks") else {
        return false;
    };
    let before = hs.len();
    hs.retain(|h| !matches!(h.get("command"), Some(Json::String(c)) if is_ours(c)));
    hs.len() != before
}

fn group_is_empty(group: &Json) -> bool {
    matches!(group.get("hooks"), Some(Json::Array(hs)) if hs.is_empty())
}

/// Replaces `path` with `contents` atomically, keeping `original` (if any) as a backup.
/// A symlinked settings file (dotfiles) is written through to its target.
fn write_atomically(
    path: &Path,
    original: Option<&[u8]>,
    contents: &[u8],
) -> Result<Option<PathBuf>> {
    let target = match fs::canonicalize(path) {
        Ok(p) => p,
        Err(_) => path.to_path_buf(),
    };
    let dir = target
        .parent()
        .context("the settings file has no parent directory")?
        .to_path_buf();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mode = fs::metadata(&target)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o644);
    let name = target
        .file_name()
        .context("the settings path has no file name")?
        .to_string_lossy()
        .into_owned();
    let backup = match original {
        Some(bytes) => {
            let b = dir.join(format!("{name}.axtary.bak"));
            write_file(&b, bytes, mode)?;
            Some(b)
        }
        None => None,
    };
    let tmp = dir.join(format!(".{name}.axtary-{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_file(&tmp, contents, mode)?;
    if let Err(e) = fs::rename(&tmp, &target) {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot replace `{}`", target.display()));
    }
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(backup)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: &str = "/usr/local/bin/axtary hook claude-code";

    fn run(f: fn(Json) -> Result<(Json, bool)>, text: &str) -> (String, bool) {
        let (doc, changed) = f(Json::parse(text).unwrap()).unwrap();
        (doc.to_pretty(), changed)
    }

    fn inst(doc: Json) -> Result<(Json, bool)> {
        install(doc, CMD)
    }

    #[test]
    fn recognizes_our_commands() {
        assert!(is_ours("/usr/local/bin/axtary hook claude-code"));
        assert!(is_ours(
            "'/opt/my tools/axtary' --home '/h' hook claude-code"
        ));
        assert!(is_ours("axtary hook claude-code --timeout-ms 300"));
        assert!(!is_ours("/usr/bin/other-hook hook claude-code"));
        assert!(!is_ours("axtary decide"));
        assert!(!is_ours("echo axtary hook claude-code"));
        assert!(is_ours(&format!(
            "{} --home {} hook claude-code",
            shell_quote("/it's/axtary"),
            shell_quote("/a b")
        )));
    }

    #[test]
    fn install_keeps_everything_else_and_is_idempotent() {
        let text = r#"{
  "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(./.env)"]},
  "zzz_unknown": [1.50, {"b": 1, "a": 2}],
  "hooks": {
    "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint.sh"}]}],
    "Stop": [{"hooks": [{"type": "command", "command": "notify"}]}]
  },
  "model": "opus"
}"#;
        let (once, changed) = run(inst, text);
        assert!(changed);
        let (twice, changed_again) = run(inst, &once);
        assert!(!changed_again);
        assert_eq!(once, twice);
        let v: serde_json::Value = serde_json::from_str(&once).unwrap();
        assert_eq!(v["permissions"]["deny"][0], "Read(./.env)");
        assert_eq!(
            v["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
            "./lint.sh"
        );
        assert_eq!(v["hooks"]["PreToolUse"][1]["hooks"][0]["command"], CMD);
        assert_eq!(v["hooks"]["PreToolUse"][1]["matcher"], "*");
        assert_eq!(v["hooks"]["PostToolUse"][0]["hooks"][0]["timeout"], 30);
        assert_eq!(v["hooks"]["Stop"][0]["hooks"][0]["command"], "notify");
        // Key order and number spelling are the file's.
        let keys: Vec<usize> = ["permissions", "zzz_unknown", "hooks", "model"]
            .iter()
            .map(|k| once.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{once}");
        assert!(once.contains("1.50") && once.find("\"b\"") < once.find("\"a\""));
        // Uninstall gives back the same content.
        let (back, removed) = run(uninstall, &once);
        assert!(removed);
        assert_eq!(back, Json::parse(text).unwrap().to_pretty());
        let (_, removed_again) = run(uninstall, &back);
        assert!(!removed_again);
    }

    #[test]
    fn install_updates_a_stale_entry_in_place() {
        let text = r#"{"hooks": {"PreToolUse": [
            {"matcher": "*", "hooks": [{"type": "command", "command": "/old/axtary hook claude-code"}]},
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint.sh"}]},
            {"matcher": "*", "hooks": [{"type": "command", "command": "/older/axtary hook claude-code"},
                                      {"type": "command", "command": "./audit.sh"}]}]}}"#;
        let (out, changed) = run(inst, text);
        assert!(changed);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let pre = v["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre.len(), 3);
        assert_eq!(pre[0]["hooks"][0]["command"], CMD);
        assert_eq!(pre[1]["hooks"][0]["command"], "./lint.sh");
        assert_eq!(pre[2]["hooks"][0]["command"], "./audit.sh");
        assert_eq!(out.matches(CMD).count(), 2, "{out}");
    }

    #[test]
    fn refuses_shapes_it_cannot_edit() {
        for text in ["[]", r#"{"hooks": []}"#, r#"{"hooks": {"PreToolUse": {}}}"#] {
            assert!(install(Json::parse(text).unwrap(), CMD).is_err(), "{text}");
        }
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("/usr/bin/axtary"), "/usr/bin/axtary");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `axtary install claude-code` end to end: merging into existing settings, idempotence,
//! `--uninstall`, refusing invalid files untouched, `--user`, and that the installed command
//! really runs the hook.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Home, code, json, stderr, stdout};
use serde_json::{Value, json};

const EXISTING: &str = r#"{
  "permissions": {
    "allow": ["Bash(npm run test:*)"],
    "deny": ["Read(./.env)", "Read(./secrets/**)"]
  },
  "hooks": {
    "PreToolUse": [
      {"matcher": "Bash", "hooks": [{"type": "command", "command": "./scripts/check-bash.sh", "timeout": 10}]}
    ],
    "Notification": [{"hooks": [{"type": "command", "command": "notify-send claude"}]}]
  },
  "env": {"FOO": "1"},
  "model": "claude-opus-4",
  "x_unknown_setting": {"nested": [3, 2, 1], "ratio": 1.50}
}
"#;

fn project(home: &Home) -> PathBuf {
    let dir = home.0.parent().unwrap().join("project");
    std::fs::create_dir_all(dir.join(".claude")).unwrap();
    dir
}

fn install(home: &Home, args: &[&str]) -> std::process::Output {
    let mut all = vec!["install", "claude-code"];
    all.extend_from_slice(args);
    home.run(&all, "")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The commands installed for `event`.
fn commands(settings: &Value, event: &str) -> Vec<String> {
    settings["hooks"][event]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .flat_map(|g| g["hooks"].as_array().cloned().unwrap_or_default())
                .filter_map(|h| h["command"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn merges_into_existing_settings_idempotently_and_uninstalls_only_ours() {
    let home = Home::initialized();
    let dir = project(&home);
    let file = dir.join(".claude/settings.json");
    std::fs::write(&file, EXISTING).unwrap();
    let dir_arg = dir.to_str().unwrap();

    let out = install(&home, &["--dir", dir_arg, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["changed"], true);
    assert_eq!(report["settings"], file.to_str().unwrap());
    let backup = PathBuf::from(report["backup"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), EXISTING);

    let after = read(&file);
    let ours = format!(
        "{} --home {} hook claude-code",
        env!("CARGO_BIN_EXE_axtary"),
        home.0.display()
    );
    assert_eq!(report["command"], ours);
    assert_eq!(
        commands(&after, "PreToolUse"),
        ["./scripts/check-bash.sh".to_owned(), ours.clone()]
    );
    assert_eq!(commands(&after, "PostToolUse"), [ours]);
    assert_eq!(after["hooks"]["PreToolUse"][1]["matcher"], "*");
    assert_eq!(after["hooks"]["PreToolUse"][1]["hooks"][0]["timeout"], 30);
    // Everything else is as it was, in the same order and spelling.
    let expected: Value = serde_json::from_str(EXISTING).unwrap();
    for key in ["permissions", "env", "model", "x_unknown_setting"] {
        assert_eq!(after[key], expected[key], "{key}");
    }
    assert_eq!(
        after["hooks"]["Notification"],
        expected["hooks"]["Notification"]
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let order: Vec<usize> = [
        "\"permissions\"",
        "\"hooks\"",
        "\"env\"",
        "\"model\"",
        "\"x_unknown_setting\"",
    ]
    .iter()
    .map(|k| text.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        text.contains("1.50") && text.contains("[\n      3,\n      2,\n      1\n    ]"),
        "{text}"
    );

    // Twice: nothing to add, file untouched.
    let out = install(&home, &["--dir", dir_arg]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("already installed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    // Uninstall: ours go, the rest stays.
    let out = install(
        &home,
        &["--dir", dir_arg, "--uninstall", "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["changed"], true);
    assert_eq!(read(&file), expected);
    let out = install(&home, &["--dir", dir_arg, "--uninstall"]);
    assert!(stdout(&out).contains("nothing changed"), "{}", stdout(&out));
}

#[test]
fn creates_the_file_and_the_installed_command_runs_the_hook() {
    let home = Home::initialized();
    let dir = project(&home);
    std::fs::remove_dir_all(dir.join(".claude")).unwrap();
    let out = install(&home, &["--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Restart Claude Code"),
        "{}",
        stdout(&out)
    );
    let settings = read(&dir.join(".claude/settings.json"));
    let command = &commands(&settings, "PreToolUse")[0];
    // Claude Code runs the command through a shell, with no AXTARY_HOME of ours.
    let mut child = Command::new("sh")
        .args(["-c", command])
        .env_remove("AXTARY_HOME")
        .env("HOME", "/nonexistent")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            json!({"hook_event_name": "PreToolUse", "cwd": dir, "tool_name": "Read",
                   "tool_input": {"file_path": "README.md"}, "tool_use_id": "t1"})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"permissionDecision\":\"allow\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn refuses_invalid_settings_and_leaves_them_untouched() {
    let home = Home::initialized();
    let dir = project(&home);
    let file = dir.join(".claude/settings.json");
    for bad in [
        "{\"hooks\": {}, }",
        "{\"a\": 1} // comment",
        "{\"hooks\": 1}",
        "[]",
        "{\"a\": 1, \"a\": 2}",
        "{\"hooks\": {\"PreToolUse\": {\"matcher\": \"*\"}}}",
    ] {
        std::fs::write(&file, bad).unwrap();
        let out = install(&home, &["--dir", dir.to_str().unwrap()]);
        assert_eq!(code(&out), 1, "{bad}: {}", stdout(&out));
        assert!(
            stderr(&out).contains(file.to_str().unwrap()),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), bad);
        assert!(!dir.join(".claude/settings.json.axtary.bak").exists());
    }
    std::fs::write(&file, "{\"a\": 1,}").unwrap();
    let out = install(&home, &["--dir", dir.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("is not valid JSON: expected a string key at line 1, column 9"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn user_settings_and_explicit_files() {
    let home = Home::initialized();
    // --user edits $HOME/.claude/settings.json (the harness sets HOME to the home's parent).
    let out = install(&home, &["--user", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let user = home.0.parent().unwrap().join(".claude/settings.json");
    assert_eq!(json(&out)["settings"], user.to_str().unwrap());
    assert_eq!(commands(&read(&user), "PostToolUse").len(), 1);

    // --settings FILE, through a symlink (dotfiles): the target is edited, the link kept.
    let real = home.0.parent().unwrap().join("dotfiles-settings.json");
    std::fs::write(&real, "{\"model\": \"x\"}").unwrap();
    let link = home.0.parent().unwrap().join("linked-settings.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = install(&home, &["--settings", link.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let v = read(&real);
    assert_eq!(v["model"], "x");
    assert_eq!(commands(&v, "PreToolUse").len(), 1);

    // An uninitialized home is installed with a warning: the hook will deny until `init`.
    let fresh = Home::new();
    let out = install(&fresh, &["--settings", real.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("axtary init"), "{}", stderr(&out));
}

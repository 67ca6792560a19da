#![allow(clippy::unwrap_used, clippy::expect_used)]

//! `axtary install mcp`: rewriting real client config files, keeping what is there.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Home, code, stderr, stdout};
use serde_json::{Value, json};

const PROJECT: &str = r#"{
  "mcpServers": {
    "calc": {
      "type": "stdio",
      "command": "python3",
      "args": ["calc_server.py"],
      "env": {"CALC_LOG": "/tmp/calc.log"}
    },
    "remote": {"type": "http", "url": "https://mcp.example.com/mcp"}
  },
  "someOtherKey": [1, 2,   3]
}
"#;

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn claude_code_project_config_is_wrapped_kept_backed_up_and_restored() {
    let home = Home::initialized();
    let project = home.0.parent().unwrap().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let config = project.join(".mcp.json");
    std::fs::write(&config, PROJECT).unwrap();

    let mut c = home.command(&[
        "install",
        "mcp",
        "--client",
        "claude-code",
        "--name",
        "calc",
    ]);
    let out = c.current_dir(&project).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("now runs through `axtary mcp wrap --name calc`"));

    let v = read(&config);
    let entry = &v["mcpServers"]["calc"];
    let axtary = Path::new(env!("CARGO_BIN_EXE_axtary"))
        .canonicalize()
        .unwrap();
    assert_eq!(entry["command"], axtary.display().to_string());
    // The home is not the default one, so the wrapper is told where it is.
    assert_eq!(
        entry["args"],
        json!([
            "--home",
            home.0.display().to_string(),
            "mcp",
            "wrap",
            "--name",
            "calc",
            "--",
            "python3",
            "calc_server.py"
        ])
    );
    assert_eq!(entry["type"], "stdio");
    assert_eq!(entry["env"], json!({"CALC_LOG": "/tmp/calc.log"}));
    // Everything else is untouched, to the byte.
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(r#""remote": {"type": "http", "url": "https://mcp.example.com/mcp"}"#));
    assert!(text.contains(r#""someOtherKey": [1, 2,   3]"#));
    assert_eq!(
        std::fs::read_to_string(project.join(".mcp.json.axtary-backup")).unwrap(),
        PROJECT
    );

    // A remote server cannot be wrapped; the file is left alone.
    let mut c = home.command(&[
        "install",
        "mcp",
        "--client",
        "claude-code",
        "--name",
        "remote",
    ]);
    let out = c.current_dir(&project).output().unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("not a local (stdio) server"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);

    let mut c = home.command(&[
        "install",
        "mcp",
        "--client",
        "claude-code",
        "--name",
        "calc",
        "--uninstall",
    ]);
    let out = c.current_dir(&project).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        read(&config),
        serde_json::from_str::<Value>(PROJECT).unwrap()
    );
}

#[test]
fn cursor_and_claude_desktop_user_configs_are_created_private() {
    let home = Home::initialized();
    let user = home.0.parent().unwrap();
    for (client, file) in [
        ("cursor", ".cursor/mcp.json"),
        (
            "claude-desktop",
            ".config/Claude/claude_desktop_config.json",
        ),
    ] {
        let mut c = home.command(&[
            "install",
            "mcp",
            "--client",
            client,
            "--name",
            "git",
            "--env",
            "GITHUB_TOKEN=secret:github",
            "--",
            "uvx",
            "mcp-server-git",
        ]);
        let out = c.env_remove("XDG_CONFIG_HOME").output().unwrap();
        assert_eq!(code(&out), 0, "{client}: {}", stderr(&out));
        let path = user.join(file);
        let args = &read(&path)["mcpServers"]["git"]["args"];
        let args: Vec<&str> = args
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args[2..],
            [
                "mcp",
                "wrap",
                "--name",
                "git",
                "--env",
                "GITHUB_TOKEN=secret:github",
                "--",
                "uvx",
                "mcp-server-git"
            ]
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{client}");
    }
    // An existing user file keeps its other servers.
    let path = user.join(".cursor/mcp.json");
    let mut c = home.command(&[
        "install",
        "mcp",
        "--client",
        "cursor",
        "--name",
        "fetch",
        "--",
        "uvx",
        "mcp-server-fetch",
    ]);
    assert_eq!(code(&c.output().unwrap()), 0);
    let servers = read(&path)["mcpServers"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(servers, ["fetch", "git"]);
}

#[test]
fn a_config_that_is_not_valid_json_is_left_alone() {
    let home = Home::initialized();
    let config = home.0.parent().unwrap().join("broken.json");
    let broken = r#"{"mcpServers": {"a": {"command": "x"}}, "mcpServers": {}}"#;
    std::fs::write(&config, broken).unwrap();
    let out = home.run(
        &[
            "install",
            "mcp",
            "--client",
            "cursor",
            "--name",
            "a",
            "--config",
            config.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("duplicate key `mcpServers`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), broken);
}

/// `axtary install mcp --client claude-code ARGS...`, run in `project`.
fn claude_code(home: &Home, project: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["install", "mcp", "--client", "claude-code"];
    all.extend_from_slice(args);
    home.command(&all).current_dir(project).output().unwrap()
}

/// A project directory next to the home, and its key in `~/.claude.json` (the directory as the
/// process sees it).
fn project_dir(home: &Home) -> (std::path::PathBuf, String) {
    let project = home.0.parent().unwrap().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let key = project.canonicalize().unwrap().display().to_string();
    (project, key)
}

/// A `~/.claude.json` as Claude Code writes it, with `github` in this project's local scope.
fn claude_json(key: &str) -> String {
    format!(
        r#"{{
  "numStartups": 7,
  "tipsHistory": {{"new-user-warmup": 1}},
  "mcpServers": {{
    "fetch": {{
      "type": "stdio",
      "command": "uvx",
      "args": [
        "mcp-server-fetch"
      ],
      "env": {{}}
    }}
  }},
  "projects": {{
    "/somewhere/else": {{"allowedTools": ["Bash(ls)"], "mcpServers": {{"github": {{"command": "gh-mcp"}}}}}},
    {key}: {{
      "allowedTools": [],
      "mcpServers": {{
        "github": {{
          "type": "stdio",
          "command": "npx",
          "args": [
            "-y",
            "@modelcontextprotocol/server-github"
          ],
          "env": {{}}
        }}
      }},
      "hasTrustDialogAccepted": false
    }}
  }},
  "userID": "0123abcd"
}}
"#,
        key = serde_json::to_string(key).unwrap()
    )
}

fn wrapped_args(home: &Home, name: &str, command: &[&str]) -> Value {
    let mut args = vec![
        "--home".to_owned(),
        home.0.display().to_string(),
        "mcp".into(),
        "wrap".into(),
        "--name".into(),
        name.into(),
        "--".into(),
    ];
    args.extend(command.iter().map(|c| (*c).to_owned()));
    json!(args)
}

#[test]
fn claude_code_local_scope_is_wrapped_in_claude_json_and_restored() {
    let home = Home::initialized();
    let (project, key) = project_dir(&home);
    let config = home.0.parent().unwrap().join(".claude.json");
    let original = claude_json(&key);
    std::fs::write(&config, &original).unwrap();

    let out = claude_code(&home, &project, &["--name", "github", "--scope", "local"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "`github` in Claude Code's local scope (`{}`, project `{key}`) now runs through",
            config.display()
        )),
        "{}",
        stdout(&out)
    );
    let v = read(&config);
    let entry = &v["projects"][&key]["mcpServers"]["github"];
    assert_eq!(
        entry["args"],
        wrapped_args(
            &home,
            "github",
            &["npx", "-y", "@modelcontextprotocol/server-github"]
        )
    );
    assert_eq!(entry["type"], "stdio");
    // Only that entry changed: the rest of the file is the same value, and the members that
    // are not on the path keep their exact text.
    let mut expected: Value = serde_json::from_str(&original).unwrap();
    expected["projects"][&key]["mcpServers"]["github"]["command"] = entry["command"].clone();
    expected["projects"][&key]["mcpServers"]["github"]["args"] = entry["args"].clone();
    assert_eq!(v, expected);
    let text = std::fs::read_to_string(&config).unwrap();
    for untouched in [
        r#"  "tipsHistory": {"new-user-warmup": 1},"#,
        r#"    "/somewhere/else": {"allowedTools": ["Bash(ls)"], "mcpServers": {"github": {"command": "gh-mcp"}}},"#,
        "      \"hasTrustDialogAccepted\": false\n    }\n  },\n  \"userID\": \"0123abcd\"\n}\n",
    ] {
        assert!(text.contains(untouched), "{untouched}\n{text}");
    }
    let user_servers = &original
        [original.find("  \"mcpServers\"").unwrap()..original.find("  \"projects\"").unwrap()];
    assert!(text.starts_with(&format!(
        "{{\n  \"numStartups\": 7,\n  \"tipsHistory\": {{\"new-user-warmup\": 1}},\n{user_servers}"
    )));
    assert_eq!(
        std::fs::read_to_string(home.0.parent().unwrap().join(".claude.json.axtary-backup"))
            .unwrap(),
        original
    );
    assert!(!project.join(".mcp.json").exists());

    let out = claude_code(
        &home,
        &project,
        &["--name", "github", "--scope", "local", "--uninstall"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
}

#[test]
fn claude_code_default_scope_is_the_one_claude_code_runs_the_server_from() {
    let home = Home::initialized();
    let (project, key) = project_dir(&home);
    let config = home.0.parent().unwrap().join(".claude.json");
    std::fs::write(&config, claude_json(&key)).unwrap();
    let mcp_json = project.join(".mcp.json");
    let shared = r#"{"mcpServers": {"github": {"command": "npx", "args": ["-y", "gh"]}, "calc": {"command": "python3", "args": ["calc.py"]}}}"#;
    std::fs::write(&mcp_json, shared).unwrap();

    // `github` is in the local and the project scope: local wins, in Claude Code and here.
    let out = claude_code(&home, &project, &["--name", "github"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Claude Code's local scope"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        read(&config)["projects"][&key]["mcpServers"]["github"]["args"][2],
        "mcp"
    );
    assert_eq!(std::fs::read_to_string(&mcp_json).unwrap(), shared);

    // `calc` is only in the project scope.
    let before = std::fs::read_to_string(&config).unwrap();
    let out = claude_code(&home, &project, &["--name", "calc"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Claude Code's project scope"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        read(&mcp_json)["mcpServers"]["calc"]["args"],
        wrapped_args(&home, "calc", &["python3", "calc.py"])
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);

    // `fetch` is only in the user scope; uninstall finds it the same way.
    let out = claude_code(&home, &project, &["--name", "fetch"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(read(&config)["mcpServers"]["fetch"]["args"][2], "mcp");
    let out = claude_code(&home, &project, &["--name", "fetch", "--uninstall"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(read(&config)["mcpServers"]["fetch"]["command"], "uvx");

    // A name no scope has, without a command.
    let out = claude_code(&home, &project, &["--name", "nope"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("there is no server `nope` in any of Claude Code's scopes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn claude_code_new_server_goes_to_the_local_scope() {
    let home = Home::initialized();
    let (project, key) = project_dir(&home);
    let out = claude_code(
        &home,
        &project,
        &["--name", "git", "--", "uvx", "mcp-server-git"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let config = home.0.parent().unwrap().join(".claude.json");
    assert_eq!(
        read(&config),
        json!({"projects": {key.clone(): {"mcpServers": {"git": {
            "command": Path::new(env!("CARGO_BIN_EXE_axtary")).canonicalize().unwrap().display().to_string(),
            "args": wrapped_args(&home, "git", &["uvx", "mcp-server-git"]),
        }}}}})
    );
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!project.join(".mcp.json").exists());

    // Only Claude Code has a local scope.
    let out = home
        .command(&[
            "install",
            "mcp",
            "--client",
            "cursor",
            "--name",
            "git",
            "--scope",
            "local",
            "--",
            "uvx",
            "mcp-server-git",
        ])
        .current_dir(&project)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("only claude-code has a local scope"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn claude_code_refuses_an_install_that_an_unwrapped_local_entry_would_shadow() {
    let home = Home::initialized();
    let (project, key) = project_dir(&home);
    let config = home.0.parent().unwrap().join(".claude.json");
    let original = claude_json(&key);
    std::fs::write(&config, &original).unwrap();
    let mcp_json = project.join(".mcp.json");
    let shared = r#"{"mcpServers": {"github": {"command": "npx", "args": ["-y", "gh"]}}}"#;
    std::fs::write(&mcp_json, shared).unwrap();

    for scope in ["project", "user"] {
        let out = claude_code(&home, &project, &["--name", "github", "--scope", scope]);
        assert_eq!(code(&out), 1, "{scope}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "server `github` is also defined in Claude Code's local scope (`{}`, project `{key}`), which Claude Code prefers: it would keep running unguarded",
                config.display()
            )),
            "{err}"
        );
        assert!(
            err.contains("hint: wrap that one: axtary install mcp --client claude-code --name github --scope local"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
        assert_eq!(std::fs::read_to_string(&mcp_json).unwrap(), shared);
        assert!(!project.join(".mcp.json.axtary-backup").exists());
        assert!(
            !home
                .0
                .parent()
                .unwrap()
                .join(".claude.json.axtary-backup")
                .exists()
        );
    }
    // `--config` names the file outright: no scope, no check.
    let out = claude_code(
        &home,
        &project,
        &["--name", "github", "--config", mcp_json.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_wrapped_local_entry_does_not_block_a_project_install() {
    let home = Home::initialized();
    let (project, key) = project_dir(&home);
    let config = home.0.parent().unwrap().join(".claude.json");
    std::fs::write(&config, claude_json(&key)).unwrap();
    let mcp_json = project.join(".mcp.json");
    std::fs::write(
        &mcp_json,
        r#"{"mcpServers": {"github": {"command": "npx", "args": ["-y", "gh"]}}}"#,
    )
    .unwrap();

    let out = claude_code(&home, &project, &["--name", "github", "--scope", "local"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = claude_code(&home, &project, &["--name", "github", "--scope", "project"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        read(&mcp_json)["mcpServers"]["github"]["args"],
        wrapped_args(&home, "github", &["npx", "-y", "gh"])
    );
}

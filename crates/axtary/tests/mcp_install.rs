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

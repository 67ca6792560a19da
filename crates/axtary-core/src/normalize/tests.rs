use serde_json::json;

use super::*;
use crate::facts::{FACTS, fact_def};

fn opts() -> NormalizeOptions {
    NormalizeOptions {
        user_home: Some("/home/u".into()),
        ..Default::default()
    }
}

fn run(connector: &str, operation: &str, input: Value) -> Result<Action, NormalizeError> {
    let req = ActionRequest {
        agent: "test".into(),
        connector: connector.into(),
        operation: operation.into(),
        input,
        context: None,
    };
    let action = normalize(&req, &opts())?;
    assert_facts_registered(&action);
    Ok(action)
}

/// Every fact a normalizer emits is registered, with the registered kind, for its family.
fn assert_facts_registered(action: &Action) {
    let family = Family::of(&action.connector).unwrap();
    for (name, value) in &action.facts {
        let def = fact_def(name).unwrap_or_else(|| panic!("fact `{name}` is not in FACTS"));
        assert_eq!(def.kind, value.kind(), "fact `{name}` kind");
        assert!(
            def.produced_by(family),
            "fact `{name}` not registered for {family:?}"
        );
    }
}

fn ok(connector: &str, operation: &str, input: Value) -> Action {
    run(connector, operation, input).unwrap_or_else(|e| panic!("{connector} {operation}: {e}"))
}

fn err(connector: &str, operation: &str, input: Value) -> String {
    match run(connector, operation, input) {
        Ok(a) => panic!("expected an error, got {a:?}"),
        Err(e) => e.to_string(),
    }
}

fn list(action: &Action, fact: &str) -> Vec<String> {
    match action.facts.get(fact) {
        Some(Fact::List(l)) => l.clone(),
        other => panic!("fact `{fact}` is {other:?}"),
    }
}

fn fact<'a>(action: &'a Action, name: &str) -> &'a Fact {
    action
        .facts
        .get(name)
        .unwrap_or_else(|| panic!("no fact `{name}`"))
}

#[test]
fn github_pull_request_create() {
    let a = ok(
        "github",
        "pull_request.create",
        json!({"repo": "acme/api", "base": "main", "head": "agent/fix", "title": "Fix",
               "files": [{"path": "src/lib.rs", "content": "x"},
                         {"path": "infra/prod/main.tf", "delete": true},
                         {"path": "docs/new.md", "previous_path": "docs/old.md", "content": "y"}]}),
    );
    assert_eq!(a.resource, "github:acme/api");
    assert_eq!(
        list(&a, "paths"),
        [
            "src/lib.rs",
            "infra/prod/main.tf",
            "docs/new.md",
            "docs/old.md"
        ]
    );
    assert_eq!(
        list(&a, "deleted_paths"),
        ["infra/prod/main.tf", "docs/old.md"]
    );
    assert_eq!(fact(&a, "files_changed"), &Fact::Int(3));
    assert_eq!(fact(&a, "base"), &Fact::Str("main".into()));
    assert_eq!(fact(&a, "draft"), &Fact::Bool(false));
}

#[test]
fn github_rejects_bad_input() {
    let base = |files: Value| json!({"repo": "acme/api", "base": "main", "head": "h", "title": "t", "files": files});
    for (input, needle) in [
        (
            base(json!([{"path": "../etc/passwd", "content": ""}])),
            "repository-relative",
        ),
        (
            base(json!([{"path": "/abs", "content": ""}])),
            "repository-relative",
        ),
        (
            base(json!([{"path": "a//b", "content": ""}])),
            "repository-relative",
        ),
        (
            base(json!([{"path": ".git/config", "content": ""}])),
            "repository-relative",
        ),
        (
            base(json!([{"path": "a", "content": 1}])),
            "must be a string",
        ),
        (base(json!([{"path": "a"}])), "needs `content`"),
        (
            base(json!([{"path": "a", "content": "", "delete": true}])),
            "both",
        ),
        (
            base(json!([{"path": "a", "content": ""}, {"path": "a", "content": ""}])),
            "appears twice",
        ),
        (
            base(json!([{"path": "a", "content": "", "mode": "100755"}])),
            "unknown field `mode`",
        ),
        (base(json!([])), "at least one"),
        (base(json!("x")), "must be an array"),
        (
            json!({"repo": "acme", "base": "main", "head": "h", "title": "t", "files": []}),
            "owner/name",
        ),
        (
            json!({"repo": "acme/api", "base": "main", "head": "a..b", "title": "t", "files": []}),
            "branch",
        ),
        (
            json!({"repo": "acme/api", "base": "main", "head": "main", "title": "t", "files": []}),
            "differ",
        ),
        (
            json!({"repo": "acme/api", "base": "main", "head": "h", "files": []}),
            "missing field `title`",
        ),
        (
            json!({"repo": "acme/api", "base": "main", "head": "h", "title": "t", "files": [], "x": 1}),
            "unknown field `x`",
        ),
    ] {
        let e = err("github", "pull_request.create", input.clone());
        assert!(e.contains(needle), "{input}: {e}");
    }
}

#[test]
fn github_comment_and_merge() {
    let a = ok(
        "github",
        "issue.comment",
        json!({"repo": "acme/api", "number": 7, "body": "LGTM"}),
    );
    assert_eq!(fact(&a, "number"), &Fact::Int(7));
    let sha = "a".repeat(40);
    let a = ok(
        "github",
        "pull_request.merge",
        json!({"repo": "acme/api", "number": 7, "sha": sha, "method": "squash"}),
    );
    assert_eq!(fact(&a, "merge_method"), &Fact::Str("squash".into()));
    assert!(
        err(
            "github",
            "pull_request.merge",
            json!({"repo": "acme/api", "number": 7, "sha": "abc", "method": "squash"})
        )
        .contains("40-character")
    );
    assert!(
        err(
            "github",
            "pull_request.merge",
            json!({"repo": "acme/api", "number": 7, "sha": sha, "method": "yolo"})
        )
        .contains("merge, squash or rebase")
    );
    assert!(
        err(
            "github",
            "issue.comment",
            json!({"repo": "acme/api", "number": "7", "body": "x"})
        )
        .contains("must be an integer")
    );
    assert!(
        err(
            "github",
            "issue.comment",
            json!({"repo": "acme/api", "number": 0, "body": "x"})
        )
        .contains("between")
    );
    assert!(err("github", "repo.delete", json!({})).contains("unknown operation `repo.delete`"));
}

#[test]
fn slack_chat_post() {
    let a = ok(
        "slack",
        "chat.post",
        json!({"channel": "#eng-bots", "text": "deploy done <!here> see https://x.y <@U123|bob>"}),
    );
    assert_eq!(a.resource, "slack:#eng-bots");
    assert_eq!(list(&a, "mentions"), ["@here", "@U123"]);
    assert_eq!(fact(&a, "has_links"), &Fact::Bool(true));
    assert_eq!(fact(&a, "in_thread"), &Fact::Bool(false));
    let a = ok(
        "slack",
        "chat.post",
        json!({"channel": "C0123ABCDEF", "text": "@channel hi", "thread_ts": "1712345678.000100"}),
    );
    assert_eq!(list(&a, "mentions"), ["@channel"]);
    assert_eq!(fact(&a, "in_thread"), &Fact::Bool(true));
    let a = ok(
        "slack",
        "chat.post",
        json!({"channel": "#x", "text": "email me@channelx.com"}),
    );
    assert!(list(&a, "mentions").is_empty());
    for (input, needle) in [
        (
            json!({"channel": "general", "text": "x"}),
            "`channel` must be",
        ),
        (
            json!({"channel": "#General", "text": "x"}),
            "`channel` must be",
        ),
        (json!({"channel": "#x"}), "missing field `text`"),
        (json!({"channel": "#x", "text": ""}), "must not be empty"),
        (
            json!({"channel": "#x", "text": "a".repeat(40_001)}),
            "at most 40000",
        ),
        (
            json!({"channel": "#x", "text": "x", "thread_ts": "abc"}),
            "thread_ts",
        ),
        (
            json!({"channel": "#x", "text": "x", "blocks": []}),
            "unknown field `blocks`",
        ),
        (json!({"channel": ["#x"], "text": "x"}), "must be a string"),
    ] {
        let e = err("slack", "chat.post", input.clone());
        assert!(e.contains(needle), "{input}: {e}");
    }
}

#[test]
fn linear_issue_create() {
    let a = ok(
        "linear",
        "issue.create",
        json!({"team": "ENG", "title": "Bug", "priority": 1, "labels": ["bug"]}),
    );
    assert_eq!(a.resource, "linear:ENG");
    assert_eq!(fact(&a, "priority"), &Fact::Int(1));
    assert_eq!(list(&a, "labels"), ["bug"]);
    let a = ok(
        "linear",
        "issue.create",
        json!({"team": "ENG", "title": "Bug"}),
    );
    assert!(!a.facts.contains_key("priority"));
    assert!(
        err(
            "linear",
            "issue.create",
            json!({"team": "ENG", "title": "Bug", "priority": 9})
        )
        .contains("between 0 and 4")
    );
    assert!(
        err(
            "linear",
            "issue.create",
            json!({"team": "ENG", "title": "Bug", "labels": [1]})
        )
        .contains("labels[0]")
    );
}

#[test]
fn sql_query_shape() {
    let a = ok(
        "postgres",
        "query",
        json!({"database": "prod", "sql": "SELECT 1", "params": [1, "a", null]}),
    );
    assert_eq!(a.resource, "postgres:prod");
    assert_eq!(fact(&a, "dialect"), &Fact::Str("postgres".into()));
    let a = ok(
        "sqlite",
        "query",
        json!({"database": "local", "sql": "SELECT 1"}),
    );
    assert_eq!(a.resource, "sqlite:local");
    assert!(
        err(
            "postgres",
            "query",
            json!({"database": "../x", "sql": "SELECT 1"})
        )
        .contains("`database` must be a name")
    );
    assert!(
        err(
            "postgres",
            "query",
            json!({"database": "p", "sql": "SELECT 1", "params": [[1]]})
        )
        .contains("params")
    );
    assert!(err("postgres", "exec", json!({})).contains("unknown operation"));
}

#[test]
fn http_request() {
    let a = ok(
        "http",
        "request",
        json!({"upstream": "billing", "method": "delete", "path": "/v1/invoices/7", "query": {"force": "true"}, "headers": {"X-Trace": "1"}}),
    );
    assert_eq!(a.resource, "http:billing");
    assert_eq!(fact(&a, "method"), &Fact::Str("DELETE".into()));
    assert_eq!(fact(&a, "query"), &Fact::Str("force=true".into()));
    assert_eq!(list(&a, "header_names"), ["x-trace"]);
    let a = ok(
        "http",
        "request",
        json!({"upstream": "billing", "method": "POST", "path": "/v1/x", "body": {"a": 1}}),
    );
    assert_eq!(fact(&a, "body_bytes"), &Fact::Int(7));
    for (input, needle) in [
        (
            json!({"upstream": "b", "method": "GET", "path": "/a/../admin"}),
            "`..`",
        ),
        (
            json!({"upstream": "b", "method": "GET", "path": "/a/%2e%2E/admin"}),
            "`..`",
        ),
        (
            json!({"upstream": "b", "method": "GET", "path": "a"}),
            "start with `/`",
        ),
        (
            json!({"upstream": "b", "method": "GET", "path": "//evil.com/x"}),
            "empty segments",
        ),
        (
            json!({"upstream": "b", "method": "GET", "path": "/x?y=1"}),
            "use `query`",
        ),
        (
            json!({"upstream": "b", "method": "TRACE", "path": "/"}),
            "`method` must be",
        ),
        (
            json!({"upstream": "b", "method": "GET", "path": "/", "headers": {"Authorization": "Bearer x"}}),
            "set by the connector",
        ),
        (
            json!({"upstream": "b", "method": "GET", "path": "/", "headers": {"a": "1", "A": "2"}}),
            "appears twice",
        ),
        (
            json!({"upstream": "b", "method": "GET", "path": "/", "headers": {"X": "a\r\nb"}}),
            "control",
        ),
        (
            json!({"upstream": "b", "method": "GET", "path": "/", "body": "x"}),
            "must not have a body",
        ),
        (
            json!({"upstream": "https://x", "method": "GET", "path": "/"}),
            "`upstream` must be a name",
        ),
    ] {
        let e = err("http", "request", input.clone());
        assert!(e.contains(needle), "{input}: {e}");
    }
}

#[test]
fn fs_resolves_paths() {
    let cwd = "/home/u/repo";
    for (path, display, abs) in [
        ("../../.env", "/home/.env", "/home/.env"),
        ("./a/../.env", ".env", "/home/u/repo/.env"),
        ("//etc/passwd", "/etc/passwd", "/etc/passwd"),
        (
            "/home/u/repo/src/lib.rs",
            "src/lib.rs",
            "/home/u/repo/src/lib.rs",
        ),
        (
            "~/.ssh/id_rsa",
            "/home/u/.ssh/id_rsa",
            "/home/u/.ssh/id_rsa",
        ),
    ] {
        let a = ok("fs", "read", json!({"path": path, "cwd": cwd}));
        assert_eq!(list(&a, "paths"), [display], "{path}");
        assert_eq!(list(&a, "abs_paths"), [abs], "{path}");
        assert_eq!(a.resource, format!("fs:{abs}"));
        assert_eq!(a.payload, json!({"path": abs}));
    }
    let a = ok("fs", "write", json!({"path": "/tmp/x", "content": ""}));
    assert_eq!(fact(&a, "op"), &Fact::Str("write".into()));
    assert!(err("fs", "read", json!({"path": ".env"})).contains("needs `cwd`"));
    assert!(err("fs", "read", json!({"path": "a", "cwd": "rel"})).contains("absolute"));
    assert!(
        err("fs", "read", json!({"path": "/a", "content": "x"}))
            .contains("unknown field `content`")
    );
    assert!(err("fs", "write", json!({"path": "/a"})).contains("`content` must be a string"));
    assert!(err("fs", "read", json!({"path": "/a\u{0}b"})).contains("NUL"));
    assert!(err("fs", "delete", json!({"path": "/a"})).contains("unknown operation"));
}

#[test]
fn two_spellings_of_one_file_hash_alike() {
    let a = ok("fs", "read", json!({"path": "./a/../.env", "cwd": "/r"}));
    let b = ok("fs", "read", json!({"path": "/r/.env"}));
    assert_eq!(a.hash(), b.hash());
}

#[test]
fn shell_and_mcp_shapes() {
    let a = ok(
        "shell",
        "exec",
        json!({"command": "ls", "cwd": "/home/u/repo"}),
    );
    assert_eq!(a.resource, "shell:/home/u/repo");
    assert!(err("shell", "exec", json!({"command": ""})).contains("must not be empty"));
    assert!(err("shell", "exec", json!({"command": "ls", "cwd": "x"})).contains("absolute"));
    let a = ok("mcp:github", "create_issue", json!({"title": "x"}));
    assert_eq!(a.resource, "mcp:github");
    assert_eq!(a.payload, json!({"title": "x"}));
    assert_eq!(fact(&a, "tool"), &Fact::Str("create_issue".into()));
    assert!(err("mcp:github", "bad tool", json!({})).contains("tool name"));
}

#[test]
fn unknown_connectors_and_limits() {
    assert!(err("ftp", "get", json!({})).contains("unknown connector `ftp`"));
    assert!(err("mcp:", "x", json!({})).contains("unknown connector"));
    let mut deep = json!("x");
    for _ in 0..70 {
        deep = json!([deep]);
    }
    assert!(err("mcp:s", "t", json!({"a": deep})).contains("deeper than"));
    assert!(
        err(
            "slack",
            "chat.post",
            json!({"channel": "#x", "text": "a\u{0}b"})
        )
        .contains("NUL")
    );
}

#[test]
fn every_registered_fact_is_produced_somewhere() {
    // Inputs that together exercise every normalizer; any registered fact that none of them
    // produces is a fact policy could reference but never see.
    let sha = "b".repeat(40);
    let actions = [
        ok(
            "github",
            "pull_request.create",
            json!({"repo": "a/b", "base": "main", "head": "h", "title": "t", "files": [{"path": "x", "content": ""}]}),
        ),
        ok(
            "github",
            "issue.comment",
            json!({"repo": "a/b", "number": 1, "body": "x"}),
        ),
        ok(
            "github",
            "pull_request.merge",
            json!({"repo": "a/b", "number": 1, "sha": sha, "method": "merge"}),
        ),
        ok("slack", "chat.post", json!({"channel": "#x", "text": "x"})),
        ok(
            "linear",
            "issue.create",
            json!({"team": "T", "title": "x", "priority": 2}),
        ),
        ok(
            "postgres",
            "query",
            json!({"database": "d", "sql": "SELECT 1"}),
        ),
        ok(
            "http",
            "request",
            json!({"upstream": "u", "method": "GET", "path": "/"}),
        ),
        ok("fs", "read", json!({"path": "/x", "cwd": "/"})),
        ok(
            "fs",
            "glob",
            json!({"pattern": "*", "cwd": "/", "options": {"x": 1}}),
        ),
        ok("shell", "exec", json!({"command": "ls", "cwd": "/"})),
        ok("mcp:s", "t", json!({})),
        ok("web", "fetch", json!({"url": "https://x.dev/"})),
        ok("web", "search", json!({"query": "q"})),
        ok(
            "claude-code:Task",
            "Task",
            json!({"tool_input": {"prompt": "p"}}),
        ),
    ];
    for def in FACTS {
        assert!(
            actions.iter().any(|a| a.facts.contains_key(def.name)),
            "fact `{}` is never produced",
            def.name
        );
    }
}

#[test]
fn fs_edit_glob_and_search() {
    let cwd = "/home/u/repo";
    let a = ok(
        "fs",
        "edit",
        json!({"path": "src/lib.rs", "cwd": cwd,
               "edits": [{"old_string": "a", "new_string": "AKIAIOSFODNN7EXAMPLE", "replace_all": true}]}),
    );
    assert_eq!(fact(&a, "op"), &Fact::Str("write".into()));
    assert_eq!(list(&a, "paths"), ["src/lib.rs"]);
    assert_eq!(list(&a, "secrets"), ["aws_access_key_id"]);
    assert_eq!(
        a.payload,
        json!({"path": "/home/u/repo/src/lib.rs",
               "edits": [{"old_string": "a", "new_string": "AKIAIOSFODNN7EXAMPLE", "replace_all": true}]})
    );
    for (input, needle) in [
        (json!({"path": "/a", "edits": []}), "1 to 1000 edits"),
        (
            json!({"path": "/a", "edits": [{"old_string": "a"}]}),
            "needs `new_string`",
        ),
        (
            json!({"path": "/a", "edits": [{"old_string": "a", "new_string": 1}]}),
            "must be a string",
        ),
        (
            json!({"path": "/a", "edits": [{"old_string": "a", "new_string": "b", "x": 1}]}),
            "unknown field `x`",
        ),
        (
            json!({"path": "/a", "content": "x"}),
            "unknown field `content`",
        ),
    ] {
        assert!(err("fs", "edit", input.clone()).contains(needle), "{input}");
    }

    let g = ok("fs", "glob", json!({"pattern": "../.axtary/*", "cwd": cwd}));
    assert_eq!(list(&g, "abs_paths"), ["/home/u/.axtary"]);
    assert_eq!(fact(&g, "op"), &Fact::Str("read".into()));
    assert_eq!(fact(&g, "recursive"), &Fact::Bool(true));
    assert_eq!(fact(&g, "in_project"), &Fact::Bool(false));
    assert_eq!(a.resource, "fs:/home/u/repo/src/lib.rs");
    let g = ok("fs", "glob", json!({"pattern": "src/**/*.rs", "cwd": cwd}));
    assert_eq!(list(&g, "paths"), ["src"]);
    assert_eq!(g.payload, json!({"path": cwd, "pattern": "src/**/*.rs"}));
    let s = ok(
        "fs",
        "search",
        json!({"pattern": "TODO", "path": "crates", "cwd": cwd, "options": {"-i": true, "glob": "*.rs"}}),
    );
    assert_eq!(list(&s, "abs_paths"), ["/home/u/repo/crates"]);
    assert_eq!(fact(&s, "pattern"), &Fact::Str("TODO".into()));
    assert_eq!(list(&s, "options"), ["-i", "glob"]);
    assert!(err("fs", "search", json!({"pattern": "x"})).contains("need `path` or `cwd`"));
    assert!(err("fs", "glob", json!({"cwd": cwd})).contains("missing field `pattern`"));
    assert!(err("fs", "read", json!({"path": "/a", "options": []})).contains("must be an object"));
}

#[test]
fn real_paths_show_symlink_targets() {
    let cwd = "/home/u/repo";
    // `link` points at Axtary's home: policy sees both names.
    let a = ok(
        "fs",
        "read",
        json!({"path": "link/node.key", "cwd": cwd,
               "real_paths": {"/home/u/repo/link/node.key": "/home/u/.axtary/node.key"}}),
    );
    assert_eq!(
        list(&a, "abs_paths"),
        ["/home/u/repo/link/node.key", "/home/u/.axtary/node.key"]
    );
    assert_eq!(fact(&a, "in_project"), &Fact::Bool(false));
    // A project under a symlinked directory is still the project.
    let a = ok(
        "fs",
        "read",
        json!({"path": "src/a.rs", "cwd": "/link/repo",
               "real_paths": {"/link/repo": "/real/repo", "/link/repo/src/a.rs": "/real/repo/src/a.rs"}}),
    );
    assert_eq!(list(&a, "paths"), ["src/a.rs"]);
    assert_eq!(fact(&a, "in_project"), &Fact::Bool(true));
    let s = ok(
        "shell",
        "exec",
        json!({"command": "echo x > cfg", "cwd": cwd,
               "real_paths": {"/home/u/repo/cfg": "/home/u/repo/.claude/settings.json"}}),
    );
    assert_eq!(list(&s, "paths_written"), ["cfg", ".claude/settings.json"]);
    assert!(
        err(
            "fs",
            "read",
            json!({"path": "/a", "real_paths": {"rel": "/b"}})
        )
        .contains("absolute paths")
    );
}

#[test]
fn web_fetch_and_search() {
    let a = ok(
        "web",
        "fetch",
        json!({"url": "https://docs.example.com@evil.example/x?token=1", "prompt": "summarize"}),
    );
    assert_eq!(fact(&a, "host"), &Fact::Str("evil.example".into()));
    assert_eq!(a.resource, "web:evil.example");
    assert_eq!(fact(&a, "scheme"), &Fact::Str("https".into()));
    assert!(err("web", "fetch", json!({"url": "file:///etc/passwd"})).contains("http or https"));
    assert!(err("web", "fetch", json!({"url": "https://x", "x": 1})).contains("unknown field"));
    let s = ok(
        "web",
        "search",
        json!({"query": "rust", "allowed_domains": ["Docs.rs"], "blocked_domains": ["x.com"]}),
    );
    assert_eq!(list(&s, "domains"), ["docs.rs"]);
    assert_eq!(s.resource, "web:search");
    assert!(
        err(
            "web",
            "search",
            json!({"query": "q", "allowed_domains": "x"})
        )
        .contains("array")
    );
    assert!(err("web", "get", json!({})).contains("unknown operation"));
}

#[test]
fn claude_code_tools() {
    let a = ok(
        "claude-code:NotebookEdit",
        "NotebookEdit",
        json!({"tool_input": {"notebook_path": "nb.ipynb", "new_source": "x"}, "cwd": "/home/u/repo"}),
    );
    assert_eq!(a.resource, "claude-code:NotebookEdit");
    assert_eq!(fact(&a, "tool"), &Fact::Str("NotebookEdit".into()));
    assert_eq!(list(&a, "abs_paths"), ["/home/u/repo/nb.ipynb"]);
    assert_eq!(fact(&a, "in_project"), &Fact::Bool(true));
    let a = ok(
        "claude-code:Task",
        "Task",
        json!({"tool_input": {"prompt": "p", "description": "d"}}),
    );
    assert!(!a.facts.contains_key("paths"));
    assert!(
        err("claude-code:Task", "Other", json!({"tool_input": {}}))
            .contains("must be the tool name")
    );
    assert!(
        err("claude-code:Task", "Task", json!({"tool_input": 1})).contains("must be an object")
    );
    assert!(err("claude-code:a b", "a b", json!({"tool_input": {}})).contains("unknown connector"));
}

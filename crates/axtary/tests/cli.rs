#![allow(clippy::unwrap_used, clippy::expect_used)]

//! End-to-end tests of the `axtary` binary as a user's scripts drive it: real processes, real
//! files, stdin/stdout and exit codes (DESIGN.md §9).

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{Home, code, json, stderr, stdout};

#[test]
fn version_is_the_workspace_version() {
    let out = Home::new().run(&["--version"], "");
    assert_eq!(
        stdout(&out).trim(),
        format!("axtary {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn init_creates_private_files_and_is_idempotent() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::initialized();
    for (file, mode) in [
        ("node.key", 0o600),
        ("config.yaml", 0o600),
        ("policy.yaml", 0o600),
    ] {
        let meta = std::fs::metadata(home.path(file)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{file}");
    }
    assert_eq!(
        std::fs::metadata(&home.0).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let key = std::fs::read_to_string(home.path("node.key")).unwrap();
    std::fs::write(home.path("policy.yaml"), "version: 1\nrules: []\n").unwrap();
    let out = home.run(&["init", "--format", "json"], "");
    assert!(out.status.success());
    let report = json(&out);
    assert!(
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["created"] == false)
    );
    assert_eq!(
        std::fs::read_to_string(home.path("node.key")).unwrap(),
        key,
        "init must not replace the key"
    );
    assert_eq!(
        std::fs::read_to_string(home.path("policy.yaml")).unwrap(),
        "version: 1\nrules: []\n"
    );
}

#[test]
fn decide_exit_codes_follow_the_effect() {
    let home = Home::initialized();
    let cases = [
        (
            r##"{"connector":"slack","operation":"chat.post","input":{"channel":"#eng-bots","text":"done"}}"##,
            0,
            "allow",
        ),
        (
            r#"{"connector":"fs","operation":"read","input":{"path":"./a/../.env","cwd":"/home/dev/repo"}}"#,
            2,
            "deny",
        ),
        (
            r#"{"connector":"http","operation":"request","input":{"upstream":"internal-api","method":"DELETE","path":"/v1/x/1"}}"#,
            4,
            "require_approval",
        ),
    ];
    for (request, exit, effect) in cases {
        let out = home.run(&["decide"], request);
        assert_eq!(code(&out), exit, "{request}: {}", stderr(&out));
        let d = json(&out);
        assert_eq!(d["effect"], effect);
        assert!(d["action_hash"].as_str().unwrap().starts_with("sha256:"));
        assert!(d["policy_hash"].as_str().unwrap().starts_with("sha256:"));
        assert!(d["rule"].is_string() && d["reason"].is_string());
    }
}

#[test]
fn decide_on_bad_input_prints_a_deny_and_exits_3() {
    let home = Home::initialized();
    let big = format!(
        r##"{{"connector":"slack","operation":"chat.post","input":{{"channel":"#eng-bots","text":"{}"}}}}"##,
        "a".repeat(10 * 1024 * 1024)
    );
    let duplicate = r##"{"connector":"slack","operation":"chat.post","input":{"channel":"#eng-bots","channel":"#general","text":"x"}}"##;
    for (input, needle) in [
        ("{not json", "invalid JSON"),
        (duplicate, "duplicate key `channel`"),
        (big.as_str(), "over the limit"),
        (
            r#"{"connector":"ftp","operation":"get","input":{}}"#,
            "unknown connector `ftp`",
        ),
    ] {
        let out = home.run(&["decide"], input);
        assert_eq!(code(&out), 3, "{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
        let d = json(&out);
        assert_eq!(d["effect"], "deny");
        assert_eq!(d["rule"], "builtin:invalid-input");
    }
    let out = home.run_bytes(&["decide"], b"{\"connector\":\"\xff\"}");
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("UTF-8"));
}

#[test]
fn decide_without_a_policy_denies_everything() {
    let home = Home::new();
    let allowed = r##"{"connector":"slack","operation":"chat.post","input":{"channel":"#eng-bots","text":"done"}}"##;
    let out = home.run(&["decide"], allowed);
    assert_eq!(code(&out), 3);
    assert_eq!(json(&out)["effect"], "deny");
    assert_eq!(json(&out)["rule"], "builtin:invalid-policy");
    assert!(stderr(&out).contains("axtary init"), "{}", stderr(&out));

    // A corrupted policy file also denies everything; it never falls back to allow.
    let home = Home::initialized();
    std::fs::write(
        home.path("policy.yaml"),
        "version: 1\nrules:\n  - id: x\n    effect: alow\n",
    )
    .unwrap();
    let out = home.run(&["decide"], allowed);
    assert_eq!(code(&out), 3);
    assert_eq!(json(&out)["rule"], "builtin:invalid-policy");
    assert!(stderr(&out).contains("policy.yaml:4:"), "{}", stderr(&out));
}

#[test]
fn decide_text_format() {
    let home = Home::initialized();
    let out = home.run(
        &["decide", "--format", "text"],
        r#"{"connector":"fs","operation":"read","input":{"path":"/home/dev/repo/.env"}}"#,
    );
    assert_eq!(code(&out), 2);
    assert!(
        stdout(&out).starts_with("deny by no-secret-files:"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_guard_guards_itself() {
    let home = Home::initialized();
    let home_dir = home.0.display().to_string();
    let allow_all = home.path("allow-all.yaml");
    std::fs::write(
        &allow_all,
        "version: 1\nrules:\n  - id: everything\n    effect: allow\n",
    )
    .unwrap();
    let policy = allow_all.to_str().unwrap();
    for request in [
        format!(r#"{{"connector":"fs","operation":"read","input":{{"path":"{home_dir}/node.key"}}}}"#),
        format!(r#"{{"connector":"fs","operation":"write","input":{{"path":"{home_dir}/policy.yaml","content":"x"}}}}"#),
        r#"{"connector":"fs","operation":"write","input":{"path":".claude/settings.json","content":"{}","cwd":"/r"}}"#.to_owned(),
        r#"{"connector":"shell","operation":"exec","input":{"command":"axtary approvals approve 1","cwd":"/r"}}"#.to_owned(),
    ] {
        let out = home.run(&["decide", "--policy", policy], &request);
        assert_eq!(code(&out), 2, "{request}: {}", stdout(&out));
        let rule = json(&out)["rule"].as_str().unwrap().to_owned();
        assert!(rule.starts_with("builtin:self-protect"), "{request}: {rule}");
    }
}

#[test]
fn starter_policy_passes_its_own_tests() {
    let home = Home::initialized();
    let out = home.run(&["policy", "test"], "");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains(" passed, 0 failed"),
        "{}",
        stdout(&out)
    );
    let out = home.run(&["policy", "check"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ok,"), "{}", stdout(&out));
}

#[test]
fn policy_test_reports_failures() {
    let home = Home::initialized();
    let file = home.path("wrong.yaml");
    std::fs::write(
        &file,
        "version: 1\nrules:\n  - id: all\n    effect: allow\ntests:\n  - name: expects deny\n    request: {connector: linear, operation: issue.create, input: {team: ENG, title: x}}\n    expect: {effect: deny}\n",
    )
    .unwrap();
    let out = home.run(&["policy", "test", file.to_str().unwrap()], "");
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("FAILED expects deny"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("0 passed, 1 failed"),
        "{}",
        stdout(&out)
    );
    let out = home.run(
        &["policy", "test", "--format", "json", file.to_str().unwrap()],
        "",
    );
    assert_eq!(json(&out)["failed"], 1);
}

#[test]
fn policy_check_reports_every_mistake_with_positions() {
    let home = Home::initialized();
    let file = home.path("broken.yaml");
    std::fs::write(
        &file,
        "version: 1\nrules:\n  - id: a\n    effect: alow\n  - id: b\n    effect: deny\n    match: {connector: slack}\n    when: {fact: {paths: {glob: \"x\"}}}\n  - id: c\n    effect: deny\n    match: {connector: fs}\n    when: {any_path: [\"[\"]}\n  - id: d\n    effect: allow\n  - id: d\n    effect: deny\n",
    )
    .unwrap();
    let out = home.run(&["policy", "check", file.to_str().unwrap()], "");
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(err.contains("broken.yaml:4:"), "{err}");
    assert!(err.contains("alow"), "{err}");
    assert!(
        err.contains("never produced for connector `slack`"),
        "{err}"
    );
    assert!(err.contains("broken.yaml:12:"), "bad glob position: {err}");
    assert!(err.contains("duplicate rule id `d`"), "{err}");
    let out = home.run(
        &[
            "policy",
            "check",
            "--format",
            "json",
            file.to_str().unwrap(),
        ],
        "",
    );
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert!(report["errors"].as_u64().unwrap() >= 4, "{report}");
    let out = home.run(&["policy", "check", "/nonexistent/policy.yaml"], "");
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("no policy at"), "{}", stderr(&out));
}

#[test]
fn explain_lists_every_rule() {
    let home = Home::initialized();
    let action = home.path("action.json");
    std::fs::write(&action, r##"{"connector":"slack","operation":"chat.post","input":{"channel":"#general","text":"hi"}}"##)
        .unwrap();
    let out = home.run(
        &["policy", "explain", "--action", action.to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("decision: deny by slack-other-channels"),
        "{text}"
    );
    assert!(text.contains("MATCH slack-other-channels"), "{text}");
    assert!(text.contains("slack-bots-channel"), "{text}");
    let out = home.run(
        &["policy", "explain", "--format", "json", "--action", "-"],
        &std::fs::read_to_string(&action).unwrap(),
    );
    let report = json(&out);
    assert_eq!(report["decision"]["rule"], "slack-other-channels");
    assert!(report["rules"].as_array().unwrap().len() > 20);
}

#[test]
fn normalize_shows_facts_and_hash() {
    let home = Home::new();
    let out = home.run(
        &["normalize"],
        r#"{"connector":"fs","operation":"read","input":{"path":"./a/../.env","cwd":"/home/dev/repo"}}"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let a = json(&out);
    assert_eq!(a["resource"], "fs:/home/dev/repo/.env");
    assert_eq!(a["facts"]["paths"][0], ".env");
    assert!(a["action_hash"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn closed_stdout_is_not_an_error() {
    let home = Home::initialized();
    let mut child = Command::new(env!("CARGO_BIN_EXE_axtary"))
        .args(["policy", "explain", "--action", "-"])
        .env("AXTARY_HOME", &home.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br##"{"connector":"slack","operation":"chat.post","input":{"channel":"#x","text":"hi"}}"##)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

/// The approval id in a `require_approval` decision.
fn approval_id(o: &Output) -> String {
    json(o)["approval_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no approval_id: {}", stdout(o)))
        .to_owned()
}

#[test]
fn approvals_bind_the_exact_payload() {
    let home = Home::initialized();
    let request = r#"{"agent":"bot","connector":"http","operation":"request","input":{"upstream":"internal-api","method":"DELETE","path":"/v1/customers/7"}}"#;
    let out = home.run(&["decide"], request);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let id = approval_id(&out);
    let hash = json(&out)["action_hash"].as_str().unwrap().to_owned();
    // Asking again does not open a second request.
    assert_eq!(approval_id(&home.run(&["decide"], request)), id);

    // No terminal and no --confirm-hash: refused. A wrong hash: refused.
    let out = home.run(&["approvals", "approve", &id], "");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("--confirm-hash"), "{}", stderr(&out));
    let out = home.run(
        &["approvals", "approve", &id, "--confirm-hash", "sha256:00"],
        "",
    );
    assert_eq!(code(&out), 1);
    let listed = home.run(&["approvals", "list", "--format", "json"], "");
    assert_eq!(json(&listed)[0]["status"], "pending");

    let out = home.run(&["approvals", "show", &id], "");
    assert!(
        stdout(&out).contains("DELETE /v1/customers/7"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains(&hash));

    home.approve(&id, &hash);

    // The same payload with its keys reordered has the same hash: allowed, once.
    let reordered = r#"{"agent":"bot","connector":"http","operation":"request","input":{"path":"/v1/customers/7","method":"DELETE","upstream":"internal-api"}}"#;
    let out = home.run(&["decide"], reordered);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(json(&out)["approvals"][0], id);
    // Replay: used up.
    let out = home.run(&["decide"], request);
    assert_eq!(code(&out), 4);
    assert!(
        json(&out)["reason"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{}",
        stdout(&out)
    );

    // One byte changed: a different action, a new request.
    let changed = request.replace("/7", "/8");
    let out = home.run(&["decide"], &changed);
    assert_eq!(code(&out), 4);
    assert_ne!(approval_id(&out), id);

    // Another agent cannot use an approval.
    let other = request.replace("\"bot\"", "\"other-bot\"");
    let id2 = approval_id(&home.run(&["decide"], &other));
    let h2 = json(&home.run(&["decide"], &other))["action_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    home.run(
        &[
            "approvals",
            "approve",
            &id2,
            "--as",
            "alice",
            "--confirm-hash",
            &h2,
        ],
        "",
    );
    let out = home.run(&["decide"], request);
    assert_eq!(
        code(&out),
        4,
        "an approval for other-bot must not serve bot"
    );

    // Every step is in the ledger, and the ledger verifies.
    let out = home.run(&["ledger", "verify"], "");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn two_approvers_must_be_distinct_and_denial_is_final() {
    let home = Home::initialized();
    let pr = r#"{"agent":"bot","connector":"github","operation":"pull_request.create","input":{"repo":"acme/api","base":"main","head":"agent/scale","title":"Scale","files":[{"path":"infra/prod/main.tf","content":"n = 4"}]}}"#;
    let out = home.run(&["decide"], pr);
    assert_eq!(code(&out), 4);
    assert_eq!(json(&out)["approvers"]["count"], 2);
    let id = approval_id(&out);
    let hash = json(&out)["action_hash"].as_str().unwrap().to_owned();
    assert!(
        home.run(
            &[
                "approvals",
                "approve",
                &id,
                "--as",
                "alice",
                "--confirm-hash",
                &hash
            ],
            ""
        )
        .status
        .success()
    );
    let again = home.run(
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "alice",
            "--confirm-hash",
            &hash,
        ],
        "",
    );
    assert_eq!(code(&again), 1);
    assert!(
        stderr(&again).contains("already answered"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        code(&home.run(&["decide"], pr)),
        4,
        "one of two approvals is not enough"
    );
    assert!(
        home.run(
            &[
                "approvals",
                "approve",
                &id,
                "--as",
                "bob",
                "--confirm-hash",
                &hash
            ],
            ""
        )
        .status
        .success()
    );
    assert_eq!(code(&home.run(&["decide"], pr)), 0);

    let merge = r#"{"agent":"bot","connector":"github","operation":"pull_request.merge","input":{"repo":"acme/api","number":9,"sha":"0123456789abcdef0123456789abcdef01234567","method":"squash"}}"#;
    let id = approval_id(&home.run(&["decide"], merge));
    let out = home.run(
        &[
            "approvals",
            "deny",
            &id,
            "--as",
            "carol",
            "--reason",
            "not during the freeze",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = home.run(&["decide"], merge);
    assert_eq!(code(&out), 2);
    assert_eq!(json(&out)["rule"], "builtin:approval-denied");
    assert!(json(&out)["reason"].as_str().unwrap().contains("freeze"));
}

#[test]
fn usage_errors_exit_3_not_2() {
    let home = Home::new();
    assert_eq!(code(&home.run(&["--no-such-flag"], "")), 3);
    assert_eq!(code(&home.run(&["decide", "--format", "yaml"], "")), 3);
    assert_eq!(code(&home.run(&["--help"], "")), 0);
}

#[test]
fn secrets_go_in_and_never_come_out() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::initialized();
    let canary = "canary-7f3a9c1e5b2d4f6a8c0e";
    let out = home.run(&["secrets", "set", "slack-bot"], &format!("{canary}\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(home.path("secrets.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    for args in [
        &["secrets", "list"][..],
        &["secrets", "list", "--format", "json"],
    ] {
        let out = home.run(args, "");
        assert!(out.status.success());
        assert!(stdout(&out).contains("slack-bot"), "{}", stdout(&out));
        assert!(!stdout(&out).contains(canary) && !stderr(&out).contains(canary));
    }
    // A value too short to be redacted reliably is refused, and says why, without echoing it.
    let out = home.run(&["secrets", "set", "short"], "abc");
    assert_eq!(code(&out), 1);
    assert!(!stderr(&out).contains("abc\n"));
    // Looser permissions are refused.
    std::fs::set_permissions(
        home.path("secrets.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = home.run(&["secrets", "list"], "");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("chmod"), "{}", stderr(&out));
    std::fs::set_permissions(
        home.path("secrets.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    assert!(
        home.run(&["secrets", "rm", "slack-bot"], "")
            .status
            .success()
    );
    assert_eq!(code(&home.run(&["secrets", "rm", "slack-bot"], "")), 1);
    // The canary never reached the ledger either.
    let out = home.run(
        &[
            "ledger",
            "export",
            "--out",
            home.path("b.json").to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !std::fs::read_to_string(home.path("b.json"))
            .unwrap()
            .contains(canary)
    );
}

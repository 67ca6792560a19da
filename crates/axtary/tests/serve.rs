//! `axtary serve`: the real binary on a free port, driven over real sockets, against a local
//! HTTP upstream. Covers authentication, every route, approvals (also across processes), hot
//! policy reload, graceful shutdown, and that the canary secret never leaves the broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::http::request;
use common::upstream::{BINARY, Upstream};
use common::{Home, json, stderr};

const CANARY: &str = "canary-5d71e0-SECRET-never-leak-93ab";

/// An initialized home whose `http` connector points at `upstream` with the canary credential.
fn home_with(upstream: &Upstream, timeout_secs: u32, extra: &str) -> Home {
    let timeout = format!("        timeout_secs: {timeout_secs}\n");
    common::upstream::home_with(upstream, CANARY, &timeout, extra)
}

fn http_action(method: &str, path: &str) -> String {
    format!(
        r#"{{"agent":"tester","connector":"http","operation":"request","input":{{"upstream":"internal-api","method":"{method}","path":"{path}"}}}}"#
    )
}

const SLACK_OK: &str = r##"{"agent":"bot","connector":"slack","operation":"chat.post","input":{"channel":"#eng-bots","text":"hello"}}"##;
const SLACK_GENERAL: &str = r##"{"agent":"bot","connector":"slack","operation":"chat.post","input":{"channel":"#general","text":"hello"}}"##;

#[test]
fn every_route_but_healthz_needs_the_agent_token() {
    let home = Home::initialized();
    let d = Daemon::start(&home);
    assert_eq!(d.anonymous("GET", "/healthz", &[], "").status, 200);
    let wrong = format!("Bearer {}", "0".repeat(64));
    let basic = format!("Basic {}", d.token);
    let short = format!("Bearer {}", &d.token[..63]);
    for (method, path, body) in [
        ("POST", "/v1/decide", SLACK_OK),
        ("POST", "/v1/actions", SLACK_OK),
        ("GET", "/v1/approvals/apr_0000000000000000", ""),
        ("GET", "/metrics", ""),
        ("GET", "/openapi.json", ""),
        ("GET", "/proxy/internal-api/v1/x", ""),
        (
            "POST",
            "/mcp",
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        ),
        ("GET", "/mcp", ""),
        ("DELETE", "/mcp", ""),
    ] {
        for headers in [
            vec![],
            vec![("authorization", wrong.as_str())],
            vec![("authorization", basic.as_str())],
            vec![("authorization", short.as_str())],
        ] {
            let r = d.anonymous(method, path, &headers, body);
            assert_eq!(r.status, 401, "{method} {path} {headers:?}: {}", r.text());
            assert_eq!(r.code(), "unauthorized");
            assert!(r.headers["www-authenticate"].starts_with("Bearer"));
        }
    }
    // Nothing was decided or recorded for any of them.
    let m = d.call("GET", "/metrics", "").text();
    assert!(
        m.contains("axtary_decisions_total{effect=\"allow\"} 0"),
        "{m}"
    );
    assert!(!d.stdout().contains(&d.token) && !d.stderr().contains(&d.token));
    // The token is accepted case-insensitively in its scheme only.
    let lower = format!("bearer {}", d.token);
    assert_eq!(
        d.anonymous("GET", "/metrics", &[("authorization", &lower)], "")
            .status,
        200
    );
}

#[test]
fn serve_refuses_a_loose_token_file_and_non_loopback_addresses() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::initialized();
    let out = home.run(&["serve", "--listen", "0.0.0.0:0"], "");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("--allow-remote"), "{}", stderr(&out));

    let token = home.path("agent.token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = home.run(&["serve", "--listen", "127.0.0.1:0"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));

    // `init` is idempotent: the token is kept, not replaced.
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::read_to_string(&token).unwrap();
    assert!(home.run(&["init"], "").status.success());
    assert_eq!(std::fs::read_to_string(&token).unwrap(), before);
    assert_eq!(before.trim().len(), 64);
}

#[test]
fn decide_answers_every_effect_and_records_it() {
    let home = Home::initialized();
    let d = Daemon::start(&home);

    let r = d.call("POST", "/v1/decide", SLACK_OK);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["effect"], "allow");
    assert!(r.json()["ledger_seq"].as_u64().is_some());

    let r = d.call("POST", "/v1/decide", SLACK_GENERAL);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["effect"], "deny");

    let r = d.call(
        "POST",
        "/v1/decide",
        &http_action("DELETE", "/v1/customers/7"),
    );
    assert_eq!(r.status, 200);
    let decision = r.json();
    assert_eq!(decision["effect"], "require_approval");
    let id = decision["approval_id"].as_str().unwrap().to_owned();

    let a = d.call("GET", &format!("/v1/approvals/{id}"), "");
    assert_eq!(a.status, 200, "{}", a.text());
    let a = a.json();
    assert_eq!(a["status"], "pending");
    assert_eq!(a["action_hash"], decision["action_hash"]);
    assert_eq!(a["approvers"]["count"], 1);
    assert!(a["expires_at"].as_i64().unwrap() > a["created_at"].as_i64().unwrap());
    for missing in ["/v1/approvals/apr_0123456789abcdef", "/v1/approvals/nope"] {
        let r = d.call("GET", missing, "");
        assert_eq!(r.status, 404);
        assert_eq!(r.code(), "not_found");
    }

    // Malformed, duplicate keys, wrong shape: 400 with the recorded deny.
    for bad in [
        "{",
        r#"{"connector":"slack","connector":"x"}"#,
        r#"{"connector":"slack"}"#,
        "[]",
    ] {
        let r = d.call("POST", "/v1/decide", bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.code(), "invalid_request");
        assert_eq!(r.json()["decision"]["rule"], "builtin:invalid-input");
        assert!(r.json()["decision"]["ledger_seq"].as_u64().is_some());
    }
    let r = d.call_with("POST", "/v1/decide", &[], b"{\"connector\":\"\xff\"}");
    assert_eq!(r.status, 400);

    let r = d.call("GET", "/v1/nothing-here", "");
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "not_found");
    let r = d.call("GET", "/v1/decide", "");
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "method_not_allowed");

    let h = d.health();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["policy"]["status"], "loaded");
    // policy_loaded + 3 decisions + approval_requested + 5 invalid-input denies.
    assert!(h["ledger"]["entries"].as_u64().unwrap() >= 10, "{h}");
}

#[test]
fn bodies_over_the_limit_are_refused_with_413() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, 5, "");
    let config = std::fs::read_to_string(home.path("config.yaml"))
        .unwrap()
        .replace("max_payload_bytes: 1048576", "max_payload_bytes: 2048");
    std::fs::write(home.path("config.yaml"), config).unwrap();
    let d = Daemon::start(&home);
    let big = format!(
        r##"{{"connector":"slack","operation":"chat.post","input":{{"channel":"#eng-bots","text":"{}"}}}}"##,
        "x".repeat(4096)
    );
    for path in ["/v1/decide", "/v1/actions", "/proxy/internal-api/v1/upload"] {
        let r = d.call("POST", path, &big);
        assert_eq!(r.status, 413, "{path}: {}", r.text());
        assert_eq!(r.code(), "payload_too_large");
    }
    // Chunked, so no Content-Length announces it: still refused while reading.
    let chunk = "x".repeat(3000);
    let chunked = format!("{:x}\r\n{chunk}\r\n0\r\n\r\n", chunk.len());
    let r = d.call_with(
        "POST",
        "/v1/decide",
        &[("transfer-encoding", "chunked")],
        chunked.as_bytes(),
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(upstream.requests().is_empty());
    // Just under the limit is fine.
    assert_eq!(d.call("POST", "/v1/decide", SLACK_OK).status, 200);
}

#[test]
fn actions_run_with_the_credential_injected_and_scrubbed() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, 5, "");
    let mut d = Daemon::start(&home);
    let mut seen_by_agent = Vec::new();

    let r = d.call(
        "POST",
        "/v1/actions",
        &http_action("GET", "/v1/customers/7"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["status"], "executed");
    assert_eq!(j["result"]["http_status"], 200);
    assert!(j.get("error").is_none());
    assert!(r.text().contains("[REDACTED"), "{}", r.text());
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {CANARY}"));
    assert_eq!(
        seen[0].headers["axtary-pass"].split('.').count(),
        3,
        "the pass is forwarded"
    );
    seen_by_agent.push(r);

    // The provider fails: 502 with the (scrubbed) provider answer.
    let r = d.call(
        "POST",
        "/v1/actions",
        &http_action("GET", "/status/500/boom"),
    );
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.code(), "action_failed");
    assert_eq!(r.json()["result"]["http_status"], 500);
    seen_by_agent.push(r);

    // Denied: 403, nothing sent.
    let before = upstream.requests().len();
    let post = r#"{"agent":"tester","connector":"http","operation":"request","input":{"upstream":"internal-api","method":"POST","path":"/v1/customers","body":{"name":"x"}}}"#;
    let r = d.call("POST", "/v1/actions", post);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.code(), "denied");
    assert_eq!(r.json()["status"], "denied");
    seen_by_agent.push(r);

    // Invalid: 400.
    let r = d.call(
        "POST",
        "/v1/actions",
        r#"{"connector":"http","operation":"request","input":{"a":1,"a":2}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.code(), "invalid_request");
    seen_by_agent.push(r);

    // Dry run: what would be sent, credential redacted, nothing sent.
    let r = d.call(
        "POST",
        "/v1/actions?dry_run=true",
        &http_action("GET", "/v1/customers/8"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "dry_run");
    assert!(r.text().contains("/v1/customers/8"));
    seen_by_agent.push(r);
    assert_eq!(
        upstream.requests().len(),
        before,
        "denied, invalid and dry runs send nothing"
    );

    let r = d.call("POST", "/v1/actions?wait=301", &http_action("GET", "/v1/x"));
    assert_eq!(r.status, 400);
    let r = d.call("POST", "/v1/actions?bogus=1", &http_action("GET", "/v1/x"));
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_request");

    let m = d.call("GET", "/metrics", "").text();
    assert!(
        m.contains("axtary_runs_total{status=\"executed\"} 1"),
        "{m}"
    );
    assert!(m.contains("axtary_runs_total{status=\"failed\"} 1"), "{m}");
    assert!(m.contains("axtary_runs_total{status=\"denied\"} 2"), "{m}");
    assert!(m.contains("axtary_runs_total{status=\"dry_run\"} 1"), "{m}");

    for r in &seen_by_agent {
        assert!(!r.raw().contains(CANARY), "leak: {}", r.raw());
    }
    assert_eq!(d.stop().code(), Some(0), "{}", d.stderr());
    assert!(!d.stdout().contains(CANARY) && !d.stderr().contains(CANARY));
    let ledger = home.ledger_jsonl();
    assert!(!ledger.contains(CANARY));
    assert!(ledger.contains("\"executed\""), "{ledger}");
}

#[test]
fn a_pending_action_runs_once_approved_from_the_cli_and_resubmitted() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, 5, "");
    let d = Daemon::start(&home);
    let delete = http_action("DELETE", "/v1/customers/7");
    let r = d.call("POST", "/v1/actions", &delete);
    assert_eq!(r.status, 202, "{}", r.text());
    let j = r.json();
    assert_eq!(j["status"], "pending_approval");
    let id = j["approval_id"].as_str().unwrap().to_owned();
    let hash = j["decision"]["action_hash"].as_str().unwrap().to_owned();
    assert!(upstream.requests().is_empty());

    // Submitting it again while pending names the same request.
    let again = d.call("POST", "/v1/actions", &delete);
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["approval_id"], id.as_str());

    home.approve(&id, &hash);
    assert_eq!(
        d.call("GET", &format!("/v1/approvals/{id}"), "").json()["status"],
        "approved"
    );

    let r = d.call("POST", "/v1/actions", &delete);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "executed");
    assert_eq!(r.json()["decision"]["approvals"][0], id.as_str());
    assert_eq!(upstream.requests().len(), 1);
    assert_eq!(upstream.requests()[0].method, "DELETE");
    let a = d.call("GET", &format!("/v1/approvals/{id}"), "").json();
    assert_eq!(a["status"], "used");
    assert_eq!(a["approved_by"][0], "alice");
    // Single use: the same action needs a new approval.
    assert_eq!(d.call("POST", "/v1/actions", &delete).status, 202);
}

/// The approval request a waiting call opened, found from another process.
fn pending_approval(home: &Home) -> (String, String) {
    let start = Instant::now();
    loop {
        let out = home.run(&["approvals", "list", "--format", "json"], "");
        if let Some(a) = json(&out).as_array().and_then(|a| a.first()) {
            return (
                a["id"].as_str().unwrap().to_owned(),
                a["action_hash"].as_str().unwrap().to_owned(),
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no approval request appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn wait_returns_as_soon_as_another_process_decides() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, 5, "");
    let d = Daemon::start(&home);
    let url = d.url.clone();
    let token = d.token.clone();
    let call = move |path: &'static str| {
        let url = url.clone();
        let auth = format!("Bearer {token}");
        std::thread::spawn(move || {
            let start = Instant::now();
            let r = request(
                &url,
                "POST",
                "/v1/actions?wait=60",
                &[("authorization", &auth)],
                http_action("DELETE", path).as_bytes(),
            );
            (r, start.elapsed())
        })
    };

    // Approved: the waiting call runs the action and answers executed.
    let waiting = call("/v1/customers/1");
    let (id, hash) = pending_approval(&home);
    let out = home.run(
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "bob",
            "--confirm-hash",
            &hash,
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (r, took) = waiting.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "executed");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(upstream.requests().len(), 1);

    // Denied: the waiting call answers the deny.
    let waiting = call("/v1/customers/2");
    let (id, _) = loop {
        let (id, hash) = pending_approval(&home);
        let out = home.run(&["approvals", "list", "--format", "json"], "");
        if json(&out).as_array().unwrap().len() == 1 {
            break (id, hash);
        }
    };
    let out = home.run(
        &["approvals", "deny", &id, "--as", "bob", "--reason", "no"],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (r, _) = waiting.join().unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["decision"]["rule"], "builtin:approval-denied");
    assert_eq!(upstream.requests().len(), 1);

    // Nobody decides: the call answers pending when the wait is over.
    let start = Instant::now();
    let r = d.call(
        "POST",
        "/v1/actions?wait=1",
        &http_action("DELETE", "/v1/customers/3"),
    );
    assert_eq!(r.status, 202);
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[test]
fn a_client_that_hangs_up_does_not_cancel_the_action() {
    use std::io::Write;
    let upstream = Upstream::start();
    let home = home_with(&upstream, 10, "");
    let mut d = Daemon::start(&home);
    let body = http_action("GET", "/slow/hangup");
    let mut stream = std::net::TcpStream::connect(d.url.strip_prefix("http://").unwrap()).unwrap();
    write!(
        stream,
        "POST /v1/actions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\n\r\n{body}",
        d.token,
        body.len()
    )
    .unwrap();
    let start = Instant::now();
    while upstream.requests().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the request never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Hang up while the upstream holds the request (it answers after 4 s).
    drop(stream);
    loop {
        let m = d.call("GET", "/metrics", "").text();
        if m.contains("axtary_runs_total{status=\"executed\"} 1") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never executed: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(d.stop().code(), Some(0));
    let ledger = home.ledger_jsonl();
    assert!(ledger.contains("\"kind\":\"executed\""), "{ledger}");
    assert!(!ledger.contains("outcome_unknown"), "{ledger}");
}

const GOOD_POLICY_V2: &str = r##"version: 1
rules:
  - id: only-general
    effect: allow
    reason: v2 allows #general only
    match: {connector: slack, operation: chat.post}
    when: {fact: {channel: {in: ["#general"]}}}
"##;

#[test]
fn policy_changes_are_reloaded_and_a_bad_policy_keeps_the_good_one() {
    let home = Home::initialized();
    let mut d = Daemon::start(&home);
    let first = d.health()["policy"]["hash"].clone();
    assert_eq!(
        d.call("POST", "/v1/decide", SLACK_OK).json()["effect"],
        "allow"
    );

    // good -> bad: the previous policy stays in force, and it is reported.
    std::fs::write(
        home.path("policy.yaml"),
        "version: 1\nrules: [{id: x, effect: alow}]\n",
    )
    .unwrap();
    let h = d.until_health("stale", |h| h["policy"]["status"] == "stale");
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["policy"]["hash"], first);
    assert!(
        h["policy"]["error"].as_str().unwrap().contains("invalid"),
        "{h}"
    );
    let r = d.call("POST", "/v1/decide", SLACK_OK).json();
    assert_eq!(r["effect"], "allow", "{r}");
    assert_eq!(r["policy_hash"], first);
    assert!(d.stderr().contains("stays in force"), "{}", d.stderr());
    let m = d.call("GET", "/metrics", "").text();
    assert!(
        m.contains("axtary_policy_reloads_total{result=\"failed\"} 1"),
        "{m}"
    );
    assert!(m.contains("axtary_policy_loaded 1"), "{m}");

    // bad -> good (a different one): it is in force.
    std::fs::write(home.path("policy.yaml"), GOOD_POLICY_V2).unwrap();
    let h = d.until_health("reloaded", |h| h["policy"]["status"] == "loaded");
    assert_ne!(h["policy"]["hash"], first);
    assert_eq!(h["status"], "ok");
    assert_eq!(
        d.call("POST", "/v1/decide", SLACK_OK).json()["effect"],
        "deny"
    );
    assert_eq!(
        d.call("POST", "/v1/decide", SLACK_GENERAL).json()["effect"],
        "allow"
    );
    assert!(d.stderr().contains("policy reloaded"), "{}", d.stderr());
    let m = d.call("GET", "/metrics", "").text();
    assert!(
        m.contains("axtary_policy_reloads_total{result=\"ok\"} 1"),
        "{m}"
    );
    // Each policy in force is in the ledger.
    assert_eq!(d.stop().code(), Some(0));
    let loads = home
        .ledger_jsonl()
        .lines()
        .filter(|l| l.contains("\"policy_loaded\""))
        .count();
    assert_eq!(loads, 2);
}

#[test]
fn a_daemon_started_without_a_valid_policy_denies_until_one_loads() {
    let home = Home::initialized();
    std::fs::write(
        home.path("policy.yaml"),
        "version: 1\nrules: [{id: x, effect: alow}]\n",
    )
    .unwrap();
    let d = Daemon::start(&home);
    let h = d.health();
    assert_eq!(h["policy"]["status"], "invalid");
    assert_eq!(h["status"], "degraded");
    let r = d.call("POST", "/v1/decide", SLACK_OK).json();
    assert_eq!(r["effect"], "deny");
    assert_eq!(r["rule"], "builtin:invalid-policy");
    assert!(
        d.call("GET", "/metrics", "")
            .text()
            .contains("axtary_policy_loaded 0")
    );
    std::fs::write(home.path("policy.yaml"), GOOD_POLICY_V2).unwrap();
    d.until_health("loaded", |h| h["policy"]["status"] == "loaded");
    assert_eq!(
        d.call("POST", "/v1/decide", SLACK_GENERAL).json()["effect"],
        "allow"
    );
}

#[test]
fn sigterm_finishes_in_flight_requests_then_checkpoints() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, 10, "");
    let mut d = Daemon::start(&home);
    assert_eq!(d.call("POST", "/v1/decide", SLACK_OK).status, 200);
    let url = d.url.clone();
    let auth = format!("Bearer {}", d.token);
    let in_flight = std::thread::spawn(move || {
        request(
            &url,
            "POST",
            "/v1/actions",
            &[("authorization", &auth)],
            http_action("GET", "/slow/report").as_bytes(),
        )
    });
    let start = Instant::now();
    while upstream.requests().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the request never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d.signal("-TERM");
    std::thread::sleep(Duration::from_millis(300));
    let addr = d.url.strip_prefix("http://").unwrap().to_owned();
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "still accepting connections after SIGTERM"
    );
    let r = in_flight.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "executed");
    let status = d.wait();
    assert_eq!(status.code(), Some(0), "{}", d.stderr());
    assert!(d.stderr().contains("checkpoint signed"), "{}", d.stderr());

    // The outcome (queued, not awaited, by the daemon) was flushed, and the newest checkpoint
    // covers every entry.
    let ledger = home.ledger_jsonl();
    assert!(
        ledger.lines().any(|l| l.contains("\"executed\"")),
        "{ledger}"
    );
    let out = home.run(&["ledger", "verify", "--format", "json"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["result"]["checkpointed"], v["result"]["entries"], "{v}");
}

#[test]
fn the_proxy_forwards_with_the_credential_and_the_pass() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, 5, "");
    let d = Daemon::start(&home);
    let mut answers = Vec::new();

    let r = d.call_with(
        "GET",
        "/proxy/internal-api/v1/customers/7?expand=orders&x=%20y",
        &[
            ("x-request-id", "abc"),
            ("axtary-agent", "script"),
            ("accept", "application/json"),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(r.headers.contains_key("axtary-ledger-seq"));
    let body = r.json();
    assert_eq!(body["path"], "/v1/customers/7?expand=orders&x=%20y");
    assert!(
        body["echo"].as_str().unwrap().contains("[REDACTED"),
        "{body}"
    );
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/v1/customers/7?expand=orders&x=%20y");
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {CANARY}"));
    assert_eq!(seen[0].headers["x-request-id"], "abc");
    assert!(!seen[0].headers.contains_key("axtary-agent"));
    let pass = &seen[0].headers["axtary-pass"];
    let inspect = home.run(&["pass", "inspect", pass, "--format", "json"], "");
    let claims = &json(&inspect)["claims"];
    assert_eq!(claims["sub"], "script");
    assert_eq!(claims["aud"], "http");
    assert_eq!(claims["res"], "http:internal-api");
    answers.push(r);

    // The agent token never reaches the upstream.
    for s in upstream.requests() {
        assert!(!format!("{s:?}").contains(&d.token));
    }

    // Upstream statuses come back as they are, and so do non-UTF-8 bodies.
    let r = d.call("GET", "/proxy/internal-api/status/404/missing", "");
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["ok"], false);
    answers.push(r);
    let r = d.call("GET", "/proxy/internal-api/binary", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, BINARY);
    assert_eq!(r.headers["content-type"], "application/octet-stream");

    // Denied and pending are JSON errors; nothing is sent.
    let before = upstream.requests().len();
    let r = d.call_with(
        "POST",
        "/proxy/internal-api/v1/customers",
        &[("content-type", "application/json")],
        br#"{"name":"x"}"#,
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.code(), "denied");
    answers.push(r);
    let r = d.call("DELETE", "/proxy/internal-api/v1/customers/9", "");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.code(), "approval_required");
    assert!(
        r.json()["approval_id"]
            .as_str()
            .unwrap()
            .starts_with("apr_")
    );
    answers.push(r);
    let r = d.call_with(
        "POST",
        "/proxy/internal-api/v1/customers",
        &[("content-type", "application/json")],
        br#"{"a":1,"a":2}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.code(), "invalid_request");
    let r = d.call("GET", "/proxy/nowhere/v1/x", "");
    assert_eq!(
        r.status,
        403,
        "no rule allows an unknown upstream: {}",
        r.text()
    );
    assert_eq!(upstream.requests().len(), before);

    // A dry run through the proxy shows the request with the credential redacted.
    let r = d.call_with(
        "GET",
        "/proxy/internal-api/v1/dry",
        &[("axtary-dry-run", "true")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "dry_run");
    assert_eq!(upstream.requests().len(), before);
    answers.push(r);

    for r in &answers {
        assert!(!r.raw().contains(CANARY), "leak: {}", r.raw());
    }
    assert_eq!(d.stop_and_check_no_canary(&home), Some(0));
}

impl Daemon {
    /// Stops the daemon and checks that the canary is nowhere in its output or the ledger.
    fn stop_and_check_no_canary(mut self, home: &Home) -> Option<i32> {
        let code = self.stop().code();
        assert!(!self.stdout().contains(CANARY), "stdout leaks");
        assert!(!self.stderr().contains(CANARY), "stderr leaks");
        assert!(!home.ledger_jsonl().contains(CANARY), "the ledger leaks");
        code
    }
}

#[test]
fn the_canary_never_leaves_the_broker() {
    let upstream = Upstream::start();
    let home = home_with(&upstream, 1, "");
    let d = Daemon::start(&home);
    let mut answers = Vec::new();
    // The agent tries to smuggle the credential or learn it in every way it can.
    let smuggle = r#"{"agent":"tester","connector":"http","operation":"request","input":{"upstream":"internal-api","method":"GET","path":"/v1/echo","headers":{"authorization":"Bearer x"}}}"#.to_owned();
    for (path, body) in [
        ("/v1/actions", http_action("GET", "/v1/customers/7")),
        ("/v1/actions", http_action("GET", "/status/401/denied")),
        ("/v1/actions", http_action("GET", "/slow/timeout")),
        (
            "/v1/actions?dry_run=true",
            http_action("GET", "/v1/customers/7"),
        ),
        ("/v1/actions", smuggle.clone()),
        ("/v1/decide", http_action("GET", "/v1/customers/7")),
    ] {
        answers.push(d.call("POST", path, &body));
    }
    answers.push(d.call("GET", "/proxy/internal-api/v1/customers/7", ""));
    answers.push(d.call("GET", "/proxy/internal-api/status/403/nope", ""));
    answers.push(d.call("GET", "/metrics", ""));
    answers.push(d.call("GET", "/openapi.json", ""));
    answers.push(d.anonymous("GET", "/healthz", &[], ""));
    // The upstream did see the credential (it echoes it back each time).
    assert!(
        upstream
            .requests()
            .iter()
            .any(|s| s.headers.get("authorization") == Some(&format!("Bearer {CANARY}")))
    );
    for r in &answers {
        assert!(!r.raw().contains(CANARY), "leak: {}", r.raw());
    }
    assert_eq!(d.stop_and_check_no_canary(&home), Some(0));
}

/// Checks `text` against the Prometheus text exposition format (0.0.4): comment lines,
/// metric and label names, label value escapes, values, one TYPE per family before its
/// samples, and histogram buckets that are cumulative with `+Inf` equal to `_count`.
fn check_prometheus(text: &str) -> std::collections::BTreeMap<String, f64> {
    use std::collections::{BTreeMap, HashMap};
    fn is_name(s: &str, colon: bool) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    }
    assert!(text.ends_with('\n'), "the text must end with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = BTreeMap::new();
    let mut buckets: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts.next().unwrap_or_default();
            assert!(is_name(name, true), "bad name in {line:?}");
            if kind == "TYPE" {
                let t = parts.next().unwrap_or_default();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                    "{line:?}"
                );
                assert!(
                    types.insert(name.to_owned(), t.to_owned()).is_none(),
                    "second TYPE: {line:?}"
                );
            } else {
                assert_eq!(kind, "HELP", "{line:?}");
            }
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "bad line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').unwrap_or_else(|| panic!("{line:?}"))),
            None => (series, ""),
        };
        assert!(is_name(name, true), "bad metric name in {line:?}");
        let mut parsed = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (label, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("{line:?}"));
            assert!(is_name(label, false), "bad label name in {line:?}");
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c @ ('\\' | '"'))) => value.push(c),
                        Some((_, 'n')) => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value in {line:?}"),
                }
            };
            parsed.push((label.to_owned(), value));
            rest = after[end + 1..]
                .strip_prefix(',')
                .unwrap_or(&after[end + 1..]);
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(
            types.contains_key(family),
            "sample before its TYPE: {line:?}"
        );
        if name.ends_with("_bucket") {
            let le = parsed
                .iter()
                .find(|(k, _)| k == "le")
                .unwrap_or_else(|| panic!("{line:?}"));
            let bound = if le.1 == "+Inf" {
                f64::INFINITY
            } else {
                le.1.parse().unwrap()
            };
            let others: Vec<_> = parsed.iter().filter(|(k, _)| k != "le").collect();
            buckets
                .entry(format!("{family}{others:?}"))
                .or_default()
                .push((bound, value));
        }
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "duplicate series {series}"
        );
    }
    for (series, b) in &buckets {
        assert!(
            b.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{series}: {b:?}"
        );
        assert_eq!(
            b.last().unwrap().0,
            f64::INFINITY,
            "{series}: no +Inf bucket"
        );
    }
    samples
}

#[test]
fn metrics_are_prometheus_text() {
    let home = Home::initialized();
    let d = Daemon::start(&home);
    for body in [SLACK_OK, SLACK_GENERAL, "{"] {
        d.call("POST", "/v1/decide", body);
    }
    let r = d.call("GET", "/metrics", "");
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"].starts_with("text/plain; version=0.0.4"));
    let text = r.text();
    let samples = check_prometheus(&text);
    assert_eq!(samples["axtary_decisions_total{effect=\"allow\"}"], 1.0);
    assert_eq!(samples["axtary_decisions_total{effect=\"deny\"}"], 2.0);
    assert_eq!(
        samples["axtary_http_request_duration_seconds_count{route=\"/v1/decide\"}"],
        3.0
    );
    assert_eq!(
        samples["axtary_http_request_duration_seconds_bucket{route=\"/v1/decide\",le=\"+Inf\"}"],
        3.0
    );
    assert_eq!(samples["axtary_ledger_append_failures_total"], 0.0);
    assert_eq!(samples["axtary_policy_loaded"], 1.0);
    assert!(samples["axtary_ledger_entries"] >= 4.0);

    // A second, independent parser when a Python with prometheus_client is provided (CI).
    if let Some(python) = std::env::var_os("AXTARY_TEST_PYTHON").filter(|p| !p.is_empty()) {
        let mut child = std::process::Command::new(python)
            .args([
                "-c",
                "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\nprint(sum(len(f.samples) for f in p(sys.stdin.read())))",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "prometheus_client: {}", stderr(&out));
        let n: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(n, samples.len());
    }
}

#[test]
fn the_served_openapi_document_is_the_committed_one() {
    let home = Home::initialized();
    let d = Daemon::start(&home);
    let r = d.call("GET", "/openapi.json", "");
    assert_eq!(r.status, 200);
    let served = r.json();
    assert_eq!(served["openapi"], "3.1.0");
    let mut text = serde_json::to_string_pretty(&served).unwrap();
    text.push('\n');
    let committed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("AXTARY_BLESS").is_some() {
        std::fs::write(&committed, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        on_disk == text,
        "docs/openapi.json differs from GET /openapi.json; run `AXTARY_BLESS=1 cargo test -p axtary --test serve openapi` and review the diff"
    );
    // A second opinion from a real validator when a Python with it is provided (CI).
    if let Some(python) = std::env::var_os("AXTARY_TEST_PYTHON").filter(|p| !p.is_empty()) {
        let out = std::process::Command::new(python)
            .args([
                "-c",
                "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))",
            ])
            .arg(&committed)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openapi-spec-validator: {}",
            stderr(&out)
        );
    }
    // Every route the document names answers (not 404) with the token.
    for path in served["paths"].as_object().unwrap().keys() {
        let concrete = path
            .replace("{id}", "apr_0000000000000000")
            .replace("{upstream}", "internal-api")
            .replace("{path}", "v1/x");
        let method = if served["paths"][path].get("post").is_some() {
            "POST"
        } else {
            "GET"
        };
        let r = d.call(method, &concrete, SLACK_OK);
        assert!(
            r.status != 404 || path.contains("approvals"),
            "{method} {concrete}: {}",
            r.text()
        );
    }
}

#[test]
fn up_initializes_a_fresh_home_and_serves() {
    let home = Home::new();
    let daemon = Daemon::launch(&home, &["up", "--listen", "127.0.0.1:0"]);
    assert!(home.path("node.key").exists() && home.path("policy.yaml").exists());
    assert_eq!(daemon.health()["status"], "ok", "{}", daemon.health());
    let decision = daemon.call(
        "POST",
        "/v1/decide",
        r#"{"connector":"fs","operation":"read","input":{"path":"/repo/.env"}}"#,
    );
    assert_eq!(decision.status, 200);
    assert_eq!(decision.json()["effect"], "deny");
}

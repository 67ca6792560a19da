//! `axtary mcp serve` driven by the official Python MCP SDK client, in the legacy
//! (`initialize`) and the modern (`server/discover`) protocol eras, plus raw-protocol checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::Home;
use common::upstream::Upstream;
use serde_json::{Value, json};

const CANARY: &str = "canary-mcp-77c1d0-SECRET-never-shown";

fn home_with(upstream: &Upstream) -> Home {
    common::upstream::home_with(upstream, CANARY, "", "")
}

/// Runs the SDK client script for one step; returns what it printed.
fn client(home: &Home, mode: &str, step: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/serve_client.py");
    let out = Command::new(common::python::mcp())
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_axtary"))
        .arg(mode)
        .args(step)
        .env("AXTARY_HOME", &home.0)
        .env("HOME", home.0.parent().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "client failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains(CANARY),
        "a secret reached the MCP client: {text}"
    );
    serde_json::from_str(text.trim()).unwrap()
}

fn http_args(method: &str, path: &str) -> String {
    json!({"upstream": "internal-api", "method": method, "path": path}).to_string()
}

#[test]
fn sdk_clients_of_both_eras_list_and_call_tools_through_the_pipeline() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    for mode in ["legacy", "auto"] {
        let listed = client(&home, mode, &["list"]);
        let era = if mode == "legacy" {
            "2025-11-25"
        } else {
            "2026-07-28"
        };
        assert_eq!(listed["protocol_version"], era, "{listed}");
        assert_eq!(listed["server"], "axtary");
        assert_eq!(
            listed["tools"],
            json!(["http_request"]),
            "{mode}: only configured connectors"
        );
        assert_eq!(
            listed["schemas"]["http_request"]["required"],
            json!(["upstream", "method", "path"])
        );

        let path = format!("/v1/customers/{mode}");
        let r = client(
            &home,
            mode,
            &["call", "http_request", &http_args("GET", &path)],
        );
        assert_eq!(r["is_error"], false, "{mode}: {r}");
        assert_eq!(r["structured"]["status"], "executed");
        assert_eq!(r["structured"]["decision"]["effect"], "allow");
        assert!(r["text"].as_str().unwrap().contains("[REDACTED"), "{r}");

        // Denied by policy: an error result the model can read, and nothing sent.
        let before = upstream.requests().len();
        let r = client(
            &home,
            mode,
            &["call", "http_request", &http_args("POST", "/v1/customers")],
        );
        assert_eq!(r["is_error"], true);
        assert!(r["text"].as_str().unwrap().contains("Axtary denied"), "{r}");
        assert_eq!(upstream.requests().len(), before);
    }
    let seen = upstream.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {CANARY}"));
    assert!(home.run(&["ledger", "verify"], "").status.success());
}

#[test]
fn a_call_needing_approval_runs_when_retried_after_approval() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let delete = http_args("DELETE", "/v1/customers/9");
    let r = client(&home, "auto", &["call", "http_request", &delete]);
    assert_eq!(r["is_error"], true);
    assert_eq!(r["structured"]["status"], "pending_approval");
    let id = r["structured"]["approval_id"].as_str().unwrap().to_owned();
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains(&format!("axtary approvals approve {id}"))
    );
    let hash = r["structured"]["decision"]["action_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    home.approve(&id, &hash);
    let r = client(&home, "legacy", &["call", "http_request", &delete]);
    assert_eq!(r["is_error"], false, "{r}");
    assert_eq!(upstream.requests().len(), 1);
}

/// Raw JSON-RPC: malformed lines and hostile input get JSON-RPC errors; the server lives on.
#[test]
fn malformed_messages_get_protocol_errors_and_the_server_survives() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let mut child = home
        .command(&["mcp", "serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = [
        "{not json".to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"http_request","arguments":{"upstream":"internal-api","method":"GET","path":"/a","path":"/b"}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":5,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":6,"method":"no/such/method"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned(),
        "\u{0}\u{1}\u{2}".to_owned(),
        r#"{"jsonrpc":"2.0","id":"last","method":"ping"}"#.to_owned(),
    ];
    for line in &lines {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    stdin.write_all(b"\xff\xfe invalid utf-8\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replies: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_id = |id: Value| {
        replies
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Unparseable lines (incl. the duplicate id and the duplicate argument) answer with id null.
    let parse_errors = replies
        .iter()
        .filter(|r| r["id"].is_null() && r["error"]["code"] == -32700)
        .count();
    assert_eq!(parse_errors, 5, "{replies:?}");
    assert_eq!(by_id(json!(4))["error"]["code"], -32602);
    assert_eq!(by_id(json!(5))["error"]["code"], -32022);
    assert_eq!(
        by_id(json!(5))["error"]["data"]["supported"],
        json!(["2026-07-28"])
    );
    assert_eq!(by_id(json!(6))["error"]["code"], -32601);
    assert_eq!(by_id(json!(7))["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(by_id(json!("last"))["result"], json!({}));
    assert!(
        upstream.requests().is_empty(),
        "a malformed call reached the upstream"
    );
}

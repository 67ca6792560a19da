//! The daemon's `/mcp` endpoint (MCP Streamable HTTP): the official Python SDK client in the
//! legacy (`initialize`) and modern (`server/discover`) eras against the real `axtary serve`,
//! plus raw-HTTP checks of the transport rules (origin, token, accept, headers, sessions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::Home;
use common::daemon::Daemon;
use common::http::{Response, request};
use common::upstream::Upstream;
use serde_json::{Value, json};

const CANARY: &str = "canary-mcphttp-31f0a2-SECRET-never-shown";

/// A request to `/mcp` with the token and the headers an MCP client sends.
fn mcp(d: &Daemon, method: &str, extra: &[(&str, &str)], body: &str) -> Response {
    let mut headers = vec![
        ("accept", "application/json, text/event-stream"),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    d.call_with(method, "/mcp", &headers, body.as_bytes())
}

fn home_with(upstream: &Upstream) -> Home {
    common::upstream::home_with(upstream, CANARY, "", "")
}

/// Runs the SDK client script for one step against the daemon; returns what it printed.
fn client(d: &Daemon, token: &str, mode: &str, step: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/http_client.py");
    let out = Command::new(common::python::mcp())
        .arg(script)
        .arg(format!("{}/mcp", d.url))
        .arg(token)
        .arg(mode)
        .args(step)
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
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {text}"))
}

fn http_args(method: &str, path: &str) -> String {
    json!({"upstream": "internal-api", "method": method, "path": path}).to_string()
}

/// The bodies of the decisions recorded for requests to `path` on the upstream.
fn decisions_for(home: &Home, path: &str) -> Vec<Value> {
    home.ledger_jsonl()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == "decision")
        .map(|e| e["body"].clone())
        .filter(|b| {
            b["payload"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(path))
        })
        .collect()
}

#[test]
fn sdk_clients_of_both_eras_list_and_call_tools_over_http() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let d = Daemon::start(&home);
    for mode in ["legacy", "auto"] {
        let era = if mode == "legacy" {
            "2025-11-25"
        } else {
            "2026-07-28"
        };
        let listed = client(&d, &d.token, mode, &["list"]);
        assert_eq!(listed["protocol_version"], era, "{listed}");
        assert_eq!(listed["server"], "axtary");
        assert_eq!(listed["tools"], json!(["http_request"]), "{mode}: {listed}");
        assert_eq!(
            listed["schemas"]["http_request"]["required"],
            json!(["upstream", "method", "path"])
        );

        let path = format!("/v1/customers/{mode}");
        let r = client(
            &d,
            &d.token,
            mode,
            &["call", "http_request", &http_args("GET", &path)],
        );
        assert_eq!(r["protocol_version"], era, "{r}");
        assert_eq!(r["is_error"], false, "{mode}: {r}");
        assert_eq!(r["structured"]["status"], "executed");
        assert_eq!(r["structured"]["decision"]["effect"], "allow");
        assert!(r["text"].as_str().unwrap().contains("[REDACTED"), "{r}");

        // Denied by policy: an error result the model can read, and nothing sent.
        let before = upstream.requests().len();
        let r = client(
            &d,
            &d.token,
            mode,
            &["call", "http_request", &http_args("POST", "/v1/customers")],
        );
        assert_eq!(r["is_error"], true, "{r}");
        assert!(r["text"].as_str().unwrap().contains("Axtary denied"), "{r}");
        assert_eq!(
            upstream.requests().len(),
            before,
            "a denied call reached the upstream"
        );
    }
    let seen = upstream.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {CANARY}"));
    assert_eq!(seen[1].path, "/v1/customers/auto");

    // Recorded as the default agent on the `mcp-http` surface.
    let decisions = decisions_for(&home, "/v1/customers");
    assert_eq!(decisions.len(), 4, "{decisions:?}");
    for body in &decisions {
        assert_eq!(body["agent"], "mcp-http", "{body}");
        assert_eq!(body["surface"], "mcp-http", "{body}");
        assert_eq!(body["context"]["tool"], "http_request", "{body}");
    }
    assert!(home.run(&["ledger", "verify"], "").status.success());
}

#[test]
fn the_sdk_client_needs_the_agent_token() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let d = Daemon::start(&home);
    for mode in ["legacy", "auto"] {
        for token in ["-", &"0".repeat(64)] {
            let r = client(&d, token, mode, &["list"]);
            let failure = r["exception"].as_str().unwrap_or_else(|| {
                panic!("{mode}: listed without the token: {r}");
            });
            assert!(failure.contains("error response"), "{failure}");
        }
    }
    let r = request(
        &d.url,
        "POST",
        "/mcp",
        &[("accept", "application/json")],
        br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.code(), "unauthorized");
    assert!(r.headers["www-authenticate"].starts_with("Bearer"));
    assert!(upstream.requests().is_empty());
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

fn modern_call(name: &str, args: &Value) -> String {
    json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": name, "arguments": args,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        }
    }})
    .to_string()
}

#[test]
fn origins_other_than_loopback_are_refused_with_403() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let d = Daemon::start(&home);
    for origin in [
        "http://evil.example",
        "https://localhost.evil.example",
        "http://127.0.0.1.nip.io:7777",
        "null",
    ] {
        for method in ["POST", "GET", "DELETE"] {
            let r = mcp(&d, method, &[("origin", origin)], INIT);
            assert_eq!(r.status, 403, "{method} {origin}: {}", r.text());
            assert_eq!(r.code(), "forbidden_origin");
        }
        // Refused before the token is even looked at.
        let r = request(
            &d.url,
            "POST",
            "/mcp",
            &[("origin", origin)],
            INIT.as_bytes(),
        );
        assert_eq!(r.status, 403);
    }
    for origin in [
        "http://localhost:3000",
        "http://127.0.0.1",
        "https://[::1]:8443",
    ] {
        let r = mcp(&d, "POST", &[("origin", origin)], INIT);
        assert_eq!(r.status, 200, "{origin}: {}", r.text());
    }
}

#[test]
fn the_transport_rules_of_streamable_http() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let d = Daemon::start(&home);

    // initialize: a JSON answer with a random session id.
    let r = mcp(&d, "POST", &[], INIT);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.headers["content-type"].starts_with("application/json"));
    assert_eq!(r.json()["result"]["protocolVersion"], "2025-11-25");
    let session = r.headers["mcp-session-id"].clone();
    assert_eq!(session.len(), 32, "{session}");
    assert!(session.bytes().all(|b| b.is_ascii_hexdigit()));
    let again = mcp(&d, "POST", &[], INIT);
    assert_ne!(again.headers["mcp-session-id"], session);

    // The session id is accepted, not required; notifications get 202 and no body.
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let r = mcp(
        &d,
        "POST",
        &[
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        note,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(r.body.is_empty());
    let ping = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
    let r = mcp(&d, "POST", &[("mcp-protocol-version", "2025-11-25")], ping);
    assert_eq!((r.status, r.json()["result"].clone()), (200, json!({})));
    // A response from the client (to nothing we sent) is accepted silently too.
    let r = mcp(&d, "POST", &[], r#"{"jsonrpc":"2.0","id":5,"result":{}}"#);
    assert_eq!(r.status, 202);

    // Unknown protocol version header: 400.
    let r = mcp(&d, "POST", &[("mcp-protocol-version", "2099-01-01")], ping);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32022);
    assert_eq!(r.json()["id"], 2);

    // Accept without application/json: 406. GET: 405 (no server stream). DELETE: 204.
    let r = request(
        &d.url,
        "POST",
        "/mcp",
        &[
            ("authorization", &format!("Bearer {}", d.token)),
            ("accept", "text/event-stream"),
        ],
        ping.as_bytes(),
    );
    assert_eq!(r.status, 406, "{}", r.text());
    assert_eq!(r.code(), "not_acceptable");
    let r = mcp(&d, "GET", &[("accept", "text/event-stream")], "");
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(r.headers["allow"], "POST, DELETE");
    let r = mcp(&d, "DELETE", &[("mcp-session-id", &session)], "");
    assert_eq!(r.status, 204, "{}", r.text());

    // Malformed bodies: JSON-RPC errors with 400; a batch is refused.
    let r = mcp(&d, "POST", &[], "{not json");
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!(-32700))
    );
    let r = mcp(
        &d,
        "POST",
        &[],
        r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!(-32700))
    );
    let r = mcp(&d, "POST", &[], &format!("[{ping}]"));
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!(-32600))
    );
    // Errors of understood requests are ordinary answers.
    let r = mcp(
        &d,
        "POST",
        &[],
        r#"{"jsonrpc":"2.0","id":3,"method":"no/such"}"#,
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (200, json!(-32601))
    );

    // Too large: 413 before anything is parsed.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(3 << 20)
    );
    let r = mcp(&d, "POST", &[], &big);
    assert_eq!(r.status, 413, "{}", &r.text()[..r.text().len().min(300)]);
    assert!(upstream.requests().is_empty());
}

#[test]
fn headers_that_disagree_with_the_body_are_refused_with_32020() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let d = Daemon::start(&home);
    let args = json!({"upstream": "internal-api", "method": "GET", "path": "/v1/customers/1"});
    let call = modern_call("http_request", &args);
    let good = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "http_request"),
    ];
    for (name, bad) in [
        ("mcp-method", "tools/list"),
        ("mcp-name", "sql_query"),
        ("mcp-name", "=?base64?c3FsX3F1ZXJ5?="),
        ("mcp-protocol-version", "2025-11-25"),
    ] {
        let headers: Vec<(&str, &str)> = good
            .iter()
            .map(|(k, v)| if *k == name { (*k, bad) } else { (*k, *v) })
            .collect();
        let r = mcp(&d, "POST", &headers, &call);
        assert_eq!(r.status, 400, "{name}: {bad}: {}", r.text());
        let body = r.json();
        assert_eq!(body["error"]["code"], -32020, "{body}");
        assert_eq!(body["id"], 9);
    }
    // Mcp-Method is checked for legacy requests too.
    let r = mcp(&d, "POST", &[("mcp-method", "tools/list")], INIT);
    assert_eq!(r.json()["error"]["code"], -32020);
    assert!(
        upstream.requests().is_empty(),
        "a refused call reached the upstream"
    );

    // Matching headers (the name also base64-encoded, as clients may send it) run the call.
    let mut encoded = good.to_vec();
    encoded[2] = ("mcp-name", "=?base64?aHR0cF9yZXF1ZXN0?=");
    for headers in [good.to_vec(), encoded] {
        let r = mcp(&d, "POST", &headers, &call);
        assert_eq!(r.status, 200, "{}", r.text());
        let result = &r.json()["result"];
        assert_eq!(result["isError"], false, "{result}");
        assert_eq!(result["resultType"], "complete");
    }
    assert_eq!(upstream.requests().len(), 2);
}

#[test]
fn the_agent_is_named_by_the_axtary_agent_header() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let d = Daemon::start(&home);
    let args = json!({"upstream": "internal-api", "method": "GET", "path": "/v1/agent-check"});
    let r = mcp(
        &d,
        "POST",
        &[("axtary-agent", "claude-code")],
        &modern_call("http_request", &args),
    );
    assert_eq!(r.json()["result"]["isError"], false, "{}", r.text());
    let decisions = decisions_for(&home, "/v1/agent-check");
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["agent"], "claude-code");
    assert_eq!(decisions[0]["surface"], "mcp-http");
}

#[test]
fn a_call_needing_approval_runs_when_retried_after_approval() {
    let upstream = Upstream::start();
    let home = home_with(&upstream);
    let d = Daemon::start(&home);
    let delete = http_args("DELETE", "/v1/customers/9");
    let r = client(&d, &d.token, "auto", &["call", "http_request", &delete]);
    assert_eq!(r["is_error"], true, "{r}");
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
    assert!(upstream.requests().is_empty());
    home.approve(&id, &hash);
    // The identical call, from a client of the other era, now runs.
    let r = client(&d, &d.token, "legacy", &["call", "http_request", &delete]);
    assert_eq!(r["is_error"], false, "{r}");
    assert_eq!(upstream.requests().len(), 1);
    assert_eq!(upstream.requests()[0].method, "DELETE");
}

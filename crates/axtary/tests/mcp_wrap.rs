#![allow(clippy::unwrap_used, clippy::expect_used)]

//! `axtary mcp wrap` with real parts: the official Python MCP SDK (`mcp` on PyPI) as the client
//! and as the third-party server, in the legacy (`initialize`) and the modern
//! (`server/discover`, 2026-07-28) protocol eras. The server logs every tool it runs to its own
//! file, so "the server never saw it" is asserted on the server's side.
//!
//! Needs Python 3 with `mcp` 2.x: `AXTARY_TEST_PYTHON` (CI sets it, see .ci/run), else a venv
//! in `target/pyenv-mcp`. If neither works the tests FAIL: they never skip.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{Home, code, stderr};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The policy for server `calc`: arithmetic and `leak` are allowed, dropping tables is
/// denied, refunds need a human.
const POLICY: &str = r#"version: 1
rules:
  - id: calc-safe-tools
    effect: allow
    reason: arithmetic is harmless
    match: {connector: "mcp:calc", operation: [add, leak]}
  - id: calc-no-drop
    effect: deny
    reason: agents never drop tables
    match: {connector: "mcp:calc", operation: drop_table}
  - id: calc-refunds-need-a-human
    effect: require_approval
    reason: refunds move money
    match: {connector: "mcp:calc", operation: refund}
"#;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mcp")
        .join(name)
}

/// A Python with the MCP SDK (see `common::python`: never skips).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(common::python::mcp)
}

/// A home with the test policy, and the server's log file.
struct Setup {
    home: Home,
    log: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let home = Home::initialized();
        std::fs::write(home.path("policy.yaml"), POLICY).unwrap();
        let log = home.0.parent().unwrap().join("server.log");
        Setup { home, log }
    }

    /// What the server itself ran, in order (`start` first).
    fn server_log(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn server_events(&self) -> Vec<String> {
        self.server_log()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect()
    }

    fn ledger(&self) -> Vec<Value> {
        let out = self.home.0.parent().unwrap().join("ledger.jsonl");
        let o = self.home.run(
            &[
                "ledger",
                "export",
                "--out",
                out.to_str().unwrap(),
                "--format",
                "jsonl",
            ],
            "",
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        std::fs::read_to_string(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `axtary mcp wrap --name calc EXTRA... -- python calc_server.py`, as a command line.
    fn wrap_command(&self, extra: &[&str]) -> Vec<String> {
        let mut argv = vec![
            env!("CARGO_BIN_EXE_axtary").to_owned(),
            "mcp".into(),
            "wrap".into(),
            "--name".into(),
            "calc".into(),
        ];
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        argv.push("--".into());
        argv.push(python().display().to_string());
        argv.push(script("calc_server.py").display().to_string());
        argv
    }

    fn command(&self, argv: &[String]) -> Command {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..])
            .env("AXTARY_HOME", &self.home.0)
            .env("HOME", self.home.0.parent().unwrap())
            .env("CALC_LOG", &self.log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn approve(&self, id: &str) {
        let listed = self
            .home
            .run(&["approvals", "list", "--format", "json"], "");
        let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
        let request = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no approval request {id}: {listed}"));
        self.home
            .approve(id, request["action_hash"].as_str().unwrap());
    }
}

/// A running process whose stdout lines arrive on a channel and whose stderr is collected.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(mut command: Command) -> Proc {
        let mut child = command.spawn().unwrap();
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Proc {
            child,
            stdin,
            lines,
            stderr,
        }
    }

    fn send(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn recv(&self) -> String {
        self.lines.recv_timeout(TIMEOUT).unwrap_or_else(|e| {
            panic!(
                "no line within {TIMEOUT:?} ({e}); stderr:\n{}",
                self.stderr.lock().unwrap()
            )
        })
    }

    fn recv_json(&self) -> Value {
        let line = self.recv();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Nothing more arrives within `wait`.
    fn assert_quiet(&self, wait: Duration) {
        if let Ok(line) = self.lines.recv_timeout(wait) {
            panic!("unexpected line: {line}");
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the process to exit on its own.
    fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads drain.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            if start.elapsed() > TIMEOUT {
                let _ = self.child.kill();
                panic!(
                    "did not exit within {TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes stdin and waits.
    fn close(&mut self) -> ExitStatus {
        drop(self.stdin.take());
        self.wait()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python SDK client (tests/mcp/driver.py) connected to `wrap_command`.
struct Client(Proc);

impl Client {
    fn start(setup: &Setup, mode: &str, extra: &[&str]) -> Client {
        let mut argv = vec![
            python().display().to_string(),
            script("driver.py").display().to_string(),
            mode.to_owned(),
            "--".to_owned(),
        ];
        argv.extend(setup.wrap_command(extra));
        Client(Proc::spawn(setup.command(&argv)))
    }

    fn ask(&mut self, cmd: &Value) -> Value {
        self.0.send(cmd.to_string().as_bytes());
        self.0.recv_json()
    }

    fn call(&mut self, name: &str, args: Value) -> Value {
        self.ask(&json!({"op": "call", "name": name, "args": args}))
    }

    fn finish(mut self) -> String {
        let status = self.0.close();
        let err = self.0.stderr();
        assert!(status.success(), "client failed: {err}");
        err
    }
}

fn approval_id(text: &str) -> String {
    let start = text
        .find("apr_")
        .unwrap_or_else(|| panic!("no approval id in {text}"));
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn entries<'a>(ledger: &'a [Value], kind: &str) -> Vec<&'a Value> {
    ledger.iter().filter(|e| e["kind"] == kind).collect()
}

fn check_mode(mode: &str, version: &str) {
    let setup = Setup::new();
    let mut client = Client::start(&setup, mode, &[]);

    let tools = client.ask(&json!({"op": "list"}));
    assert_eq!(
        tools["tools"],
        json!(["add", "drop_table", "leak", "refund"])
    );

    let r = client.call("add", json!({"a": 2, "b": 3}));
    assert_eq!(r["is_error"], false, "{r}");
    assert_eq!(r["structured"], json!({"result": 5}));

    let r = client.call("drop_table", json!({"table": "users"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert_eq!(
        r["text"],
        "Axtary denied `drop_table` on MCP server `calc`: agents never drop tables (rule calc-no-drop)"
    );
    let err = client.finish();
    // A clean shutdown (the client closed, the server exited with 0) is quiet.
    assert!(!err.contains("axtary mcp wrap"), "{err}");

    // The server ran the allowed call and never saw the denied one.
    assert_eq!(setup.server_events(), ["start", "add"]);

    let ledger = setup.ledger();
    let decisions = entries(&ledger, "decision");
    assert_eq!(decisions.len(), 2, "{ledger:?}");
    let allow = &decisions[0]["body"];
    assert_eq!(allow["effect"], "allow");
    assert_eq!(allow["surface"], "mcp-wrap");
    assert_eq!(allow["agent"], "mcp", "the SDK's clientInfo.name");
    assert_eq!(allow["connector"], "mcp:calc");
    assert_eq!(allow["operation"], "add");
    assert_eq!(allow["payload"], json!({"a": 2, "b": 3}));
    assert_eq!(allow["context"]["protocol_version"], version);
    let deny = &decisions[1]["body"];
    assert_eq!(deny["effect"], "deny");
    assert_eq!(deny["rule"], "calc-no-drop");
    // The outcome names the decision, after it.
    let executed = entries(&ledger, "executed");
    assert_eq!(executed.len(), 1, "{ledger:?}");
    assert_eq!(executed[0]["body"]["decision_seq"], decisions[0]["seq"]);
    assert!(executed[0]["seq"].as_u64() > decisions[0]["seq"].as_u64());
    assert!(
        executed[0]["body"]["result_sha256"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(code(&setup.home.run(&["ledger", "verify"], "")), 0);
}

#[test]
fn a_legacy_client_lists_calls_and_is_denied_through_the_wrapper() {
    check_mode("legacy", "2025-11-25");
}

#[test]
fn a_modern_client_lists_calls_and_is_denied_through_the_wrapper() {
    // "auto" probes with server/discover (2026-07-28), which the SDK server speaks.
    check_mode("auto", "2026-07-28");
}

#[test]
fn tools_the_policy_never_allows_can_be_hidden() {
    let setup = Setup::new();
    let mut client = Client::start(&setup, "auto", &["--hide-denied-tools"]);
    // drop_table is denied by a rule without conditions; refund can be approved.
    let tools = client.ask(&json!({"op": "list"}));
    assert_eq!(tools["tools"], json!(["add", "leak", "refund"]));
    let r = client.call("drop_table", json!({"table": "t"}));
    assert_eq!(r["is_error"], true, "hidden tools are still guarded: {r}");
    let err = client.finish();
    assert!(
        err.contains("hid 1 tool(s) the policy never allows for `mcp`: drop_table"),
        "{err}"
    );
    assert_eq!(setup.server_events(), ["start"]);
}

#[test]
fn a_call_needing_approval_runs_once_approved_in_the_same_session() {
    let setup = Setup::new();
    let mut client = Client::start(&setup, "legacy", &[]);
    let args = json!({"order": "A-1", "cents": 500});

    let r = client.call("refund", args.clone());
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    let id = approval_id(text);
    assert!(
        text.contains(&format!("axtary approvals approve {id}")),
        "{text}"
    );
    assert!(text.contains("(rule calc-refunds-need-a-human)"), "{text}");
    // Asking again while pending names the same request.
    let r = client.call("refund", args.clone());
    assert_eq!(approval_id(r["text"].as_str().unwrap()), id);
    assert_eq!(setup.server_events(), ["start"]);

    setup.approve(&id);
    let r = client.call("refund", args.clone());
    assert_eq!(r["is_error"], false, "{r}");
    assert_eq!(r["text"], "refunded 500 on A-1");
    assert_eq!(setup.server_events(), ["start", "refund"]);

    // The approval was for one use; a changed payload is a new request.
    let r = client.call("refund", args.clone());
    assert_eq!(r["is_error"], true, "{r}");
    let r = client.call("refund", json!({"order": "A-1", "cents": 50000}));
    assert_eq!(r["is_error"], true, "{r}");
    assert_ne!(approval_id(r["text"].as_str().unwrap()), id);
    client.finish();
    assert_eq!(setup.server_events(), ["start", "refund"]);

    let ledger = setup.ledger();
    let allowed: Vec<_> = entries(&ledger, "decision")
        .into_iter()
        .filter(|d| d["body"]["effect"] == "allow")
        .collect();
    assert_eq!(allowed.len(), 1);
    let reason = allowed[0]["body"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("approved by alice ({id})")),
        "{reason}"
    );
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw-test","version":"1"}}}"#;

#[test]
fn malformed_client_lines_never_reach_the_server() {
    let setup = Setup::new();
    let mut wrapper = Proc::spawn(setup.command(&setup.wrap_command(&[])));
    wrapper.send(INITIALIZE.as_bytes());
    assert_eq!(wrapper.recv_json()["id"], 1);
    wrapper.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);

    // The method given twice: a first-wins reader would see tools/call.
    wrapper.send(br#"{"jsonrpc":"2.0","id":2,"method":"ping","method":"tools/call","params":{"name":"drop_table","arguments":{"table":"t1"}}}"#);
    let a = wrapper.recv_json();
    assert_eq!(
        (a["id"].clone(), a["error"]["code"].clone()),
        (json!(2), json!(-32700))
    );
    // A bare CR: the SDK server reads stdin with universal newlines and would see a second,
    // valid tools/call inside this notification.
    wrapper.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\",\"params\":\r{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"drop_table\",\"arguments\":{\"table\":\"t2\"}}}\r}");
    // Duplicate keys in the arguments and an integer beyond 2^53: denied as tool errors.
    wrapper.send(br#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"a":2,"b":1}}}"#);
    let a = wrapper.recv_json();
    assert_eq!(a["id"], 4);
    assert_eq!(a["result"]["isError"], true);
    wrapper.send(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"add","arguments":{"a":9007199254740993,"b":1}}}"#);
    let a = wrapper.recv_json();
    assert_eq!(
        (a["id"].clone(), a["result"]["isError"].clone()),
        (json!(5), json!(true))
    );
    // Garbage, invalid UTF-8, and a tools/call inside a batch.
    wrapper.send(b"{{{ not json");
    wrapper.send(
        b"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\"}}",
    );
    wrapper.send(br#"[{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"drop_table","arguments":{"table":"t3"}}}]"#);
    let a = wrapper.recv_json();
    assert_eq!(a[0]["id"], 7);
    assert_eq!(a[0]["error"]["code"], -32600);

    // The wrapper is still up, and valid traffic still flows both ways.
    wrapper.send(br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":1}}}"#);
    let a = wrapper.recv_json();
    assert_eq!(a["id"], 8, "{a}");
    assert_eq!(a["result"]["structuredContent"], json!({"result": 2}));
    wrapper.send(br#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#);
    assert_eq!(
        wrapper.recv_json(),
        json!({"jsonrpc": "2.0", "id": 9, "result": {}})
    );
    wrapper.assert_quiet(Duration::from_millis(200));

    let status = wrapper.close();
    assert_eq!(status.code(), Some(0), "{}", wrapper.stderr());
    assert_eq!(setup.server_events(), ["start", "add"]);
    let err = wrapper.stderr();
    assert!(
        err.contains("dropped a malformed line from the client"),
        "{err}"
    );
    assert!(err.contains("carriage return"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The raw client named itself in initialize.
    let ledger = setup.ledger();
    let decisions = entries(&ledger, "decision");
    assert_eq!(decisions.len(), 1, "{ledger:?}");
    assert_eq!(decisions[0]["body"]["agent"], "raw-test");
    assert_eq!(decisions[0]["body"]["context"]["jsonrpc_id"], 8);
}

/// A hand-written server (no SDK) that misbehaves: garbage before each answer, a chosen exit
/// code, or a crash on `tools/call`.
const RAW_SERVER: &str = r#"
import json, os, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if msg.get("method") == "tools/call" and os.environ.get("RAW_CRASH"):
        os.kill(os.getpid(), 9)
    print("this is not JSON-RPC", flush=True)
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                      "result": {"content": [{"type": "text", "text": "ok"}], "isError": True}}), flush=True)
sys.exit(int(os.environ.get("RAW_EXIT", "0")))
"#;

fn raw_server(setup: &Setup, env: &[(&str, &str)]) -> Proc {
    let argv: Vec<String> = [
        env!("CARGO_BIN_EXE_axtary"),
        "mcp",
        "wrap",
        "--name",
        "calc",
        "--",
        python().to_str().unwrap(),
        "-c",
        RAW_SERVER,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let mut command = setup.command(&argv);
    for (k, v) in env {
        command.env(k, v);
    }
    Proc::spawn(command)
}

#[test]
fn malformed_server_lines_are_forwarded_and_the_wrapper_ends_with_the_servers_code() {
    let setup = Setup::new();
    let mut wrapper = raw_server(&setup, &[("RAW_EXIT", "7")]);
    wrapper.send(br#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":1}}}"#);
    assert_eq!(wrapper.recv(), "this is not JSON-RPC");
    let a = wrapper.recv_json();
    assert_eq!(a["id"], "a");
    let status = wrapper.close();
    assert_eq!(status.code(), Some(7), "{}", wrapper.stderr());
    let err = wrapper.stderr();
    assert!(
        err.contains("forwarded a malformed line from the server"),
        "{err}"
    );
    assert!(err.contains("the server exited with code 7"), "{err}");

    // The server answered isError: recorded as failed, against the decision.
    let ledger = setup.ledger();
    let failed = entries(&ledger, "failed");
    assert_eq!(failed.len(), 1, "{ledger:?}");
    assert_eq!(failed[0]["body"]["is_error"], true);
    assert_eq!(
        failed[0]["body"]["decision_seq"],
        entries(&ledger, "decision")[0]["seq"]
    );
}

#[test]
fn a_crashing_server_ends_the_wrapper_and_its_call_is_recorded_as_unknown() {
    let setup = Setup::new();
    let mut wrapper = raw_server(&setup, &[("RAW_CRASH", "1")]);
    wrapper.send(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":1}}}"#);
    // The client keeps its side open; the wrapper ends anyway.
    let status = wrapper.wait();
    assert_eq!(status.code(), Some(128 + 9), "{}", wrapper.stderr());
    assert!(
        wrapper
            .stderr()
            .contains("the server was killed by signal 9"),
        "{}",
        wrapper.stderr()
    );
    let ledger = setup.ledger();
    assert!(entries(&ledger, "failed").is_empty(), "{ledger:?}");
    let unknown = entries(&ledger, "outcome_unknown");
    assert_eq!(unknown.len(), 1, "{ledger:?}");
    assert_eq!(unknown[0]["body"]["outcome"], "unknown");
}

#[test]
fn an_injected_secret_reaches_the_server_and_nothing_else() {
    const CANARY: &str = "canary-Zq8w7f3kPLmN-0001";
    let setup = Setup::new();
    let out = setup.home.run(&["secrets", "set", "CALC_SECRET"], CANARY);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let mut client = Client::start(
        &setup,
        "legacy",
        &["--env", "CALC_TOKEN=secret:CALC_SECRET"],
    );
    // A badly behaved server returns its own credential: the client sees it redacted.
    let r = client.call("leak", json!({}));
    assert_eq!(r["is_error"], false, "{r}");
    assert_eq!(r["text"], "my token is [REDACTED:CALC_SECRET]");
    let r = client.call("add", json!({"a": 1, "b": 2}));
    assert_eq!(r["structured"], json!({"result": 3}));
    let err = client.finish();

    // The server got it from the broker...
    assert_eq!(setup.server_log()[0]["token"], CANARY);
    // Its stderr is relayed with the value redacted.
    assert!(
        err.contains("calc: starting with token [REDACTED:CALC_SECRET]"),
        "{err}"
    );
    // ... and it is nowhere else: not in the client's output or the wrapper's stderr, and in
    // no file of the home but the secrets store (ledger, WAL, approvals).
    assert!(!err.contains(CANARY), "{err}");
    for entry in walk(&setup.home.0) {
        if entry.file_name().unwrap() == "secrets.json" {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "the canary is in `{}`",
            entry.display()
        );
    }
    let ledger = serde_json::to_string(&setup.ledger()).unwrap();
    assert!(!ledger.contains(CANARY));
    assert!(ledger.contains("leak"), "the call itself is recorded");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_missing_secret_stops_the_wrapper_before_the_server_starts() {
    let setup = Setup::new();
    let marker = setup.home.0.parent().unwrap().join("started");
    let touch = format!("touch '{}'", marker.display());
    let out = setup.home.run(
        &[
            "mcp",
            "wrap",
            "--env",
            "TOKEN=secret:NOPE",
            "--",
            "sh",
            "-c",
            &touch,
        ],
        "",
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no secret named `NOPE`"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists());
}

#[test]
fn without_an_initialized_home_every_call_is_denied_but_the_server_runs() {
    let home = Home::new();
    let setup = Setup {
        log: home.0.parent().unwrap().join("server.log"),
        home,
    };
    std::fs::create_dir_all(setup.home.0.parent().unwrap()).unwrap();
    let mut client = Client::start(&setup, "legacy", &[]);
    let tools = client.ask(&json!({"op": "list"}));
    assert_eq!(tools["tools"].as_array().unwrap().len(), 4);
    let r = client.call("add", json!({"a": 1, "b": 2}));
    assert_eq!(r["is_error"], true);
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("Axtary cannot open its node"),
        "{r}"
    );
    let err = client.finish();
    assert!(err.contains("hint: run `axtary init`"), "{err}");
    assert_eq!(setup.server_events(), ["start"]);
}

#[test]
fn the_entry_written_by_install_works_with_a_real_client() {
    let setup = Setup::new();
    let config = setup.home.0.parent().unwrap().join("mcp.json");
    let calc = script("calc_server.py");
    let server = [python().to_str().unwrap(), calc.to_str().unwrap()];
    let out = setup.home.run(
        &[
            "install",
            "mcp",
            "--client",
            "claude-code",
            "--name",
            "calc",
            "--config",
            config.to_str().unwrap(),
            "--",
            server[0],
            server[1],
        ],
        "",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let entry = &v["mcpServers"]["calc"];
    let mut argv = vec![
        python().display().to_string(),
        script("driver.py").display().to_string(),
        "legacy".to_owned(),
        "--".to_owned(),
        entry["command"].as_str().unwrap().to_owned(),
    ];
    argv.extend(
        entry["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned()),
    );
    // The client does not know AXTARY_HOME: the entry carries `--home`.
    let mut command = setup.command(&argv);
    command.env_remove("AXTARY_HOME");
    let mut client = Client(Proc::spawn(command));
    let r = client.call("add", json!({"a": 20, "b": 22}));
    assert_eq!(r["structured"], json!({"result": 42}), "{r}");
    client.finish();
    assert_eq!(setup.server_events(), ["start", "add"]);
}

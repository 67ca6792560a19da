#![allow(clippy::expect_used, clippy::unwrap_used)]

//! What `axtary mcp wrap` adds to an MCP server's latency (DESIGN.md §11: at most one fsync
//! plus 0.5 ms per `tools/call`, under 0.1 ms per pass-through message).
//!
//! `cargo bench -p axtary --bench mcp_wrap`. The same trivial echo server (this binary,
//! re-run as `echo-server`) is driven directly and through the wrapper, one request at a time;
//! the difference of the medians is what the wrapper adds. A pass-through round trip crosses
//! the wrapper twice (request and answer), so the per-message figure is half the added round
//! trip. For `tools/call` the wrapper records the decision durably before forwarding (one
//! fsync, group-committed) and the outcome after, off the reply path; the fsync cost of this
//! disk is measured in the same run. Prints a block to paste into notes; about a minute.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use axtary_core::checkpoint::origin;
use axtary_core::ledger::EntryKind;
use axtary_core::pass::NodeKey;
use axtary_node::ledger::{Ledger, LedgerOptions};

const WARMUP: usize = 200;
const PINGS: usize = 3000;
const CALLS: usize = 1000;

const POLICY: &str = r#"version: 1
rules:
  - id: bench-echo
    effect: allow
    reason: the bench's echo tool
    match: {connector: "mcp:bench", operation: echo}
  - id: bench-denied
    effect: deny
    reason: denied in the bench
    match: {connector: "mcp:bench", operation: denied}
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("echo-server") {
        echo_server();
        return;
    }
    // `cargo test --benches` runs this with no `--bench`: stay quick then.
    let quick = !args.iter().any(|a| a == "--bench");
    let (pings, calls, warmup) = if quick {
        (20, 10, 5)
    } else {
        (PINGS, CALLS, WARMUP)
    };

    let dir = std::env::temp_dir().join(format!("axtary-bench-mcp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let home = dir.join("home");
    let out = axtary(&home)
        .arg("init")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success());
    std::fs::write(home.join("policy.yaml"), POLICY).unwrap();

    let me = std::env::current_exe().unwrap();
    let direct = || {
        let mut c = Command::new(&me);
        c.arg("echo-server");
        Peer::spawn(c)
    };
    let wrapped = |name: &str| {
        let mut c = axtary(&home);
        c.args(["mcp", "wrap", "--name", name, "--"])
            .arg(&me)
            .arg("echo-server");
        Peer::spawn(c)
    };

    let ping = |id: usize| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
    let list = |id: usize| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#);
    let call = |tool: &str| {
        let tool = tool.to_owned();
        move |id: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"hello {id}","n":{id}}}}}}}"#
            )
        }
    };

    // Between paced calls: one durable append to a probe ledger (timed: the "one fsync" of
    // this disk at this moment), then a pause, as an agent thinks between calls.
    let probe = Ledger::open(
        &dir.join("probe-ledger.db"),
        &origin("bench"),
        NodeKey::from_seed(&[7; 32]),
        LedgerOptions::default(),
    )
    .unwrap();
    let appends: RefCell<Vec<f64>> = RefCell::new(Vec::new());
    let mut probe_append = || {
        let start = Instant::now();
        probe
            .append(EntryKind::Decision, serde_json::json!({"probe": true}))
            .unwrap();
        appends
            .borrow_mut()
            .push(start.elapsed().as_secs_f64() * 1e6);
        std::thread::sleep(Duration::from_millis(3));
    };
    let mut nothing = || {};

    let mut rows = Vec::new();
    let ping_direct = direct().measure(warmup, pings, &ping, &mut nothing);
    let ping_wrapped = wrapped("bench").measure(warmup, pings, &ping, &mut nothing);
    rows.push(("ping (pass-through)", ping_direct, ping_wrapped));
    let list_direct = direct().measure(warmup, pings, &list, &mut nothing);
    let list_wrapped = wrapped("bench").measure(warmup, pings, &list, &mut nothing);
    rows.push((
        "tools/list, 10 tools (pass-through)",
        list_direct,
        list_wrapped,
    ));

    let echo = call("echo");
    let call_direct = direct().measure(warmup / 10, calls, &echo, &mut nothing);
    let call_wrapped = wrapped("bench").measure(warmup / 10, calls, &echo, &mut nothing);
    rows.push((
        "tools/call allowed, back to back",
        call_direct,
        call_wrapped,
    ));
    // Paced: an agent thinks between calls, so the previous outcome's commit is done.
    let paced_direct = direct().measure(warmup / 10, calls / 2, &echo, &mut probe_append);
    appends.borrow_mut().clear();
    let paced_wrapped = wrapped("bench").measure(warmup / 10, calls / 2, &echo, &mut probe_append);
    let append = median(&mut appends.borrow_mut());
    rows.push(("tools/call allowed, paced", paced_direct, paced_wrapped));
    let denied = call("denied");
    let denied_direct = direct().measure(warmup / 10, calls / 4, &denied, &mut probe_append);
    let denied_wrapped =
        wrapped("bench").measure(warmup / 10, calls / 4, &denied, &mut probe_append);
    rows.push(("tools/call denied, paced", denied_direct, denied_wrapped));
    probe.close().unwrap();
    let fsync = fsync_cost(&dir, if quick { 10 } else { 300 });

    println!("axtary mcp wrap: added latency (median / p99 of round trips, one request at a time)");
    println!(
        "{:<42} {:>12} {:>12} {:>12} {:>12}",
        "", "direct p50", "wrapped p50", "added p50", "added p99"
    );
    for (name, d, w) in &rows {
        println!(
            "{name:<42} {:>9.1} µs {:>9.1} µs {:>9.1} µs {:>9.1} µs",
            d.p50,
            w.p50,
            w.p50 - d.p50,
            w.p99 - d.p99
        );
    }
    println!(
        "one fsync here: in-place 256 B write + fdatasync {fsync:.1} µs; one durable ledger append {append:.1} µs (median, measured between the paced wrapped calls)"
    );
    let per_message = (ping_wrapped.p50 - ping_direct.p50) / 2.0;
    let per_call = paced_wrapped.p50 - paced_direct.p50;
    println!(
        "per pass-through message: {per_message:.1} µs added (budget 100 µs); per tools/call: {per_call:.1} µs added = one durable append + {:.1} µs (budget one fsync + 500 µs)",
        per_call - append
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn axtary(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_axtary"));
    c.env("AXTARY_HOME", home);
    c
}

#[derive(Clone, Copy)]
struct Stats {
    p50: f64,
    p99: f64,
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(mut command: Command) -> Peer {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut peer = Peer {
            child,
            stdin,
            stdout,
        };
        peer.round_trip(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#);
        peer.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        peer
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    fn round_trip(&mut self, line: &str) -> String {
        self.send(line);
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        assert!(!answer.is_empty(), "no answer to {line}");
        answer
    }

    fn measure(
        mut self,
        warmup: usize,
        n: usize,
        make: &dyn Fn(usize) -> String,
        between: &mut dyn FnMut(),
    ) -> Stats {
        let mut times = Vec::with_capacity(n);
        for i in 0..warmup + n {
            let line = make(i + 1);
            let start = Instant::now();
            let answer = self.round_trip(&line);
            let took = start.elapsed();
            assert!(answer.contains(&format!("\"id\":{}", i + 1)), "{answer}");
            if i >= warmup {
                times.push(took.as_secs_f64() * 1e6);
            }
            between();
        }
        drop(self.stdin);
        let _ = self.child.wait();
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
        Stats {
            p50: at(0.5),
            p99: at(0.99),
        }
    }
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The cost of a bare fsync here: an in-place 256-byte overwrite + fdatasync (median).
fn fsync_cost(dir: &Path, n: usize) -> f64 {
    let mut f = std::fs::File::create(dir.join("fsync-probe")).unwrap();
    f.write_all(&[0u8; 4096]).unwrap();
    f.sync_all().unwrap();
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f.seek(SeekFrom::Start(0)).unwrap();
            f.write_all(&[1u8; 256]).unwrap();
            f.sync_data().unwrap();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    median(&mut times)
}

/// A trivial MCP server: answers every request at once (tools/list with a realistic tool
/// list, tools/call by echoing the arguments).
fn echo_server() {
    let tools: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"name":"tool_{i}","description":"Tool number {i}, which does something useful with its input","inputSchema":{{"type":"object","properties":{{"text":{{"type":"string"}},"n":{{"type":"integer"}}}},"required":["text"]}}}}"#
            )
        })
        .collect();
    let list = format!(r#"{{"tools":[{}]}}"#, tools.join(","));
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return };
        let v: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        let Some(id) = v.get("id") else { continue };
        let result = match v["method"].as_str() {
            Some("initialize") => r#"{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"echo","version":"1"}}"#.to_owned(),
            Some("tools/list") => list.clone(),
            Some("tools/call") => {
                let text = serde_json::to_string(&v["params"]["arguments"].to_string()).unwrap();
                format!(r#"{{"content":[{{"type":"text","text":{text}}}],"isError":false}}"#)
            }
            _ => "{}".to_owned(),
        };
        writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#).unwrap();
        out.flush().unwrap();
    }
}

use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

/// Allows every tool except `deny_*` (denied) and `ask_*` (pending approval); remembers what it
/// was asked and what it recorded.
#[derive(Default)]
struct FakeGate {
    seq: AtomicU64,
    checked: Mutex<Vec<ActionRequest>>,
    recorded: Mutex<Vec<(u64, bool, Value)>>,
}

impl Gate for FakeGate {
    fn check(&self, request: &ActionRequest) -> Verdict {
        lock(&self.checked).push(request.clone());
        if request.operation.starts_with("deny_") {
            Verdict::Deny {
                rule: "no-deny".into(),
                reason: "tools named deny_ are denied".into(),
            }
        } else if request.operation.starts_with("ask_") {
            Verdict::Pending {
                approval_id: "apr_123".into(),
                rule: "ask-rule".into(),
                reason: "a human decides".into(),
            }
        } else {
            Verdict::Allow {
                decision_seq: self.seq.fetch_add(1, Ordering::SeqCst) + 10,
            }
        }
    }

    fn record(&self, decision_seq: u64, succeeded: bool, detail: Value) {
        lock(&self.recorded).push((decision_seq, succeeded, detail));
    }

    fn may_allow(&self, request: &ActionRequest) -> bool {
        !request.operation.starts_with("deny_")
    }
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }
    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

struct Harness {
    gate: Arc<FakeGate>,
    relay: Relay<FakeGate>,
    client: Shared,
    log: Shared,
}

fn harness_with(scrubber: Scrubber, max_line: usize) -> Harness {
    harness_full(scrubber, max_line, None)
}

fn harness_full(scrubber: Scrubber, max_line: usize, agent: Option<&str>) -> Harness {
    harness_opts(scrubber, max_line, agent, false)
}

fn harness_opts(
    scrubber: Scrubber,
    max_line: usize,
    agent: Option<&str>,
    hide_denied_tools: bool,
) -> Harness {
    let gate = Arc::new(FakeGate::default());
    let client = Shared::default();
    let log = Shared::default();
    let relay = Relay::new(
        Arc::clone(&gate),
        RelayOptions {
            server: "srv".into(),
            agent: agent.map(str::to_owned),
            limits: Limits::default(),
            max_line,
            scrubber,
            hide_denied_tools,
        },
        Box::new(client.clone()),
        Box::new(log.clone()),
    );
    Harness {
        gate,
        relay,
        client,
        log,
    }
}

fn harness() -> Harness {
    harness_with(Scrubber::empty(), MAX_LINE)
}

impl Harness {
    /// Feeds `input` from the client; returns what reached the server.
    fn client_sends(&self, input: &str) -> String {
        let mut server = Vec::new();
        assert_eq!(
            self.relay.pump_client(input.as_bytes(), &mut server),
            PumpEnd::Eof
        );
        String::from_utf8(server).unwrap()
    }

    fn server_sends(&self, input: &str) {
        assert_eq!(self.relay.pump_server(input.as_bytes()), PumpEnd::Eof);
    }

    fn recorded(&self) -> Vec<(u64, bool, Value)> {
        self.relay.finish("test over");
        lock(&self.gate.recorded).clone()
    }
}

const PASSTHROUGH: &[&str] = &[
    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"claude-code","version":"2.1"}}}"#,
    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    r#"{"jsonrpc":"2.0","id":"two","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
    r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
    // Whitespace, key order and escapes are the client's business.
    "  { \"method\" : \"resources/read\" , \"id\" : 4 , \"jsonrpc\" : \"2.0\", \"params\":{\"uri\":\"file:///\\u00e9\"} }\t",
    r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#,
    r#"{"jsonrpc":"2.0","id":5,"method":"some/unknown-method","params":[1,2,3]}"#,
    // A response to a server->client request (elicitation), with a huge number: not ours to judge.
    r#"{"jsonrpc":"2.0","id":0,"result":{"action":"accept","content":{"n":123456789012345678901234}}}"#,
    r#"{"jsonrpc":"2.0","id":6,"error":{"code":-1,"message":"declined"}}"#,
    r#"[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"}]"#,
];

#[test]
fn everything_but_tools_call_passes_byte_for_byte() {
    let h = harness();
    let mut input = PASSTHROUGH.join("\n");
    input.push_str("\r\n"); // a CRLF line ending stays as it is
    input.push_str(r#"{"jsonrpc":"2.0","id":8,"method":"ping"}"#); // no final newline
    assert_eq!(h.client_sends(&input), input);
    assert!(h.client.text().is_empty());
    assert!(lock(&h.gate.checked).is_empty());
    assert!(h.log.text().is_empty(), "{}", h.log.text());

    // And the other way, including server->client requests that reuse the client's ids.
    let server = [
        r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{"mode":"form","message":"ok?","requestedSchema":{}}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"sampling/createMessage","params":{}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#,
        "this is not JSON, and the client judges it",
        "",
    ]
    .join("\n");
    h.server_sends(&server);
    assert_eq!(h.client.text(), server);
}

#[test]
fn an_allowed_call_is_decided_forwarded_and_its_outcome_recorded() {
    let h = harness();
    let init = format!("{}\n", PASSTHROUGH[0]);
    let call = r#"{"jsonrpc":"2.0","id":"c-1","method":"tools/call","params":{"name":"add","arguments":{"b":2,"a":1}}}"#;
    let sent = h.client_sends(&format!("{init}{call}\n"));
    assert_eq!(sent, format!("{init}{call}\n"));
    assert_eq!(h.relay.pending(), 1);

    let checked = lock(&h.gate.checked).clone();
    assert_eq!(checked.len(), 1);
    let r = &checked[0];
    assert_eq!(r.agent, "claude-code", "clientInfo.name from initialize");
    assert_eq!(r.connector, "mcp:srv");
    assert_eq!(r.operation, "add");
    assert_eq!(r.input, json!({"a": 1, "b": 2}));
    assert_eq!(
        r.context,
        Some(json!({"jsonrpc_id": "c-1", "protocol_version": "2025-11-25"}))
    );

    let answer = r#"{"jsonrpc":"2.0","id":"c-1","result":{"content":[{"type":"text","text":"3"}],"isError":false}}"#;
    h.server_sends(&format!("{answer}\n"));
    assert_eq!(h.client.text(), format!("{answer}\n"));
    assert_eq!(h.relay.pending(), 0);
    let recorded = h.recorded();
    assert_eq!(recorded.len(), 1);
    let (seq, ok, detail) = &recorded[0];
    assert_eq!((*seq, *ok), (10, true));
    assert_eq!(detail["tool"], "add");
    assert_eq!(detail["jsonrpc_id"], "c-1");
    assert_eq!(
        detail["result_sha256"],
        sha256(r#"{"content":[{"type":"text","text":"3"}],"isError":false}"#)
    );
}

#[test]
fn failed_calls_are_recorded_as_failed() {
    let h = harness();
    let calls = (1..=3)
        .map(|i| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"t{i}"}}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    h.client_sends(&calls);
    assert_eq!(h.relay.pending(), 3);
    // isError, a JSON-RPC error; the third never answered. Ids may be spelled differently.
    h.server_sends(concat!(
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"bad"}}"#,
        "\n"
    ));
    let mut recorded = h.recorded();
    recorded.sort_by_key(|r| r.0);
    let oks: Vec<bool> = recorded.iter().map(|r| r.1).collect();
    assert_eq!(oks, [false, false, false]);
    assert_eq!(recorded[0].2["is_error"], true);
    assert_eq!(recorded[1].2["error_code"], -32602);
    assert_eq!(recorded[2].2["outcome"], "unknown");
    assert_eq!(recorded[2].2["tool"], "t3");
}

#[test]
fn denied_and_pending_calls_are_answered_by_the_relay_and_never_forwarded() {
    let h = harness();
    let deny = r#"{"jsonrpc":"2.0","id":"d\u00e9","method":"tools/call","params":{"name":"deny_me","arguments":{}}}"#;
    let ask = r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"ask_me","arguments":{"x":1},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"modern-client"}}}}"#;
    assert_eq!(h.client_sends(&format!("{deny}\n{ask}\n")), "");
    assert_eq!(h.relay.pending(), 0);

    let text = h.client.text();
    // The id comes back exactly as the client spelled it.
    assert!(
        text.starts_with(r#"{"jsonrpc":"2.0","id":"d\u00e9","result":"#),
        "{text}"
    );
    let answers = h.client.lines();
    assert_eq!(answers[0]["result"]["isError"], true);
    let denied = answers[0]["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(
        denied,
        "Axtary denied `deny_me` on MCP server `srv`: tools named deny_ are denied (rule no-deny)"
    );
    assert!(answers[0]["result"].get("resultType").is_none(), "legacy");

    assert_eq!(answers[1]["id"], 42);
    assert_eq!(answers[1]["result"]["resultType"], "complete", "modern");
    let pending = answers[1]["result"]["content"][0]["text"].as_str().unwrap();
    assert!(pending.contains("apr_123"), "{pending}");
    assert!(
        pending.contains("axtary approvals approve apr_123"),
        "{pending}"
    );

    // The modern call carried its own client name and version.
    let checked = lock(&h.gate.checked).clone();
    assert_eq!(checked[1].agent, "modern-client");
    assert_eq!(checked[0].agent, DEFAULT_AGENT);
    assert_eq!(
        checked[1].context.as_ref().unwrap()["protocol_version"],
        "2026-07-28"
    );
    assert!(h.recorded().is_empty());
}

#[test]
fn tools_call_is_parsed_strictly() {
    let h = harness();
    let bad = [
        // Duplicate keys deep inside the arguments: two readers, two payloads.
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"a":2}}}"#,
        // An integer no JavaScript client or JCS hash reads exactly.
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":9007199254740993}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":[1]}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call"}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"x","arguments":{"s":"\ud800"}}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","_meta":{"a":1,"a":1}}}"#,
    ];
    assert_eq!(h.client_sends(&bad.join("\n")), "");
    assert!(lock(&h.gate.checked).is_empty());
    let answers = h.client.lines();
    assert_eq!(answers.len(), bad.len());
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["id"], i + 1);
        assert_eq!(a["result"]["isError"], true, "{a}");
        let text = a["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.starts_with("Axtary denied this tool call: "), "{text}");
    }
    assert!(
        answers[0]["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("duplicate key")
    );
}

#[test]
fn malformed_client_lines_are_dropped_and_answered_when_possible() {
    let h = harness();
    let lines = [
        // The method named twice: first-wins and last-wins parsers disagree. Id readable.
        r#"{"jsonrpc":"2.0","id":11,"method":"ping","method":"tools/call","params":{"name":"x"}}"#,
        // A bare CR smuggles a second message past a \n-only reader.
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\",\"params\":\r{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{\"name\":\"evil\"}}\r}",
        // Two messages on a line.
        r#"{"jsonrpc":"2.0","id":13,"method":"ping"}{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"evil"}}"#,
        r#"{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"evil""#,
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"tools/call\",\"params\":{\"name\":\"evil\"}}",
        "garbage",
        // A tools/call notification (no id) cannot be answered and must not reach the server.
        r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"evil"}}"#,
        r#"{"jsonrpc":"2.0","id":{"x":1},"method":"tools/call","params":{"name":"evil"}}"#,
        r#"[{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"evil"}},{"jsonrpc":"2.0","id":18,"method":"ping"}]"#,
        "",
    ];
    let mut input = lines.join("\n").into_bytes();
    input.extend_from_slice(b"\n{\"id\":19,\"method\":\"\xff\"}\n");
    let mut server = Vec::new();
    assert_eq!(h.relay.pump_client(&input[..], &mut server), PumpEnd::Eof);
    assert!(server.is_empty(), "{}", String::from_utf8_lossy(&server));
    assert!(lock(&h.gate.checked).is_empty());

    let answers = h.client.lines();
    let ids: Vec<Value> = answers
        .iter()
        .map(|a| {
            if a.is_array() {
                a[0]["id"].clone()
            } else {
                a["id"].clone()
            }
        })
        .collect();
    // Truncated, non-UTF-8 and BOM-prefixed lines have no readable id: no answer.
    assert_eq!(ids, [json!(11), json!(13), Value::Null, json!(17)]);
    assert_eq!(answers[0]["error"]["code"], -32700);
    assert_eq!(answers[2]["error"]["code"], -32600);
    assert_eq!(
        answers[3][1]["id"], 18,
        "every request of the batch is answered"
    );
    let log = h.log.text();
    assert!(log.contains("carriage return"), "{log}");
    assert!(log.contains("without an id"), "{log}");
}

#[test]
fn a_call_reusing_an_id_in_flight_is_refused() {
    let h = harness();
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}"#;
    let sent = h.client_sends(&format!("{call}\n{call}\n"));
    assert_eq!(sent, format!("{call}\n"));
    let answers = h.client.lines();
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0]["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("already in flight")
    );
}

#[test]
fn responses_are_matched_to_calls_not_to_server_requests() {
    let h = harness();
    h.client_sends(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}
"#,
    );
    // The server asks the client something with the same id number, mid-call.
    h.server_sends(
        r#"{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{}}
"#,
    );
    assert_eq!(h.relay.pending(), 1);
    // The client's answer to it goes to the server untouched.
    let answer = r#"{"jsonrpc":"2.0","id":1,"result":{"action":"accept"}}
"#;
    assert_eq!(h.client_sends(answer), answer);
    assert_eq!(h.relay.pending(), 1);
    h.server_sends(
        r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}
"#,
    );
    assert_eq!(h.relay.pending(), 0);
    assert_eq!(h.recorded().len(), 1);
}

#[test]
fn injected_secrets_are_redacted_from_server_output() {
    let secret = "canary-s3cr3t-value-1234";
    let h = harness_with(Scrubber::new([("TOKEN", secret)]), MAX_LINE);
    let clean = r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#;
    let leaky = format!(
        r#"{{"jsonrpc":"2.0","id":2,"result":{{"content":[{{"type":"text","text":"token={secret}"}}]}}}}"#
    );
    h.server_sends(&format!("{clean}\n{leaky}\n"));
    let out = h.client.text();
    assert!(!out.contains(secret), "{out}");
    assert!(out.starts_with(&format!("{clean}\n")));
    assert!(out.contains("[REDACTED:TOKEN]"));
    assert_eq!(h.client.lines().len(), 2, "still JSON");
    assert!(!h.log.text().contains(secret));
}

#[test]
fn overlong_lines_are_dropped_from_the_client_and_streamed_from_the_server() {
    let h = harness_with(Scrubber::empty(), 64);
    let long = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"a","arguments":{{"pad":"{}"}}}}}}"#,
        "x".repeat(100)
    );
    let ok = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
    assert_eq!(
        h.client_sends(&format!("{long}\n{ok}\n")),
        format!("{ok}\n")
    );
    assert!(lock(&h.gate.checked).is_empty());
    h.server_sends(&format!("{long}\n{ok}\n"));
    assert_eq!(h.client.text(), format!("{long}\n{ok}\n"));
}

/// Mutated messages (bytes flipped, inserted, deleted, lines spliced) never crash the relay, and
/// nothing that reaches the server reads as a denied `tools/call` to a last-wins JSON parser
/// splitting lines on `\r` as well as `\n` (as the Python SDK's server does).
#[test]
fn mutated_lines_never_smuggle_a_denied_call() {
    let seeds: &[&[u8]] = &[
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"deny_x","arguments":{"a":1}}}"#,
        br#"{"jsonrpc":"2.0","method":"notifications/x","params":{"p":{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"deny_x"}}}}"#,
        br#"[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"deny_y"}}]"#,
        br#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{"s":"method\":\"tools/call"}}"#,
    ];
    let alphabet = b"{}[]\":,\\\r\n \tmethodtools/callidparamsdeny_\x00\xff";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let h = harness();
    for round in 0..20_000 {
        let seed = seeds[round % seeds.len()];
        let mut line = seed.to_vec();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % (line.len() + 1);
            let byte = alphabet[(next() as usize) % alphabet.len()];
            match next() % 3 {
                0 if at < line.len() => line[at] = byte,
                1 if at < line.len() => {
                    line.remove(at);
                }
                _ => line.insert(at, byte),
            }
        }
        // One line per round: a `\n` inside ends it there, like the framing would.
        if let Some(i) = line.iter().position(|&b| b == b'\n') {
            line.truncate(i);
        }
        line.push(b'\n');
        let mut server = Vec::new();
        h.relay.pump_client(&line[..], &mut server);
        for fragment in server.split(|&b| b == b'\n' || b == b'\r') {
            let Ok(v) = serde_json::from_slice::<Value>(fragment) else {
                continue;
            };
            for m in v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]) {
                let denied = m["method"] == "tools/call"
                    && m["params"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("deny_"));
                assert!(!denied, "smuggled: {}", String::from_utf8_lossy(&line));
            }
        }
        // The server side survives the same bytes.
        h.relay.pump_server(&line[..]);
    }
}

#[test]
fn a_fixed_agent_overrides_what_the_client_reports() {
    let h = harness_full(Scrubber::empty(), MAX_LINE, Some("ci-bot"));
    h.client_sends(&format!(
        "{}\n{}\n",
        PASSTHROUGH[0],
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a","_meta":{"io.modelcontextprotocol/clientInfo":{"name":"x"}}}}"#
    ));
    assert_eq!(lock(&h.gate.checked)[0].agent, "ci-bot");
}

#[test]
fn tools_the_policy_never_allows_can_be_hidden_from_tools_list() {
    let list = r#"{"jsonrpc":"2.0","id":"l1","method":"tools/list"}"#;
    let answer = r#"{"jsonrpc":"2.0","id":"l1","result":{"tools":[{"name":"add","inputSchema":{}},{"name":"deny_drop","inputSchema":{}}],"nextCursor":"c2"}}"#;
    // Off by default: byte for byte.
    let h = harness();
    h.client_sends(&format!("{list}\n"));
    h.server_sends(&format!("{answer}\n"));
    assert_eq!(h.client.text(), format!("{answer}\n"));

    let h = harness_opts(Scrubber::empty(), MAX_LINE, None, true);
    assert_eq!(h.client_sends(&format!("{list}\n")), format!("{list}\n"));
    // Another answer with the same id from a server request's reply is not touched; the
    // tools/list answer is filtered, the rest of it kept.
    h.server_sends(&format!("{answer}\r\n"));
    let text = h.client.text();
    assert!(text.ends_with("\r\n"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["id"], "l1");
    assert_eq!(
        v["result"]["tools"],
        json!([{"name": "add", "inputSchema": {}}])
    );
    assert_eq!(v["result"]["nextCursor"], "c2");
    assert!(
        h.log
            .text()
            .contains("hid 1 tool(s) the policy never allows for `mcp-client`: deny_drop")
    );
    // Answered once: a later line with that id passes untouched.
    h.server_sends(&format!("{answer}\n"));
    assert!(h.client.text().ends_with(&format!("{answer}\n")));
}

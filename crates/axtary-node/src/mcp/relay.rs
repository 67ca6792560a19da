//! The relay between an MCP client and the server it launched through `axtary mcp wrap`.
//!
//! Two pumps, one per direction, each reading whole lines (stdio framing: one JSON-RPC message
//! per line). Every line passes through byte for byte except:
//! - a client `tools/call`, which becomes an [`ActionRequest`] (`connector: mcp:<server>`,
//!   operation = tool name, input = arguments) and is decided and recorded by the [`Gate`]
//!   *before* it is forwarded; a call that is not allowed is answered by the relay itself with
//!   an `isError: true` result naming the reason, and the server never sees it;
//! - a malformed client line, which is dropped (and answered with a JSON-RPC error when its id
//!   can be read): a line the relay cannot classify might be a `tools/call` to the server;
//! - a server line carrying the value of a secret injected into the server's environment,
//!   which is redacted.
//!
//! Malformed server lines are forwarded unchanged (the client judges them, as it would without
//! the wrapper) and logged. The server's answer to an allowed call is forwarded unchanged and
//! its outcome (`isError`, the SHA-256 of the result) recorded against the decision, off the
//! relay's path.
//!
//! INVARIANT: a line from the client reaches the server only if it classified as something
//! other than `tools/call` (or a batch holding one), or it is a `tools/call` whose strictly
//! parsed request the gate allowed and recorded.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use axtary_connectors::scrub::Scrubber;
use axtary_core::ActionRequest;
use axtary_core::json::{self, Limits};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::mcp_server::PROTOCOL_VERSION_META;
use axtary_core::jsonrpc::{self, Envelope, Line, Malformed};

/// Agent name used when the client did not say who it is.
pub const DEFAULT_AGENT: &str = "mcp-client";

const META_CLIENT: &str = "io.modelcontextprotocol/clientInfo";

/// Decides on tool calls and records their outcomes. The wrapper's only link to the node, so
/// the relay can be tested without one.
pub trait Gate: Send + Sync + 'static {
    /// Decides on `request` and durably records the decision. Total: any failure is a deny.
    fn check(&self, request: &ActionRequest) -> Verdict;
    /// Records the outcome of an allowed call, naming the decision's ledger sequence number.
    /// Failures are the gate's to report.
    fn record(&self, decision_seq: u64, succeeded: bool, detail: Value);
    /// Whether some arguments could make `request` (its `input` is ignored) allowed; a tool for
    /// which this is false is hidden from `tools/list` with `hide_denied_tools`.
    fn may_allow(&self, _request: &ActionRequest) -> bool {
        true
    }
}

/// What the gate decided about one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed and recorded as ledger entry `decision_seq`: forward the call.
    Allow { decision_seq: u64 },
    /// Denied.
    Deny { rule: String, reason: String },
    /// Needs a human: approval request `approval_id` is open.
    Pending {
        approval_id: String,
        rule: String,
        reason: String,
    },
}

/// How the relay behaves.
#[derive(Debug)]
pub struct RelayOptions {
    /// The server's name: calls go to connector `mcp:<server>`.
    pub server: String,
    /// The agent every call is made as; `None`: the name the client reports (`clientInfo`),
    /// else [`DEFAULT_AGENT`].
    pub agent: Option<String>,
    /// Strict-JSON limits for a `tools/call` line (the node's `limits.max_payload_bytes`).
    pub limits: Limits,
    /// Longest line read whole. Longer client lines are dropped; longer server lines are
    /// streamed through without being looked at.
    pub max_line: usize,
    /// Values of the secrets injected into the server's environment, redacted from its output.
    pub scrubber: Scrubber,
    /// Remove from `tools/list` answers the tools the policy can never allow.
    pub hide_denied_tools: bool,
}

/// Default for [`RelayOptions::max_line`].
pub const MAX_LINE: usize = 64 * 1024 * 1024;

type Sink = Box<dyn Write + Send>;

/// The relay; cheap to clone (one per pump thread).
pub struct Relay<G> {
    inner: Arc<Inner<G>>,
}

impl<G> Clone for Relay<G> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<G> {
    gate: Arc<G>,
    opts: RelayOptions,
    /// The client's stdin: both pumps write to it (forwarded lines, the relay's own answers),
    /// always whole lines under this lock.
    client: Mutex<Sink>,
    log: Mutex<Sink>,
    state: Mutex<State>,
    outcomes: Mutex<Option<Sender<Outcome>>>,
    recorder: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    /// Allowed calls forwarded and not yet answered, by [`jsonrpc::id_key`].
    pending: HashMap<String, Forwarded>,
    /// `clientInfo.name` from `initialize`.
    agent: Option<String>,
    /// `protocolVersion` from `initialize`.
    protocol_version: Option<String>,
    /// `tools/list` requests waiting for their answer (with `hide_denied_tools`), by
    /// [`jsonrpc::id_key`], with the agent that asked.
    lists: HashMap<String, String>,
}

struct Forwarded {
    decision_seq: u64,
    id: Value,
    tool: String,
}

struct Outcome {
    decision_seq: u64,
    succeeded: bool,
    detail: Value,
}

/// What to do with one client line.
enum Route {
    Forward,
    Answer(String),
    Drop,
}

/// How a pump ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PumpEnd {
    /// The reading side reached end of file.
    Eof,
    /// The writing side is gone (or reading failed); reported on the log.
    Broken,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves nothing half-done that matters more
    // than staying up: the data is a map of pending ids and two writers.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<G: Gate> Relay<G> {
    /// A relay writing to the client through `client` and logging to `log`.
    pub fn new(gate: Arc<G>, opts: RelayOptions, client: Sink, log: Sink) -> Self {
        let (tx, rx) = mpsc::channel::<Outcome>();
        let recorder_gate = Arc::clone(&gate);
        let recorder = std::thread::Builder::new()
            .name("mcp-outcomes".into())
            .spawn(move || {
                for o in rx {
                    recorder_gate.record(o.decision_seq, o.succeeded, o.detail);
                }
            });
        let inner = Inner {
            gate,
            opts,
            client: Mutex::new(client),
            log: Mutex::new(log),
            state: Mutex::new(State::default()),
            outcomes: Mutex::new(None),
            recorder: Mutex::new(None),
        };
        let relay = Self {
            inner: Arc::new(inner),
        };
        match recorder {
            Ok(handle) => {
                *lock(&relay.inner.outcomes) = Some(tx);
                *lock(&relay.inner.recorder) = Some(handle);
            }
            Err(e) => relay.log(&format!(
                "cannot start the outcome recorder ({e}); outcomes are recorded inline"
            )),
        }
        relay
    }

    /// Writes one line to the log.
    pub fn log(&self, message: &str) {
        let mut log = lock(&self.inner.log);
        let _ = writeln!(
            log,
            "axtary mcp wrap [{}]: {message}",
            self.inner.opts.server
        );
        let _ = log.flush();
    }

    /// Client to server, until the client closes its side or the server's stdin breaks.
    pub fn pump_client(&self, mut from_client: impl BufRead, mut to_server: impl Write) -> PumpEnd {
        let max = self.inner.opts.max_line;
        let mut buf = Vec::with_capacity(8192);
        loop {
            buf.clear();
            match read_line(&mut from_client, &mut buf, max) {
                Ok(LineRead::Eof) => return PumpEnd::Eof,
                Ok(LineRead::Line) => {}
                Ok(LineRead::TooLong) => {
                    self.log(&format!(
                        "dropped a line from the client longer than {max} bytes"
                    ));
                    match skip_rest(&mut from_client) {
                        Ok(true) => continue,
                        Ok(false) => return PumpEnd::Eof,
                        Err(e) => return self.broken("reading from the client", &e),
                    }
                }
                Err(e) => return self.broken("reading from the client", &e),
            }
            match self.route(&buf) {
                Route::Forward => {
                    if let Err(e) = to_server.write_all(&buf).and_then(|()| to_server.flush()) {
                        return self.broken("writing to the server", &e);
                    }
                }
                Route::Answer(answer) => {
                    if let Err(e) = self.to_client(answer.as_bytes()) {
                        return self.broken("writing to the client", &e);
                    }
                }
                Route::Drop => {}
            }
        }
    }

    /// Server to client, until the server closes its stdout or the client's side breaks.
    pub fn pump_server(&self, mut from_server: impl BufRead) -> PumpEnd {
        let max = self.inner.opts.max_line;
        let mut buf = Vec::with_capacity(8192);
        loop {
            buf.clear();
            match read_line(&mut from_server, &mut buf, max) {
                Ok(LineRead::Eof) => return PumpEnd::Eof,
                Ok(LineRead::Line) => {}
                Ok(LineRead::TooLong) => {
                    if let Err(e) = self.stream_long_line(&mut from_server, &buf) {
                        return self.broken("relaying a long line from the server", &e);
                    }
                    continue;
                }
                Err(e) => return self.broken("reading from the server", &e),
            }
            let line = self.scrub(&buf);
            let replaced = self.observe_server_line(&line);
            if let Err(e) = self.to_client(replaced.as_deref().unwrap_or(&line)) {
                return self.broken("writing to the client", &e);
            }
        }
    }

    /// Records every call still waiting for an answer as failed with an unknown outcome, then
    /// waits for the recorder to write every outcome.
    pub fn finish(&self, why: &str) {
        let left: Vec<Forwarded> = lock(&self.inner.state)
            .pending
            .drain()
            .map(|(_, f)| f)
            .collect();
        for f in left {
            self.outcome(Outcome {
                decision_seq: f.decision_seq,
                succeeded: false,
                detail: json!({"jsonrpc_id": f.id, "tool": f.tool, "outcome": "unknown", "why": why}),
            });
        }
        drop(lock(&self.inner.outcomes).take());
        if let Some(handle) = lock(&self.inner.recorder).take() {
            let _ = handle.join();
        }
    }

    /// Calls forwarded and not yet answered.
    pub fn pending(&self) -> usize {
        lock(&self.inner.state).pending.len()
    }

    fn broken(&self, what: &str, e: &io::Error) -> PumpEnd {
        if e.kind() != io::ErrorKind::BrokenPipe {
            self.log(&format!("error {what}: {e}"));
        }
        PumpEnd::Broken
    }

    fn to_client(&self, line: &[u8]) -> io::Result<()> {
        let mut client = lock(&self.inner.client);
        client.write_all(line)?;
        client.flush()
    }

    fn outcome(&self, o: Outcome) {
        let unsent = match lock(&self.inner.outcomes).as_ref() {
            Some(tx) => tx.send(o).err().map(|e| e.0),
            None => Some(o),
        };
        if let Some(o) = unsent {
            self.inner
                .gate
                .record(o.decision_seq, o.succeeded, o.detail);
        }
    }

    // ---- client → server ------------------------------------------------------------------

    fn route(&self, line: &[u8]) -> Route {
        match jsonrpc::classify(line) {
            Err(why) => self.malformed(line, &why),
            Ok(Line::Single(env)) => match env.method.as_deref() {
                Some("tools/call") => self.tools_call(line, &env),
                Some("initialize") => {
                    self.note_initialize(&env);
                    Route::Forward
                }
                Some("tools/list") if self.inner.opts.hide_denied_tools => {
                    self.note_tools_list(&env);
                    Route::Forward
                }
                _ => Route::Forward,
            },
            Ok(Line::Batch(items)) => {
                if !items
                    .iter()
                    .any(|e| e.method.as_deref() == Some("tools/call"))
                {
                    return Route::Forward;
                }
                self.log("refused a JSON-RPC batch holding a tools/call");
                let answers: Vec<String> = items
                    .iter()
                    .filter(|e| e.method.is_some())
                    .filter_map(|e| e.id)
                    .map(|id| {
                        let id = jsonrpc::id_key(id).map(|_| id.get());
                        jsonrpc::rpc_error(
                            id,
                            jsonrpc::INVALID_REQUEST,
                            "Axtary does not forward tools/call inside a JSON-RPC batch; send each call on its own",
                        )
                        .trim_end()
                        .to_owned()
                    })
                    .collect();
                if answers.is_empty() {
                    Route::Drop
                } else {
                    Route::Answer(format!("[{}]\n", answers.join(",")))
                }
            }
        }
    }

    fn malformed(&self, line: &[u8], why: &Malformed) -> Route {
        if *why == Malformed::Empty {
            return Route::Drop;
        }
        self.log(&format!(
            "dropped a malformed line from the client ({} bytes): {why}",
            line.len()
        ));
        // Answer what can be answered, so the client does not wait forever. A message without a
        // readable id gets no answer (it may have been a notification).
        match jsonrpc::salvage_id(line) {
            Some(id) => Route::Answer(jsonrpc::rpc_error(
                Some(&id),
                jsonrpc::PARSE_ERROR,
                &format!("Axtary dropped this message, it is not acceptable JSON-RPC: {why}"),
            )),
            None => Route::Drop,
        }
    }

    fn note_initialize(&self, env: &Envelope<'_>) {
        #[derive(Deserialize)]
        struct Params {
            #[serde(rename = "protocolVersion")]
            protocol_version: Option<String>,
            #[serde(rename = "clientInfo")]
            client_info: Option<ClientInfo>,
        }
        #[derive(Deserialize)]
        struct ClientInfo {
            name: Option<String>,
        }
        let Some(params) = env
            .params
            .and_then(|p| serde_json::from_str::<Params>(p.get()).ok())
        else {
            return;
        };
        let mut state = lock(&self.inner.state);
        state.agent = params.client_info.and_then(|c| c.name);
        state.protocol_version = params.protocol_version;
    }

    fn note_tools_list(&self, env: &Envelope<'_>) {
        let Some(key) = env.id.and_then(jsonrpc::id_key) else {
            return;
        };
        let client_name = env
            .params
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
            .and_then(|p| {
                p.get("_meta")?
                    .get(META_CLIENT)?
                    .get("name")?
                    .as_str()
                    .map(str::to_owned)
            });
        let mut state = lock(&self.inner.state);
        let agent = self.agent(client_name.as_deref(), &state);
        state.lists.insert(key, agent);
    }

    /// The agent a request is made as: `--agent`, else the client's name for itself.
    fn agent(&self, client_name: Option<&str>, state: &State) -> String {
        self.inner
            .opts
            .agent
            .as_deref()
            .or(client_name)
            .or(state.agent.as_deref())
            .filter(|a| valid_agent(a))
            .unwrap_or(DEFAULT_AGENT)
            .to_owned()
    }

    fn tools_call(&self, line: &[u8], env: &Envelope<'_>) -> Route {
        let Some(id) = env.id else {
            self.log("dropped a tools/call without an id (a notification cannot be answered)");
            return Route::Drop;
        };
        let Some(key) = jsonrpc::id_key(id) else {
            self.log("refused a tools/call whose id is not a string or an integer");
            return Route::Answer(jsonrpc::rpc_error(
                None,
                jsonrpc::INVALID_REQUEST,
                "Axtary refused this tools/call: its id must be a string or an integer",
            ));
        };
        let id_raw = id.get();
        // Until the strict parse succeeds, guess the era from the raw params.
        let modern_guess = env
            .params
            .is_some_and(|p| p.get().contains(PROTOCOL_VERSION_META));
        let call = match ToolCall::parse(line, self.inner.opts.limits) {
            Ok(call) => call,
            Err(why) => {
                self.log(&format!("refused a tools/call: {why}"));
                return Route::Answer(jsonrpc::error_result(
                    id_raw,
                    &format!("Axtary denied this tool call: {why}"),
                    modern_guess,
                ));
            }
        };
        if lock(&self.inner.state).pending.contains_key(&key) {
            self.log(&format!(
                "refused a tools/call reusing id {id_raw} while it is in flight"
            ));
            return Route::Answer(jsonrpc::error_result(
                id_raw,
                &format!(
                    "Axtary denied this tool call: request id {id_raw} is already in flight; use a new id"
                ),
                call.modern,
            ));
        }

        let request = self.action_request(&call);
        match self.inner.gate.check(&request) {
            Verdict::Allow { decision_seq } => {
                let forwarded = Forwarded {
                    decision_seq,
                    id: call.id,
                    tool: call.name,
                };
                // Registered before the line is written, so the answer cannot overtake it.
                match lock(&self.inner.state).pending.entry(key) {
                    Entry::Vacant(v) => {
                        v.insert(forwarded);
                    }
                    Entry::Occupied(_) => {
                        // Only this pump inserts, and it checked above.
                        return Route::Drop;
                    }
                }
                Route::Forward
            }
            Verdict::Deny { rule, reason } => Route::Answer(jsonrpc::error_result(
                id_raw,
                &format!(
                    "Axtary denied `{}` on MCP server `{}`: {reason} (rule {rule})",
                    call.name, self.inner.opts.server
                ),
                call.modern,
            )),
            Verdict::Pending {
                approval_id,
                rule,
                reason,
            } => {
                let command = format!("axtary approvals approve {approval_id}");
                let how = if reason.contains(&command) {
                    String::new()
                } else {
                    format!(" (a human runs `{command}`)")
                };
                Route::Answer(jsonrpc::error_result(
                    id_raw,
                    &format!(
                        "Axtary: `{}` on MCP server `{}` needs a human's approval (rule {rule}): \
                         {reason}{how}. Once approval {approval_id} is granted, call the tool \
                         again with exactly the same arguments.",
                        call.name, self.inner.opts.server
                    ),
                    call.modern,
                ))
            }
        }
    }

    fn action_request(&self, call: &ToolCall) -> ActionRequest {
        let state = lock(&self.inner.state);
        let agent = self.agent(call.client_name.as_deref(), &state);
        let mut context = Map::new();
        context.insert("jsonrpc_id".into(), call.id.clone());
        if let Some(v) = call
            .protocol_version
            .as_deref()
            .or(state.protocol_version.as_deref())
        {
            context.insert("protocol_version".into(), v.into());
        }
        ActionRequest {
            agent,
            connector: format!("mcp:{}", self.inner.opts.server),
            operation: call.name.clone(),
            input: call.arguments.clone(),
            context: Some(Value::Object(context)),
        }
    }

    // ---- server → client ------------------------------------------------------------------

    /// The line with every injected secret redacted (unchanged, and not copied, when there is
    /// none).
    pub(super) fn scrub<'a>(&self, line: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        let scrubber = &self.inner.opts.scrubber;
        if scrubber.is_empty() {
            return line.into();
        }
        let text = String::from_utf8_lossy(line);
        let scrubbed = scrubber.scrub(&text);
        if scrubbed == text {
            return line.into();
        }
        self.log("redacted the value of an injected secret from the server's output");
        scrubbed.into_bytes().into()
    }

    /// Records outcomes of answered calls; returns the line to send instead, if it changes
    /// (a filtered `tools/list`).
    fn observe_server_line(&self, line: &[u8]) -> Option<Vec<u8>> {
        {
            let state = lock(&self.inner.state);
            if state.pending.is_empty() && state.lists.is_empty() {
                return None;
            }
        }
        match jsonrpc::classify(line) {
            Ok(Line::Single(env)) => {
                if env.method.is_none()
                    && let Some(key) = env.id.and_then(jsonrpc::id_key)
                    && let Some(agent) = lock(&self.inner.state).lists.remove(&key)
                {
                    return self.filter_tools(line, &agent);
                }
                self.observe_response(&env);
            }
            Ok(Line::Batch(items)) => items.iter().for_each(|e| self.observe_response(e)),
            Err(why) => self.log(&format!(
                "forwarded a malformed line from the server ({} bytes): {why}",
                line.len()
            )),
        }
        None
    }

    /// A `tools/list` answer without the tools `agent` can never be allowed to call, when there
    /// are any.
    fn filter_tools(&self, line: &[u8], agent: &str) -> Option<Vec<u8>> {
        let body = jsonrpc::trim_line_end(line);
        let mut v: Value = serde_json::from_slice(body).ok()?;
        let tools = v.get_mut("result")?.get_mut("tools")?.as_array_mut()?;
        let mut hidden = Vec::new();
        tools.retain(|t| {
            let Some(name) = t.get("name").and_then(Value::as_str) else {
                return true;
            };
            let request = ActionRequest {
                agent: agent.to_owned(),
                connector: format!("mcp:{}", self.inner.opts.server),
                operation: name.to_owned(),
                input: Value::Object(Map::new()),
                context: None,
            };
            let keep = self.inner.gate.may_allow(&request);
            if !keep {
                hidden.push(name.to_owned());
            }
            keep
        });
        if hidden.is_empty() {
            return None;
        }
        self.log(&format!(
            "hid {} tool(s) the policy never allows for `{agent}`: {}",
            hidden.len(),
            hidden.join(", ")
        ));
        let mut out = serde_json::to_vec(&v).ok()?;
        out.extend_from_slice(&line[body.len()..]);
        Some(out)
    }

    fn observe_response(&self, env: &Envelope<'_>) {
        if env.method.is_some() {
            return; // a request or notification from the server
        }
        let Some(key) = env.id.and_then(jsonrpc::id_key) else {
            return;
        };
        let Some(f) = lock(&self.inner.state).pending.remove(&key) else {
            return;
        };
        let mut detail = Map::new();
        detail.insert("jsonrpc_id".into(), f.id);
        detail.insert("tool".into(), f.tool.into());
        let succeeded = match (env.result, env.error) {
            (Some(result), None) => {
                #[derive(Deserialize)]
                struct Shape {
                    #[serde(rename = "isError", default)]
                    is_error: Option<bool>,
                    #[serde(rename = "resultType", default)]
                    result_type: Option<String>,
                }
                detail.insert("result_sha256".into(), sha256(result.get()).into());
                let shape = serde_json::from_str::<Shape>(result.get()).ok();
                let is_error = shape.as_ref().and_then(|s| s.is_error).unwrap_or(false);
                detail.insert("is_error".into(), is_error.into());
                if let Some(t) = shape.and_then(|s| s.result_type) {
                    detail.insert("result_type".into(), t.into());
                }
                !is_error
            }
            (None, Some(error)) => {
                #[derive(Deserialize)]
                struct Shape {
                    code: Option<i64>,
                }
                if let Some(code) = serde_json::from_str::<Shape>(error.get())
                    .ok()
                    .and_then(|s| s.code)
                {
                    detail.insert("error_code".into(), code.into());
                }
                detail.insert("error_sha256".into(), sha256(error.get()).into());
                false
            }
            _ => {
                detail.insert("outcome".into(), "unknown".into());
                detail.insert(
                    "why".into(),
                    "the answer has neither exactly one of `result` and `error`".into(),
                );
                false
            }
        };
        self.outcome(Outcome {
            decision_seq: f.decision_seq,
            succeeded,
            detail: Value::Object(detail),
        });
    }

    fn stream_long_line(&self, from: &mut impl BufRead, head: &[u8]) -> io::Result<()> {
        let scrubbing = !self.inner.opts.scrubber.is_empty();
        if scrubbing {
            // A secret split across two chunks could not be redacted; drop the line instead.
            self.log(&format!(
                "dropped a line from the server longer than {} bytes (secrets are injected, and it cannot be checked for them)",
                self.inner.opts.max_line
            ));
            skip_rest(from)?;
            return Ok(());
        }
        self.log(&format!(
            "relayed a line from the server longer than {} bytes without looking at it",
            self.inner.opts.max_line
        ));
        let mut client = lock(&self.inner.client);
        client.write_all(head)?;
        loop {
            let chunk = from.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    client.write_all(&chunk[..=i])?;
                    from.consume(i + 1);
                    break;
                }
                None => {
                    let n = chunk.len();
                    client.write_all(chunk)?;
                    from.consume(n);
                }
            }
        }
        client.flush()
    }
}

/// A `tools/call` request, strictly parsed.
struct ToolCall {
    id: Value,
    name: String,
    arguments: Value,
    client_name: Option<String>,
    protocol_version: Option<String>,
    modern: bool,
}

impl ToolCall {
    fn parse(line: &[u8], limits: Limits) -> Result<Self, String> {
        let value = json::parse_strict(jsonrpc::trim_line_end(line), limits)
            .map_err(|e| format!("its JSON is not acceptable: {e}"))?;
        let Value::Object(mut msg) = value else {
            return Err("the message is not an object".into());
        };
        let id = msg.remove("id").unwrap_or(Value::Null);
        let Some(Value::Object(mut params)) = msg.remove("params") else {
            return Err("`params` must be an object".into());
        };
        let name = match params.remove("name") {
            Some(Value::String(s)) => s,
            _ => return Err("`params.name` must be a string".into()),
        };
        let arguments = match params.remove("arguments") {
            None => Value::Object(Map::new()),
            Some(a @ Value::Object(_)) => a,
            Some(_) => return Err("`params.arguments` must be an object".into()),
        };
        let meta = params.get("_meta");
        let protocol_version = meta
            .and_then(|m| m.get(PROTOCOL_VERSION_META))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let client_name = meta
            .and_then(|m| m.get(META_CLIENT))
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Self {
            id,
            name,
            arguments,
            client_name,
            modern: protocol_version.is_some(),
            protocol_version,
        })
    }
}

/// An agent name the action request format accepts.
fn valid_agent(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && !name.chars().any(char::is_control)
}

fn sha256(text: &str) -> String {
    format!(
        "sha256:{}",
        axtary_core::hex::encode(&Sha256::digest(text.as_bytes()))
    )
}

enum LineRead {
    Eof,
    Line,
    TooLong,
}

/// Reads one line (with its `\n`, if any) into `buf`, up to `max` bytes.
fn read_line(from: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<LineRead> {
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let n = from.by_ref().take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        Ok(LineRead::Eof)
    } else if buf.len() > max && buf.last() != Some(&b'\n') {
        Ok(LineRead::TooLong)
    } else {
        Ok(LineRead::Line)
    }
}

/// Discards input up to and including the next `\n`; `false` at end of file.
fn skip_rest(from: &mut impl BufRead) -> io::Result<bool> {
    loop {
        let chunk = from.fill_buf()?;
        if chunk.is_empty() {
            return Ok(false);
        }
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            from.consume(i + 1);
            return Ok(true);
        }
        let n = chunk.len();
        from.consume(n);
    }
}

#[cfg(test)]
mod tests;

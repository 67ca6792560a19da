//! Axtary as an MCP server: the configured connectors as MCP tools, each call run through the
//! whole pipeline. The agent gets GitHub, Slack, Linear, SQL and HTTP tools without holding a
//! single token.
//!
//! Speaks both protocol eras (refs/PROTOCOLS.md §2): the legacy handshake (`initialize`,
//! 2024-11-05 to 2025-11-25) and the stateless 2026-07-28 revision (`server/discover`, every
//! request carrying its version in `_meta`). The handler is transport-free: stdio feeds it lines
//! ([`serve_stdio`]); the daemon's `/mcp` endpoint feeds it request bodies.
//!
//! Denials, pending approvals and failures are tool results with `isError: true` and a message
//! the model can act on; results are scrubbed by the connectors before they get here.

use std::sync::Arc;

use axtary_core::json::{self, Limits};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::pipeline::{Node, RunOptions, RunResult, RunStatus};

/// Revisions reachable through `initialize`, oldest first.
pub const HANDSHAKE_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// Stateless revisions (`server/discover`).
pub const MODERN_VERSIONS: &[&str] = &["2026-07-28"];
pub(crate) const PROTOCOL_VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";
const SERVER_INFO_META: &str = "io.modelcontextprotocol/serverInfo";

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const UNSUPPORTED_VERSION: i64 = -32022;

/// One MCP tool backed by a connector operation.
struct Tool {
    name: &'static str,
    description: &'static str,
    connector: &'static str,
    operation: &'static str,
    schema: fn() -> Value,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "github_create_pull_request",
        description: "Open a GitHub pull request that adds, changes or deletes files (no clone needed). Checked against policy; may need a human approval.",
        connector: "github",
        operation: "pull_request.create",
        schema: || {
            object(
                json!({
                    "repo": {"type": "string", "description": "owner/name"},
                    "base": {"type": "string", "description": "branch to merge into"},
                    "head": {"type": "string", "description": "new branch to create"},
                    "title": {"type": "string"},
                    "body": {"type": "string"},
                    "draft": {"type": "boolean"},
                    "files": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string"},
                            "content": {"type": "string"},
                            "delete": {"type": "boolean"}
                        },
                        "required": ["path"],
                        "additionalProperties": false
                    }}
                }),
                &["repo", "base", "head", "title", "files"],
            )
        },
    },
    Tool {
        name: "github_comment",
        description: "Comment on a GitHub issue or pull request.",
        connector: "github",
        operation: "issue.comment",
        schema: || {
            object(
                json!({
                    "repo": {"type": "string", "description": "owner/name"},
                    "number": {"type": "integer", "minimum": 1},
                    "body": {"type": "string"}
                }),
                &["repo", "number", "body"],
            )
        },
    },
    Tool {
        name: "github_merge_pull_request",
        description: "Merge a GitHub pull request at exactly the given head sha (the merge fails if the PR changed).",
        connector: "github",
        operation: "pull_request.merge",
        schema: || {
            object(
                json!({
                    "repo": {"type": "string", "description": "owner/name"},
                    "number": {"type": "integer", "minimum": 1},
                    "sha": {"type": "string", "description": "the head sha that was reviewed"},
                    "method": {"type": "string", "enum": ["merge", "squash", "rebase"]}
                }),
                &["repo", "number", "sha", "method"],
            )
        },
    },
    Tool {
        name: "slack_post_message",
        description: "Post a message to a Slack channel.",
        connector: "slack",
        operation: "chat.post",
        schema: || {
            object(
                json!({
                    "channel": {"type": "string", "description": "channel id (C...) or #name"},
                    "text": {"type": "string"},
                    "thread_ts": {"type": "string", "description": "reply in this thread"}
                }),
                &["channel", "text"],
            )
        },
    },
    Tool {
        name: "linear_create_issue",
        description: "Create a Linear issue.",
        connector: "linear",
        operation: "issue.create",
        schema: || {
            object(
                json!({
                    "team": {"type": "string", "description": "team id"},
                    "title": {"type": "string"},
                    "description": {"type": "string", "description": "markdown"},
                    "priority": {"type": "integer", "minimum": 0, "maximum": 4},
                    "labels": {"type": "array", "items": {"type": "string"}}
                }),
                &["team", "title"],
            )
        },
    },
    Tool {
        name: "sql_query",
        description: "Run one SQL statement on a configured database (Postgres or SQLite), with parameters ($1 / ?1). Reads run in a read-only transaction; results are JSON rows.",
        connector: "sql",
        operation: "query",
        schema: || {
            object(
                json!({
                    "database": {"type": "string", "description": "a database name from Axtary's config"},
                    "sql": {"type": "string"},
                    "params": {"type": "array"}
                }),
                &["database", "sql"],
            )
        },
    },
    Tool {
        name: "http_request",
        description: "Call a configured internal HTTP API (upstream) with Axtary's credential.",
        connector: "http",
        operation: "request",
        schema: || {
            object(
                json!({
                    "upstream": {"type": "string", "description": "an upstream name from Axtary's config"},
                    "method": {"type": "string"},
                    "path": {"type": "string", "description": "starts with /"},
                    "query": {"type": "object", "additionalProperties": {"type": "string"}},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "body": {}
                }),
                &["upstream", "method", "path"],
            )
        },
    },
];

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The MCP request handler over a node.
pub struct McpServer {
    node: Arc<Node>,
    agent: String,
    surface: String,
}

impl McpServer {
    /// Tool calls are made as `agent` (not the client's self-reported name: a client can call
    /// itself anything).
    pub fn new(node: Arc<Node>, agent: String, surface: &str) -> Self {
        Self {
            node,
            agent,
            surface: surface.to_owned(),
        }
    }

    /// The tools for the configured connectors.
    fn tools(&self) -> Vec<&'static Tool> {
        let configured = self.node.connector_names();
        TOOLS
            .iter()
            .filter(|t| match t.connector {
                "sql" => configured.iter().any(|c| c == "postgres" || c == "sqlite"),
                c => configured.iter().any(|n| n == c),
            })
            .collect()
    }

    /// The largest message accepted: twice `limits.max_payload_bytes`, since the JSON-RPC
    /// envelope wraps arguments that the node holds to the limit itself.
    pub fn max_message_bytes(&self) -> usize {
        self.node.limits().max_bytes.saturating_mul(2)
    }

    /// Handles one message (a line of stdio, or an HTTP body). Returns the response to send,
    /// if any: notifications and responses get none.
    pub async fn handle(&self, bytes: &[u8]) -> Option<Value> {
        let limits = Limits {
            max_bytes: self.max_message_bytes(),
            ..Limits::default()
        };
        let message = match json::parse_strict(bytes, limits) {
            Ok(m) => m,
            Err(e) => {
                return Some(error(
                    Value::Null,
                    PARSE_ERROR,
                    &format!("invalid JSON: {e}"),
                ));
            }
        };
        let Value::Object(message) = message else {
            return Some(error(
                Value::Null,
                INVALID_REQUEST,
                "a message must be a JSON-RPC object (batches are not supported)",
            ));
        };
        let id = message.get("id").cloned();
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            // A response (to a request we never send) or garbage: nothing to answer.
            return id
                .filter(|_| !message.contains_key("result") && !message.contains_key("error"))
                .map(|id| error(id, INVALID_REQUEST, "missing `method`"));
        };
        let Some(id) = id else {
            // Notifications (initialized, cancelled, ...) need no answer.
            return None;
        };
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let modern = params
            .get("_meta")
            .and_then(|m| m.get(PROTOCOL_VERSION_META))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(v) = &modern
            && !MODERN_VERSIONS.contains(&v.as_str())
        {
            return Some(unsupported(id, v));
        }
        let result = match method {
            "initialize" => Ok(self.initialize(&params)),
            "server/discover" => Ok(self.discover()),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(self.list()),
            "tools/call" => self.call(&params).await,
            "resources/list" | "prompts/list" if modern.is_none() => Err((
                METHOD_NOT_FOUND,
                format!("`{method}` is not offered by this server"),
            )),
            other => Err((METHOD_NOT_FOUND, format!("unknown method `{other}`"))),
        };
        Some(match result {
            Ok(mut r) => {
                if modern.is_some()
                    && let Value::Object(map) = &mut r
                {
                    map.entry("resultType").or_insert("complete".into());
                }
                json!({"jsonrpc": "2.0", "id": id, "result": r})
            }
            Err((code, message)) => error(id, code, &message),
        })
    }

    fn initialize(&self, params: &Value) -> Value {
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let version = match asked {
            Some(v) if HANDSHAKE_VERSIONS.contains(&v) => v,
            _ => HANDSHAKE_VERSIONS[HANDSHAKE_VERSIONS.len() - 1],
        };
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": server_info(),
            "instructions": INSTRUCTIONS,
        })
    }

    fn discover(&self) -> Value {
        json!({
            "supportedVersions": MODERN_VERSIONS,
            "capabilities": {"tools": {"listChanged": false}},
            "instructions": INSTRUCTIONS,
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {SERVER_INFO_META: server_info()},
        })
    }

    fn list(&self) -> Value {
        let tools: Vec<Value> = self
            .tools()
            .into_iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "description": t.description,
                    "inputSchema": (t.schema)(),
                })
            })
            .collect();
        json!({"tools": tools, "ttlMs": 0, "cacheScope": "private"})
    }

    async fn call(&self, params: &Value) -> Result<Value, (i64, String)> {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or((INVALID_PARAMS, "`params.name` must be a string".to_owned()))?;
        let tool = self
            .tools()
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| (INVALID_PARAMS, format!("unknown tool `{name}`")))?;
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(_) => return Err((INVALID_PARAMS, "`arguments` must be an object".into())),
        };
        let connector = match tool.connector {
            "sql" => self.sql_connector(&arguments)?,
            c => c.to_owned(),
        };
        let request = json!({
            "agent": self.agent,
            "connector": connector,
            "operation": tool.operation,
            "input": arguments,
            "context": {"surface": self.surface, "tool": tool.name},
        });
        let bytes = serde_json::to_vec(&request).map_err(|e| (INVALID_PARAMS, e.to_string()))?;
        let options = RunOptions::default();
        let run = self.node.run(bytes, self.surface.clone(), options).await;
        Ok(tool_result(&run))
    }

    /// `sql_query` goes to whichever SQL connector configures the named database.
    fn sql_connector(&self, arguments: &Value) -> Result<String, (i64, String)> {
        let database = arguments
            .get("database")
            .and_then(Value::as_str)
            .unwrap_or("");
        let c = &self.node.config().connectors;
        let in_pg = c
            .postgres
            .as_ref()
            .is_some_and(|p| p.databases.contains_key(database));
        let in_lite = c
            .sqlite
            .as_ref()
            .is_some_and(|s| s.databases.contains_key(database));
        match (in_pg, in_lite) {
            (true, false) => Ok("postgres".into()),
            (false, true) => Ok("sqlite".into()),
            (true, true) => Err((
                INVALID_PARAMS,
                format!(
                    "database `{database}` is configured for both postgres and sqlite; rename one"
                ),
            )),
            (false, false) => Err((
                INVALID_PARAMS,
                format!(
                    "unknown database `{database}` (configured under connectors.postgres/sqlite.databases)"
                ),
            )),
        }
    }
}

const INSTRUCTIONS: &str = "Every tool call is checked by Axtary's policy before it runs and recorded in a tamper-evident ledger. A denied call returns an error that says why; a call that needs a human approval names the approval id: ask a human to approve it, then retry the identical call.";

fn server_info() -> Value {
    json!({"name": "axtary", "version": env!("CARGO_PKG_VERSION")})
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn unsupported(id: Value, version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {
        "code": UNSUPPORTED_VERSION,
        "message": format!("unsupported protocol version `{version}`"),
        "data": {"supported": MODERN_VERSIONS, "requested": version},
    }})
}

/// The tool result for a pipeline run: the outcome as text for the model and as structured
/// content; anything but an executed (or dry) run is an error result.
pub fn tool_result(run: &RunResult) -> Value {
    let d = &run.decision;
    let (is_error, text) = match run.status {
        RunStatus::Executed | RunStatus::DryRun => (
            false,
            serde_json::to_string(run.result.as_ref().unwrap_or(&Value::Null)).unwrap_or_default(),
        ),
        RunStatus::Denied => (
            true,
            format!("Axtary denied this call ({}): {}", d.rule, d.reason),
        ),
        RunStatus::PendingApproval => (
            true,
            format!(
                "This call needs a human approval ({}): {}. Ask a human to run `axtary approvals approve {}`, then retry the identical call.",
                d.rule,
                d.reason,
                run.approval_id.as_deref().unwrap_or("?")
            ),
        ),
        RunStatus::Failed => (
            true,
            format!(
                "The call was allowed but failed: {}",
                run.error.as_deref().unwrap_or("unknown error")
            ),
        ),
    };
    json!({
        "content": [{"type": "text", "text": text}],
        "structuredContent": run,
        "isError": is_error,
    })
}

/// Serves MCP over stdin/stdout until stdin closes. Requests are handled concurrently;
/// responses are written one per line as they complete.
pub async fn serve_stdio(server: Arc<McpServer>) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(message) = rx.recv().await {
            let mut line = serde_json::to_vec(&message).unwrap_or_default();
            line.push(b'\n');
            if out.write_all(&line).await.is_err() || out.flush().await.is_err() {
                return;
            }
        }
    });
    let mut input = BufReader::new(tokio::io::stdin());
    let max = server.max_message_bytes();
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(line) = next_line(&mut input, max).await? {
        let line = match line {
            Ok(line) => line,
            Err(len) => {
                let message = format!("message of {len} bytes exceeds the limit of {max} bytes");
                let _ = tx.send(error(Value::Null, INVALID_REQUEST, &message));
                continue;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let server = Arc::clone(&server);
        let tx = tx.clone();
        tasks.spawn(async move {
            if let Some(response) = server.handle(&line).await {
                let _ = tx.send(response);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    drop(tx);
    let _ = writer.await;
    Ok(())
}

/// Reads one `\n`-terminated line of at most `max` bytes. A longer line is skipped to its end
/// and reported as `Err(length)`, so a hostile peer cannot make the reader buffer without
/// bound. `None` at end of input.
pub async fn next_line(
    reader: &mut (impl AsyncBufRead + Unpin),
    max: usize,
) -> std::io::Result<Option<Result<Vec<u8>, usize>>> {
    let mut line = Vec::new();
    let mut len = 0usize;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(match (len, len > max) {
                (0, _) => None,
                (_, true) => Some(Err(len)),
                (_, false) => Some(Ok(line)),
            });
        }
        let (part, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        len = len.saturating_add(part.len());
        if len <= max {
            line.extend_from_slice(part);
        } else {
            line = Vec::new();
        }
        let used = done.unwrap_or(chunk.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(if len > max { Err(len) } else { Ok(line) }));
        }
    }
}

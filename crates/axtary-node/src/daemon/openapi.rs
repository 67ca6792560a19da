//! The OpenAPI 3.1 document of the daemon's API, served at `GET /openapi.json` and committed
//! as `docs/openapi.json` (a test keeps the two equal; `AXTARY_BLESS=1` rewrites the file).

use serde_json::{Value, json};

use super::{ErrorCode, MAX_WAIT_SECS};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

fn json_body(schema: &str, description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    })
}

/// The document.
pub fn document() -> Value {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let action_request = json!({
        "required": true,
        "description": "An ActionRequest (DESIGN.md §3). Strict JSON: duplicate keys, numbers beyond ±2^53, invalid UTF-8 and unknown fields are refused.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionRequest"}}}
    });
    let common_errors = |v: &mut Value| {
        v["401"] = error_response("`unauthorized`: missing or wrong agent token");
        v["413"] =
            error_response("`payload_too_large`: the body exceeds `limits.max_payload_bytes`");
    };
    let mut decide_responses = json!({
        "200": json_body("Decision", "The decision, recorded in the ledger (`ledger_seq`), for every effect"),
        "400": error_response("`invalid_request`: the request is not a valid ActionRequest; `decision` is the recorded deny"),
        "503": error_response("`ledger_unavailable`: the decision could not be made durable, so it is a deny"),
    });
    common_errors(&mut decide_responses);
    let mut action_responses = json!({
        "200": json_body("RunResult", "`executed` or `dry_run`"),
        "202": json_body("RunResult", "`pending_approval`: a human must approve the exact action (`approval_id`); resubmit the identical request once approved, or pass `wait`"),
        "400": json_body("RunResult", "`invalid_request`: not a valid ActionRequest (a recorded deny)"),
        "403": json_body("RunResult", "`denied`: policy or a human denied it; nothing ran"),
        "502": json_body("RunResult", "`action_failed`: allowed, but the connector refused or the provider failed; see `provider_reached`"),
        "503": json_body("RunResult", "`ledger_unavailable`: the decision could not be made durable; nothing ran"),
    });
    common_errors(&mut action_responses);
    let mut proxy_responses = json!({
        "default": {"description": "The upstream's status, `Content-Type`, `Location` and body (scrubbed of secrets), with `Axtary-Ledger-Seq` and `Axtary-Pass-Jti` headers"},
        "400": error_response("`invalid_request`: the request cannot be expressed as an `http` action"),
        "403": error_response("`denied`, or `approval_required` (with `approval_id`)"),
        "502": error_response("`action_failed`: the upstream could not be reached or did not answer in time"),
        "503": error_response("`ledger_unavailable`"),
    });
    common_errors(&mut proxy_responses);
    let proxy_op = |method: &str| {
        json!({
            "operationId": format!("proxy{method}"),
            "summary": "Run an HTTP request to a configured upstream as an `http` action",
            "description": "The method, raw path and query, headers (except hop-by-hop ones, `Authorization`, `Host`, `Accept-Encoding` and `Axtary-*`) and body (JSON with `Content-Type: application/json`, else UTF-8 text) become `{upstream, method, path, query, headers, body}`. Axtary decides, injects the upstream's credential, forwards the pass in `Axtary-Pass`, and answers with the upstream's response.",
            "parameters": [
                {"name": "upstream", "in": "path", "required": true, "schema": {"type": "string"}, "description": "An upstream under `connectors.http.upstreams`"},
                {"name": "path", "in": "path", "required": true, "schema": {"type": "string"}, "description": "The path on the upstream (may contain `/`)"},
                {"name": "Axtary-Agent", "in": "header", "schema": {"type": "string"}, "description": "The agent's name (default `unknown`)"},
                {"name": "Axtary-Wait", "in": "header", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECS}, "description": "Seconds to wait for a pending approval"},
                {"name": "Axtary-Dry-Run", "in": "header", "schema": {"type": "boolean"}, "description": "Record and return what would be sent; send nothing"}
            ],
            "responses": proxy_responses,
        })
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Axtary local daemon",
            "version": "1",
            "description": "The HTTP API of `axtary serve`: runtime authorization for AI-agent actions. Every route except `/healthz` needs `Authorization: Bearer <token>`, the token being the contents of `$AXTARY_HOME/agent.token`. Errors are JSON: `{\"error\": {\"code\", \"message\", \"hint\"?}}` with a stable `code`.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "servers": [{"url": "http://127.0.0.1:7777"}],
        "security": [{"agentToken": []}],
        "paths": {
            "/v1/decide": {"post": {
                "operationId": "decide",
                "summary": "Decide on an action and record the decision; run nothing",
                "requestBody": action_request,
                "responses": decide_responses,
            }},
            "/v1/actions": {"post": {
                "operationId": "runAction",
                "summary": "Run an action through the whole pipeline: decide, pass, ledger, connector, outcome",
                "parameters": [
                    {"name": "wait", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECS},
                     "description": "If the action needs approval, wait up to this many seconds for a human to decide, then run it (approved) or answer the deny"},
                    {"name": "dry_run", "in": "query", "schema": {"type": "boolean"},
                     "description": "Record and return exactly what would be sent; send nothing"}
                ],
                "requestBody": action_request,
                "responses": action_responses,
            }},
            "/v1/approvals/{id}": {"get": {
                "operationId": "getApproval",
                "summary": "The state of an approval request",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^apr_[0-9a-f]{16}$"}}],
                "responses": {
                    "200": json_body("Approval", "The request"),
                    "401": error_response("`unauthorized`"),
                    "404": error_response("`not_found`: no such approval request"),
                }
            }},
            "/healthz": {"get": {
                "operationId": "health",
                "summary": "Liveness, the policy in force and the ledger's size (no authentication)",
                "security": [],
                "responses": {"200": json_body("Health", "Always 200 while the daemon runs; `status` is `ok` or `degraded`")}
            }},
            "/metrics": {"get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text format 0.0.4)",
                "responses": {
                    "200": {"description": "axtary_decisions_total{effect}, axtary_runs_total{status}, axtary_http_request_duration_seconds{route}, axtary_ledger_append_failures_total, axtary_ledger_entries, axtary_policy_reloads_total{result}, axtary_policy_loaded",
                            "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "401": error_response("`unauthorized`"),
                }
            }},
            "/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "401": error_response("`unauthorized`"),
                }
            }},
            "/mcp": {
                "post": {
                    "operationId": "mcp",
                    "summary": "MCP Streamable HTTP: the tools of `axtary mcp serve`, each call run through the whole pipeline",
                    "description": "One JSON-RPC message per POST (no batches), in either protocol era: `initialize` (2024-11-05 to 2025-11-25; the answer carries a random `MCP-Session-Id`, which later requests may echo and which grants nothing) or 2026-07-28 (`server/discover`, `_meta` on every request). Answers are always `application/json`, never an SSE stream. Tool calls are made as the `Axtary-Agent` header's value, default `mcp-http`, and recorded with surface `mcp-http`. Denials and pending approvals are tool results with `isError: true`. A request with an `Origin` that is not loopback is refused (403) before anything else.",
                    "parameters": [
                        {"name": "Accept", "in": "header", "schema": {"type": "string"}, "description": "Must admit `application/json` (clients send `application/json, text/event-stream`)"},
                        {"name": "MCP-Protocol-Version", "in": "header", "schema": {"type": "string"}, "description": "If present, a revision this server speaks; for 2026-07-28 requests, equal to `_meta`'s version"},
                        {"name": "MCP-Session-Id", "in": "header", "schema": {"type": "string"}, "description": "Accepted, not required"},
                        {"name": "Mcp-Method", "in": "header", "schema": {"type": "string"}, "description": "If present, equal to the body's `method`"},
                        {"name": "Mcp-Name", "in": "header", "schema": {"type": "string"}, "description": "If present on `tools/call`, equal to `params.name` (verbatim or `=?base64?...?=`)"},
                        {"name": "Axtary-Agent", "in": "header", "schema": {"type": "string"}, "description": "The agent tool calls are made as (default `mcp-http`)"},
                        {"name": "Origin", "in": "header", "schema": {"type": "string"}, "description": "If present, `http(s)://localhost|127.0.0.1|[::1]` with an optional port"}
                    ],
                    "requestBody": {"required": true, "description": "One JSON-RPC 2.0 request, notification or response (strict JSON, at most twice `limits.max_payload_bytes`)",
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JsonRpcMessage"}}}},
                    "responses": {
                        "200": {"description": "The JSON-RPC response (a result, or an error for a request that was understood: unknown method or tool, bad params, unsupported `_meta` version)",
                                "headers": {"MCP-Session-Id": {"schema": {"type": "string"}, "description": "On a successful `initialize` only"}},
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JsonRpcMessage"}}}},
                        "202": {"description": "A notification or a response was accepted; no body"},
                        "400": {"description": "A JSON-RPC error: -32700 (not JSON), -32600 (not a single JSON-RPC message), -32022 (unsupported `MCP-Protocol-Version`), -32020 (`Mcp-Method`, `Mcp-Name` or `MCP-Protocol-Version` disagrees with the body)",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JsonRpcMessage"}}}},
                        "401": error_response("`unauthorized`: missing or wrong agent token"),
                        "403": error_response("`forbidden_origin`: the `Origin` is not a loopback origin"),
                        "406": error_response("`not_acceptable`: `Accept` does not admit `application/json`"),
                        "413": error_response("`payload_too_large`: the body exceeds twice `limits.max_payload_bytes`"),
                    }
                },
                "get": {
                    "operationId": "mcpStream",
                    "summary": "Not offered: the server sends no messages of its own (405, `Allow: POST, DELETE`)",
                    "responses": {
                        "401": error_response("`unauthorized`"),
                        "403": error_response("`forbidden_origin`"),
                        "405": error_response("`method_not_allowed`"),
                    }
                },
                "delete": {
                    "operationId": "mcpEndSession",
                    "summary": "End an MCP session (sessions hold no state, so this is a no-op)",
                    "responses": {
                        "204": {"description": "Ended"},
                        "401": error_response("`unauthorized`"),
                        "403": error_response("`forbidden_origin`"),
                    }
                },
            },
            "/proxy/{upstream}/{path}": {
                "get": proxy_op("Get"), "head": proxy_op("Head"), "post": proxy_op("Post"),
                "put": proxy_op("Put"), "patch": proxy_op("Patch"), "delete": proxy_op("Delete"),
                "options": proxy_op("Options"),
            },
        },
        "components": {
            "securitySchemes": {
                "agentToken": {"type": "http", "scheme": "bearer",
                               "description": "The contents of `$AXTARY_HOME/agent.token` (created by `axtary init`, mode 0600)"}
            },
            "schemas": {
                "ActionRequest": {
                    "type": "object",
                    "required": ["connector", "operation", "input"],
                    "additionalProperties": false,
                    "properties": {
                        "agent": {"type": "string", "minLength": 1, "maxLength": 256, "description": "default `unknown`"},
                        "connector": {"type": "string", "examples": ["github", "slack", "linear", "postgres", "sqlite", "http", "fs", "shell", "mcp:NAME"]},
                        "operation": {"type": "string", "examples": ["pull_request.create", "chat.post", "query", "request"]},
                        "input": {"type": "object", "description": "The connector's input (DESIGN.md §3 table)"},
                        "context": {"type": "object", "description": "Recorded with the decision, not hashed"}
                    }
                },
                "Decision": {
                    "type": "object",
                    "required": ["effect", "rule", "reason", "action_hash", "policy_hash"],
                    "properties": {
                        "effect": {"enum": ["allow", "deny", "require_approval"]},
                        "rule": {"type": "string", "description": "The rule id, or `builtin:...`"},
                        "reason": {"type": "string"},
                        "approvers": {"type": "object", "properties": {"group": {"type": "string"}, "count": {"type": "integer"}}},
                        "approval_mode": {"type": "string"},
                        "action_hash": {"type": ["string", "null"], "pattern": "^sha256:[0-9a-f]{64}$"},
                        "policy_hash": {"type": ["string", "null"], "pattern": "^sha256:[0-9a-f]{64}$"},
                        "ledger_seq": {"type": "integer", "description": "The ledger entry recording the decision"},
                        "approval_id": {"type": "string"},
                        "approvals": {"type": "array", "items": {"type": "string"}}
                    }
                },
                "RunResult": {
                    "type": "object",
                    "required": ["status", "decision"],
                    "properties": {
                        "status": {"enum": ["executed", "failed", "dry_run", "denied", "pending_approval"]},
                        "decision": {"$ref": "#/components/schemas/Decision"},
                        "approval_id": {"type": "string"},
                        "result": {"description": "The connector's result, scrubbed of secrets (http: `{http_status, body, content_type?, location?, body_encoding?}`)"},
                        "error": {"$ref": "#/components/schemas/Error"},
                        "warning": {"type": "string"},
                        "provider_reached": {"type": "boolean"},
                        "pass": {"type": "object", "properties": {
                            "jti": {"type": "string"}, "exp": {"type": "integer"}, "ledger_seq": {"type": "integer"}}}
                    }
                },
                "Approval": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"enum": ["pending", "approved", "denied", "expired", "used"]},
                        "action_hash": {"type": "string"},
                        "agent": {"type": "string"},
                        "rule": {"type": "string"},
                        "approvers": {"type": "object", "properties": {"group": {"type": "string"}, "count": {"type": "integer"}}},
                        "approved_by": {"type": "array", "items": {"type": "string"}},
                        "votes": {"type": "array", "items": {"type": "object", "properties": {
                            "approver": {"type": "string"}, "decision": {"enum": ["approve", "deny"]}, "at": {"type": "integer"}}}},
                        "uses": {"type": "integer"},
                        "used": {"type": "integer"},
                        "created_at": {"type": "integer", "description": "ms since the Unix epoch"},
                        "expires_at": {"type": "integer", "description": "ms since the Unix epoch"}
                    }
                },
                "Health": {
                    "type": "object",
                    "properties": {
                        "status": {"enum": ["ok", "degraded"]},
                        "version": {"type": "string"},
                        "policy": {"type": "object", "properties": {
                            "status": {"enum": ["loaded", "stale", "invalid"], "description": "`stale`: the file on disk does not load, the previous good policy is in force; `invalid`: no good policy, every action is denied"},
                            "hash": {"type": ["string", "null"]},
                            "error": {"type": "string"}}},
                        "ledger": {"type": "object", "properties": {
                            "entries": {"type": ["integer", "null"]},
                            "append_failures": {"type": "integer"}}}
                    }
                },
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"enum": codes},
                        "message": {"type": "string"},
                        "hint": {"type": "string"}
                    }
                },
                "JsonRpcMessage": {
                    "type": "object",
                    "description": "A JSON-RPC 2.0 message (MCP, refs: modelcontextprotocol.io/specification)",
                    "required": ["jsonrpc"],
                    "properties": {
                        "jsonrpc": {"const": "2.0"},
                        "id": {"type": ["string", "integer", "null"]},
                        "method": {"type": "string"},
                        "params": {"type": "object"},
                        "result": {"type": "object"},
                        "error": {"type": "object", "required": ["code", "message"], "properties": {
                            "code": {"type": "integer"}, "message": {"type": "string"}, "data": {}}}
                    }
                },
                "ErrorBody": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"$ref": "#/components/schemas/Error"},
                        "decision": {"$ref": "#/components/schemas/Decision"},
                        "approval_id": {"type": "string"},
                        "provider_reached": {"type": "boolean"}
                    }
                }
            }
        }
    })
}

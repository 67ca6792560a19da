//! `/mcp`: the tools of `axtary mcp serve` over MCP's Streamable HTTP transport
//! (refs/PROTOCOLS.md §2), for clients that connect to a URL instead of spawning a process.
//!
//! ```text
//! POST   /mcp   one JSON-RPC message ─▶ McpServer::handle ─▶ 200 application/json (a response)
//!                                                         └▶ 202, no body (notification, response)
//! GET    /mcp   405: the server never starts a stream (every call has exactly one answer)
//! DELETE /mcp   204: sessions hold no state, so ending one is a no-op
//! ```
//!
//! Checked in this order, each before anything is read or run:
//! 1. `Origin`: if present it must be a loopback origin, else 403 (DNS rebinding: a web page
//!    the user visits must not reach the daemon through the browser).
//! 2. The agent token, as on every other route (401).
//! 3. `Accept` must admit `application/json` (406): answers are always JSON, never SSE.
//! 4. The body, within twice `limits.max_payload_bytes` (413): the JSON-RPC envelope wraps
//!    arguments that are themselves held to the limit, as on stdio.
//! 5. `MCP-Protocol-Version`, if present, must name a revision we speak; `Mcp-Method`,
//!    `Mcp-Name` and (for 2026-07-28 requests) `MCP-Protocol-Version` must agree with the body,
//!    else JSON-RPC error -32020 with HTTP 400. Intermediaries route on these headers, so a
//!    header that lies about the body is refused rather than ignored.
//!
//! **Sessions** are not state: the `MCP-Session-Id` returned on `initialize` is random, and a
//! later request may echo it or not. The agent token authenticates every request; a session
//! id grants nothing.
//!
//! **Agent identity:** tool calls are made as the `Axtary-Agent` header's value (as on
//! `/proxy`), default [`DEFAULT_AGENT`], never as the client's self-reported `clientInfo`.
//! The surface recorded in the ledger is `mcp-http`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::error::{ApiError, ErrorCode, json_response};
use super::{Authed, St, read_limited};
use crate::mcp_server::{self, McpServer};

/// The agent tool calls are made as when the request names none.
pub const DEFAULT_AGENT: &str = "mcp-http";
/// The `surface` recorded for `/mcp` tool calls.
const SURFACE: &str = "mcp-http";

const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const PROTOCOL_VERSION: &str = "mcp-protocol-version";
const METHOD: &str = "mcp-method";
const NAME: &str = "mcp-name";
const AGENT: &str = "axtary-agent";

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const HEADER_MISMATCH: i64 = -32020;
const UNSUPPORTED_VERSION: i64 = -32022;

/// Proof that the request carries no `Origin`, or a loopback one.
pub(super) struct LocalOrigin;

impl FromRequestParts<St> for LocalOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        match parts.headers.get(header::ORIGIN) {
            None => Ok(LocalOrigin),
            Some(v) if v.to_str().is_ok_and(is_loopback_origin) => Ok(LocalOrigin),
            Some(v) => Err(ApiError::new(
                ErrorCode::ForbiddenOrigin,
                format!(
                    "origin `{}` may not use this endpoint",
                    String::from_utf8_lossy(v.as_bytes()).escape_debug()
                ),
            )
            .hint("only loopback origins (http://localhost, http://127.0.0.1, http://[::1]) are accepted; MCP clients that are not browsers send no `Origin`")),
        }
    }
}

/// `http(s)://127.0.0.1|localhost|[::1]` with an optional port, nothing else.
fn is_loopback_origin(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return false;
    };
    let host = ["127.0.0.1", "localhost", "[::1]"]
        .into_iter()
        .find(|h| rest.starts_with(h));
    let Some(host) = host else {
        return false;
    };
    match &rest[host.len()..] {
        "" => true,
        port => port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        }),
    }
}

/// Whether `Accept` admits a JSON answer (no header admits anything).
fn accepts_json(headers: &HeaderMap) -> bool {
    let values: Vec<&HeaderValue> = headers.get_all(header::ACCEPT).iter().collect();
    if values.is_empty() {
        return true;
    }
    values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| {
            range
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .any(|range| matches!(range.as_str(), "application/json" | "application/*" | "*/*"))
}

/// `POST /mcp`.
pub(super) async fn post(
    State(d): State<St>,
    _: LocalOrigin,
    _: Authed,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    if !accepts_json(&headers) {
        return ApiError::new(
            ErrorCode::NotAcceptable,
            "this endpoint answers with `application/json` only",
        )
        .hint("send `Accept: application/json, text/event-stream`")
        .into_response();
    }
    let agent = match headers.get(AGENT).map(|v| v.to_str()) {
        None => DEFAULT_AGENT.to_owned(),
        Some(Ok(a)) => a.trim().to_owned(),
        Some(Err(_)) => {
            return ApiError::new(
                ErrorCode::InvalidRequest,
                "`Axtary-Agent` is not visible ASCII",
            )
            .into_response();
        }
    };
    let server = McpServer::new(Arc::clone(&d.node), agent, SURFACE);
    let bytes = match read_limited(&headers, body, server.max_message_bytes()).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    // A lenient parse, only to compare the headers with the body. Where it disagrees with the
    // handler's strict parse (duplicate keys, ...), the strict parse refuses the message anyway.
    let message: Option<Value> = serde_json::from_slice(&bytes).ok();
    if let Some(rejection) = check_headers(&headers, message.as_ref()) {
        return jsonrpc(StatusCode::BAD_REQUEST, &rejection, None);
    }
    let initialize = message
        .as_ref()
        .and_then(|m| m.get("method"))
        .is_some_and(|m| m == "initialize");
    match server.handle(&bytes).await {
        None => StatusCode::ACCEPTED.into_response(),
        Some(answer) => {
            let code = answer["error"]["code"].as_i64();
            // The message could not be taken at all: the transport says so with 400. Errors of
            // a request that was understood (unknown method or tool, ...) are ordinary answers.
            let status = match code {
                Some(PARSE_ERROR | INVALID_REQUEST) => StatusCode::BAD_REQUEST,
                _ => StatusCode::OK,
            };
            let session = (initialize && answer.get("result").is_some())
                .then(session_id)
                .flatten();
            jsonrpc(status, &answer, session)
        }
    }
}

/// `GET /mcp`: this server never opens a stream of its own.
pub(super) async fn get(_: LocalOrigin, _: Authed) -> Response {
    let mut response = ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this server sends no messages of its own, so there is no stream to open",
    )
    .hint("POST each JSON-RPC message to /mcp")
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    response
}

/// `DELETE /mcp`: ends a session, which holds no state.
pub(super) async fn delete(_: LocalOrigin, _: Authed) -> StatusCode {
    StatusCode::NO_CONTENT
}

/// A JSON-RPC error object that refuses `message` for its headers, if one does.
fn check_headers(headers: &HeaderMap, message: Option<&Value>) -> Option<Value> {
    let id = message
        .and_then(|m| m.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let mismatch = |what: &str| {
        json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": HEADER_MISMATCH,
            "message": format!("the `{what}` header does not match the request body"),
        }})
    };
    let version = header(PROTOCOL_VERSION);
    if let Some(v) = version {
        let known = mcp_server::HANDSHAKE_VERSIONS
            .iter()
            .chain(mcp_server::MODERN_VERSIONS)
            .any(|k| *k == v);
        if !known {
            let supported: Vec<&str> = mcp_server::HANDSHAKE_VERSIONS
                .iter()
                .chain(mcp_server::MODERN_VERSIONS)
                .copied()
                .collect();
            return Some(json!({"jsonrpc": "2.0", "id": id, "error": {
                "code": UNSUPPORTED_VERSION,
                "message": format!("unsupported protocol version `{}` in `MCP-Protocol-Version`", v.escape_debug()),
                "data": {"supported": supported, "requested": v},
            }}));
        }
    }
    let message = message?;
    let params = message.get("params");
    let enveloped = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(mcp_server::PROTOCOL_VERSION_META))
        .and_then(Value::as_str);
    if let (Some(header), Some(body)) = (version, enveloped)
        && header != body
    {
        return Some(mismatch("MCP-Protocol-Version"));
    }
    let method = message.get("method").and_then(Value::as_str);
    if let Some(h) = header(METHOD)
        && Some(h) != method
    {
        return Some(mismatch("Mcp-Method"));
    }
    if method == Some("tools/call")
        && let Some(h) = header(NAME)
    {
        let body = params.and_then(|p| p.get("name")).and_then(Value::as_str);
        if body.is_none() || decode_header_value(h).as_deref() != body {
            return Some(mismatch("Mcp-Name"));
        }
    }
    None
}

/// A header value as clients encode it: verbatim, or `=?base64?PAYLOAD?=` for values that are
/// not visible ASCII. `None` for a malformed encoding (it then matches nothing).
fn decode_header_value(value: &str) -> Option<String> {
    let Some(payload) = value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    else {
        return Some(value.to_owned());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// A random session id (32 hex digits); `None` if the system has no randomness to give, in
/// which case the answer carries no session id (they are optional).
fn session_id() -> Option<HeaderValue> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&hex).ok()
}

fn jsonrpc(status: StatusCode, body: &Value, session: Option<HeaderValue>) -> Response {
    let mut response = json_response(status, body);
    if let Some(id) = session {
        response.headers_mut().insert(SESSION_ID, id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_origins_pass() {
        for ok in [
            "http://localhost",
            "http://127.0.0.1:7777",
            "https://[::1]:443",
            "HTTP://LOCALHOST:3000",
        ] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "null",
            "http://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "http://127.0.0.1:",
            "http://127.0.0.1:80/path",
            "file://localhost",
            "http://[::1]x",
            "",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn accept_must_admit_json() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            accepts_json(&h)
        };
        assert!(accepts_json(&HeaderMap::new()));
        assert!(with("application/json, text/event-stream"));
        assert!(with("text/event-stream, application/json;q=0.9"));
        assert!(with("*/*"));
        assert!(!with("text/event-stream"));
        assert!(!with("text/html"));
    }

    #[test]
    fn header_values_decode_like_the_sdk() {
        assert_eq!(decode_header_value("add").as_deref(), Some("add"));
        assert_eq!(decode_header_value("=?base64?w6k=?=").as_deref(), Some("é"));
        assert_eq!(decode_header_value("=?base64?!!?="), None);
    }
}

//! `/proxy/{upstream}/{path}`: a plain HTTP request to a configured upstream, run as an `http`
//! action. The agent's client speaks HTTP as if to the upstream; Axtary decides, injects the
//! credential, forwards the pass and answers with the upstream's (scrubbed) response.
//!
//! What is forwarded: the method, the raw path and query, the request headers except
//! hop-by-hop ones, `Authorization` (the agent token, which never leaves the daemon), `Host`,
//! `Content-Length`, `Accept-Encoding` (answers come back uncompressed) and `Axtary-*`, and the
//! body (JSON when `Content-Type: application/json`, else text; binary bodies are refused).
//! Control headers: `Axtary-Agent` (the agent name), `Axtary-Wait` (seconds to wait for an
//! approval) and `Axtary-Dry-Run: true`.
//!
//! What comes back: the upstream's status, `Content-Type`, `Location` (redirects are never
//! followed) and body, scrubbed of every known secret; a JSON body comes back re-serialized
//! (same value, compact). A deny, a pending approval or a failure to reach the upstream is a
//! JSON error instead (403 `denied` / 403 `approval_required` / 502 `action_failed`).

use axtary_core::json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::{ApiError, Authed, ErrorCode, St, json_response, read_limited, run_error, wait_for};
use crate::pipeline::{RunOptions, RunResult, RunStatus};

const SURFACE_PROXY: &str = "proxy";

/// Request headers never forwarded.
const DROPPED: &[&str] = &[
    "authorization",
    "host",
    "content-length",
    "accept-encoding",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

pub(super) async fn proxy(State(d): State<St>, _: Authed, request: Request) -> Response {
    match build(&d, request).await {
        Ok((bytes, opts, wait)) => {
            let result = d.run_waiting(bytes, SURFACE_PROXY, opts, wait).await;
            respond(&result)
        }
        Err(e) => e.into_response(),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

/// The action request for a proxied HTTP request, and how to run it.
async fn build(
    d: &St,
    request: Request,
) -> Result<(Vec<u8>, RunOptions, Option<std::time::Duration>), ApiError> {
    let (parts, body) = request.into_parts();
    // `/proxy/{upstream}` or `/proxy/{upstream}/{path...}`, the path kept as sent (still
    // percent-encoded), so what policy sees is what the upstream gets.
    let rest = parts.uri.path().strip_prefix("/proxy/").unwrap_or_default();
    let (upstream, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if upstream.is_empty() {
        return Err(ApiError::not_found("upstream in `/proxy/{upstream}/...`"));
    }
    let headers = &parts.headers;
    let control = |name: &str| -> Result<Option<&str>, ApiError> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map(str::trim)
                    .map_err(|_| invalid(format!("header `{name}` is not valid text")))
            })
            .transpose()
    };
    let agent = control("axtary-agent")?;
    let wait = match control("axtary-wait")? {
        None => None,
        Some(s) => wait_for(Some(s.parse().map_err(|_| {
            invalid(format!(
                "`Axtary-Wait` must be a number of seconds (got `{s}`)"
            ))
        })?))?,
    };
    let dry_run = match control("axtary-dry-run")? {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
        Some(v) => {
            return Err(invalid(format!(
                "`Axtary-Dry-Run` must be true or false (got `{v}`)"
            )));
        }
    };

    let body = read_limited(headers, body, d.max_body).await?;
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    let body_value = if body.is_empty() {
        None
    } else if json_body {
        // Strict, like every request: a duplicate key is refused, not silently merged.
        let value = json::parse_strict(&body, d.node.limits())
            .map_err(|e| invalid(format!("the JSON body is not strict JSON: {e}")))?;
        Some(value)
    } else {
        let text = std::str::from_utf8(&body).map_err(|_| {
            invalid("binary request bodies cannot go through the proxy (the body must be UTF-8 text or JSON)")
        })?;
        Some(Value::String(text.to_owned()))
    };

    let mut forwarded = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        // A JSON body is sent with the connector's own `content-type: application/json`.
        if DROPPED.contains(&name)
            || name.starts_with("axtary-")
            || (json_body && name == "content-type")
        {
            continue;
        }
        let value = value
            .to_str()
            .map_err(|_| invalid(format!("header `{name}` is not valid text")))?;
        match forwarded.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                forwarded.insert(name.to_owned(), value.into());
            }
        }
    }

    let mut input = Map::new();
    input.insert("upstream".into(), upstream.into());
    input.insert("method".into(), parts.method.as_str().into());
    input.insert("path".into(), path.into());
    if let Some(q) = parts.uri.query().filter(|q| !q.is_empty()) {
        input.insert("query".into(), q.into());
    }
    if !forwarded.is_empty() {
        input.insert("headers".into(), Value::Object(forwarded));
    }
    if let Some(b) = body_value {
        input.insert("body".into(), b);
    }
    let mut action = json!({"connector": "http", "operation": "request", "input": input});
    if let Some(agent) = agent {
        action["agent"] = agent.into();
    }
    let bytes = serde_json::to_vec(&action)
        .map_err(|e| d.internal(format!("cannot serialize a proxied request: {e}")))?;
    if bytes.len() > d.max_body {
        return Err(ApiError::too_large(d.max_body));
    }
    let opts = RunOptions {
        dry_run,
        durable_outcome: false,
    };
    Ok((bytes, opts, wait))
}

/// The upstream's answer, or a JSON error when it did not run.
fn respond(result: &RunResult) -> Response {
    let reply = result
        .result
        .as_ref()
        .filter(|r| r.get("http_status").is_some());
    match (result.status, reply) {
        (RunStatus::Executed | RunStatus::Failed, Some(reply)) => upstream_response(result, reply),
        (RunStatus::DryRun, _) => json_response(StatusCode::OK, &json!(result)),
        (RunStatus::PendingApproval, _) => {
            let id = result.approval_id.clone().unwrap_or_default();
            ApiError::new(ErrorCode::ApprovalRequired, result.decision.reason.clone())
                .hint(format!(
                    "a human approves with `axtary approvals approve {id}`; then send the identical request again (or send `Axtary-Wait: SECONDS`)"
                ))
                .with("approval_id", id.into())
                .with("decision", json!(result.decision))
                .into_response()
        }
        _ => {
            let err = run_error(result)
                .unwrap_or_else(|| ApiError::new(ErrorCode::ActionFailed, "the action failed"));
            let mut err = err.with("decision", json!(result.decision));
            if let Some(reached) = result.provider_reached {
                err = err.with("provider_reached", reached.into());
            }
            err.into_response()
        }
    }
}

/// Maps the http connector's result (`{http_status, body, content_type?, location?,
/// body_encoding?}`) back to an HTTP response.
fn upstream_response(result: &RunResult, reply: &Value) -> Response {
    let status = reply
        .get("http_status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let mut content_type = reply
        .get("content_type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let base64 = reply.get("body_encoding").and_then(Value::as_str) == Some("base64");
    let body: Vec<u8> = match reply.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 => base64::engine::general_purpose::STANDARD
            .decode(s)
            .unwrap_or_default(),
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(Value::Object(o)) if base64 => o
            .get("base64")
            .and_then(Value::as_str)
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .unwrap_or_default(),
        Some(v) => {
            content_type.get_or_insert_with(|| "application/json".to_owned());
            serde_json::to_vec(v).unwrap_or_default()
        }
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    if let Some(ct) = &content_type {
        set(header::CONTENT_TYPE, ct);
    }
    if let Some(loc) = reply.get("location").and_then(Value::as_str) {
        set(header::LOCATION, loc);
    }
    if let Some(seq) = result.decision.ledger_seq {
        set(
            HeaderName::from_static("axtary-ledger-seq"),
            &seq.to_string(),
        );
    }
    if let Some(pass) = &result.pass {
        set(HeaderName::from_static("axtary-pass-jti"), &pass.jti);
    }
    (status, headers, Body::from(body)).into_response()
}

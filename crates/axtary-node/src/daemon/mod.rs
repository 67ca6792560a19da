//! The local daemon behind `axtary serve`: the HTTP API of DESIGN.md §9 over one [`Node`].
//!
//! ```text
//! POST /v1/decide        ActionRequest ─▶ Node::decide ─▶ Decision (recorded)
//! POST /v1/actions       ActionRequest ─▶ Node::run ─▶ RunResult  (?wait=S, ?dry_run=true)
//! GET  /v1/approvals/ID  the state of an approval request
//! ANY  /proxy/UP/PATH    an HTTP request ─▶ `http` action ─▶ Node::run ─▶ the upstream's answer
//! GET  /healthz          no auth: policy status and ledger size
//! GET  /metrics          Prometheus text
//! GET  /openapi.json     the OpenAPI 3.1 document (also docs/openapi.json)
//! POST /mcp              MCP Streamable HTTP: the tools of `axtary mcp serve` (mcp.rs)
//! ```
//!
//! **Invariant:** every route but `/healthz` checks the agent token (constant time) before it
//! reads a body. Bodies are read up to `limits.max_payload_bytes` and handed to the node as
//! raw bytes, so the core's strict parser (duplicate keys, big numbers, ...) sees exactly what
//! the agent sent. The node fails closed; the daemon only maps its answers to HTTP.
//!
//! This crate prints nothing: what an operator should see (policy reloads, shutdown,
//! internal errors) goes to the [`Reporter`] the binary passes in.

mod error;
mod mcp;
mod metrics;
mod openapi;
mod proxy;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axtary_core::ActionHash;
use axtary_core::decision::LEDGER_UNAVAILABLE;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

pub use error::{ApiError, ErrorCode};
pub use mcp::DEFAULT_AGENT as MCP_DEFAULT_AGENT;
pub use openapi::document as openapi_document;

use crate::approvals::Approvals;
use crate::ledger::{Reader, now_ms};
use crate::pipeline::{Node, RunOptions, RunResult, RunStatus};
use crate::token::AgentToken;
use error::json_response;
use metrics::{Gauges, Metrics, Route};

/// The longest `?wait=` accepted, in seconds.
pub const MAX_WAIT_SECS: u64 = 300;
/// How often a waiting request looks at its approval.
const APPROVAL_POLL: Duration = Duration::from_millis(200);
/// How often the policy file's metadata is checked for a change.
const POLICY_POLL: Duration = Duration::from_secs(1);
/// The `surface` recorded for API requests.
const SURFACE_API: &str = "http";

/// Something an operator should know about; the binary prints it.
#[derive(Debug)]
pub enum Event {
    /// The policy file changed and the new policy is in force.
    PolicyReloaded { hash: ActionHash },
    /// The policy file changed but does not load; `kept` is the policy still in force (none:
    /// every action is denied). `details` are the rendered diagnostics.
    PolicyRejected {
        details: String,
        kept: Option<ActionHash>,
    },
    /// A shutdown signal arrived: no new connections; in-flight requests finish.
    ShuttingDown,
    /// An unexpected failure behind a 500 answer.
    Internal(String),
}

/// Where the daemon reports [`Event`]s.
pub type Reporter = Arc<dyn Fn(Event) + Send + Sync>;

/// Shared state of every request.
struct Daemon {
    node: Arc<Node>,
    token: AgentToken,
    metrics: Metrics,
    /// A connection for reading approval requests (GET and `?wait=` polls).
    approvals: Mutex<Option<Approvals>>,
    /// A connection for the ledger's size.
    reader: Mutex<Option<Reader>>,
    /// Why the newest policy file was rejected while an older good policy stays in force.
    reload_error: Mutex<Option<String>>,
    shutdown: watch::Receiver<bool>,
    report: Reporter,
    max_body: usize,
}

type St = Arc<Daemon>;

/// Serves the API on `listener` until `shutdown` completes, then lets in-flight requests
/// finish (waiting ones return at once) and returns. The caller closes the node afterwards.
pub async fn serve(
    node: Arc<Node>,
    token: AgentToken,
    listener: tokio::net::TcpListener,
    report: Reporter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let daemon = Arc::new(Daemon {
        max_body: node.limits().max_bytes,
        node,
        token,
        metrics: Metrics::default(),
        approvals: Mutex::new(None),
        reader: Mutex::new(None),
        reload_error: Mutex::new(None),
        shutdown: stopped,
        report,
    });
    let watcher = tokio::spawn(watch_policy(Arc::clone(&daemon)));
    let app = router(Arc::clone(&daemon));
    let on_signal = {
        let daemon = Arc::clone(&daemon);
        async move {
            shutdown.await;
            (daemon.report)(Event::ShuttingDown);
            // Wakes every `?wait=` request, so in-flight requests finish promptly.
            let _ = stop.send(true);
        }
    };
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        // Small JSON answers: do not let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(on_signal)
        .await;
    watcher.abort();
    served
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            // Without a SIGTERM handler, only Ctrl-C stops the daemon.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

fn router(daemon: St) -> Router {
    Router::new()
        .route("/v1/actions", post(actions))
        .route("/v1/decide", post(decide))
        .route("/v1/approvals/{id}", get(approval))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi_json))
        .route("/proxy/{*rest}", any(proxy::proxy))
        .route("/mcp", post(mcp::post).get(mcp::get).delete(mcp::delete))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&daemon), track))
        .with_state(daemon)
}

/// Measures every request's latency, by route.
async fn track(State(d): State<St>, request: Request, next: Next) -> Response {
    let route = Route::of(request.uri().path());
    let start = Instant::now();
    let response = next.run(request).await;
    d.metrics.request(route, start.elapsed());
    response
}

/// Proof that the request carried the agent token.
struct Authed;

impl FromRequestParts<St> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, d: &St) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        match presented {
            Some(token) if d.token.matches(token) => Ok(Authed),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

/// A request body read within `limits.max_payload_bytes`.
struct Payload(Bytes);

impl FromRequest<St> for Payload {
    type Rejection = ApiError;

    async fn from_request(request: Request, d: &St) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        read_limited(&parts.headers, body, d.max_body)
            .await
            .map(Payload)
    }
}

/// Reads `body`, refusing more than `limit` bytes (before reading, when `Content-Length`
/// says so).
async fn read_limited(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("cannot read the request body: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(ApiError::too_large(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

impl Daemon {
    /// Reports an unexpected failure and answers a generic 500.
    fn internal(&self, what: String) -> ApiError {
        (self.report)(Event::Internal(what));
        ApiError::internal()
    }

    fn count(&self, result: &RunResult) {
        self.metrics.decision(result.decision.effect);
        self.metrics.run(result.status);
    }

    /// Runs the pipeline; a pending approval, with `wait`, is waited for (until decided,
    /// `wait` passes, or shutdown) and the identical request run again.
    async fn run_waiting(
        self: &Arc<Self>,
        bytes: Vec<u8>,
        surface: &str,
        opts: RunOptions,
        wait: Option<Duration>,
    ) -> RunResult {
        let again = wait.map(|_| bytes.clone());
        let first = self.run_detached(bytes, surface, opts.clone()).await;
        let (Some(wait), Some(bytes), Some(id)) = (wait, again, first.approval_id.as_deref())
        else {
            return first;
        };
        if first.status != RunStatus::PendingApproval || !self.await_decision(id, wait).await {
            return first;
        }
        self.run_detached(bytes, surface, opts).await
    }

    /// Runs the pipeline in its own task: a client that hangs up (dropping the request's
    /// future) must not cancel an action between its pass and its outcome, which would leave
    /// the outcome unrecorded until the next start.
    async fn run_detached(
        self: &Arc<Self>,
        bytes: Vec<u8>,
        surface: &str,
        opts: RunOptions,
    ) -> RunResult {
        let d = Arc::clone(self);
        let surface = surface.to_owned();
        let task = tokio::spawn(async move {
            let result = d.node.run(bytes, surface, opts).await;
            d.count(&result);
            result
        });
        match task.await {
            Ok(result) => result,
            Err(e) => {
                (self.report)(Event::Internal(format!("pipeline task failed: {e}")));
                RunResult::internal_failure(&e.to_string())
            }
        }
    }

    /// Waits until approval `id` is no longer pending. False on timeout, shutdown or a
    /// storage error (the caller then answers with the pending result it has).
    async fn await_decision(self: &Arc<Self>, id: &str, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut shutdown = self.shutdown.clone();
        loop {
            if *shutdown.borrow() {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            tokio::select! {
                () = tokio::time::sleep(APPROVAL_POLL.min(left)) => {}
                changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() {
                    return false;
                },
            }
            match self.approval_record(id.to_owned()).await {
                Ok(Some(state)) if state["status"] != "pending" => return true,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// The public view of approval request `id` (`None`: no such request).
    async fn approval_record(self: &Arc<Self>, id: String) -> Result<Option<Value>, ApiError> {
        let d = Arc::clone(self);
        let looked_up = tokio::task::spawn_blocking(move || {
            let mut guard = d.approvals.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Some(Approvals::open(&d.node.home().ledger_path())?);
            }
            match guard.as_ref().map(|a| a.get(&id)) {
                Some(Ok(r)) => Ok(Some(r)),
                Some(Err(crate::approvals::ApprovalError::NotFound(_))) => Ok(None),
                Some(Err(e)) => Err(e),
                None => Ok(None),
            }
        })
        .await;
        let request = match looked_up {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(self.internal(format!("approval lookup failed: {e}"))),
            Err(e) => return Err(self.internal(format!("approval lookup task failed: {e}"))),
        };
        Ok(request.map(|r| {
            let votes: Vec<Value> = r
                .votes
                .iter()
                .map(|v| json!({"approver": v.approver, "decision": v.decision, "at": v.ts_ms}))
                .collect();
            json!({
                "id": r.id,
                "status": r.state(now_ms()),
                "action_hash": r.action_hash,
                "agent": r.agent,
                "rule": r.rule,
                "approvers": r.approvers,
                "approved_by": r.valid_approvals(),
                "votes": votes,
                "uses": r.uses,
                "used": r.used,
                "created_at": r.created_ms,
                "expires_at": r.expires_ms,
            })
        }))
    }

    /// Entries in the ledger (`None` if it cannot be read right now).
    async fn ledger_entries(self: &Arc<Self>) -> Option<u64> {
        let d = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut guard = d.reader.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Reader::open(&d.node.home().ledger_path()).ok();
            }
            let size = guard.as_ref().map(Reader::size);
            match size {
                Some(Ok(n)) => Some(n),
                Some(Err(_)) => {
                    // Reopen next time.
                    *guard = None;
                    None
                }
                None => None,
            }
        })
        .await
        .ok()
        .flatten()
    }
}

async fn decide(State(d): State<St>, _: Authed, Payload(bytes): Payload) -> Response {
    let decided = d.node.decide_async(bytes.to_vec(), SURFACE_API).await;
    d.metrics.decision(decided.decision.effect);
    let decision = json!(decided.decision);
    if let Some(e) = &decided.input_error {
        let mut err = ApiError::new(ErrorCode::InvalidRequest, e.message.clone());
        if let Some(h) = e.hint {
            err = err.hint(h);
        }
        return err.with("decision", decision).into_response();
    }
    if decided.decision.rule == LEDGER_UNAVAILABLE {
        return ApiError::new(
            ErrorCode::LedgerUnavailable,
            decided.decision.reason.clone(),
        )
        .with("decision", decision)
        .into_response();
    }
    json_response(StatusCode::OK, &decision)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsQuery {
    wait: Option<u64>,
    dry_run: Option<bool>,
}

/// `?wait=` as a duration, refusing more than [`MAX_WAIT_SECS`].
fn wait_for(secs: Option<u64>) -> Result<Option<Duration>, ApiError> {
    match secs {
        None | Some(0) => Ok(None),
        Some(s) if s <= MAX_WAIT_SECS => Ok(Some(Duration::from_secs(s))),
        Some(s) => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("`wait` is at most {MAX_WAIT_SECS} seconds (got {s})"),
        )),
    }
}

async fn actions(
    State(d): State<St>,
    _: Authed,
    query: Result<Query<ActionsQuery>, QueryRejection>,
    Payload(bytes): Payload,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            return ApiError::new(
                ErrorCode::InvalidRequest,
                format!("bad query: {}", e.body_text()),
            )
            .hint("the query parameters are `wait=SECONDS` and `dry_run=true`")
            .into_response();
        }
    };
    let wait = match wait_for(query.wait) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let opts = RunOptions {
        dry_run: query.dry_run.unwrap_or(false),
        durable_outcome: false,
    };
    let result = d.run_waiting(bytes.to_vec(), SURFACE_API, opts, wait).await;
    action_response(&result)
}

/// The error a result that did not run maps to (`None`: it ran, or waits for approval).
fn run_error(result: &RunResult) -> Option<ApiError> {
    let message = || {
        result
            .error
            .clone()
            .unwrap_or_else(|| result.decision.reason.clone())
    };
    match result.status {
        RunStatus::Executed | RunStatus::DryRun | RunStatus::PendingApproval => None,
        RunStatus::Failed => Some(ApiError::new(ErrorCode::ActionFailed, message())),
        RunStatus::Denied if result.invalid_input => {
            Some(ApiError::new(ErrorCode::InvalidRequest, message()))
        }
        RunStatus::Denied if result.decision.rule == LEDGER_UNAVAILABLE => Some(ApiError::new(
            ErrorCode::LedgerUnavailable,
            result.decision.reason.clone(),
        )),
        RunStatus::Denied => Some(ApiError::new(
            ErrorCode::Denied,
            result.decision.reason.clone(),
        )),
    }
}

/// `POST /v1/actions`: the [`RunResult`], with `error` as the API's error object.
fn action_response(result: &RunResult) -> Response {
    let mut body = match serde_json::to_value(result) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let note = body.remove("error");
    let (status, err) = match (result.status, run_error(result)) {
        (RunStatus::PendingApproval, _) => (StatusCode::ACCEPTED, None),
        (_, Some(err)) => (err.code.status(), Some(err)),
        (_, None) => (StatusCode::OK, None),
    };
    match err {
        Some(err) => {
            body.insert("error".into(), err.object());
        }
        None => {
            // Executed, but e.g. the outcome could not be queued for the ledger.
            if let Some(note) = note {
                body.insert("warning".into(), note);
            }
        }
    }
    json_response(status, &Value::Object(body))
}

async fn approval(
    State(d): State<St>,
    _: Authed,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Ok(Path(id)) = id else {
        return Err(ApiError::not_found("such approval request"));
    };
    let well_formed = id.len() == 20
        && id.starts_with("apr_")
        && id.bytes().skip(4).all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(
            ApiError::not_found(&format!("approval request `{}`", id.escape_debug()))
                .hint("approval ids look like `apr_` and 16 hex digits"),
        );
    }
    match d.approval_record(id.clone()).await? {
        Some(record) => Ok(json_response(StatusCode::OK, &record)),
        None => Err(ApiError::not_found(&format!("approval request `{id}`"))),
    }
}

/// Liveness and what an operator checks first. No authentication, and nothing secret.
async fn healthz(State(d): State<St>) -> Response {
    let policy = d.node.policy();
    let reload_error = d
        .reload_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let (policy_status, error) = match &policy.loaded {
        Ok(_) if reload_error.is_some() => ("stale", reload_error),
        Ok(_) => ("loaded", None),
        Err(f) => ("invalid", Some(f.summary.clone())),
    };
    let entries = d.ledger_entries().await;
    let ok = policy_status == "loaded" && entries.is_some();
    let mut policy_json = json!({"status": policy_status, "hash": policy.hash()});
    if let Some(e) = error {
        policy_json["error"] = e.into();
    }
    json_response(
        StatusCode::OK,
        &json!({
            "status": if ok { "ok" } else { "degraded" },
            "version": env!("CARGO_PKG_VERSION"),
            "policy": policy_json,
            "ledger": {
                "entries": entries,
                "append_failures": d.node.ledger().append_failures(),
            },
        }),
    )
}

async fn metrics_text(State(d): State<St>, _: Authed) -> Response {
    let gauges = Gauges {
        policy_loaded: d.node.policy().loaded.is_ok(),
        ledger_append_failures: d.node.ledger().append_failures(),
        ledger_entries: d.ledger_entries().await,
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        d.metrics.render(&gauges),
    )
        .into_response()
}

async fn openapi_json(_: Authed) -> Response {
    json_response(StatusCode::OK, &openapi::document())
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(&format!(
        "route `{} {}`",
        request.method(),
        request.uri().path().escape_debug()
    ))
    .hint("see GET /openapi.json for the API")
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "`{}` is not allowed on `{}`",
            request.method(),
            request.uri().path().escape_debug()
        ),
    )
}

/// What identifies one version of the policy file.
fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Reloads the policy whenever its file changes (size, mtime or inode). A policy that fails
/// to load keeps the previous good one in force (the node's rule) and is reported.
async fn watch_policy(d: St) {
    let path = d.node.policy_path().to_path_buf();
    let mut last = stamp(&path);
    let mut tick = tokio::time::interval(POLICY_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let now = stamp(&path);
        if now == last {
            continue;
        }
        last = now;
        let node = Arc::clone(&d.node);
        match tokio::task::spawn_blocking(move || node.reload_policy()).await {
            Ok(Ok(hash)) => {
                d.metrics.reload(true);
                *d.reload_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                (d.report)(Event::PolicyReloaded { hash });
            }
            Ok(Err(failure)) => {
                d.metrics.reload(false);
                let kept = d.node.policy().hash();
                if kept.is_some() {
                    *d.reload_error.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(failure.summary.clone());
                }
                (d.report)(Event::PolicyRejected {
                    details: failure.details,
                    kept,
                });
            }
            Err(e) => (d.report)(Event::Internal(format!("policy reload task failed: {e}"))),
        }
    }
}

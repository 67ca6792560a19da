//! JSON errors with stable codes: `{"error": {"code", "message", "hint"?}}`, plus any fields a
//! route adds (the decision, an approval id). (contract: docs/http-api.md)

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Every error code the API answers with. (contract)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// No `Authorization: Bearer <agent token>`, or the wrong token.
    Unauthorized,
    /// The request is not a valid action request (malformed or non-strict JSON, unknown
    /// fields, a bad query parameter, ...). A recorded deny when it reached the node.
    InvalidRequest,
    /// The body is larger than `limits.max_payload_bytes`.
    PayloadTooLarge,
    /// No such route or resource.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// `/mcp`: the request's `Origin` is not a loopback origin (DNS-rebinding defence).
    ForbiddenOrigin,
    /// `/mcp`: the request's `Accept` does not admit `application/json`.
    NotAcceptable,
    /// Policy (or a human, or a failure that fails closed) denied the action. Nothing ran.
    Denied,
    /// The action waits for a human approval (proxy only; `/v1/actions` answers 202).
    ApprovalRequired,
    /// The decision could not be made durable, so the action was denied.
    LedgerUnavailable,
    /// The action was allowed but did not succeed (the connector refused, the provider was
    /// unreachable or failed, or timed out: see `provider_reached`).
    ActionFailed,
    /// A bug or an unexpected failure; details are on the daemon's stderr.
    Internal,
}

impl ErrorCode {
    /// Every code, for the OpenAPI document.
    pub const ALL: &[ErrorCode] = &[
        ErrorCode::Unauthorized,
        ErrorCode::InvalidRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::ForbiddenOrigin,
        ErrorCode::NotAcceptable,
        ErrorCode::Denied,
        ErrorCode::ApprovalRequired,
        ErrorCode::LedgerUnavailable,
        ErrorCode::ActionFailed,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::NotAcceptable => "not_acceptable",
            ErrorCode::Denied => "denied",
            ErrorCode::ApprovalRequired => "approval_required",
            ErrorCode::LedgerUnavailable => "ledger_unavailable",
            ErrorCode::ActionFailed => "action_failed",
            ErrorCode::Internal => "internal",
        }
    }

    /// The one place codes map to HTTP statuses.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::ForbiddenOrigin => StatusCode::FORBIDDEN,
            ErrorCode::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ErrorCode::Denied | ErrorCode::ApprovalRequired => StatusCode::FORBIDDEN,
            ErrorCode::LedgerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ActionFailed => StatusCode::BAD_GATEWAY,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub hint: Option<String>,
    /// Fields beside `error` (e.g. `decision`, `approval_id`).
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        // A message with a `hint:` line keeps the hint apart.
        let message = message.into();
        let (message, hint) = match message.split_once("\nhint: ") {
            Some((m, h)) => (m.to_owned(), Some(h.to_owned())),
            None => (message, None),
        };
        Self {
            code,
            message,
            hint,
            extra: Map::new(),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// The `error` object alone.
    pub fn object(&self) -> Value {
        let mut e = Map::new();
        e.insert("code".into(), self.code.as_str().into());
        e.insert("message".into(), self.message.clone().into());
        if let Some(h) = &self.hint {
            e.insert("hint".into(), h.clone().into());
        }
        Value::Object(e)
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "missing or wrong agent token").hint(
            "send `Authorization: Bearer <token>`; the token is in `$AXTARY_HOME/agent.token`",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no {what}"))
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
        .hint("the limit is `limits.max_payload_bytes` in config.yaml")
    }

    /// A 500 whose body stays generic: the details go to the daemon's stderr.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error; see the daemon's log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut body = self.extra.clone();
        body.insert("error".into(), self.object());
        let mut response = json_response(status, &Value::Object(body));
        if self.code == ErrorCode::Unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"axtary\""),
            );
        }
        response
    }
}

/// A JSON response (compact, with a trailing newline for terminals).
pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut bytes = serde_json::to_vec(value).unwrap_or_else(|_| {
        json!({"error": {"code": "internal", "message": "internal error"}})
            .to_string()
            .into_bytes()
    });
    bytes.push(b'\n');
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

//! The HTTP transport shared by the github, slack, linear and http connectors.
//!
//! Requests are first built as a [`Planned`] value: the same value is either sent or, in a dry
//! run, rendered with credentials replaced by `[REDACTED:NAME]`, so the dry run shows exactly
//! what would be sent. Redirects are never followed (a 3xx comes back as the result), and
//! response bodies are read up to a configured limit.

use std::sync::Once;
use std::time::Duration;

use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::config::HttpSettings;

pub(crate) const USER_AGENT: &str = concat!("axtary/", env!("CARGO_PKG_VERSION"));

/// One header of a planned request.
pub(crate) struct Header {
    pub name: String,
    pub value: Zeroizing<String>,
    /// What a dry run shows (the value with any secret replaced by `[REDACTED:NAME]`).
    pub shown: String,
}

impl Header {
    pub fn plain(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: Zeroizing::new(value.to_owned()),
            shown: value.to_owned(),
        }
    }

    /// A header whose value is `template` with `{secret}` replaced by the secret.
    pub fn secret(name: &str, template: &str, secret_name: &str, secret: &str) -> Self {
        Self {
            name: name.to_owned(),
            value: Zeroizing::new(template.replace("{secret}", secret)),
            shown: template.replace("{secret}", &format!("[REDACTED:{secret_name}]")),
        }
    }
}

/// The body of a planned request.
pub(crate) enum Body {
    None,
    Json(Value),
    Text(String),
}

/// A request as it will be sent.
pub(crate) struct Planned {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: Body,
}

impl Planned {
    /// What a dry run reports: method, URL, headers (credentials redacted) and body.
    pub fn render(&self) -> Value {
        let mut headers = Map::new();
        for h in &self.headers {
            headers.insert(h.name.clone(), Value::String(h.shown.clone()));
        }
        if matches!(self.body, Body::Json(_)) {
            headers.insert("content-type".into(), "application/json".into());
        }
        let body = match &self.body {
            Body::None => Value::Null,
            Body::Json(v) => v.clone(),
            Body::Text(s) => Value::String(s.clone()),
        };
        json!({"method": self.method.as_str(), "url": self.url, "headers": headers, "body": body})
    }
}

/// A response read within the size limit.
pub(crate) struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as JSON if it is, else as text (lossy), for results and error messages.
    pub fn body_value(&self) -> Value {
        self.json()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&self.body).into_owned()))
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request failed before a complete response was read.
pub(crate) enum SendError {
    /// Nothing reached the provider (bad URL, refused connection, DNS failure).
    NotReached(String),
    /// The request may have reached the provider (timeout, connection reset).
    Unknown(String),
    /// The provider answered with more than the configured limit.
    TooLarge { status: u16, limit: usize },
}

impl SendError {
    pub fn message(&self) -> String {
        match self {
            SendError::NotReached(m) => format!("could not reach the provider: {m}"),
            SendError::Unknown(m) => {
                format!("no complete answer from the provider (it may have acted): {m}")
            }
            SendError::TooLarge { status, limit } => {
                format!("provider answered HTTP {status} with more than {limit} bytes")
            }
        }
    }

    /// The outcome of a request that failed in transport, for connectors whose retries are
    /// safe to judge by it: not reached (nothing happened), an oversized answer (the provider
    /// acted), or unknown (it may have acted).
    pub fn into_outcome(self, label: &str) -> crate::Outcome {
        let message = format!("{label}: {}", self.message());
        match self {
            SendError::NotReached(_) => crate::Outcome::failed(false, message, json!({})),
            SendError::TooLarge { .. } => crate::Outcome::failed(true, message, json!({})),
            SendError::Unknown(_) => crate::Outcome::unknown(message, json!({})),
        }
    }
}

/// An HTTP client with one connector's timeouts, limits and no redirects.
pub(crate) struct Transport {
    client: reqwest::Client,
    max_response_bytes: usize,
}

impl Transport {
    pub fn new(settings: &dyn HttpSettings) -> Result<Self, crate::ConfigError> {
        static PROVIDER: Once = Once::new();
        PROVIDER.call_once(|| {
            // Err means another provider is installed already, which serves just as well.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout())
            .connect_timeout(settings.timeout().min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| crate::ConfigError::new("http client", e.to_string()))?;
        Ok(Self {
            client,
            max_response_bytes: settings.max_response_bytes(),
        })
    }

    pub async fn send(&self, planned: &Planned) -> Result<Response, SendError> {
        let mut req = self
            .client
            .request(planned.method.clone(), planned.url.as_str());
        for h in &planned.headers {
            req = req.header(h.name.as_str(), h.value.as_str());
        }
        req = match &planned.body {
            Body::None => req,
            Body::Json(v) => req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(v).unwrap_or_default()),
            Body::Text(s) => req.body(s.clone()),
        };
        let mut resp = req.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let location = header("location");
        let retry_after = header("retry-after");
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_response_bytes as u64)
        {
            return Err(SendError::TooLarge {
                status,
                limit: self.max_response_bytes,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(SendError::TooLarge {
                    status,
                    limit: self.max_response_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            content_type,
            location,
            retry_after,
            body,
        })
    }
}

fn classify(e: reqwest::Error) -> SendError {
    // Strip the URL from the message; it is shown elsewhere and may carry a query string.
    let not_reached = e.is_builder() || e.is_connect();
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if not_reached {
        SendError::NotReached(message)
    } else {
        SendError::Unknown(message)
    }
}

/// Joins a base URL and a path that starts with `/`.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// Percent-encodes a path segment (keeps `/` when `keep_slash`).
pub(crate) fn encode_path(s: &str, keep_slash: bool) -> String {
    s.split('/')
        .map(|seg| crate::scrub::percent_encode(seg.as_bytes(), true))
        .collect::<Vec<_>>()
        .join(if keep_slash { "/" } else { "%2F" })
}

/// Parses `Name: template` where the template contains `{secret}`.
pub(crate) fn parse_auth_header(h: &str) -> Result<(&str, &str), String> {
    let (name, template) = h
        .split_once(':')
        .ok_or("expected `Header-Name: value with {secret}`")?;
    let name = name.trim();
    let template = template.trim();
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("`{name}` is not a valid header name"));
    }
    if !template.contains("{secret}") {
        return Err("the value must contain `{secret}`".into());
    }
    if template.chars().any(char::is_control) {
        return Err("the value must not contain control characters".into());
    }
    Ok((name, template))
}

//! http: request to a configured upstream.

use serde_json::Value;

use super::input::{Input, wrong_type};
use super::{Failure, Normalized};
use crate::facts::{Fact, Facts};
use crate::json;

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Headers an agent may not set: the connector owns credentials, framing and the pass.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "axtary-pass",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "x-api-key",
];

pub(crate) fn normalize(op: &str, value: &Value) -> Result<Normalized, Failure> {
    if op != "request" {
        return Err(Failure::UnknownOperation("request"));
    }
    let input = Input::new(
        value,
        &["upstream", "method", "path", "query", "headers", "body"],
    )?;
    let upstream = input.name("upstream")?;
    let method = input.text("method", 16)?;
    let upper = method.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err(Failure::Input(format!(
            "`method` must be one of {} (got `{}`)",
            METHODS.join(", "),
            method.escape_debug()
        )));
    }
    let path = input.text("path", 8192)?;
    check_path(path)?;
    let query = match input.get("query") {
        None => String::new(),
        Some(Value::String(q)) => {
            if q.starts_with('?')
                || q.contains('#')
                || q.chars().any(|c| c.is_control() || c == ' ')
            {
                return Err(Failure::Input(
                    "`query` must be a query string without `?`, `#`, spaces or control characters"
                        .into(),
                ));
            }
            q.clone()
        }
        Some(Value::Object(map)) => {
            let mut pairs = Vec::new();
            for (k, v) in map {
                match v {
                    Value::String(s) => pairs.push(format!("{k}={s}")),
                    Value::Array(items) => {
                        for item in items {
                            let Value::String(s) = item else {
                                return Err(wrong_type(&format!("query.{k}[]"), "a string", item));
                            };
                            pairs.push(format!("{k}={s}"));
                        }
                    }
                    other => {
                        return Err(wrong_type(
                            &format!("query.{k}"),
                            "a string or an array of strings",
                            other,
                        ));
                    }
                }
            }
            pairs.join("&")
        }
        Some(other) => return Err(wrong_type("query", "a string or an object", other)),
    };
    let mut header_names = Vec::new();
    match input.get("headers") {
        None => {}
        Some(Value::Object(map)) => {
            for (name, v) in map {
                let lower = name.to_ascii_lowercase();
                let token = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    return Err(Failure::Input(format!(
                        "header name `{}` is not a valid HTTP token",
                        name.escape_debug()
                    )));
                }
                if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-") {
                    return Err(Failure::Input(format!(
                        "header `{name}` is set by the connector, not the agent (credentials are injected from the broker)"
                    )));
                }
                let Value::String(s) = v else {
                    return Err(wrong_type(&format!("headers.{name}"), "a string", v));
                };
                if s.chars().any(|c| c.is_control() && c != '\t') {
                    return Err(Failure::Input(format!(
                        "header `{name}` contains control characters"
                    )));
                }
                if header_names.contains(&lower) {
                    return Err(Failure::Input(format!(
                        "header `{name}` appears twice (names are case-insensitive)"
                    )));
                }
                header_names.push(lower);
            }
        }
        Some(other) => return Err(wrong_type("headers", "an object of strings", other)),
    }
    header_names.sort();
    let body_bytes = match input.get("body") {
        None => 0,
        Some(Value::String(s)) => s.len(),
        Some(v) => json::canonicalize(v).len(),
    };
    if body_bytes > 0 && matches!(upper.as_str(), "GET" | "HEAD") {
        return Err(Failure::Input(format!(
            "a {upper} request must not have a body"
        )));
    }
    let mut facts = Facts::new();
    facts.insert("upstream".into(), upstream.into());
    facts.insert("method".into(), upper.into());
    facts.insert("path".into(), path.into());
    facts.insert("query".into(), query.into());
    facts.insert(
        "body_bytes".into(),
        Fact::Int(i64::try_from(body_bytes).unwrap_or(i64::MAX)),
    );
    facts.insert("header_names".into(), Fact::List(header_names));
    Ok(Normalized {
        resource: format!("http:{upstream}"),
        payload: value.clone(),
        facts,
    })
}

/// An origin-form path. Dot segments (also percent-encoded) and `//` are refused rather than
/// normalized, so the path policy sees is the path the upstream receives.
fn check_path(path: &str) -> Result<(), Failure> {
    let fail = |why: &str| {
        Err(Failure::Input(format!(
            "`path` {why} (got `{}`)",
            path.escape_debug()
        )))
    };
    if !path.starts_with('/') {
        return fail("must start with `/`");
    }
    if path.contains('?') || path.contains('#') {
        return fail("must not contain `?` or `#` (use `query`)");
    }
    if path
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return fail("must not contain spaces, backslashes or control characters");
    }
    if path.contains("//") {
        return fail("must not contain empty segments (`//`)");
    }
    let lower = path.to_ascii_lowercase();
    for seg in lower.split('/') {
        let decoded = seg.replace("%2e", ".");
        if decoded == "." || decoded == ".." {
            return fail("must not contain `.` or `..` segments");
        }
        if seg.contains("%2f") || seg.contains("%5c") || seg.contains("%00") {
            return fail("must not contain encoded `/`, `\\` or NUL");
        }
    }
    Ok(())
}

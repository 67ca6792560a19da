//! Action requests, canonical actions and the action hash (DESIGN.md §3).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::facts::Facts;
use crate::json::{self, JsonError, Limits};

/// Version of the canonical action format, bound into every hash.
pub const ACTION_VERSION: u32 = 1;

/// What a surface submits: who wants to do what, in provider terms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionRequest {
    pub agent: String,
    pub connector: String,
    pub operation: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

/// Why a request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("invalid JSON: {0}")]
    Json(#[from] JsonError),
    #[error("{0}")]
    Shape(String),
}

impl ActionRequest {
    /// Parses a request from untrusted bytes under `limits` (strict JSON: see [`json::parse_strict`]).
    pub fn from_slice(bytes: &[u8], limits: Limits) -> Result<Self, RequestError> {
        let value = json::parse_strict(bytes, limits)?;
        Self::from_value(value)
    }

    /// Builds a request from an already-strict JSON value.
    pub fn from_value(value: Value) -> Result<Self, RequestError> {
        let Value::Object(mut map) = value else {
            return Err(RequestError::Shape(
                "an action request must be a JSON object".into(),
            ));
        };
        const FIELDS: &[&str] = &["agent", "connector", "operation", "input", "context"];
        if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(RequestError::Shape(format!(
                "unknown field `{unknown}` in action request (expected one of: {})",
                FIELDS.join(", ")
            )));
        }
        let agent = match map.remove("agent") {
            None | Some(Value::Null) => "unknown".to_owned(),
            Some(v) => take_name(v, "agent")?,
        };
        let connector = take_name(required(&mut map, "connector")?, "connector")?;
        let operation = take_name(required(&mut map, "operation")?, "operation")?;
        let input = required(&mut map, "input")?;
        if !input.is_object() {
            return Err(RequestError::Shape(format!(
                "`input` must be an object, got {}",
                type_name(&input)
            )));
        }
        let context = map.remove("context").filter(|c| !c.is_null());
        if let Some(c) = context.as_ref().filter(|c| !c.is_object()) {
            return Err(RequestError::Shape(format!(
                "`context` must be an object, got {}",
                type_name(c)
            )));
        }
        Ok(Self {
            agent,
            connector,
            operation,
            input,
            context,
        })
    }
}

fn required(map: &mut Map<String, Value>, field: &str) -> Result<Value, RequestError> {
    map.remove(field)
        .ok_or_else(|| RequestError::Shape(format!("missing field `{field}` in action request")))
}

fn take_name(v: Value, field: &str) -> Result<String, RequestError> {
    match v {
        Value::String(s) if !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control) => {
            Ok(s)
        }
        Value::String(_) => Err(RequestError::Shape(format!(
            "`{field}` must be 1 to 256 characters with no control characters"
        ))),
        other => Err(RequestError::Shape(format!(
            "`{field}` must be a string, got {}",
            type_name(&other)
        ))),
    }
}

/// A short human name for a JSON value's type, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A normalized, provider-neutral action: what policy decides on and what the hash binds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub v: u32,
    pub agent: String,
    pub connector: String,
    pub operation: String,
    pub resource: String,
    /// The exact content that will be sent.
    pub payload: Value,
    pub facts: Facts,
}

impl Action {
    /// The canonical bytes the action hash is computed over:
    /// JCS of `{v, connector, operation, resource, payload}`.
    pub fn hash_input(&self) -> Vec<u8> {
        hash_input(
            self.v,
            &self.connector,
            &self.operation,
            &self.resource,
            &self.payload,
        )
    }

    /// `sha256:<hex>` over [`Action::hash_input`].
    pub fn hash(&self) -> ActionHash {
        ActionHash::of_bytes(&self.hash_input())
    }
}

/// The canonical bytes of an action's hashed fields (DESIGN.md §3).
pub fn hash_input(
    v: u32,
    connector: &str,
    operation: &str,
    resource: &str,
    payload: &Value,
) -> Vec<u8> {
    // Keys in UTF-16 order: connector, operation, payload, resource, v. Written by hand so the
    // payload is not cloned into a temporary map.
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"{\"connector\":");
    json::write_canonical(&Value::String(connector.to_owned()), &mut out);
    out.extend_from_slice(b",\"operation\":");
    json::write_canonical(&Value::String(operation.to_owned()), &mut out);
    out.extend_from_slice(b",\"payload\":");
    json::write_canonical(payload, &mut out);
    out.extend_from_slice(b",\"resource\":");
    json::write_canonical(&Value::String(resource.to_owned()), &mut out);
    out.extend_from_slice(b",\"v\":");
    out.extend_from_slice(v.to_string().as_bytes());
    out.push(b'}');
    out
}

/// A SHA-256 digest written `sha256:<64 lower-case hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionHash([u8; 32]);

impl ActionHash {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Hex digits without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// Parses `sha256:<64 lower-case hex>`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        crate::hex::decode_lower(s.strip_prefix("sha256:")?, &mut out)?;
        Some(Self(out))
    }
}

impl fmt::Display for ActionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for ActionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ActionHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ActionHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ActionHash::parse(&s).ok_or_else(|| {
            serde::de::Error::custom("expected `sha256:` and 64 lower-case hex digits")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Result<ActionRequest, RequestError> {
        ActionRequest::from_slice(s.as_bytes(), Limits::default())
    }

    #[test]
    fn parses_a_request() {
        let r = req(r##"{"agent":"a","connector":"slack","operation":"chat.post","input":{"channel":"#x","text":"hi"}}"##)
            .unwrap();
        assert_eq!(r.agent, "a");
        assert_eq!(r.connector, "slack");
        assert!(r.context.is_none());
    }

    #[test]
    fn rejects_bad_shapes() {
        for (input, needle) in [
            ("[]", "must be a JSON object"),
            (
                r#"{"connector":"slack","operation":"chat.post"}"#,
                "missing field `input`",
            ),
            (
                r#"{"operation":"x","input":{}}"#,
                "missing field `connector`",
            ),
            (
                r#"{"connector":1,"operation":"x","input":{}}"#,
                "`connector` must be a string",
            ),
            (
                r#"{"connector":"s","operation":"x","input":[]}"#,
                "`input` must be an object",
            ),
            (
                r#"{"connector":"s","operation":"x","input":{},"extra":1}"#,
                "unknown field `extra`",
            ),
            (
                r#"{"connector":"","operation":"x","input":{}}"#,
                "1 to 256 characters",
            ),
            (
                r#"{"connector":"s","operation":"x","input":{},"context":"x"}"#,
                "`context` must be an object",
            ),
            (
                r#"{"connector":"s","connector":"t","operation":"x","input":{}}"#,
                "duplicate key",
            ),
        ] {
            let e = req(input).unwrap_err().to_string();
            assert!(e.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn hash_is_jcs_of_the_hashed_fields() {
        let action = Action {
            v: 1,
            agent: "a".into(),
            connector: "slack".into(),
            operation: "chat.post".into(),
            resource: "slack:#x".into(),
            payload: serde_json::json!({"text": "hi", "channel": "#x"}),
            facts: Facts::new(),
        };
        let expected = serde_json::json!({
            "v": 1, "connector": "slack", "operation": "chat.post", "resource": "slack:#x",
            "payload": {"channel": "#x", "text": "hi"}
        });
        assert_eq!(action.hash_input(), json::canonicalize(&expected));
        assert_eq!(
            String::from_utf8(action.hash_input()).unwrap(),
            r##"{"connector":"slack","operation":"chat.post","payload":{"channel":"#x","text":"hi"},"resource":"slack:#x","v":1}"##
        );
        let h = action.hash();
        assert_eq!(ActionHash::parse(&h.to_string()), Some(h));
        assert_eq!(h.to_string().len(), 7 + 64);
        assert_eq!(ActionHash::parse("sha256:ABC"), None);
    }
}

//! Just enough JSON-RPC to route MCP stdio traffic (`axtary mcp wrap`): classify a line without copying it, and
//! build the few messages the wrapper writes itself.
//!
//! A line from the client is routed on its `method`. Two parsers that disagree about a line's
//! method would let a `tools/call` reach the server unguarded, so classification is strict
//! where it matters: the line must be exactly one JSON value (no trailing data), `id`,
//! `method` and `params` may appear only once (serde's derived visitor rejects repeats), and a
//! raw carriage return may appear only right before the final newline (the Python SDK reads
//! stdin with universal newlines, so a bare `\r` would split one line into two messages).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// The top-level fields of one JSON-RPC message, borrowed from the line.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub error: Option<&'a RawValue>,
}

/// What one line is.
#[derive(Debug)]
pub enum Line<'a> {
    /// One message.
    Single(Envelope<'a>),
    /// A JSON-RPC batch (removed from MCP in 2025-06-18; older peers may still send one).
    Batch(Vec<Envelope<'a>>),
}

/// Why a line could not be classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("not valid UTF-8 (first bad byte at offset {0})")]
    Utf8(usize),
    #[error("a carriage return inside the line (it would split the message for some readers)")]
    CarriageReturn,
    #[error("empty line")]
    Empty,
    #[error("{0}")]
    Json(String),
}

/// The line without its line ending (`\n` or `\r\n`).
pub fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Classifies one line (with or without its line ending).
pub fn classify(line: &[u8]) -> Result<Line<'_>, Malformed> {
    let body = trim_line_end(line);
    if body.contains(&b'\r') {
        return Err(Malformed::CarriageReturn);
    }
    let text = std::str::from_utf8(body).map_err(|e| Malformed::Utf8(e.valid_up_to()))?;
    match first_byte(text) {
        None => Err(Malformed::Empty),
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(json_error)?;
            items
                .into_iter()
                .map(|item| envelope(item.get()))
                .collect::<Result<_, _>>()
                .map(Line::Batch)
        }
        Some(_) => envelope(text).map(Line::Single),
    }
}

/// The first byte after JSON whitespace.
fn first_byte(text: &str) -> Option<u8> {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .as_bytes()
        .first()
        .copied()
}

/// One message, which must be a JSON object: serde's derived visitor would also read a struct
/// from an array (`[id, method, params]`), a message no other parser sees.
fn envelope(text: &str) -> Result<Envelope<'_>, Malformed> {
    if first_byte(text) != Some(b'{') {
        return Err(Malformed::Json(
            "a JSON-RPC message must be a JSON object".to_owned(),
        ));
    }
    serde_json::from_str(text).map_err(json_error)
}

fn json_error(e: serde_json::Error) -> Malformed {
    Malformed::Json(e.to_string())
}

/// The id of a line that did not classify, when it can still be read unambiguously (a single
/// object whose `id`, given once, is a string or an integer). Used to answer with an error
/// instead of leaving the client waiting.
pub fn salvage_id(line: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Box<RawValue>,
    }
    let text = std::str::from_utf8(trim_line_end(line)).ok()?;
    // Tolerates anything after the object and repeated keys other than `id`.
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<IdOnly>();
    let id = stream.next()?.ok()?.id;
    id_key(&id).map(|_| id.get().to_owned())
}

/// A key identifying a request id independently of how it is spelled (`"a"` and `"\u0061"`,
/// `1` and `1`): `s:` + the string, or `n:` + the integer. `None` for anything MCP does not
/// allow as an id (null, floats, objects, ...).
pub fn id_key(id: &RawValue) -> Option<String> {
    match serde_json::from_str::<Value>(id.get()).ok()? {
        Value::String(s) => Some(format!("s:{s}")),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(format!("n:{n}")),
        _ => None,
    }
}

/// A tool result with `isError: true` and `text`, answering request `id` (raw JSON), as one
/// line. `modern` adds the `resultType` that 2026-07-28 results carry.
pub fn error_result(id: &str, text: &str, modern: bool) -> String {
    let mut result = serde_json::json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
    });
    if modern && let Some(map) = result.as_object_mut() {
        map.insert("resultType".into(), "complete".into());
    }
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{result}}}\n")
}

/// A JSON-RPC error answering request `id` (raw JSON; `None` writes `null`), as one line.
pub fn rpc_error(id: Option<&str>, code: i32, message: &str) -> String {
    let error = serde_json::json!({"code": code, "message": message});
    let id = id.unwrap_or("null");
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{error}}}\n")
}

/// JSON-RPC error codes.
pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;

#[cfg(test)]
mod tests {
    use super::*;

    fn method(line: &str) -> Option<String> {
        match classify(line.as_bytes()).unwrap() {
            Line::Single(e) => e.method.map(|m| m.into_owned()),
            Line::Batch(_) => panic!("batch"),
        }
    }

    #[test]
    fn classifies_requests_and_responses() {
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#).as_deref(),
            Some("tools/call")
        );
        // Escapes in the method are read as the server reads them.
        assert_eq!(
            method(r#"{"jsonrpc":"2.0","id":1,"method":"tools\/\u0063all"}"#).as_deref(),
            Some("tools/call")
        );
        assert_eq!(method(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#), None);
        assert!(matches!(
            classify(br#"[{"id":1,"method":"ping"},{"method":"x"}]"#),
            Ok(Line::Batch(b)) if b.len() == 2
        ));
        // Line endings are not part of the message.
        assert_eq!(
            method("{\"id\":1,\"method\":\"ping\"}\r\n").as_deref(),
            Some("ping")
        );
    }

    #[test]
    fn refuses_lines_two_parsers_could_read_differently() {
        for bad in [
            // A repeated method: first-wins and last-wins parsers disagree.
            r#"{"id":1,"method":"ping","method":"tools/call"}"#,
            r#"{"id":1,"id":2,"method":"ping"}"#,
            // The same key spelled with an escape is the same key.
            r#"{"id":1,"method":"ping","m\u0065thod":"tools/call"}"#,
            r#"{"id":1,"method":"tools/call","params":{},"params":{}}"#,
            // Two messages on one line.
            r#"{"id":1,"method":"ping"} {"id":2,"method":"tools/call"}"#,
            // A bare CR: universal-newline readers see two lines.
            "{\"method\":\"n\",\"p\":\r{\"id\":9,\"method\":\"tools/call\"}\r}",
            "",
            "   ",
            "not json",
            "42",
            "{\"method\":\"tools/call\"",
            // Serde reads a struct from an array too; no other parser sees a method there.
            "[1, \"tools/list\", {}]",
            "[[{\"id\":1,\"method\":\"tools/call\"}, \"tools/list\"]]",
            "\n[1, \"tools/list\", {}]",
            " [{\"id\":1,\"method\":\"ping\"}, [2, \"ping\"]]",
        ] {
            assert!(classify(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(
            classify(b"{\"id\":1,\"method\":\"\xff\"}").unwrap_err(),
            Malformed::Utf8(18)
        );
    }

    #[test]
    fn salvages_only_unambiguous_ids() {
        assert_eq!(
            salvage_id(br#"{"id":7,"method":"a","method":"b"}"#).as_deref(),
            Some("7")
        );
        assert_eq!(
            salvage_id(br#"{"id":"x","method":"a"} trailing"#).as_deref(),
            Some(r#""x""#)
        );
        assert_eq!(salvage_id(br#"{"id":1,"id":2}"#), None);
        assert_eq!(salvage_id(br#"{"id":null}"#), None);
        assert_eq!(salvage_id(br#"{"id":1.5}"#), None);
        assert_eq!(salvage_id(b"garbage"), None);
    }

    #[test]
    fn id_keys_ignore_spelling() {
        let a = RawValue::from_string(r#""a""#.into()).unwrap();
        let b = RawValue::from_string(r#""\u0061""#.into()).unwrap();
        assert_eq!(id_key(&a), id_key(&b));
        let one = RawValue::from_string("1".into()).unwrap();
        assert_eq!(id_key(&one).as_deref(), Some("n:1"));
        assert_ne!(
            id_key(&one),
            id_key(&RawValue::from_string(r#""1""#.into()).unwrap())
        );
        assert_eq!(id_key(&RawValue::from_string("1.0".into()).unwrap()), None);
    }

    #[test]
    fn answers_are_valid_json_with_the_id_verbatim() {
        let line = error_result(r#""req-\u00e9""#, "no \"way\"", true);
        assert!(line.ends_with('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], "req-é");
        assert!(line.contains(r#""id":"req-\u00e9""#));
        assert_eq!(v["result"]["isError"], true);
        assert_eq!(v["result"]["resultType"], "complete");
        assert_eq!(v["result"]["content"][0]["text"], "no \"way\"");
        let v: Value = serde_json::from_str(&rpc_error(None, PARSE_ERROR, "bad")).unwrap();
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["code"], -32700);
    }
}

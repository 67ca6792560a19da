//! Strict JSON input and RFC 8785 (JCS) canonical output.
//!
//! `serde_json` on its own keeps the *last* of two duplicate keys and turns integers above
//! 2^53 into something a JavaScript verifier reads differently. Either would let two different
//! payloads share one `action_hash`, so every byte that reaches the hash goes through
//! [`parse_strict`] first. It rejects, with a message a user can act on:
//! duplicate keys at any depth, numbers outside ±2^53, nesting deeper than [`Limits::max_depth`],
//! documents larger than [`Limits::max_bytes`], invalid UTF-8, lone surrogates, NaN/Infinity
//! (not JSON at all) and NUL characters inside strings.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The largest integer magnitude that survives a round trip through an IEEE-754 double.
pub const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Bounds applied while parsing untrusted JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of arrays and objects.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// Why a JSON document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error(
        "input is over the limit of {limit} bytes (set `limits.max_payload_bytes` to change it)"
    )]
    TooLarge { size: usize, limit: usize },
    #[error("input is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("{0}")]
    Syntax(String),
}

/// Parses `bytes` as one JSON value under `limits`, rejecting everything that could make two
/// different documents canonicalize to the same bytes.
pub fn parse_strict(bytes: &[u8], limits: Limits) -> Result<Value, JsonError> {
    if bytes.len() > limits.max_bytes {
        return Err(JsonError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(JsonError::InvalidUtf8 {
            offset: e.valid_up_to(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // The seed enforces its own, lower depth limit; serde_json's own limit of 128 stays on as a
    // second guard against stack exhaustion.
    let value = StrictSeed {
        depth: 0,
        max_depth: limits.max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| JsonError::Syntax(tidy_serde_message(&e)))?;
    de.end()
        .map_err(|e| JsonError::Syntax(tidy_serde_message(&e)))?;
    Ok(value)
}

/// Checks an already-built value against the same rules as [`parse_strict`] (except duplicate
/// keys, which a built `Value` cannot hold). Used for values that did not come from bytes, such
/// as policy test fixtures written in YAML.
pub fn check_value(value: &Value, limits: Limits) -> Result<(), JsonError> {
    fn walk(v: &Value, depth: usize, max: usize) -> Result<(), String> {
        match v {
            Value::Null | Value::Bool(_) => Ok(()),
            Value::Number(n) => check_number(n),
            Value::String(s) => check_string(s),
            Value::Array(items) => {
                if depth >= max {
                    return Err(format!("nesting is deeper than {max} levels"));
                }
                items.iter().try_for_each(|i| walk(i, depth + 1, max))
            }
            Value::Object(map) => {
                if depth >= max {
                    return Err(format!("nesting is deeper than {max} levels"));
                }
                map.iter().try_for_each(|(k, v)| {
                    check_string(k)?;
                    walk(v, depth + 1, max)
                })
            }
        }
    }
    walk(value, 0, limits.max_depth).map_err(JsonError::Syntax)
}

fn check_number(n: &serde_json::Number) -> Result<(), String> {
    let ok = if let Some(u) = n.as_u64() {
        u <= MAX_SAFE_INTEGER
    } else if let Some(i) = n.as_i64() {
        i.unsigned_abs() <= MAX_SAFE_INTEGER
    } else {
        n.as_f64()
            .is_some_and(|f| f.is_finite() && f.abs() <= MAX_SAFE_INTEGER as f64)
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "number `{n}` is outside ±2^53; send large numbers as strings"
        ))
    }
}

fn check_string(s: &str) -> Result<(), String> {
    if s.contains('\0') {
        Err("strings must not contain NUL (U+0000) characters".to_owned())
    } else {
        Ok(())
    }
}

/// serde_json's messages name Rust-ish things ("invalid type: map"); keep them but make the
/// position readable.
fn tidy_serde_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.contains("hex escape") {
        // serde_json reports a lone surrogate (`"\ud800"`) as a truncated escape.
        return msg
            .replacen(
                "unexpected end of hex escape",
                "lone surrogate or bad \\u escape",
                1,
            )
            .replacen(
                "lone leading surrogate in hex escape",
                "lone surrogate in \\u escape",
                1,
            );
    }
    msg.replace("EOF while parsing", "unexpected end of input while parsing")
}

struct StrictSeed {
    depth: usize,
    max_depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor {
            depth: self.depth,
            max_depth: self.max_depth,
        })
    }
}

struct StrictVisitor {
    depth: usize,
    max_depth: usize,
}

impl StrictVisitor {
    fn nested<E: de::Error>(&self) -> Result<StrictSeed, E> {
        if self.depth >= self.max_depth {
            return Err(E::custom(format_args!(
                "nesting is deeper than {} levels",
                self.max_depth
            )));
        }
        Ok(StrictSeed {
            depth: self.depth + 1,
            max_depth: self.max_depth,
        })
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        let n = serde_json::Number::from(v);
        check_number(&n).map_err(E::custom)?;
        Ok(Value::Number(n))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        let n = serde_json::Number::from(v);
        check_number(&n).map_err(E::custom)?;
        Ok(Value::Number(n))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        let n = serde_json::Number::from_f64(v)
            .ok_or_else(|| E::custom("NaN and Infinity are not JSON numbers"))?;
        check_number(&n).map_err(E::custom)?;
        Ok(Value::Number(n))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        check_string(v).map_err(E::custom)?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        check_string(&v).map_err(E::custom)?;
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let seed_depth = self.nested::<A::Error>()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictSeed {
            depth: seed_depth.depth,
            max_depth: self.max_depth,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let seed_depth = self.nested::<A::Error>()?;
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            check_string(&key).map_err(de::Error::custom)?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let value = access.next_value_seed(StrictSeed {
                depth: seed_depth.depth,
                max_depth: self.max_depth,
            })?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Writes `value` in RFC 8785 canonical form.
///
/// INVARIANT: `value` passed [`parse_strict`] or [`check_value`], so every number is finite and
/// within ±2^53 and the output is the same bytes a JavaScript or Go JCS implementation writes.
pub fn canonicalize(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

/// Appends the canonical form of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // RFC 8785 §3.2.3: sort by the UTF-16 code units of the keys, not by UTF-8 bytes.
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        // ECMAScript Number.prototype.toString, as RFC 8785 §3.2.2.3 requires.
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format(f).as_bytes());
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            b'\t' => Some(b"\\t"),
            b'\n' => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            b'\r' => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(input: &str) -> String {
        let v = parse_strict(input.as_bytes(), Limits::default()).unwrap();
        String::from_utf8(canonicalize(&v)).unwrap()
    }

    fn err(input: &[u8]) -> String {
        parse_strict(input, Limits::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn rfc8785_section_3_2_2_example() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        // 1E30 is outside ±2^53 and is rejected by design; check the rest of the example.
        assert!(err(input.as_bytes()).contains("outside ±2^53"));
        let input = input.replace("1E30, ", "");
        assert_eq!(
            canon(&input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn rfc8785_section_3_2_3_utf16_key_order() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let v = parse_strict(input.as_bytes(), Limits::default()).unwrap();
        let canon = String::from_utf8(canonicalize(&v)).unwrap();
        // Read the values back in the order the canonical text holds them.
        let values: Vec<&str> = canon
            .split("\":\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert_eq!(
            values,
            [
                "Carriage Return",
                "One",
                "Control",
                "Latin Small Letter O With Diaeresis",
                "Euro Sign",
                "Emoji: Grinning Face",
                "Hebrew Letter Dalet With Dagesh"
            ]
        );
    }

    #[test]
    fn es6_number_formatting() {
        for (input, expected) in [
            ("0", "0"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("1.0", "1"),
            ("1e1", "10"),
            ("0.1", "0.1"),
            ("1e-7", "1e-7"),
            ("123456789012345.6", "123456789012345.6"),
            ("9007199254740992", "9007199254740992"),
            ("-9007199254740992", "-9007199254740992"),
            ("5e-324", "5e-324"),
            ("100000000000000000000e-10", "10000000000"),
        ] {
            assert_eq!(canon(input), expected, "{input}");
        }
    }

    #[test]
    fn rejects_duplicate_keys_at_any_depth() {
        assert!(
            err(br##"{"channel":"#ok","channel":"#general"}"##).contains("duplicate key `channel`")
        );
        assert!(err(br#"{"a":[{"b":{"c":1,"c":1}}]}"#).contains("duplicate key `c`"));
    }

    #[test]
    fn rejects_unsafe_numbers() {
        assert!(err(b"9007199254740993").contains("outside"));
        assert!(err(b"-9007199254740993").contains("outside"));
        assert!(err(b"18446744073709551616").contains("outside"));
        assert!(err(b"1e300").contains("outside"));
        assert!(!err(b"1e400").is_empty());
        assert!(!err(b"NaN").is_empty());
        assert!(!err(b"Infinity").is_empty());
        assert!(!err(b"[-Infinity]").is_empty());
    }

    #[test]
    fn rejects_bad_text() {
        assert!(err(b"\"\xff\"").contains("UTF-8"));
        assert!(err(br#""\ud800""#).contains("surrogate"));
        assert!(err(br#""\udc00x""#).contains("surrogate") || !err(br#""\udc00x""#).is_empty());
        assert!(err(br#"{"a":"x\u0000y"}"#).contains("NUL"));
        assert!(!err(b"{\"a\":\"x\0y\"}").is_empty());
        assert!(!err(b"{\"a\":1,}").is_empty());
        assert!(!err(b"").is_empty());
        assert!(!err(b"{} {}").is_empty());
    }

    #[test]
    fn rejects_deep_nesting_and_large_input() {
        let ok = "[".repeat(64) + &"]".repeat(64);
        assert!(parse_strict(ok.as_bytes(), Limits::default()).is_ok());
        let deep = "[".repeat(65) + &"]".repeat(65);
        assert!(err(deep.as_bytes()).contains("deeper than 64"));
        let very_deep = "[".repeat(100_000);
        assert!(!err(very_deep.as_bytes()).is_empty());
        let big = format!("\"{}\"", "a".repeat(2 * 1024 * 1024));
        assert!(err(big.as_bytes()).contains("over the limit"));
        let limits = Limits {
            max_bytes: 10,
            max_depth: 2,
        };
        assert!(parse_strict(b"[[1]]", limits).is_ok());
        assert!(parse_strict(b"[[[1]]]", limits).is_err());
    }

    #[test]
    fn escapes_control_characters_only() {
        assert_eq!(
            canon(r#""\u0001\u001f\u007f\u2028/""#),
            "\"\\u0001\\u001f\u{7f}\u{2028}/\""
        );
    }

    #[test]
    fn check_value_matches_parse_rules() {
        let v: Value = serde_json::from_str(r#"{"a":[1,2,{"b":"x"}]}"#).unwrap();
        assert!(check_value(&v, Limits::default()).is_ok());
        let v: Value = serde_json::from_str(r#"{"a":9007199254740993}"#).unwrap();
        assert!(check_value(&v, Limits::default()).is_err());
    }
}

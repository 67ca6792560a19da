//! The YAML layer: source text to a tree of nodes that remember where they came from.
//!
//! Policy files are read in two steps. This module turns text into a generic [`Node`] tree
//! with a line, column and length on every node (serde-saphyr's `Spanned`). The compiler then
//! walks that tree by hand, so it can report *every* unknown field, wrong type or bad value
//! with its position in one pass, instead of stopping at the first error as a derived
//! `Deserialize` would. Duplicate keys are forwarded to us (`DuplicateKeyPolicy::PassThrough`)
//! for the same reason: the compiler reports each one with both positions.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter, Spanned};

/// Where a node starts (1-based line and character column) and how many characters it spans
/// on its first line (at least 1, for underlining).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub line: usize,
    pub column: usize,
    pub len: usize,
}

impl Span {
    fn of(loc: &serde_saphyr::Location) -> Self {
        let len = usize::try_from(loc.span().len()).unwrap_or(1).max(1);
        Span {
            line: usize::try_from(loc.line()).unwrap_or(0),
            column: usize::try_from(loc.column()).unwrap_or(0),
            len,
        }
    }
}

/// One YAML node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub span: Span,
}

/// A YAML value, with YAML 1.2 core-schema typing (`true` is a boolean, `"true"` a string).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in source order; duplicate keys are kept (the compiler reports them).
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short name for messages ("expected a string, found a list").
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error: message and position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub span: Span,
}

/// Parses one YAML document. An empty document is `Null`.
pub(crate) fn parse(source: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Option<Spanned<Value>>>(source, options) {
        Ok(Some(s)) => Ok(Node {
            span: Span::of(&s.referenced),
            value: s.value,
        }),
        Ok(None) => Ok(Node {
            value: Value::Null,
            span: Span {
                line: 1,
                column: 1,
                len: 1,
            },
        }),
        Err(e) => {
            let inner = e.without_snippet();
            // The parser's text may quote input; keep control characters out of terminals.
            let message = serde_saphyr::DefaultMessageFormatter
                .format_message(inner)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let span = inner.location().map(|l| Span::of(&l)).unwrap_or_default();
            Err(SyntaxError { message, span })
        }
    }
}

fn node(s: Spanned<Value>) -> Node {
    Node {
        span: Span::of(&s.referenced),
        value: s.value,
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        // Above i64::MAX: keep it as a float; every use of such a number is an error later.
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(Value::Str(s.to_owned())),
            Err(_) => Err(E::custom("binary values are not supported")),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(node(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Value>>()? {
            let v = map.next_value::<Spanned<Value>>()?;
            entries.push((node(k), node(v)));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_types() {
        let n = parse("a: 1\nb: [x, \"y\"]\nc: {d: true}\na: ~\n").unwrap();
        eprintln!("{n:#?}");
        let e = parse("a: [1, 2\nb: c\n").unwrap_err();
        eprintln!("{e:?}");
        let e = parse("a: *x\n").unwrap_err();
        eprintln!("{e:?}");
        let e = parse("a:\n  - b: 1\n   c: 2\n").unwrap_err();
        eprintln!("{e:?}");
    }
}

//! A compact binary form of the YAML node tree, so a process that loads the same policy on
//! every start (the Claude Code hook runs once per tool call) can skip the YAML parser.
//!
//! Each node is its span (line, column, length as LEB128 varints), then a tag byte, then the
//! value: nothing for null and booleans, 8 little-endian bytes for integers and floats, a
//! varint length and UTF-8 bytes for strings, a varint count and the items for lists and
//! mappings (a mapping's items are key, value, key, value...). [`decode`] is total: any
//! truncation, bad tag, bad UTF-8, trailing byte or nesting deeper than [`MAX_DEPTH`] is
//! `None`, never a panic.

use super::yaml::{Node, Span, Value};

/// Deeper than any policy the YAML parser accepts; bounds [`decode`]'s recursion.
pub(crate) const MAX_DEPTH: usize = 256;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const STR: u8 = 5;
const SEQ: u8 = 6;
const MAP: u8 = 7;

/// Appends `node` to `out`.
pub(crate) fn encode(node: &Node, out: &mut Vec<u8>) {
    for n in [node.span.line, node.span.column, node.span.len] {
        varint(n as u64, out);
    }
    match &node.value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Str(s) => {
            out.push(STR);
            varint(s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Seq(items) => {
            out.push(SEQ);
            varint(items.len() as u64, out);
            items.iter().for_each(|n| encode(n, out));
        }
        Value::Map(entries) => {
            out.push(MAP);
            varint(entries.len() as u64, out);
            for (k, v) in entries {
                encode(k, out);
                encode(v, out);
            }
        }
    }
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Decodes exactly one node filling all of `bytes`.
pub(crate) fn decode(bytes: &[u8]) -> Option<Node> {
    let mut r = Reader { bytes, pos: 0 };
    let node = r.node(0)?;
    (r.pos == bytes.len()).then_some(node)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?).ok()
    }

    fn eight(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }

    /// A count of items, each at least 4 bytes long (a span and a tag): a count larger than
    /// the bytes left could hold is corrupt, and is refused before anything is allocated.
    fn count(&mut self, per_item: usize) -> Option<usize> {
        let n = self.usize()?;
        let left = self.bytes.len() - self.pos;
        (n.checked_mul(per_item)? <= left).then_some(n)
    }

    fn node(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let span = Span {
            line: self.usize()?,
            column: self.usize()?,
            len: self.usize()?,
        };
        let value = match self.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Int(i64::from_le_bytes(self.eight()?)),
            FLOAT => Value::Float(f64::from_bits(u64::from_le_bytes(self.eight()?))),
            STR => {
                let len = self.usize()?;
                Value::Str(std::str::from_utf8(self.take(len)?).ok()?.to_owned())
            }
            SEQ => {
                let n = self.count(4)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.node(depth + 1)?);
                }
                Value::Seq(items)
            }
            MAP => {
                let n = self.count(8)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.node(depth + 1)?;
                    let v = self.node(depth + 1)?;
                    entries.push((k, v));
                }
                Value::Map(entries)
            }
            _ => return None,
        };
        Some(Node { value, span })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::yaml;

    fn round_trip(source: &str) {
        let node = yaml::parse(source).unwrap();
        let mut bytes = Vec::new();
        encode(&node, &mut bytes);
        assert_eq!(decode(&bytes), Some(node), "{source}");
    }

    #[test]
    fn round_trips_every_kind_of_value() {
        round_trip("a: 1\nb: [x, \"y\", -7, 1.5, true, false, ~]\nc: {d: \"é\\u0000\"}\na: dup\n");
        round_trip("");
        round_trip("- [[[[]]]]\n- {}\n- 9223372036854775807\n- -9223372036854775808\n");
        round_trip(&format!("k: {}\n", "long ".repeat(100)));
    }

    #[test]
    fn refuses_every_truncation_and_trailing_bytes() {
        let node =
            yaml::parse(include_str!("../../../axtary-node/src/starter-policy.yaml")).unwrap();
        let mut bytes = Vec::new();
        encode(&node, &mut bytes);
        assert_eq!(decode(&bytes).as_ref(), Some(&node));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        bytes.push(0);
        assert_eq!(decode(&bytes), None);
    }

    #[test]
    fn refuses_corrupt_input_without_panicking() {
        // A huge count, a bad tag, bad UTF-8, an overlong varint, and nesting too deep.
        assert_eq!(decode(&[1, 1, 1, SEQ, 0xff, 0xff, 0xff, 0xff, 0x0f]), None);
        assert_eq!(decode(&[1, 1, 1, 9]), None);
        assert_eq!(decode(&[1, 1, 1, STR, 2, 0xc3, 0x28]), None);
        assert_eq!(decode(&[0xff; 12]), None);
        let mut deep = Vec::new();
        for _ in 0..=MAX_DEPTH + 1 {
            deep.extend_from_slice(&[1, 1, 1, SEQ, 1]);
        }
        deep.extend_from_slice(&[1, 1, 1, NULL]);
        assert_eq!(decode(&deep), None);
    }
}

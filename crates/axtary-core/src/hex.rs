//! Hex encoding for hashes, keys and ids: one implementation for the whole workspace.

/// Lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

/// Fills `out` from exactly `2 * out.len()` lower-case hex digits (the canonical form of
/// hashes: anything else would let two spellings name one hash).
pub fn decode_lower(s: &str, out: &mut [u8]) -> Option<()> {
    decode_with(s, out, |c| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    })
}

/// Fills `out` from exactly `2 * out.len()` hex digits of either case.
pub fn decode(s: &str, out: &mut [u8]) -> Option<()> {
    decode_with(s, out, |c| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    })
}

fn decode_with(s: &str, out: &mut [u8], digit: impl Fn(u8) -> Option<u8>) -> Option<()> {
    let s = s.as_bytes();
    if s.len() != out.len() * 2 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (digit(*pair.first()?)? << 4) | digit(*pair.get(1)?)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let bytes = [0x00, 0x7f, 0xab, 0xff];
        assert_eq!(encode(&bytes), "007fabff");
        let mut out = [0u8; 4];
        assert_eq!(decode_lower("007fabff", &mut out), Some(()));
        assert_eq!(out, bytes);
        assert_eq!(decode_lower("007FABFF", &mut out), None);
        assert_eq!(decode("007FABFF", &mut out), Some(()));
        assert_eq!(out, bytes);
        for bad in [
            "007fab",
            "007fabff00",
            "+07fabff",
            "007fab g",
            "007fabf\u{e9}",
        ] {
            assert_eq!(decode(bad, &mut out), None, "{bad}");
        }
    }
}

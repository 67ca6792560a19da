//! Reading request bytes from stdin or a file, bounded by the configured size limit.

use std::io::{self, Read};

use axtary_core::json::{JsonError, Limits};

/// Reads at most `limits.max_bytes` bytes; a longer stream is refused after one byte more, so a
/// 10 GiB stream costs 1 MiB of memory, not 10 GiB.
pub fn read_bounded(reader: impl Read, limits: Limits) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let cap = u64::try_from(limits.max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read input: {e}"))?;
    if buf.len() > limits.max_bytes {
        let e = JsonError::TooLarge {
            size: buf.len(),
            limit: limits.max_bytes,
        };
        return Err(format!("invalid JSON: {e}"));
    }
    Ok(buf)
}

/// [`read_bounded`] on stdin.
pub fn read_stdin(limits: Limits) -> Result<Vec<u8>, String> {
    read_bounded(io::stdin().lock(), limits)
}

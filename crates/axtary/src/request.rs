//! Reading an ActionRequest from stdin, bounded.

use std::io::{self, Read};

use axtary_core::ActionRequest;
use axtary_core::action::RequestError;
use axtary_core::json::{JsonError, Limits};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read stdin: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Request(#[from] RequestError),
}

/// Reads at most `limits.max_bytes + 1` bytes, so a 10 GiB stream is refused after 1 MiB.
pub fn read_stdin(limits: Limits) -> Result<ActionRequest, ReadError> {
    let mut buf = Vec::new();
    let cap = u64::try_from(limits.max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    io::stdin().lock().take(cap).read_to_end(&mut buf)?;
    if buf.len() > limits.max_bytes {
        return Err(RequestError::Json(JsonError::TooLarge {
            size: buf.len(),
            limit: limits.max_bytes,
        })
        .into());
    }
    Ok(ActionRequest::from_slice(&buf, limits)?)
}

//! mcp:<server>: any tool; operation = tool name, payload = the tool's arguments.

use serde_json::Value;

use super::{Failure, Normalized};
use crate::facts::Facts;

pub(crate) fn normalize(
    connector: &str,
    tool: &str,
    arguments: &Value,
) -> Result<Normalized, Failure> {
    let server = connector.strip_prefix("mcp:").unwrap_or(connector);
    let valid = !tool.is_empty()
        && tool.len() <= 128
        && tool
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    if !valid {
        return Err(Failure::Input(format!(
            "tool name must be 1 to 128 of letters, digits, `_`, `-`, `.` or `/` (got `{}`)",
            tool.escape_debug()
        )));
    }
    if !arguments.is_object() {
        return Err(Failure::Input("tool arguments must be an object".into()));
    }
    let mut facts = Facts::new();
    facts.insert("server".into(), server.into());
    facts.insert("tool".into(), tool.into());
    Ok(Normalized {
        resource: format!("mcp:{server}"),
        payload: arguments.clone(),
        facts,
    })
}

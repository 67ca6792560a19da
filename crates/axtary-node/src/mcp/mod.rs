//! MCP surfaces: `axtary mcp wrap` guards a third-party MCP server on its stdio.

pub mod message;
pub mod relay;

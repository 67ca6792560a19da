//! MCP surfaces. `axtary mcp wrap` guards a third-party MCP server on its stdio: [`relay`] is
//! the protocol logic (testable without processes or a node), [`wrap`] the child process,
//! [`gate`] the link to the node, and [`install`] rewrites MCP clients' configs to use it.

pub mod gate;
pub mod install;
pub mod relay;
pub mod wrap;

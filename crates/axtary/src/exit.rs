//! Exit codes, the same for every command. (contract: DESIGN.md §9)

use std::process::ExitCode;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success, or the action is allowed.
    Ok,
    /// An error (I/O, missing home, internal failure). Any action involved is denied.
    Error,
    /// The action is denied by policy.
    Deny,
    /// The policy or the input is invalid. Any action involved is denied.
    Invalid,
    /// The action needs approval, or an approval is pending.
    ApprovalRequired,
    /// `axtary mcp wrap` ends with the wrapped server's exit code (128 + signal if killed).
    Child(u8),
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Deny => 2,
            Exit::Invalid => 3,
            Exit::ApprovalRequired => 4,
            Exit::Child(code) => code,
        })
    }
}

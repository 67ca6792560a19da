//! Exit codes, the same for every command. (contract: DESIGN.md §9)

use std::process::ExitCode;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success, or the action is allowed.
    Ok = 0,
    /// An error (I/O, missing home, internal failure). Any action involved is denied.
    Error = 1,
    /// The action is denied by policy.
    Deny = 2,
    /// The policy or the input is invalid. Any action involved is denied.
    Invalid = 3,
    /// The action needs approval, or an approval is pending.
    ApprovalRequired = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

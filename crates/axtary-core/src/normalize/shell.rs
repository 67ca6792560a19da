//! Shell command analysis (Claude Code's Bash tool): parsed as a shell AST, never split on spaces.
//!
//! PLACEHOLDER: the real parser lands in its own change. Until then every command is opaque,
//! which policy treats conservatively.

/// What a shell command does, as far as a static reading can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShellAnalysis {
    /// Every program run, by base name, in order of first appearance, deduplicated.
    pub programs: Vec<String>,
    /// Paths read, after quote removal, exactly as written (not yet resolved against a cwd).
    pub paths_read: Vec<String>,
    /// Paths written, after quote removal, exactly as written.
    pub paths_written: Vec<String>,
    pub network: bool,
    pub git_push: bool,
    pub force: bool,
    pub sudo: bool,
    pub destructive: bool,
    /// The command could not be fully understood.
    pub opaque: bool,
    /// Why it is opaque, for `explain` output.
    pub opaque_reasons: Vec<String>,
}

/// Analyzes `command`. Total: any input yields an analysis, never a panic.
pub fn analyze(command: &str) -> ShellAnalysis {
    let _ = command;
    ShellAnalysis {
        opaque: true,
        opaque_reasons: vec!["shell parser not built yet".into()],
        ..Default::default()
    }
}

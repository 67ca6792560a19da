//! Shell command analysis (Claude Code's Bash tool): parsed as a shell AST, never split on spaces.
//!
//! Three stages, one file each: `lexer.rs` (tokens, words, quoting, heredoc bodies), `parser.rs`
//! (recursive descent into the small AST of `ast.rs`) and `analyze.rs` (a walk that decides what
//! each command does). The analysis is static and conservative: whatever it cannot know (a
//! dynamic command name, `eval`, inline interpreter code, a parse error) makes the result
//! `opaque`, with a reason, and policy treats opaque commands conservatively.
//!
//! Total by construction: input is capped at [`MAX_INPUT`] bytes, nesting at 32 levels (parser
//! and analysis alike), every index is checked, and each byte is lexed at most once per nesting
//! level.

mod analyze;
mod ast;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

/// Longer commands are not parsed at all; they are opaque.
pub const MAX_INPUT: usize = 64 * 1024;

/// What a shell command does, as far as a static reading can tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShellAnalysis {
    /// Every program run, by base name, in order of first appearance, deduplicated.
    pub programs: Vec<String>,
    /// Paths read, after quote removal, exactly as written (not yet resolved against a cwd;
    /// `~` is kept). Known readers report their file operands and `<` targets; for programs
    /// this module does not know, every operand containing `/`, `.` or `~` (URLs aside) is
    /// reported, an over-approximation on purpose.
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
    /// Every simple command's words after quote removal, joined by one space, in order,
    /// deduplicated: including commands inside substitutions, `sh -c` strings and wrappers
    /// (`sudo rm -rf /` gives `sudo rm -rf /` and `rm -rf /`). A word that cannot be known
    /// statically appears as written (`cat $(echo .env)`).
    pub commands: Vec<String>,
    /// The command changes directory (`cd`, `pushd`, `env -C`), so relative paths after it
    /// are not relative to the starting directory; callers should resolve them conservatively.
    pub changes_dir: bool,
}

/// Analyzes `command`. Total: any input yields an analysis, never a panic.
pub fn analyze(command: &str) -> ShellAnalysis {
    if command.len() > MAX_INPUT {
        return ShellAnalysis {
            opaque: true,
            opaque_reasons: vec!["command too long".into()],
            ..Default::default()
        };
    }
    let mut analyzer = analyze::Analyzer::default();
    analyzer.source(command.as_bytes(), 0);
    analyzer.finish()
}

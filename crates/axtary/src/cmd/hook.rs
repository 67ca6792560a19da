//! `axtary hook claude-code`: Claude Code's PreToolUse / PostToolUse hook.
//!
//! Claude Code hooks FAIL OPEN: a crash, a timeout or any exit code but 2 lets the tool call
//! run. So this command never leaves through the usual error path: every failure (no home,
//! no key, a broken ledger, unreadable input, a panic in any thread, taking longer than the
//! watchdog allows) exits 2 with the reason on stderr, which Claude Code treats as a block.
//! Only a recorded decision printed completely to stdout exits 0.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use axtary_node::hook::{self, Answer};
use axtary_node::pipeline::{Node, NodeOptions};

use crate::exit::Exit;
use crate::home::Home;
use crate::request;

/// Default watchdog, well inside the 30 s `timeout` that `axtary install` gives Claude Code.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
/// Longest watchdog accepted: it must fire before Claude Code's own timeout, which fails open.
pub const MAX_TIMEOUT_MS: u64 = 20_000;

/// The one exit code Claude Code treats as "block" (the same as [`Exit::Deny`]).
const BLOCK_CODE: i32 = 2;

/// Runs the hook. Never returns an error: every failure is a deny (exit 2).
pub fn claude_code(home: Option<PathBuf>, timeout_ms: u64) -> Exit {
    guard_process(timeout_ms);
    let home = match Home::locate(home) {
        Ok(h) => h,
        Err(e) => return block(&format!("cannot find Axtary's home: {e:#}")),
    };
    let opts = NodeOptions {
        policy_path: None,
        checkpoint_on_close: false,
        policy_cache: true,
    };
    let node = match Node::open(&home, opts) {
        Ok(n) => n,
        Err(e) => {
            return block(&format!(
                "cannot open Axtary's home `{}`: {e:#}\nhint: run `axtary init`, or set AXTARY_HOME to the home the hook should use",
                home.root().display()
            ));
        }
    };
    let limit = hook::input_limit(node.limits());
    let answer = match request::read_bounded(
        std::io::stdin().lock(),
        axtary_core::json::Limits {
            max_bytes: limit,
            ..node.limits()
        },
    ) {
        Ok(bytes) => hook::handle(&node, &bytes),
        Err(why) => hook::unreadable(&node, why),
    };
    // Every entry this answer depends on was durable when `append` returned; closing only
    // stops the writer thread.
    if let Err(e) = node.close() {
        say(&format!("warning: closing the ledger: {e}"));
    }
    match answer {
        Answer::Respond { stdout, .. } => {
            let mut out = std::io::stdout().lock();
            match out.write_all(stdout.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => Exit::Ok,
                // An answer Claude Code did not receive whole must not read as success.
                Err(e) => block(&format!("cannot write the hook's answer: {e}")),
            }
        }
        Answer::Block { reason } => block(&reason),
        Answer::Fail { reason } => {
            say(&reason);
            Exit::Error
        }
    }
}

/// Exits 2 (block) with `reason` on stderr.
pub fn block(reason: &str) -> Exit {
    say(reason);
    Exit::Deny
}

/// Writes a line to stderr. Unlike `eprintln!`, never panics when stderr is gone: a panic
/// here would end the process with a code Claude Code reads as "go ahead".
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A panic anywhere, or the watchdog firing, ends the process with exit 2 at once.
fn guard_process(timeout_ms: u64) {
    std::panic::set_hook(Box::new(|info| {
        say(&format!(
            "Axtary denied this tool call: internal error: {info}"
        ));
        std::process::exit(BLOCK_CODE);
    }));
    let spawned = std::thread::Builder::new()
        .name("axtary-hook-watchdog".into())
        .spawn(move || {
            std::thread::sleep(Duration::from_millis(timeout_ms));
            say(&format!(
                "Axtary denied this tool call: no decision within {timeout_ms} ms (the ledger may be locked by another process)"
            ));
            std::process::exit(BLOCK_CODE);
        });
    if let Err(e) = spawned {
        say(&format!(
            "Axtary denied this tool call: cannot start the hook's watchdog: {e}"
        ));
        std::process::exit(BLOCK_CODE);
    }
}

#[cfg(test)]
mod tests {
    use std::process::ExitCode;

    use super::*;

    #[test]
    fn the_block_code_is_the_deny_exit() {
        assert_eq!(ExitCode::from(Exit::Deny), ExitCode::from(BLOCK_CODE as u8));
    }
}

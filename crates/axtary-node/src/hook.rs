//! The Claude Code hook adapter: a PreToolUse payload in, a permission decision out; a
//! PostToolUse payload in, an outcome in the ledger.
//!
//! Claude Code hooks FAIL OPEN (refs/PROTOCOLS.md §1): a crash, a timeout or any exit code
//! other than 2 lets the tool call run. So every path here ends in an [`Answer`], and the
//! only answer that lets a call run is [`Answer::Respond`] with `allow` (or `ask`, which
//! hands the call to Claude Code's own prompt) for a decision that is durably recorded.
//! Everything else, including input this module cannot read, is a deny. The process-level
//! guards (watchdog, panic hook, argument errors) live in the binary.
//!
//! Each decision records Claude Code's `tool_use_id` in its context; PostToolUse finds the
//! newest decision with that id among the last entries of the ledger (no second write on the
//! PreToolUse path) and records `executed` or `failed` against it, with the SHA-256 of the
//! canonical `tool_response`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use axtary_core::claude_code::{self, HookEvent, HookInput};
use axtary_core::decision::Decided;
use axtary_core::json::{self, Limits};
use axtary_core::ledger::EntryKind;
use axtary_core::normalize::{normalize, paths, shell};
use axtary_core::policy::{ApprovalMode, Effect};
use axtary_core::{ActionHash, ActionRequest, Fact};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

use crate::pipeline::{Effected, Node};
use crate::record;

/// The surface name recorded with every decision from the hook.
pub const SURFACE: &str = "claude-code";

/// Room for the hook's own fields around the tool input, on top of the request size limit.
const ENVELOPE_BYTES: usize = 256 * 1024;

/// How far back PostToolUse looks for its decision: first the newest entries (the usual case,
/// a moment after PreToolUse), then further (many parallel calls or subagents in between).
const LOOKBACK: [u64; 2] = [256, 8192];

/// Rules of decisions made because Axtary could not work, not because of the call.
const INTERNAL_FAILURES: &[&str] = &[
    axtary_core::decision::INVALID_POLICY,
    axtary_core::decision::LEDGER_UNAVAILABLE,
    crate::approvals::APPROVAL_UNAVAILABLE,
];

/// Claude Code's `permissionDecision`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Allow,
    Deny,
    Ask,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Allow => "allow",
            Permission::Deny => "deny",
            Permission::Ask => "ask",
        }
    }
}

/// What the hook process does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Print `stdout` (empty for PostToolUse) and exit 0.
    Respond {
        stdout: String,
        permission: Option<Permission>,
    },
    /// Exit 2 with `reason` on stderr: Claude Code blocks the call and shows the reason.
    Block { reason: String },
    /// Exit 1 with `reason` on stderr: for PostToolUse, where the tool has already run and
    /// nothing is left to block; Claude Code reports it as a non-blocking hook error.
    Fail { reason: String },
}

impl Answer {
    fn block(reason: impl Into<String>) -> Answer {
        Answer::Block {
            reason: reason.into(),
        }
    }
}

/// The size limit for a hook payload under `limits` (the node's request limits).
pub fn input_limit(limits: Limits) -> usize {
    limits.max_bytes.saturating_add(ENVELOPE_BYTES)
}

/// Handles one hook invocation. Total: every failure is an [`Answer::Block`] (PreToolUse, or
/// input too broken to tell) or an [`Answer::Fail`] (PostToolUse).
pub fn handle(node: &Node, input: &[u8]) -> Answer {
    let limits = Limits {
        max_bytes: input_limit(node.limits()),
        ..node.limits()
    };
    match claude_code::parse(input, limits) {
        Ok(hook) => match hook.event {
            HookEvent::PreToolUse => pre_tool_use(node, &hook),
            HookEvent::PostToolUse | HookEvent::PostToolUseFailure => {
                post_tool_use(node, &hook, true)
            }
        },
        Err(strict) => {
            // A tool's response may hold what strict JSON refuses (an integer beyond 2^53 from
            // an MCP server). Outcomes are still worth recording; decisions never are made on
            // such input.
            let lenient = serde_json::from_slice::<Value>(input)
                .ok()
                .and_then(|v| claude_code::from_value(v).ok())
                .filter(|h| h.event != HookEvent::PreToolUse);
            match lenient {
                // Lenient parsing keeps the last of duplicate keys; if the input could have been
                // a PreToolUse (`"hook_event_name"` twice), an empty exit 0 would let the call
                // run. Record the outcome, but answer such input with a block.
                Some(hook) if contains(input, b"PreToolUse") => {
                    let _ = post_tool_use(node, &hook, false);
                    unreadable(node, strict.to_string())
                }
                Some(hook) => post_tool_use(node, &hook, false),
                None => unreadable(node, strict.to_string()),
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The answer to input that could not be read at all: recorded as a deny (best effort), and
/// blocked.
pub fn unreadable(node: &Node, why: String) -> Answer {
    let decided = node.deny_unreadable(why.clone(), SURFACE);
    let recorded = match decided.decision.ledger_seq {
        Some(seq) => format!(" (ledger entry {seq})"),
        None => String::new(),
    };
    Answer::block(format!(
        "Axtary denied this tool call: {why}{recorded}; a call Axtary cannot read is never allowed"
    ))
}

fn pre_tool_use(node: &Node, hook: &HookInput) -> Answer {
    let request = with_real_paths(node, hook.to_request(), hook.cwd.as_deref());
    let decided = node.decide_request_asking(&request, SURFACE);
    answer_for(&decided)
}

/// The hook's answer for a recorded decision.
pub fn answer_for(decided: &Decided) -> Answer {
    let d = &decided.decision;
    // Record before effect: nothing runs on a decision the ledger does not hold.
    if d.effect != Effect::Deny && d.ledger_seq.is_none() {
        return Answer::block(format!(
            "Axtary denied this tool call: its decision could not be recorded ({})",
            d.reason
        ));
    }
    // Axtary itself is broken (no policy, no ledger, no approval store): say so the loud way,
    // not as if a rule had decided.
    if INTERNAL_FAILURES.contains(&d.rule.as_str()) {
        return Answer::block(format!(
            "Axtary denied this tool call because it cannot decide ({}): {}",
            d.rule, d.reason
        ));
    }
    let (permission, reason) = match (d.effect, d.approval_mode) {
        (Effect::Allow, _) => (
            Permission::Allow,
            format!("Axtary allowed this (rule `{}`): {}", d.rule, d.reason),
        ),
        (Effect::Deny, _) => (
            Permission::Deny,
            format!("Axtary denied this (rule `{}`): {}", d.rule, d.reason),
        ),
        (Effect::RequireApproval, Some(ApprovalMode::Ask)) => (
            Permission::Ask,
            format!(
                "Axtary asks you to confirm (rule `{}`): {}",
                d.rule, d.reason
            ),
        ),
        (Effect::RequireApproval, _) => {
            // The reason already names the request and `axtary approvals approve ID`.
            let how = match &d.approval_id {
                Some(id) if d.reason.contains(&format!("approve {id}")) => format!(
                    " A human reviews it with `axtary approvals show {id}` first. Once it is approved, retry exactly the same call; a changed call needs a new approval."
                ),
                Some(id) => format!(
                    " Approval request `{id}` is pending: a human reviews it with `axtary approvals show {id}` and approves it with `axtary approvals approve {id}`. Once it is approved, retry exactly the same call; a changed call needs a new approval."
                ),
                None => String::new(),
            };
            (
                Permission::Deny,
                format!(
                    "Axtary needs a human's approval for this (rule `{}`): {}.{how}",
                    d.rule, d.reason
                ),
            )
        }
    };
    let reason = record::withhold_secrets(&reason);
    let out = json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": permission.as_str(),
            "permissionDecisionReason": reason,
        }
    });
    Answer::Respond {
        stdout: out.to_string(),
        permission: Some(permission),
    }
}

// ---- symlinks ----------------------------------------------------------------------------

/// Adds `real_paths` to a request whose paths (or working directory) pass through a symlink,
/// so policy sees the file the call would really reach. Lexical resolution in the pure core
/// cannot see symlinks; this can. (A symlink changed between this check and the tool's run is
/// out of reach of any hook.)
fn with_real_paths(node: &Node, request: ActionRequest, cwd: Option<&str>) -> ActionRequest {
    if !matches!(request.connector.as_str(), "fs" | "shell")
        && !request
            .connector
            .starts_with(axtary_core::facts::CLAUDE_CODE_PREFIX)
    {
        return request;
    }
    let Ok(action) = normalize(&request, node.normalize_options()) else {
        // Refused anyway; the decision says why.
        return request;
    };
    let user_home = node.normalize_options().user_home.as_deref();
    let mut real = BTreeMap::new();
    let mut note = |lexical: &str, physical: &Path| {
        if let Some(r) = real_path(physical)
            && r != lexical
        {
            real.insert(lexical.to_owned(), Value::String(r));
        }
    };
    if let Some(c) = cwd.and_then(|c| paths::normalize_lexically(c).ok()) {
        note(&c, Path::new(&c));
    }
    if let Some(Fact::List(abs)) = action.facts.get("abs_paths") {
        for p in abs {
            note(p, Path::new(p));
        }
    }
    // The kernel resolves `link/../x` through the link, which lexical resolution does not:
    // resolve the command's paths as written, too.
    if request.connector == "shell"
        && let (Some(command), Some(cwd)) =
            (request.input.get("command").and_then(Value::as_str), cwd)
    {
        let a = shell::analyze(command);
        if !a.changes_dir {
            for raw in a.paths_read.iter().chain(&a.paths_written) {
                let Ok(r) = paths::resolve(raw, Some(cwd), user_home) else {
                    continue;
                };
                let Some(lexical) = r.abs else { continue };
                let physical = match (raw.strip_prefix("~/"), user_home) {
                    (Some(rest), Some(h)) => Path::new(h).join(rest),
                    _ => Path::new(cwd).join(raw),
                };
                note(&lexical, &physical);
            }
        }
    }
    if real.is_empty() {
        return request;
    }
    let mut request = request;
    if let Value::Object(input) = &mut request.input {
        input.insert(
            "real_paths".into(),
            Value::Object(real.into_iter().collect()),
        );
    }
    request
}

/// The symlink-free absolute form of `path`, resolving the longest existing prefix through
/// the file system and the rest lexically (a file about to be written does not exist yet).
fn real_path(path: &Path) -> Option<String> {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<PathBuf> = Vec::new();
    let base = loop {
        match std::fs::canonicalize(&existing) {
            Ok(p) => break p,
            Err(_) => {
                let name = existing.file_name().map(PathBuf::from);
                let parent = existing.parent().map(Path::to_path_buf);
                match (name, parent) {
                    (Some(n), Some(p)) => {
                        rest.push(n);
                        existing = p;
                    }
                    // `..` or the root itself did not resolve: give up on this path.
                    _ => return None,
                }
            }
        }
    };
    let mut full = base;
    for c in rest.iter().rev() {
        full.push(c);
    }
    let s = full.to_str()?;
    // Normalize what was appended lexically (`.`/`..` after the existing prefix).
    if full
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return paths::normalize_lexically(s).ok();
    }
    Some(s.to_owned())
}

// ---- PostToolUse ------------------------------------------------------------------------

fn post_tool_use(node: &Node, hook: &HookInput, strict: bool) -> Answer {
    let response = hook.tool_response.clone().unwrap_or(Value::Null);
    let failed = hook.event == HookEvent::PostToolUseFailure
        || hook.error.is_some()
        || claude_code::response_failed(&response);
    let mut detail = Map::new();
    detail.insert("surface".into(), SURFACE.into());
    detail.insert("tool_name".into(), hook.tool_name.clone().into());
    if let Some(id) = &hook.tool_use_id {
        detail.insert("tool_use_id".into(), id.clone().into());
    }
    if let Some(s) = &hook.session_id {
        detail.insert("session_id".into(), s.clone().into());
    }
    // The response itself stays out of the ledger (it may hold anything the tool read);
    // its hash lets anyone holding the transcript show which response this was.
    let hash = if strict {
        ActionHash::of_bytes(&json::canonicalize(&response))
    } else {
        detail.insert("response_canonical".into(), false.into());
        ActionHash::of_bytes(&serde_json::to_vec(&response).unwrap_or_default())
    };
    detail.insert("response_hash".into(), json!(hash));
    if let Some(e) = &hook.error {
        let mut e = record::withhold_secrets(e);
        truncate(&mut e, 1024);
        detail.insert("error".into(), e.into());
    }
    let decision_seq = match &hook.tool_use_id {
        Some(id) => match find_decision(node, id) {
            Ok(seq) => seq,
            Err(e) => {
                return Answer::Fail {
                    reason: format!(
                        "axtary: cannot look up the decision for tool call `{id}`: {e}"
                    ),
                };
            }
        },
        None => None,
    };
    let recorded = match decision_seq {
        Some(seq) => {
            let outcome = if failed {
                Effected::Failed
            } else {
                Effected::Succeeded
            };
            node.record_outcome(seq, outcome, Value::Object(detail))
        }
        None => {
            // The call ran with no decision of ours on record: the hook was not installed
            // when it was decided, or Claude Code timed the hook out and ran the call anyway.
            // That is exactly what an audit must show.
            detail.insert("decision_seq".into(), Value::Null);
            detail.insert(
                "note".into(),
                "no Axtary decision is on record for this tool call (was the hook installed, or did Claude Code time it out?)".into(),
            );
            let kind = if failed {
                EntryKind::Failed
            } else {
                EntryKind::Executed
            };
            node.ledger()
                .append(kind, Value::Object(detail))
                .map(|a| a.seq)
        }
    };
    match recorded {
        Ok(_) => Answer::Respond {
            stdout: String::new(),
            permission: None,
        },
        Err(e) => Answer::Fail {
            reason: format!("axtary: cannot record the outcome of this tool call: {e}"),
        },
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
}

// ---- tool_use_id → decision ---------------------------------------------------------------

/// The newest `decision` entry whose context names `tool_use_id`, if one is among the last
/// entries. Matched on the entry's canonical bytes, where the context holds
/// `"tool_use_id":<the id as a JCS string>`.
fn find_decision(node: &Node, tool_use_id: &str) -> rusqlite::Result<Option<u64>> {
    let conn = Connection::open_with_flags(
        node.home().ledger_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let mut needle = b"\"tool_use_id\":".to_vec();
    needle.extend(json::canonicalize(&Value::String(tool_use_id.to_owned())));
    let newest: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM entries", [], |r| {
        r.get(0)
    })?;
    let mut stmt = conn.prepare(
        "SELECT seq FROM entries WHERE seq > ?1 AND seq <= ?2 AND kind = 'decision' \
         AND instr(bytes, ?3) > 0 ORDER BY seq DESC LIMIT 1",
    )?;
    let mut upper = newest;
    for back in LOOKBACK {
        let lower = newest.saturating_sub(back as i64);
        let found = stmt
            .query_row(params![lower, upper, needle], |r| r.get::<_, i64>(0))
            .optional()?;
        if let Some(seq) = found {
            return Ok(u64::try_from(seq).ok());
        }
        upper = lower;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_path_resolves_the_existing_prefix() {
        let dir = std::env::temp_dir().join(format!("axtary-hook-real-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("target")).unwrap();
        std::os::unix::fs::symlink(dir.join("target"), dir.join("link")).unwrap();
        let real = |p: &Path| real_path(p).unwrap();
        let canon = std::fs::canonicalize(&dir).unwrap();
        let canon = canon.to_str().unwrap();
        assert_eq!(
            real(&dir.join("link/new.txt")),
            format!("{canon}/target/new.txt")
        );
        assert_eq!(real(&dir.join("link/a/b")), format!("{canon}/target/a/b"));
        assert_eq!(real(&dir.join("link/../x")), format!("{canon}/x"));
        assert_eq!(real(&dir.join("target")), format!("{canon}/target"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

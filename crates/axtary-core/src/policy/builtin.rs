//! Built-in self-protection rules (DESIGN.md §2, "the guard guards itself").
//!
//! They run before any user rule and cannot be overridden by one: an agent must not be able
//! to read or change Axtary's own state, edit the hook settings that route it through
//! Axtary, or approve its own actions. They are written in Rust rather than in the policy
//! language so they do not depend on the user's file at all. Matching is deliberately wide
//! (case-insensitive, every path-like fact) because a false deny here is cheap and a false
//! allow is not.

use std::sync::LazyLock;

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};

use super::compile::list_text;
use super::{Effect, PolicyEnv, RuleSummary, RuleTrace, Verdict};
use crate::action::Action;
use crate::facts::{Fact, Family};

pub(crate) const HOME: &str = "builtin:self-protect-home";
pub(crate) const HOOKS: &str = "builtin:self-protect-hooks";
pub(crate) const ADMIN: &str = "builtin:self-protect-admin";
pub(crate) const IDS: [&str; 3] = [HOME, HOOKS, ADMIN];

const HOME_GLOBS: &[&str] = &["**/.axtary", "**/.axtary/**"];
const HOOK_GLOBS: &[&str] = &[
    "**/.claude/settings.json",
    "**/.claude/settings.local.json",
    "**/.claude/settings*.json",
];
/// `axtary` subcommands an agent must never run.
const ADMIN_COMMANDS: &[&str] = &[
    "approvals",
    "secrets",
    "keys",
    "install",
    "init",
    "up",
    "control",
    "serve",
    "policy",
];
/// Facts that hold paths an action touches.
const PATH_FACTS: &[&str] = &["paths", "abs_paths", "paths_read", "paths_written"];

#[derive(Debug)]
pub(crate) struct Builtins {
    /// Axtary's home without a trailing `/` (empty for `/`).
    home: Option<String>,
    /// Other spellings of the home (its real path), also without a trailing `/`.
    aliases: Vec<String>,
}

/// The built-in glob sets, compiled on first use (most hook calls never need them). They are
/// constants that compile (the unit tests check); if one ever did not, every path would count
/// as a hit, so the rule denies instead of letting the path through.
static HOME_SET: LazyLock<Option<GlobSet>> = LazyLock::new(|| glob_set(HOME_GLOBS));
static HOOK_SET: LazyLock<Option<GlobSet>> = LazyLock::new(|| glob_set(HOOK_GLOBS));

fn glob_set(globs: &[&str]) -> Option<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(
            GlobBuilder::new(g)
                .literal_separator(true)
                .case_insensitive(true)
                .build()
                .ok()?,
        );
    }
    b.build().ok()
}

/// Whether `p` matches `set`; a set that failed to compile matches everything.
///
/// `literal` is a directory name every glob of the set names, in lower case: a path without
/// it (in any ASCII case) cannot match, so most paths are answered without building the set.
/// That holds because the letters of the literals fold only to their ASCII cases (no `ſ` or
/// Kelvin sign among them; a unit test checks).
fn hits(set: &LazyLock<Option<GlobSet>>, literal: &str, p: &str) -> bool {
    let (p, literal) = (p.as_bytes(), literal.as_bytes());
    let named = p
        .windows(literal.len())
        .any(|w| w.eq_ignore_ascii_case(literal));
    named
        && set
            .as_ref()
            .is_none_or(|s| s.is_match_candidate(&Candidate::from_bytes(p)))
}

fn list<'a>(action: &'a Action, name: &str) -> &'a [String] {
    match action.facts.get(name) {
        Some(Fact::List(l)) => l,
        _ => &[],
    }
}

impl Builtins {
    pub fn new(env: &PolicyEnv) -> Self {
        let trim = |h: &str| h.trim_end_matches('/').to_owned();
        let home = env
            .axtary_home
            .as_deref()
            .filter(|h| !h.is_empty())
            .map(trim);
        let aliases = env
            .axtary_home_aliases
            .iter()
            .filter(|h| h.starts_with('/'))
            .map(|h| trim(h))
            .filter(|h| Some(h) != home.as_ref())
            .collect();
        Builtins { home, aliases }
    }

    pub fn summaries(&self) -> Vec<RuleSummary> {
        let home = match &self.home {
            Some(h) => format!(
                "agents may not read or write Axtary's home (`{h}`, or any `.axtary` directory)"
            ),
            None => {
                "agents may not read or write Axtary's home (any `.axtary` directory)".to_owned()
            }
        };
        [
            (HOME, home),
            (
                HOOKS,
                "agents may not change their own hook settings (`.claude/settings*.json`)"
                    .to_owned(),
            ),
            (
                ADMIN,
                format!(
                    "agents may not run Axtary's admin commands (`axtary` {})",
                    ADMIN_COMMANDS.join("|")
                ),
            ),
        ]
        .into_iter()
        .map(|(id, reason)| RuleSummary {
            id: id.to_owned(),
            effect: Effect::Deny,
            reason,
            builtin: true,
            line: 0,
            approvers: None,
            approval_mode: None,
        })
        .collect()
    }

    /// The first built-in that denies `action`, if any.
    pub fn check(&self, action: &Action) -> Option<Verdict> {
        if let Some(p) = self.home_hit(action) {
            let reason = if self.in_home(p) {
                format!(
                    "agents may not read or write Axtary's home: `{}`",
                    p.escape_debug()
                )
            } else {
                format!(
                    "agents may not read or write Axtary's home, and a recursive search of `{}` reaches it; search a directory that does not contain it",
                    p.escape_debug()
                )
            };
            return Some(Verdict::deny(HOME, reason));
        }
        if let Some(p) = self.hook_hit(action) {
            return Some(Verdict::deny(
                HOOKS,
                format!(
                    "agents may not change their own hook settings: `{}`",
                    p.escape_debug()
                ),
            ));
        }
        if let Some(what) = admin_hit(action) {
            return Some(Verdict::deny(ADMIN, what));
        }
        None
    }

    pub fn explain(&self, action: &Action) -> Vec<RuleTrace> {
        let home_desc = match &self.home {
            Some(h) => format!("Axtary's home `{h}` or {}", list_text(HOME_GLOBS)),
            None => list_text(HOME_GLOBS),
        };
        let home = match self.home_hit(action) {
            Some(p) if !self.in_home(p) => (
                true,
                format!(
                    "the recursive search of `{}` reaches {home_desc}",
                    p.escape_debug()
                ),
            ),
            Some(p) => (
                true,
                format!("path `{}` is in {home_desc}", p.escape_debug()),
            ),
            None => (false, format!("no path is in {home_desc}")),
        };
        let hooks = match self.hook_hit(action) {
            Some(p) => (true, format!("the action writes `{}`", p.escape_debug())),
            None => (
                false,
                format!(
                    "the action writes no path matching {}",
                    list_text(HOOK_GLOBS)
                ),
            ),
        };
        let admin = match admin_hit(action) {
            Some(what) => (true, what),
            None => (
                false,
                format!("no command runs `axtary` {}", ADMIN_COMMANDS.join("|")),
            ),
        };
        [(HOME, home), (HOOKS, hooks), (ADMIN, admin)]
            .into_iter()
            .map(|(id, (matched, reason))| RuleTrace {
                rule: id.to_owned(),
                effect: Effect::Deny,
                builtin: true,
                matched,
                reasons: vec![reason],
            })
            .collect()
    }

    fn in_home(&self, p: &str) -> bool {
        if hits(&HOME_SET, ".axtary", p) {
            return true;
        }
        self.homes().any(|h| {
            let (p, h) = (p.as_bytes(), h.as_bytes());
            p.len() >= h.len()
                && p[..h.len()].eq_ignore_ascii_case(h)
                && (p.len() == h.len() || p[h.len()] == b'/')
        })
    }

    /// The home and its aliases.
    fn homes(&self) -> impl Iterator<Item = &str> {
        self.home.iter().chain(&self.aliases).map(String::as_str)
    }

    fn home_hit<'a>(&self, action: &'a Action) -> Option<&'a str> {
        PATH_FACTS
            .iter()
            .flat_map(|f| list(action, f))
            .find(|p| self.in_home(p) || self.search_reaches_home(action, p))
            .map(String::as_str)
    }

    /// A recursive search (Glob, Grep) rooted at Axtary's home or above it reaches into it.
    fn search_reaches_home(&self, action: &Action, p: &str) -> bool {
        if !matches!(action.facts.get("recursive"), Some(Fact::Bool(true))) || !p.starts_with('/') {
            return false;
        }
        let root = p.trim_end_matches('/').as_bytes();
        self.homes().any(|h| {
            let h = h.as_bytes();
            h.len() > root.len()
                && h[..root.len()].eq_ignore_ascii_case(root)
                && h[root.len()] == b'/'
        })
    }

    fn hook_hit<'a>(&self, action: &'a Action) -> Option<&'a str> {
        let is_hook = |p: &&String| hits(&HOOK_SET, ".claude", p);
        // An fs action is a write unless it says it is a read; a Claude Code tool that names
        // a path may write it.
        let fs_write = match action.facts.get("op") {
            Some(Fact::Str(op)) => op != "read",
            _ => matches!(
                Family::of(&action.connector),
                Some(Family::Fs | Family::ClaudeCode)
            ),
        };
        let written = list(action, "paths_written").iter();
        let fs_paths = if fs_write {
            list(action, "paths")
                .iter()
                .chain(list(action, "abs_paths"))
        } else {
            [].iter().chain(&[])
        };
        written.chain(fs_paths).find(is_hook).map(String::as_str)
    }
}

fn is_axtary(token: &str) -> bool {
    token == "axtary" || token.ends_with("/axtary")
}

/// A command that runs an Axtary admin subcommand, or an opaque command that runs Axtary.
fn admin_hit(action: &Action) -> Option<String> {
    for cmd in list(action, "commands") {
        let mut tokens = cmd.split_whitespace();
        // `axtary` anywhere in the command counts (`sudo axtary ...`, `env X=1 axtary ...`);
        // after it, any non-flag word naming an admin subcommand does, and so does any word
        // the shell expands at run time (`axtary $X approve`, `axtary appr* approve`), since
        // it may become one.
        if tokens.by_ref().any(is_axtary)
            && tokens.any(|t| {
                (!t.starts_with('-') && ADMIN_COMMANDS.contains(&t))
                    || t.contains(['$', '`', '*', '?', '[', '{', '\\'])
            })
        {
            return Some(format!(
                "agents may not run Axtary's admin commands: `{}`",
                cmd.escape_debug()
            ));
        }
    }
    let runs_axtary = list(action, "programs").iter().any(|p| is_axtary(p));
    let opaque = matches!(action.facts.get("opaque"), Some(Fact::Bool(true)));
    (runs_axtary && opaque)
        .then(|| "agents may not run `axtary` in a command Axtary cannot fully analyze".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_glob_sets_compile() {
        // A set that failed would match every path (deny everything): correct but useless.
        assert!(HOME_SET.is_some());
        assert!(HOOK_SET.is_some());
        assert!(hits(&HOME_SET, ".axtary", "/x/.AXtary/node.key"));
        assert!(!hits(&HOME_SET, ".axtary", "/x/src/lib.rs"));
        assert!(hits(&HOOK_SET, ".claude", "/x/.Claude/Settings.local.json"));
    }

    #[test]
    fn the_prefilter_literals_fold_only_to_ascii() {
        // The prefilter compares ASCII cases only. Should the glob engine ever fold case the
        // Unicode way (`s` also matching `ſ`, `k` the Kelvin sign), no letter of the literals
        // may have such a non-ASCII twin.
        let letters = regex::Regex::new("(?i)^[.acdelrtuxy]$").unwrap();
        assert!(HOME_GLOBS.iter().all(|g| g.contains(".axtary")));
        assert!(HOOK_GLOBS.iter().all(|g| g.contains(".claude")));
        let twins: Vec<char> = (0..=0x10_ffff_u32)
            .filter_map(char::from_u32)
            .filter(|c| !c.is_ascii() && letters.is_match(c.encode_utf8(&mut [0; 4])))
            .collect();
        assert_eq!(twins, Vec::<char>::new());
    }
}

//! Facts: what normalizers derive from a payload, and the registry of every fact that exists.
//!
//! Policy matches on facts, never on provider-specific input. The registry [`FACTS`] is the
//! contract between normalizers and the policy compiler: a rule that names a fact that is not
//! here (or names it for a connector that never produces it) is a load-time error, and every
//! normalizer's output is checked against it in tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One derived fact value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fact {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<String>),
}

impl Fact {
    pub fn kind(&self) -> FactKind {
        match self {
            Fact::Bool(_) => FactKind::Bool,
            Fact::Int(_) => FactKind::Int,
            Fact::Str(_) => FactKind::Str,
            Fact::List(_) => FactKind::List,
        }
    }
}

impl From<bool> for Fact {
    fn from(v: bool) -> Self {
        Fact::Bool(v)
    }
}
impl From<i64> for Fact {
    fn from(v: i64) -> Self {
        Fact::Int(v)
    }
}
impl From<&str> for Fact {
    fn from(v: &str) -> Self {
        Fact::Str(v.to_owned())
    }
}
impl From<String> for Fact {
    fn from(v: String) -> Self {
        Fact::Str(v)
    }
}
impl From<Vec<String>> for Fact {
    fn from(v: Vec<String>) -> Self {
        Fact::List(v)
    }
}

/// The facts of one action, by name. Sorted, so output is stable.
pub type Facts = BTreeMap<String, Fact>;

/// The type of a fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactKind {
    Bool,
    Int,
    Str,
    List,
}

impl FactKind {
    pub fn name(self) -> &'static str {
        match self {
            FactKind::Bool => "boolean",
            FactKind::Int => "integer",
            FactKind::Str => "string",
            FactKind::List => "list of strings",
        }
    }
}

/// A connector family: the connectors that share one normalizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Github,
    Slack,
    Linear,
    Sql,
    Http,
    Fs,
    Shell,
    Mcp,
    /// Claude Code's WebFetch and WebSearch.
    Web,
    /// Claude Code tools with no normalizer of their own: `claude-code:<tool>`.
    ClaudeCode,
}

impl Family {
    pub const ALL: [Family; 10] = [
        Family::Github,
        Family::Slack,
        Family::Linear,
        Family::Sql,
        Family::Http,
        Family::Fs,
        Family::Shell,
        Family::Mcp,
        Family::Web,
        Family::ClaudeCode,
    ];

    /// The family a connector name belongs to, if any (`mcp:<server>` is the MCP family,
    /// `claude-code:<tool>` the family of Claude Code tools without a normalizer of their own).
    pub fn of(connector: &str) -> Option<Family> {
        Some(match connector {
            "github" => Family::Github,
            "slack" => Family::Slack,
            "linear" => Family::Linear,
            "postgres" | "sqlite" => Family::Sql,
            "http" => Family::Http,
            "fs" => Family::Fs,
            "shell" => Family::Shell,
            "web" => Family::Web,
            c if c.strip_prefix("mcp:").is_some_and(is_server_name) => Family::Mcp,
            c if c
                .strip_prefix(CLAUDE_CODE_PREFIX)
                .is_some_and(is_server_name) =>
            {
                Family::ClaudeCode
            }
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Github => "github",
            Family::Slack => "slack",
            Family::Linear => "linear",
            Family::Sql => "postgres/sqlite",
            Family::Http => "http",
            Family::Fs => "fs",
            Family::Shell => "shell",
            Family::Mcp => "mcp",
            Family::Web => "web",
            Family::ClaudeCode => "claude-code",
        }
    }
}

/// Connector prefix of Claude Code tools that have no normalizer of their own.
pub const CLAUDE_CODE_PREFIX: &str = "claude-code:";

/// Names of MCP servers (and other user-chosen names): 1 to 64 of `[A-Za-z0-9_.-]`.
pub fn is_server_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A registered fact.
#[derive(Debug)]
pub struct FactDef {
    pub name: &'static str,
    pub kind: FactKind,
    /// Families whose normalizer may produce it. Empty means every family.
    pub families: &'static [Family],
    pub doc: &'static str,
}

impl FactDef {
    pub fn produced_by(&self, family: Family) -> bool {
        self.families.is_empty() || self.families.contains(&family)
    }
}

use FactKind::*;
use Family::*;

/// Every fact any normalizer produces. (contract: add freely, never rename)
pub static FACTS: &[FactDef] = &[
    // Content facts, for every family.
    FactDef {
        name: "secrets",
        kind: List,
        families: &[],
        doc: "names of secret detectors that matched any string in the payload",
    },
    // Paths, for families that touch files.
    FactDef {
        name: "paths",
        kind: List,
        families: &[Github, Fs, Shell, ClaudeCode],
        doc: "every path touched: repo-relative for github; project-relative (or absolute outside the project) for fs, shell and claude-code tools",
    },
    FactDef {
        name: "abs_paths",
        kind: List,
        families: &[Fs, Shell, ClaudeCode],
        doc: "every path touched, absolute and lexically normalized",
    },
    // github
    FactDef {
        name: "repo",
        kind: Str,
        families: &[Github],
        doc: "owner/name",
    },
    FactDef {
        name: "base",
        kind: Str,
        families: &[Github],
        doc: "base branch of a pull request",
    },
    FactDef {
        name: "head",
        kind: Str,
        families: &[Github],
        doc: "head branch of a pull request",
    },
    FactDef {
        name: "files_changed",
        kind: Int,
        families: &[Github],
        doc: "number of files a pull request changes",
    },
    FactDef {
        name: "deleted_paths",
        kind: List,
        families: &[Github],
        doc: "paths a pull request deletes",
    },
    FactDef {
        name: "draft",
        kind: Bool,
        families: &[Github],
        doc: "the pull request is a draft",
    },
    FactDef {
        name: "number",
        kind: Int,
        families: &[Github],
        doc: "issue or pull request number",
    },
    FactDef {
        name: "merge_method",
        kind: Str,
        families: &[Github],
        doc: "merge | squash | rebase",
    },
    FactDef {
        name: "body_length",
        kind: Int,
        families: &[Github],
        doc: "characters in a comment or PR body",
    },
    // slack
    FactDef {
        name: "channel",
        kind: Str,
        families: &[Slack],
        doc: "channel name or id, as given",
    },
    FactDef {
        name: "text_length",
        kind: Int,
        families: &[Slack],
        doc: "characters in the message",
    },
    FactDef {
        name: "mentions",
        kind: List,
        families: &[Slack],
        doc: "@here, @channel, @everyone and user/group ids mentioned",
    },
    FactDef {
        name: "has_links",
        kind: Bool,
        families: &[Slack],
        doc: "the message contains a URL",
    },
    FactDef {
        name: "in_thread",
        kind: Bool,
        families: &[Slack],
        doc: "the message is a thread reply",
    },
    // linear
    FactDef {
        name: "team",
        kind: Str,
        families: &[Linear],
        doc: "team key or id",
    },
    FactDef {
        name: "priority",
        kind: Int,
        families: &[Linear],
        doc: "0 (none) to 4 (low); absent when not set",
    },
    FactDef {
        name: "labels",
        kind: List,
        families: &[Linear],
        doc: "label names or ids",
    },
    // sql
    FactDef {
        name: "database",
        kind: Str,
        families: &[Sql],
        doc: "database name from config",
    },
    FactDef {
        name: "dialect",
        kind: Str,
        families: &[Sql],
        doc: "postgres | sqlite",
    },
    FactDef {
        name: "statement_kinds",
        kind: List,
        families: &[Sql],
        doc: "select, insert, update, delete, merge, ddl, transaction, set, show, explain, copy, grant, other",
    },
    FactDef {
        name: "tables",
        kind: List,
        families: &[Sql],
        doc: "tables referenced, lower-cased, as written (schema.table when qualified)",
    },
    FactDef {
        name: "unbounded_write",
        kind: Bool,
        families: &[Sql],
        doc: "an UPDATE or DELETE without WHERE",
    },
    FactDef {
        name: "multiple_statements",
        kind: Bool,
        families: &[Sql],
        doc: "more than one statement",
    },
    FactDef {
        name: "read_only",
        kind: Bool,
        families: &[Sql],
        doc: "every statement only reads (select, show, explain without analyze)",
    },
    FactDef {
        name: "functions",
        kind: List,
        families: &[Sql],
        doc: "functions called, lower-cased",
    },
    FactDef {
        name: "side_effect_functions",
        kind: Bool,
        families: &[Sql],
        doc: "calls a function with side effects (pg_terminate_backend, lo_export, set_config, nextval, dblink, ...)",
    },
    FactDef {
        name: "parse_error",
        kind: Bool,
        families: &[Sql],
        doc: "the SQL could not be parsed",
    },
    // http
    FactDef {
        name: "upstream",
        kind: Str,
        families: &[Http],
        doc: "configured upstream name",
    },
    FactDef {
        name: "method",
        kind: Str,
        families: &[Http],
        doc: "upper-case HTTP method",
    },
    FactDef {
        name: "path",
        kind: Str,
        families: &[Http, Fs],
        doc: "http: request path, normalized; fs: the project-relative (or absolute) path",
    },
    FactDef {
        name: "query",
        kind: Str,
        families: &[Http],
        doc: "query string without the leading ?",
    },
    FactDef {
        name: "body_bytes",
        kind: Int,
        families: &[Http],
        doc: "size of the request body in bytes",
    },
    FactDef {
        name: "header_names",
        kind: List,
        families: &[Http],
        doc: "lower-cased request header names",
    },
    // fs
    FactDef {
        name: "op",
        kind: Str,
        families: &[Fs],
        doc: "read | write (`read`, `glob` and `search` read; `write` and `edit` write)",
    },
    FactDef {
        name: "in_project",
        kind: Bool,
        families: &[Fs, ClaudeCode],
        doc: "every path is inside the working directory (claude-code tools: only when they name a path)",
    },
    FactDef {
        name: "recursive",
        kind: Bool,
        families: &[Fs],
        doc: "the operation may reach any file below its path (`glob` and `search`)",
    },
    FactDef {
        name: "pattern",
        kind: Str,
        families: &[Fs],
        doc: "`glob`: the file name pattern; `search`: the regular expression searched for",
    },
    FactDef {
        name: "options",
        kind: List,
        families: &[Fs, Shell, Web],
        doc: "names of the tool options passed along (Claude Code tool fields beyond the ones mapped, such as `timeout` or `dangerouslyDisableSandbox`), sorted",
    },
    // shell
    FactDef {
        name: "programs",
        kind: List,
        families: &[Shell],
        doc: "every program run, by base name, including in pipelines, lists, subshells, substitutions and `sh -c` strings",
    },
    FactDef {
        name: "commands",
        kind: List,
        families: &[Shell],
        doc: "every simple command as `program arg ...` after quote removal, including nested ones",
    },
    FactDef {
        name: "changes_dir",
        kind: Bool,
        families: &[Shell],
        doc: "the command changes directory (cd, pushd, env -C), so relative paths after it may resolve elsewhere",
    },
    FactDef {
        name: "paths_read",
        kind: List,
        families: &[Shell],
        doc: "paths read where knowable (arguments of reading programs, < redirections)",
    },
    FactDef {
        name: "paths_written",
        kind: List,
        families: &[Shell],
        doc: "paths written where knowable (> and >> redirections, tee, cp/mv targets, ...)",
    },
    FactDef {
        name: "network",
        kind: Bool,
        families: &[Shell],
        doc: "runs a network program (curl, wget, ssh, scp, nc, ...)",
    },
    FactDef {
        name: "git_push",
        kind: Bool,
        families: &[Shell],
        doc: "runs `git push`",
    },
    FactDef {
        name: "force",
        kind: Bool,
        families: &[Shell],
        doc: "passes a force flag (-f, --force, -rf, ...)",
    },
    FactDef {
        name: "sudo",
        kind: Bool,
        families: &[Shell],
        doc: "runs sudo, su, doas or pkexec",
    },
    FactDef {
        name: "destructive",
        kind: Bool,
        families: &[Shell],
        doc: "runs a destructive program (rm, dd, mkfs, shred, git reset --hard, ...)",
    },
    FactDef {
        name: "opaque",
        kind: Bool,
        families: &[Shell],
        doc: "the parser could not fully understand the command (eval, dynamic command names, parse errors)",
    },
    FactDef {
        name: "cwd",
        kind: Str,
        families: &[Shell, Fs, ClaudeCode],
        doc: "working directory, absolute",
    },
    // mcp
    FactDef {
        name: "server",
        kind: Str,
        families: &[Mcp],
        doc: "MCP server name",
    },
    FactDef {
        name: "tool",
        kind: Str,
        families: &[Mcp, ClaudeCode],
        doc: "MCP tool name; Claude Code tool name for `claude-code:<tool>`",
    },
    // web
    FactDef {
        name: "url",
        kind: Str,
        families: &[Web],
        doc: "`fetch`: the URL as given",
    },
    FactDef {
        name: "host",
        kind: Str,
        families: &[Web],
        doc: "`fetch`: the URL's host, lower-cased, without port or trailing dot",
    },
    FactDef {
        name: "scheme",
        kind: Str,
        families: &[Web],
        doc: "`fetch`: http | https",
    },
    FactDef {
        name: "domains",
        kind: List,
        families: &[Web],
        doc: "`search`: the `allowed_domains` the search is limited to (empty: any)",
    },
];

/// Looks a fact up by name.
pub fn fact_def(name: &str) -> Option<&'static FactDef> {
    FACTS.iter().find(|f| f.name == name)
}

/// The fact reference in Markdown, as kept in `docs/facts.md`.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Facts\n\n\
         What the normalizers derive from each action, and what policy rules can match on with `fact:`,\n\
         `any_path`/`all_paths` (over `paths` and `abs_paths`) and `no_secrets` (over `secrets`).\n\
         This file is generated from `crates/axtary-core/src/facts.rs`; a test keeps it in sync\n\
         (`AXTARY_BLESS=1 cargo test -p axtary-core facts` rewrites it).\n\n\
         | fact | type | produced for | meaning |\n|---|---|---|---|\n",
    );
    for f in FACTS {
        let families = if f.families.is_empty() {
            "every connector".to_owned()
        } else {
            f.families
                .iter()
                .map(|fam| fam.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            f.name,
            f.kind.name(),
            families,
            f.doc.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_names_are_unique() {
        let mut names: Vec<_> = FACTS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn docs_list_every_fact() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/facts.md");
        let expected = reference_markdown();
        if std::env::var_os("AXTARY_BLESS").is_some() {
            std::fs::write(path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/facts.md is out of date; run `AXTARY_BLESS=1 cargo test -p axtary-core facts`"
        );
    }

    #[test]
    fn families_of_connectors() {
        assert_eq!(Family::of("postgres"), Some(Family::Sql));
        assert_eq!(Family::of("mcp:github"), Some(Family::Mcp));
        assert_eq!(Family::of("mcp:"), None);
        assert_eq!(Family::of("mcp:a/b"), None);
        assert_eq!(Family::of("ftp"), None);
        assert_eq!(Family::of("web"), Some(Family::Web));
        assert_eq!(Family::of("claude-code:Task"), Some(Family::ClaudeCode));
        assert_eq!(Family::of("claude-code:"), None);
        assert_eq!(Family::of("claude-code:a b"), None);
    }
}

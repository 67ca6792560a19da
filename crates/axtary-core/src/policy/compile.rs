//! From the YAML node tree to a compiled, indexed matcher, collecting every diagnostic.
//!
//! Everything that can be checked without an action is checked here, so that a rule that
//! could silently never match (a typo in a fact name, a fact its connector never produces, an
//! operator that does not apply to a fact's type) is a load error instead. The compiler never
//! stops at the first mistake: each helper reports what it finds and returns `None`, and the
//! caller carries on with the next field.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use globset::{Glob, GlobBuilder};
use serde_json::Value as Json;

use super::diag::{Diagnostic, did_you_mean};
use super::lazy::{Globs, REGEX_SIZE_LIMIT, Regexes};
use super::yaml::{self, Node, Span, Value};
use super::{
    ApprovalMode, Approvers, DEFAULT_DENY, Effect, Expectation, INVALID_INPUT, PolicyTest,
    RuleSummary, TestInput, builtin,
};
use crate::action::{ACTION_VERSION, Action, ActionRequest};
use crate::facts::{FACTS, Fact, FactDef, FactKind, Facts, Family, fact_def};
use crate::json::{self, Limits};

/// Connector names a rule may name exactly (plus `mcp:<server>` and `claude-code:<tool>`).
const CONNECTORS: &[&str] = &[
    "github", "slack", "linear", "postgres", "sqlite", "http", "fs", "shell", "web",
];

/// Connector families named by a prefix and a name of the user's choosing.
const PREFIXED: &[(&str, Family)] = &[
    ("mcp:", Family::Mcp),
    (crate::facts::CLAUDE_CODE_PREFIX, Family::ClaudeCode),
];

const TOP_FIELDS: &[&str] = &["version", "rules", "tests"];
const RULE_FIELDS: &[&str] = &[
    "id",
    "effect",
    "reason",
    "match",
    "when",
    "approvers",
    "approval_mode",
];
const MATCH_FIELDS: &[&str] = &["connector", "operation", "resource", "agent"];
const WHEN_FIELDS: &[&str] = &[
    "any_path",
    "all_paths",
    "no_secrets",
    "fact",
    "any",
    "all",
    "not",
];
const APPROVER_FIELDS: &[&str] = &["group", "count"];
const TEST_FIELDS: &[&str] = &["name", "request", "action", "expect"];
const EXPECT_FIELDS: &[&str] = &["effect", "rule"];
const ACTION_FIELDS: &[&str] = &[
    "v",
    "agent",
    "connector",
    "operation",
    "resource",
    "payload",
    "facts",
];
const REQUEST_FIELDS: &[&str] = &["agent", "connector", "operation", "input", "context"];

/// Every fact operator, in the order the documentation lists them.
pub(crate) const OPERATORS: &[&str] = &[
    "eq", "ne", "in", "not_in", "glob", "regex", "any_in", "all_in", "none_in", "contains", "gt",
    "gte", "lt", "lte", "present", "empty",
];

/// The most approvers a rule may require.
const MAX_APPROVERS: i64 = 10;

/// A connector pattern: an exact name, a prefix (`mcp:*`), or anything (`*`).
#[derive(Debug, Clone)]
pub(crate) enum ConnPat {
    Exact(String),
    Prefix(String),
    Any,
}

impl ConnPat {
    pub fn matches(&self, connector: &str) -> bool {
        match self {
            ConnPat::Exact(c) => c == connector,
            ConnPat::Prefix(p) => connector.starts_with(p.as_str()),
            ConnPat::Any => true,
        }
    }
}

/// An operation pattern where `*` matches any run of characters.
#[derive(Debug, Clone)]
pub(crate) struct Wild {
    /// The pattern split at `*`: one part means no wildcard.
    parts: Vec<String>,
}

impl Wild {
    fn new(pattern: &str) -> Wild {
        Wild {
            parts: pattern.split('*').map(str::to_owned).collect(),
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return s.is_empty(),
        };
        let Some(last) = rest.last() else {
            return s == first;
        };
        if s.len() < first.len() + last.len() || !s.starts_with(first.as_str()) {
            return false;
        }
        if !s.ends_with(last.as_str()) {
            return false;
        }
        // Leftmost matching of the middle parts is optimal for `*`-only patterns.
        let mut hay = &s[first.len()..s.len() - last.len()];
        for part in &rest[..rest.len() - 1] {
            match hay.find(part.as_str()) {
                Some(i) => hay = &hay[i + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A set of patterns as written, for messages and for the shadowing check.
#[derive(Debug, Clone)]
pub(crate) struct Src(pub Vec<String>);

impl Src {
    /// `[a, b, c]` (long lists are cut short).
    pub fn list(&self) -> String {
        list_text(&self.0)
    }
}

pub(crate) fn list_text<S: AsRef<str>>(items: &[S]) -> String {
    const MAX: usize = 8;
    let mut out = String::from("[");
    for (i, s) in items.iter().take(MAX).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(s.as_ref());
    }
    if items.len() > MAX {
        out.push_str(&format!(", … ({} more)", items.len() - MAX));
    }
    out.push(']');
    out
}

/// Indices into one of the matcher's global glob sets.
#[derive(Debug, Clone)]
pub(crate) struct GlobRef {
    pub idx: Vec<u32>,
    pub src: Src,
}

/// One compiled `when` condition.
#[derive(Debug)]
pub(crate) enum Cond {
    AnyPath(GlobRef),
    /// `slot` indexes the matcher's per-evaluation `all_paths` results.
    AllPaths {
        slot: usize,
        globs: GlobRef,
    },
    NoSecrets(bool),
    Fact {
        def: &'static FactDef,
        ops: Vec<Op>,
    },
    Any(Vec<Cond>),
    All(Vec<Cond>),
    Not(Box<Cond>),
}

/// A literal compared with `eq` / `ne`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lit {
    Bool(bool),
    Int(i64),
    Str(String),
}

/// A sorted set of literals for `in` / `not_in`.
#[derive(Debug)]
pub(crate) enum LitSet {
    Str(Vec<String>),
    Int(Vec<i64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[expect(clippy::enum_variant_names, reason = "named after the operators")]
pub(crate) enum SetMode {
    AnyIn,
    AllIn,
    NoneIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// One fact operator, compiled.
#[derive(Debug)]
pub(crate) enum Op {
    Eq(Lit),
    Ne(Lit),
    In {
        negate: bool,
        set: LitSet,
    },
    Glob {
        set: Globs,
        src: Src,
    },
    Regex(Regexes),
    Set {
        mode: SetMode,
        /// Sorted, deduplicated.
        items: Vec<String>,
    },
    Contains(String),
    Cmp(CmpOp, i64),
    Present(bool),
    Empty(bool),
}

/// One compiled user rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub id: String,
    pub id_span: Span,
    pub effect: Effect,
    pub reason: String,
    pub approvers: Option<Approvers>,
    pub approval_mode: Option<ApprovalMode>,
    pub line: usize,
    pub connector: Option<(Vec<ConnPat>, Src)>,
    pub operation: Option<(Vec<Wild>, Src)>,
    pub resource: Option<GlobRef>,
    pub agent: Option<GlobRef>,
    /// ANDed; `None` when the rule has no `when`.
    pub when: Option<Vec<Cond>>,
}

/// The compiled matcher: rules, a connector index, and the global glob sets.
#[derive(Debug)]
pub(crate) struct Matcher {
    pub rules: Vec<Rule>,
    /// Exact connector name -> indices of rules that name it, ascending.
    pub by_connector: HashMap<String, Vec<u32>>,
    /// Rules with no connector field or a wildcard connector pattern, ascending.
    pub wildcard: Vec<u32>,
    /// Every `any_path` / `all_paths` glob of every rule (used by `explain`, which looks at
    /// every rule whatever the connector).
    pub path_all: PathSet,
    /// Per exact connector name: only the path globs of the rules that can apply to it. The
    /// hot path matches each path against this smaller set.
    pub path_by_connector: HashMap<String, PathSet>,
    /// For connectors not in `path_by_connector`: the globs of the wildcard rules.
    pub path_other: PathSet,
    /// The glob indices of each `all_paths` condition, by slot.
    pub all_paths: Vec<Vec<u32>>,
    pub resource_globs: Globs,
    pub agent_globs: Globs,
    /// Set when a set built on first use could not be built: every action is denied.
    pub broken: AtomicBool,
}

impl Matcher {
    pub fn summaries(&self) -> Vec<RuleSummary> {
        self.rules
            .iter()
            .map(|r| RuleSummary {
                id: r.id.clone(),
                effect: r.effect,
                reason: r.reason.clone(),
                builtin: false,
                line: r.line,
                approvers: r.approvers.clone(),
                approval_mode: r.approval_mode,
            })
            .collect()
    }
}

/// A glob set over a subset of the path globs, and the global index of each of its globs
/// (ascending, so mapped match lists stay sorted).
#[derive(Debug)]
pub(crate) struct PathSet {
    pub set: Globs,
    pub global: Vec<u32>,
}

impl Matcher {
    /// The path globs the hot path matches for `connector`.
    pub fn path_set(&self, connector: &str) -> &PathSet {
        self.path_by_connector
            .get(connector)
            .unwrap_or(&self.path_other)
    }
}

/// The global path glob indices a condition refers to.
fn cond_path_globs(c: &Cond, out: &mut Vec<u32>) {
    match c {
        Cond::AnyPath(g) | Cond::AllPaths { globs: g, .. } => out.extend(&g.idx),
        Cond::Any(cs) | Cond::All(cs) => cs.iter().for_each(|c| cond_path_globs(c, out)),
        Cond::Not(c) => cond_path_globs(c, out),
        Cond::NoSecrets(_) | Cond::Fact { .. } => {}
    }
}

/// What [`compile`] produces when the source could be read at all.
pub(crate) struct Compiled {
    pub matcher: Matcher,
    pub tests: Vec<PolicyTest>,
}

/// Compiles `source`. Returns the compiled policy (meaningful only when no diagnostic is an
/// error) and every diagnostic, sorted by position, and the parsed tree.
pub(crate) fn compile(source: &str) -> (Option<Compiled>, Vec<Diagnostic>, Option<Node>) {
    match yaml::parse(source) {
        Ok(root) => {
            let (compiled, diags) = compile_tree(&root, Build::Now);
            (compiled, diags, Some(root))
        }
        Err(e) => {
            let d = Diagnostic::error(e.span, format!("invalid YAML: {}", e.message)).with_hint(
                "check indentation, and quote values that start with `*`, `&`, `!`, `{`, `[`, `%` or `@`",
            );
            (None, vec![d], None)
        }
    }
}

/// Compiles a parsed policy.
pub(crate) fn compile_tree(root: &Node, build: Build) -> (Option<Compiled>, Vec<Diagnostic>) {
    let mut cx = Cx {
        build,
        ..Cx::default()
    };
    let compiled = cx.policy(root);
    let mut diags = cx.diags;
    diags.sort_by_key(|d| (d.line, d.column));
    (compiled, diags)
}

/// Globs collected across all rules, compiled into one set at the end. Identical patterns
/// share one index, so a glob repeated in many rules is matched once.
#[derive(Default)]
struct GlobPool {
    globs: Vec<Glob>,
    index: HashMap<String, u32>,
}

impl GlobPool {
    fn add(&mut self, pattern: &str, glob: Glob) -> u32 {
        if let Some(i) = self.index.get(pattern) {
            return *i;
        }
        self.globs.push(glob);
        let i = u32::try_from(self.globs.len() - 1).unwrap_or(u32::MAX);
        self.index.insert(pattern.to_owned(), i);
        i
    }

    fn globs(&self) -> Globs {
        Globs::new(self.globs.clone())
    }
}

/// When the glob and regex sets are compiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Build {
    /// While compiling, so every error is reported ([`compile`]).
    #[default]
    Now,
    /// When first used: only for a tree that compiled without errors before (the policy
    /// cache), see [`super::lazy`].
    OnFirstUse,
}

/// Which connector families a rule can apply to: `None` means any.
type Families = Option<Vec<Family>>;

#[derive(Default)]
struct Cx {
    build: Build,
    diags: Vec<Diagnostic>,
    paths: GlobPool,
    resources: GlobPool,
    agents: GlobPool,
    all_paths: Vec<Vec<u32>>,
    /// Every rule id written, valid rule or not, with its span (for duplicate ids and for
    /// checking the rules tests expect).
    ids: Vec<(String, Span)>,
}

/// The entries of a mapping that passed the key checks.
struct Fields<'n> {
    entries: Vec<(&'n str, Span, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| *v)
    }

    fn key_span(&self, name: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, s, _)| *s)
    }
}

impl Cx {
    fn error(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(span, message));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn warn(&mut self, span: Span, message: impl Into<String>, hint: Option<String>) {
        self.diags
            .push(Diagnostic::warning(span, message).with_hint_opt(hint));
    }

    fn type_error(&mut self, node: &Node, what: &str, expected: &str) {
        let d = self.error(
            node.span,
            format!(
                "{what} must be {expected}, found {}",
                node.value.kind_name()
            ),
        );
        if matches!(node.value, Value::Int(_) | Value::Bool(_) | Value::Float(_))
            && expected.contains("string")
        {
            d.hint = Some("quote the value to make it a string".to_owned());
        }
    }

    /// Checks a mapping's keys: strings, no duplicates, and (when `allowed` is given) only
    /// known fields. Bad entries are reported and left out.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: Option<&[&str]>,
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.type_error(node, what, "a mapping");
            return None;
        };
        let mut out = Fields {
            entries: Vec::with_capacity(entries.len()),
        };
        for (k, v) in entries {
            let Value::Str(name) = &k.value else {
                self.error(
                    k.span,
                    format!(
                        "keys in {what} must be strings, found {}",
                        k.value.kind_name()
                    ),
                );
                continue;
            };
            if let Some(allowed) = allowed
                && !allowed.contains(&name.as_str())
            {
                let mut hint = String::new();
                if let Some(dym) = did_you_mean(name, allowed.iter().copied()) {
                    hint.push_str(&dym);
                    hint.push(' ');
                }
                hint.push_str(&format!("expected one of: {}", allowed.join(", ")));
                self.error(k.span, format!("unknown field `{name}` in {what}"))
                    .hint = Some(hint);
                continue;
            }
            if let Some((_, first, _)) = out.entries.iter().find(|(n, _, _)| *n == name) {
                let first_line = first.line;
                self.error(k.span, format!("duplicate key `{name}` in {what}"))
                    .hint = Some(format!("first given at line {first_line}"));
                continue;
            }
            out.entries.push((name.as_str(), k.span, v));
        }
        Some(out)
    }

    fn string<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
        match &node.value {
            Value::Str(s) => Some(s),
            _ => {
                self.type_error(node, what, "a string");
                None
            }
        }
    }

    fn required<'n>(
        &mut self,
        f: &Fields<'n>,
        name: &str,
        at: Span,
        what: &str,
    ) -> Option<&'n Node> {
        let n = f.get(name);
        if n.is_none() {
            self.error(at, format!("{what} is missing `{name}`"));
        }
        n
    }

    /// A string or a non-empty list of strings, each with its span.
    fn strings<'n>(&mut self, node: &'n Node, what: &str) -> Option<Vec<(&'n str, Span)>> {
        match &node.value {
            Value::Str(s) => Some(vec![(s.as_str(), node.span)]),
            Value::Seq(items) => {
                if items.is_empty() {
                    self.error(node.span, format!("{what} must not be an empty list"))
                        .hint = Some("an empty list can never match; remove the field or list at least one value".into());
                    return None;
                }
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match &item.value {
                        Value::Str(s) => out.push((s.as_str(), item.span)),
                        _ => {
                            self.type_error(item, &format!("each entry of {what}"), "a string");
                            ok = false;
                        }
                    }
                }
                ok.then_some(out)
            }
            _ => {
                self.type_error(node, what, "a string or a list of strings");
                None
            }
        }
    }

    fn glob(&mut self, pattern: &str, span: Span) -> Option<Glob> {
        if pattern.is_empty() {
            self.error(span, "empty glob");
            return None;
        }
        match GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
        {
            Ok(g) => Some(g),
            Err(e) => {
                self.error(span, format!("invalid glob `{pattern}`: {}", e.kind()))
                    .hint = Some("globs use `*` (within one path segment), `**` (any depth), `?`, `[abc]` and `{a,b}`".into());
                None
            }
        }
    }

    fn globs_into(&mut self, node: &Node, what: &str, pool: Pool) -> Option<GlobRef> {
        let items = self.strings(node, what)?;
        let mut idx = Vec::with_capacity(items.len());
        let mut src = Vec::with_capacity(items.len());
        let mut ok = true;
        for (s, span) in items {
            match self.glob(s, span) {
                Some(g) => {
                    let i = match pool {
                        Pool::Paths => self.paths.add(s, g),
                        Pool::Resources => self.resources.add(s, g),
                        Pool::Agents => self.agents.add(s, g),
                    };
                    idx.push(i);
                    src.push(s.to_owned());
                }
                None => ok = false,
            }
        }
        ok.then_some(GlobRef { idx, src: Src(src) })
    }

    // ---- the document ------------------------------------------------------------------

    fn policy(&mut self, root: &Node) -> Option<Compiled> {
        if matches!(root.value, Value::Null) {
            self.error(root.span, "the policy file is empty").hint =
                Some("start with `version: 1` and a `rules:` list".into());
            return None;
        }
        let top = self.fields(root, "the policy file", Some(TOP_FIELDS))?;
        match top.get("version") {
            None => {
                self.error(
                    Span {
                        line: 1,
                        column: 1,
                        len: 1,
                    },
                    "missing `version`",
                )
                .hint = Some("add `version: 1` as the first line".into());
            }
            Some(v) if v.value == Value::Int(1) => {}
            Some(v) => {
                self.error(v.span, "unsupported policy `version`").hint =
                    Some("this Axtary reads `version: 1`".into());
            }
        }
        let mut rules = Vec::new();
        match top.get("rules") {
            None => self.warn(
                root.span,
                "the policy has no `rules`; every action will be denied",
                None,
            ),
            Some(Node {
                value: Value::Null,
                span,
            }) => self.warn(
                top.key_span("rules").unwrap_or(*span),
                "`rules` is empty; every action will be denied",
                None,
            ),
            Some(Node {
                value: Value::Seq(items),
                span,
            }) => {
                if items.is_empty() {
                    self.warn(*span, "`rules` is empty; every action will be denied", None);
                }
                for item in items {
                    if let Some(r) = self.rule(item) {
                        rules.push(r);
                    }
                }
            }
            Some(other) => self.type_error(other, "`rules`", "a list of rules"),
        }
        self.duplicate_ids();
        if self.build == Build::Now {
            // A warning: shown when the file was loaded whole.
            self.shadowing(&rules);
        }
        let ids: Vec<String> = self.ids.iter().map(|(id, _)| id.clone()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut tests = Vec::new();
        match top.get("tests") {
            None
            | Some(Node {
                value: Value::Null, ..
            }) => {}
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => {
                for item in items {
                    if let Some(t) = self.test(item, &ids) {
                        tests.push(t);
                    }
                }
            }
            Some(other) => self.type_error(other, "`tests`", "a list of tests"),
        }
        let matcher = self.matcher(rules)?;
        Some(Compiled { matcher, tests })
    }

    fn matcher(&mut self, rules: Vec<Rule>) -> Option<Matcher> {
        let mut by_connector: HashMap<String, Vec<u32>> = HashMap::new();
        let mut wildcard = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match &r.connector {
                Some((pats, _)) if pats.iter().all(|p| matches!(p, ConnPat::Exact(_))) => {
                    for p in pats {
                        if let ConnPat::Exact(name) = p {
                            let list = by_connector.entry(name.clone()).or_default();
                            if list.last() != Some(&i) {
                                list.push(i);
                            }
                        }
                    }
                }
                _ => wildcard.push(i),
            }
        }
        let build = |cx: &mut Cx, pool: &GlobPool| {
            let set = pool.globs();
            if cx.build == Build::Now
                && let Err(e) = set.build()
            {
                // Every glob was built on its own already; a set that still fails is a
                // resource limit.
                cx.error(
                    Span::default(),
                    format!("the policy's globs could not be compiled: {e}"),
                );
                return None;
            }
            Some(set)
        };
        let paths = std::mem::take(&mut self.paths);
        let resources = std::mem::take(&mut self.resources);
        let agents = std::mem::take(&mut self.agents);
        let subset = |cx: &mut Cx, rule_idx: &mut dyn Iterator<Item = &u32>| {
            let mut global = Vec::new();
            for i in rule_idx {
                if let Some(conds) = rules.get(*i as usize).and_then(|r| r.when.as_ref()) {
                    conds.iter().for_each(|c| cond_path_globs(c, &mut global));
                }
            }
            global.sort_unstable();
            global.dedup();
            let pool = GlobPool {
                globs: global
                    .iter()
                    .filter_map(|g| paths.globs.get(*g as usize).cloned())
                    .collect(),
                index: HashMap::new(),
            };
            Some(PathSet {
                set: build(cx, &pool)?,
                global,
            })
        };
        let mut path_by_connector = HashMap::new();
        for (name, idx) in &by_connector {
            let set = subset(self, &mut idx.iter().chain(&wildcard))?;
            path_by_connector.insert(name.clone(), set);
        }
        let path_other = subset(self, &mut wildcard.iter())?;
        let path_all = PathSet {
            set: build(self, &paths)?,
            global: (0..u32::try_from(paths.globs.len()).unwrap_or(u32::MAX)).collect(),
        };
        Some(Matcher {
            path_all,
            path_by_connector,
            path_other,
            all_paths: std::mem::take(&mut self.all_paths),
            resource_globs: build(self, &resources)?,
            agent_globs: build(self, &agents)?,
            broken: AtomicBool::new(false),
            rules,
            by_connector,
            wildcard,
        })
    }

    // ---- rules -------------------------------------------------------------------------

    fn rule(&mut self, node: &Node) -> Option<Rule> {
        let f = self.fields(node, "a rule", Some(RULE_FIELDS))?;
        let mut ok = true;

        let id_node = self.required(&f, "id", node.span, "rule");
        let id = id_node.and_then(|n| self.string(n, "rule `id`"));
        let id_span = id_node.map_or(node.span, |n| n.span);
        if let Some(id) = id {
            self.ids.push((id.to_owned(), id_span));
            if !valid_rule_id(id) {
                self.error(id_span, format!("invalid rule id `{id}`"))
                    .hint = Some("rule ids are 1 to 128 of lower-case letters, digits, `_`, `.` and `-`, starting with a letter or digit".into());
                ok = false;
            }
        } else {
            ok = false;
        }
        let what = match id {
            Some(id) => format!("rule `{id}`"),
            None => "rule".to_owned(),
        };

        let effect = match self.required(&f, "effect", id_span, &what) {
            Some(n) => match self.string(n, "`effect`") {
                Some(s) => match Effect::parse(s) {
                    Some(e) => Some(e),
                    None => {
                        let names = Effect::ALL.map(Effect::as_str);
                        let mut hint = format!("expected one of {}", names.join(", "));
                        if let Some(d) = did_you_mean(s, names) {
                            hint.push_str(&format!(" ({d})"));
                        }
                        self.error(n.span, format!("unknown effect `{s}`")).hint = Some(hint);
                        None
                    }
                },
                None => None,
            },
            None => None,
        };
        ok &= effect.is_some();

        let reason = match f.get("reason") {
            Some(n) => self.string(n, "`reason`").map(str::to_owned),
            None => id.map(|id| format!("matched rule `{id}`")),
        };

        let mut connector = None;
        let mut operation = None;
        let mut resource = None;
        let mut agent = None;
        let mut families: Families = None;
        let mut connector_names: Vec<String> = Vec::new();
        if let Some(m) = f.get("match") {
            match self.fields(m, "`match`", Some(MATCH_FIELDS)) {
                Some(mf) => {
                    if let Some(n) = mf.get("connector") {
                        match self.connectors(n) {
                            Some((pats, src, fam)) => {
                                families = fam;
                                connector_names = src.0.clone();
                                connector = Some((pats, src));
                            }
                            None => ok = false,
                        }
                    }
                    if let Some(n) = mf.get("operation") {
                        match self.strings(n, "`operation`") {
                            Some(items) => {
                                let src: Vec<String> =
                                    items.iter().map(|(s, _)| (*s).to_owned()).collect();
                                let pats = items.iter().map(|(s, _)| Wild::new(s)).collect();
                                operation = Some((pats, Src(src)));
                            }
                            None => ok = false,
                        }
                    }
                    if let Some(n) = mf.get("resource") {
                        resource = self.globs_into(n, "`resource`", Pool::Resources);
                        ok &= resource.is_some();
                    }
                    if let Some(n) = mf.get("agent") {
                        agent = self.globs_into(n, "`agent`", Pool::Agents);
                        ok &= agent.is_some();
                    }
                }
                None => ok = false,
            }
        }

        let scope = Scope {
            families: &families,
            connectors: &connector_names,
        };
        let when = match f.get("when") {
            Some(n) => match self.when(n, &scope) {
                Some(conds) => Some(conds),
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };

        let mut approvers = None;
        let mut approval_mode = None;
        let is_approval = effect == Some(Effect::RequireApproval);
        if let Some(n) = f.get("approvers") {
            if effect.is_some() && !is_approval {
                let span = f.key_span("approvers").unwrap_or(n.span);
                self.error(
                    span,
                    "`approvers` is only allowed on `require_approval` rules",
                )
                .hint = Some("remove `approvers`, or change `effect` to `require_approval`".into());
                ok = false;
            } else {
                approvers = self.approvers(n);
                ok &= approvers.is_some();
            }
        }
        if let Some(n) = f.get("approval_mode") {
            if effect.is_some() && !is_approval {
                let span = f.key_span("approval_mode").unwrap_or(n.span);
                self.error(
                    span,
                    "`approval_mode` is only allowed on `require_approval` rules",
                );
                ok = false;
            } else if let Some(s) = self.string(n, "`approval_mode`") {
                approval_mode = match s {
                    "ask" => Some(ApprovalMode::Ask),
                    "approval" => Some(ApprovalMode::Approval),
                    _ => {
                        self.error(n.span, format!("unknown approval mode `{s}`"))
                            .hint = Some("expected `ask` or `approval`".into());
                        ok = false;
                        None
                    }
                };
            } else {
                ok = false;
            }
        }
        if is_approval {
            approvers.get_or_insert_with(Approvers::default);
            approval_mode.get_or_insert(ApprovalMode::Approval);
        }

        if !ok {
            return None;
        }
        let (Some(id), Some(effect), Some(reason)) = (id, effect, reason) else {
            return None;
        };
        if effect == Effect::Allow
            && connector.is_none()
            && operation.is_none()
            && resource.is_none()
            && agent.is_none()
            && when.is_none()
        {
            self.warn(
                id_span,
                format!("rule `{id}` allows every action"),
                Some("add a `match` or `when` to narrow it".into()),
            );
        }
        Some(Rule {
            id: id.to_owned(),
            id_span,
            effect,
            reason,
            approvers,
            approval_mode,
            line: node.span.line,
            connector,
            operation,
            resource,
            agent,
            when,
        })
    }

    fn connectors(&mut self, node: &Node) -> Option<(Vec<ConnPat>, Src, Families)> {
        let items = self.strings(node, "`connector`")?;
        let mut pats = Vec::new();
        let mut src = Vec::new();
        let mut families: Vec<Family> = Vec::new();
        let mut any = false;
        let mut ok = true;
        for (s, span) in items {
            let star = s.find('*');
            let pat = match star {
                None => match Family::of(s) {
                    Some(f) => {
                        families.push(f);
                        ConnPat::Exact(s.to_owned())
                    }
                    None => {
                        let mut hint = did_you_mean(s, CONNECTORS.iter().copied())
                            .map(|d| format!("{d} "))
                            .unwrap_or_default();
                        hint.push_str(&format!(
                            "known connectors: {}, mcp:<server>, claude-code:<tool>; use a trailing `*` for a pattern such as `mcp:*`",
                            CONNECTORS.join(", ")
                        ));
                        self.error(span, format!("unknown connector `{s}`")).hint = Some(hint);
                        ok = false;
                        continue;
                    }
                },
                Some(i) if i + 1 != s.len() => {
                    self.error(span, format!("invalid connector pattern `{s}`"))
                        .hint = Some(
                        "`*` is only allowed at the end of a connector name, as in `mcp:*`".into(),
                    );
                    ok = false;
                    continue;
                }
                Some(_) if s == "*" => {
                    any = true;
                    ConnPat::Any
                }
                Some(_) => {
                    let prefix = &s[..s.len() - 1];
                    let mut fams: Vec<Family> = CONNECTORS
                        .iter()
                        .filter(|c| c.starts_with(prefix))
                        .filter_map(|c| Family::of(c))
                        .collect();
                    for (p, fam) in PREFIXED {
                        if p.starts_with(prefix) || prefix.starts_with(p) {
                            fams.push(*fam);
                        }
                    }
                    if fams.is_empty() {
                        self.error(
                            span,
                            format!("connector pattern `{s}` matches no known connector"),
                        )
                        .hint = Some(format!(
                            "known connectors: {}, mcp:<server>, claude-code:<tool>",
                            CONNECTORS.join(", ")
                        ));
                        ok = false;
                        continue;
                    }
                    families.extend(fams);
                    ConnPat::Prefix(prefix.to_owned())
                }
            };
            pats.push(pat);
            src.push(s.to_owned());
        }
        if !ok {
            return None;
        }
        families.sort();
        families.dedup();
        Some((pats, Src(src), (!any).then_some(families)))
    }

    fn approvers(&mut self, node: &Node) -> Option<Approvers> {
        let f = self.fields(node, "`approvers`", Some(APPROVER_FIELDS))?;
        let mut out = Approvers::default();
        let mut ok = true;
        if let Some(n) = f.get("group") {
            match self.string(n, "approver `group`") {
                Some(g) if crate::facts::is_server_name(g) => out.group = g.to_owned(),
                Some(g) => {
                    self.error(n.span, format!("invalid approver group `{g}`"))
                        .hint =
                        Some("group names are 1 to 64 of letters, digits, `_`, `.` and `-`".into());
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(n) = f.get("count") {
            match n.value {
                Value::Int(c) if (1..=MAX_APPROVERS).contains(&c) => {
                    out.count = u32::try_from(c).unwrap_or(1);
                }
                Value::Int(c) => {
                    self.error(
                        n.span,
                        format!(
                            "approver `count` must be between 1 and {MAX_APPROVERS}, found {c}"
                        ),
                    );
                    ok = false;
                }
                _ => {
                    self.type_error(n, "approver `count`", "an integer");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn duplicate_ids(&mut self) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let ids = std::mem::take(&mut self.ids);
        for (id, span) in &ids {
            if let Some(first) = seen.get(id) {
                let first = *first;
                self.error(*span, format!("duplicate rule id `{id}`")).hint = Some(format!(
                    "rule ids must be unique; first used at line {first}"
                ));
            } else {
                seen.insert(id.clone(), span.line);
            }
        }
        self.ids = ids;
    }

    /// Warns about a rule that can never change a decision: another rule with a strictly
    /// stronger effect and no `when` matches everything it matches. Conservative: only
    /// literal supersets of the match fields count.
    fn shadowing(&mut self, rules: &[Rule]) {
        for r in rules {
            let shadow = rules.iter().find(|s| {
                s.effect.strength() > r.effect.strength()
                    && s.when.is_none()
                    && covers(
                        s.connector.as_ref().map(|c| &c.1),
                        r.connector.as_ref().map(|c| &c.1),
                        true,
                    )
                    && covers(
                        s.operation.as_ref().map(|c| &c.1),
                        r.operation.as_ref().map(|c| &c.1),
                        true,
                    )
                    && covers(
                        s.resource.as_ref().map(|c| &c.src),
                        r.resource.as_ref().map(|c| &c.src),
                        false,
                    )
                    && covers(
                        s.agent.as_ref().map(|c| &c.src),
                        r.agent.as_ref().map(|c| &c.src),
                        false,
                    )
            });
            if let Some(s) = shadow {
                self.warn(
                    r.id_span,
                    format!("rule `{}` can never change a decision", r.id),
                    Some(format!(
                        "rule `{}` ({}, line {}) matches every action this rule matches, and {} wins over {}",
                        s.id, s.effect, s.line, s.effect, r.effect
                    )),
                );
            }
        }
    }

    // ---- when ----------------------------------------------------------------------------

    fn when(&mut self, node: &Node, scope: &Scope<'_>) -> Option<Vec<Cond>> {
        let f = self.fields(node, "`when`", Some(WHEN_FIELDS))?;
        if f.entries.is_empty() {
            self.warn(
                node.span,
                "empty `when` always holds",
                Some("remove it".into()),
            );
        }
        let mut conds = Vec::new();
        let mut ok = true;
        for (name, key_span, value) in &f.entries {
            let c = match *name {
                "any_path" | "all_paths" => {
                    self.path_scope(name, *key_span, scope);
                    match self.globs_into(value, &format!("`{name}`"), Pool::Paths) {
                        Some(globs) if *name == "any_path" => Some(Cond::AnyPath(globs)),
                        Some(globs) => {
                            self.all_paths.push(globs.idx.clone());
                            Some(Cond::AllPaths {
                                slot: self.all_paths.len() - 1,
                                globs,
                            })
                        }
                        None => None,
                    }
                }
                "no_secrets" => match value.value {
                    Value::Bool(b) => Some(Cond::NoSecrets(b)),
                    _ => {
                        self.type_error(value, "`no_secrets`", "`true` or `false`");
                        None
                    }
                },
                "fact" => self.facts_cond(value, scope),
                "any" | "all" => match &value.value {
                    Value::Seq(items) if !items.is_empty() => {
                        let mut alts = Vec::new();
                        let mut all_ok = true;
                        for item in items {
                            match self.when(item, scope) {
                                Some(c) => alts.push(Cond::All(c)),
                                None => all_ok = false,
                            }
                        }
                        all_ok.then(|| {
                            if *name == "any" {
                                Cond::Any(alts)
                            } else {
                                Cond::All(alts)
                            }
                        })
                    }
                    Value::Seq(_) => {
                        self.error(value.span, format!("`{name}` needs at least one condition"));
                        None
                    }
                    _ => {
                        self.type_error(value, &format!("`{name}`"), "a list of conditions");
                        None
                    }
                },
                "not" => self
                    .when(value, scope)
                    .map(|c| Cond::Not(Box::new(Cond::All(c)))),
                _ => None,
            };
            match c {
                Some(c) => conds.push(c),
                None => ok = false,
            }
        }
        ok.then_some(conds)
    }

    /// `any_path` / `all_paths` read `paths` and `abs_paths`: the rule's connectors must
    /// produce at least one of them.
    fn path_scope(&mut self, name: &str, span: Span, scope: &Scope<'_>) {
        let Some(families) = scope.families else {
            return;
        };
        let produced = ["paths", "abs_paths"]
            .iter()
            .filter_map(|f| fact_def(f))
            .any(|d| families.iter().any(|fam| d.produced_by(*fam)));
        if !produced {
            self.error(
                span,
                format!(
                    "`{name}` reads facts `paths` and `abs_paths`, which are never produced for {}",
                    scope.connector_text()
                ),
            )
            .hint = Some("paths are produced for github, fs and shell".into());
        }
    }

    fn facts_cond(&mut self, node: &Node, scope: &Scope<'_>) -> Option<Cond> {
        let f = self.fields(node, "`fact`", None)?;
        if f.entries.is_empty() {
            self.error(node.span, "`fact` needs at least one fact condition");
            return None;
        }
        let mut conds = Vec::new();
        let mut ok = true;
        for (name, key_span, value) in &f.entries {
            let Some(def) = fact_def(name) else {
                let hint = did_you_mean(name, FACTS.iter().map(|d| d.name))
                    .unwrap_or_else(|| "see the fact reference in docs/policy.md".to_owned());
                self.error(*key_span, format!("unknown fact `{name}`")).hint = Some(hint);
                ok = false;
                continue;
            };
            if let Some(families) = scope.families
                && !families.iter().any(|fam| def.produced_by(*fam))
            {
                let producers: Vec<&str> = if def.families.is_empty() {
                    vec!["every connector"]
                } else {
                    def.families.iter().map(|f| f.name()).collect()
                };
                self.error(
                    *key_span,
                    format!(
                        "fact `{name}` is never produced for {}",
                        scope.connector_text()
                    ),
                )
                .hint = Some(format!("`{name}` is produced for {}", producers.join(", ")));
                ok = false;
                continue;
            }
            match self.fact_ops(def, value) {
                Some(ops) => conds.push(Cond::Fact { def, ops }),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        if conds.len() == 1 {
            conds.pop()
        } else {
            Some(Cond::All(conds))
        }
    }

    fn fact_ops(&mut self, def: &'static FactDef, node: &Node) -> Option<Vec<Op>> {
        let name = def.name;
        let entries = match &node.value {
            Value::Map(_) => self.fields(node, &format!("the condition on fact `{name}`"), None)?,
            Value::Seq(_) => {
                self.error(
                    node.span,
                    format!("a list is not a condition on fact `{name}`"),
                )
                .hint = Some(match def.kind {
                    FactKind::List => {
                        "use an operator, such as `any_in: [...]` or `contains: value`".into()
                    }
                    _ => "use an operator, such as `in: [...]`".into(),
                });
                return None;
            }
            _ => {
                // Scalar shorthand for `eq`.
                if def.kind == FactKind::List {
                    self.error(
                        node.span,
                        format!("fact `{name}` is a list of strings and cannot be compared with a single value"),
                    )
                    .hint = Some("use an operator, such as `contains: value` or `any_in: [...]`".into());
                    return None;
                }
                return self.lit(def, "eq", node).map(|l| vec![Op::Eq(l)]);
            }
        };
        if entries.entries.is_empty() {
            self.error(
                node.span,
                format!("the condition on fact `{name}` has no operator"),
            )
            .hint = Some(format!(
                "operators for {}: {}",
                def.kind.name(),
                ops_for(def.kind).join(", ")
            ));
            return None;
        }
        let mut ops = Vec::new();
        let mut ok = true;
        for (op, key_span, value) in &entries.entries {
            if !OPERATORS.contains(op) {
                let mut hint = did_you_mean(op, OPERATORS.iter().copied())
                    .map(|d| format!("{d} "))
                    .unwrap_or_default();
                hint.push_str(&format!(
                    "operators for {}: {}",
                    def.kind.name(),
                    ops_for(def.kind).join(", ")
                ));
                self.error(*key_span, format!("unknown operator `{op}`"))
                    .hint = Some(hint);
                ok = false;
                continue;
            }
            if !ops_for(def.kind).contains(op) {
                self.error(
                    *key_span,
                    format!(
                        "operator `{op}` does not apply to fact `{name}` ({})",
                        def.kind.name()
                    ),
                )
                .hint = Some(format!(
                    "operators for {}: {}",
                    def.kind.name(),
                    ops_for(def.kind).join(", ")
                ));
                ok = false;
                continue;
            }
            match self.op(def, op, value) {
                Some(o) => ops.push(o),
                None => ok = false,
            }
        }
        ok.then_some(ops)
    }

    fn op(&mut self, def: &'static FactDef, op: &str, node: &Node) -> Option<Op> {
        let name = def.name;
        match op {
            "eq" => self.lit(def, op, node).map(Op::Eq),
            "ne" => self.lit(def, op, node).map(Op::Ne),
            "in" | "not_in" => {
                let negate = op == "not_in";
                let items: Vec<&Node> = match &node.value {
                    Value::Seq(items) if !items.is_empty() => items.iter().collect(),
                    Value::Seq(_) => {
                        self.error(node.span, format!("`{op}` needs at least one value"));
                        return None;
                    }
                    _ => vec![node],
                };
                let set = if def.kind == FactKind::Int {
                    let mut v = Vec::new();
                    for i in items {
                        match i.value {
                            Value::Int(n) => v.push(n),
                            _ => {
                                self.type_error(
                                    i,
                                    &format!("each value of `{op}` on fact `{name}`"),
                                    "an integer",
                                );
                                return None;
                            }
                        }
                    }
                    v.sort_unstable();
                    v.dedup();
                    LitSet::Int(v)
                } else {
                    let mut v = Vec::new();
                    for i in items {
                        v.push(
                            self.string(i, &format!("each value of `{op}` on fact `{name}`"))?
                                .to_owned(),
                        );
                    }
                    v.sort_unstable();
                    v.dedup();
                    LitSet::Str(v)
                };
                Some(Op::In { negate, set })
            }
            "glob" => {
                let items = self.strings(node, &format!("`glob` on fact `{name}`"))?;
                let mut globs = Vec::new();
                let mut src = Vec::new();
                let mut ok = true;
                for (s, span) in items {
                    match self.glob(s, span) {
                        Some(g) => {
                            globs.push(g);
                            src.push(s.to_owned());
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                let set = Globs::new(globs);
                if self.build == Build::Now
                    && let Err(e) = set.build()
                {
                    self.error(node.span, format!("invalid glob: {}", e.kind()));
                    return None;
                }
                Some(Op::Glob { set, src: Src(src) })
            }
            "regex" => {
                let items = self.strings(node, &format!("`regex` on fact `{name}`"))?;
                let set = Regexes::new(items.iter().map(|(s, _)| (*s).to_owned()).collect());
                if self.build == Build::OnFirstUse {
                    return Some(Op::Regex(set));
                }
                let mut ok = true;
                for (s, span) in &items {
                    if let Err(e) = regex::RegexBuilder::new(s)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                    {
                        self.error(*span, format!("invalid regex `{s}`")).hint =
                            Some(one_line(&e.to_string()));
                        ok = false;
                    }
                }
                if !ok {
                    return None;
                }
                match set.build() {
                    Ok(()) => Some(Op::Regex(set)),
                    Err(e) => {
                        self.error(node.span, "invalid regex").hint =
                            Some(one_line(&e.to_string()));
                        None
                    }
                }
            }
            "any_in" | "all_in" | "none_in" => {
                let items = self.strings(node, &format!("`{op}` on fact `{name}`"))?;
                let mut items: Vec<String> = items.into_iter().map(|(s, _)| s.to_owned()).collect();
                items.sort_unstable();
                items.dedup();
                let mode = match op {
                    "any_in" => SetMode::AnyIn,
                    "all_in" => SetMode::AllIn,
                    _ => SetMode::NoneIn,
                };
                Some(Op::Set { mode, items })
            }
            "contains" => self
                .string(node, &format!("`contains` on fact `{name}`"))
                .map(|s| Op::Contains(s.to_owned())),
            "gt" | "gte" | "lt" | "lte" => match node.value {
                Value::Int(n) => {
                    let cmp = match op {
                        "gt" => CmpOp::Gt,
                        "gte" => CmpOp::Gte,
                        "lt" => CmpOp::Lt,
                        _ => CmpOp::Lte,
                    };
                    Some(Op::Cmp(cmp, n))
                }
                _ => {
                    self.type_error(node, &format!("`{op}` on fact `{name}`"), "an integer");
                    None
                }
            },
            "present" | "empty" => match node.value {
                Value::Bool(b) if op == "present" => Some(Op::Present(b)),
                Value::Bool(b) => Some(Op::Empty(b)),
                _ => {
                    self.type_error(node, &format!("`{op}`"), "`true` or `false`");
                    None
                }
            },
            _ => None,
        }
    }

    /// A literal of the fact's kind, for `eq` / `ne` (and the scalar shorthand).
    fn lit(&mut self, def: &'static FactDef, op: &str, node: &Node) -> Option<Lit> {
        match (def.kind, &node.value) {
            (FactKind::Bool, Value::Bool(b)) => Some(Lit::Bool(*b)),
            (FactKind::Int, Value::Int(n)) => Some(Lit::Int(*n)),
            (FactKind::Str, Value::Str(s)) => Some(Lit::Str(s.clone())),
            (kind, _) => {
                let expected = match kind {
                    FactKind::Bool => "`true` or `false`",
                    FactKind::Int => "an integer",
                    FactKind::Str => "a string",
                    FactKind::List => "a list",
                };
                self.type_error(
                    node,
                    &format!("`{op}` on fact `{}` ({})", def.name, kind.name()),
                    expected,
                );
                None
            }
        }
    }

    // ---- tests ---------------------------------------------------------------------------

    fn test(&mut self, node: &Node, ids: &[&str]) -> Option<PolicyTest> {
        let f = self.fields(node, "a test", Some(TEST_FIELDS))?;
        let name = self
            .required(&f, "name", node.span, "test")
            .and_then(|n| self.string(n, "test `name`"))
            .map(str::to_owned);
        let input = match (f.get("request"), f.get("action")) {
            (Some(r), None) => self.test_request(r).map(TestInput::Request),
            (None, Some(a)) => self.test_action(a).map(TestInput::Action),
            (Some(_), Some(a)) => {
                let span = f.key_span("action").unwrap_or(a.span);
                self.error(span, "a test has either `request` or `action`, not both");
                None
            }
            (None, None) => {
                self.error(node.span, "test is missing `request` or `action`")
                    .hint = Some(
                    "`request` goes through the normalizer; `action` gives facts directly".into(),
                );
                None
            }
        };
        let expect = self
            .required(&f, "expect", node.span, "test")
            .and_then(|n| self.expectation(n, ids));
        Some(PolicyTest {
            name: name?,
            line: node.span.line,
            input: input?,
            expect: expect?,
        })
    }

    fn expectation(&mut self, node: &Node, ids: &[&str]) -> Option<Expectation> {
        let f = self.fields(node, "`expect`", Some(EXPECT_FIELDS))?;
        let effect = match self.required(&f, "effect", node.span, "`expect`") {
            Some(n) => {
                let s = self.string(n, "expected `effect`")?;
                match Effect::parse(s) {
                    Some(e) => Some(e),
                    None => {
                        let names = Effect::ALL.map(Effect::as_str);
                        let mut hint = format!("expected one of {}", names.join(", "));
                        if let Some(d) = did_you_mean(s, names) {
                            hint.push_str(&format!(" ({d})"));
                        }
                        self.error(n.span, format!("unknown effect `{s}`")).hint = Some(hint);
                        None
                    }
                }
            }
            None => None,
        };
        let rule = match f.get("rule") {
            Some(n) => {
                let s = self.string(n, "expected `rule`")?;
                let known = ids.contains(&s)
                    || s == DEFAULT_DENY
                    || s == INVALID_INPUT
                    || builtin::IDS.contains(&s);
                if !known {
                    let all = ids
                        .iter()
                        .copied()
                        .chain(builtin::IDS.iter().copied())
                        .chain([DEFAULT_DENY, INVALID_INPUT]);
                    self.error(n.span, format!("expected rule `{s}` is not in this policy"))
                        .hint = did_you_mean(s, all);
                    return None;
                }
                Some(s.to_owned())
            }
            None => None,
        };
        Some(Expectation {
            effect: effect?,
            rule,
        })
    }

    fn test_request(&mut self, node: &Node) -> Option<ActionRequest> {
        let f = self.fields(node, "a test `request`", Some(REQUEST_FIELDS))?;
        if f.entries.len() != map_len(node) {
            return None;
        }
        let value = self.json(node)?;
        if let Err(e) = json::check_value(&value, Limits::default()) {
            self.error(node.span, format!("invalid test request: {e}"));
            return None;
        }
        match ActionRequest::from_value(value) {
            Ok(r) => Some(r),
            Err(e) => {
                self.error(node.span, format!("invalid test request: {e}"));
                None
            }
        }
    }

    fn test_action(&mut self, node: &Node) -> Option<Action> {
        let f = self.fields(node, "a test `action`", Some(ACTION_FIELDS))?;
        let mut ok = true;
        let text = |cx: &mut Cx, field: &str, default: Option<&str>| -> Option<String> {
            match f.get(field) {
                Some(n) => cx
                    .string(n, &format!("action `{field}`"))
                    .map(str::to_owned),
                None => match default {
                    Some(d) => Some(d.to_owned()),
                    None => {
                        cx.error(node.span, format!("test action is missing `{field}`"));
                        None
                    }
                },
            }
        };
        let agent = text(self, "agent", Some("unknown"));
        let connector = text(self, "connector", None);
        let operation = text(self, "operation", None);
        let resource = text(self, "resource", None);
        if let (Some(c), Some(n)) = (&connector, f.get("connector"))
            && Family::of(c).is_none()
        {
            self.error(n.span, format!("unknown connector `{c}`")).hint =
                did_you_mean(c, CONNECTORS.iter().copied());
            ok = false;
        }
        if let Some(n) = f.get("v")
            && n.value != Value::Int(i64::from(ACTION_VERSION))
        {
            self.error(n.span, format!("action `v` must be {ACTION_VERSION}"));
            ok = false;
        }
        let payload = match f.get("payload") {
            Some(n) => {
                let v = self.json(n);
                if let Some(Err(e)) = v.as_ref().map(|v| json::check_value(v, Limits::default())) {
                    self.error(n.span, format!("invalid payload: {e}"));
                    ok = false;
                }
                v
            }
            None => Some(Json::Object(serde_json::Map::new())),
        };
        let facts = match f.get("facts") {
            Some(n) => self.test_facts(n),
            None => Some(Facts::new()),
        };
        if !ok {
            return None;
        }
        Some(Action {
            v: ACTION_VERSION,
            agent: agent?,
            connector: connector?,
            operation: operation?,
            resource: resource?,
            payload: payload?,
            facts: facts?,
        })
    }

    fn test_facts(&mut self, node: &Node) -> Option<Facts> {
        let f = self.fields(node, "action `facts`", None)?;
        let mut facts = Facts::new();
        let mut ok = true;
        for (name, key_span, value) in &f.entries {
            let Some(def) = fact_def(name) else {
                self.error(*key_span, format!("unknown fact `{name}`")).hint =
                    did_you_mean(name, FACTS.iter().map(|d| d.name));
                ok = false;
                continue;
            };
            let fact = match (def.kind, &value.value) {
                (FactKind::Bool, Value::Bool(b)) => Some(Fact::Bool(*b)),
                (FactKind::Int, Value::Int(n)) => Some(Fact::Int(*n)),
                (FactKind::Str, Value::Str(s)) => Some(Fact::Str(s.clone())),
                (FactKind::List, Value::Seq(items)) => {
                    let mut v = Vec::with_capacity(items.len());
                    for i in items {
                        match self.string(i, &format!("each entry of fact `{name}`")) {
                            Some(s) => v.push(s.to_owned()),
                            None => ok = false,
                        }
                    }
                    Some(Fact::List(v))
                }
                (kind, _) => {
                    self.type_error(value, &format!("fact `{name}`"), kind.name_with_article());
                    None
                }
            };
            match fact {
                Some(fact) => {
                    facts.insert((*name).to_owned(), fact);
                }
                None => ok = false,
            }
        }
        ok.then_some(facts)
    }

    /// A YAML node as JSON (for test payloads and requests).
    fn json(&mut self, node: &Node) -> Option<Json> {
        Some(match &node.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(n) => Json::from(*n),
            Value::Float(x) => match serde_json::Number::from_f64(*x) {
                Some(n) => Json::Number(n),
                None => {
                    self.error(node.span, "numbers must be finite");
                    return None;
                }
            },
            Value::Str(s) => Json::String(s.clone()),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for i in items {
                    match self.json(i) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Json::Array(out)
            }
            Value::Map(_) => {
                let f = self.fields(node, "a mapping", None)?;
                let mut out = serde_json::Map::new();
                let mut ok = true;
                for (k, _, v) in &f.entries {
                    match self.json(v) {
                        Some(v) => {
                            out.insert((*k).to_owned(), v);
                        }
                        None => ok = false,
                    }
                }
                if !ok || f.entries.len() != map_len(node) {
                    return None;
                }
                Json::Object(out)
            }
        })
    }
}

fn map_len(node: &Node) -> usize {
    match &node.value {
        Value::Map(m) => m.len(),
        _ => 0,
    }
}

#[derive(Clone, Copy)]
enum Pool {
    Paths,
    Resources,
    Agents,
}

/// What a rule's `when` may refer to.
struct Scope<'a> {
    families: &'a Families,
    connectors: &'a [String],
}

impl Scope<'_> {
    fn connector_text(&self) -> String {
        let quoted: Vec<String> = self.connectors.iter().map(|c| format!("`{c}`")).collect();
        if quoted.len() == 1 {
            format!("connector {}", quoted[0])
        } else {
            format!("connectors {}", quoted.join(", "))
        }
    }
}

/// The operators that apply to a fact kind.
pub(crate) fn ops_for(kind: FactKind) -> &'static [&'static str] {
    match kind {
        FactKind::Bool => &["eq", "ne", "present"],
        FactKind::Int => &[
            "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "present",
        ],
        FactKind::Str => &[
            "eq", "ne", "in", "not_in", "glob", "regex", "present", "empty",
        ],
        FactKind::List => &[
            "glob", "regex", "any_in", "all_in", "none_in", "contains", "present", "empty",
        ],
    }
}

fn valid_rule_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-')
        })
}

/// `s` covers `r` when `s` is absent, or (when `star` is true) contains `*`, or is a literal
/// superset of `r`.
fn covers(s: Option<&Src>, r: Option<&Src>, star: bool) -> bool {
    match (s, r) {
        (None, _) => true,
        (Some(s), _) if star && s.0.iter().any(|p| p == "*") => true,
        (Some(_), None) => false,
        (Some(s), Some(r)) => r.0.iter().all(|p| s.0.contains(p)),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

trait KindArticle {
    fn name_with_article(self) -> &'static str;
}

impl KindArticle for FactKind {
    fn name_with_article(self) -> &'static str {
        match self {
            FactKind::Bool => "`true` or `false`",
            FactKind::Int => "an integer",
            FactKind::Str => "a string",
            FactKind::List => "a list of strings",
        }
    }
}

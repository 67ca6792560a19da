//! Evaluation: the hot path ([`Matcher::evaluate`]) and its talkative twin
//! ([`Matcher::explain`]).
//!
//! The hot path looks up the rules that can apply to the action's connector (an exact-name
//! index plus the few rules with wildcard or no connector), walks them in file order, and
//! matches each path of the action once against one global `GlobSet` holding every path glob
//! of every rule; rules then test their glob indices against the resulting bitset. Scratch
//! buffers live in a thread-local, so a decision allocates only its [`Verdict`].
//!
//! INVARIANT: `explain` computes every leaf condition with the same functions as `evaluate`
//! ([`op_holds`], the path bitsets), so the two cannot disagree on whether a rule matched.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use globset::Candidate;

use super::compile::{
    CmpOp, Cond, GlobRef, Lit, LitSet, Matcher, Op, PathSet, Rule, SetMode, list_text,
};
use super::lazy::Globs;
use super::{ApprovalMode, DEFAULT_DENY, Effect, RuleTrace, Verdict};
use crate::action::Action;
use crate::facts::Fact;

/// The verdict of a matcher with a set that could not be built (see [`super::lazy`]).
fn broken_verdict() -> Verdict {
    Verdict::deny(
        crate::decision::INVALID_POLICY,
        "a glob or regex of the policy could not be compiled; run `axtary policy check`",
    )
}

/// Per-evaluation buffers, reused across calls on one thread.
#[derive(Default)]
struct Scratch {
    tmp: Vec<usize>,
    /// Bit `i` set: some path in `paths` or `abs_paths` matches path glob `i`.
    path_any: Vec<u64>,
    /// Per `all_paths` slot: every path in `paths` matches one of its globs.
    all_ok: Vec<bool>,
    resource: Vec<u64>,
    agent: Vec<u64>,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers. The buffers are moved out while in use, so a
/// nested call (or a call while the thread is exiting) simply gets fresh, empty ones.
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut s = SCRATCH.try_with(Cell::take).unwrap_or_default();
    let out = f(&mut s);
    let _ = SCRATCH.try_with(|c| c.set(s));
    out
}

fn bit(words: &[u64], i: u32) -> bool {
    let i = i as usize;
    words.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn set_bits(words: &mut [u64], idx: &[usize]) {
    for &i in idx {
        if let Some(w) = words.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
}

fn list_fact<'a>(action: &'a Action, name: &str) -> &'a [String] {
    match action.facts.get(name) {
        Some(Fact::List(l)) => l,
        _ => &[],
    }
}

/// Lazily computed, per-action glob results.
struct Cx<'a> {
    m: &'a Matcher,
    /// The path globs to match: the connector's subset on the hot path, all of them when
    /// explaining (explain evaluates every rule, whatever its connector).
    path_set: &'a PathSet,
    action: &'a Action,
    s: &'a mut Scratch,
    paths_done: bool,
    resource_done: bool,
    agent_done: bool,
}

impl<'a> Cx<'a> {
    fn new(m: &'a Matcher, path_set: &'a PathSet, action: &'a Action, s: &'a mut Scratch) -> Self {
        Cx {
            m,
            path_set,
            action,
            s,
            paths_done: false,
            resource_done: false,
            agent_done: false,
        }
    }

    /// Matches every path once against the path glob set, filling the `any` bitset and the
    /// `all_paths` results (global glob indices).
    fn paths(&mut self) {
        if self.paths_done {
            return;
        }
        self.paths_done = true;
        let ps = self.path_set;
        let broken = &self.m.broken;
        let s = &mut *self.s;
        s.path_any.clear();
        s.path_any.resize(self.m.path_all.set.len().div_ceil(64), 0);
        s.all_ok.clear();
        let rel = list_fact(self.action, "paths");
        s.all_ok.resize(self.m.all_paths.len(), !rel.is_empty());
        if ps.global.is_empty() {
            s.all_ok.iter_mut().for_each(|ok| *ok = false);
            return;
        }
        let match_path = |s: &mut Scratch, p: &str| {
            ps.set
                .or_broken(broken)
                .matches_candidate_into(&Candidate::from_bytes(p.as_bytes()), &mut s.tmp);
            // Local indices ascend, and so do their global indices: `tmp` stays sorted.
            for i in s.tmp.iter_mut() {
                *i = ps.global.get(*i).map_or(usize::MAX, |g| *g as usize);
            }
            set_bits(&mut s.path_any, &s.tmp);
        };
        for p in rel {
            match_path(s, p);
            for (slot, globs) in self.m.all_paths.iter().enumerate() {
                if let Some(ok) = s.all_ok.get_mut(slot)
                    && *ok
                    && !globs
                        .iter()
                        .any(|g| s.tmp.binary_search(&(*g as usize)).is_ok())
                {
                    *ok = false;
                }
            }
        }
        for p in list_fact(self.action, "abs_paths") {
            match_path(s, p);
        }
    }

    fn resource(&mut self) -> &[u64] {
        if !self.resource_done {
            self.resource_done = true;
            let s = &mut *self.s;
            match_bits(
                self.m,
                &self.m.resource_globs,
                &self.action.resource,
                &mut s.resource,
                &mut s.tmp,
            );
        }
        &self.s.resource
    }

    fn agent(&mut self) -> &[u64] {
        if !self.agent_done {
            self.agent_done = true;
            let s = &mut *self.s;
            match_bits(
                self.m,
                &self.m.agent_globs,
                &self.action.agent,
                &mut s.agent,
                &mut s.tmp,
            );
        }
        &self.s.agent
    }

    fn any_path(&mut self, g: &GlobRef) -> bool {
        self.paths();
        g.idx.iter().any(|i| bit(&self.s.path_any, *i))
    }

    fn all_paths(&mut self, slot: usize) -> bool {
        self.paths();
        self.s.all_ok.get(slot).copied().unwrap_or(false)
    }

    fn connector_ok(&self, r: &Rule) -> bool {
        r.connector
            .as_ref()
            .is_none_or(|(pats, _)| pats.iter().any(|p| p.matches(&self.action.connector)))
    }

    fn operation_ok(&self, r: &Rule) -> bool {
        r.operation
            .as_ref()
            .is_none_or(|(pats, _)| pats.iter().any(|p| p.matches(&self.action.operation)))
    }

    fn resource_ok(&mut self, r: &Rule) -> bool {
        match &r.resource {
            None => true,
            Some(g) => {
                let bits = self.resource();
                g.idx.iter().any(|i| bit(bits, *i))
            }
        }
    }

    fn agent_ok(&mut self, r: &Rule) -> bool {
        match &r.agent {
            None => true,
            Some(g) => {
                let bits = self.agent();
                g.idx.iter().any(|i| bit(bits, *i))
            }
        }
    }

    fn rule_matches(&mut self, r: &Rule) -> bool {
        self.connector_ok(r)
            && self.operation_ok(r)
            && self.resource_ok(r)
            && self.agent_ok(r)
            && r.when
                .as_ref()
                .is_none_or(|conds| conds.iter().all(|c| self.holds(c)))
    }

    fn holds(&mut self, c: &Cond) -> bool {
        match c {
            Cond::AnyPath(g) => self.any_path(g),
            Cond::AllPaths { slot, .. } => self.all_paths(*slot),
            Cond::NoSecrets(want) => no_secrets(self.action, *want),
            Cond::Fact { def, ops } => {
                let fact = self.action.facts.get(def.name);
                ops.iter().all(|op| op_holds(op, fact, &self.m.broken))
            }
            Cond::Any(cs) => cs.iter().any(|c| self.holds(c)),
            Cond::All(cs) => cs.iter().all(|c| self.holds(c)),
            Cond::Not(c) => !self.holds(c),
        }
    }
}

/// Sets in `bits` the indices of the globs of `globs` that `subject` matches (`tmp` is
/// scratch).
fn match_bits(
    m: &Matcher,
    globs: &Globs,
    subject: &str,
    bits: &mut Vec<u64>,
    tmp: &mut Vec<usize>,
) {
    bits.clear();
    bits.resize(globs.len().div_ceil(64), 0);
    globs
        .or_broken(&m.broken)
        .matches_candidate_into(&Candidate::from_bytes(subject.as_bytes()), tmp);
    set_bits(bits, tmp);
}

fn no_secrets(action: &Action, want: bool) -> bool {
    match action.facts.get("secrets") {
        Some(Fact::List(l)) => l.is_empty() == want,
        _ => false,
    }
}

/// One operator on one fact value. An absent fact (or one of an unexpected type) makes
/// every operator false except `present: false`. A glob or regex set that cannot be built
/// matches nothing and sets `broken` (the matcher then denies).
pub(crate) fn op_holds(op: &Op, fact: Option<&Fact>, broken: &AtomicBool) -> bool {
    let Some(f) = fact else {
        return matches!(op, Op::Present(false));
    };
    match (op, f) {
        (Op::Present(p), _) => *p,
        (Op::Eq(l), f) => lit_eq(l, f) == Some(true),
        (Op::Ne(l), f) => lit_eq(l, f) == Some(false),
        (Op::In { negate, set }, f) => match (set, f) {
            (LitSet::Str(v), Fact::Str(s)) => {
                v.binary_search_by(|x| x.as_str().cmp(s)).is_ok() != *negate
            }
            (LitSet::Int(v), Fact::Int(n)) => v.binary_search(n).is_ok() != *negate,
            _ => false,
        },
        (Op::Glob { set, .. }, Fact::Str(s)) => set
            .or_broken(broken)
            .is_match_candidate(&Candidate::from_bytes(s.as_bytes())),
        (Op::Glob { set, .. }, Fact::List(l)) => {
            let set = set.or_broken(broken);
            l.iter()
                .any(|s| set.is_match_candidate(&Candidate::from_bytes(s.as_bytes())))
        }
        (Op::Regex(set), Fact::Str(s)) => set.or_broken(broken).is_match(s),
        (Op::Regex(set), Fact::List(l)) => {
            let set = set.or_broken(broken);
            l.iter().any(|s| set.is_match(s))
        }
        (Op::Set { mode, items }, Fact::List(l)) => {
            let has = |s: &String| items.binary_search(s).is_ok();
            match mode {
                SetMode::AnyIn => l.iter().any(has),
                SetMode::AllIn => !l.is_empty() && l.iter().all(has),
                SetMode::NoneIn => !l.iter().any(has),
            }
        }
        (Op::Contains(v), Fact::List(l)) => l.contains(v),
        (Op::Cmp(cmp, n), Fact::Int(x)) => match cmp {
            CmpOp::Gt => x > n,
            CmpOp::Gte => x >= n,
            CmpOp::Lt => x < n,
            CmpOp::Lte => x <= n,
        },
        (Op::Empty(want), Fact::Str(s)) => s.is_empty() == *want,
        (Op::Empty(want), Fact::List(l)) => l.is_empty() == *want,
        _ => false,
    }
}

/// `Some(equal)` when the literal and the fact have the same type, `None` otherwise.
fn lit_eq(l: &Lit, f: &Fact) -> Option<bool> {
    match (l, f) {
        (Lit::Bool(a), Fact::Bool(b)) => Some(a == b),
        (Lit::Int(a), Fact::Int(b)) => Some(a == b),
        (Lit::Str(a), Fact::Str(b)) => Some(a == b),
        _ => None,
    }
}

impl Matcher {
    /// Decides on `action` with the user rules (the built-ins run before this).
    pub fn evaluate(&self, action: &Action) -> Verdict {
        let verdict = with_scratch(|s| self.evaluate_with(action, s));
        if self.broken.load(Ordering::Relaxed) {
            return broken_verdict();
        }
        verdict
    }

    fn evaluate_with(&self, action: &Action, s: &mut Scratch) -> Verdict {
        let mut cx = Cx::new(self, self.path_set(&action.connector), action, s);
        let exact: &[u32] = self
            .by_connector
            .get(action.connector.as_str())
            .map_or(&[], Vec::as_slice);
        let wild: &[u32] = &self.wildcard;
        let (mut i, mut j) = (0, 0);
        let mut first_allow: Option<&Rule> = None;
        let mut first_approval: Option<&Rule> = None;
        let mut signed_approval = false;
        let mut max_approval: Option<&Rule> = None;
        let mut approvals = 0usize;
        // Walk both candidate lists merged in file order, so the first matching rule of the
        // winning effect is the first in the file.
        loop {
            let next = match (exact.get(i), wild.get(j)) {
                (Some(a), Some(b)) if a <= b => {
                    i += 1;
                    *a
                }
                (Some(_), Some(b)) | (None, Some(b)) => {
                    j += 1;
                    *b
                }
                (Some(a), None) => {
                    i += 1;
                    *a
                }
                (None, None) => break,
            };
            let Some(r) = self.rules.get(next as usize) else {
                continue;
            };
            // An allow after the first allow cannot change the decision.
            if r.effect == Effect::Allow && first_allow.is_some() {
                continue;
            }
            if !cx.rule_matches(r) {
                continue;
            }
            match r.effect {
                Effect::Deny => return Verdict::deny(r.id.clone(), r.reason.clone()),
                Effect::RequireApproval => {
                    approvals += 1;
                    first_approval.get_or_insert(r);
                    signed_approval |=
                        r.approval_mode.unwrap_or_default() == ApprovalMode::Approval;
                    let count = |r: &Rule| r.approvers.as_ref().map_or(1, |a| a.count);
                    if max_approval.is_none_or(|m| count(r) > count(m)) {
                        max_approval = Some(r);
                    }
                }
                Effect::Allow => first_allow = Some(r),
            }
        }
        if let Some(first) = first_approval {
            // The strictest approval rule applies whole: the largest count (the first in file
            // order on a tie), with its group, so the outcome does not depend on rule order.
            // Any rule asking for a signed approval outranks `ask`.
            let r = max_approval.unwrap_or(first);
            let mut reason = r.reason.clone();
            if approvals > 1 {
                reason = format!(
                    "{reason} ({approvals} approval rules matched; the strictest, `{}`, applies)",
                    r.id
                );
            }
            let mode = if signed_approval {
                ApprovalMode::Approval
            } else {
                r.approval_mode.unwrap_or_default()
            };
            return Verdict {
                effect: Effect::RequireApproval,
                rule: r.id.clone(),
                reason,
                approvers: Some(r.approvers.clone().unwrap_or_default()),
                approval_mode: Some(mode),
            };
        }
        if let Some(r) = first_allow {
            return Verdict {
                effect: Effect::Allow,
                rule: r.id.clone(),
                reason: r.reason.clone(),
                approvers: None,
                approval_mode: None,
            };
        }
        Verdict::deny(DEFAULT_DENY, "no rule allows this action")
    }

    /// Whether some payload could be allowed for `action`'s connector, operation, resource and
    /// agent: false when no allow or require_approval rule's `match` accepts them, or a deny
    /// rule with no `when` does. The payload and facts of `action` are not looked at.
    pub fn may_allow(&self, action: &Action) -> bool {
        with_scratch(|s| {
            let mut cx = Cx::new(self, self.path_set(&action.connector), action, s);
            let mut allowing = false;
            for r in &self.rules {
                let matched =
                    cx.connector_ok(r) && cx.operation_ok(r) && cx.resource_ok(r) && cx.agent_ok(r);
                if !matched {
                    continue;
                }
                match r.effect {
                    Effect::Deny if r.when.is_none() => return false,
                    Effect::Deny => {}
                    Effect::Allow | Effect::RequireApproval => allowing = true,
                }
            }
            allowing && !self.broken.load(Ordering::Relaxed)
        })
    }

    /// Why each user rule matched `action` or not, in file order.
    pub fn explain(&self, action: &Action) -> Vec<RuleTrace> {
        let mut s = Scratch::default();
        let mut cx = Cx::new(self, &self.path_all, action, &mut s);
        self.rules
            .iter()
            .map(|r| {
                let mut reasons = Vec::new();
                let matched = explain_rule(&mut cx, r, &mut reasons);
                RuleTrace {
                    rule: r.id.clone(),
                    effect: r.effect,
                    builtin: false,
                    matched,
                    reasons,
                }
            })
            .collect()
    }
}

fn explain_rule(cx: &mut Cx<'_>, r: &Rule, out: &mut Vec<String>) -> bool {
    let a = cx.action;
    let mut matched = true;
    if let Some((_, src)) = &r.connector {
        let ok = cx.connector_ok(r);
        out.push(if ok {
            format!("connector `{}` is in {}", a.connector, src.list())
        } else {
            format!("connector `{}` not in {}", a.connector, src.list())
        });
        matched &= ok;
    }
    if let Some((_, src)) = &r.operation {
        let ok = cx.operation_ok(r);
        out.push(if ok {
            format!("operation `{}` matches {}", a.operation, src.list())
        } else {
            format!(
                "operation `{}` does not match any of {}",
                a.operation,
                src.list()
            )
        });
        matched &= ok;
    }
    if let Some(g) = &r.resource {
        let ok = cx.resource_ok(r);
        out.push(if ok {
            format!("resource `{}` matches {}", a.resource, g.src.list())
        } else {
            format!(
                "resource `{}` does not match any of {}",
                a.resource,
                g.src.list()
            )
        });
        matched &= ok;
    }
    if let Some(g) = &r.agent {
        let ok = cx.agent_ok(r);
        out.push(if ok {
            format!("agent `{}` matches {}", a.agent, g.src.list())
        } else {
            format!("agent `{}` does not match any of {}", a.agent, g.src.list())
        });
        matched &= ok;
    }
    if let Some(conds) = &r.when {
        for c in conds {
            matched &= explain_cond(cx, c, out);
        }
    }
    if out.is_empty() {
        out.push("the rule has no conditions, so it matches every action".to_owned());
    }
    matched
}

fn explain_cond(cx: &mut Cx<'_>, c: &Cond, out: &mut Vec<String>) -> bool {
    let a = cx.action;
    match c {
        Cond::AnyPath(g) => {
            let held = cx.any_path(g);
            let paths = list_fact(a, "paths")
                .iter()
                .chain(list_fact(a, "abs_paths"));
            if held {
                let hit = paths
                    .clone()
                    .find(|p| path_matches(cx.m, p, &g.idx))
                    .map_or_else(String::new, |p| format!("`{}` ", short(p)));
                out.push(format!("path {hit}matches {}", g.src.list()));
            } else if paths.clone().next().is_none() {
                out.push(format!(
                    "there are no paths, so none matches {}",
                    g.src.list()
                ));
            } else {
                out.push(format!("no path matches any of {}", g.src.list()));
            }
            held
        }
        Cond::AllPaths { slot, globs } => {
            let held = cx.all_paths(*slot);
            let paths = list_fact(a, "paths");
            if held {
                out.push(format!("every path matches one of {}", globs.src.list()));
            } else if paths.is_empty() {
                out.push(format!(
                    "there are no paths (`all_paths` needs at least one), so not every path matches {}",
                    globs.src.list()
                ));
            } else {
                let miss = paths
                    .iter()
                    .find(|p| !path_matches(cx.m, p, &globs.idx))
                    .map_or_else(String::new, |p| format!("`{}` ", short(p)));
                out.push(format!("path {miss}matches none of {}", globs.src.list()));
            }
            held
        }
        Cond::NoSecrets(want) => {
            let held = no_secrets(a, *want);
            out.push(match a.facts.get("secrets") {
                Some(Fact::List(l)) if l.is_empty() => "no secrets detected".to_owned(),
                Some(Fact::List(l)) => format!("secrets detected: {}", list_text(l)),
                _ => "fact `secrets` is absent".to_owned(),
            });
            if !held && let Some(last) = out.last_mut() {
                last.push_str(&format!(" (rule needs `no_secrets: {want}`)"));
            }
            held
        }
        Cond::Fact { def, ops } => {
            let fact = a.facts.get(def.name);
            let mut held = true;
            for op in ops {
                let ok = op_holds(op, fact, &cx.m.broken);
                out.push(describe(def.name, fact, op, ok));
                held &= ok;
            }
            held
        }
        Cond::All(cs) => {
            let mut held = true;
            for c in cs {
                held &= explain_cond(cx, c, out);
            }
            held
        }
        Cond::Any(cs) => {
            let mut held = false;
            let mut parts = Vec::new();
            for (n, c) in cs.iter().enumerate() {
                let mut sub = Vec::new();
                let ok = explain_cond(cx, c, &mut sub);
                parts.push(format!(
                    "alternative {} {}: {}",
                    n + 1,
                    if ok { "held" } else { "failed" },
                    sub.join("; ")
                ));
                held |= ok;
            }
            out.push(format!(
                "any: {} ({})",
                if held {
                    "an alternative held"
                } else {
                    "no alternative held"
                },
                parts.join(" | ")
            ));
            held
        }
        Cond::Not(c) => {
            let mut sub = Vec::new();
            let inner = explain_cond(cx, c, &mut sub);
            out.push(format!(
                "not: the inner condition {} ({})",
                if inner {
                    "held, so `not` fails"
                } else {
                    "failed, so `not` holds"
                },
                sub.join("; ")
            ));
            !inner
        }
    }
}

fn path_matches(m: &Matcher, path: &str, idx: &[u32]) -> bool {
    // `path_all` maps local to global indices one to one.
    let hits = m
        .path_all
        .set
        .or_broken(&m.broken)
        .matches_candidate(&Candidate::from_bytes(path.as_bytes()));
    idx.iter().any(|i| hits.contains(&(*i as usize)))
}

/// A value cut to a readable length for explanations.
fn short(s: &str) -> String {
    const MAX: usize = 120;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out.escape_debug().to_string()
}

fn show_lit(l: &Lit) -> String {
    match l {
        Lit::Bool(b) => b.to_string(),
        Lit::Int(n) => n.to_string(),
        Lit::Str(s) => format!("`{}`", short(s)),
    }
}

fn show_fact(f: &Fact) -> String {
    match f {
        Fact::Bool(b) => b.to_string(),
        Fact::Int(n) => n.to_string(),
        Fact::Str(s) => format!("`{}`", short(s)),
        Fact::List(l) => {
            let items: Vec<String> = l.iter().map(|s| short(s)).collect();
            list_text(&items)
        }
    }
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Eq(_) => "eq",
        Op::Ne(_) => "ne",
        Op::In { negate: false, .. } => "in",
        Op::In { negate: true, .. } => "not_in",
        Op::Glob { .. } => "glob",
        Op::Regex(_) => "regex",
        Op::Set {
            mode: SetMode::AnyIn,
            ..
        } => "any_in",
        Op::Set {
            mode: SetMode::AllIn,
            ..
        } => "all_in",
        Op::Set {
            mode: SetMode::NoneIn,
            ..
        } => "none_in",
        Op::Contains(_) => "contains",
        Op::Cmp(CmpOp::Gt, _) => "gt",
        Op::Cmp(CmpOp::Gte, _) => "gte",
        Op::Cmp(CmpOp::Lt, _) => "lt",
        Op::Cmp(CmpOp::Lte, _) => "lte",
        Op::Present(_) => "present",
        Op::Empty(_) => "empty",
    }
}

/// One sentence saying why `op` held or failed on `fact`.
fn describe(name: &str, fact: Option<&Fact>, op: &Op, held: bool) -> String {
    let Some(f) = fact else {
        return match op {
            Op::Present(false) => format!("fact `{name}` is absent, as `present: false` requires"),
            Op::Present(true) => format!("fact `{name}` is absent"),
            _ => format!(
                "fact `{name}` is absent, so `{}` does not hold",
                op_name(op)
            ),
        };
    };
    let head = format!("fact `{name}` = {}", show_fact(f));
    let tail = match op {
        Op::Present(true) => "is present".to_owned(),
        Op::Present(false) => {
            "is present, but `present: false` requires it to be absent".to_owned()
        }
        _ if !held && !kind_fits(op, f) => {
            format!("has an unexpected type, so `{}` does not hold", op_name(op))
        }
        Op::Eq(l) if held => format!("equals {}", show_lit(l)),
        Op::Eq(l) => format!("does not equal {}", show_lit(l)),
        Op::Ne(l) if held => format!("differs from {}", show_lit(l)),
        Op::Ne(l) => format!("equals {}, but `ne` requires it to differ", show_lit(l)),
        Op::In { negate, set } => {
            let set = match set {
                LitSet::Str(v) => list_text(v),
                LitSet::Int(v) => list_text(&v.iter().map(i64::to_string).collect::<Vec<_>>()),
            };
            if held != *negate {
                format!("is in {set}")
            } else {
                format!("not in {set}")
            }
        }
        Op::Glob { src, .. } if held => format!("matches one of {}", src.list()),
        Op::Glob { src, .. } => format!("matches none of {}", src.list()),
        Op::Regex(set) if held => {
            format!("matches one of the regexes {}", list_text(set.patterns()))
        }
        Op::Regex(set) => format!("matches none of the regexes {}", list_text(set.patterns())),
        Op::Set { mode, items } => {
            let items = list_text(items);
            match (mode, held) {
                (SetMode::AnyIn, true) => format!("has an element in {items}"),
                (SetMode::AnyIn, false) => format!("has no element in {items}"),
                (SetMode::AllIn, true) => format!("has every element in {items}"),
                (SetMode::AllIn, false) if matches!(f, Fact::List(l) if l.is_empty()) => {
                    format!("is empty, and `all_in` needs at least one element (of {items})")
                }
                (SetMode::AllIn, false) => format!("has an element not in {items}"),
                (SetMode::NoneIn, true) => format!("has no element in {items}"),
                (SetMode::NoneIn, false) => format!("has an element in {items}"),
            }
        }
        Op::Contains(v) if held => format!("contains `{}`", short(v)),
        Op::Contains(v) => format!("does not contain `{}`", short(v)),
        Op::Cmp(cmp, n) => {
            let sym = match cmp {
                CmpOp::Gt => ">",
                CmpOp::Gte => ">=",
                CmpOp::Lt => "<",
                CmpOp::Lte => "<=",
            };
            if held {
                format!("is {sym} {n}")
            } else {
                format!("is not {sym} {n}")
            }
        }
        Op::Empty(want) => {
            let is_empty = !(held ^ *want);
            match (is_empty, held) {
                (true, true) => "is empty".to_owned(),
                (false, true) => "is not empty".to_owned(),
                (true, false) => "is empty, but `empty: false` requires a value".to_owned(),
                (false, false) => "is not empty, but `empty: true` requires it to be".to_owned(),
            }
        }
    };
    format!("{head} {tail}")
}

/// Whether `op` applies to a fact value of this type (false only for normalizer bugs; the
/// compiler checks rule-side types against the fact registry).
fn kind_fits(op: &Op, f: &Fact) -> bool {
    match op {
        Op::Present(_) => true,
        Op::Eq(l) | Op::Ne(l) => lit_eq(l, f).is_some(),
        Op::In { set, .. } => matches!(
            (set, f),
            (LitSet::Str(_), Fact::Str(_)) | (LitSet::Int(_), Fact::Int(_))
        ),
        Op::Glob { .. } | Op::Regex(_) | Op::Empty(_) => {
            matches!(f, Fact::Str(_) | Fact::List(_))
        }
        Op::Set { .. } | Op::Contains(_) => matches!(f, Fact::List(_)),
        Op::Cmp(..) => matches!(f, Fact::Int(_)),
    }
}

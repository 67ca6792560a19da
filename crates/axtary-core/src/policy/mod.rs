//! The policy language: Axtary-native YAML rules, compiled once into an indexed matcher.
//!
//! A policy file (language reference: `docs/policy.md`) is loaded in three steps:
//! [`yaml`] turns the text into a tree of nodes that remember their line and column,
//! [`compile`] walks that tree by hand (so it reports *every* mistake at once, each with its
//! position and a hint) and builds the matcher, and [`eval`] decides on actions.
//!
//! Decisions are order-independent: every rule that could apply is evaluated, deny beats
//! require_approval beats allow, and nothing matched is deny (`builtin:default-deny`). Before
//! any user rule, the built-in self-protection rules ([`builtin`]) deny actions that touch
//! Axtary's own home, the agent's hook settings or Axtary's admin commands; no user rule can
//! override them.
//!
//! INVARIANT: a [`Policy`] exists only if its source loaded without errors, and
//! [`Policy::evaluate`] is total: any action yields a [`Verdict`], never a panic.

mod builtin;
mod compile;
mod diag;
mod eval;
mod lazy;
#[cfg(test)]
mod tests;
mod tree;
mod yaml;

use serde::{Deserialize, Serialize};

use crate::action::{Action, ActionHash, ActionRequest};

pub use diag::{Diagnostic, Severity};

/// Rule id of the decision when no rule matched.
pub const DEFAULT_DENY: &str = "builtin:default-deny";
/// Rule id of the decision when a request could not be normalized.
pub const INVALID_INPUT: &str = "builtin:invalid-input";

/// What the policy needs to know about the machine it runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyEnv {
    /// Axtary's home directory (absolute). Paths in it or under it are always denied; the
    /// globs `**/.axtary` and `**/.axtary/**` are denied whether or not this is set.
    pub axtary_home: Option<String>,
    /// Other absolute spellings of the same home, protected alike: its real path when
    /// `axtary_home` passes through a symlink.
    pub axtary_home_aliases: Vec<String>,
}

/// What a rule does when it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
    RequireApproval,
}

impl Effect {
    pub const ALL: [Effect; 3] = [Effect::Allow, Effect::Deny, Effect::RequireApproval];

    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::RequireApproval => "require_approval",
        }
    }

    pub fn parse(s: &str) -> Option<Effect> {
        Effect::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Combining order: deny beats require_approval beats allow.
    pub(crate) fn strength(self) -> u8 {
        match self {
            Effect::Allow => 0,
            Effect::RequireApproval => 1,
            Effect::Deny => 2,
        }
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who must approve an action, and how many of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approvers {
    pub group: String,
    pub count: u32,
}

impl Default for Approvers {
    fn default() -> Self {
        Approvers {
            group: "default".to_owned(),
            count: 1,
        }
    }
}

/// How a surface asks for approval (the Claude Code hook can hand `ask` to the user in the
/// terminal; `approval` waits for an approval through Axtary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    Ask,
    #[default]
    Approval,
}

impl ApprovalMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalMode::Ask => "ask",
            ApprovalMode::Approval => "approval",
        }
    }
}

/// The outcome of evaluating a policy on one action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub effect: Effect,
    /// The rule that produced the decision: a rule id or `builtin:...`.
    pub rule: String,
    pub reason: String,
    /// Set exactly when `effect` is `require_approval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Approvers>,
    /// Set exactly when `effect` is `require_approval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_mode: Option<ApprovalMode>,
}

impl Verdict {
    /// A deny that names its rule and reason.
    pub fn deny(rule: impl Into<String>, reason: impl Into<String>) -> Verdict {
        Verdict {
            effect: Effect::Deny,
            rule: rule.into(),
            reason: reason.into(),
            approvers: None,
            approval_mode: None,
        }
    }
}

/// A rule as listed by [`Policy::rules`] (built-ins first, then the file's rules in order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    pub id: String,
    pub effect: Effect,
    pub reason: String,
    pub builtin: bool,
    /// Line of the rule in the policy file; 0 for built-ins.
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Approvers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_mode: Option<ApprovalMode>,
}

/// Why each rule did or did not match one action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    /// Every rule, built-ins first, in the order they are listed by [`Policy::rules`].
    pub rules: Vec<RuleTrace>,
}

/// One rule's part in an [`Explanation`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleTrace {
    pub rule: String,
    pub effect: Effect,
    pub builtin: bool,
    pub matched: bool,
    /// One sentence per condition, saying why it held or failed.
    pub reasons: Vec<String>,
}

/// A test written in the policy file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyTest {
    pub name: String,
    pub line: usize,
    pub input: TestInput,
    pub expect: Expectation,
}

/// What a policy test decides on.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestInput {
    /// A request, run through the real normalizer first.
    Request(ActionRequest),
    /// An already-normalized action with facts given directly.
    Action(Action),
}

/// The decision a test expects; `rule` is checked only when given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expectation {
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// The decision a test actually got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub effect: Effect,
    pub rule: String,
}

/// The result of one policy test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestResult {
    pub name: String,
    pub line: usize,
    pub passed: bool,
    pub expected: Expectation,
    pub actual: Outcome,
    /// Why the request could not be normalized, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The results of [`Policy::run_tests`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestReport {
    pub passed: usize,
    pub failed: usize,
    pub results: Vec<TestResult>,
}

impl TestReport {
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

/// A policy that loaded, and the warnings found while loading it.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub warnings: Vec<Diagnostic>,
}

/// A compiled policy. It can only be built by [`Policy::load`] from a source without errors.
#[derive(Debug)]
pub struct Policy {
    matcher: compile::Matcher,
    builtins: builtin::Builtins,
    summaries: Vec<RuleSummary>,
    tests: Vec<PolicyTest>,
    hash: ActionHash,
}

impl Policy {
    /// Parses, checks and compiles a policy. On failure the `Err` holds every error found
    /// (and the warnings), sorted by position.
    pub fn load(source: &str, env: &PolicyEnv) -> Result<Loaded, Vec<Diagnostic>> {
        let (compiled, diagnostics, _) = compile::compile(source);
        let hash = ActionHash::of_bytes(source.as_bytes());
        Self::finish(hash, env, compiled, diagnostics)
    }

    /// [`Policy::load`] for a process that only decides, and loads the same policy on every
    /// start (the Claude Code hook runs once per tool call).
    ///
    /// `cache` is what an earlier call returned, for this source or another. When it holds
    /// this exact source's tree, the YAML is not parsed again, the `tests:` section is left
    /// out ([`Policy::tests`] is empty) and glob and regex sets are compiled when a decision
    /// first needs them. The cache is only ever written from a source that loaded without
    /// errors, and anything in it that does not check out (another source, another format,
    /// corrupt bytes) is ignored: the source is then loaded as by [`Policy::load`].
    ///
    /// Returns the load, and the new bytes to cache when `cache` was not usable.
    pub fn load_cached(
        source: &str,
        env: &PolicyEnv,
        cache: Option<&[u8]>,
    ) -> (Result<Loaded, Vec<Diagnostic>>, Option<Vec<u8>>) {
        let hash = ActionHash::of_bytes(source.as_bytes());
        if let Some(root) = cache.and_then(|c| cache::open(c, &hash)) {
            let (compiled, diagnostics) = compile::compile_tree(&root, compile::Build::OnFirstUse);
            if let Ok(loaded) = Self::finish(hash, env, compiled, diagnostics) {
                return (Ok(loaded), None);
            }
        }
        let (compiled, diagnostics, root) = compile::compile(source);
        let loaded = Self::finish(hash, env, compiled, diagnostics);
        let fresh = match (&loaded, root) {
            (Ok(_), Some(root)) => Some(cache::seal(&root, &hash)),
            _ => None,
        };
        (loaded, fresh)
    }

    fn finish(
        hash: ActionHash,
        env: &PolicyEnv,
        compiled: Option<compile::Compiled>,
        diagnostics: Vec<Diagnostic>,
    ) -> Result<Loaded, Vec<Diagnostic>> {
        let compiled = match compiled {
            Some(c) if !diagnostics.iter().any(Diagnostic::is_error) => c,
            _ => return Err(diagnostics),
        };
        let builtins = builtin::Builtins::new(env);
        let mut summaries = builtins.summaries();
        summaries.extend(compiled.matcher.summaries());
        Ok(Loaded {
            policy: Policy {
                matcher: compiled.matcher,
                builtins,
                summaries,
                tests: compiled.tests,
                hash,
            },
            warnings: diagnostics,
        })
    }

    /// `sha256:` of the exact source bytes (the `policy_hash` of decisions and passes).
    pub fn hash(&self) -> ActionHash {
        self.hash
    }

    /// Decides on one action. Total and deterministic.
    pub fn evaluate(&self, action: &Action) -> Verdict {
        if let Some(v) = self.builtins.check(action) {
            return v;
        }
        self.matcher.evaluate(action)
    }

    /// Whether any payload could be allowed for `action`'s connector, operation, resource and
    /// agent (its payload and facts are not looked at). `false` means denied whatever the
    /// payload; `true` is only an upper bound (a rule's `when` or a built-in may still deny).
    /// Used to hide tools an agent can never use.
    pub fn may_allow(&self, action: &Action) -> bool {
        self.matcher.may_allow(action)
    }

    /// Decides on one action and says, for every rule, why it matched or not.
    pub fn explain(&self, action: &Action) -> Explanation {
        let mut rules = self.builtins.explain(action);
        rules.extend(self.matcher.explain(action));
        Explanation {
            verdict: self.evaluate(action),
            rules,
        }
    }

    /// Every rule: built-ins first, then the file's rules in file order.
    pub fn rules(&self) -> &[RuleSummary] {
        &self.summaries
    }

    /// The tests written in the policy file.
    pub fn tests(&self) -> &[PolicyTest] {
        &self.tests
    }

    /// Runs the policy's own tests. Requests go through the real normalizer (with default
    /// options); a request that fails to normalize is decided as deny by
    /// `builtin:invalid-input`, as the pipeline would.
    pub fn run_tests(&self) -> TestReport {
        let results: Vec<TestResult> = self.tests.iter().map(|t| self.run_test(t)).collect();
        let passed = results.iter().filter(|r| r.passed).count();
        TestReport {
            passed,
            failed: results.len() - passed,
            results,
        }
    }

    fn run_test(&self, test: &PolicyTest) -> TestResult {
        let (actual, error) = match &test.input {
            TestInput::Action(action) => {
                let v = self.evaluate(action);
                (
                    Outcome {
                        effect: v.effect,
                        rule: v.rule,
                    },
                    None,
                )
            }
            TestInput::Request(request) => match normalize_request(request) {
                Ok(action) => {
                    let v = self.evaluate(&action);
                    (
                        Outcome {
                            effect: v.effect,
                            rule: v.rule,
                        },
                        None,
                    )
                }
                Err(e) => (
                    Outcome {
                        effect: Effect::Deny,
                        rule: INVALID_INPUT.to_owned(),
                    },
                    Some(e),
                ),
            },
        };
        let passed = actual.effect == test.expect.effect
            && test.expect.rule.as_ref().is_none_or(|r| *r == actual.rule);
        TestResult {
            name: test.name.clone(),
            line: test.line,
            passed,
            expected: test.expect.clone(),
            actual,
            error,
        }
    }
}

/// The normalizer, as policy tests use it.
fn normalize_request(request: &ActionRequest) -> Result<Action, String> {
    crate::normalize::normalize(request, &crate::normalize::NormalizeOptions::default())
        .map_err(|e| e.to_string())
}

/// For `cargo fuzz` (target `policy_cache`): decodes `bytes` as a cached policy tree, without
/// the checksum that keeps random bytes out of the decoder in real use. A tree that decodes
/// must encode to bytes that decode to the same tree, and compiling it (sets on first use)
/// and deciding with it must not panic.
#[doc(hidden)]
pub fn fuzz_policy_tree(bytes: &[u8], action: &Action) {
    let Some(root) = tree::decode(bytes) else {
        return;
    };
    // Compared as bytes: a float may be NaN, which is not equal to itself.
    let mut again = Vec::new();
    tree::encode(&root, &mut again);
    let mut third = Vec::new();
    match tree::decode(&again) {
        Some(decoded) => tree::encode(&decoded, &mut third),
        None => panic!("an encoded tree does not decode"),
    }
    assert_eq!(again, third, "the tree did not round-trip");
    let (compiled, diagnostics) = compile::compile_tree(&root, compile::Build::OnFirstUse);
    let hash = ActionHash::of_bytes(bytes);
    if let Ok(loaded) = Policy::finish(hash, &PolicyEnv::default(), compiled, diagnostics) {
        let _ = loaded.policy.evaluate(action);
        let _ = loaded.policy.explain(action);
    }
}

/// The policy cache's bytes: a header binding them to one source, then the source's tree
/// without its `tests:` section ([`tree`]).
///
/// `MAGIC` (format version included) | SHA-256 of the source | check | tree, where check is
/// SHA-256(source hash || tree), so a flipped bit anywhere is caught before the tree is used.
mod cache {
    use sha2::{Digest, Sha256};

    use super::tree;
    use super::yaml::{Node, Value};
    use crate::action::ActionHash;

    const MAGIC: &[u8; 8] = b"axtpol\x00\x01";
    const HEADER: usize = MAGIC.len() + 64;

    fn check(source: &ActionHash, tree: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(source.as_bytes());
        h.update(tree);
        h.finalize().into()
    }

    /// The bytes to cache for `root`, parsed from the source hashing to `source`.
    pub(super) fn seal(root: &Node, source: &ActionHash) -> Vec<u8> {
        let without_tests = match &root.value {
            Value::Map(entries) => Node {
                value: Value::Map(
                    entries
                        .iter()
                        .filter(|(k, _)| k.value != Value::Str("tests".to_owned()))
                        .cloned()
                        .collect(),
                ),
                span: root.span,
            },
            _ => root.clone(),
        };
        let mut body = Vec::new();
        tree::encode(&without_tests, &mut body);
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(source.as_bytes());
        out.extend_from_slice(&check(source, &body));
        out.extend_from_slice(&body);
        out
    }

    /// The tree in `bytes`, if they were sealed for the source hashing to `source` and are
    /// intact.
    pub(super) fn open(bytes: &[u8], source: &ActionHash) -> Option<Node> {
        let (header, body) = bytes.split_at_checked(HEADER)?;
        let (magic, hashes) = header.split_at(MAGIC.len());
        let (for_source, sum) = hashes.split_at(32);
        if magic != MAGIC || for_source != source.as_bytes() || sum != check(source, body) {
            return None;
        }
        tree::decode(body)
    }
}

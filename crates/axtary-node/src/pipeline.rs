//! The pipeline every surface runs: request bytes in, a recorded decision out, and for
//! [`Node::run`] on to a pass, a connector and a recorded outcome.
//!
//! ```text
//! bytes ─▶ normalize ─▶ decide ─▶ approvals ─▶ ledger{decision, pass_issued} ─▶ mint ─▶ verify
//!                                                      (one fsync)                        │
//!   result (scrubbed) ◀── ledger{executed | failed | outcome_unknown} ◀── connector ◀─────┘
//! ```
//!
//! **Invariants** (DESIGN.md §2), each attacked in `tests/pipeline.rs`:
//! - every failure before the connector runs is a deny or a failed outcome, never an effect;
//! - the decision and the pass are durable (one group commit) before the connector runs, and a
//!   pass minted here is spent in that same transaction, so it can never be replayed elsewhere;
//! - the connector gets only a [`VerifiedPass`], verified against the action about to run;
//! - the outcome is appended after the effect; after a crash, recovery records
//!   `outcome_unknown` for a pass with no outcome.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use anyhow::{Context, Result};
use axtary_connectors::{Broker, Connectors, ExecOptions, Outcome, Status};
use axtary_core::action::ActionRequest;
use axtary_core::decision::{Decided, Decision, decide_bytes, decide_request};
use axtary_core::json::{self, Limits};
use axtary_core::ledger::EntryKind;
use axtary_core::normalize::NormalizeOptions;
use axtary_core::pass::{self, Expected, JtiStore, NodeKey, PASS_VERSION, PassClaims};
use axtary_core::policy::{Effect, Loaded, PolicyEnv};
use axtary_core::{Action, ActionHash, checkpoint};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::approvals::{self, Approvals};
use crate::home::{self, Config, Home};
use crate::keys;
use crate::ledger::{Ledger, LedgerError, LedgerOptions, now_ms};
use crate::passes::new_jti;
use crate::policy_file::{self, LoadFailure};
use crate::record;

/// How to open a [`Node`].
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// Use this policy file instead of the one named by the config (`--policy`).
    pub policy_path: Option<PathBuf>,
    /// Sign a checkpoint on [`Node::close`] (the daemon does; one-shot commands rely on the
    /// ledger's interval schedule instead).
    pub checkpoint_on_close: bool,
    /// Load the policy through the home's policy cache (one-shot processes that only decide:
    /// the hook, `axtary run`, `axtary decide`), leaving the policy's tests out.
    pub policy_cache: bool,
}

/// The policy in force: the last one that loaded, or (in a process that never loaded one) the
/// failure, under which every action is denied.
pub struct PolicyState {
    pub loaded: Result<Loaded, LoadFailure>,
}

impl PolicyState {
    fn policy(&self) -> Result<&axtary_core::policy::Policy, &str> {
        match &self.loaded {
            Ok(l) => Ok(&l.policy),
            Err(f) => Err(f.summary.as_str()),
        }
    }

    /// The policy's hash, when one is loaded.
    pub fn hash(&self) -> Option<ActionHash> {
        self.loaded.as_ref().ok().map(|l| l.policy.hash())
    }
}

/// The local enforcement node: policy, ledger, approvals, key and connectors of one home.
/// Share it as `Arc<Node>`.
pub struct Node {
    home: Home,
    config: Config,
    normalize: NormalizeOptions,
    policy_path: PathBuf,
    policy_env: PolicyEnv,
    policy: RwLock<Arc<PolicyState>>,
    ledger: Ledger,
    /// Opened on the first decision that needs it, so a hook invocation that never needs an
    /// approval does not pay for it.
    approvals: Mutex<Option<Approvals>>,
    key: NodeKey,
    own_key: [VerifyingKey; 1],
    connectors: OnceLock<Result<Connectors, String>>,
}

/// How [`Node::run`] executes.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Record and return what would be sent, send nothing.
    pub dry_run: bool,
    /// Wait until the outcome entry is durable before returning (one-shot commands). The
    /// daemon answers as soon as the outcome is queued: after a crash, recovery records the
    /// outcome as unknown.
    pub durable_outcome: bool,
}

/// Where an action ended up. (contract: the `status` of `axtary run` and `POST /v1/actions`)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The provider accepted it.
    Executed,
    /// It was allowed but did not succeed: refused, unreachable, a provider error, or a
    /// timeout after sending (then `provider_reached` is true and it may have taken effect;
    /// it is never retried).
    Failed,
    /// Nothing was sent; `result` shows exactly what would have been.
    DryRun,
    /// Policy (or a failure) denied it; nothing ran.
    Denied,
    /// It waits for a human approval; resubmit the identical action once approved.
    PendingApproval,
}

/// What became of an action that ran outside Axtary, for [`Node::record_outcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effected {
    /// It ran and reported success.
    Succeeded,
    /// It ran and reported an error, or did not run.
    Failed,
    /// No answer came (the tool's process died, the session ended): it may have taken effect.
    Unknown,
}

/// The result of [`Node::run`]. Everything in it has been scrubbed of secrets.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub status: RunStatus,
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether any byte reached the provider (absent when nothing was attempted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_reached: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<PassSummary>,
    /// Why the request was invalid, when it was (maps to exit code 3 / HTTP 400).
    #[serde(skip)]
    pub invalid_input: bool,
}

impl RunResult {
    /// A deny for a failure inside the node itself (a panicked task): nothing ran.
    pub fn internal_failure(why: &str) -> RunResult {
        let decided = internal_decided(why);
        RunResult {
            status: RunStatus::Denied,
            error: Some(format!("internal error: {why}")),
            decision: decided.decision,
            approval_id: None,
            result: None,
            provider_reached: None,
            pass: None,
            invalid_input: false,
        }
    }
}

/// The pass an action ran under.
#[derive(Clone, Debug, Serialize)]
pub struct PassSummary {
    pub jti: String,
    pub exp: i64,
    /// Ledger sequence number of the `pass_issued` entry.
    pub ledger_seq: u64,
}

impl Node {
    /// Opens the node of `home`: config, node key, ledger and policy. A policy that fails to
    /// load does not fail the open: the node then denies everything and says why.
    pub fn open(home: &Home, opts: NodeOptions) -> Result<Node> {
        let config = home.config()?;
        let policy_path = policy_file::path(home, &config, opts.policy_path.as_deref());
        let policy_env = policy_file::env(home);
        // Compiling the policy is most of a one-shot process's work (the hook runs once per
        // tool call): do it on a second core while this one opens the key and the ledger.
        let (loaded, opened) = std::thread::scope(|scope| {
            let policy = scope.spawn(|| {
                if opts.policy_cache {
                    policy_file::load_cached(&policy_path, &policy_env, &home.policy_cache_path())
                } else {
                    policy_file::load(&policy_path, &policy_env).map(|(l, _)| l)
                }
            });
            let opened = Self::open_ledger(home, &config, &opts);
            let loaded = match policy.join() {
                Ok(result) => result,
                Err(_) => Err(LoadFailure::internal("the policy loader panicked")),
            };
            (loaded, opened)
        });
        let (key, ledger) = opened?;
        let normalize = NormalizeOptions {
            limits: config.json_limits(),
            user_home: home::user_home(),
        };
        let own_key = [key.verifying_key()];
        Ok(Node {
            home: home.clone(),
            config,
            normalize,
            policy_path,
            policy_env,
            policy: RwLock::new(Arc::new(PolicyState { loaded })),
            ledger,
            approvals: Mutex::new(None),
            key,
            own_key,
            connectors: OnceLock::new(),
        })
    }

    /// The node key and the ledger it signs.
    fn open_ledger(home: &Home, config: &Config, opts: &NodeOptions) -> Result<(NodeKey, Ledger)> {
        let key = keys::load_node_key(&home.key_path()).with_context(|| {
            format!(
                "cannot load the node key (run `axtary init`? home is `{}`)",
                home.root().display()
            )
        })?;
        let ledger = Ledger::open(
            &home.ledger_path(),
            &checkpoint::origin(&config.node),
            key.clone(),
            LedgerOptions {
                checkpoint_on_close: opts.checkpoint_on_close,
                // Long-lived processes (the daemon, MCP servers) checkpoint the WAL on a
                // thread of their own; one-shot ones keep SQLite's inline checkpoints.
                background_wal_checkpoints: opts.checkpoint_on_close,
                ..LedgerOptions::default()
            },
        )
        .with_context(|| format!("cannot open the ledger `{}`", home.ledger_path().display()))?;
        Ok((key, ledger))
    }

    pub fn home(&self) -> &Home {
        &self.home
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The largest request accepted, in bytes.
    pub fn limits(&self) -> Limits {
        self.normalize.limits
    }

    pub fn normalize_options(&self) -> &NormalizeOptions {
        &self.normalize
    }

    pub fn policy_path(&self) -> &std::path::Path {
        &self.policy_path
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<PolicyState> {
        match self.policy.read() {
            Ok(p) => Arc::clone(&p),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reloads the policy file. A policy that loads replaces the one in force (and the load is
    /// recorded as `policy_loaded`); one that fails keeps the previous good policy in force
    /// and is returned as the error. Returns the new policy's hash.
    pub fn reload_policy(&self) -> Result<ActionHash, LoadFailure> {
        let fresh = policy_file::load(&self.policy_path, &self.policy_env).map(|(l, _)| l);
        let mut slot = match self.policy.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        match fresh {
            Ok(loaded) => {
                let hash = loaded.policy.hash();
                *slot = Arc::new(PolicyState { loaded: Ok(loaded) });
                drop(slot);
                self.record_policy_loaded(hash);
                Ok(hash)
            }
            Err(failure) => {
                if slot.loaded.is_err() {
                    // Nothing good to keep: still deny everything, with the newest reason.
                    *slot = Arc::new(PolicyState {
                        loaded: Err(failure.clone()),
                    });
                }
                Err(failure)
            }
        }
    }

    /// Records the policy in force as a `policy_loaded` entry (a daemon does at start).
    pub fn record_policy_loaded(&self, hash: ActionHash) {
        let body = json!({
            "policy_hash": hash,
            "path": self.policy_path.display().to_string(),
        });
        // Best effort: the decisions themselves carry the policy hash.
        let _ = self.ledger.append(EntryKind::PolicyLoaded, body);
    }

    /// [`Node::decide_unrecorded`] for async callers: the pure part inline for requests up to
    /// [`INLINE_DECIDE_MAX`], the approvals store (SQLite, which may wait on a lock) and large
    /// requests on a blocking thread.
    async fn decide_unrecorded_async(self: &Arc<Self>, request: Vec<u8>) -> Decided {
        if request.len() > INLINE_DECIDE_MAX {
            let node = Arc::clone(self);
            return tokio::task::spawn_blocking(move || {
                node.decide_unrecorded(Request::Bytes(&request))
            })
            .await
            .unwrap_or_else(|e| internal_decided(&e.to_string()));
        }
        let decided = {
            let policy = self.policy();
            decide_bytes(&request, policy.policy(), &self.normalize)
        };
        if decided.decision.effect != Effect::RequireApproval {
            return decided;
        }
        let node = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut decided = decided;
            node.apply_approvals(&mut decided);
            decided
        })
        .await
        .unwrap_or_else(|e| internal_decided(&e.to_string()))
    }

    /// [`Node::decide`] for async callers (the daemon): resolves once the decision is durable,
    /// without parking a thread on the ledger's fsync.
    pub async fn decide_async(self: &Arc<Self>, request: Vec<u8>, surface: &str) -> Decided {
        let decided = self.decide_unrecorded_async(request).await;
        self.record_decision_async(decided, surface).await
    }

    /// Normalizes and decides without recording: for surfaces that record themselves.
    fn decide_unrecorded(&self, request: Request<'_>) -> Decided {
        let policy = self.policy();
        let mut decided = match request {
            Request::Bytes(b) => decide_bytes(b, policy.policy(), &self.normalize),
            Request::Parsed(r) => decide_request(r, policy.policy(), &self.normalize),
        };
        self.apply_approvals(&mut decided);
        decided
    }

    fn apply_approvals(&self, decided: &mut Decided) {
        if decided.decision.effect != Effect::RequireApproval {
            return;
        }
        let mut guard = match self.approvals.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.is_none() {
            match Approvals::open(&self.home.ledger_path()) {
                Ok(a) => *guard = Some(a),
                Err(e) => {
                    approvals::resolve(decided, Err(e.to_string()), &self.ledger, 0, now_ms());
                    return;
                }
            }
        }
        let ttl_ms = i64::from(self.config.approvals.ttl_seconds) * 1000;
        let approvals = guard
            .as_mut()
            .ok_or_else(|| "approvals unavailable".to_owned());
        approvals::resolve(decided, approvals, &self.ledger, ttl_ms, now_ms());
    }

    /// Normalizes, decides, applies approvals and durably records the decision
    /// (`decision.ledger_seq`). Total: an allow that cannot be recorded becomes a deny.
    pub fn decide(&self, request: &[u8], surface: &str) -> Decided {
        let decided = self.decide_unrecorded(Request::Bytes(request));
        self.record_decision(decided, surface)
    }

    /// Records a deny for a request that could not even be read (an I/O error on stdin).
    pub fn deny_unreadable(&self, message: String, surface: &str) -> Decided {
        let policy_hash = self.policy().hash();
        let decided = Decided {
            decision: Decision::invalid_input(message.clone(), None, policy_hash),
            action: None,
            input_error: Some(axtary_core::decision::InputError {
                message,
                hint: None,
            }),
            context: None,
        };
        self.record_decision(decided, surface)
    }

    /// [`Node::decide`] for a request already parsed.
    pub fn decide_request(&self, request: &ActionRequest, surface: &str) -> Decided {
        let decided = self.decide_unrecorded(Request::Parsed(request));
        self.record_decision(decided, surface)
    }

    /// [`Node::decide_request`] for a surface that can ask its user itself (the Claude Code
    /// hook): a `require_approval` decision whose rule says `approval_mode: ask` is recorded
    /// and returned as is, for the surface to ask, instead of opening an approval request
    /// nobody would answer. Every other decision goes through approvals as usual.
    pub fn decide_request_asking(&self, request: &ActionRequest, surface: &str) -> Decided {
        let policy = self.policy();
        let mut decided = decide_request(request, policy.policy(), &self.normalize);
        if decided.decision.approval_mode != Some(axtary_core::policy::ApprovalMode::Ask) {
            self.apply_approvals(&mut decided);
        }
        self.record_decision(decided, surface)
    }

    fn record_decision(&self, decided: Decided, surface: &str) -> Decided {
        let body = record::decision_body(&decided, surface, decided.context.as_ref());
        recorded(decided, self.ledger.append(EntryKind::Decision, body))
    }

    async fn record_decision_async(&self, decided: Decided, surface: &str) -> Decided {
        let body = record::decision_body(&decided, surface, decided.context.as_ref());
        let appended = self.ledger.append_async(EntryKind::Decision, body).await;
        recorded(decided, appended)
    }

    /// Records the outcome of an action that ran outside Axtary (Claude Code's own tools, a
    /// wrapped MCP server) against the decision that allowed it. Returns the entry's seq.
    pub fn record_outcome(
        &self,
        decision_seq: u64,
        outcome: Effected,
        detail: Value,
    ) -> Result<u64, LedgerError> {
        let (kind, body) = outcome_entry(decision_seq, outcome, detail);
        Ok(self.ledger.append(kind, body)?.seq)
    }

    /// The configured connectors, built on first use (a hook never builds HTTP clients).
    fn connectors(&self) -> Result<&Connectors, String> {
        self.connectors
            .get_or_init(|| {
                let broker = Broker::open(self.home.root()).map_err(|e| e.to_string())?;
                Connectors::from_config(&self.config.connectors, Arc::new(broker))
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Names of the configured connectors (empty when their config is unusable).
    pub fn connector_names(&self) -> Vec<String> {
        self.connectors()
            .map(|c| c.names().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Runs the whole pipeline on request bytes. Total: every failure before the connector
    /// is a deny or a failed outcome with nothing sent.
    pub async fn run(
        self: &Arc<Self>,
        request: Vec<u8>,
        surface: String,
        opts: RunOptions,
    ) -> RunResult {
        let dry_run = opts.dry_run;
        let issued = self.issue(request, &surface, dry_run).await;
        let ready = match issued {
            Issued::Done(result) => return *result,
            Issued::Ready(ready) => ready,
        };
        let outcome = self.execute(&ready, dry_run).await;
        self.finish(*ready, outcome, opts.durable_outcome)
    }

    /// Everything up to the connector: decide, record decision + pass in one commit, mint.
    /// Waits for the ledger without parking a thread (the daemon runs many of these at once).
    async fn issue(self: &Arc<Self>, request: Vec<u8>, surface: &str, dry_run: bool) -> Issued {
        let mut decided = self.decide_unrecorded_async(request).await;
        let invalid_input = decided.input_error.is_some();
        let allowed = decided.decision.effect == Effect::Allow;
        let action = match (&decided.action, allowed) {
            (Some(a), true) => a.clone(),
            _ => {
                let decided = self.record_decision_async(decided, surface).await;
                return Issued::Done(Box::new(not_run(decided, invalid_input)));
            }
        };
        // The connector must exist before a pass is issued for it.
        if let Err(why) = self.connectors().and_then(|c| {
            c.get(&action.connector).map(|_| ()).ok_or_else(|| {
                format!(
                    "connector `{}` is not configured\nhint: add it under `connectors:` in {}",
                    action.connector,
                    self.home.config_path().display()
                )
            })
        }) {
            let decided = self.record_decision_async(decided, surface).await;
            let seq = decided.decision.ledger_seq;
            let mut result = not_run(decided, false);
            result.status = RunStatus::Failed;
            result.error = Some(why.clone());
            if let Some(seq) = seq {
                let detail = json!({"error": why, "provider_reached": false});
                let (kind, body) = outcome_entry(seq, Effected::Failed, detail);
                let _ = self.ledger.append_async(kind, body).await;
            }
            return Issued::Done(Box::new(result));
        }

        let now = now_ms() / 1000;
        let jti = match new_jti() {
            Ok(j) => j,
            Err(e) => {
                decided.decision = decided.decision.unrecorded(&e.to_string());
                let decided = self.record_decision_async(decided, surface).await;
                return Issued::Done(Box::new(not_run(decided, false)));
            }
        };
        let lifetime = i64::from(self.config.passes.lifetime_seconds);
        let mut claims = PassClaims {
            v: PASS_VERSION,
            jti,
            iss: self.key.key_id().to_owned(),
            sub: action.agent.clone(),
            aud: action.connector.clone(),
            op: action.operation.clone(),
            res: action.resource.clone(),
            ah: action.hash(),
            dec: 0,
            apr: decided.decision.approvals.clone(),
            pol: decided
                .decision
                .policy_hash
                .unwrap_or(ActionHash::of_bytes(b"")),
            iat: now,
            exp: now.saturating_add(lifetime),
        };
        let decision_body = record::decision_body(&decided, surface, decided.context.as_ref());
        let pass_body = json!({
            "jti": claims.jti, "iss": claims.iss, "sub": claims.sub, "aud": claims.aud,
            "op": claims.op, "res": claims.res, "ah": claims.ah, "apr": claims.apr,
            "iat": claims.iat, "exp": claims.exp, "dry_run": dry_run, "in_process": true,
        });
        // Record before effect: decision and pass, durable together, or nothing runs.
        let appended = self
            .ledger
            .append_group_async(
                vec![
                    (EntryKind::Decision, decision_body),
                    (EntryKind::PassIssued, pass_body),
                ],
                Some("decision_seq"),
            )
            .await;
        let (decision_seq, pass_seq) = match appended.as_deref() {
            Ok([d, p]) => (d.seq, p.seq),
            Ok(_) => {
                decided.decision = decided.decision.unrecorded("unexpected ledger reply");
                return Issued::Done(Box::new(not_run(decided, false)));
            }
            Err(e) => {
                decided.decision = decided.decision.unrecorded(&e.to_string());
                return Issued::Done(Box::new(not_run(decided, false)));
            }
        };
        decided.decision.ledger_seq = Some(decision_seq);
        claims.dec = decision_seq;
        let summary = PassSummary {
            jti: claims.jti.clone(),
            exp: claims.exp,
            ledger_seq: pass_seq,
        };
        let token = pass::mint(&claims, &self.key).map_err(|e| e.to_string());
        Issued::Ready(Box::new(Ready {
            decision: decided.decision,
            action,
            claims,
            token,
            summary,
            decision_seq,
            pass_seq,
        }))
    }

    /// Verifies the pass against the action about to run and hands both to the connector.
    async fn execute(&self, ready: &Ready, dry_run: bool) -> Result<Outcome, String> {
        let token = ready
            .token
            .as_ref()
            .map_err(|e| format!("cannot sign the pass: {e}"))?;
        let expected = Expected {
            audience: &ready.action.connector,
            subject: Some(&ready.action.agent),
            action_hash: ready.action.hash(),
            now: now_ms() / 1000,
        };
        // The jti was spent durably with the pass_issued entry; this store admits that one
        // jti exactly once, so the pass verifies here and nowhere else.
        let mut spent = ReservedJti {
            jti: &ready.claims.jti,
            used: false,
        };
        let verified = pass::verify(token, self.own_key.as_slice(), &expected, &mut spent)
            .map_err(|e| format!("the pass did not verify, so nothing was sent: {e}"))?;
        let connectors = self.connectors()?;
        let opts = ExecOptions {
            dry_run,
            pass_token: Some(token.clone()),
        };
        connectors
            .execute(&verified, &ready.action, &opts)
            .await
            .map_err(|refusal| format!("the connector refused, so nothing was sent: {refusal}"))
    }

    /// Records the outcome and builds the answer.
    fn finish(&self, ready: Ready, outcome: Result<Outcome, String>, durable: bool) -> RunResult {
        let (status, kind, result, error, reached, unknown) = match outcome {
            Ok(o) => {
                let (status, kind) = match o.status {
                    Status::Succeeded => (RunStatus::Executed, EntryKind::Executed),
                    Status::DryRun => (RunStatus::DryRun, EntryKind::Executed),
                    Status::Failed => (RunStatus::Failed, EntryKind::Failed),
                    Status::Unknown => (RunStatus::Failed, EntryKind::Failed),
                };
                let unknown = o.status == Status::Unknown;
                (
                    status,
                    kind,
                    Some(o.result),
                    o.error,
                    Some(o.provider_reached),
                    unknown,
                )
            }
            Err(e) => (
                RunStatus::Failed,
                EntryKind::Failed,
                None,
                Some(e),
                Some(false),
                false,
            ),
        };
        let mut body = Map::new();
        body.insert("jti".into(), ready.claims.jti.clone().into());
        body.insert("decision_seq".into(), ready.decision_seq.into());
        body.insert("pass_seq".into(), ready.pass_seq.into());
        body.insert("status".into(), json!(status));
        if let Some(r) = reached {
            body.insert("provider_reached".into(), r.into());
        }
        if unknown {
            // Sent, but no answer (a timeout): it may have taken effect.
            body.insert("effect_unknown".into(), true.into());
        }
        if let Some(r) = &result {
            body.insert("result_hash".into(), json!(value_hash(r)));
            if status == RunStatus::DryRun && json::check_value(r, Limits::default()).is_ok() {
                // A dry run records exactly what would have been sent (credentials redacted).
                body.insert("would_send".into(), r.clone());
            }
        }
        if let Some(e) = &error {
            body.insert("error".into(), record::withhold_secrets(e).into());
        }
        let body = Value::Object(body);
        // The effect already happened: a failure to record it is reported, and recovery will
        // record the outcome as unknown.
        let recorded = if durable {
            self.ledger.append(kind, body).map(|_| ())
        } else {
            self.ledger.append_detached(kind, body)
        };
        let error = match (error, recorded) {
            (e, Ok(())) => e,
            (e, Err(le)) => Some(format!(
                "{}the outcome could not be recorded ({le}); the ledger will report it as unknown",
                e.map(|e| format!("{e}; ")).unwrap_or_default()
            )),
        };
        RunResult {
            status,
            decision: ready.decision,
            approval_id: None,
            result,
            error,
            provider_reached: reached,
            pass: Some(ready.summary),
            invalid_input: false,
        }
    }

    /// Records `outcome_unknown` for every pass left without an outcome by an earlier process
    /// (call at start-up). Returns how many.
    pub fn recover(&self) -> Result<usize, LedgerError> {
        self.ledger.recover_outcomes(now_ms()).map(|r| r.len())
    }

    /// Flushes the ledger (and signs a checkpoint if the node was opened to).
    pub fn close(&self) -> Result<(), LedgerError> {
        self.ledger.close()
    }
}

enum Request<'a> {
    Bytes(&'a [u8]),
    Parsed(&'a ActionRequest),
}

enum Issued {
    Done(Box<RunResult>),
    Ready(Box<Ready>),
}

/// An action with its decision and pass durably recorded, about to run.
struct Ready {
    decision: Decision,
    action: Action,
    claims: PassClaims,
    token: Result<String, String>,
    summary: PassSummary,
    decision_seq: u64,
    pass_seq: u64,
}

/// Admits one reserved `jti`, once.
struct ReservedJti<'a> {
    jti: &'a str,
    used: bool,
}

impl JtiStore for ReservedJti<'_> {
    fn claim(&mut self, jti: &str, _exp: i64) -> Result<bool, String> {
        if jti != self.jti || self.used {
            return Ok(false);
        }
        self.used = true;
        Ok(true)
    }
}

fn not_run(decided: Decided, invalid_input: bool) -> RunResult {
    let status = match decided.decision.effect {
        Effect::RequireApproval => RunStatus::PendingApproval,
        _ => RunStatus::Denied,
    };
    RunResult {
        status,
        approval_id: decided.decision.approval_id.clone(),
        error: decided.input_error.as_ref().map(|e| e.message.clone()),
        decision: decided.decision,
        result: None,
        provider_reached: None,
        pass: None,
        invalid_input,
    }
}

/// Requests up to this size are decided inline by async callers; larger ones (whose
/// normalization, say of a long SQL script, may take a while) on a blocking thread.
const INLINE_DECIDE_MAX: usize = 64 * 1024;

/// A deny for a failure inside the node itself (a panicked task).
fn internal_decided(why: &str) -> Decided {
    Decided {
        decision: Decision::invalid_policy(format!("internal error: {why}"), None),
        action: None,
        input_error: None,
        context: None,
    }
}

/// `decided` with the ledger's answer applied: an allow (or approval) that cannot be recorded
/// becomes a deny.
fn recorded(
    mut decided: Decided,
    appended: Result<crate::ledger::Appended, LedgerError>,
) -> Decided {
    match appended {
        Ok(a) => decided.decision.ledger_seq = Some(a.seq),
        Err(e) => {
            if decided.decision.effect != Effect::Deny {
                decided.decision = decided.decision.unrecorded(&e.to_string());
            }
        }
    }
    decided
}

/// The entry recording the outcome of an action that ran under decision `decision_seq`.
fn outcome_entry(decision_seq: u64, outcome: Effected, detail: Value) -> (EntryKind, Value) {
    let mut body = Map::new();
    body.insert("decision_seq".into(), decision_seq.into());
    if let Value::Object(d) = detail {
        for (k, v) in d {
            body.entry(k).or_insert(v);
        }
    }
    let kind = match outcome {
        Effected::Succeeded => EntryKind::Executed,
        Effected::Failed => EntryKind::Failed,
        Effected::Unknown => EntryKind::OutcomeUnknown,
    };
    (kind, Value::Object(body))
}

/// `sha256:` of the JCS form of `value`.
pub fn value_hash(value: &Value) -> ActionHash {
    ActionHash::of_bytes(&json::canonicalize(value))
}

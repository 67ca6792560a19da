//! Content-bound approvals (DESIGN.md §2, §3).
//!
//! When policy says `require_approval`, an [`ApprovalRequest`] is stored with the full action,
//! its hash, the agent, the rule, the approver group and count, and an expiry. Humans answer
//! with signed statements (`{approval_id, action_hash, agent, approver, decision, issued_at,
//! expires_at, uses}`, RFC 8785 JCS, Ed25519 by the approver's own key, never the node key).
//!
//! INVARIANT: an approval authorizes only an action whose recomputed hash is identical, by the
//! same agent, before it expires, at most `uses` times, and only once `count` distinct approvers
//! signed. [`Approvals::authorize`] checks every one of these (and every signature) and consumes
//! a use atomically; anything else is refused with a reason naming the check that failed.

use std::path::Path;

use axtary_core::Action;
use axtary_core::action::ActionHash;
use axtary_core::json;
use axtary_core::pass::{NodeKey, key_id};
use axtary_core::policy::Approvers;
use ed25519_dalek::{Signature, VerifyingKey};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Value, json};

use axtary_core::decision::{Decided, Decision};
use axtary_core::ledger::EntryKind;
use axtary_core::policy::Effect;
use serde_json::Map;

use crate::keys::{self, KeyError};
use crate::ledger::{Ledger, LedgerError, connect};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    action_hash TEXT NOT NULL,
    agent TEXT NOT NULL,
    rule TEXT NOT NULL,
    approver_group TEXT NOT NULL,
    required INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    action TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    reason TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS approvals_hash ON approvals (action_hash);
CREATE TABLE IF NOT EXISTS approval_votes (
    approval_id TEXT NOT NULL REFERENCES approvals (id),
    approver TEXT NOT NULL,
    public_key TEXT NOT NULL,
    decision TEXT NOT NULL,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    PRIMARY KEY (approval_id, approver)
) STRICT;
";

/// Why an approval operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("approval storage error: {0}")]
    Storage(String),
    #[error("no approval `{0}`")]
    NotFound(String),
    #[error("approval `{id}` is {status}, not pending")]
    NotPending { id: String, status: String },
    #[error("approval `{0}` has expired")]
    Expired(String),
    #[error(
        "`{approver}` already answered approval `{id}`; it needs {required} distinct approvers"
    )]
    AlreadyVoted {
        id: String,
        approver: String,
        required: u32,
    },
    #[error("approver names are 1 to 64 of letters, digits, `_`, `-` or `.`")]
    BadApproverName,
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl From<rusqlite::Error> for ApprovalError {
    fn from(e: rusqlite::Error) -> Self {
        ApprovalError::Storage(e.to_string())
    }
}

impl From<LedgerError> for ApprovalError {
    fn from(e: LedgerError) -> Self {
        ApprovalError::Storage(e.to_string())
    }
}

/// A stored approval request and its state.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalRequest {
    pub id: String,
    pub action_hash: String,
    pub agent: String,
    pub rule: String,
    pub approvers: Approvers,
    pub uses: u32,
    pub used: u32,
    /// pending | approved | denied | used (expiry is computed, see [`ApprovalRequest::state`]).
    pub status: String,
    pub action: Action,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub reason: Option<String>,
    pub votes: Vec<Vote>,
}

/// One approver's signed answer.
#[derive(Clone, Debug, Serialize)]
pub struct Vote {
    pub approver: String,
    pub public_key: String,
    pub decision: String,
    pub statement: String,
    pub signature: String,
    pub ts_ms: i64,
}

impl ApprovalRequest {
    /// The status as of `now_ms`: `expired` once past expiry unless used or denied.
    pub fn state(&self, now_ms: i64) -> &str {
        if matches!(self.status.as_str(), "pending" | "approved") && now_ms >= self.expires_ms {
            "expired"
        } else {
            &self.status
        }
    }

    /// Distinct approvers whose `approve` statements verify.
    pub fn valid_approvals(&self) -> Vec<&str> {
        self.votes
            .iter()
            .filter(|v| v.decision == "approve" && verify_vote(self, v))
            .map(|v| v.approver.as_str())
            .collect()
    }
}

/// The statement an approver signs. (contract: DESIGN.md §3)
pub fn statement(req: &ApprovalRequest, approver: &str, decision: &str, issued_ms: i64) -> Value {
    json!({
        "approval_id": req.id,
        "action_hash": req.action_hash,
        "agent": req.agent,
        "approver": approver,
        "decision": decision,
        "issued_at": issued_ms,
        "expires_at": req.expires_ms,
        "uses": req.uses,
    })
}

/// Checks a stored vote: its statement names this request's id, hash, agent, expiry and uses,
/// and its signature verifies under the approver key it names.
fn verify_vote(req: &ApprovalRequest, vote: &Vote) -> bool {
    let Ok(value) = json::parse_strict(vote.statement.as_bytes(), json::Limits::default()) else {
        return false;
    };
    let fields_match = value["approval_id"] == req.id
        && value["action_hash"] == req.action_hash
        && value["agent"] == req.agent
        && value["approver"] == vote.approver
        && value["decision"] == vote.decision
        && value["expires_at"] == req.expires_ms
        && value["uses"] == req.uses;
    let canonical = json::canonicalize(&value);
    let Some(key) = keys::parse_public_key(&vote.public_key) else {
        return false;
    };
    let mut sig = [0u8; 64];
    if axtary_core::hex::decode(&vote.signature, &mut sig).is_none() {
        return false;
    }
    let sig = Signature::from_bytes(&sig);
    fields_match
        && canonical == vote.statement.as_bytes()
        && key.verify_strict(&canonical, &sig).is_ok()
}

/// The result of looking for an approval that authorizes an action.
#[derive(Debug)]
pub enum Authorization {
    /// An approval authorized it, and one use was consumed.
    Approved { id: String, approvers: Vec<String> },
    /// A human denied this exact action.
    Denied { id: String, reason: String },
    /// Still waiting: an existing or new pending request.
    Pending {
        request: Box<ApprovalRequest>,
        note: Option<String>,
    },
}

/// An approver's key and name.
pub struct Approver {
    pub name: String,
    key: NodeKey,
}

impl Approver {
    /// Loads (creating on first use) the key of approver `name` under `home/approvers/`.
    pub fn load_or_create(home: &Path, name: &str) -> Result<Approver, ApprovalError> {
        if !axtary_core::facts::is_server_name(name) {
            return Err(ApprovalError::BadApproverName);
        }
        let dir = home.join("approvers");
        keys::ensure_private_dir(&dir).map_err(|e| ApprovalError::Storage(e.to_string()))?;
        let path = dir.join(format!("{name}.key"));
        keys::create_node_key(&path)?;
        Ok(Approver {
            name: name.to_owned(),
            key: keys::load_node_key(&path)?,
        })
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
}

/// What policy requires of an action's approval.
pub struct Requirement<'a> {
    /// The rule that required it.
    pub rule: &'a str,
    pub approvers: &'a Approvers,
    /// How long a new request stays open, in milliseconds.
    pub ttl_ms: i64,
}

/// Approval storage, in the ledger database.
pub struct Approvals {
    conn: Connection,
}

impl Approvals {
    pub fn open(path: &Path) -> Result<Approvals, ApprovalError> {
        let conn = connect(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Approvals { conn })
    }

    /// Finds an approval for `action` (hash `hash`) or opens a request for it, following the
    /// invariant in the module docs. `new_id` supplies a fresh random id.
    pub fn authorize(
        &mut self,
        action: &Action,
        hash: &ActionHash,
        need: &Requirement<'_>,
        now_ms: i64,
        new_id: impl FnOnce() -> String,
    ) -> Result<Authorization, ApprovalError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let hash_text = hash.to_string();
        let ids: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM approvals WHERE action_hash = ?1 ORDER BY created_ms DESC",
            )?;
            stmt.query_map([&hash_text], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut notes = Vec::new();
        let mut pending = None;
        for id in ids {
            let Some(req) = load(&tx, &id)? else { continue };
            if req.agent != action.agent {
                notes.push(format!(
                    "approval {} is for agent `{}`, not `{}`",
                    req.id, req.agent, action.agent
                ));
                continue;
            }
            match req.state(now_ms) {
                "expired" => notes.push(format!("approval {} expired", req.id)),
                "used" => notes.push(format!(
                    "approval {} was already used {} time(s)",
                    req.id, req.used
                )),
                "denied" => {
                    let reason = format!(
                        "approval {} was denied{}",
                        req.id,
                        req.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    );
                    tx.commit()?;
                    return Ok(Authorization::Denied { id: req.id, reason });
                }
                "approved" => {
                    let valid = req.valid_approvals();
                    if valid.len() < req.approvers.count as usize {
                        notes.push(format!(
                            "approval {} has {} valid signature(s) of {} required",
                            req.id,
                            valid.len(),
                            req.approvers.count
                        ));
                        continue;
                    }
                    let names: Vec<String> = valid.iter().map(|s| (*s).to_owned()).collect();
                    let changed = tx.execute(
                        "UPDATE approvals SET used = used + 1,
                             status = CASE WHEN used + 1 >= uses THEN 'used' ELSE status END
                         WHERE id = ?1 AND status = 'approved' AND used < uses AND expires_ms > ?2",
                        params![req.id, now_ms],
                    )?;
                    if changed == 1 {
                        tx.commit()?;
                        return Ok(Authorization::Approved {
                            id: req.id,
                            approvers: names,
                        });
                    }
                    notes.push(format!("approval {} could not be used", req.id));
                }
                _ => {
                    if pending.is_none() {
                        pending = Some(req);
                    }
                }
            }
        }
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        if let Some(request) = pending {
            tx.commit()?;
            return Ok(Authorization::Pending {
                request: Box::new(request),
                note,
            });
        }
        let id = new_id();
        let action_json =
            serde_json::to_string(action).map_err(|e| ApprovalError::Storage(e.to_string()))?;
        tx.execute(
            "INSERT INTO approvals (id, action_hash, agent, rule, approver_group, required, uses, status, action, created_ms, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 'pending', ?7, ?8, ?9)",
            params![
                id,
                hash_text,
                action.agent,
                need.rule,
                need.approvers.group,
                need.approvers.count,
                action_json,
                now_ms,
                now_ms + need.ttl_ms
            ],
        )?;
        let request = load(&tx, &id)?.ok_or_else(|| ApprovalError::NotFound(id.clone()))?;
        tx.commit()?;
        Ok(Authorization::Pending {
            request: Box::new(request),
            note,
        })
    }

    pub fn get(&self, id: &str) -> Result<ApprovalRequest, ApprovalError> {
        load(&self.conn, id)?.ok_or_else(|| ApprovalError::NotFound(id.to_owned()))
    }

    /// Requests, newest first; only pending (and not expired) ones unless `all`.
    pub fn list(&self, all: bool, now_ms: i64) -> Result<Vec<ApprovalRequest>, ApprovalError> {
        let ids: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM approvals ORDER BY created_ms DESC")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = load(&self.conn, &id)?.filter(|r| all || r.state(now_ms) == "pending")
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Records a signed answer from `approver`. Returns the request as it stands afterwards.
    pub fn vote(
        &mut self,
        id: &str,
        approver: &Approver,
        approve: bool,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<(ApprovalRequest, Value), ApprovalError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let req = load(&tx, id)?.ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
        match req.state(now_ms) {
            "pending" => {}
            "expired" => return Err(ApprovalError::Expired(id.to_owned())),
            other => {
                return Err(ApprovalError::NotPending {
                    id: id.to_owned(),
                    status: other.to_owned(),
                });
            }
        }
        if req.votes.iter().any(|v| v.approver == approver.name) {
            return Err(ApprovalError::AlreadyVoted {
                id: id.to_owned(),
                approver: approver.name.clone(),
                required: req.approvers.count,
            });
        }
        let decision = if approve { "approve" } else { "deny" };
        let stmt = statement(&req, &approver.name, decision, now_ms);
        let canonical = json::canonicalize(&stmt);
        let signature = approver.key.sign(&canonical);
        let public_key = keys::encode_hex(approver.public_key().as_bytes());
        tx.execute(
            "INSERT INTO approval_votes (approval_id, approver, public_key, decision, statement, signature, ts_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                approver.name,
                public_key,
                decision,
                String::from_utf8_lossy(&canonical),
                keys::encode_hex(&signature.to_bytes()),
                now_ms
            ],
        )?;
        let after = load(&tx, id)?.ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
        let new_status = if !approve {
            Some("denied")
        } else if after.valid_approvals().len() >= after.approvers.count as usize {
            Some("approved")
        } else {
            None
        };
        if let Some(status) = new_status {
            tx.execute(
                "UPDATE approvals SET status = ?1, reason = ?2 WHERE id = ?3",
                params![status, reason, id],
            )?;
        }
        let after = load(&tx, id)?.ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
        tx.commit()?;
        let signed = json!({
            "statement": stmt,
            "signature": keys::encode_hex(&signature.to_bytes()),
            "approver_key": public_key,
            "approver_key_id": key_id(&approver.public_key()),
        });
        Ok((after, signed))
    }
}

fn load(conn: &Connection, id: &str) -> Result<Option<ApprovalRequest>, ApprovalError> {
    let row = conn
        .query_row(
            "SELECT id, action_hash, agent, rule, approver_group, required, uses, used, status, action, created_ms, expires_ms, reason
             FROM approvals WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?),
                    (r.get::<_, String>(4)?, r.get::<_, i64>(5)?, r.get::<_, i64>(6)?, r.get::<_, i64>(7)?),
                    (r.get::<_, String>(8)?, r.get::<_, String>(9)?, r.get::<_, i64>(10)?, r.get::<_, i64>(11)?),
                    r.get::<_, Option<String>>(12)?,
                ))
            },
        )
        .optional()?;
    let Some((
        (id, action_hash, agent, rule),
        (group, required, uses, used),
        (status, action, created_ms, expires_ms),
        reason,
    )) = row
    else {
        return Ok(None);
    };
    let action: Action = serde_json::from_str(&action)
        .map_err(|e| ApprovalError::Storage(format!("stored action: {e}")))?;
    let votes = {
        let mut stmt = conn.prepare(
            "SELECT approver, public_key, decision, statement, signature, ts_ms FROM approval_votes WHERE approval_id = ?1 ORDER BY ts_ms",
        )?;
        stmt.query_map([&id], |r| {
            Ok(Vote {
                approver: r.get(0)?,
                public_key: r.get(1)?,
                decision: r.get(2)?,
                statement: r.get(3)?,
                signature: r.get(4)?,
                ts_ms: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?
    };
    let count = |n: i64| u32::try_from(n).unwrap_or(0);
    Ok(Some(ApprovalRequest {
        id,
        action_hash,
        agent,
        rule,
        approvers: Approvers {
            group,
            count: count(required),
        },
        uses: count(uses),
        used: count(used),
        status,
        action,
        created_ms,
        expires_ms,
        reason,
        votes,
    }))
}

/// A fresh approval id: `apr_` and 16 random hex digits.
pub fn random_id() -> Result<String, ApprovalError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApprovalError::Storage(format!("random source: {e}")))?;
    Ok(format!("apr_{}", keys::encode_hex(&bytes)))
}

/// Rule id of a decision a human denied.
pub const APPROVAL_DENIED: &str = "builtin:approval-denied";
/// Rule id of a decision made when approval storage failed.
pub const APPROVAL_UNAVAILABLE: &str = "builtin:approval-unavailable";

/// Applies approvals to a `require_approval` decision: an approval that authorizes the exact
/// action turns it into `allow` (consuming one use), a human denial into `deny`, and otherwise
/// the decision names the pending request (opening one, and recording that in the ledger).
/// Any storage failure is a deny. Decisions of other effects are left alone.
pub fn resolve(
    decided: &mut Decided,
    approvals: Result<&mut Approvals, String>,
    ledger: &Ledger,
    ttl_ms: i64,
    now_ms: i64,
) {
    let d = &mut decided.decision;
    if d.effect != Effect::RequireApproval {
        return;
    }
    let (Some(action), Some(hash)) = (&decided.action, d.action_hash) else {
        return;
    };
    let fail = |d: &mut Decision, why: String| {
        d.effect = Effect::Deny;
        d.reason = format!("approval storage failed, so the action is denied: {why}");
        d.rule = APPROVAL_UNAVAILABLE.to_owned();
        d.approvers = None;
        d.approval_mode = None;
    };
    let approvals = match approvals {
        Ok(a) => a,
        Err(why) => return fail(d, why),
    };
    let approvers = d.approvers.clone().unwrap_or_default();
    let need = Requirement {
        rule: &d.rule,
        approvers: &approvers,
        ttl_ms,
    };
    let mut fresh = None;
    let result = approvals.authorize(action, &hash, &need, now_ms, || {
        let id = random_id().unwrap_or_default();
        fresh = Some(id.clone());
        id
    });
    match result {
        Err(e) => fail(d, e.to_string()),
        Ok(Authorization::Approved { id, approvers }) => {
            d.effect = Effect::Allow;
            d.reason = format!("approved by {} ({id}); {}", approvers.join(", "), d.reason);
            d.approvals = vec![id];
            d.approval_mode = None;
        }
        Ok(Authorization::Denied { id, reason }) => {
            d.effect = Effect::Deny;
            d.rule = APPROVAL_DENIED.to_owned();
            d.reason = reason;
            d.approval_id = Some(id);
            d.approvers = None;
            d.approval_mode = None;
        }
        Ok(Authorization::Pending { request, note }) => {
            if fresh.as_deref() == Some(request.id.as_str()) {
                let mut body = Map::new();
                body.insert("approval_id".into(), request.id.clone().into());
                body.insert("action_hash".into(), request.action_hash.clone().into());
                body.insert("rule".into(), request.rule.clone().into());
                body.insert("approvers".into(), json!(request.approvers));
                body.insert("expires_at".into(), request.expires_ms.into());
                crate::record::insert_action(&mut body, action);
                if let Err(e) = ledger.append(EntryKind::ApprovalRequested, Value::Object(body)) {
                    return fail(d, e.to_string());
                }
            }
            let have = request.valid_approvals().len();
            d.reason = format!(
                "{} (approval {} needs {} of {} from `{}`; a human runs `axtary approvals approve {}`{})",
                d.reason,
                request.id,
                request.approvers.count.saturating_sub(have as u32),
                request.approvers.count,
                request.approvers.group,
                request.id,
                note.map(|n| format!("; {n}")).unwrap_or_default()
            );
            d.approval_id = Some(request.id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use axtary_core::ActionRequest;
    use axtary_core::normalize::{NormalizeOptions, normalize};

    use super::*;

    const HOUR: i64 = 3_600_000;

    fn cleanup(dir: &Path) {
        let _ = std::fs::remove_dir_all(dir);
    }
    const NOW: i64 = 1_790_000_000_000;

    struct Fixture {
        dir: std::path::PathBuf,
        approvals: Approvals,
        n: u32,
    }

    impl Fixture {
        fn new(name: &str) -> Fixture {
            let dir = std::env::temp_dir()
                .join(format!("axtary-approvals-{}-{name}", std::process::id()));
            cleanup(&dir);
            keys::ensure_private_dir(&dir).unwrap();
            let approvals = Approvals::open(&dir.join("ledger.db")).unwrap();
            Fixture {
                dir,
                approvals,
                n: 0,
            }
        }

        fn authorize(&mut self, action: &Action, count: u32, now: i64) -> Authorization {
            self.n += 1;
            let id = format!("apr_{:016x}", self.n);
            let approvers = Approvers {
                group: "sre".into(),
                count,
            };
            let need = Requirement {
                rule: "rule",
                approvers: &approvers,
                ttl_ms: HOUR,
            };
            self.approvals
                .authorize(action, &action.hash(), &need, now, || id)
                .unwrap()
        }

        fn approver(&self, name: &str) -> Approver {
            Approver::load_or_create(&self.dir, name).unwrap()
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            cleanup(&self.dir);
        }
    }

    fn action(agent: &str, text: &str) -> Action {
        let req = ActionRequest {
            agent: agent.into(),
            connector: "slack".into(),
            operation: "chat.post".into(),
            input: json!({"channel": "#general", "text": text}),
            context: None,
        };
        normalize(&req, &NormalizeOptions::default()).unwrap()
    }

    fn pending_id(a: Authorization) -> String {
        match a {
            Authorization::Pending { request, .. } => request.id,
            other => panic!("expected pending, got {other:?}"),
        }
    }

    #[test]
    fn approve_then_use_once() {
        let mut f = Fixture::new("once");
        let a = action("bot", "deploy");
        let id = pending_id(f.authorize(&a, 1, NOW));
        // Asking again before approval returns the same request, not a new one.
        assert_eq!(pending_id(f.authorize(&a, 1, NOW + 1)), id);
        let alice = f.approver("alice");
        let (after, signed) = f.approvals.vote(&id, &alice, true, None, NOW + 2).unwrap();
        assert_eq!(after.status, "approved");
        assert_eq!(signed["statement"]["action_hash"], a.hash().to_string());
        match f.authorize(&a, 1, NOW + 3) {
            Authorization::Approved {
                id: used,
                approvers,
            } => {
                assert_eq!(used, id);
                assert_eq!(approvers, ["alice"]);
            }
            other => panic!("{other:?}"),
        }
        // Replaying it: the approval is used up; a new request opens, and says why.
        match f.authorize(&a, 1, NOW + 4) {
            Authorization::Pending { request, note } => {
                assert_ne!(request.id, id);
                assert!(note.unwrap().contains("already used"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_changed_payload_is_a_new_request() {
        let mut f = Fixture::new("changed");
        let a = action("bot", "deploy");
        let id = pending_id(f.authorize(&a, 1, NOW));
        f.approvals
            .vote(&id, &f.approver("alice"), true, None, NOW)
            .unwrap();
        let changed = action("bot", "deploy!");
        assert_ne!(pending_id(f.authorize(&changed, 1, NOW)), id);
    }

    #[test]
    fn reordered_keys_hash_alike_and_are_approved() {
        let mut f = Fixture::new("reordered");
        let a = action("bot", "deploy");
        let id = pending_id(f.authorize(&a, 1, NOW));
        f.approvals
            .vote(&id, &f.approver("alice"), true, None, NOW)
            .unwrap();
        let reordered = ActionRequest::from_slice(
            br##"{"agent":"bot","connector":"slack","operation":"chat.post","input":{"text":"deploy","channel":"#general"}}"##,
            json::Limits::default(),
        )
        .unwrap();
        let b = normalize(&reordered, &NormalizeOptions::default()).unwrap();
        assert!(matches!(
            f.authorize(&b, 1, NOW),
            Authorization::Approved { .. }
        ));
    }

    #[test]
    fn another_agent_cannot_use_it() {
        let mut f = Fixture::new("agent");
        let a = action("bot", "deploy");
        let id = pending_id(f.authorize(&a, 1, NOW));
        f.approvals
            .vote(&id, &f.approver("alice"), true, None, NOW)
            .unwrap();
        match f.authorize(&action("other-bot", "deploy"), 1, NOW) {
            Authorization::Pending { note, .. } => {
                assert!(note.unwrap().contains("for agent `bot`"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expired_approvals_do_not_authorize() {
        let mut f = Fixture::new("expired");
        let a = action("bot", "deploy");
        let id = pending_id(f.authorize(&a, 1, NOW));
        f.approvals
            .vote(&id, &f.approver("alice"), true, None, NOW)
            .unwrap();
        match f.authorize(&a, 1, NOW + HOUR + 1) {
            Authorization::Pending { note, .. } => assert!(note.unwrap().contains("expired")),
            other => panic!("{other:?}"),
        }
        // Voting on an expired request is refused.
        let id2 = pending_id(f.authorize(&action("bot", "x"), 1, NOW));
        assert!(matches!(
            f.approvals
                .vote(&id2, &f.approver("bob"), true, None, NOW + HOUR),
            Err(ApprovalError::Expired(_))
        ));
    }

    #[test]
    fn two_approvers_must_be_distinct() {
        let mut f = Fixture::new("two");
        let a = action("bot", "deploy");
        let id = pending_id(f.authorize(&a, 2, NOW));
        let alice = f.approver("alice");
        let (after, _) = f.approvals.vote(&id, &alice, true, None, NOW).unwrap();
        assert_eq!(after.status, "pending");
        assert!(matches!(
            f.approvals.vote(&id, &alice, true, None, NOW),
            Err(ApprovalError::AlreadyVoted { .. })
        ));
        assert!(matches!(
            f.authorize(&a, 2, NOW),
            Authorization::Pending { .. }
        ));
        let (after, _) = f
            .approvals
            .vote(&id, &f.approver("bob"), true, None, NOW)
            .unwrap();
        assert_eq!(after.status, "approved");
        assert!(matches!(
            f.authorize(&a, 2, NOW),
            Authorization::Approved { .. }
        ));
    }

    #[test]
    fn a_denial_is_final_for_that_action() {
        let mut f = Fixture::new("deny");
        let a = action("bot", "deploy");
        let id = pending_id(f.authorize(&a, 1, NOW));
        let (after, _) = f
            .approvals
            .vote(&id, &f.approver("alice"), false, Some("not today"), NOW)
            .unwrap();
        assert_eq!(after.status, "denied");
        match f.authorize(&a, 1, NOW) {
            Authorization::Denied { reason, .. } => assert!(reason.contains("not today")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn forged_votes_do_not_count() {
        let mut f = Fixture::new("forged");
        let a = action("bot", "deploy");
        let id = pending_id(f.authorize(&a, 1, NOW));
        f.approvals
            .vote(&id, &f.approver("alice"), true, None, NOW)
            .unwrap();
        // Someone with database access rewrites the statement to another action hash.
        let conn = connect(&f.dir.join("ledger.db")).unwrap();
        conn.execute(
            "UPDATE approval_votes SET statement = replace(statement, ?1, ?2)",
            params![
                a.hash().to_string(),
                action("bot", "other").hash().to_string()
            ],
        )
        .unwrap();
        match f.authorize(&a, 1, NOW) {
            Authorization::Pending { note, .. } => {
                assert!(note.unwrap().contains("0 valid signature(s)"))
            }
            other => panic!("{other:?}"),
        }
    }
}

//! ActionPass storage: the durable table of used pass ids, and minting a pass for an action.
//!
//! The pure core verifies passes ([`axtary_core::pass::verify`]) and asks a [`JtiStore`] to
//! record each `jti` exactly once. [`SqliteJtiStore`] keeps that record in the ledger database
//! (`used_jti`), on a connection with `synchronous=FULL`, so a pass accepted once is refused
//! forever after, across processes and crashes.

use std::path::Path;

use axtary_core::pass::{
    DEFAULT_LIFETIME_SECS, JtiStore, LEEWAY_SECS, MintError, NodeKey, PASS_VERSION, PassClaims,
    mint,
};
use axtary_core::{Action, ActionHash};
use rusqlite::{Connection, ErrorCode, params};

use crate::ledger::{LedgerError, connect};

const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS used_jti (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL) STRICT;";

/// How long past its expiry a used `jti` is kept: far longer than [`LEEWAY_SECS`], so a clock
/// that steps back cannot revive an expired, purged pass.
pub const KEEP_USED_SECS: i64 = 24 * 60 * 60;

/// Used pass ids in the ledger database.
pub struct SqliteJtiStore {
    conn: Connection,
}

impl SqliteJtiStore {
    /// Opens the store in the database at `path` (normally `ledger.db`), creating the table.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let conn = connect(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// Forgets ids of passes that expired long ago (see [`KEEP_USED_SECS`]).
    pub fn purge_expired(&self, now: i64) -> Result<usize, LedgerError> {
        let cutoff = now.saturating_sub(KEEP_USED_SECS + LEEWAY_SECS);
        Ok(self
            .conn
            .execute("DELETE FROM used_jti WHERE exp < ?1", [cutoff])?)
    }
}

impl JtiStore for SqliteJtiStore {
    fn claim(&mut self, jti: &str, exp: i64) -> Result<bool, String> {
        // One autocommit INSERT: atomic (the primary key refuses a second one, whichever process
        // tries) and durable when it returns (WAL with synchronous=FULL).
        match self.conn.execute(
            "INSERT INTO used_jti (jti, exp) VALUES (?1, ?2)",
            params![jti, exp],
        ) {
            Ok(_) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::ConstraintViolation =>
            {
                Ok(false)
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Why a pass could not be minted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MintForError {
    #[error(transparent)]
    Mint(#[from] MintError),
    #[error("cannot read the system random source: {0}")]
    Random(String),
}

/// 32 lower-case hex digits: the issue time in milliseconds (48 bits), then 80 random bits.
///
/// Time first, so that the `passes` and `used_jti` tables (keyed by `jti`, and never pruned)
/// grow at their end: with fully random ids, once they outgrow SQLite's page cache every
/// insert reads and dirties a random B-tree page. 80 random bits keep ids unique.
pub fn new_jti() -> Result<String, MintForError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes[6..]).map_err(|e| MintForError::Random(e.to_string()))?;
    let ms = u64::try_from(crate::ledger::now_ms()).unwrap_or(0);
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    Ok(axtary_core::hex::encode(&bytes))
}

/// What a pass is issued for, besides the action.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Ledger sequence number of the decision that allowed the action.
    pub decision_seq: u64,
    /// Hash of the policy that decided.
    pub policy_hash: ActionHash,
    /// Approval ids that authorized it (empty when policy allowed it outright).
    pub approvals: Vec<String>,
    /// Seconds since the Unix epoch.
    pub now: i64,
    /// Lifetime in seconds ([`DEFAULT_LIFETIME_SECS`] by default).
    pub lifetime_secs: i64,
}

impl Grant {
    pub fn new(decision_seq: u64, policy_hash: ActionHash, now: i64) -> Self {
        Self {
            decision_seq,
            policy_hash,
            approvals: Vec::new(),
            now,
            lifetime_secs: DEFAULT_LIFETIME_SECS,
        }
    }
}

/// Mints a pass for `action` with a fresh random `jti`. Returns the token and its claims.
pub fn mint_for(
    key: &NodeKey,
    action: &Action,
    grant: &Grant,
) -> Result<(String, PassClaims), MintForError> {
    let claims = PassClaims {
        v: PASS_VERSION,
        jti: new_jti()?,
        iss: key.key_id().to_owned(),
        sub: action.agent.clone(),
        aud: action.connector.clone(),
        op: action.operation.clone(),
        res: action.resource.clone(),
        ah: action.hash(),
        dec: grant.decision_seq,
        apr: grant.approvals.clone(),
        pol: grant.policy_hash,
        iat: grant.now,
        exp: grant.now.saturating_add(grant.lifetime_secs),
    };
    let token = mint(&claims, key)?;
    Ok((token, claims))
}

#[cfg(test)]
mod tests {
    use axtary_core::ActionRequest;
    use axtary_core::normalize::{NormalizeOptions, normalize};
    use axtary_core::pass::{Expected, PassError, verify};
    use serde_json::json;

    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("axtary-passes-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("ledger.db")
    }

    fn action() -> Action {
        let req = ActionRequest::from_value(json!({
            "agent": "claude-code", "connector": "slack", "operation": "chat.post",
            "input": {"channel": "#eng-bots", "text": "deployed"}
        }))
        .unwrap();
        normalize(&req, &NormalizeOptions::default()).unwrap()
    }

    #[test]
    fn a_pass_is_accepted_once_across_connections() {
        let path = tmp("once");
        let key = NodeKey::from_seed(&[6; 32]);
        let action = action();
        let now = 1_790_000_000;
        let (token, claims) = mint_for(
            &key,
            &action,
            &Grant::new(7, ActionHash::of_bytes(b"p"), now),
        )
        .unwrap();
        assert_eq!(claims.jti.len(), 32);
        assert_eq!(claims.exp - claims.iat, DEFAULT_LIFETIME_SECS);
        let expected = Expected {
            audience: "slack",
            subject: None,
            action_hash: action.hash(),
            now,
        };
        let keys = [key.verifying_key()];
        let mut first = SqliteJtiStore::open(&path).unwrap();
        let sync: i64 = first
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        verify(&token, keys.as_slice(), &expected, &mut first).unwrap();
        let mut second = SqliteJtiStore::open(&path).unwrap();
        assert!(matches!(
            verify(&token, keys.as_slice(), &expected, &mut second),
            Err(PassError::Replayed(_))
        ));
        // Purging keeps recent ids.
        assert_eq!(second.purge_expired(now).unwrap(), 0);
        assert_eq!(
            second
                .purge_expired(now + 60 + KEEP_USED_SECS + LEEWAY_SECS + 1)
                .unwrap(),
            1
        );
    }

    #[test]
    fn jtis_are_fresh() {
        assert_ne!(new_jti().unwrap(), new_jti().unwrap());
    }
}

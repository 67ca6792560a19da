//! The ledger store: SQLite (WAL, `synchronous=FULL`) with one writer thread and group commit.
//!
//! Appends from any number of threads go to one writer thread, which takes everything waiting
//! (up to [`LedgerOptions::max_batch`] entries, waiting at most [`LedgerOptions::max_wait`] for
//! more), writes it in one `BEGIN IMMEDIATE` transaction and commits it: one fsync per batch,
//! not per entry. [`Ledger::append`] returns only after its batch committed, so an acknowledged
//! entry is durable. Several processes may share one ledger file: each batch reads the chain
//! head inside its write transaction, so writers from different processes serialize on SQLite's
//! lock and never fork the chain.
//!
//! Each entry row holds the canonical bytes and the leaf hash; the `tree` table holds the hash
//! of every full subtree (RFC 6962), written in the same transaction, so roots and proofs cost
//! O(log n) lookups. Signed checkpoints are written every [`LedgerOptions::checkpoint_every`]
//! entries, on demand and on close, each checked for consistency with the previous one first.

use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axtary_core::checkpoint::Checkpoint;
use axtary_core::json;
use axtary_core::ledger::{EntryKind, GENESIS_PREV, Verified, Verifier, VerifyError, entry_bytes};
use axtary_core::merkle::{self, Hash, TreeHashes, leaf_hash, nodes_for_append};
use axtary_core::pass::NodeKey;
use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::Value;

/// Tuning of the writer.
#[derive(Clone, Debug)]
pub struct LedgerOptions {
    /// Most entries in one transaction.
    pub max_batch: usize,
    /// Longest wait for more entries before committing a batch. Zero (the default) takes only
    /// what is already queued: batches still form, because appends queue up while the previous
    /// batch's fsync runs, and a lone writer pays one fsync, not a fsync plus a wait.
    pub max_wait: Duration,
    /// Longest wait of a batch holding only detached entries ([`Ledger::append_detached`]:
    /// nobody waits for them) for an entry somebody does wait for. The daemon queues each
    /// outcome detached; this lets it share the commit of the next decision instead of costing
    /// a commit of its own, which the next request would wait behind.
    pub detached_wait: Duration,
    /// Sign a checkpoint after this many new entries.
    pub checkpoint_every: u64,
    /// Sign a checkpoint when the newest one is older than this and entries were added.
    pub checkpoint_interval: Duration,
    /// Sign a checkpoint when the ledger is closed (the daemon does; one-shot CLI commands rely
    /// on the interval instead, so each invocation does not sign one).
    pub checkpoint_on_close: bool,
    /// Copy the WAL into the database on a thread of its own (long-lived processes), instead
    /// of in the writer when a commit crosses SQLite's threshold: that copy and its fsync
    /// otherwise stall every append queued behind it.
    pub background_wal_checkpoints: bool,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self {
            max_batch: 256,
            max_wait: Duration::ZERO,
            detached_wait: Duration::from_millis(5),
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(5),
            checkpoint_on_close: true,
            background_wal_checkpoints: true,
        }
    }
}

/// Why the ledger failed. Every caller on the hot path treats this as deny.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger storage error: {0}")]
    Storage(String),
    #[error("ledger writer has stopped")]
    Closed,
    #[error("ledger is inconsistent: {0}")]
    Inconsistent(String),
    #[error("ledger entry body is not strict JSON: {0}")]
    Body(String),
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::Storage(e.to_string())
    }
}

/// A durable entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub hash: Hash,
}

/// Where the writer sends a group's result: a thread blocked on it, or an async task.
enum GroupReply {
    Blocking(SyncSender<Result<Vec<Appended>, LedgerError>>),
    Async(tokio::sync::oneshot::Sender<Result<Vec<Appended>, LedgerError>>),
}

impl GroupReply {
    fn send(self, result: Result<Vec<Appended>, LedgerError>) {
        // The caller may have gone away; the entries are durable (or not) either way.
        match self {
            GroupReply::Blocking(s) => {
                let _ = s.send(result);
            }
            GroupReply::Async(s) => {
                let _ = s.send(result);
            }
        }
    }
}

/// Entries appended together: consecutive, in one transaction, all or none.
struct Group {
    entries: Vec<(EntryKind, Value)>,
    /// When set, every entry after the first gets this field set to the first entry's `seq`.
    link: Option<&'static str>,
    /// `None` for a detached append nobody waits for.
    reply: Option<GroupReply>,
}

enum Msg {
    Append(Group),
    Checkpoint {
        reply: SyncSender<Result<Option<String>, LedgerError>>,
    },
}

/// A handle to the ledger; cheap to clone and share between threads.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Mutex<Option<Sender<Msg>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
    origin: String,
    checkpoint_on_close: bool,
    /// Groups that failed to append (shared with the writer, which sees detached failures).
    failures: Arc<AtomicU64>,
    /// The background WAL checkpointer: dropping the sender stops it.
    wal: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    bytes BLOB NOT NULL,
    hash BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS entries_kind ON entries (kind);
CREATE TABLE IF NOT EXISTS tree (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, ts INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS passes (
    jti TEXT PRIMARY KEY,
    issued_seq INTEGER NOT NULL,
    exp_ms INTEGER NOT NULL,
    outcome_seq INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS passes_open ON passes (outcome_seq) WHERE outcome_seq IS NULL;
CREATE TABLE IF NOT EXISTS used_jti (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL) STRICT;
";

/// The WAL size past which a one-shot process truncates the WAL when it closes the ledger (64
/// frames of 4 KiB pages); see [`Writer::trim_wal`].
const ONE_SHOT_WAL_BYTES: u64 = 64 * (4096 + 24);

/// Version of [`SCHEMA`], kept in `PRAGMA user_version`. Bump it with every schema change:
/// a database at this version is not sent the schema again, which spares every one-shot
/// process (a hook call) parsing a dozen `CREATE ... IF NOT EXISTS` statements.
const SCHEMA_VERSION: i64 = 1;

/// Creates the ledger's tables unless the database is at [`SCHEMA_VERSION`] already.
fn ensure_schema(conn: &Connection) -> Result<(), LedgerError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    Ok(())
}

/// Opens a connection with the settings every ledger connection uses.
pub fn connect(path: &Path) -> Result<Connection, LedgerError> {
    // The ledger holds payloads: create it owner-only (SQLite gives its WAL and shared-memory
    // files the same mode).
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(LedgerError::Storage(format!(
            "cannot create `{}`: {e}",
            path.display()
        )));
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Each group of a batch has its own savepoint, and SQLite journals the first change to a
    // page inside a savepoint in a statement journal: in a temporary file, that was two
    // write(2) calls per page per group (most of the writer's system time under load). The
    // journal only matters until the transaction ends, so memory is enough.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Closing the last connection would checkpoint the WAL into the database and delete it:
    // two more fsyncs, and the next process recreates the WAL (two more). One-shot processes
    // (the Claude Code hook runs once per tool call) would pay that every time. The WAL is
    // checkpointed as it grows instead (`wal_autocheckpoint`); durability is unchanged, since
    // every commit is fsync'd in the WAL (synchronous=FULL).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    Ok(conn)
}

/// Keeps the `passes` table in step with the log, in the same transaction: a `pass_issued`
/// entry opens a pass (body `jti`, `exp`; with `in_process: true` its `jti` is also marked
/// used), an outcome entry for that `jti` closes it. Passes
/// left open by a crash are found by [`Ledger::recover_outcomes`].
fn track_pass(
    tx: &Transaction<'_>,
    kind: EntryKind,
    body: &Value,
    seq: u64,
) -> Result<(), LedgerError> {
    let jti = body.get("jti").and_then(Value::as_str);
    match (kind, jti) {
        (EntryKind::PassIssued, Some(jti)) => {
            let exp_ms = body
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .saturating_mul(1000);
            tx.prepare_cached("INSERT INTO passes (jti, issued_seq, exp_ms) VALUES (?1, ?2, ?3)")?
                .execute(params![jti, seq as i64, exp_ms])?;
            // A pass the node mints for its own connector is spent in the same transaction
            // that records it: no other verifier can ever accept it.
            if body.get("in_process").and_then(Value::as_bool) == Some(true) {
                tx.prepare_cached("INSERT INTO used_jti (jti, exp) VALUES (?1, ?2)")?
                    .execute(params![jti, exp_ms / 1000])?;
            }
        }
        (EntryKind::PassIssued, None) => {
            return Err(LedgerError::Body(
                "a `pass_issued` entry needs a `jti`".into(),
            ));
        }
        (EntryKind::Executed | EntryKind::Failed | EntryKind::OutcomeUnknown, Some(jti)) => {
            tx.prepare_cached(
                "UPDATE passes SET outcome_seq = ?2 WHERE jti = ?1 AND outcome_seq IS NULL",
            )?
            .execute(params![jti, seq as i64])?;
        }
        _ => {}
    }
    Ok(())
}

/// Milliseconds since the Unix epoch: the clock of ledger timestamps and approval expiry.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn check_bodies(entries: &[(EntryKind, Value)]) -> Result<(), LedgerError> {
    let limits = json::Limits {
        max_bytes: usize::MAX,
        max_depth: 64,
    };
    for (_, body) in entries {
        json::check_value(body, limits).map_err(|e| LedgerError::Body(e.to_string()))?;
    }
    Ok(())
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path` for the log named `origin`, signing
    /// checkpoints with `key`.
    pub fn open(
        path: &Path,
        origin: &str,
        key: NodeKey,
        options: LedgerOptions,
    ) -> Result<Ledger, LedgerError> {
        let conn = connect(path)?;
        let wal = if options.background_wal_checkpoints {
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            Some(spawn_wal_checkpointer(path)?)
        } else {
            None
        };
        ensure_schema(&conn)?;
        let stored: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match stored {
            Some(o) if o != origin => {
                return Err(LedgerError::Inconsistent(format!(
                    "ledger belongs to `{o}`, not `{origin}` (was config.yaml's node name changed?)"
                )));
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('origin', ?1)",
                    [origin],
                )?;
            }
        }
        let (tx, rx) = mpsc::channel();
        let checkpoint_on_close = options.checkpoint_on_close;
        let one_shot = !options.checkpoint_on_close && wal.is_none();
        let failures = Arc::new(AtomicU64::new(0));
        let mut writer = Writer {
            conn,
            key,
            options,
            origin: origin.to_owned(),
            frontier: HashMap::new(),
            failures: Arc::clone(&failures),
            trim_wal: one_shot.then(|| wal_path(path)),
        };
        let handle = std::thread::Builder::new()
            .name("axtary-ledger".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| LedgerError::Storage(format!("cannot start the ledger writer: {e}")))?;
        Ok(Ledger {
            inner: Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                path: path.to_path_buf(),
                origin: origin.to_owned(),
                checkpoint_on_close,
                failures,
                wal: Mutex::new(wal),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// How many appends (groups of entries) failed since the ledger was opened, including
    /// detached ones nobody waited for. A daemon exports it as a metric.
    pub fn append_failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    fn count_failure<T>(&self, result: Result<T, LedgerError>) -> Result<T, LedgerError> {
        if result.is_err() {
            self.inner.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn send(&self, msg: Msg) -> Result<(), LedgerError> {
        let guard = self.inner.tx.lock().map_err(|_| LedgerError::Closed)?;
        guard
            .as_ref()
            .ok_or(LedgerError::Closed)?
            .send(msg)
            .map_err(|_| LedgerError::Closed)
    }

    /// Appends one entry and returns once it is durable.
    pub fn append(&self, kind: EntryKind, body: Value) -> Result<Appended, LedgerError> {
        let appended = self.append_group(vec![(kind, body)], None)?;
        appended.into_iter().next().ok_or(LedgerError::Closed)
    }

    /// Appends `entries` as consecutive entries in one transaction (all or none) and returns
    /// once they are durable. With `link`, every entry after the first gets that field set to
    /// the first entry's sequence number (a pass names the decision it was issued for).
    pub fn append_group(
        &self,
        entries: Vec<(EntryKind, Value)>,
        link: Option<&'static str>,
    ) -> Result<Vec<Appended>, LedgerError> {
        self.count_failure(check_bodies(&entries))?;
        let (reply, wait) = mpsc::sync_channel(1);
        self.count_failure(self.send(Msg::Append(Group {
            entries,
            link,
            reply: Some(GroupReply::Blocking(reply)),
        })))?;
        // Failures the writer reports are counted by the writer.
        wait.recv().map_err(|_| LedgerError::Closed)?
    }

    /// [`Ledger::append_group`] for async callers: the same durability (it resolves only after
    /// the commit), without parking a thread while the batch is written. The writer's reply
    /// wakes the task directly, which saves two thread hand-offs per append in the daemon.
    pub async fn append_group_async(
        &self,
        entries: Vec<(EntryKind, Value)>,
        link: Option<&'static str>,
    ) -> Result<Vec<Appended>, LedgerError> {
        self.count_failure(check_bodies(&entries))?;
        let (reply, wait) = tokio::sync::oneshot::channel();
        self.count_failure(self.send(Msg::Append(Group {
            entries,
            link,
            reply: Some(GroupReply::Async(reply)),
        })))?;
        wait.await.map_err(|_| LedgerError::Closed)?
    }

    /// [`Ledger::append`] for async callers (see [`Ledger::append_group_async`]).
    pub async fn append_async(
        &self,
        kind: EntryKind,
        body: Value,
    ) -> Result<Appended, LedgerError> {
        let appended = self.append_group_async(vec![(kind, body)], None).await?;
        appended.into_iter().next().ok_or(LedgerError::Closed)
    }

    /// Queues one entry without waiting for it to be durable. Entries keep the order in which
    /// they were queued, and [`Ledger::close`] writes everything queued before it returns. A
    /// crash before the write loses the entry; use it only where that is recoverable (an
    /// outcome: recovery then records `outcome_unknown`).
    pub fn append_detached(&self, kind: EntryKind, body: Value) -> Result<(), LedgerError> {
        let entries = vec![(kind, body)];
        self.count_failure(check_bodies(&entries))?;
        self.count_failure(self.send(Msg::Append(Group {
            entries,
            link: None,
            reply: None,
        })))
    }

    /// Signs a checkpoint now if entries were added since the last one; returns the note.
    pub fn checkpoint(&self) -> Result<Option<String>, LedgerError> {
        let (reply, wait) = mpsc::sync_channel(1);
        self.send(Msg::Checkpoint { reply })?;
        wait.recv().map_err(|_| LedgerError::Closed)?
    }

    /// Appends an `outcome_unknown` entry for every issued pass with no recorded outcome that
    /// expired before `before_ms` (a pass still valid may yet be used by a running process).
    /// Call at start-up: after a crash between pass and outcome, the outcome is reported as
    /// unknown, never lost. Returns the `jti`s recovered.
    pub fn recover_outcomes(&self, before_ms: i64) -> Result<Vec<String>, LedgerError> {
        let open: Vec<(String, i64)> = {
            let conn = connect(&self.inner.path)?;
            let mut stmt = conn.prepare("SELECT jti, issued_seq FROM passes WHERE outcome_seq IS NULL AND exp_ms < ?1 ORDER BY issued_seq")?;
            stmt.query_map([before_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        let mut recovered = Vec::with_capacity(open.len());
        for (jti, issued_seq) in open {
            let body = serde_json::json!({
                "jti": jti,
                "pass_seq": issued_seq,
                "reason": "no outcome was recorded for this pass before the process stopped; the action may or may not have run",
            });
            self.append(EntryKind::OutcomeUnknown, body)?;
            recovered.push(jti);
        }
        Ok(recovered)
    }

    /// Flushes, writes a final checkpoint (if [`LedgerOptions::checkpoint_on_close`]) and stops
    /// the writer.
    pub fn close(&self) -> Result<(), LedgerError> {
        let result = if self.inner.checkpoint_on_close {
            self.checkpoint().map(|_| ())
        } else {
            Ok(())
        };
        if let Ok(mut tx) = self.inner.tx.lock() {
            tx.take();
        }
        if let Some(handle) = self.inner.writer.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
        if let Some((stop, handle)) = self.inner.wal.lock().ok().and_then(|mut w| w.take()) {
            drop(stop);
            let _ = handle.join();
        }
        result
    }
}

/// How often the background checkpointer copies the WAL into the database.
const WAL_CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Starts the thread that runs `PRAGMA wal_checkpoint(PASSIVE)` every
/// [`WAL_CHECKPOINT_EVERY`] on a connection of its own. A passive checkpoint never blocks the
/// writer, which keeps appending to the WAL meanwhile; SQLite restarts the WAL from the top
/// once everything in it has been copied. Failures only delay the next attempt.
fn spawn_wal_checkpointer(path: &Path) -> Result<(Sender<()>, JoinHandle<()>), LedgerError> {
    let conn = connect(path)?;
    let (stop, stopped) = mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("axtary-ledger-wal".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(WAL_CHECKPOINT_EVERY) {
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
            // A last full copy on the way out keeps the WAL small for the next process.
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        })
        .map_err(|e| LedgerError::Storage(format!("cannot start the WAL checkpointer: {e}")))?;
    Ok((stop, handle))
}

struct Writer {
    conn: Connection,
    key: NodeKey,
    options: LedgerOptions,
    origin: String,
    /// Full-subtree hashes on the right edge of the tree that later appends will need, valid
    /// for the tree size they were computed at.
    frontier: HashMap<(u32, u64), Hash>,
    failures: Arc<AtomicU64>,
    /// In a one-shot process: the WAL to trim on close ([`Writer::trim_wal`]).
    trim_wal: Option<PathBuf>,
}

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

impl Writer {
    fn run(&mut self, rx: Receiver<Msg>) {
        while let Ok(first) = rx.recv() {
            let mut batch: Vec<Group> = Vec::new();
            let mut checkpoint_replies = Vec::new();
            let take = |msg: Msg, batch: &mut Vec<Group>, checkpoints: &mut Vec<_>| match msg {
                Msg::Append(group) => batch.push(group),
                Msg::Checkpoint { reply } => checkpoints.push(reply),
            };
            take(first, &mut batch, &mut checkpoint_replies);
            let start = Instant::now();
            while batch.len() < self.options.max_batch {
                let awaited =
                    !checkpoint_replies.is_empty() || batch.iter().any(|g| g.reply.is_some());
                let wait = if awaited {
                    self.options.max_wait
                } else {
                    self.options.detached_wait
                };
                let left = (start + wait).saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(msg) => take(msg, &mut batch, &mut checkpoint_replies),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
                if !checkpoint_replies.is_empty() {
                    break;
                }
            }
            let mut size = None;
            if !batch.is_empty() {
                match self.write_batch(&batch) {
                    Ok(appended) => {
                        size = appended
                            .iter()
                            .filter_map(|a| a.as_ref().ok())
                            .filter_map(|a| a.last())
                            .map(|a| a.seq)
                            .max();
                        for (group, a) in batch.into_iter().zip(appended) {
                            if a.is_err() {
                                self.failures.fetch_add(1, Ordering::Relaxed);
                            }
                            if let Some(reply) = group.reply {
                                reply.send(a);
                            }
                        }
                    }
                    Err(e) => {
                        // Nothing of the batch is acknowledged; the in-memory frontier may be
                        // stale, so drop it and re-read from the database next time.
                        self.frontier.clear();
                        self.failures
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        for group in batch {
                            if let Some(reply) = group.reply {
                                reply.send(Err(e.clone()));
                            }
                        }
                    }
                }
            }
            // A failing check for due checkpoints only delays the next one.
            let due = size.is_some_and(|size| self.checkpoint_due(size).unwrap_or(false));
            if !checkpoint_replies.is_empty() || due {
                let result = self.sign_checkpoint();
                for reply in checkpoint_replies {
                    let _ = reply.send(result.clone());
                }
            }
        }
        self.trim_wal();
    }

    /// Truncates a WAL that has grown past [`ONE_SHOT_WAL_BYTES`], in a one-shot process.
    ///
    /// A one-shot process (the hook, the CLI) usually opens the ledger as its only connection,
    /// and SQLite then rebuilds the WAL index by reading every frame of the WAL. The rebuilt
    /// index also forgets which frames were already checkpointed, so the WAL never restarts
    /// from its beginning: left alone it grows by every commit, and every process reads all
    /// of it. A `TRUNCATE` checkpoint copies the WAL into the database and empties it. It waits
    /// for readers, so it gets only a short busy timeout: a busy ledger is left for the next
    /// process to trim.
    fn trim_wal(&self) {
        let Some(wal) = &self.trim_wal else {
            return;
        };
        if std::fs::metadata(wal).is_ok_and(|m| m.len() > ONE_SHOT_WAL_BYTES)
            && self.conn.busy_timeout(Duration::from_millis(20)).is_ok()
        {
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }

    /// Writes a batch in one transaction. The outer error fails the whole batch (nothing was
    /// committed); an inner error fails only that group.
    #[allow(clippy::type_complexity)]
    fn write_batch(
        &mut self,
        groups: &[Group],
    ) -> Result<Vec<Result<Vec<Appended>, LedgerError>>, LedgerError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let head: Option<(i64, Vec<u8>)> = tx
            .prepare_cached("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (mut size, mut prev) = match head {
            Some((seq, hash)) => (
                u64::try_from(seq)
                    .map_err(|_| LedgerError::Inconsistent("negative sequence number".into()))?,
                hash.try_into()
                    .map_err(|_| LedgerError::Inconsistent("stored hash is not 32 bytes".into()))?,
            ),
            None => (0, GENESIS_PREV),
        };
        // Another process may have appended since our frontier was computed.
        self.frontier
            .retain(|(level, index), _| ((index + 1) << level) <= size);
        let mut out = Vec::with_capacity(groups.len());
        let ts = now_ms();
        for group in groups {
            // Each group in its own savepoint: one bad entry (say, a reused pass id) fails its
            // group alone instead of failing every other writer's entry in the batch. The
            // frontier is updated only once the group is in, so a rollback leaves it valid.
            tx.prepare_cached("SAVEPOINT grp")?.execute([])?;
            let mut written: Vec<Appended> = Vec::with_capacity(group.entries.len());
            let mut frontier_updates = Vec::new();
            let (mut g_size, mut g_prev) = (size, prev);
            let result = (|| -> Result<(), LedgerError> {
                for (i, (kind, body)) in group.entries.iter().enumerate() {
                    let seq = g_size + 1;
                    let linked;
                    let body = match (group.link, written.first()) {
                        (Some(field), Some(first)) if i > 0 => {
                            let mut b = body.clone();
                            if let Value::Object(map) = &mut b {
                                map.insert(field.to_owned(), Value::from(first.seq));
                            }
                            linked = b;
                            &linked
                        }
                        _ => body,
                    };
                    let bytes = entry_bytes(seq, ts, *kind, body, &g_prev);
                    let leaf = leaf_hash(&bytes);
                    let nodes = {
                        let view = TxTree {
                            tx: &tx,
                            frontier: &self.frontier,
                            pending: &frontier_updates,
                        };
                        nodes_for_append(&view, g_size, leaf)?
                    };
                    tx.prepare_cached(
                        "INSERT INTO entries (seq, ts, kind, bytes, hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![seq as i64, ts, kind.as_str(), bytes, leaf.as_slice()])?;
                    track_pass(&tx, *kind, body, seq)?;
                    for (level, index, hash) in &nodes {
                        tx.prepare_cached(
                            "INSERT INTO tree (level, idx, hash) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![
                            level,
                            *index as i64,
                            hash.as_slice()
                        ])?;
                    }
                    frontier_updates.extend(nodes);
                    written.push(Appended { seq, hash: leaf });
                    g_prev = leaf;
                    g_size = seq;
                }
                Ok(())
            })();
            if let Err(e) = result {
                tx.execute_batch("ROLLBACK TO grp; RELEASE grp")?;
                out.push(Err(e));
                continue;
            }
            tx.prepare_cached("RELEASE grp")?.execute([])?;
            for (level, index, hash) in frontier_updates {
                // Only even-indexed nodes are ever needed again (as left siblings).
                if index % 2 == 0 {
                    self.frontier.insert((level, index), hash);
                } else if index > 0 {
                    self.frontier.remove(&(level, index - 1));
                }
            }
            out.push(Ok(written));
            prev = g_prev;
            size = g_size;
        }
        tx.commit()?;
        Ok(out)
    }

    /// Whether the log at `size` entries is due a checkpoint: enough new entries, or new
    /// entries and an old newest checkpoint. Read from the database, so processes sharing the
    /// ledger share the schedule.
    fn checkpoint_due(&self, size: u64) -> Result<bool, LedgerError> {
        let last: Option<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT size, ts FROM checkpoints ORDER BY size DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (last_size, last_ts) = last.map_or((0, 0), |(s, t)| (u64::try_from(s).unwrap_or(0), t));
        let age_ms = now_ms().saturating_sub(last_ts);
        let interval_ms =
            i64::try_from(self.options.checkpoint_interval.as_millis()).unwrap_or(i64::MAX);
        Ok(
            size.saturating_sub(last_size) >= self.options.checkpoint_every
                || (size > last_size && age_ms >= interval_ms),
        )
    }

    fn sign_checkpoint(&mut self) -> Result<Option<String>, LedgerError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let size: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM entries", [], |r| {
            r.get(0)
        })?;
        let size = u64::try_from(size).unwrap_or(0);
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if size == 0
            || last
                .as_ref()
                .is_some_and(|(s, _)| u64::try_from(*s).unwrap_or(0) >= size)
        {
            return Ok(None);
        }
        let view = TxTree {
            tx: &tx,
            frontier: &HashMap::new(),
            pending: &[],
        };
        let root = merkle::root(&view, size)?;
        if let Some((old_size, note)) = &last {
            // A log must never sign a checkpoint inconsistent with one it signed before.
            let old_size = u64::try_from(*old_size).unwrap_or(0);
            let old = Checkpoint::verify(note, &[self.key.verifying_key()]).ok();
            let old_root = match old {
                Some(cp) => cp.root,
                // Signed by a key that was rotated out: trust the stored root it names.
                None => {
                    Checkpoint::parse_unverified(note)
                        .map_err(|e| {
                            LedgerError::Inconsistent(format!(
                                "stored checkpoint is unreadable: {e}"
                            ))
                        })?
                        .root
                }
            };
            let proof = merkle::consistency_proof(&view, old_size, size)?;
            if !merkle::verify_consistency(old_size, size, &old_root, &root, &proof) {
                return Err(LedgerError::Inconsistent(format!(
                    "entries 1..={old_size} no longer match the checkpoint signed at that size"
                )));
            }
        }
        let note = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        }
        .sign(&self.key);
        tx.execute(
            "INSERT INTO checkpoints (size, note, ts) VALUES (?1, ?2, ?3)",
            params![size as i64, note, now_ms()],
        )?;
        tx.commit()?;
        Ok(Some(note))
    }
}

/// Tree hashes read through a write transaction, with the writer's frontier cache in front
/// (and the nodes of the group being written, not yet in the cache).
struct TxTree<'a> {
    tx: &'a Transaction<'a>,
    frontier: &'a HashMap<(u32, u64), Hash>,
    pending: &'a [(u32, u64, Hash)],
}

impl TreeHashes for TxTree<'_> {
    type Error = LedgerError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, LedgerError> {
        if let Some((_, _, h)) = self
            .pending
            .iter()
            .rev()
            .find(|(l, i, _)| *l == level && *i == index)
        {
            return Ok(*h);
        }
        if let Some(h) = self.frontier.get(&(level, index)) {
            return Ok(*h);
        }
        read_node(self.tx, level, index)
    }
}

fn read_node(conn: &Connection, level: u32, index: u64) -> Result<Hash, LedgerError> {
    let hash: Option<Vec<u8>> = conn
        .prepare_cached("SELECT hash FROM tree WHERE level = ?1 AND idx = ?2")?
        .query_row(params![level, index as i64], |r| r.get(0))
        .optional()?;
    hash.and_then(|h| h.try_into().ok()).ok_or_else(|| {
        LedgerError::Inconsistent(format!("missing tree node at level {level}, index {index}"))
    })
}

/// How often [`Reader::verify_entries`] and bundle reads and writes report progress, in entries.
pub const PROGRESS_EVERY: u64 = 65_536;

/// Read access to a ledger file (also while another process writes it).
pub struct Reader {
    conn: Connection,
    path: PathBuf,
}

/// One stored entry.
#[derive(Clone, Debug)]
pub struct StoredEntry {
    pub seq: u64,
    pub bytes: Vec<u8>,
    pub hash: Vec<u8>,
}

impl TreeHashes for Reader {
    type Error = LedgerError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, LedgerError> {
        read_node(&self.conn, level, index)
    }
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, LedgerError> {
        if !path.exists() {
            return Err(LedgerError::Storage(format!(
                "no ledger at `{}`",
                path.display()
            )));
        }
        let conn = connect(path)?;
        ensure_schema(&conn)?;
        Ok(Reader {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn origin(&self) -> Result<Option<String>, LedgerError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn size(&self) -> Result<u64, LedgerError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM entries", [], |r| {
                r.get(0)
            })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn entry(&self, seq: u64) -> Result<Option<StoredEntry>, LedgerError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, bytes, hash FROM entries WHERE seq = ?1",
                [seq as i64],
                |r| {
                    Ok(StoredEntry {
                        seq: r.get::<_, i64>(0)? as u64,
                        bytes: r.get(1)?,
                        hash: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Calls `f` for every entry with `seq >= from`, in order, streaming (constant memory).
    pub fn for_each(
        &self,
        from: u64,
        mut f: impl FnMut(StoredEntry) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, bytes, hash FROM entries WHERE seq >= ?1 ORDER BY seq")?;
        let mut rows = stmt.query([from as i64])?;
        while let Some(r) = rows.next()? {
            f(StoredEntry {
                seq: r.get::<_, i64>(0)? as u64,
                bytes: r.get(1)?,
                hash: r.get(2)?,
            })?;
        }
        Ok(())
    }

    /// Every signed checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<String>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT note FROM checkpoints ORDER BY size")?;
        let notes = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(notes)
    }

    /// Recomputes the whole log from the stored bytes and checks it against every checkpoint
    /// (and `pinned` ones saved elsewhere).
    pub fn verify(
        &self,
        keys: &[VerifyingKey],
        pinned: &[String],
        deep: bool,
    ) -> Result<Result<Verified, VerifyError>, LedgerError> {
        let origin = self.origin()?.unwrap_or_default();
        // Checkpoints first: each covers entries committed before it, so the entries read
        // next include them even while a writer appends.
        let checkpoints = self.checkpoints()?;
        Ok(match self.verify_entries(deep, |_| {})? {
            Ok(verifier) => verifier.finish(&origin, &checkpoints, pinned, keys),
            Err(e) => Err(e),
        })
    }

    /// The entry half of [`Reader::verify`]: pushes every stored entry through a [`Verifier`]
    /// (checking stored hashes too) and returns it, ready for [`Verifier::finish`], or the
    /// first bad entry. `progress` is called with the number of entries checked so far every
    /// [`PROGRESS_EVERY`] entries.
    pub fn verify_entries(
        &self,
        deep: bool,
        mut progress: impl FnMut(u64),
    ) -> Result<Result<Verifier, VerifyError>, LedgerError> {
        // A second connection decodes rows on its own thread while this one hashes, so
        // SQLite and SHA-256 run on two cores.
        let conn = connect(&self.path)?;
        let (tx, rx) = mpsc::sync_channel::<Result<Chunk, LedgerError>>(4);
        let rows = std::thread::Builder::new()
            .name("axtary-verify-read".into())
            .spawn(move || read_chunks(&conn, &tx))
            .map_err(|e| LedgerError::Storage(format!("cannot start a reader thread: {e}")))?;
        let mut verifier = Verifier::new(deep);
        let mut failed = None;
        'chunks: for chunk in rx.iter() {
            let chunk = chunk?;
            let mut start = 0;
            for (end, stored) in chunk.ends.iter().zip(&chunk.hashes) {
                let bytes = chunk.bytes.get(start..*end).unwrap_or_default();
                start = *end;
                // Stop at the first failure: the error names it, and nothing after it matters.
                if let Err(err) = verifier.push(bytes, Some(stored)) {
                    failed = Some(err);
                    break 'chunks;
                }
                if verifier.size().is_multiple_of(PROGRESS_EVERY) {
                    progress(verifier.size());
                }
            }
        }
        // Dropping the receiver stops the reader at its next chunk.
        drop(rx);
        let _ = rows.join();
        Ok(match failed {
            Some(err) => Err(err),
            None => Ok(verifier),
        })
    }
}

/// Stored entries, packed: entry `i` is `bytes[ends[i-1]..ends[i]]`.
struct Chunk {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    hashes: Vec<Hash>,
}

const CHUNK_ENTRIES: usize = 2048;

/// Streams every entry in order, in chunks, until done or the receiver hangs up.
fn read_chunks(conn: &Connection, tx: &SyncSender<Result<Chunk, LedgerError>>) {
    let result = (|| -> Result<(), LedgerError> {
        let mut stmt = conn.prepare("SELECT bytes, hash FROM entries ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        loop {
            let mut chunk = Chunk {
                bytes: Vec::with_capacity(CHUNK_ENTRIES * 640),
                ends: Vec::with_capacity(CHUNK_ENTRIES),
                hashes: Vec::with_capacity(CHUNK_ENTRIES),
            };
            let mut done = true;
            while let Some(r) = rows.next()? {
                let bytes = r
                    .get_ref(0)?
                    .as_blob()
                    .map_err(|e| LedgerError::Storage(e.to_string()))?;
                chunk.bytes.extend_from_slice(bytes);
                chunk.ends.push(chunk.bytes.len());
                // A malformed stored hash never matches a recomputed one.
                chunk.hashes.push(
                    r.get_ref(1)?
                        .as_blob()
                        .ok()
                        .and_then(|h| h.try_into().ok())
                        .unwrap_or([0xff; 32]),
                );
                if chunk.ends.len() == CHUNK_ENTRIES {
                    done = false;
                    break;
                }
            }
            if !chunk.ends.is_empty() && tx.send(Ok(chunk)).is_err() {
                return Ok(());
            }
            if done {
                return Ok(());
            }
        }
    })();
    if let Err(e) = result {
        let _ = tx.send(Err(e));
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use serde_json::json;

    use super::*;
    use axtary_core::checkpoint::origin;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("axtary-ledger-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("ledger.db")
    }

    fn key() -> NodeKey {
        NodeKey::from_seed(&[5; 32])
    }

    #[test]
    fn groups_are_linked_atomic_and_detached_appends_are_flushed_on_close() {
        let path = tmp("group");
        let ledger = Ledger::open(&path, &origin("t"), key(), LedgerOptions::default()).unwrap();
        ledger.append(EntryKind::Decision, json!({"n": 0})).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the ledger holds payloads: owner only");
        let group = ledger
            .append_group(
                vec![
                    (EntryKind::Decision, json!({"n": 1})),
                    (
                        EntryKind::PassIssued,
                        json!({"jti": "j1", "exp": 9, "in_process": true}),
                    ),
                ],
                Some("decision_seq"),
            )
            .unwrap();
        assert_eq!(group.iter().map(|a| a.seq).collect::<Vec<_>>(), [2, 3]);
        // A group with a failing entry (reused jti) leaves nothing behind, and the next
        // appends still chain and verify.
        let failed = ledger.append_group(
            vec![
                (EntryKind::Decision, json!({"n": 2})),
                (EntryKind::PassIssued, json!({"jti": "j1", "exp": 9})),
            ],
            Some("decision_seq"),
        );
        assert!(failed.is_err());
        ledger
            .append_detached(EntryKind::Executed, json!({"jti": "j1"}))
            .unwrap();
        ledger.close().unwrap();
        let reader = Reader::open(&path).unwrap();
        assert_eq!(
            reader.size().unwrap(),
            4,
            "the detached entry was flushed by close"
        );
        let pass = reader.entry(3).unwrap().unwrap();
        let body: Value = serde_json::from_slice(&pass.bytes).unwrap();
        assert_eq!(body["body"]["decision_seq"], 2);
        let used: i64 = connect(&path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM used_jti WHERE jti = 'j1'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(used, 1, "an in-process pass is spent with its issue");
        reader
            .verify(&[key().verifying_key()], &[], true)
            .unwrap()
            .unwrap();
    }

    #[test]
    fn one_shot_processes_keep_the_wal_bounded() {
        // Each open is the file's only connection, as for one hook call after another: SQLite
        // rebuilds the WAL index every time, and without trimming the WAL grew by every commit
        // (about 20 KiB per hook call) and was read whole by every process.
        let path = tmp("one-shot-wal");
        let one_shot = LedgerOptions {
            checkpoint_on_close: false,
            background_wal_checkpoints: false,
            ..Default::default()
        };
        let wal = wal_path(&path);
        let mut largest = 0;
        for n in 0..120 {
            let ledger = Ledger::open(&path, &origin("t"), key(), one_shot.clone()).unwrap();
            let body = json!({"n": n, "pad": "x".repeat(3000)});
            ledger.append(EntryKind::Decision, body).unwrap();
            ledger.close().unwrap();
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        assert!(
            largest <= ONE_SHOT_WAL_BYTES + 16 * 4120,
            "the WAL reached {largest} bytes"
        );
        let verified = Reader::open(&path)
            .unwrap()
            .verify(&[key().verifying_key()], &[], true)
            .unwrap()
            .unwrap();
        assert_eq!(verified.entries, 120);
    }

    #[test]
    fn appends_chain_and_verify() {
        let path = tmp("basic");
        let ledger = Ledger::open(&path, &origin("t"), key(), LedgerOptions::default()).unwrap();
        let a = ledger.append(EntryKind::Decision, json!({"n": 1})).unwrap();
        let b = ledger.append(EntryKind::Decision, json!({"n": 2})).unwrap();
        assert_eq!((a.seq, b.seq), (1, 2));
        assert!(ledger.checkpoint().unwrap().is_some());
        assert!(
            ledger.checkpoint().unwrap().is_none(),
            "no new entries, no new checkpoint"
        );
        ledger.close().unwrap();
        let reader = Reader::open(&path).unwrap();
        let verified = reader
            .verify(&[key().verifying_key()], &[], true)
            .unwrap()
            .unwrap();
        assert_eq!(verified.entries, 2);
        assert_eq!(verified.checkpointed, 2);
        assert!(
            ledger.append(EntryKind::Decision, json!({})).is_err(),
            "closed ledgers refuse appends"
        );
    }

    #[test]
    fn concurrent_appends_are_batched_and_ordered() {
        let path = tmp("concurrent");
        let ledger = Ledger::open(
            &path,
            &origin("t"),
            key(),
            LedgerOptions {
                checkpoint_every: 100,
                ..Default::default()
            },
        )
        .unwrap();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let l = ledger.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            l.append(EntryKind::Decision, json!({"t": t, "i": i}))
                                .unwrap()
                                .seq
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seqs: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=800).collect::<Vec<_>>());
        ledger.close().unwrap();
        let reader = Reader::open(&path).unwrap();
        let verified = reader
            .verify(&[key().verifying_key()], &[], false)
            .unwrap()
            .unwrap();
        assert_eq!(verified.entries, 800);
        assert!(verified.checkpoints >= 8);
    }

    #[test]
    fn a_bad_entry_fails_alone() {
        let path = tmp("isolated");
        let ledger = Ledger::open(
            &path,
            &origin("t"),
            key(),
            LedgerOptions {
                max_wait: Duration::from_millis(50),
                ..Default::default()
            },
        )
        .unwrap();
        ledger
            .append(EntryKind::PassIssued, json!({"jti": "a", "exp": 1}))
            .unwrap();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let l = ledger.clone();
                std::thread::spawn(move || {
                    // Thread 0 reuses pass id `a`; the others' entries must still land.
                    let jti = if i == 0 {
                        "a".to_owned()
                    } else {
                        format!("b{i}")
                    };
                    l.append(EntryKind::PassIssued, json!({"jti": jti, "exp": 1}))
                        .is_ok()
                })
            })
            .collect();
        let ok: Vec<bool> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(ok, [false, true, true, true]);
        ledger.close().unwrap();
        let reader = Reader::open(&path).unwrap();
        assert_eq!(
            reader
                .verify(&[key().verifying_key()], &[], true)
                .unwrap()
                .unwrap()
                .entries,
            4
        );
    }

    #[test]
    fn two_writers_on_one_file_never_fork() {
        let path = tmp("two-writers");
        let a = Ledger::open(&path, &origin("t"), key(), LedgerOptions::default()).unwrap();
        let b = Ledger::open(&path, &origin("t"), key(), LedgerOptions::default()).unwrap();
        for i in 0..20 {
            a.append(EntryKind::Decision, json!({"w": "a", "i": i}))
                .unwrap();
            b.append(EntryKind::Decision, json!({"w": "b", "i": i}))
                .unwrap();
        }
        a.close().unwrap();
        b.close().unwrap();
        let reader = Reader::open(&path).unwrap();
        assert_eq!(
            reader
                .verify(&[key().verifying_key()], &[], true)
                .unwrap()
                .unwrap()
                .entries,
            40
        );
    }

    #[test]
    fn tampering_is_found() {
        let path = tmp("tamper");
        let ledger = Ledger::open(&path, &origin("t"), key(), LedgerOptions::default()).unwrap();
        for i in 0..10 {
            ledger.append(EntryKind::Decision, json!({"i": i})).unwrap();
        }
        ledger.close().unwrap();
        let conn = connect(&path).unwrap();
        conn.execute("UPDATE entries SET bytes = CAST(replace(CAST(bytes AS TEXT), '\"i\":4', '\"i\":5') AS BLOB) WHERE seq = 5", []).unwrap();
        let reader = Reader::open(&path).unwrap();
        let err = reader
            .verify(&[key().verifying_key()], &[], false)
            .unwrap()
            .unwrap_err();
        assert_eq!(err, VerifyError::BadHash { seq: 5 });
        // Rehashing the row to hide the edit breaks the chain at the next entry instead.
        let bytes: Vec<u8> = conn
            .query_row("SELECT bytes FROM entries WHERE seq = 5", [], |r| r.get(0))
            .unwrap();
        conn.execute(
            "UPDATE entries SET hash = ?1 WHERE seq = 5",
            [leaf_hash(&bytes).to_vec()],
        )
        .unwrap();
        let err = reader
            .verify(&[key().verifying_key()], &[], false)
            .unwrap()
            .unwrap_err();
        assert_eq!(err, VerifyError::BrokenChain { seq: 6 });
        // Truncation below the checkpoint is caught.
        let path2 = tmp("truncate");
        let ledger = Ledger::open(&path2, &origin("t"), key(), LedgerOptions::default()).unwrap();
        for i in 0..10 {
            ledger.append(EntryKind::Decision, json!({"i": i})).unwrap();
        }
        ledger.close().unwrap();
        connect(&path2)
            .unwrap()
            .execute("DELETE FROM entries WHERE seq > 7", [])
            .unwrap();
        let err = Reader::open(&path2)
            .unwrap()
            .verify(&[key().verifying_key()], &[], false)
            .unwrap()
            .unwrap_err();
        assert_eq!(
            err,
            VerifyError::Truncated {
                expected: 10,
                found: 7
            }
        );
    }

    #[test]
    fn refuses_another_origin_and_bad_bodies() {
        let path = tmp("origin");
        Ledger::open(&path, &origin("a"), key(), LedgerOptions::default())
            .unwrap()
            .close()
            .unwrap();
        assert!(matches!(
            Ledger::open(&path, &origin("b"), key(), LedgerOptions::default()),
            Err(LedgerError::Inconsistent(_))
        ));
        let ledger = Ledger::open(&path, &origin("a"), key(), LedgerOptions::default()).unwrap();
        assert!(matches!(
            ledger.append(EntryKind::Decision, json!({"n": 9007199254740993u64})),
            Err(LedgerError::Body(_))
        ));
    }
}

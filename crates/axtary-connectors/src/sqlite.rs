//! sqlite: `query` with parameters against a configured database file.
//!
//! Runs on the blocking pool. A read-only action runs with `PRAGMA query_only = ON`, so SQLite
//! itself refuses any write. The statement timeout interrupts the statement
//! (`sqlite3_interrupt`); at most `row_limit` rows are returned.

use std::sync::Arc;
use std::time::Duration;

use axtary_core::Action;
use axtary_core::normalize::sql::Dialect;
use axtary_core::pass::VerifiedPass;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Number, Value, json};

use crate::broker::Broker;
use crate::config::{SqlConfig, SqliteDatabase};
use crate::postgres::{SqlStep, params, read_only};
use crate::{BoxFuture, Connector, ExecOptions, Outcome, Refusal, check_pass, str_field};

pub(crate) struct Sqlite {
    cfg: SqlConfig<SqliteDatabase>,
    broker: Arc<Broker>,
}

impl Sqlite {
    pub fn new(cfg: SqlConfig<SqliteDatabase>, broker: Arc<Broker>) -> Self {
        Self { cfg, broker }
    }

    async fn run(&self, action: &Action, dry_run: bool) -> Result<Outcome, Refusal> {
        let name = str_field(action, "database")?;
        let db = self.cfg.database("sqlite", name)?;
        let sql_text = str_field(action, "sql")?.to_owned();
        let params = params(action)?;
        let ro = read_only(action, Dialect::Sqlite, &sql_text);
        if dry_run || db.dry_run {
            let mut statements = Vec::new();
            if ro {
                statements.push("PRAGMA query_only = ON".to_owned());
            }
            statements.extend(["BEGIN".to_owned(), sql_text, "COMMIT".to_owned()]);
            return Ok(Outcome::dry_run(json!({
                "dry_run": true,
                "database": name,
                "path": db.path.display().to_string(),
                "statements": statements,
                "params": params,
                "read_only": ro,
                "row_limit": db.row_limit,
            })));
        }
        let db = db.clone();
        let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
        let job = tokio::task::spawn_blocking(move || {
            run_blocking(&db, &sql_text, &params, ro, handle_tx)
        });
        let timeout = Duration::from_millis(
            self.cfg
                .databases
                .get(name)
                .map_or(0, |d| d.statement_timeout_ms),
        );
        let interrupter = tokio::spawn(async move {
            if let Ok(handle) = handle_rx.await {
                tokio::time::sleep(timeout).await;
                handle.interrupt();
            }
        });
        let joined = job.await;
        interrupter.abort();
        Ok(match joined {
            Ok(Ok(mut result)) => {
                result["read_only"] = ro.into();
                Outcome::succeeded(result)
            }
            Ok(Err((reached, step))) if step.maybe_applied && !ro => Outcome::unknown(
                format!("sqlite `{name}`: {}", step.failure),
                json!({"provider_reached": reached}),
            ),
            Ok(Err((reached, step))) => Outcome::failed(
                reached,
                format!("sqlite `{name}`: {}", step.failure),
                json!({"read_only": ro}),
            ),
            Err(e) => Outcome::unknown(format!("sqlite `{name}`: worker failed: {e}"), json!({})),
        })
    }
}

type Failure = (bool, SqlStep);

fn run_blocking(
    db: &SqliteDatabase,
    sql_text: &str,
    params: &[Value],
    ro: bool,
    handle_tx: tokio::sync::oneshot::Sender<rusqlite::InterruptHandle>,
) -> Result<Value, Failure> {
    let fail = |reached: bool, maybe_applied: bool| {
        move |e: rusqlite::Error| {
            (
                reached,
                SqlStep {
                    failure: e.to_string(),
                    maybe_applied,
                },
            )
        }
    };
    // Never create a database: a missing file is a configuration error.
    let conn = Connection::open_with_flags(
        &db.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail(false, false))?;
    let _ = handle_tx.send(conn.get_interrupt_handle());
    conn.busy_timeout(Duration::from_millis(db.statement_timeout_ms))
        .map_err(fail(true, false))?;
    if ro {
        conn.execute_batch("PRAGMA query_only = ON")
            .map_err(fail(true, false))?;
    }
    conn.execute_batch("BEGIN").map_err(fail(true, false))?;
    let values: Vec<SqlValue> = params
        .iter()
        .map(|v| match v {
            Value::Null => SqlValue::Null,
            Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
            Value::Number(n) => n.as_i64().map_or_else(
                || SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
                SqlValue::Integer,
            ),
            Value::String(s) => SqlValue::Text(s.clone()),
            other => SqlValue::Text(other.to_string()),
        })
        .collect();
    let mut stmt = conn.prepare(sql_text).map_err(fail(true, false))?;
    let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let mut rows_out = Vec::new();
    let mut truncated = false;
    {
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values.iter()))
            .map_err(fail(true, false))?;
        while let Some(row) = rows.next().map_err(fail(true, false))? {
            if rows_out.len() == db.row_limit {
                truncated = true;
                break;
            }
            let mut obj = serde_json::Map::new();
            for (i, name) in columns.iter().enumerate() {
                let cell = row.get_ref(i).map_err(fail(true, false))?;
                obj.insert(name.clone(), cell_json(cell));
            }
            rows_out.push(Value::Object(obj));
        }
    }
    drop(stmt);
    let affected = conn.changes();
    conn.execute_batch("COMMIT").map_err(fail(true, true))?;
    Ok(json!({
        "columns": columns,
        "rows": rows_out,
        "truncated": truncated,
        "rows_affected": affected,
    }))
}

fn cell_json(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if (-9_007_199_254_740_991..=9_007_199_254_740_991).contains(&i) => {
            Value::from(i)
        }
        ValueRef::Integer(i) => Value::String(i.to_string()),
        ValueRef::Real(f) => {
            Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
        }
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(STANDARD.encode(b)),
    }
}

impl Connector for Sqlite {
    fn name(&self) -> &str {
        "sqlite"
    }

    fn execute<'a>(
        &'a self,
        pass: &'a VerifiedPass,
        action: &'a Action,
        opts: &'a ExecOptions,
    ) -> BoxFuture<'a, Result<Outcome, Refusal>> {
        Box::pin(async move {
            check_pass(self.name(), pass, action)?;
            let outcome = self.run(action, opts.dry_run).await?;
            Ok(outcome.scrubbed(&self.broker.scrubber()))
        })
    }
}

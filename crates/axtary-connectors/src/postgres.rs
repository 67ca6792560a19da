//! postgres: `query` with parameters, in a transaction; read-only where policy allowed a read.
//!
//! A statement runs inside `BEGIN READ ONLY` when the action's `read_only` fact says so (or
//! when the SQL analysis finds it read-only: the stricter of the two wins), so a write that
//! slipped past analysis is refused by the server itself. `statement_timeout` is set per
//! transaction; at most `row_limit` rows are returned (`truncated: true` says more existed).
//! No TLS: meant for local and private-network servers (`sslmode=disable`).

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use axtary_core::normalize::sql::{self, Dialect};
use axtary_core::pass::VerifiedPass;
use axtary_core::{Action, Fact};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::BytesMut;
use futures_core::Stream;
use serde_json::{Number, Value, json};
use tokio_postgres::NoTls;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

use crate::broker::Broker;
use crate::config::{PostgresDatabase, SqlConfig};
use crate::{BoxFuture, Connector, ExecOptions, Outcome, Refusal, check_pass, str_field};

pub(crate) struct Postgres {
    cfg: SqlConfig<PostgresDatabase>,
    broker: Arc<Broker>,
}

/// Whether a SQL action must run read-only: the `read_only` fact, or the analysis of its SQL.
pub(crate) fn read_only(action: &Action, dialect: Dialect, sql_text: &str) -> bool {
    matches!(action.facts.get("read_only"), Some(Fact::Bool(true)))
        || sql::analyze(dialect, sql_text).read_only
}

/// The action's `params`, checked to be scalars.
pub(crate) fn params(action: &Action) -> Result<Vec<Value>, Refusal> {
    match action.payload.get("params") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.iter().all(|v| !v.is_array() && !v.is_object()) => {
            Ok(items.clone())
        }
        Some(_) => Err(crate::input_error(
            action,
            "`params` must be an array of scalars",
        )),
    }
}

pub(crate) struct SqlStep {
    pub failure: String,
    /// The statement may have taken effect.
    pub maybe_applied: bool,
}

impl Postgres {
    pub fn new(cfg: SqlConfig<PostgresDatabase>, broker: Arc<Broker>) -> Self {
        Self { cfg, broker }
    }

    async fn run(&self, action: &Action, dry_run: bool) -> Result<Outcome, Refusal> {
        let name = str_field(action, "database")?;
        let db = self.cfg.database("postgres", name)?;
        let sql_text = str_field(action, "sql")?;
        let params = params(action)?;
        let ro = read_only(action, Dialect::Postgres, sql_text);
        let url = self.broker.get(db.url_secret.name())?;
        if dry_run || db.dry_run {
            return Ok(Outcome::dry_run(json!({
                "dry_run": true,
                "database": name,
                "connection": format!("[REDACTED:{}]", db.url_secret.name()),
                "statements": [
                    if ro { "BEGIN READ ONLY" } else { "BEGIN" },
                    format!("SET LOCAL statement_timeout = {}", db.statement_timeout_ms),
                    sql_text,
                    "COMMIT",
                ],
                "params": params,
                "read_only": ro,
                "row_limit": db.row_limit,
            })));
        }
        let connect = tokio::time::timeout(
            Duration::from_secs(db.connect_timeout_secs),
            tokio_postgres::connect(&url, NoTls),
        )
        .await;
        let (client, connection) = match connect {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                return Ok(Outcome::failed(
                    false,
                    format!("postgres `{name}`: cannot connect: {e}"),
                    json!({}),
                ));
            }
            Err(_) => {
                return Ok(Outcome::failed(
                    false,
                    format!("postgres `{name}`: connection timed out"),
                    json!({}),
                ));
            }
        };
        let conn_task = tokio::spawn(connection);
        // The server enforces the statement timeout; this outer bound covers a server that
        // stops answering altogether.
        let bound = Duration::from_millis(db.statement_timeout_ms) + Duration::from_secs(5);
        let run = tokio::time::timeout(bound, query(&client, db, sql_text, &params, ro)).await;
        drop(client);
        conn_task.abort();
        Ok(match run {
            Ok(Ok(mut result)) => {
                result["read_only"] = ro.into();
                Outcome::succeeded(result)
            }
            Ok(Err(step)) if step.maybe_applied && !ro => {
                Outcome::unknown(format!("postgres `{name}`: {}", step.failure), json!({}))
            }
            Ok(Err(step)) => Outcome::failed(
                true,
                format!("postgres `{name}`: {}", step.failure),
                json!({"read_only": ro}),
            ),
            Err(_) if ro => Outcome::failed(
                true,
                format!("postgres `{name}`: no answer within {bound:?}"),
                json!({"read_only": ro}),
            ),
            Err(_) => Outcome::unknown(
                format!(
                    "postgres `{name}`: no answer within {bound:?}; the statement may have run"
                ),
                json!({}),
            ),
        })
    }
}

fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

async fn query(
    client: &tokio_postgres::Client,
    db: &PostgresDatabase,
    sql_text: &str,
    params: &[Value],
    ro: bool,
) -> Result<Value, SqlStep> {
    let early = |e: tokio_postgres::Error| SqlStep {
        failure: db_error(&e),
        maybe_applied: false,
    };
    client
        .batch_execute(if ro { "BEGIN READ ONLY" } else { "BEGIN" })
        .await
        .map_err(early)?;
    client
        .batch_execute(&format!(
            "SET LOCAL statement_timeout = {}",
            db.statement_timeout_ms
        ))
        .await
        .map_err(early)?;
    let stmt = client.prepare(sql_text).await.map_err(early)?;
    if stmt.params().len() != params.len() {
        return Err(SqlStep {
            failure: format!(
                "the statement takes {} parameters, {} were given",
                stmt.params().len(),
                params.len()
            ),
            maybe_applied: false,
        });
    }
    let mut bound = Vec::with_capacity(params.len());
    for (i, (v, ty)) in params.iter().zip(stmt.params()).enumerate() {
        bound.push(Param::bind(v, ty, i + 1).map_err(|failure| SqlStep {
            failure,
            maybe_applied: false,
        })?);
    }
    let columns: Vec<String> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
    // A failure inside the transaction rolls it back (the connection is dropped).
    let rows = client
        .query_raw(&stmt, bound.iter().map(|p| p as &(dyn ToSql + Sync)))
        .await
        .map_err(early)?;
    let mut rows = std::pin::pin!(rows);
    let mut out = Vec::new();
    let mut truncated = false;
    loop {
        let next = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await;
        match next {
            None => break,
            Some(Err(e)) => return Err(early(e)),
            Some(Ok(row)) => {
                if out.len() == db.row_limit {
                    truncated = true;
                    break;
                }
                let mut obj = serde_json::Map::new();
                for (i, name) in columns.iter().enumerate() {
                    let cell: Cell = row.try_get(i).map_err(early)?;
                    obj.insert(name.clone(), cell.0);
                }
                out.push(Value::Object(obj));
            }
        }
    }
    let affected = if truncated {
        None
    } else {
        rows.as_ref().rows_affected()
    };
    // From COMMIT on, a failure may leave the statement applied.
    client.batch_execute("COMMIT").await.map_err(|e| SqlStep {
        failure: db_error(&e),
        maybe_applied: true,
    })?;
    Ok(json!({
        "columns": columns,
        "rows": out,
        "truncated": truncated,
        "rows_affected": affected,
    }))
}

/// A JSON parameter bound to a statement parameter of a known type.
#[derive(Debug)]
enum Param {
    Null,
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Text(String),
    Json(Value),
}

impl Param {
    fn bind(v: &Value, ty: &Type, n: usize) -> Result<Self, String> {
        let wrong = || {
            format!(
                "parameter ${n} has type `{ty}` and cannot take {}; cast it in SQL (e.g. `${n}::text::{ty}`)",
                axtary_core::action::type_name(v)
            )
        };
        if v.is_null() {
            return Ok(Param::Null);
        }
        Ok(match *ty {
            Type::BOOL => Param::Bool(v.as_bool().ok_or_else(wrong)?),
            Type::INT2 => Param::I16(
                v.as_i64()
                    .and_then(|i| i16::try_from(i).ok())
                    .ok_or_else(wrong)?,
            ),
            Type::INT4 => Param::I32(
                v.as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(wrong)?,
            ),
            Type::INT8 => Param::I64(v.as_i64().ok_or_else(wrong)?),
            #[expect(
                clippy::cast_possible_truncation,
                reason = "float4 parameters are f32 by definition"
            )]
            Type::FLOAT4 => Param::F32(v.as_f64().ok_or_else(wrong)? as f32),
            Type::FLOAT8 => Param::F64(v.as_f64().ok_or_else(wrong)?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Param::Text(v.as_str().ok_or_else(wrong)?.to_owned())
            }
            Type::JSON | Type::JSONB => Param::Json(v.clone()),
            _ => return Err(wrong()),
        })
    }
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Bool(b) => b.to_sql(ty, out),
            Param::I16(i) => i.to_sql(ty, out),
            Param::I32(i) => i.to_sql(ty, out),
            Param::I64(i) => i.to_sql(ty, out),
            Param::F32(f) => f.to_sql(ty, out),
            Param::F64(f) => f.to_sql(ty, out),
            Param::Text(s) => s.to_sql(ty, out),
            Param::Json(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked against the statement's parameter types in `bind`.
        true
    }

    to_sql_checked!();
}

/// One result cell as JSON: common types natively, everything else as text.
struct Cell(Value);

const MAX_SAFE: i64 = 9_007_199_254_740_991;

fn int(i: i64) -> Value {
    // Beyond ±2^53 a JSON number would lose precision in most readers: send text.
    if (-MAX_SAFE..=MAX_SAFE).contains(&i) {
        Value::from(i)
    } else {
        Value::String(i.to_string())
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Cell(match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => int(i64::from_sql(ty, raw)?),
            Type::OID => int(u32::from_sql(ty, raw)?.into()),
            Type::FLOAT4 => float(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => float(f64::from_sql(ty, raw)?),
            Type::JSON | Type::JSONB => Value::from_sql(ty, raw)?,
            Type::BYTEA => Value::String(STANDARD.encode(raw)),
            Type::UUID => Value::String(uuid(raw).ok_or("bad uuid")?),
            Type::NUMERIC => Value::String(numeric(raw).ok_or("bad numeric")?),
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                let micros = i64::from_sql(&Type::INT8, raw)?;
                Value::String(timestamp(micros, *ty == Type::TIMESTAMPTZ))
            }
            Type::DATE => {
                let days = i32::from_sql(&Type::INT4, raw)?;
                Value::String(date(days))
            }
            _ => match (ty.kind(), std::str::from_utf8(raw)) {
                // Text-like binary forms (text, varchar, enums, citext, xml, ...) are UTF-8.
                (_, Ok(s)) if is_textual(ty) => Value::String(s.to_owned()),
                (Kind::Enum(_), Ok(s)) => Value::String(s.to_owned()),
                _ => Value::String(format!("\\x{}", hex(raw))),
            },
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn is_textual(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::XML
    ) || ty.name() == "citext"
}

fn hex(raw: &[u8]) -> String {
    axtary_core::hex::encode(raw)
}

fn uuid(raw: &[u8]) -> Option<String> {
    if raw.len() != 16 {
        return None;
    }
    let h = hex(raw);
    Some(format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8)?,
        h.get(8..12)?,
        h.get(12..16)?,
        h.get(16..20)?,
        h.get(20..32)?
    ))
}

/// Decodes PostgreSQL's binary NUMERIC (base-10000 digits) to its exact decimal text.
fn numeric(raw: &[u8]) -> Option<String> {
    let word = |i: usize| raw.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)?.cast_signed());
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    let digit = |idx: i32| {
        usize::try_from(idx)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for w in 0..=weight {
            if w == 0 {
                s.push_str(&digit(w).to_string());
            } else {
                s.push_str(&format!("{:04}", digit(w)));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut g = 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(weight + g)));
            g += 1;
        }
        frac.truncate(dscale);
        s.push('.');
        s.push_str(&frac);
    }
    Some(s)
}

/// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        d => {
            let (y, m, d) = civil(i64::from(d) + PG_EPOCH_DAYS);
            format!("{y:04}-{m:02}-{d:02}")
        }
    }
}

fn timestamp(micros: i64, utc: bool) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        us => {
            let day_us = 86_400_000_000i64;
            let days = us.div_euclid(day_us);
            let rest = us.rem_euclid(day_us);
            let (y, m, d) = civil(days + PG_EPOCH_DAYS);
            let secs = rest / 1_000_000;
            let frac = rest % 1_000_000;
            let mut s = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            );
            if frac != 0 {
                s.push_str(&format!(".{frac:06}"));
            }
            if utc {
                s.push('Z');
            }
            s
        }
    }
}

impl Connector for Postgres {
    fn name(&self) -> &str {
        "postgres"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_numeric_and_dates() {
        // 12345.678: ndigits 3, weight 1, sign +, dscale 3, digits 1 2345 6780
        let raw = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c];
        assert_eq!(numeric(&raw).unwrap(), "12345.678");
        // -0.05: ndigits 1, weight -1, sign -, dscale 2, digits 500
        let raw = [0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x01, 0xf4];
        assert_eq!(numeric(&raw).unwrap(), "-0.05");
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(
            timestamp(86_400_000_000 + 1_500_000, true),
            "2000-01-02T00:00:01.500000Z"
        );
    }
}

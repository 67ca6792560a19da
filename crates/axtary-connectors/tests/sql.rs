#![allow(clippy::unwrap_used, clippy::expect_used)]
//! postgres against the real server (`AXTARY_TEST_POSTGRES_URL`) and sqlite against a real file.

mod common;

use std::collections::BTreeMap;

use axtary_connectors::config::{
    ConnectorsConfig, PostgresDatabase, SecretRef, SqlConfig, SqliteDatabase,
};
use axtary_connectors::{Connectors, ExecOptions, Status};
use axtary_core::{Action, Fact};
use common::{action, broker, pass_for, temp_dir};
use serde_json::json;

fn sqlite(path: &std::path::Path, row_limit: usize) -> Connectors {
    let cfg = ConnectorsConfig {
        sqlite: Some(SqlConfig {
            databases: BTreeMap::from([(
                "local".into(),
                SqliteDatabase {
                    path: path.to_owned(),
                    row_limit,
                    statement_timeout_ms: 2000,
                    dry_run: false,
                },
            )]),
        }),
        ..Default::default()
    };
    Connectors::from_config(&cfg, broker(&[])).unwrap()
}

fn query(connector: &str, sql: &str, params: serde_json::Value) -> Action {
    action(
        json!({"agent": "a", "connector": connector, "operation": "query",
        "input": {"database": if connector == "sqlite" { "local" } else { "main" }, "sql": sql, "params": params}}),
    )
}

/// An action whose facts claim read-only while its SQL writes: the transaction must refuse it.
fn forced_read_only(mut a: Action) -> Action {
    a.facts.insert("read_only".into(), Fact::Bool(true));
    a
}

async fn run(c: &Connectors, a: &Action, connector: &str) -> axtary_connectors::Outcome {
    let (pass, _) = pass_for(a, connector);
    c.execute(&pass, a, &ExecOptions::default()).await.unwrap()
}

#[tokio::test]
async fn sqlite_queries_a_real_file() {
    let path = temp_dir("sqlite").join("app.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score REAL, avatar BLOB);
             INSERT INTO users VALUES (1, 'ada', 9.5, x'0102'), (2, 'bob', NULL, NULL), (3, 'cy', 1, NULL);",
        )
        .unwrap();
    }
    let c = sqlite(&path, 2);

    let out = run(
        &c,
        &query(
            "sqlite",
            "SELECT id, name, score, avatar FROM users WHERE id >= ? ORDER BY id",
            json!([1]),
        ),
        "sqlite",
    )
    .await;
    assert_eq!(out.status, Status::Succeeded, "{out:?}");
    assert_eq!(out.result["read_only"], true);
    assert_eq!(out.result["truncated"], true, "row limit 2 of 3");
    assert_eq!(
        out.result["rows"],
        json!([{"id": 1, "name": "ada", "score": 9.5, "avatar": "AQI="}, {"id": 2, "name": "bob", "score": null, "avatar": null}])
    );

    let out = run(
        &c,
        &query(
            "sqlite",
            "UPDATE users SET name = ? WHERE id = ?",
            json!(["eve", 2]),
        ),
        "sqlite",
    )
    .await;
    assert_eq!(out.status, Status::Succeeded, "{out:?}");
    assert_eq!(out.result["rows_affected"], 1);
    assert_eq!(out.result["read_only"], false);

    // read_only: true refuses a write, whatever the SQL says.
    let a = forced_read_only(query("sqlite", "DELETE FROM users WHERE id = 1", json!([])));
    let out = run(&c, &a, "sqlite").await;
    assert_eq!(out.status, Status::Failed, "{out:?}");
    assert!(
        out.error.as_deref().unwrap().contains("readonly")
            || out.error.as_deref().unwrap().contains("read-only")
            || out.error.as_deref().unwrap().contains("query_only"),
        "{out:?}"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3, "the delete did not run");

    // A missing database file is never created.
    let missing = temp_dir("sqlite").join("nope.db");
    let c = sqlite(&missing, 10);
    let out = run(&c, &query("sqlite", "SELECT 1", json!([])), "sqlite").await;
    assert_eq!(out.status, Status::Failed);
    assert!(!out.provider_reached);
    assert!(!missing.exists());

    // Several statements in one query are refused: only what policy saw may run.
    let c = sqlite(&path, 10);
    let out = run(
        &c,
        &query("sqlite", "SELECT 1; DELETE FROM users", json!([])),
        "sqlite",
    )
    .await;
    assert_eq!(out.status, Status::Failed, "{out:?}");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);

    // Dry run shows the statements and sends nothing.
    let c = sqlite(&path, 10);
    let a = query("sqlite", "DELETE FROM users", json!([]));
    let (pass, _) = pass_for(&a, "sqlite");
    let out = c
        .execute(
            &pass,
            &a,
            &ExecOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.status, Status::DryRun);
    assert_eq!(
        out.result["statements"],
        json!(["BEGIN", "DELETE FROM users", "COMMIT"])
    );
    let n: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
}

/// The Postgres URL for tests, or `None` (with a notice) when unset outside CI.
fn postgres_url() -> Option<String> {
    match std::env::var("AXTARY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but AXTARY_TEST_POSTGRES_URL is not: the Postgres tests must run in CI"
            );
            eprintln!("notice: AXTARY_TEST_POSTGRES_URL is unset; skipping the Postgres tests");
            None
        }
    }
}

#[tokio::test]
async fn postgres_queries_the_real_server() {
    let Some(url) = postgres_url() else {
        return;
    };
    let cfg = ConnectorsConfig {
        postgres: Some(SqlConfig {
            databases: BTreeMap::from([(
                "main".into(),
                PostgresDatabase {
                    url_secret: SecretRef::new("PG_URL").unwrap(),
                    row_limit: 2,
                    statement_timeout_ms: 500,
                    connect_timeout_secs: 5,
                    dry_run: false,
                },
            )]),
        }),
        ..Default::default()
    };
    let b = broker(&[("PG_URL", url.as_str())]);
    let c = Connectors::from_config(&cfg, b).unwrap();
    let table = format!("axtary_conn_test_{}", std::process::id());
    let setup = query(
        "postgres",
        &format!(
            "CREATE TABLE {table} (id int8 PRIMARY KEY, name text, price numeric(10,2), data jsonb, at timestamptz, ok bool, u uuid)"
        ),
        json!([]),
    );
    let out = run(&c, &setup, "postgres").await;
    assert_eq!(out.status, Status::Succeeded, "{out:?}");

    let insert = query(
        "postgres",
        &format!(
            "INSERT INTO {table} VALUES ($1, $2, $3::text::numeric, $4::text::jsonb, '2026-01-02T03:04:05.5Z', $5, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), (2, 'b', 1, null, null, null, null), (3, 'c', 2, null, null, null, null)"
        ),
        json!([1, "ada", "12.50", "{\"k\": [1, 2]}", true]),
    );
    let out = run(&c, &insert, "postgres").await;
    assert_eq!(out.status, Status::Succeeded, "{out:?}");
    assert_eq!(out.result["rows_affected"], 3);

    let select = query(
        "postgres",
        &format!("SELECT id, name, price, data, at, ok, u FROM {table} WHERE id >= $1 ORDER BY id"),
        json!([1]),
    );
    let out = run(&c, &select, "postgres").await;
    assert_eq!(out.status, Status::Succeeded, "{out:?}");
    assert_eq!(out.result["read_only"], true);
    assert_eq!(out.result["truncated"], true);
    assert_eq!(
        out.result["rows"][0],
        json!({"id": 1, "name": "ada", "price": "12.50", "data": {"k": [1, 2]},
               "at": "2026-01-02T03:04:05.500000Z", "ok": true, "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"})
    );
    assert_eq!(out.result["rows"].as_array().unwrap().len(), 2);

    // read_only: true runs in a READ ONLY transaction: the server refuses the write.
    let write = forced_read_only(query(
        "postgres",
        &format!("DELETE FROM {table}"),
        json!([]),
    ));
    let out = run(&c, &write, "postgres").await;
    assert_eq!(out.status, Status::Failed, "{out:?}");
    let e = out.error.clone().unwrap();
    assert!(
        e.contains("read-only transaction") && e.contains("25006"),
        "{e}"
    );
    let count = query(
        "postgres",
        &format!("SELECT count(*) AS n FROM {table}"),
        json!([]),
    );
    let out = run(&c, &count, "postgres").await;
    assert_eq!(out.result["rows"][0]["n"], 3, "the delete did not run");

    // The statement timeout applies.
    let slow = query("postgres", "SELECT pg_sleep(3)", json!([]));
    let out = run(&c, &slow, "postgres").await;
    assert_eq!(out.status, Status::Failed, "{out:?}");
    assert!(out.error.unwrap().contains("57014"));

    // Errors never show the connection URL (it may hold a password).
    let bad = query("postgres", "SELECT * FROM no_such_table_here", json!([]));
    let out = run(&c, &bad, "postgres").await;
    assert!(out.error.unwrap().contains("42P01"));

    // Dry run: the connection URL (a secret) is never shown.
    let (pass, _) = pass_for(&write, "postgres");
    let out = c
        .execute(
            &pass,
            &write,
            &ExecOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.status, Status::DryRun);
    assert_eq!(out.result["connection"], "[REDACTED:PG_URL]");
    assert_eq!(out.result["statements"][0], "BEGIN READ ONLY");
    assert!(!serde_json::to_string(&out).unwrap().contains(&url));

    let drop = query("postgres", &format!("DROP TABLE {table}"), json!([]));
    assert_eq!(run(&c, &drop, "postgres").await.status, Status::Succeeded);
}

#[tokio::test]
async fn sqlite_statement_timeout_interrupts() {
    let path = temp_dir("sqlite").join("slow.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let cfg = ConnectorsConfig {
        sqlite: Some(SqlConfig {
            databases: BTreeMap::from([(
                "local".into(),
                SqliteDatabase {
                    path,
                    row_limit: 10,
                    statement_timeout_ms: 200,
                    dry_run: false,
                },
            )]),
        }),
        ..Default::default()
    };
    let c = Connectors::from_config(&cfg, broker(&[])).unwrap();
    let endless = query(
        "sqlite",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        json!([]),
    );
    let started = std::time::Instant::now();
    let out = run(&c, &endless, "sqlite").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.status, Status::Failed, "{out:?}");
    assert!(out.error.unwrap().contains("interrupt"));
}

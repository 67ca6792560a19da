use super::*;

use Dialect::{Postgres as Pg, Sqlite as Lite};

/// One line per analysis: `kinds | tables | flags`, with `fns=` when functions are called, or
/// `error` when the text did not parse. Short enough to read a table of cases at a glance.
fn render(a: &SqlAnalysis) -> String {
    if a.parse_error.is_some() {
        assert!(a.statement_kinds.is_empty() && a.tables.is_empty() && !a.read_only);
        return "error".into();
    }
    let mut out = format!("{} | {} |", a.statement_kinds.join(","), a.tables.join(","));
    for (on, flag) in [
        (a.read_only, " ro"),
        (a.unbounded_write, " unbounded"),
        (a.multiple_statements, " multi"),
        (a.side_effect_functions, " sidefx"),
    ] {
        if on {
            out.push_str(flag);
        }
    }
    if !a.functions.is_empty() {
        out.push_str(" fns=");
        out.push_str(&a.functions.join(","));
    }
    out
}

/// Runs `f` on a thread with a large stack. Unoptimized `sqlparser` uses about twenty times
/// the stack per level that a release build does (a 2 MiB thread overflows at ten nested
/// derived tables in a debug build, before our code runs); release builds run the same inputs
/// on 2 MiB.
fn with_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let size = if cfg!(debug_assertions) {
        256 << 20
    } else {
        2 << 20
    };
    match std::thread::Builder::new().stack_size(size).spawn(f) {
        Ok(handle) => match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(e) => panic!("cannot spawn test thread: {e}"),
    }
}

#[rustfmt::skip]
const CASES: &[(Dialect, &str, &str)] = &[
    // Reads.
    (Pg, "SELECT 1", "select |  | ro"),
    (Pg, "select * from users", "select | users | ro"),
    (Pg, "SELECT * FROM Users", "select | users | ro"),
    (Pg, r#"select * from "Users""#, "select | Users | ro"),
    (Pg, r#"SELECT * FROM Public."Users""#, "select | public.Users | ro"),
    (Pg, "SELECT * FROM app.orders o", "select | app.orders | ro"),
    (Pg, "SELECT * FROM a JOIN b ON a.id=b.id WHERE a.x IN (SELECT y FROM c)", "select | a,b,c | ro"),
    (Pg, "SELECT (SELECT max(x) FROM s) FROM t WHERE EXISTS (SELECT 1 FROM u)", "select | s,t,u | ro fns=max"),
    (Pg, "SELECT * FROM (SELECT * FROM inner_t) AS d", "select | inner_t | ro"),
    (Pg, "SELECT 1 UNION SELECT 2 FROM x EXCEPT SELECT 3 FROM y", "select | x,y | ro"),
    (Pg, "WITH c AS (SELECT * FROM t) SELECT * FROM c JOIN u USING (id)", "select | t,u | ro"),
    (Pg, "WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT n FROM r) SELECT * FROM r", "select |  | ro"),
    // A non-recursive CTE's body does not see its own name: `a` in it is the table.
    (Pg, "WITH a AS (SELECT * FROM a) SELECT * FROM a", "select | a | ro"),
    // A CTE defined in a subquery does not hide the table outside it.
    (Pg, "SELECT * FROM users WHERE id IN (WITH users AS (SELECT 1) SELECT * FROM users)", "select | users | ro"),
    (Pg, "SELECT * FROM t FOR UPDATE", "select | t |"),
    (Pg, "SELECT * FROM t FOR SHARE", "select | t |"),
    (Pg, "SELECT * INTO newtable FROM t", "select,ddl | newtable,t |"),
    (Pg, "SELECT * FROM generate_series(1, 3)", "select |  | ro fns=generate_series"),
    (Pg, "SELECT count(*), lower(name) FROM t", "select | t | ro fns=count,lower"),
    (Pg, "-- list\nSELECT /* all */ * FROM t -- done", "select | t | ro"),
    (Pg, "SHOW search_path", "show |  | ro"),
    (Pg, "EXPLAIN SELECT * FROM t", "explain | t | ro"),
    (Pg, "EXPLAIN DELETE FROM t", "explain | t | ro"),
    // Side-effecting functions.
    (Pg, "SELECT pg_terminate_backend(123)", "select |  | sidefx fns=pg_terminate_backend"),
    (Pg, "SELECT set_config('role', 'admin', false)", "select |  | sidefx fns=set_config"),
    (Pg, "SELECT nextval('s')", "select |  | sidefx fns=nextval"),
    (Pg, "SELECT pg_catalog.pg_read_file('/etc/passwd')", "select |  | sidefx fns=pg_catalog.pg_read_file"),
    (Pg, "SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", "select |  | sidefx fns=dblink"),
    (Pg, "SELECT * FROM t WHERE x = (SELECT lo_import('/etc/passwd'))", "select | t | sidefx fns=lo_import"),
    (Lite, "SELECT load_extension('evil.so')", "select |  | sidefx fns=load_extension"),
    // Writes.
    (Pg, "INSERT INTO a SELECT * FROM b", "insert | a,b |"),
    (Pg, "INSERT INTO audit.log (msg) VALUES ('x') RETURNING id", "insert | audit.log |"),
    (Pg, "UPDATE users SET a=1", "update | users | unbounded"),
    (Pg, "UPDATE users SET a=1 WHERE id=2", "update | users |"),
    (Pg, "UPDATE users SET a=1 WHERE 1=1", "update | users | unbounded"),
    (Pg, "UPDATE users SET a=1 WHERE true OR id=2", "update | users | unbounded"),
    (Pg, "UPDATE t SET a = s.a FROM s WHERE t.id = s.id", "update | t,s |"),
    (Pg, "DELETE FROM users", "delete | users | unbounded"),
    (Pg, "/* */ DELETE FROM users", "delete | users | unbounded"),
    (Pg, "dElEtE fRoM UsErS wHeRe id = 1", "delete | users |"),
    (Pg, "DELETE FROM t USING u WHERE t.id = u.id", "delete | t,u |"),
    (Pg, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "merge | t,s |"),
    (Pg, "TRUNCATE t", "ddl | t | unbounded"),
    (Pg, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "select,delete | t | unbounded"),
    (Pg, "WITH d AS (UPDATE t SET a = 1 WHERE id = 1 RETURNING *) SELECT * FROM d", "select,update | t |"),
    (Pg, "WITH n AS (SELECT 1 AS id) INSERT INTO t SELECT * FROM n", "insert | t |"),
    // A DML target is the table even when a CTE has the same name.
    (Pg, "WITH users AS (SELECT 1) DELETE FROM users", "delete | users | unbounded"),
    (Pg, "EXPLAIN ANALYZE DELETE FROM t", "explain,delete | t | unbounded"),
    (Pg, "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", "explain,update | t | unbounded"),
    (Pg, "EXPLAIN ANALYZE SELECT * FROM t", "explain,select | t | ro"),
    // Schema, transactions, settings, privileges.
    (Pg, "CREATE TABLE x (id int)", "ddl | x |"),
    (Pg, "CREATE TABLE x AS SELECT * FROM y", "ddl | x,y |"),
    (Pg, "CREATE INDEX i ON x (id)", "ddl | x |"),
    (Pg, "CREATE VIEW v AS SELECT * FROM x", "ddl | v,x |"),
    (Pg, "DROP TABLE x", "ddl | x |"),
    (Pg, "DROP TABLE IF EXISTS a, s.b CASCADE", "ddl | a,s.b |"),
    (Pg, "ALTER TABLE x ADD COLUMN y int", "ddl | x |"),
    (Pg, "ALTER TABLE x RENAME TO y", "ddl | x |"),
    (Pg, "COMMENT ON TABLE x IS 'hi'", "ddl | x |"),
    (Pg, "CREATE SCHEMA s", "ddl |  |"),
    (Pg, "BEGIN; DELETE FROM t; COMMIT", "transaction,delete | t | unbounded multi"),
    (Pg, "START TRANSACTION READ ONLY; SAVEPOINT a; ROLLBACK TO SAVEPOINT a; ROLLBACK", "transaction |  | multi"),
    (Pg, "SET search_path TO evil", "set |  |"),
    (Pg, "COPY t TO '/tmp/x'", "copy | t |"),
    (Pg, "COPY (SELECT * FROM t) TO STDOUT", "copy | t |"),
    (Pg, "GRANT ALL ON t TO bob", "grant | t |"),
    (Pg, "REVOKE SELECT ON t FROM bob", "grant | t |"),
    (Pg, "CREATE ROLE admin SUPERUSER", "grant |  |"),
    (Pg, "LISTEN chan", "other |  |"),
    (Pg, "TABLE users", "error"),
    (Pg, "VALUES (1), (2)", "select |  | ro"),
    (Pg, "CALL refresh_all(1)", "other |  | fns=refresh_all"),
    (Pg, "DO $$ BEGIN DELETE FROM t; END $$", "error"),
    (Pg, "PREPARE p AS DELETE FROM t; EXECUTE p", "other,delete | t | unbounded multi"),
    (Pg, "SELECT $tag$ ; DROP TABLE x; $tag$ AS s", "select |  | ro"),
    (Pg, "SELECT 'a; DELETE FROM t' AS s", "select |  | ro"),
    (Pg, "SELECT 1; DROP TABLE x", "select,ddl | x | multi"),
    (Pg, "SELECT 1; SELECT 2;", "select |  | ro multi"),
    // Not SQL.
    (Pg, "", "error"),
    (Pg, ";;", "error"),
    (Pg, "hello world", "error"),
    (Pg, "SELECT FROM WHERE", "error"),
    (Pg, "SELECT 'unterminated", "error"),
    (Pg, "DELETE users", "error"),
    // SQLite.
    (Lite, "select * from users where id = ?", "select | users | ro"),
    (Lite, "SELECT * FROM [My Table]", "select | My Table | ro"),
    (Lite, "INSERT OR REPLACE INTO t (a) VALUES (1)", "insert | t |"),
    (Lite, "DELETE FROM t", "delete | t | unbounded"),
    (Lite, "UPDATE t SET a = 1 WHERE rowid = 3", "update | t |"),
    (Lite, "PRAGMA table_info('t')", "other |  |"),
    (Lite, "PRAGMA journal_mode = 'wal'", "set |  |"),
    (Lite, "ATTACH DATABASE '/tmp/other.db' AS other", "other |  |"),
    (Lite, "VACUUM", "other |  |"),
    (Lite, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)", "ddl | t |"),
    (Lite, "BEGIN; INSERT INTO t VALUES (1); COMMIT;", "transaction,insert | t | multi"),
    (Lite, "SELECT 1; DROP TABLE x", "select,ddl | x | multi"),
    (Lite, "garbage ( in", "error"),
];

#[test]
fn table_of_cases() {
    let mut failures = Vec::new();
    for (dialect, sql, expected) in CASES {
        let got = render(&analyze(*dialect, sql));
        if got != *expected {
            failures.push(format!(
                "{dialect:?} {sql:?}\n  expected: {expected}\n  got:      {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn parse_error_message_is_the_parsers_without_prefix() {
    let a = analyze(Pg, "SELECT FROM WHERE");
    let message = a.parse_error.unwrap_or_default();
    assert!(!message.is_empty());
    assert!(!message.starts_with("sql parser error"), "{message}");
    assert!(a.statement_kinds.is_empty());
    assert!(!a.read_only);
}

#[test]
fn parse_error_message_is_cut_when_it_quotes_a_long_token() {
    let sql = format!("SELECT 1 '{}'", "é".repeat(10_000));
    let message = analyze(Pg, &sql).parse_error.unwrap_or_default();
    assert!(message.len() <= MAX_ERROR_BYTES + 3, "{}", message.len());
}

#[test]
fn too_long_input_is_a_parse_error() {
    let sql = format!("SELECT 1 {}", " ".repeat(MAX_SQL_BYTES));
    let a = analyze(Pg, &sql);
    assert_eq!(a.parse_error.as_deref(), Some("sql is too long"));
    assert!(!a.read_only);
}

#[test]
fn ten_thousand_nested_parentheses_are_a_parse_error() {
    for dialect in [Pg, Lite] {
        let sql = format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let a = with_stack(move || analyze(dialect, &sql));
        assert!(a.parse_error.is_some());
    }
}

#[test]
fn deep_but_allowed_nesting_parses() {
    let sql = format!(
        "SELECT * FROM {}t{}",
        "(SELECT * FROM ".repeat(20),
        ") AS d".repeat(20)
    );
    let a = with_stack(move || analyze(Pg, &sql));
    assert_eq!(render(&a), "select | t | ro");
}

#[test]
fn long_operator_chains_are_rejected_before_they_reach_the_stack() {
    let near_limit = MAX_DEPTH_ESTIMATE / 2 - 10;
    let cases = [
        format!("SELECT 1{}", "+1".repeat(100_000)),
        format!("SELECT a{}", "::int".repeat(50_000)),
        format!("SELECT a{}", "[1]".repeat(50_000)),
        format!(
            "SELECT * FROM t WHERE {}",
            vec!["a = 1"; 30_000].join(" OR ")
        ),
        format!("SELECT 1, 2{}", " UNION SELECT 1, 2".repeat(20_000)),
        format!("SELECT 1{}", " + (1".repeat(40).repeat(400)),
        format!(
            "SELECT {}1{}",
            "CASE WHEN 1 THEN 1 ELSE 1 + ".repeat(30),
            " END".repeat(30)
        )
        .repeat(1)
            + &"+1".repeat(50_000),
    ];
    for sql in cases {
        let head: String = sql.chars().take(40).collect();
        let a = with_stack(move || analyze(Pg, &sql));
        assert!(a.parse_error.is_some(), "{head}");
    }
    // Just under the limit, a chain parses and is walked.
    let sql = format!("SELECT 1{}", "+1".repeat(near_limit));
    let a = with_stack(move || analyze(Pg, &sql));
    assert_eq!(a.parse_error, None);
}

#[test]
fn realistic_long_statements_are_not_rejected() {
    let rows = vec!["(1, 'name', now()::text, ARRAY[1, 2])"; 5_000].join(", ");
    let sql = format!("INSERT INTO t VALUES {rows}");
    assert_eq!(render(&analyze(Pg, &sql)), "insert | t | fns=now");
    let ors = vec!["id = 1"; 1_000].join(" OR ");
    let sql = format!("SELECT * FROM t WHERE {ors}");
    assert_eq!(
        render(&with_stack(move || analyze(Pg, &sql))),
        "select | t | ro"
    );
    let ids = vec!["7"; 20_000].join(", ");
    assert_eq!(
        render(&analyze(Pg, &format!("DELETE FROM t WHERE id IN ({ids})"))),
        "delete | t |"
    );
    let whens = "WHEN a = 1 THEN 'x' ".repeat(2_000);
    let sql = format!("SELECT CASE {whens} END FROM t");
    assert_eq!(
        render(&with_stack(move || analyze(Pg, &sql))),
        "select | t | ro"
    );
}

#[test]
fn random_sqlish_strings_never_panic() {
    with_stack(|| {
        const ALPHABET: &[&str] = &[
            "SELECT ", "FROM ", "WHERE ", "DELETE ", "UPDATE ", "SET ", "INSERT ", "INTO ",
            "VALUES ", "WITH ", "AS ", "EXPLAIN ", "ANALYZE ", "UNION ", "CASE ", "WHEN ", "THEN ",
            "END ", "JOIN ", "ON ", "PRAGMA ", "ATTACH ", "COPY ", "GRANT ", "t", "\"Q\"", "'s'",
            "1", "(", ")", "[", "]", ",", ";", "*", "=", "+", "-", "::", "--", "/*", "*/", "$1",
            "?", " ", "\n", ".", "é", "\\", "\"", "'", "`", "$$", "e'",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let mut sql = String::new();
            for _ in 0..len {
                let i = (next() % ALPHABET.len() as u64) as usize;
                sql.push_str(ALPHABET[i]);
            }
            let dialect = if next() % 2 == 0 { Pg } else { Lite };
            let a = analyze(dialect, &sql);
            if a.parse_error.is_some() {
                assert!(a.statement_kinds.is_empty() && !a.read_only, "{sql:?}");
            }
        }
    });
}

#[test]
fn estimate_resets_at_separators_and_closes_groups() {
    let tokens = |sql: &str| {
        Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize_with_location()
            .unwrap_or_default()
    };
    // Eleven tokens in a chain exceed ten; ten do not.
    assert!(estimated_depth_exceeds(&tokens("SELECT 1+1+1+1+1+1"), 10));
    assert!(!estimated_depth_exceeds(&tokens("SELECT 1+1+1+1+1"), 10));
    // Siblings after commas do not add up.
    assert!(!estimated_depth_exceeds(
        &tokens("SELECT 1+1, 1+1, 1+1, 1+1"),
        10
    ));
    // A closed group no longer counts.
    assert!(!estimated_depth_exceeds(
        &tokens("SELECT (1+1+1), (1+1+1)"),
        10
    ));
    // Set operations nest across commas.
    let unions = format!("SELECT 1, 2{}", " UNION SELECT 1, 2".repeat(11));
    assert!(estimated_depth_exceeds(&tokens(&unions), 10));
}

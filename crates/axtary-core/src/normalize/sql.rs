//! SQL analysis with a real parser (`sqlparser`), for the postgres and sqlite connectors.
//!
//! PLACEHOLDER: the real analysis lands in its own change. Until then every statement is a
//! parse error, which the starter policy denies.

/// The SQL dialect to parse with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// What a SQL text does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlAnalysis {
    /// Kinds of every statement, deduplicated, in order: select, insert, update, delete, merge,
    /// ddl, transaction, set, show, explain, copy, grant, other.
    pub statement_kinds: Vec<String>,
    /// Every table referenced, lower-cased unless quoted, `schema.table` when qualified.
    pub tables: Vec<String>,
    /// An UPDATE or DELETE without a WHERE clause.
    pub unbounded_write: bool,
    pub multiple_statements: bool,
    /// Every statement only reads.
    pub read_only: bool,
    /// The parser's message when the text could not be parsed.
    pub parse_error: Option<String>,
}

/// Analyzes `sql` in `dialect`. Total: any input yields an analysis, never a panic.
pub fn analyze(dialect: Dialect, sql: &str) -> SqlAnalysis {
    let _ = (dialect, sql);
    SqlAnalysis {
        parse_error: Some("sql parser not built yet".into()),
        ..Default::default()
    }
}

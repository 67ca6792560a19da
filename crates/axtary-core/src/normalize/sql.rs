//! SQL analysis with a real parser (`sqlparser`), for the postgres and sqlite connectors.
//!
//! The text is tokenized, checked against two cheap bounds (size and expression depth), parsed,
//! and then every statement, query, relation and expression in the tree is visited with
//! `sqlparser`'s derived visitor, so that a table or a write hidden in a subquery, a CTE body or
//! an `EXPLAIN ANALYZE` is seen like one at the top level.
//!
//! Totality: `analyze` never panics and bounds its stack use. The parser's recursion limit
//! bounds nesting (parentheses, subqueries, `CASE`, prefix operators); chains of infix operators
//! and set operations are built by loops in the parser and are not bounded by it, yet visiting
//! and dropping the tree recurse along them, so `estimated_depth_exceeds` rejects such chains
//! from the tokens before parsing.

use std::ops::ControlFlow;

use sqlparser::ast::{
    CommentObject, CopySource, Expr, FromTable, GrantObjects, Ident, ObjectName, ObjectNamePart,
    ObjectType, Query, Select, SetExpr, Statement, TableFactor, TableObject, Visit, Visitor,
};
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

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
    /// ddl, transaction, set, show, explain, copy, grant, other. Statements nested in a query
    /// (data-modifying CTEs) or run by `EXPLAIN ANALYZE` count too; `SELECT ... INTO` is ddl.
    pub statement_kinds: Vec<String>,
    /// Every table referenced, lower-cased unless quoted, `schema.table` when qualified.
    /// CTE names are not tables and are left out where they are in scope.
    pub tables: Vec<String>,
    /// An UPDATE or DELETE without a WHERE clause (or with a trivially true one), or a TRUNCATE.
    pub unbounded_write: bool,
    pub multiple_statements: bool,
    /// Every statement only reads: select (without data-modifying CTE, `INTO` or locking
    /// clause), show, or plain explain; and no side-effecting function is called.
    pub read_only: bool,
    /// The parser's message when the text could not be parsed.
    pub parse_error: Option<String>,
    /// Every function called, lower-cased unless quoted, `schema.function` when qualified,
    /// deduplicated in order. Table functions in FROM are here, not in `tables`.
    pub functions: Vec<String>,
    /// A function with side effects outside the query's result is called (`set_config`,
    /// `nextval`, `pg_terminate_backend`, `dblink`, `load_extension`, ...).
    pub side_effect_functions: bool,
}

/// Inputs longer than this are not parsed.
const MAX_SQL_BYTES: usize = 256 * 1024;

/// Nesting depth the parser allows (its own default), which bounds its stack use.
const RECURSION_LIMIT: usize = 50;

/// Bound on [`estimated_depth_exceeds`]'s estimate of the tree's depth. Release builds use well
/// under 100 bytes of stack per level of an operator chain, so this stays far below a 2 MiB
/// thread stack, while a WHERE clause with a thousand `OR`s still parses.
const MAX_DEPTH_ESTIMATE: usize = 4096;

/// Parse errors are cut to this many bytes: they quote tokens from the input.
const MAX_ERROR_BYTES: usize = 200;

/// Functions whose effects reach beyond the query's result: they write, signal other backends,
/// read server files, open connections, run opaque SQL, or load code. Matched on the last part
/// of the (lower-cased) name. Kept small on purpose: it is a hint for policy, not a sandbox;
/// the connector's read-only transaction is the enforcement.
const SIDE_EFFECT_FUNCTIONS: &[&str] = &[
    // postgres: sessions and server
    "pg_cancel_backend",
    "pg_terminate_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_promote",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_logical_emit_message",
    "pg_notify",
    "set_config",
    // postgres: server files and large objects
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_file_write",
    "lo_import",
    "lo_export",
    "lo_unlink",
    "lo_put",
    "lo_from_bytea",
    // postgres: sequences, locks, transaction ids
    "nextval",
    "setval",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "txid_current",
    "pg_current_xact_id",
    // postgres: other connections and opaque SQL text
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_send_query",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    // sqlite
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
];

/// Analyzes `sql` in `dialect`. Total: any input yields an analysis, never a panic.
pub fn analyze(dialect: Dialect, sql: &str) -> SqlAnalysis {
    if sql.len() > MAX_SQL_BYTES {
        return failed("sql is too long".into());
    }
    let parser_dialect: &dyn sqlparser::dialect::Dialect = match dialect {
        Dialect::Postgres => &PostgreSqlDialect {},
        Dialect::Sqlite => &SQLiteDialect {},
    };
    let tokens = match Tokenizer::new(parser_dialect, sql).tokenize_with_location() {
        Ok(tokens) => tokens,
        Err(e) => return failed(concise(&e.to_string())),
    };
    if estimated_depth_exceeds(&tokens, MAX_DEPTH_ESTIMATE) {
        return failed("sql expression is too deeply nested".into());
    }
    let statements = match Parser::new(parser_dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens_with_locations(tokens)
        .parse_statements()
    {
        Ok(statements) => statements,
        Err(e) => return failed(concise(&e.to_string())),
    };
    if statements.is_empty() {
        return failed("sql has no statement".into());
    }

    let mut collector = Collector::default();
    // The collector never breaks; the result carries no information.
    let _ = statements.visit(&mut collector);
    let side_effect_functions = collector.functions.iter().any(|f| {
        let last = f.rsplit('.').next().unwrap_or(f);
        SIDE_EFFECT_FUNCTIONS.contains(&last)
    });
    let read_only = !collector.writes
        && !side_effect_functions
        && collector
            .kinds
            .iter()
            .all(|k| matches!(*k, "select" | "show" | "explain"));
    SqlAnalysis {
        statement_kinds: collector.kinds.iter().map(|k| (*k).to_owned()).collect(),
        tables: collector.tables,
        unbounded_write: collector.unbounded_write,
        multiple_statements: statements.len() > 1,
        read_only,
        parse_error: None,
        functions: collector.functions,
        side_effect_functions,
    }
}

fn failed(message: String) -> SqlAnalysis {
    SqlAnalysis {
        parse_error: Some(message),
        ..Default::default()
    }
}

/// The parser's message without its `sql parser error: ` prefix, cut to [`MAX_ERROR_BYTES`].
fn concise(message: &str) -> String {
    let message = message
        .strip_prefix("sql parser error: ")
        .unwrap_or(message);
    if message.len() <= MAX_ERROR_BYTES {
        return message.to_owned();
    }
    let end = message.floor_char_boundary(MAX_ERROR_BYTES);
    format!("{}...", message.get(..end).unwrap_or_default())
}

/// Whether the tree parsed from `tokens` could be deeper than about `limit` levels.
///
/// The estimate at a token is the number of tokens before it that can be its ancestors: the
/// tokens since the last separator in each enclosing group (parentheses, brackets, `CASE`).
/// A comma, or `WHEN`/`THEN`/`ELSE` inside `CASE`, starts a sibling, and `;` a new statement, so
/// they reset their group; `UNION`, `EXCEPT`, `INTERSECT` and `MINUS` nest their left side
/// across commas, so each one adds to its group for good. It overestimates (a long list without
/// commas such as `a AND b AND c` counts every token), which only matters past the limit.
// INVARIANT: every node on a root-to-leaf path of the tree either comes from one of the parser's
// counted recursions (bounded by RECURSION_LIMIT) or consumed at least one token that this
// estimate counts on that path.
fn estimated_depth_exceeds(tokens: &[TokenWithSpan], limit: usize) -> bool {
    #[derive(PartialEq)]
    enum Opener {
        Root,
        Group,
        Case,
    }
    struct Level {
        opener: Opener,
        /// Tokens that stay counted until the group closes (set operations).
        sticky: usize,
        /// Tokens since the group's last separator.
        run: usize,
    }
    let root = || Level {
        opener: Opener::Root,
        sticky: 0,
        run: 0,
    };
    let mut levels = vec![root()];
    // Sum of `sticky + run` over `levels`, kept up to date so that each token costs O(1).
    let mut total = 0usize;
    for token in tokens {
        let keyword = match &token.token {
            Token::Word(w) if w.quote_style.is_none() => w.keyword,
            _ => Keyword::NoKeyword,
        };
        let top_is_case = levels.last().is_some_and(|l| l.opener == Opener::Case);
        match (&token.token, keyword) {
            (Token::Whitespace(_) | Token::EOF, _) => continue,
            (Token::SemiColon, _) => {
                levels.clear();
                levels.push(root());
                total = 0;
                continue;
            }
            (Token::Comma, _) => {
                if let Some(level) = levels.last_mut() {
                    total = total.saturating_sub(level.run);
                    level.run = 0;
                }
                continue;
            }
            (_, Keyword::WHEN | Keyword::THEN | Keyword::ELSE) if top_is_case => {
                if let Some(level) = levels.last_mut() {
                    total = total.saturating_sub(level.run);
                    level.run = 0;
                }
                continue;
            }
            (Token::RParen | Token::RBracket, _) => {
                if levels.len() > 1
                    && let Some(level) = levels.pop()
                {
                    total = total.saturating_sub(level.sticky + level.run);
                }
                continue;
            }
            (_, Keyword::END) if top_is_case => {
                if let Some(level) = levels.pop() {
                    total = total.saturating_sub(level.sticky + level.run);
                }
                continue;
            }
            _ => {}
        }
        if let Some(level) = levels.last_mut() {
            match keyword {
                Keyword::UNION | Keyword::EXCEPT | Keyword::INTERSECT | Keyword::MINUS => {
                    level.sticky += 1;
                }
                _ => level.run += 1,
            }
            total += 1;
        }
        match (&token.token, keyword) {
            (Token::LParen | Token::LBracket, _) => levels.push(Level {
                opener: Opener::Group,
                sticky: 0,
                run: 0,
            }),
            (_, Keyword::CASE) => levels.push(Level {
                opener: Opener::Case,
                sticky: 0,
                run: 0,
            }),
            _ => {}
        }
        if total > limit {
            return true;
        }
    }
    false
}

/// A name as policy sees it: each part lower-cased unless quoted, parts joined with `.`.
fn object_name(name: &ObjectName) -> String {
    let mut out = String::new();
    for (i, part) in name.0.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match part {
            ObjectNamePart::Identifier(ident) => out.push_str(&ident_name(ident)),
            ObjectNamePart::Function(f) => out.push_str(&f.to_string().to_lowercase()),
        }
    }
    out
}

fn ident_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// CTE names visible at one level of query nesting.
struct Scope {
    names: Vec<String>,
    /// This is a CTE body's scope: the enclosing query's own CTE scope, next below on the
    /// stack, is replaced by `names` (the earlier siblings, or all of them when recursive).
    hides_next: bool,
}

#[derive(Default)]
struct Collector {
    kinds: Vec<&'static str>,
    tables: Vec<String>,
    functions: Vec<String>,
    unbounded_write: bool,
    /// Something other than a statement kind makes the text write: a locking clause,
    /// `SELECT ... INTO`.
    writes: bool,
    /// Depth of plain (not analyzing) `EXPLAIN`s around the current node: what they wrap is
    /// not run, so it adds tables but no kinds or writes.
    plain_explain: usize,
    /// For each statement being visited, whether it is a plain `EXPLAIN`.
    statement_stack: Vec<bool>,
    scopes: Vec<Scope>,
    /// For each query being visited, how many scopes it pushed.
    scopes_pushed: Vec<usize>,
    /// CTE bodies not yet entered, by address, with the CTE names visible in them.
    pending_bodies: Vec<(*const Query, Vec<String>)>,
    /// Names of table functions in FROM, by address, so they are not taken for tables.
    function_names: Vec<*const ObjectName>,
}

impl Collector {
    fn kind(&mut self, kind: &'static str) {
        if self.plain_explain == 0 && !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
    }

    fn table(&mut self, name: &ObjectName) {
        let name = object_name(name);
        if !name.is_empty() && !self.tables.contains(&name) {
            self.tables.push(name);
        }
    }

    fn function(&mut self, name: &ObjectName) {
        let name = object_name(name);
        if !self.functions.contains(&name) {
            self.functions.push(name);
        }
    }

    fn is_cte(&self, name: &ObjectName) -> bool {
        let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
            return false;
        };
        let name = ident_name(ident);
        let mut i = self.scopes.len();
        while i > 0 {
            let scope = &self.scopes[i - 1];
            if scope.names.contains(&name) {
                return true;
            }
            i = i.saturating_sub(if scope.hides_next { 2 } else { 1 });
        }
        false
    }

    fn write(&mut self) {
        if self.plain_explain == 0 {
            self.writes = true;
        }
    }

    fn unbounded(&mut self, selection: Option<&Expr>) {
        if self.plain_explain == 0 && selection.is_none_or(trivially_true) {
            self.unbounded_write = true;
        }
    }

    /// The target of an INSERT, UPDATE, DELETE or MERGE is always a table, even when a CTE
    /// has the same name, so it is added here and not subject to the CTE check.
    fn target(&mut self, factor: &TableFactor) {
        if let TableFactor::Table { name, .. } = factor {
            self.table(name);
        }
    }

    fn classify(&mut self, statement: &Statement) {
        use Statement as S;
        match statement {
            S::Query(query) => {
                // `WITH ... INSERT` parses as a query around the insert, which is visited
                // as a statement of its own.
                if !matches!(
                    *query.body,
                    SetExpr::Insert(_)
                        | SetExpr::Update(_)
                        | SetExpr::Delete(_)
                        | SetExpr::Merge(_)
                ) {
                    self.kind("select");
                }
            }
            S::Insert(insert) => {
                self.kind("insert");
                if let TableObject::TableName(name) = &insert.table {
                    self.table(name);
                }
            }
            S::Update(update) => {
                self.kind("update");
                self.target(&update.table.relation);
                self.unbounded(update.selection.as_ref());
            }
            S::Delete(delete) => {
                self.kind("delete");
                for name in &delete.tables {
                    self.table(name);
                }
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) =
                    &delete.from;
                for table in from {
                    self.target(&table.relation);
                }
                self.unbounded(delete.selection.as_ref());
            }
            S::Merge(merge) => {
                self.kind("merge");
                self.target(&merge.table);
            }
            S::Truncate(_) => {
                self.kind("ddl");
                self.unbounded(None);
            }
            S::Drop {
                object_type, names, ..
            } => match object_type {
                ObjectType::Role | ObjectType::User | ObjectType::Group => self.kind("grant"),
                ObjectType::Table
                | ObjectType::ForeignTable
                | ObjectType::View
                | ObjectType::MaterializedView => {
                    self.kind("ddl");
                    for name in names {
                        self.table(name);
                    }
                }
                _ => self.kind("ddl"),
            },
            S::RenameTable(renames) => {
                self.kind("ddl");
                for rename in renames {
                    self.table(&rename.old_name);
                    self.table(&rename.new_name);
                }
            }
            S::Comment {
                object_type,
                object_name,
                ..
            } => {
                self.kind("ddl");
                match object_type {
                    CommentObject::Table
                    | CommentObject::ForeignTable
                    | CommentObject::View
                    | CommentObject::MaterializedView => self.table(object_name),
                    CommentObject::Column => {
                        if let Some((_, table)) = object_name.0.split_last()
                            && !table.is_empty()
                        {
                            self.table(&ObjectName(table.to_vec()));
                        }
                    }
                    _ => {}
                }
            }
            S::CreateView(_)
            | S::CreateTable(_)
            | S::CreateVirtualTable { .. }
            | S::CreateIndex(_)
            | S::CreateSecret { .. }
            | S::CreateServer(_)
            | S::CreateForeignTable(_)
            | S::CreateForeignDataWrapper(_)
            | S::CreateUserMapping(_)
            | S::CreatePolicy(_)
            | S::CreateRule(_)
            | S::CreateConnector(_)
            | S::CreateOperator(_)
            | S::CreateOperatorFamily(_)
            | S::CreateOperatorClass(_)
            | S::CreateTextSearch(_)
            | S::CreateAggregate(_)
            | S::AlterTable(_)
            | S::AlterSchema(_)
            | S::AlterIndex { .. }
            | S::AlterView(_)
            | S::AlterFunction(_)
            | S::AlterType(_)
            | S::AlterCollation(_)
            | S::AlterOperator(_)
            | S::AlterOperatorFamily(_)
            | S::AlterOperatorClass(_)
            | S::AlterTextSearch(_)
            | S::AlterPolicy(_)
            | S::AlterTrigger(_)
            | S::AlterConnector { .. }
            | S::DropFunction(_)
            | S::DropDomain(_)
            | S::DropProcedure { .. }
            | S::DropSecret { .. }
            | S::DropPolicy(_)
            | S::DropRule(_)
            | S::DropConnector { .. }
            | S::CreateExtension(_)
            | S::CreateCollation(_)
            | S::DropExtension(_)
            | S::DropOperator(_)
            | S::DropOperatorFamily(_)
            | S::DropOperatorClass(_)
            | S::CreateSchema { .. }
            | S::CreateDatabase { .. }
            | S::CreateFunction(_)
            | S::CreateTrigger(_)
            | S::DropTrigger(_)
            | S::CreateProcedure { .. }
            | S::CreateMacro { .. }
            | S::CreateStage { .. }
            | S::CreateFileFormat { .. }
            | S::CreateWarehouse(_)
            | S::CreateSequence { .. }
            | S::CreateDomain(_)
            | S::CreateType { .. }
            | S::Msck(_) => self.kind("ddl"),
            S::StartTransaction { .. }
            | S::Commit { .. }
            | S::Rollback { .. }
            | S::Savepoint { .. }
            | S::ReleaseSavepoint { .. } => self.kind("transaction"),
            S::Set(_) | S::Reset(_) | S::AlterSession { .. } => self.kind("set"),
            S::Pragma { is_eq: true, .. } => self.kind("set"),
            S::ShowFunctions { .. }
            | S::ShowVariable { .. }
            | S::ShowStatus { .. }
            | S::ShowVariables { .. }
            | S::ShowCreate { .. }
            | S::ShowColumns { .. }
            | S::ShowCatalogs { .. }
            | S::ShowDatabases { .. }
            | S::ShowProcessList { .. }
            | S::ShowSchemas { .. }
            | S::ShowCharset(_)
            | S::ShowObjects(_)
            | S::ShowTables { .. }
            | S::ShowViews { .. }
            | S::ShowCollation { .. }
            | S::ExplainTable { .. } => self.kind("show"),
            S::Explain { .. } => self.kind("explain"),
            S::Copy { source, .. } => {
                self.kind("copy");
                if let CopySource::Table { table_name, .. } = source {
                    self.table(table_name);
                }
            }
            S::CopyIntoSnowflake { .. } | S::Unload { .. } | S::LoadData { .. } => {
                self.kind("copy");
            }
            S::Grant(grant) => {
                self.kind("grant");
                self.grant_objects(grant.objects.as_ref());
            }
            S::Revoke(revoke) => {
                self.kind("grant");
                self.grant_objects(revoke.objects.as_ref());
            }
            S::GrantRole(_)
            | S::RevokeRole(_)
            | S::Deny(_)
            | S::AlterDefaultPrivileges(_)
            | S::CreateRole(_)
            | S::AlterRole { .. }
            | S::CreateUser(_)
            | S::AlterUser(_) => self.kind("grant"),
            S::Call(function) => {
                self.kind("other");
                self.function(&function.name);
            }
            _ => self.kind("other"),
        }
    }

    fn grant_objects(&mut self, objects: Option<&GrantObjects>) {
        if let Some(GrantObjects::Tables(names) | GrantObjects::Views(names)) = objects {
            for name in names {
                self.table(name);
            }
        }
    }
}

/// Whether `EXPLAIN` runs the statement: `EXPLAIN ANALYZE` or `EXPLAIN (ANALYZE ...)`. Any
/// `ANALYZE` option counts, even `ANALYZE false`: reading it as "runs" is the safe side.
fn explain_runs(statement: &Statement) -> Option<bool> {
    let Statement::Explain {
        analyze, options, ..
    } = statement
    else {
        return None;
    };
    let analyze_option = options
        .iter()
        .flatten()
        .any(|o| o.name.value.eq_ignore_ascii_case("analyze"));
    Some(*analyze || analyze_option)
}

/// `WHERE true`, `WHERE 1`, `WHERE 1 = 1`, `WHERE 'a' = 'a'`, `WHERE (x OR true)` and the like:
/// a filter that keeps every row. Only literal forms are recognized.
fn trivially_true(expr: &Expr) -> bool {
    use sqlparser::ast::{BinaryOperator, Value};
    match expr {
        Expr::Nested(inner) => trivially_true(inner),
        Expr::Value(v) => match &v.value {
            Value::Boolean(b) => *b,
            Value::Number(n, _) => n.chars().any(|c| matches!(c, '1'..='9')),
            _ => false,
        },
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Or => trivially_true(left) || trivially_true(right),
            BinaryOperator::And => trivially_true(left) && trivially_true(right),
            BinaryOperator::Eq => match (strip_nested(left), strip_nested(right)) {
                (Expr::Value(a), Expr::Value(b)) => a.value == b.value,
                (Expr::Identifier(a), Expr::Identifier(b)) => ident_name(a) == ident_name(b),
                _ => false,
            },
            _ => false,
        },
        _ => false,
    }
}

fn strip_nested(mut expr: &Expr) -> &Expr {
    while let Expr::Nested(inner) = expr {
        expr = inner;
    }
    expr
}

impl Visitor for Collector {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        self.classify(statement);
        let plain_explain = explain_runs(statement) == Some(false);
        if plain_explain {
            self.plain_explain += 1;
        }
        self.statement_stack.push(plain_explain);
        ControlFlow::Continue(())
    }

    fn post_visit_statement(&mut self, _statement: &Statement) -> ControlFlow<()> {
        if self.statement_stack.pop() == Some(true) {
            self.plain_explain = self.plain_explain.saturating_sub(1);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let mut pushed = 0;
        let address: *const Query = query;
        if let Some(i) = self.pending_bodies.iter().position(|(a, _)| *a == address) {
            let (_, names) = self.pending_bodies.swap_remove(i);
            self.scopes.push(Scope {
                names,
                hides_next: true,
            });
            pushed += 1;
        }
        if let Some(with) = &query.with {
            let names: Vec<String> = with
                .cte_tables
                .iter()
                .map(|cte| ident_name(&cte.alias.name))
                .collect();
            for (i, cte) in with.cte_tables.iter().enumerate() {
                let visible = if with.recursive {
                    names.clone()
                } else {
                    names.get(..i).unwrap_or_default().to_vec()
                };
                let body: *const Query = &*cte.query;
                self.pending_bodies.push((body, visible));
            }
            self.scopes.push(Scope {
                names,
                hides_next: false,
            });
            pushed += 1;
        }
        self.scopes_pushed.push(pushed);
        if !query.locks.is_empty() {
            self.write();
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        let pushed = self.scopes_pushed.pop().unwrap_or(0);
        let keep = self.scopes.len().saturating_sub(pushed);
        self.scopes.truncate(keep);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if let Some(into) = &select.into {
            self.kind("ddl");
            self.write();
            for target in &into.targets {
                match target {
                    Expr::Identifier(ident) => {
                        self.table(&ObjectName(vec![ObjectNamePart::Identifier(ident.clone())]));
                    }
                    Expr::CompoundIdentifier(parts) => self.table(&ObjectName(
                        parts
                            .iter()
                            .cloned()
                            .map(ObjectNamePart::Identifier)
                            .collect(),
                    )),
                    _ => {}
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => {
                self.function(name);
                self.function_names.push(name);
            }
            TableFactor::Function { name, .. } => self.function(name),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let address: *const ObjectName = relation;
        if !self.function_names.contains(&address) && !self.is_cte(relation) {
            self.table(relation);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            self.function(&function.name);
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests;

//! The SQL of a stage: parsing with DataFusion's parser, finding the tables it reads, and
//! the rewrites of [`super::rewrite`] applied to the parsed tree.

use std::ops::{ControlFlow, Range};

use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};

use super::rewrite::OrderNames;
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::ast::{self, Spanned as _};
use datafusion::sql::sqlparser::dialect::GenericDialect;

use crate::source::offset_of;

/// A parsed stage query and the tables it reads.
#[derive(Debug, Clone)]
pub struct ParsedQuery {
    /// The statement after the front end's rewrites.
    pub statement: Statement,
    pub reads: Vec<TableRead>,
    /// Columns the rewrites added to the statement's output, which [`Self::plan`] removes.
    pub hidden: Vec<String>,
    /// The statement rewritten with bare names in `ORDER BY` expressions read as output
    /// aliases first, where that differs: planned when [`Self::statement`] does not plan,
    /// so a name that is no input column is the alias, as in DuckDB.
    pub alias_first: Option<Box<(Statement, Vec<String>)>>,
}

impl ParsedQuery {
    /// The query's logical plan in `state`, with the output the SQL asks for (hidden
    /// columns of the rewrites removed, after the sort that needed them).
    pub async fn plan(&self, state: &SessionState) -> datafusion::error::Result<LogicalPlan> {
        let error = match plan_without(state, &self.statement, &self.hidden).await {
            Ok(plan) => return Ok(plan),
            Err(error) => error,
        };
        // Only a name the input lacks sends the query to the alias reading.
        let unresolved = matches!(
            error.find_root(),
            datafusion::error::DataFusionError::SchemaError(schema_error, _) if matches!(**schema_error, datafusion::common::SchemaError::FieldNotFound { .. })
        );
        match &self.alias_first {
            Some(other) if unresolved => plan_without(state, &other.0, &other.1).await.map_err(|_| error),
            _ => Err(error),
        }
    }
}

/// The plan of `statement` without its `hidden` output columns.
async fn plan_without(
    state: &SessionState,
    statement: &Statement,
    hidden: &[String],
) -> datafusion::error::Result<LogicalPlan> {
    let plan = state.statement_to_plan(statement.clone()).await?;
    if hidden.is_empty() {
        return Ok(plan);
    }
    let kept: Vec<Expr> =
        plan.schema().columns().into_iter().filter(|column| !hidden.contains(&column.name)).map(Expr::Column).collect();
    LogicalPlanBuilder::from(plan).project(kept)?.build()
}

/// One table a query reads, by its normalised name, with where it is named in the SQL.
#[derive(Debug, Clone)]
pub struct TableRead {
    pub name: String,
    /// A byte range of the SQL text.
    pub range: Range<usize>,
}

/// Why a stage's SQL was refused, with a byte range of the SQL text.
#[derive(Debug, Clone)]
pub enum SqlProblem {
    Syntax {
        message: String,
        range: Range<usize>,
    },
    NotAQuery {
        what: String,
        range: Range<usize>,
    },
    Empty,
    Several {
        range: Range<usize>,
    },
    /// An operator chain so long that planning it could exhaust the stack.
    TooComplex {
        operators: usize,
    },
    /// Standard SQL that Aqueducts does not run (`FETCH ... PERCENT`, say).
    Unsupported {
        message: String,
        range: Range<usize>,
    },
}

/// Binary operators allowed in one chain (one parenthesis level). Parsers and planners
/// recurse once per operator of a chain; generated SQL with thousands of `AND`s fits.
pub const MAX_OPERATOR_CHAIN: usize = 4000;

/// The longest operator chain at one parenthesis level, counted on tokens (which needs
/// no recursion), so absurd inputs are refused before they are parsed.
fn longest_operator_chain(sql: &str, dialect: &GenericDialect) -> usize {
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(dialect, sql).tokenize() else { return 0 };
    let mut levels = vec![0usize];
    let mut longest = 0;
    for token in tokens {
        let operator = match &token {
            Token::LParen => {
                levels.push(0);
                continue;
            }
            Token::RParen => {
                if levels.len() > 1 {
                    levels.pop();
                }
                continue;
            }
            Token::Word(w) => matches!(w.keyword, Keyword::AND | Keyword::OR),
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Caret
            | Token::Ampersand
            | Token::Pipe => true,
            _ => false,
        };
        if operator && let Some(count) = levels.last_mut() {
            *count += 1;
            longest = longest.max(*count);
        }
    }
    longest
}

/// `TRIM(BOTH FROM x)`, `TRIM(LEADING FROM x)`, `TRIM(TRAILING FROM x)`: standard SQL
/// for trimming spaces, which the parser refuses without a character string before
/// `FROM`. Each is written as `TRIM(x)`, `LTRIM(x)` or `RTRIM(x)` padded with spaces to
/// the same length, so every position in the query stays where it was.
fn trim_without_characters(sql: &str, dialect: &GenericDialect) -> String {
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(dialect, sql).tokenize_with_location() else { return sql.to_string() };
    let tokens: Vec<_> = tokens.into_iter().filter(|t| !matches!(t.token, Token::Whitespace(_))).collect();
    let keyword = |i: usize| match tokens.get(i).map(|t| &t.token) {
        Some(Token::Word(word)) => Some(word.keyword),
        _ => None,
    };
    let mut text = sql.to_string();
    for i in 0..tokens.len() {
        let function = match (keyword(i), tokens.get(i + 1).map(|t| &t.token), keyword(i + 2), keyword(i + 3)) {
            (Some(Keyword::TRIM), Some(Token::LParen), Some(side), Some(Keyword::FROM)) => match side {
                Keyword::BOTH => "TRIM(",
                Keyword::LEADING => "LTRIM(",
                Keyword::TRAILING => "RTRIM(",
                _ => continue,
            },
            _ => continue,
        };
        let (start, end) = (tokens[i].span.start, tokens[i + 3].span.end);
        let start = offset_of(sql, start.line as usize, start.column as usize);
        let end = offset_of(sql, end.line as usize, end.column as usize);
        if end <= start + function.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        text.replace_range(start..end, &format!("{function:<width$}", width = end - start));
    }
    text
}

/// Nesting deeper than this is refused by the parser (instead of exhausting the stack).
const RECURSION_LIMIT: usize = 64;

pub fn parse_query(sql: &str, state: &SessionState) -> Result<ParsedQuery, SqlProblem> {
    let dialect = GenericDialect {};
    let operators = longest_operator_chain(sql, &dialect);
    if operators > MAX_OPERATOR_CHAIN {
        return Err(SqlProblem::TooComplex { operators });
    }
    let normalized = trim_without_characters(sql, &dialect);
    let mut statements = DFParserBuilder::new(normalized.as_str())
        .with_dialect(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .build()
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_problem(sql, &e.strip_backtrace()))?;
    let statement = match statements.len() {
        0 => return Err(SqlProblem::Empty),
        1 => statements.pop_front().ok_or(SqlProblem::Empty)?,
        _ => {
            let second = statement_range(sql, &statements[1]).unwrap_or(0..sql.len());
            return Err(SqlProblem::Several { range: second });
        }
    };
    let query_ok = matches!(&statement, Statement::Statement(s) if matches!(**s, ast::Statement::Query(_)));
    if !query_ok {
        let word = sql.split_whitespace().next().unwrap_or("");
        let start = sql.find(|c: char| !c.is_whitespace()).unwrap_or(0);
        return Err(SqlProblem::NotAQuery { what: word.to_uppercase(), range: start..start + word.len() });
    }
    let reads = table_reads(sql, &statement, state).map_err(|e| syntax_problem(sql, &e.strip_backtrace()))?;
    let rewrite = |names: OrderNames| {
        let mut rewritten = statement.clone();
        super::rewrite::rewrite(&mut rewritten, names).map(|done| (rewritten, done.hidden)).map_err(|problem| {
            SqlProblem::Unsupported {
                range: span_range(sql, problem.span).unwrap_or(0..sql.trim_end().len()),
                message: problem.message,
            }
        })
    };
    let (rewritten, hidden) = rewrite(OrderNames::Input)?;
    let alias_first = rewrite(OrderNames::AliasFirst)?;
    let alias_first = (alias_first.0.to_string() != rewritten.to_string()).then(|| Box::new(alias_first));
    Ok(ParsedQuery { statement: rewritten, reads, hidden, alias_first })
}

fn statement_range(sql: &str, statement: &Statement) -> Option<Range<usize>> {
    match statement {
        Statement::Statement(s) => span_range(sql, s.span()),
        _ => None,
    }
}

/// The byte range of a parser span (lines and columns from 1; 0 when unknown).
fn span_range(sql: &str, span: datafusion::sql::sqlparser::tokenizer::Span) -> Option<Range<usize>> {
    (span.start.line > 0).then(|| {
        let start = offset_of(sql, span.start.line as usize, span.start.column as usize);
        let end = offset_of(sql, span.end.line as usize, span.end.column as usize);
        start..end.max(start)
    })
}

fn table_reads(sql: &str, statement: &Statement, state: &SessionState) -> datafusion::error::Result<Vec<TableRead>> {
    // DataFusion resolves which names are tables (not CTEs); the AST walk finds where
    // each is written.
    let tables = state.resolve_table_references(statement)?;
    let mut located: Vec<(String, Range<usize>)> = Vec::new();
    if let Statement::Statement(s) = statement {
        let _ = ast::visit_relations(&**s, |name: &ast::ObjectName| {
            let span = name.span();
            if span.start.line > 0 {
                let start = offset_of(sql, span.start.line as usize, span.start.column as usize);
                let end = offset_of(sql, span.end.line as usize, span.end.column as usize);
                located.push((normalize_object_name(name), start..end.max(start)));
            }
            ControlFlow::<()>::Continue(())
        });
    }
    // `range(10)` and other table functions are relations too, but read no table.
    let functions = table_function_calls(statement);
    let mut reads: Vec<TableRead> = Vec::new();
    for table in tables {
        let name = table.to_string();
        if functions.contains(&name) && state.table_functions().contains_key(&name) {
            continue;
        }
        let ranges: Vec<_> = located.iter().filter(|(n, _)| *n == name).map(|(_, r)| r.clone()).collect();
        if ranges.is_empty() {
            reads.push(TableRead { name: name.clone(), range: 0..0 });
        }
        for range in ranges {
            reads.push(TableRead { name: name.clone(), range });
        }
    }
    reads.sort_by_key(|r| r.range.start);
    Ok(reads)
}

/// Names called as table functions (`FROM range(10)`).
fn table_function_calls(statement: &Statement) -> Vec<String> {
    struct Calls(Vec<String>);
    impl ast::Visitor for Calls {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &ast::TableFactor) -> ControlFlow<()> {
            if let ast::TableFactor::Table { name, args: Some(_), .. } = factor {
                self.0.push(normalize_object_name(name));
            }
            ControlFlow::Continue(())
        }
    }
    let mut calls = Calls(Vec::new());
    if let Statement::Statement(s) = statement {
        let _ = ast::Visit::visit(&**s, &mut calls);
    }
    calls.0
}

/// Unquoted identifiers fold to lower case, as DataFusion does.
fn normalize_object_name(name: &ast::ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) if ident.quote_style.is_none() => ident.value.to_lowercase(),
            Some(ident) => ident.value.clone(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Normalises a source or stage name the way an unquoted SQL identifier is.
pub fn normalize_name(name: &str) -> String {
    name.to_lowercase()
}

/// Turns a parser message ("... at Line: 2, Column: 7") into a message and a range.
fn syntax_problem(sql: &str, message: &str) -> SqlProblem {
    let message =
        message.trim_start_matches("SQL error: ").trim_start_matches("ParserError(\"").trim_end_matches("\")");
    let message = message.trim_start_matches("sql parser error: ").to_string();
    let (clean, range) = match message.rfind(" at Line: ") {
        Some(i) => {
            let position = &message[i + " at Line: ".len()..];
            let mut numbers = position.split(", Column: ").map(|n| n.trim_end_matches(|c: char| !c.is_ascii_digit()));
            let line = numbers.next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(1);
            let column = numbers.next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(1);
            let start = offset_of(sql, line, column);
            let token_end =
                sql[start..].find(|c: char| c.is_whitespace() || c == ',' || c == ')').map_or(sql.len(), |j| start + j);
            (message[..i].to_string(), start..token_end.max(start + 1).min(sql.len().max(start)))
        }
        None => {
            let end = sql.trim_end().len();
            (message, end..end)
        }
    };
    SqlProblem::Syntax { message: clean, range }
}

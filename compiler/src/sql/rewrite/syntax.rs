//! Building blocks of the rewrites: queries made from templates (parsing a fixed text is
//! sturdier than filling every field of sqlparser's structs), hidden column names, and
//! what a select list calls its columns.

use datafusion::sql::sqlparser::ast::{Expr, Ident, Query, Select, SelectItem, SetExpr, Statement, TableFactor};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Span;

use super::Unsupported;

/// The prefix of the columns rewrites add and remove again; no user column starts so.
pub const HIDDEN: &str = "__aqueducts_";

/// A hidden column name: `__aqueducts_<what>_<n>`.
pub fn hidden(what: &str, n: usize) -> String {
    format!("{HIDDEN}{what}_{n}")
}

/// A query parsed from a fixed text of ours.
pub fn template(sql: &str) -> Result<Query, Unsupported> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| Unsupported {
        message: format!("internal rewrite template does not parse: {e}"),
        span: Span::empty(),
    })?;
    match statements.into_iter().next() {
        Some(Statement::Query(query)) => Ok(*query),
        _ => Err(Unsupported { message: "internal rewrite template is not a query".into(), span: Span::empty() }),
    }
}

/// `SELECT * EXCLUDE (hidden...) FROM (inner) AS alias [WHERE ...]`: `inner` with the
/// hidden columns removed again. `tail` follows the derived table (a `WHERE`, say) and
/// may name the hidden columns.
pub fn without_hidden(inner: Query, hidden: &[String], alias: &str, tail: &str) -> Result<Query, Unsupported> {
    let mut outer = template(&format!("SELECT * EXCLUDE ({}) FROM (SELECT 1) AS {alias} {tail}", hidden.join(", ")))?;
    let SetExpr::Select(select) = outer.body.as_mut() else {
        return Err(Unsupported { message: "internal rewrite template has no SELECT".into(), span: Span::empty() });
    };
    if let Some(TableFactor::Derived { subquery, .. }) = select.from.first_mut().map(|f| &mut f.relation) {
        **subquery = inner;
    }
    Ok(outer)
}

/// The names a select list gives its columns, where they are plain: aliases, and column
/// references by their last part. `None` for a wildcard or an unnamed expression (whose
/// name only DataFusion knows, and which differs from every plain name).
pub fn output_names(select: &Select) -> Vec<Option<String>> {
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(normalize(alias)),
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) => Some(normalize(ident)),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => parts.last().map(normalize),
            _ => None,
        })
        .collect()
}

/// An identifier as DataFusion resolves it: unquoted ones fold to lower case.
pub fn normalize(ident: &Ident) -> String {
    if ident.quote_style.is_none() { ident.value.to_lowercase() } else { ident.value.clone() }
}

/// A bare identifier expression.
pub fn identifier(name: &str) -> Expr {
    Expr::Identifier(Ident::new(name))
}

//! Building blocks of the rewrites: queries made from templates (parsing a fixed text is
//! sturdier than filling every field of sqlparser's structs), hidden column names, and
//! what a select list calls its columns.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, OrderBy, OrderByKind, Query,
    Select, SelectItem, SetExpr, Statement, TableFactor, Value, ValueWithSpan, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Span;

use super::outcome::Unsupported;

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

/// An expression parsed from a fixed text of ours in which `$0`, `$1`, ... stand for
/// `args` (written as identifiers `__aqueducts_arg_0`, ...).
pub fn expression(sql: &str, args: Vec<Expr>) -> Result<Expr, Unsupported> {
    let mut text = sql.to_string();
    for i in (0..args.len()).rev() {
        text = text.replace(&format!("${i}"), &format!("{HIDDEN}arg_{i}"));
    }
    let query = template(&format!("SELECT {text}"))?;
    let SetExpr::Select(select) = *query.body else {
        return Err(Unsupported { message: "internal rewrite template has no SELECT".into(), span: Span::empty() });
    };
    let Some(SelectItem::UnnamedExpr(mut expr)) = select.projection.into_iter().next() else {
        return Err(Unsupported { message: "internal rewrite template has no expression".into(), span: Span::empty() });
    };
    struct Fill(Vec<Option<Expr>>);
    impl VisitorMut for Fill {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::Identifier(ident) = expr
                && let Some(i) = ident.value.strip_prefix(HIDDEN).and_then(|n| n.strip_prefix("arg_"))
                && let Some(arg) = i.parse::<usize>().ok().and_then(|i| self.0.get_mut(i)).and_then(Option::take)
            {
                *expr = arg;
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(&mut expr, &mut Fill(args.into_iter().map(Some).collect()));
    Ok(expr)
}

/// A string literal.
pub fn string(text: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(text.to_string()))
}

/// The text of a string literal, if `expr` is one.
pub fn string_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Value(ValueWithSpan { value: Value::SingleQuotedString(s), .. }) => Some(s),
        _ => None,
    }
}

/// The lower-case name of a function called by a one-part name.
pub fn function_name(function: &Function) -> Option<String> {
    match function.name.0.as_slice() {
        [part] => part.as_ident().map(normalize),
        _ => None,
    }
}

/// The plain arguments of a call (no names, no wildcards), if all are plain.
pub fn plain_arguments(function: &Function) -> Option<Vec<&Expr>> {
    let FunctionArguments::List(list) = &function.args else { return None };
    list.args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr),
            _ => None,
        })
        .collect()
}

/// The leftmost `SELECT` of a query body (the first branch of a set operation).
pub fn leftmost_select(body: &mut SetExpr) -> Option<&mut Select> {
    match body {
        SetExpr::Select(select) => Some(select),
        SetExpr::SetOperation { left, .. } => leftmost_select(left),
        SetExpr::Query(query) => leftmost_select(&mut query.body),
        _ => None,
    }
}

/// Names the items of the query's first `SELECT` after `names` (as many as there are
/// items, none a wildcard), unless an alias they replace is read by name in the
/// query's `ORDER BY` or the select's `GROUP BY`, `HAVING` or `QUALIFY` (where the new
/// name would make the old one read an input column instead). Whether it named them.
pub fn rename_select_items(query: &mut Query, names: &[Ident]) -> bool {
    let mut read: Vec<String> = Vec::new();
    let mut collect = |expr: &Expr| {
        let _ = expr.visit(&mut ReadNames(&mut read));
    };
    if let Some(OrderBy { kind: OrderByKind::Expressions(items), .. }) = &query.order_by {
        items.iter().for_each(|item| collect(&item.expr));
    }
    let Some(select) = leftmost_select(&mut query.body) else { return false };
    if select.projection.len() != names.len() {
        return false;
    }
    if let GroupByExpr::Expressions(exprs, _) = &select.group_by {
        exprs.iter().for_each(&mut collect);
    }
    select.having.iter().chain(&select.qualify).for_each(&mut collect);
    let replaced = select.projection.iter().zip(names).any(|(item, name)| match item {
        SelectItem::ExprWithAlias { alias, .. } => {
            normalize(alias) != normalize(name) && read.contains(&normalize(alias))
        }
        _ => false,
    });
    if replaced
        || select
            .projection
            .iter()
            .any(|item| !matches!(item, SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }))
    {
        return false;
    }
    for (item, name) in select.projection.iter_mut().zip(names) {
        if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } = item {
            *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias: name.clone() };
        }
    }
    true
}

/// Collects the bare names an expression reads.
struct ReadNames<'a>(&'a mut Vec<String>);

impl Visitor for ReadNames<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Identifier(ident) = expr {
            self.0.push(normalize(ident));
        }
        ControlFlow::Continue(())
    }
}

/// `SELECT * EXCLUDE (hidden...) FROM (inner) AS alias`: `inner` with the hidden
/// columns removed again.
pub fn without_hidden(inner: Query, hidden: &[String], alias: &str) -> Result<Query, Unsupported> {
    let mut outer = template(&format!("SELECT * EXCLUDE ({}) FROM (SELECT 1) AS {alias}", hidden.join(", ")))?;
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

/// `expr` without the parentheses around it.
pub fn unnested(mut expr: &Expr) -> &Expr {
    while let Expr::Nested(inner) = expr {
        expr = inner;
    }
    expr
}

/// A bare identifier expression.
pub fn identifier(name: &str) -> Expr {
    Expr::Identifier(Ident::new(name))
}

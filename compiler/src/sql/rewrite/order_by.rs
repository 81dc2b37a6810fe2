//! `ORDER BY` expressions over input columns that an output alias shadows.
//!
//! In PostgreSQL an `ORDER BY` item that is just an output column's name or position
//! sorts by that output column; any other expression is computed from the input
//! columns, whatever the select list calls its outputs. DataFusion looks names up among
//! the outputs first, and refuses as ambiguous an expression that names a qualified
//! input column an alias shadows (`SELECT upper(c.name) AS name ... ORDER BY c.name`).
//! Such an expression is computed in the select list under a hidden name and the query
//! is sorted by that. So is an expression that holds a subquery (`ORDER BY (SELECT
//! sum(...) ... WHERE oi.product_id = p.id) DESC`): DataFusion turns correlated
//! subqueries into joins in select lists and filters, not in sorts. A nested query gets an outer query that removes the hidden column
//! again; the statement's own query keeps it, and planning removes it (see the
//! [module docs](super)):
//!
//! ```sql
//! SELECT upper(c.name) AS name FROM customers c ORDER BY c.name
//! -- becomes
//! SELECT * EXCLUDE (__aqueducts_order_1) FROM (
//!   SELECT upper(c.name) AS name, c.name AS __aqueducts_order_1 FROM customers c
//!   ORDER BY __aqueducts_order_1) AS __aqueducts_ordered
//! ```
//!
//! A select list computes its expressions from the input columns, exactly as
//! PostgreSQL computes such an `ORDER BY` expression, so the order is PostgreSQL's.
//! Queries without such an expression are left as they are, and so are `SELECT
//! DISTINCT` (PostgreSQL requires its `ORDER BY` expressions in the select list, so
//! there is nothing to move) and nested select lists whose columns the outer `*` could
//! not tell apart (a wildcard, a name used twice).

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, OrderBy, OrderByKind, Query, SelectItem, SetExpr, Value, ValueWithSpan, Visit, Visitor,
};

use super::outcome::{OrderNames, Placement, Unsupported};
use super::syntax::{hidden, identifier, normalize, output_names, unnested, without_hidden};

/// Rewrites `query` if it sorts by a shadowed input column or a subquery; returns the
/// hidden columns it leaves in the output (only for the statement's own query).
pub fn rewrite(query: &mut Query, placement: Placement, names: OrderNames) -> Result<Vec<String>, Unsupported> {
    let Some(OrderBy { kind: OrderByKind::Expressions(items), .. }) = &query.order_by else { return Ok(vec![]) };
    let SetExpr::Select(select) = query.body.as_ref() else { return Ok(vec![]) };
    if select.distinct.is_some() {
        return Ok(vec![]);
    }
    let aliases: HashSet<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(normalize(alias)),
            _ => None,
        })
        .collect();
    let moved: Vec<usize> = (0..items.len())
        .filter(|&i| reads_shadowed_input(&items[i].expr, &aliases, names) || holds_subquery(&items[i].expr))
        .collect();
    if moved.is_empty() {
        return Ok(vec![]);
    }
    // The outer query keeps the columns through `*`, which needs distinct names.
    let wildcard = select
        .projection
        .iter()
        .any(|item| matches!(item, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)));
    let mut seen = HashSet::new();
    if placement == Placement::Nested
        && (wildcard || !output_names(select).into_iter().flatten().all(|name| seen.insert(name)))
    {
        return Ok(vec![]);
    }

    let mut hidden_names = Vec::new();
    if let (Some(OrderBy { kind: OrderByKind::Expressions(items), .. }), SetExpr::Select(select)) =
        (query.order_by.as_mut(), query.body.as_mut())
    {
        for (n, &i) in moved.iter().enumerate() {
            let name = hidden("order", n + 1);
            let expr = std::mem::replace(&mut items[i].expr, identifier(&name));
            select.projection.push(SelectItem::ExprWithAlias { expr, alias: Ident::new(&name) });
            hidden_names.push(name);
        }
    }
    if placement == Placement::Statement {
        return Ok(hidden_names);
    }
    let inner = std::mem::replace(query, super::syntax::template("SELECT 1")?);
    *query = without_hidden(inner, &hidden_names, "__aqueducts_ordered")?;
    Ok(vec![])
}

/// Whether an expression holds a subquery.
fn holds_subquery(expr: &Expr) -> bool {
    struct Finds;
    impl Visitor for Finds {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        }
    }
    expr.visit(&mut Finds).is_break()
}

/// Whether an `ORDER BY` expression computes from an input column that an output alias
/// shadows: it is not just an output name or a position, and names a column (qualified
/// or not) whose name an alias also has.
fn reads_shadowed_input(expr: &Expr, aliases: &HashSet<String>, names: OrderNames) -> bool {
    if aliases.is_empty() {
        return false;
    }
    // `(name)` is `name`: PostgreSQL's grammar drops the parentheses.
    match unnested(expr) {
        Expr::Identifier(_) => return false,
        Expr::Value(ValueWithSpan { value: Value::Number(..), .. }) => return false,
        _ => {}
    }
    struct Finds<'a>(&'a HashSet<String>, OrderNames);
    impl Visitor for Finds<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            let name = match expr {
                Expr::Identifier(ident) if self.1 == OrderNames::Input => Some(normalize(ident)),
                Expr::CompoundIdentifier(parts) => parts.last().map(normalize),
                _ => None,
            };
            if name.is_some_and(|n| self.0.contains(&n)) { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        }
    }
    expr.visit(&mut Finds(aliases, names)).is_break()
}

//! Column lists on CTEs and derived tables (`WITH RECURSIVE fib(i, a, b) AS (SELECT 1, 0,
//! 1 ...)`, `(SELECT ...) AS t(x, y)`): the names go onto the select list of the query's
//! first `SELECT` as aliases too.
//!
//! DataFusion names the query's columns before it applies the list, and refuses a
//! select list whose unnamed columns would share a name (`1` and `1`, or `id` and
//! `id`). With the list's names as aliases, the columns are named as the list says
//! from the start, which is what the list means.

use datafusion::sql::sqlparser::ast::{Query, SelectItem, TableAlias};

use super::syntax::leftmost_select;

/// Names the first `SELECT`'s columns after `alias`'s column list, when both have the
/// same number of columns and none is a wildcard.
pub fn name_columns(query: &mut Query, alias: &TableAlias) {
    if alias.columns.is_empty() {
        return;
    }
    let Some(select) = leftmost_select(&mut query.body) else { return };
    if select.projection.len() != alias.columns.len() {
        return;
    }
    for (item, column) in select.projection.iter_mut().zip(&alias.columns) {
        let expr = match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr.clone(),
            _ => return,
        };
        *item = SelectItem::ExprWithAlias { expr, alias: column.name.clone() };
    }
}

//! Column lists on CTEs and derived tables (`WITH RECURSIVE fib(i, a, b) AS (SELECT 1, 0,
//! 1 ...)`, `(SELECT ...) AS t(x, y)`): the names go onto the select list of the query's
//! first `SELECT` as aliases too.
//!
//! DataFusion names the query's columns before it applies the list, and refuses a
//! select list whose unnamed columns would share a name (`1` and `1`, or `id` and
//! `id`). With the list's names as aliases, the columns are named as the list says
//! from the start, which is what the list means.

use datafusion::sql::sqlparser::ast::{Ident, Query, TableAlias};

use super::syntax::rename_select_items;

/// Names the first `SELECT`'s columns after `alias`'s column list, when both have the
/// same number of columns and none is a wildcard (see [`rename_select_items`]).
pub fn name_columns(query: &mut Query, alias: &TableAlias) {
    if alias.columns.is_empty() {
        return;
    }
    let names: Vec<Ident> = alias.columns.iter().map(|column| column.name.clone()).collect();
    rename_select_items(query, &names);
}

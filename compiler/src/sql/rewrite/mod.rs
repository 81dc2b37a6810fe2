//! Rewrites of a parsed query where DataFusion's SQL planner reads standard SQL
//! differently from PostgreSQL, or not at all. Each keeps the query's meaning in
//! PostgreSQL and applies only to the shape it mends, so no other query changes:
//!
//! - [`fetch`]: `FETCH FIRST n ROWS ONLY` is a `LIMIT`; `WITH TIES` keeps the rows that
//!   tie with the last one, through `rank()`.
//! - [`order_by`]: an `ORDER BY` expression that names an input column which an output
//!   alias shadows (`SELECT upper(c.name) AS name ... ORDER BY c.name`) sorts by the
//!   input column, computed in the select list under a hidden name; so does one that
//!   holds a subquery, which DataFusion can plan in a select list only.
//! - [`expressions`]: operator precedence of `IS DISTINCT FROM`, `mod()`, regular
//!   expression `substring`, `LIKE ... ESCAPE`, `SIMILAR TO`, `FILTER` in windows,
//!   `ANY`/`ALL` subqueries, percentiles of an array of fractions.
//! - [`columns`]: column lists of CTEs and derived tables name the select list.
//! - [`windows`]: a window refining a named one (`OVER (w ORDER BY x)`).
//! - [`table_functions`]: `generate_series` and `unnest` in `FROM` over columns of the
//!   tables before them.
//! - [`using`]: the merged key of `FULL`/`RIGHT JOIN ... USING`.
//! - [`aggregates`]: `string_agg`s ordered by different keys in one query.
//!
//! Every query of the statement is visited, innermost first (subqueries, CTEs, derived
//! tables, set operations), so a rewrite sees queries whose parts are already rewritten.
//! Hidden columns of a nested query are removed by an outer query around it; those of
//! the statement's own query cannot be (DataFusion drops the `ORDER BY` of a subquery
//! without a limit), so [`Rewritten::hidden`] names them and planning removes them
//! from the plan (`ParsedQuery::plan`).

mod aggregates;
mod columns;
mod expressions;
mod fetch;
mod order_by;
mod syntax;
mod table_functions;
mod using;
mod windows;

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{self, Query, VisitMut, VisitorMut};

/// Why a query cannot be rewritten into something DataFusion plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub message: String,
    /// Where, as a span of the SQL text (line and column, 1-based; 0 when unknown).
    pub span: datafusion::sql::sqlparser::tokenizer::Span,
}

/// What rewriting left for planning to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// Hidden columns in the statement's own output, to be removed after planning.
    pub hidden: Vec<String>,
}

/// Where a query is: its hidden columns are removed by an outer query when nested, by
/// planning when it is the statement's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Nested,
    Statement,
}

/// Applies every rewrite to every query of `statement`.
pub fn rewrite(statement: &mut Statement) -> Result<Rewritten, Unsupported> {
    /// Rewrites the nested queries; the statement's own query (depth 1) is left for
    /// the caller.
    struct Nested {
        depth: usize,
    }
    impl VisitorMut for Nested {
        type Break = Unsupported;
        fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<Unsupported> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Unsupported> {
            self.depth -= 1;
            if let Some(with) = &mut query.with {
                for cte in &mut with.cte_tables {
                    columns::name_columns(&mut cte.query, &cte.alias);
                }
            }
            if self.depth == 0 {
                return ControlFlow::Continue(());
            }
            done(rewrite_query(query, Placement::Nested).map(|_| ()))
        }
        fn post_visit_select(&mut self, select: &mut ast::Select) -> ControlFlow<Unsupported> {
            windows::compose_named_windows(select);
            using::merge_using_columns(select);
            aggregates::separate_orderings(select);
            ControlFlow::Continue(())
        }
        fn post_visit_table_factor(&mut self, factor: &mut ast::TableFactor) -> ControlFlow<Unsupported> {
            if let ast::TableFactor::Derived { subquery, alias: Some(alias), .. } = factor {
                columns::name_columns(subquery, alias);
            }
            done(table_functions::rewrite(factor))
        }
        fn post_visit_expr(&mut self, expr: &mut ast::Expr) -> ControlFlow<Unsupported> {
            done(expressions::rewrite(expr))
        }
    }
    fn done(result: Result<(), Unsupported>) -> ControlFlow<Unsupported> {
        match result {
            Ok(()) => ControlFlow::Continue(()),
            Err(problem) => ControlFlow::Break(problem),
        }
    }
    let Statement::Statement(statement) = statement else { return Ok(Rewritten::default()) };
    if let ControlFlow::Break(problem) = statement.visit(&mut Nested { depth: 0 }) {
        return Err(problem);
    }
    let ast::Statement::Query(query) = statement.as_mut() else { return Ok(Rewritten::default()) };
    Ok(Rewritten { hidden: rewrite_query(query, Placement::Statement)? })
}

/// Every rewrite of one query; the hidden columns left in its output.
fn rewrite_query(query: &mut Query, placement: Placement) -> Result<Vec<String>, Unsupported> {
    fetch::rewrite(query)?;
    order_by::rewrite(query, placement)
}

#[cfg(test)]
mod tests;

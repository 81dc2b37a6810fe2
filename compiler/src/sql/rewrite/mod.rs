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
//! [`walk`] visits every query of the statement, innermost first (subqueries, CTEs,
//! derived tables, set operations), so a rewrite sees queries whose parts are already
//! rewritten; [`outcome`] holds what it reports.
//! Hidden columns of a nested query are removed by an outer query around it; those of
//! the statement's own query cannot be (DataFusion drops the `ORDER BY` of a subquery
//! without a limit), so [`Rewritten::hidden`] names them and planning removes them
//! from the plan (`ParsedQuery::plan`).

mod aggregates;
mod columns;
mod expressions;
mod fetch;
mod order_by;
mod outcome;
mod syntax;
mod table_functions;
mod using;
mod walk;
mod windows;

pub use outcome::{OrderNames, Rewritten, Unsupported};
pub use walk::rewrite;

#[cfg(test)]
mod tests;

//! Our logical rules, run by DataFusion's analyzer and optimizer in every session that
//! plans SQL ([`super::session`]):
//!
//! - [`arithmetic::PostgresArithmetic`] (analyzer, before type coercion): `interval * n`,
//!   and decimal quotients and averages with PostgreSQL's precision.
//! - [`casts::PostgresCasts`] (analyzer, after type coercion): casts as PostgreSQL casts:
//!   floats and decimals round to integers instead of truncating, timestamps, times,
//!   intervals and floats become text as PostgreSQL writes them.
//! - [`set_all::SetOperationsAll`] (analyzer, after type coercion): `INTERSECT ALL` and
//!   `EXCEPT ALL` keep as many copies of a row as PostgreSQL does.
//! - [`projection_predicates::ProjectionPredicates`] (optimizer, first): `EXISTS`, `IN`,
//!   `ANY` and `ALL` in a select list become counts DataFusion can join.
//! - Before DataFusion decorrelates subqueries (optimizer), in this order:
//!   [`lateral_rowwise::LateralRowwise`] computes a `LATERAL` subquery without `FROM`
//!   row by row; [`domain::CorrelationDomain`] makes correlations that are not
//!   equalities into equalities on the domain of the outer values; and
//!   [`subquery_limit::SubqueryLimit`] turns a correlated subquery's `LIMIT` (the first
//!   rows per outer row) into a ranked window. DataFusion then turns them into joins.
//! - [`sort_keys::SortKeys`] (optimizer, in place of DataFusion's
//!   `eliminate_duplicated_expr`): never drops an `ORDER BY` key that is not truly
//!   determined by the keys before it.

pub mod arithmetic;
pub mod casts;
pub mod domain;
mod expressions;
pub mod lateral_rowwise;
pub mod projection_predicates;
pub mod set_all;
pub mod sort_keys;
mod subqueries;
pub mod subquery_limit;

//! Our logical rules, run by DataFusion's analyzer and optimizer in every session that
//! plans SQL ([`super::session`]):
//!
//! - [`casts::PostgresCasts`] (analyzer, after type coercion): casts as PostgreSQL casts:
//!   floats and decimals round to integers instead of truncating, timestamps, times,
//!   intervals and floats become text as PostgreSQL writes them.
//! - [`set_all::SetOperationsAll`] (analyzer, after type coercion): `INTERSECT ALL` and
//!   `EXCEPT ALL` keep as many copies of a row as PostgreSQL does.
//! - [`lateral_limit::LateralLimit`] (optimizer, before DataFusion decorrelates lateral
//!   joins): a `LATERAL` subquery that takes the first rows per outer row
//!   (`... WHERE i.k = o.k ORDER BY x LIMIT n`) becomes a ranked window, which
//!   DataFusion can then turn into a join.
//! - [`sort_keys::SortKeys`] (optimizer, in place of DataFusion's
//!   `eliminate_duplicated_expr`): never drops an `ORDER BY` key that is not truly
//!   determined by the keys before it.

pub mod casts;
pub mod lateral_limit;
pub mod set_all;
pub mod sort_keys;

//! The Aqueducts orchestrator: queues, schedules and records runs of managed executors.
//!
//! Everything it must not forget lives in a database ([`db`]): SQLite in its data
//! directory by default, or a PostgreSQL server. Both are reached through one set of
//! queries (sqlx's `Any` driver), so the same storage tests hold both to one contract.
//! User keys ([`db::keys`]) are stored as hashes only.

pub mod db;
pub mod options;

pub use db::Db;
pub use options::{Command, Options};

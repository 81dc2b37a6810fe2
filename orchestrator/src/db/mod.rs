//! The orchestrator's database: what must survive a restart (a `kill -9` included).
//!
//! [`Db`] wraps a pool of sqlx's `Any` driver over SQLite or PostgreSQL. Queries are
//! written once for both: times are milliseconds since the Unix epoch in 64-bit
//! integers, flags are integers 0/1, structured values are JSON text, placeholders are
//! `$1`, `$2`... (which SQLite reads too). The schema is created and upgraded by
//! [`migrations`] when the database is opened.

pub mod keys;
pub mod migrations;
pub mod pipelines;
pub mod pool;
pub mod runs;

pub use pool::{Backend, Db, DbError, now_ms, redact};

/// Opens the database at `url` (creating a SQLite file when needed) and brings its
/// schema to this orchestrator's version.
pub async fn open(url: &str) -> Result<Db, DbError> {
    let db = Db::connect(url).await?;
    migrations::migrate(&db).await?;
    Ok(db)
}

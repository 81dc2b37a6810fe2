//! The connection pool to the orchestrator's database, and what every table module
//! shares (errors, times).

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

/// Which database serves the orchestrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Why the database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("`{0}` is not a database URL the orchestrator reads: use sqlite://PATH or postgres://...")]
    UnknownUrl(String),
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("the database {0} has schema version {1}, newer than this orchestrator's ({2}); use a newer orchestrator")]
    NewerSchema(String, i64, i64),
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("a stored value is not what this orchestrator wrote: {0}")]
    Corrupt(String),
}

/// The orchestrator's database.
#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// The URL without its password, for logs and errors.
    pub display_url: String,
}

impl Db {
    /// Connects to the database at `url` (creating a SQLite file when needed), as it
    /// is: [`super::open`] also migrates it.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::UnknownUrl(redact(url)));
        };
        let display_url = redact(url);
        let open_error = |source| DbError::Open { url: display_url.clone(), source };
        let options = AnyConnectOptions::from_str(url).map_err(open_error)?.disable_statement_logging();
        let pool = match backend {
            // WAL with `synchronous = NORMAL` loses no committed transaction when the
            // process is killed (only a power loss can take the last ones).
            Backend::Sqlite => AnyPoolOptions::new()
                .max_connections(4)
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        connection
                            .execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
                .map_err(open_error)?,
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .map_err(open_error)?,
        };
        Ok(Db { pool, backend, display_url })
    }

    /// The default database: a SQLite file in `data_dir`.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("orchestrator.db").display())
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// `url` without its passwords (of the user part and a `password` parameter); a URL
/// that does not parse, or is not a database URL, is not shown at all, since where its
/// password is is unknown.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return match url.split_once("://") {
            Some((scheme, _)) if scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') => {
                format!("{scheme}://(not shown: it does not parse as a URL)")
            }
            _ => "(not shown: it does not parse as a URL)".into(),
        };
    };
    // Anything else may be a mistyped URL with a secret where a host should be.
    if !["sqlite", "postgres", "postgresql"].contains(&parsed.scheme()) {
        return "(not shown: not a sqlite:// or postgres:// URL)".into();
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let has_password_parameter = parsed.query_pairs().any(|(key, _)| key.eq_ignore_ascii_case("password"));
    if has_password_parameter {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if key.eq_ignore_ascii_case("password") { "***".into() } else { value.into_owned() };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_left_out_of_urls() {
        assert_eq!(
            redact("postgres://orch:s3cret@db:5432/aq?sslmode=require"),
            "postgres://orch:***@db:5432/aq?sslmode=require"
        );
        assert_eq!(redact("sqlite:///var/aq/orchestrator.db?mode=rwc"), "sqlite:///var/aq/orchestrator.db?mode=rwc");
        assert_eq!(redact("postgres://h/db?user=u&password=s3cret"), "postgres://h/db?user=u&password=***");
        assert_eq!(redact("postgres://orch@db/aq"), "postgres://orch@db/aq");
        assert!(!redact("postgres://u:pa/ss@h/db").contains("pa/ss"));
        assert!(!redact("u:s3cret@h").contains("s3cret"));
    }
}

//! Opening a Delta table at its latest version, at a version, or as of a time, through
//! the object store DataFusion has registered for the table's location (built from the
//! spec's `storage_config` like every other store, see [`crate::io::stores`]).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use deltalake_core::logstore::{LogStore, LogStoreRef, StorageConfig, default_logstore};
use deltalake_core::{DeltaTable, DeltaTableError};
use futures::FutureExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use url::Url;

use crate::io::stores::store_url;

/// Which version of a table to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TablePoint {
    Latest,
    Version(u64),
    /// The latest version committed at or before this time.
    AsOf(DateTime<Utc>),
}

/// A table that could not be opened, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaOpenError {
    #[error("there is no Delta table at `{0}` (no `_delta_log` with a commit)")]
    NotATable(String),
    #[error("the table has no version {requested}: its latest version is {latest}")]
    NoSuchVersion { requested: u64, latest: u64 },
    #[error("{requested} is before the table's first commit (version {first}, committed {first_committed})")]
    BeforeFirstCommit { requested: DateTime<Utc>, first: u64, first_committed: DateTime<Utc> },
    #[error("no object store is set up for `{0}`")]
    NoStore(String),
    #[error("cannot read the Delta table at `{url}`: {message}")]
    Unreadable { url: String, message: String },
}

/// The URL of the table at `location`: a URL as written (normalized by the caller), or an
/// absolute local path; always ending in `/`, as Delta table roots do.
pub fn table_url(location: &str) -> Result<Url, DeltaOpenError> {
    let not_a_location = || DeltaOpenError::NotATable(location.to_string());
    let mut url = match Url::parse(location) {
        // One letter is a Windows drive, not a scheme.
        Ok(url) if url.scheme().len() > 1 => url,
        _ => Url::from_directory_path(location).map_err(|()| not_a_location())?,
    };
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The key the store holding `url` is registered under in DataFusion.
pub fn object_store_url(url: &Url) -> Result<ObjectStoreUrl, DeltaOpenError> {
    if url.scheme() == "file" {
        return Ok(ObjectStoreUrl::local_filesystem());
    }
    ObjectStoreUrl::parse(store_url(url)).map_err(|_| DeltaOpenError::NoStore(url.to_string()))
}

/// The table's log store over the store `env` has for its location.
pub fn log_store(url: &Url, env: &RuntimeEnv) -> Result<LogStoreRef, DeltaOpenError> {
    let key = object_store_url(url)?;
    let root = env.object_store(&key).map_err(|_| DeltaOpenError::NoStore(key.as_str().to_string()))?;
    let config = StorageConfig::default();
    let prefixed = config.decorate_store(root.clone(), url).map_err(|e| unreadable(url, &e))?;
    Ok(default_logstore(Arc::from(prefixed), root, url, &config))
}

fn unreadable(url: &Url, error: &DeltaTableError) -> DeltaOpenError {
    let message = error.to_string();
    let message = message.lines().next().unwrap_or_default().to_string();
    DeltaOpenError::Unreadable { url: url.to_string(), message }
}

/// Opens the table at `url` at `point`. `deltalake` asserts on some malformed logs: a
/// panic while reading one is an error here.
pub async fn open_table(url: &Url, env: &RuntimeEnv, point: TablePoint) -> Result<DeltaTable, DeltaOpenError> {
    let log_store = log_store(url, env)?;
    let opening = AssertUnwindSafe(open_with(url, log_store, point)).catch_unwind();
    opening.await.unwrap_or_else(|_| {
        Err(DeltaOpenError::Unreadable { url: url.to_string(), message: "its log could not be read".into() })
    })
}

async fn open_with(url: &Url, log_store: LogStoreRef, point: TablePoint) -> Result<DeltaTable, DeltaOpenError> {
    let not_a_table = || DeltaOpenError::NotATable(url.to_string());
    match log_store.is_delta_table_location().await {
        Ok(true) => {}
        Ok(false) | Err(DeltaTableError::NotATable(_)) | Err(DeltaTableError::InvalidVersion(_)) => {
            return Err(not_a_table());
        }
        Err(e) => return Err(unreadable(url, &e)),
    }
    let mut table = DeltaTable::new(log_store);
    let latest = table.get_latest_version().await.map_err(|e| match e {
        DeltaTableError::NotATable(_) | DeltaTableError::InvalidVersion(_) => not_a_table(),
        other => unreadable(url, &other),
    })?;
    match point {
        TablePoint::Latest => table.load_version(latest).await.map_err(|e| unreadable(url, &e))?,
        TablePoint::Version(requested) if requested > latest => {
            return Err(DeltaOpenError::NoSuchVersion { requested, latest });
        }
        TablePoint::Version(requested) => table.load_version(requested).await.map_err(|e| unreadable(url, &e))?,
        TablePoint::AsOf(requested) => {
            table.load_with_datetime(requested).await.map_err(|e| unreadable(url, &e))?;
            // `deltalake` reads the earliest version for a time before it; that is a
            // version the table did not have yet.
            let loaded = table.version().unwrap_or(0);
            if let Some(committed) = commit_time(&table, loaded).await
                && committed > requested
            {
                return Err(DeltaOpenError::BeforeFirstCommit { requested, first: loaded, first_committed: committed });
            }
        }
    }
    Ok(table)
}

/// When `version` was committed: its log entry's modification time, the clock `deltalake`
/// travels by.
pub async fn commit_time(table: &DeltaTable, version: u64) -> Option<DateTime<Utc>> {
    let entry = Path::from(format!("_delta_log/{version:020}.json"));
    let meta = table.log_store().object_store(None).head(&entry).await.ok()?;
    Some(meta.last_modified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_become_table_roots() {
        assert_eq!(table_url("/data/t").unwrap().as_str(), "file:///data/t/");
        assert_eq!(table_url("/data/t/").unwrap().as_str(), "file:///data/t/");
        assert_eq!(table_url("s3://bucket/tables/t").unwrap().as_str(), "s3://bucket/tables/t/");
        assert_eq!(table_url("az://container/t/").unwrap().as_str(), "az://container/t/");
        assert!(table_url("relative/path").is_err());
        assert_eq!(object_store_url(&table_url("s3://bucket/t").unwrap()).unwrap().as_str(), "s3://bucket/");
        assert_eq!(object_store_url(&table_url("/x").unwrap()).unwrap().as_str(), "file:///");
    }
}

//! Replacing a destination on an object store (S3, GCS, Azure) only when the run succeeded.
//!
//! Object stores have no rename and no directory swap. The write goes to a hidden
//! sibling prefix (`.NAME.aqueducts-staging-PID-NANOS`), outside the destination, so a
//! failed or stopped run never touches the previous objects. On success the staged
//! objects are copied into place (a copy replaces an object whole: readers see the old
//! or the new object, never a part), previous objects the new output does not replace
//! are deleted, and the staging prefix is removed. A staging prefix left by a killed
//! process is removed by the next write to the same destination once it is an hour old.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

const STAGING_MARK: &str = ".aqueducts-staging-";
/// Debris younger than this may belong to a run still going (on another machine).
const DEBRIS_AGE: Duration = Duration::from_secs(3600);

/// A staging prefix for one destination on an object store.
pub struct ObjectStaging {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket`, for URLs and messages.
    store_url: String,
    target: Path,
    staging: Path,
    directory: bool,
}

impl ObjectStaging {
    /// Prepares staging next to `target` and removes old debris of earlier runs.
    pub async fn new(
        store: Arc<dyn ObjectStore>,
        store_url: &str,
        target: Path,
        directory: bool,
    ) -> object_store::Result<Self> {
        let name = target.filename().unwrap_or_default().to_string();
        let parent = parent_of(&target);
        sweep(store.as_ref(), &parent, &name).await;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let staging = parent.clone().join(format!(".{name}{STAGING_MARK}{}-{nanos}", std::process::id()));
        Ok(ObjectStaging { store, store_url: store_url.trim_end_matches('/').to_string(), target, staging, directory })
    }

    /// The URL the writer writes to (ending in `/` for a directory).
    pub fn url(&self) -> String {
        let slash = if self.directory { "/" } else { "" };
        format!("{}/{}{slash}", self.store_url, self.staging)
    }

    /// The destination, as users wrote it (without credentials).
    pub fn target_url(&self) -> String {
        let slash = if self.directory { "/" } else { "" };
        format!("{}/{}{slash}", self.store_url, self.target)
    }

    /// Copies the staged output into place, then removes what it replaced and the staging.
    pub async fn commit(self) -> object_store::Result<()> {
        if !self.directory {
            match self.store.head(&self.staging).await {
                Ok(_) => {
                    self.store.copy(&self.staging, &self.target).await?;
                    delete_quietly(self.store.as_ref(), &self.staging).await;
                }
                // Nothing was written: the output is empty.
                Err(object_store::Error::NotFound { .. }) => {
                    self.store.put(&self.target, Vec::<u8>::new().into()).await?;
                }
                Err(e) => return Err(e),
            }
            return Ok(());
        }
        let staged: Vec<Path> = self.store.list(Some(&self.staging)).map_ok(|m| m.location).try_collect().await?;
        let previous: Vec<Path> = match self.store.list(Some(&self.target)).map_ok(|m| m.location).try_collect().await {
            Ok(previous) => previous,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut written = BTreeSet::new();
        for file in &staged {
            let Some(relative) = file.prefix_match(&self.staging) else { continue };
            let destination = Path::from_iter(self.target.parts().chain(relative));
            self.store.copy(file, &destination).await?;
            written.insert(destination);
        }
        for old in previous.iter().filter(|p| !written.contains(*p)) {
            delete_quietly(self.store.as_ref(), old).await;
        }
        for file in &staged {
            delete_quietly(self.store.as_ref(), file).await;
        }
        Ok(())
    }

    /// Removes everything staged (the run failed or was stopped).
    pub async fn abort(self) {
        if !self.directory {
            delete_quietly(self.store.as_ref(), &self.staging).await;
            return;
        }
        if let Ok(staged) = self.store.list(Some(&self.staging)).map_ok(|m| m.location).try_collect::<Vec<_>>().await {
            for file in staged {
                delete_quietly(self.store.as_ref(), &file).await;
            }
        }
    }
}

fn parent_of(path: &Path) -> Path {
    let parts: Vec<_> = path.parts().collect();
    Path::from_iter(parts[..parts.len().saturating_sub(1)].iter().cloned())
}

/// Cleanup that may fail without failing the run: what is left is staging debris,
/// outside the destination, swept by a later write.
async fn delete_quietly(store: &dyn ObjectStore, path: &Path) {
    let _ = store.delete(path).await;
}

/// Removes staging prefixes of `name` in `parent` older than [`DEBRIS_AGE`].
async fn sweep(store: &dyn ObjectStore, parent: &Path, name: &str) {
    let Ok(listing) = store.list_with_delimiter(Some(parent)).await else { return };
    let marker = format!(".{name}{STAGING_MARK}");
    let now = SystemTime::now();
    let old = |modified: SystemTime| now.duration_since(modified).is_ok_and(|age| age > DEBRIS_AGE);
    for object in &listing.objects {
        if object.location.filename().is_some_and(|f| f.starts_with(&marker)) && old(object.last_modified.into()) {
            delete_quietly(store, &object.location).await;
        }
    }
    for prefix in &listing.common_prefixes {
        if !prefix.filename().is_some_and(|f| f.starts_with(&marker)) {
            continue;
        }
        let Ok(files) = store.list(Some(prefix)).try_collect::<Vec<_>>().await else { continue };
        if files.iter().all(|f| old(f.last_modified.into())) {
            for file in files {
                delete_quietly(store, &file.location).await;
            }
        }
    }
}

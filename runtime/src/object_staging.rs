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
    /// Committed or aborted: nothing left to clean up when dropped.
    settled: bool,
}

impl ObjectStaging {
    /// Prepares staging next to `target` and removes old debris of earlier runs.
    pub async fn new(
        store: Arc<dyn ObjectStore>,
        store_url: &str,
        target: Path,
        directory: bool,
    ) -> object_store::Result<Self> {
        // The root of a bucket is never a destination: replacing it would delete every
        // object in the bucket (the compiler refuses it; plans may come from elsewhere).
        let Some(name) = target.filename().map(str::to_string) else {
            return Err(object_store::Error::Generic {
                store: "aqueducts",
                source: format!("`{store_url}` is the root of a bucket or container; write to a path inside it").into(),
            });
        };
        let parent = parent_of(&target);
        sweep(store.as_ref(), &parent, &name).await;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let staging = parent.clone().join(format!(".{name}{STAGING_MARK}{}-{nanos}", std::process::id()));
        let store_url = store_url.trim_end_matches('/').to_string();
        Ok(ObjectStaging { store, store_url, target, staging, directory, settled: false })
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
    pub async fn commit(mut self) -> object_store::Result<()> {
        let copied = self.copy_into_place().await;
        if copied.is_err() {
            self.remove_staged().await;
        }
        self.settled = true;
        copied
    }

    async fn copy_into_place(&self) -> object_store::Result<()> {
        if !self.directory {
            // DataFusion writes a single file even for no rows; a missing one means
            // something else removed it, and nothing must replace the destination.
            self.store.head(&self.staging).await?;
            self.store.copy(&self.staging, &self.target).await?;
            delete_quietly(self.store.as_ref(), &self.staging).await;
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
        // Inside the destination: a previous object that stays would be read as part of
        // the new output, so failing to delete it fails the run.
        for old in previous.iter().filter(|p| !written.contains(*p)) {
            match self.store.delete(old).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        for file in &staged {
            delete_quietly(self.store.as_ref(), file).await;
        }
        Ok(())
    }

    /// Removes everything staged (the run failed or was stopped).
    pub async fn abort(mut self) {
        self.remove_staged().await;
        self.settled = true;
    }

    async fn remove_staged(&self) {
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

/// A staging area dropped unsettled (the run was cancelled or its task dropped) is
/// removed in the background, if a runtime is still there to do it.
impl Drop for ObjectStaging {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let leftover = ObjectStaging {
            store: self.store.clone(),
            store_url: self.store_url.clone(),
            target: self.target.clone(),
            staging: self.staging.clone(),
            directory: self.directory,
            settled: true,
        };
        runtime.spawn(async move { leftover.remove_staged().await });
    }
}

fn parent_of(path: &Path) -> Path {
    let parts: Vec<_> = path.parts().collect();
    Path::from_iter(parts[..parts.len().saturating_sub(1)].iter().cloned())
}

/// Cleanup of staging that may fail without failing the run: what is left is debris
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

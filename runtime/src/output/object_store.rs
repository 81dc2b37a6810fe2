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

use super::error::CommitError;

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
    /// A directory is copied object by object, so a failure may come after part of the
    /// destination was replaced; a single object is replaced whole or not at all.
    pub async fn commit(mut self) -> Result<(), CommitError> {
        let mut destination_changed = false;
        let copied = self.copy_into_place(&mut destination_changed).await;
        if copied.is_err() {
            self.remove_staged().await;
        }
        self.settled = true;
        copied.map_err(|error| CommitError { message: error.to_string(), destination_changed })
    }

    /// Sets `destination_changed` once an object of the destination was replaced or
    /// deleted: a failure after that leaves a mix of old and new objects.
    async fn copy_into_place(&self, destination_changed: &mut bool) -> object_store::Result<()> {
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
            *destination_changed = true;
            written.insert(destination);
        }
        // Inside the destination: a previous object that stays would be read as part of
        // the new output, so failing to delete it fails the run.
        for old in previous.iter().filter(|p| !written.contains(*p)) {
            match self.store.delete(old).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => *destination_changed = true,
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, PutMultipartOptions, PutOptions,
        PutPayload, PutResult,
    };

    use super::*;

    /// An in-memory store whose copies fail after `copies_allowed` of them.
    #[derive(Debug)]
    struct FailingCopies {
        inner: InMemory,
        copies_allowed: usize,
        copies: AtomicUsize,
    }

    impl std::fmt::Display for FailingCopies {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "FailingCopies")
        }
    }

    #[async_trait]
    impl ObjectStore for FailingCopies {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }
        async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.inner.delete_stream(locations)
        }
        fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
            if self.copies.fetch_add(1, Ordering::SeqCst) >= self.copies_allowed {
                return Err(object_store::Error::Generic { store: "test", source: "copy refused".into() });
            }
            self.inner.copy_opts(from, to, options).await
        }
    }

    async fn staged_directory(copies_allowed: usize) -> (Arc<FailingCopies>, ObjectStaging) {
        let store = Arc::new(FailingCopies { inner: InMemory::new(), copies_allowed, copies: AtomicUsize::new(0) });
        store.put(&Path::from("out/old.csv"), "old".into()).await.unwrap();
        let staging = ObjectStaging::new(store.clone(), "memory://", Path::from("out"), true).await.unwrap();
        for name in ["a.csv", "b.csv"] {
            store.put(&staging.staging.clone().join(name), "new".into()).await.unwrap();
        }
        (store, staging)
    }

    async fn names(store: &FailingCopies) -> Vec<String> {
        let mut names: Vec<String> = store.list(None).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_commit_that_fails_before_any_copy_leaves_the_destination_unchanged() {
        let (store, staging) = staged_directory(0).await;
        let failure = staging.commit().await.unwrap_err();
        assert!(!failure.destination_changed);
        assert!(failure.to_string().contains("copy refused"), "{failure}");
        assert_eq!(names(&store).await, ["out/old.csv"]);
    }

    #[tokio::test]
    async fn a_commit_that_fails_after_a_copy_says_the_destination_changed() {
        let (store, staging) = staged_directory(1).await;
        let failure = staging.commit().await.unwrap_err();
        assert!(failure.destination_changed);
        // One new object is in place beside the old one; the staging is gone.
        assert_eq!(names(&store).await, ["out/a.csv", "out/old.csv"]);
    }

    #[tokio::test]
    async fn a_commit_replaces_the_directory() {
        let (store, staging) = staged_directory(usize::MAX).await;
        staging.commit().await.unwrap();
        assert_eq!(names(&store).await, ["out/a.csv", "out/b.csv"]);
    }
}

//! Replacing a destination on an object store (S3, GCS, Azure) only when the run succeeded.
//!
//! Object stores have no rename and no directory swap. The write goes to a hidden
//! sibling prefix (`.NAME.aqueducts-staging-PID-NANOS`), outside the destination, so a
//! failed or stopped run never touches the previous objects. On success the staged
//! objects are copied into place (a copy replaces an object whole: readers see the old
//! or the new object, never a part), previous objects the new output does not replace
//! are deleted, and the staging prefix is removed.
//!
//! A run holds a lease on the destination (`.NAME.aqueducts-lease` beside it: who holds
//! it and until when) from the moment it stages until it committed or gave up, and
//! renews it while it runs, however long that is. A second run writing the same
//! destination meanwhile fails clearly; a run that finds a lease expired (its holder was
//! killed) takes it over. Whoever holds the lease knows every staging prefix beside the
//! destination was left by a run that is gone, and sweeps it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode};

use super::error::CommitError;

const STAGING_MARK: &str = ".aqueducts-staging-";
const LEASE_MARK: &str = ".aqueducts-lease";
/// How long a lease holds without renewal; it is renewed every third of that.
const LEASE_TERM: Duration = Duration::from_secs(300);

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
    /// Released when settled (or, when dropped unsettled, in the background).
    lease: Option<Lease>,
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
        let store_url = store_url.trim_end_matches('/').to_string();
        let shown = format!("{store_url}/{target}");
        let lease = Lease::acquire(store.clone(), &parent, &name, &shown).await?;
        sweep(store.as_ref(), &parent, &name).await;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let staging = parent.clone().join(format!(".{name}{STAGING_MARK}{}-{nanos}", std::process::id()));
        Ok(ObjectStaging { store, store_url, target, staging, directory, settled: false, lease: Some(lease) })
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
        if self.lease.as_ref().is_some_and(Lease::is_lost) {
            self.remove_staged().await;
            self.settled = true;
            let message = format!("another run took over the lease of `{}`; nothing was replaced", self.target_url());
            return Err(CommitError { message, destination_changed });
        }
        let copied = self.copy_into_place(&mut destination_changed).await;
        if copied.is_err() {
            self.remove_staged().await;
        }
        self.settled = true;
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
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
        if let Some(lease) = self.lease.take() {
            lease.release().await;
        }
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
        let lease = self.lease.take();
        let leftover = ObjectStaging {
            store: self.store.clone(),
            store_url: self.store_url.clone(),
            target: self.target.clone(),
            staging: self.staging.clone(),
            directory: self.directory,
            settled: true,
            lease: None,
        };
        runtime.spawn(async move {
            leftover.remove_staged().await;
            if let Some(lease) = lease {
                lease.release().await;
            }
        });
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

/// Removes the staging prefixes of `name` in `parent`: the caller holds the lease, so
/// they were left by runs that are gone.
async fn sweep(store: &dyn ObjectStore, parent: &Path, name: &str) {
    let Ok(listing) = store.list_with_delimiter(Some(parent)).await else { return };
    let marker = format!(".{name}{STAGING_MARK}");
    for object in &listing.objects {
        if object.location.filename().is_some_and(|f| f.starts_with(&marker)) {
            delete_quietly(store, &object.location).await;
        }
    }
    for prefix in &listing.common_prefixes {
        if !prefix.filename().is_some_and(|f| f.starts_with(&marker)) {
            continue;
        }
        let Ok(files) = store.list(Some(prefix)).try_collect::<Vec<_>>().await else { continue };
        for file in files {
            delete_quietly(store, &file.location).await;
        }
    }
}

/// A run's claim on a destination: an object naming its holder and when it expires,
/// renewed in the background while held. Where the store has conditional writes, a
/// lease is created only if absent, and taken over or renewed only if unchanged since it
/// was read, so two runs never both hold it; a renewal that finds the lease changed marks
/// it lost, and a run whose lease was lost does not commit.
struct Lease {
    store: Arc<dyn ObjectStore>,
    path: Path,
    holder: String,
    lost: Arc<std::sync::atomic::AtomicBool>,
    renewing: tokio::task::JoinHandle<()>,
}

/// Milliseconds since the epoch.
fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// A lease's content: the holder, then the expiry in milliseconds since the epoch.
fn lease_body(holder: &str) -> String {
    format!("{holder} {}", now_ms() + LEASE_TERM.as_millis())
}

fn version_of(result: &object_store::PutResult) -> object_store::UpdateVersion {
    object_store::UpdateVersion { e_tag: result.e_tag.clone(), version: result.version.clone() }
}

impl Lease {
    async fn acquire(
        store: Arc<dyn ObjectStore>,
        parent: &Path,
        name: &str,
        shown: &str,
    ) -> object_store::Result<Lease> {
        let path = parent.clone().join(format!(".{name}{LEASE_MARK}"));
        // Unique across processes and hosts: a random number of this process's hasher keys.
        let random = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), now_ms());
        let holder = format!("{}-{random:016x}", std::process::id());
        let busy = |until: u128| object_store::Error::Generic {
            store: "aqueducts",
            source: format!(
                "another run is writing `{shown}` (its lease runs for {} s more); run again once it has finished",
                until.saturating_sub(now_ms()).div_ceil(1000)
            )
            .into(),
        };
        let conditional = match store.put_opts(&path, lease_body(&holder).into(), PutMode::Create.into()).await {
            Ok(created) => Some(version_of(&created)),
            Err(object_store::Error::AlreadyExists { .. }) => {
                // Someone's lease: a live one refuses; an expired one is taken over only
                // if nobody changed it since it was read.
                let current = store.get(&path).await?;
                let seen = object_store::UpdateVersion {
                    e_tag: current.meta.e_tag.clone(),
                    version: current.meta.version.clone(),
                };
                let text = String::from_utf8(current.bytes().await?.to_vec()).unwrap_or_default();
                let until = text.trim().rsplit_once(' ').and_then(|(_, u)| u.parse::<u128>().ok()).unwrap_or(0);
                if until > now_ms() {
                    return Err(busy(until));
                }
                match store.put_opts(&path, lease_body(&holder).into(), PutMode::Update(seen).into()).await {
                    Ok(taken) => Some(version_of(&taken)),
                    Err(object_store::Error::Precondition { .. }) => {
                        return Err(busy(now_ms() + LEASE_TERM.as_millis()));
                    }
                    Err(object_store::Error::NotImplemented { .. }) => None,
                    Err(e) => return Err(e),
                }
            }
            // No conditional writes here: written, then read back below.
            Err(_) => None,
        };
        if conditional.is_none() {
            if let Some((_, until)) = read_lease(store.as_ref(), &path).await.filter(|(_, until)| *until > now_ms()) {
                return Err(busy(until));
            }
            store.put(&path, lease_body(&holder).into()).await?;
        }
        // Of two runs that wrote at once, the one whose write is not there stops.
        match read_lease(store.as_ref(), &path).await {
            Some((who, _)) if who == holder => {}
            Some((_, until)) => return Err(busy(until)),
            None => {
                return Err(object_store::Error::Generic {
                    store: "aqueducts",
                    source: format!("cannot hold the lease of `{shown}`: it vanished as it was taken").into(),
                });
            }
        }
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let renewing = tokio::spawn(renew(store.clone(), path.clone(), holder.clone(), conditional, lost.clone()));
        Ok(Lease { store, path, holder, lost, renewing })
    }

    /// Whether another run took the lease (renewals found it changed).
    fn is_lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Removes the lease, if it is still this run's.
    async fn release(self) {
        self.renewing.abort();
        if read_lease(self.store.as_ref(), &self.path).await.is_some_and(|(who, _)| who == self.holder) {
            delete_quietly(self.store.as_ref(), &self.path).await;
        }
    }
}

/// Renews a lease every third of its term; with conditional writes, only while it is
/// unchanged since this run last wrote it.
async fn renew(
    store: Arc<dyn ObjectStore>,
    path: Path,
    holder: String,
    mut version: Option<object_store::UpdateVersion>,
    lost: Arc<std::sync::atomic::AtomicBool>,
) {
    loop {
        tokio::time::sleep(LEASE_TERM / 3).await;
        let mode = version.clone().map_or(PutMode::Overwrite, PutMode::Update);
        match store.put_opts(&path, lease_body(&holder).into(), mode.into()).await {
            Ok(written) => {
                if version.is_some() {
                    version = Some(version_of(&written));
                }
            }
            Err(object_store::Error::Precondition { .. }) => {
                lost.store(true, std::sync::atomic::Ordering::Release);
                return;
            }
            // Conditional updates are not there after all: plain writes from now on.
            Err(object_store::Error::NotImplemented { .. }) => version = None,
            // A passing failure: the lease holds for the rest of its term; next time.
            Err(_) => {}
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}

/// Who holds the lease at `path` and until when, if it is there and readable.
async fn read_lease(store: &dyn ObjectStore, path: &Path) -> Option<(String, u128)> {
    let bytes = store.get(path).await.ok()?.bytes().await.ok()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    let (holder, until) = text.trim().rsplit_once(' ')?;
    Some((holder.to_string(), until.parse().ok()?))
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
    async fn one_run_at_a_time_holds_a_destination_and_debris_is_swept() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        // Debris of a killed run, however young: the next lease holder sweeps it.
        store.put(&Path::from(format!(".out{STAGING_MARK}1-1/a.csv")), "half".into()).await.unwrap();
        let first = ObjectStaging::new(store.clone(), "memory://", Path::from("out"), true).await.unwrap();
        let listed: Vec<String> = store.list(None).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
        assert_eq!(listed, [format!(".out{LEASE_MARK}")], "debris swept, lease held");
        let second = ObjectStaging::new(store.clone(), "memory://", Path::from("out"), true).await.err().unwrap();
        assert!(second.to_string().contains("another run is writing `memory:/out`"), "{second}");
        first.abort().await;
        // Released: the next run may write, and a lease left expired is taken over.
        let third = ObjectStaging::new(store.clone(), "memory://", Path::from("out"), true).await.unwrap();
        drop(third);
        tokio::time::sleep(Duration::from_millis(50)).await;
        store.put(&Path::from(format!(".out{LEASE_MARK}")), "killed-run 1".into()).await.unwrap();
        let fourth = ObjectStaging::new(store.clone(), "memory://", Path::from("out"), true).await.unwrap();
        fourth.abort().await;
        let listed: Vec<String> = store.list(None).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
        assert!(listed.is_empty(), "{listed:?}");
    }

    #[tokio::test]
    async fn a_lease_taken_over_by_another_run_stops_the_commit() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let staging = ObjectStaging::new(store.clone(), "memory://", Path::from("out"), false).await.unwrap();
        store.put(&staging.staging, "new".into()).await.unwrap();
        // Another run wrote the lease (say, after this one stalled past its term).
        store.put(&Path::from(format!(".out{LEASE_MARK}")), "other-run 99999999999999".into()).await.unwrap();
        staging.lease.as_ref().unwrap().lost.store(true, std::sync::atomic::Ordering::Release);
        let failure = staging.commit().await.unwrap_err();
        assert!(failure.to_string().contains("another run took over the lease"), "{failure}");
        assert!(store.head(&Path::from("out")).await.is_err(), "nothing replaced");
        // The other run's lease is not removed by this one.
        assert!(store.head(&Path::from(format!(".out{LEASE_MARK}"))).await.is_ok());
    }

    #[tokio::test]
    async fn a_commit_replaces_the_directory() {
        let (store, staging) = staged_directory(usize::MAX).await;
        staging.commit().await.unwrap();
        assert_eq!(names(&store).await, ["out/a.csv", "out/b.csv"]);
    }
}

//! File-arrival triggers: each new file under a location starts one run of its pipeline.
//!
//! The orchestrator lists the location (a directory under its data directory, or an
//! object store prefix reached with its own credentials) every
//! interval. The first look only remembers what is there (unless the trigger includes
//! existing files). Afterwards each file not seen before, and not modified within the
//! last interval (so that a file still being written is left for the next look), queues
//! one run with its path in the trigger's parameter. The run's trigger key is the path:
//! the database refuses a second run for it, so a file dropped again, also after a
//! restart, never triggers twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aqueducts_runtime::io::stores::{StoreDescriptor, StoreKind, build, canonical_key, normalize_location, store_url};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;

use crate::api::runs::pipeline_run;
use crate::db::pipelines::{self, FileTrigger};
use crate::db::{DbError, now_ms};
use crate::state::Orchestrator;

/// The path recorded once the first look is done.
const BASELINE: &str = "";

/// Where a trigger looks.
pub struct Watched {
    store: Arc<dyn ObjectStore>,
    prefix: Option<StorePath>,
    /// How a file's path is given to the run: `/abs/path` or `s3://bucket/key`.
    root: String,
    local: bool,
}

/// Files looked at per look, at most: a location with more is taken in parts.
pub const FILES_PER_LOOK: usize = 10_000;

impl Watched {
    /// The store and prefix of `location`; the message says what is wrong.
    pub fn open(location: &str, storage_config: &BTreeMap<String, String>, data_dir: &Path) -> Result<Watched, String> {
        // Values are used as written: a reference to the orchestrator's environment
        // would let whoever deploys send the orchestrator's own secrets to a store of
        // their choosing. (Credentials may come from the orchestrator's environment
        // through the stores' usual variables, AWS_ACCESS_KEY_ID and the like.)
        if storage_config.values().any(|value| value.chars().any(|c| c.is_control())) {
            return Err("storage_config values are used as written: control characters are refused".into());
        }
        if location.contains("://") && !location.starts_with("file://") {
            let (url, implied) = normalize_location(location).map_err(|e| e.to_string())?;
            let kind = StoreKind::of(&url)
                .ok_or_else(|| format!("`{location}` is not on a store the orchestrator can list"))?;
            // The spellings a spec's `storage_config` accepts (AWS_ENDPOINT, endpoint...).
            let mut options: BTreeMap<String, String> = storage_config
                .iter()
                .map(|(key, value)| (canonical_key(kind, key).unwrap_or_else(|| key.clone()), value.clone()))
                .collect();
            options.extend(implied);
            let descriptor = StoreDescriptor::for_url(&url, options)
                .ok_or_else(|| format!("`{location}` is not on a store the orchestrator can list"))?;
            let store = build(&descriptor).map_err(|e| e.to_string())?;
            let prefix = url.path().trim_matches('/');
            let prefix = (!prefix.is_empty()).then(|| StorePath::from(prefix));
            return Ok(Watched { store, prefix, root: store_url(&url), local: false });
        }
        // Local directories only under the data directory: whoever deploys does not get
        // to list the orchestrator's machine.
        let path = PathBuf::from(location.trim_start_matches("file://"));
        let path = if path.is_absolute() { path } else { data_dir.join(path) };
        if path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(format!("`{location}`: `..` is not allowed in a trigger's location"));
        }
        if !path.starts_with(data_dir) {
            return Err(format!(
                "`{location}` is outside the orchestrator's data directory `{}`: local triggers watch directories under it",
                data_dir.display()
            ));
        }
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot use `{}`: {e}", path.display()))?;
        let path = std::fs::canonicalize(&path).map_err(|e| format!("cannot use `{}`: {e}", path.display()))?;
        if !path.starts_with(data_dir) {
            return Err(format!("`{location}` leads outside the orchestrator's data directory (a symbolic link?)"));
        }
        let prefix = StorePath::from_filesystem_path(&path).map_err(|e| e.to_string())?;
        Ok(Watched { store: Arc::new(LocalFileSystem::new()), prefix: Some(prefix), root: String::new(), local: true })
    }

    /// The files there now (at most [`FILES_PER_LOOK`]), with when each was last
    /// modified. Entries that cannot be read are skipped, not the whole listing.
    async fn files(&self) -> Result<Vec<(String, i64)>, String> {
        let mut listing = self.store.list(self.prefix.as_ref());
        let mut files = Vec::new();
        let mut skipped = 0;
        while files.len() < FILES_PER_LOOK {
            match listing.next().await {
                Some(Ok(meta)) => files.push((self.shown(&meta.location), meta.last_modified.timestamp_millis())),
                // The listing itself failed (no such bucket, refused credentials).
                Some(Err(error))
                    if files.is_empty()
                        && skipped == 0
                        && !matches!(error, object_store::Error::InvalidPath { .. }) =>
                {
                    return Err(format!("cannot list: {error}"));
                }
                Some(Err(_)) => skipped += 1,
                None => break,
            }
        }
        if skipped > 0 {
            tracing::warn!(skipped, "file trigger: entries that cannot be read were skipped");
        }
        Ok(files)
    }

    /// A file's path as the run gets it: the file system's own for local files (not
    /// object_store's escaped form), the store's URL and key otherwise.
    fn shown(&self, location: &StorePath) -> String {
        if self.local {
            return LocalFileSystem::new()
                .path_to_filesystem(location)
                .map_or_else(|_| format!("/{location}"), |path| path.display().to_string());
        }
        format!("{}/{}", self.root, location)
    }
}

/// Looks at due triggers, forever.
pub async fn run(orchestrator: Arc<Orchestrator>) {
    loop {
        if let Err(error) = look(&orchestrator).await {
            tracing::error!(%error, "the file triggers failed; trying again");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn look(orchestrator: &Arc<Orchestrator>) -> Result<(), DbError> {
    let now = now_ms();
    for trigger in pipelines::due_file_triggers(&orchestrator.db, now).await? {
        pipelines::poll_again(&orchestrator.db, &trigger.pipeline, now + trigger.interval_ms).await?;
        if let Err(message) = look_once(orchestrator, &trigger, now).await? {
            tracing::warn!(pipeline = %trigger.pipeline, location = %trigger.location, %message, "a file trigger cannot look");
        }
    }
    Ok(())
}

async fn look_once(
    orchestrator: &Arc<Orchestrator>,
    trigger: &FileTrigger,
    now: i64,
) -> Result<Result<(), String>, DbError> {
    let watched = match Watched::open(&trigger.location, &trigger.storage_config, &orchestrator.data_dir) {
        Ok(watched) => watched,
        Err(message) => return Ok(Err(message)),
    };
    let files = match watched.files().await {
        Ok(files) => files,
        Err(message) => return Ok(Err(message)),
    };
    let key = trigger.key();
    let mut asked: Vec<String> = files.iter().map(|(path, _)| path.clone()).collect();
    asked.push(BASELINE.to_string());
    let seen = pipelines::seen_among(&orchestrator.db, &key, &asked).await?;
    if !seen.contains(BASELINE) && !trigger.include_existing {
        for (path, _) in &files {
            pipelines::see_file(&orchestrator.db, &key, path).await?;
        }
        pipelines::see_file(&orchestrator.db, &key, BASELINE).await?;
        tracing::info!(pipeline = %trigger.pipeline, existing = files.len(), "file trigger started");
        return Ok(Ok(()));
    }
    for (path, modified_ms) in files {
        // Still being written, perhaps: left for the next look.
        if seen.contains(&path) || modified_ms > now - trigger.interval_ms.min(5_000) {
            continue;
        }
        let params = BTreeMap::from([(trigger.param.clone(), path.clone())]);
        match pipeline_run(orchestrator, &trigger.pipeline, params, "file", Some(format!("file:{path}"))).await {
            Ok(new_run) => {
                if let Some(run) = orchestrator.events.queue(&orchestrator.db, &new_run).await? {
                    tracing::info!(run_id = %run.id, pipeline = %trigger.pipeline, %path, "a file arrived");
                    orchestrator.wake.notify_one();
                }
            }
            Err(failure) => return Ok(Err(failure.message)),
        }
        pipelines::see_file(&orchestrator.db, &key, &path).await?;
    }
    pipelines::see_file(&orchestrator.db, &key, BASELINE).await?;
    Ok(Ok(()))
}

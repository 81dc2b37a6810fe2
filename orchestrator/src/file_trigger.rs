//! File-arrival triggers: each new file under a location starts one run of its pipeline.
//!
//! The orchestrator lists the location (a directory of its own, relative ones against
//! its data directory, or an object store prefix reached with its own credentials) every
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

use aqueducts_runtime::io::stores::{StoreDescriptor, build, normalize_location, store_url};
use futures::TryStreamExt;
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
}

impl Watched {
    /// The store and prefix of `location`; the message says what is wrong.
    pub fn open(location: &str, storage_config: &BTreeMap<String, String>, data_dir: &Path) -> Result<Watched, String> {
        if location.contains("://") && !location.starts_with("file://") {
            let (url, implied) = normalize_location(location).map_err(|e| e.to_string())?;
            let mut options = storage_config.clone();
            options.extend(implied);
            let descriptor = StoreDescriptor::for_url(&url, options)
                .ok_or_else(|| format!("`{location}` is not on a store the orchestrator can list"))?;
            let store = build(&descriptor).map_err(|e| e.to_string())?;
            let prefix = url.path().trim_matches('/');
            let prefix = (!prefix.is_empty()).then(|| StorePath::from(prefix));
            return Ok(Watched { store, prefix, root: store_url(&url) });
        }
        let path = PathBuf::from(location.trim_start_matches("file://"));
        let path = if path.is_absolute() { path } else { data_dir.join(path) };
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot use `{}`: {e}", path.display()))?;
        let path = std::fs::canonicalize(&path).map_err(|e| format!("cannot use `{}`: {e}", path.display()))?;
        let prefix = StorePath::from_filesystem_path(&path).map_err(|e| e.to_string())?;
        Ok(Watched { store: Arc::new(LocalFileSystem::new()), prefix: Some(prefix), root: String::new() })
    }

    /// The files there now, with when each was last modified.
    async fn files(&self) -> Result<Vec<(String, i64)>, String> {
        let objects: Vec<_> =
            self.store.list(self.prefix.as_ref()).try_collect().await.map_err(|e| format!("cannot list: {e}"))?;
        Ok(objects
            .into_iter()
            .map(|meta| (format!("{}/{}", self.root, meta.location), meta.last_modified.timestamp_millis()))
            .collect())
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
    let seen = pipelines::seen_files(&orchestrator.db, &key).await?;
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

//! [`Executor`]: what every connection of one executor shares (its settings, allowed
//! locations, key and queue).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aqueducts_runtime::RunSettings;
use aqueducts_runtime::access::{AllowList, DatabasePolicy};
use aqueducts_runtime::io::odbc::registered_drivers;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::ServeError;
use crate::options::Options;
use crate::queue::Queue;

/// What every connection shares.
pub struct Executor {
    pub id: String,
    api_key: String,
    pub settings: RunSettings,
    /// The locations plans and compiling clients may touch.
    pub allowed: AllowList,
    /// What plans may do on databases.
    pub databases: DatabasePolicy,
    /// A permit per client connection being served.
    pub connections: Arc<Semaphore>,
    /// Runs longer than this are stopped.
    pub max_run_duration: Option<Duration>,
    /// Refused keys, logged at most once a second (with how many went unlogged).
    refusals: Mutex<Refusals>,
    pub max_message_bytes: usize,
    pub working_directory: PathBuf,
    pub queue: Queue,
}

impl Executor {
    pub fn new(options: &Options) -> Result<Self, ServeError> {
        let settings = RunSettings::from_gigabytes(options.max_memory)?;
        let current = std::env::current_dir().map_err(ServeError::WorkingDirectory)?;
        let working_directory = match &options.data_dir {
            Some(dir) => std::fs::canonicalize(current.join(dir))
                .map_err(|e| ServeError::DataDir { path: dir.clone(), source: e })?,
            None => current,
        };
        // The root as the data directory would allow the whole machine without anyone
        // having said so (a container's working directory is often `/`).
        if options.allow_locations.is_empty() && working_directory.parent().is_none() {
            return Err(ServeError::RootDataDir);
        }
        let allowed = AllowList::parse(&options.allow_locations, &working_directory);
        Ok(Executor {
            id: options.executor_id.clone().unwrap_or_else(|| format!("executor-{}", uuid::Uuid::new_v4().simple())),
            api_key: options.api_key.clone(),
            settings,
            allowed,
            databases: DatabasePolicy::new(options.allow_custom_sql, registered_drivers()),
            connections: Arc::new(Semaphore::new(options.max_connections.max(1))),
            max_run_duration: (options.max_run_duration > 0).then(|| Duration::from_secs(options.max_run_duration)),
            refusals: Mutex::new(Refusals::default()),
            max_message_bytes: options.max_message_mb.saturating_mul(1024 * 1024).max(1024),
            working_directory,
            // An orchestrator keeps the queue of a managed executor: one run, none waiting.
            queue: Queue::new(match options.mode {
                crate::options::Mode::Standalone => options.max_queue,
                crate::options::Mode::Managed => 0,
            }),
        })
    }

    /// Compares in constant time, so the key cannot be guessed from response times.
    pub fn key_matches(&self, offered: &[u8]) -> bool {
        // Digests of equal length, so the time taken says nothing of the key's length.
        let (offered, expected) = (Sha256::digest(offered), Sha256::digest(self.api_key.as_bytes()));
        offered.as_slice().ct_eq(expected.as_slice()).into()
    }
}

/// How refused keys were logged lately.
#[derive(Default)]
struct Refusals {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl Executor {
    /// Logs a refused key, at most once a second: a client guessing keys cannot fill the
    /// log. Returns nothing; the caller delays its answer.
    pub fn log_refused_key(&self, key_sent: bool) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        let due = refusals.last_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if !due {
            refusals.unlogged += 1;
            return;
        }
        let unlogged = std::mem::take(&mut refusals.unlogged);
        refusals.last_logged = Some(Instant::now());
        tracing::warn!(key_sent, refused_since_last_line = unlogged, "refused a connection: wrong or missing API key");
    }
}

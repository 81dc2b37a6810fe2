//! [`Orchestrator`]: what every request, executor connection and background loop shares.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use crate::db::Db;
use crate::events::Events;
use crate::pending::Relays;
use crate::registry::Registry;

/// How many checks of the web editor may compile at once; more are refused (the page
/// checks again after the next keystroke).
pub const MAX_CHECKS: usize = 4;

pub struct Orchestrator {
    pub db: Db,
    pub executors: Registry,
    pub events: Events,
    /// Durations of runs that ended, for `/metrics`.
    pub durations: crate::durations::RunDurations,
    /// Store operations relayed to executors while compiling.
    pub relays: Relays,
    /// Woken when a run may be dispatched (queued, or an executor freed).
    pub wake: Notify,
    /// An executor silent this long is gone.
    pub heartbeat_timeout: Duration,
    /// The orchestrator's directory: relative locations of file triggers resolve
    /// against it.
    pub data_dir: PathBuf,
    /// When this process started (milliseconds since the epoch): schedule ticks before
    /// it were missed.
    pub started_ms: i64,
    /// Who signed in to the web interface.
    pub sessions: crate::web::session::Sessions,
    /// Session cookies are `Secure` (the orchestrator serves TLS).
    pub secure_cookies: bool,
    /// Spec checks of the web editor under way at once at most.
    pub checks: tokio::sync::Semaphore,
    admin_digest: [u8; 32],
    executor_digest: [u8; 32],
    refusals: Mutex<Refusals>,
    /// Runs in flight when the orchestrator started, until their executor comes back
    /// holding them, with when they are given up.
    unconfirmed: Mutex<HashMap<String, Instant>>,
}

/// Who a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner {
    Admin,
    Executors,
    /// Not one of the two keys of the command line (perhaps a stored user key).
    Other,
}

impl Orchestrator {
    pub fn new(db: Db, admin_key: &str, executor_key: &str, heartbeat_timeout: Duration, data_dir: PathBuf) -> Self {
        Orchestrator {
            db,
            executors: Registry::default(),
            events: Events::default(),
            relays: Relays::default(),
            durations: Default::default(),
            wake: Notify::new(),
            heartbeat_timeout,
            started_ms: crate::db::now_ms(),
            data_dir,
            sessions: Default::default(),
            secure_cookies: false,
            checks: tokio::sync::Semaphore::new(MAX_CHECKS),
            admin_digest: Sha256::digest(admin_key.as_bytes()).into(),
            executor_digest: Sha256::digest(executor_key.as_bytes()).into(),
            refusals: Mutex::new(Refusals::default()),
            unconfirmed: Mutex::new(HashMap::new()),
        }
    }

    /// The heartbeat interval: a third of the timeout, so two may be lost.
    pub fn heartbeat_interval(&self) -> Duration {
        (self.heartbeat_timeout / 3).max(Duration::from_millis(100))
    }

    /// Compares digests in constant time: response times say nothing of either key.
    pub fn owner_of(&self, offered: &[u8]) -> KeyOwner {
        let offered: [u8; 32] = Sha256::digest(offered).into();
        let admin: bool = offered.ct_eq(&self.admin_digest).into();
        let executors: bool = offered.ct_eq(&self.executor_digest).into();
        match (admin, executors) {
            (true, _) => KeyOwner::Admin,
            (_, true) => KeyOwner::Executors,
            _ => KeyOwner::Other,
        }
    }

    /// These runs wait one heartbeat timeout for their executors.
    pub fn await_confirmation(&self, runs: impl IntoIterator<Item = String>) {
        let deadline = Instant::now() + self.heartbeat_timeout;
        let mut unconfirmed = self.unconfirmed.lock().unwrap_or_else(|p| p.into_inner());
        unconfirmed.extend(runs.into_iter().map(|run| (run, deadline)));
    }

    /// An executor came back holding these runs.
    pub fn confirmed(&self, runs: &[aqueducts_protocol::managed::RunRef]) {
        let mut unconfirmed = self.unconfirmed.lock().unwrap_or_else(|p| p.into_inner());
        for run in runs {
            unconfirmed.remove(&run.run_id);
        }
    }

    /// Runs whose wait is over, forgotten here.
    pub fn unconfirmed_due(&self) -> Vec<String> {
        let mut unconfirmed = self.unconfirmed.lock().unwrap_or_else(|p| p.into_inner());
        let due: Vec<String> =
            unconfirmed.iter().filter(|(_, at)| Instant::now() >= **at).map(|(run, _)| run.clone()).collect();
        for run in &due {
            unconfirmed.remove(run);
        }
        due
    }

    /// Logs a refused key at most once a second, with how many went unlogged: a client
    /// guessing keys cannot fill the log.
    pub fn log_refused_key(&self, route: &str) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        if refusals.last_logged.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            refusals.unlogged += 1;
            return;
        }
        let unlogged = std::mem::take(&mut refusals.unlogged);
        refusals.last_logged = Some(Instant::now());
        tracing::warn!(route, refused_since_last_line = unlogged, "refused a request: wrong or missing key");
    }
}

#[derive(Default)]
struct Refusals {
    last_logged: Option<Instant>,
    unlogged: u64,
}

//! [`Registry`]: the executors connected now (or lately), in memory.
//!
//! Each has its hello, the channel to its connection's writer, and the run it was given.
//! Dispatch takes an idle, connected executor whose labels include a run's selector,
//! the one that waited longest first, and marks it busy before anything else happens,
//! so one executor never gets two runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use aqueducts_protocol::api::ExecutorInfo;
use aqueducts_protocol::managed::{Hello, OrchestratorMessage, RunRef};
use axum::extract::ws::Message;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::db::now_ms;

pub struct Registry {
    inner: Mutex<HashMap<String, Entry>>,
    /// Counts changes that pages showing executors redraw for (connections, runs taken
    /// and given back); heartbeats are not changes.
    changes: watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry { inner: Mutex::default(), changes: watch::Sender::new(0) }
    }
}

struct Entry {
    hello: Hello,
    /// The current connection: its number and its writer; `None` while disconnected.
    link: Option<Link>,
    running: Option<RunRef>,
    last_heard: Instant,
    last_heard_ms: i64,
    since_ms: i64,
    disconnected_at: Option<Instant>,
    last_assigned: Option<Instant>,
}

/// A connection's number, its writer, and how to close it.
struct Link {
    connection: u64,
    writer: mpsc::Sender<Message>,
    close: CancellationToken,
}

/// Why an executor cannot register.
#[derive(Debug)]
pub struct Taken(pub String);

impl Registry {
    fn inner(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Hears that the executors changed (see [`Registry::infos`]).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Registers a connection of `hello.executor_id`. A second process with the same id
    /// is refused while the first is connected; the same process (same boot id) coming
    /// back replaces its old connection.
    pub fn register(
        &self,
        hello: Hello,
        connection: u64,
        writer: mpsc::Sender<Message>,
        close: CancellationToken,
        running: Option<RunRef>,
    ) -> Result<(), Taken> {
        let mut inner = self.inner();
        let now = Instant::now();
        if let Some(entry) = inner.get(&hello.executor_id)
            && entry.link.is_some()
            && entry.hello.boot_id != hello.boot_id
        {
            return Err(Taken(format!(
                "an executor with id `{}` is connected already; give each executor its own --executor-id",
                hello.executor_id
            )));
        }
        let previous_running = inner
            .get(&hello.executor_id)
            .filter(|entry| entry.hello.boot_id == hello.boot_id)
            .and_then(|entry| entry.running.clone());
        // Reconnecting does not move an executor to the front of the line.
        let last_assigned = inner.get(&hello.executor_id).and_then(|entry| entry.last_assigned);
        inner.insert(
            hello.executor_id.clone(),
            Entry {
                running: running.or(previous_running),
                hello,
                link: Some(Link { connection, writer, close }),
                last_heard: now,
                last_heard_ms: now_ms(),
                since_ms: now_ms(),
                disconnected_at: None,
                last_assigned,
            },
        );
        drop(inner);
        self.changed();
        Ok(())
    }

    /// The connection `connection` of `id` is gone.
    pub fn disconnected(&self, id: &str, connection: u64) {
        if let Some(entry) = self.inner().get_mut(id)
            && entry.link.as_ref().is_some_and(|link| link.connection == connection)
        {
            entry.link = None;
            entry.disconnected_at = Some(Instant::now());
        } else {
            return;
        }
        self.changed();
    }

    /// The number of `id`'s current connection.
    pub fn connection(&self, id: &str) -> Option<u64> {
        self.inner().get(id).and_then(|entry| entry.link.as_ref().map(|link| link.connection))
    }

    /// `id` said it is busy with something this registry does not know of: it gets no
    /// run until a heartbeat says it runs nothing.
    pub fn busy_elsewhere(&self, id: &str) {
        if let Some(entry) = self.inner().get_mut(id) {
            entry.running = Some(RunRef { run_id: String::new(), attempt: 0 });
        }
        self.changed();
    }

    /// A heartbeat of `id` running `running`: an executor held back by
    /// [`Registry::busy_elsewhere`] is free again once it runs nothing.
    pub fn heartbeat(&self, id: &str, running: Option<&RunRef>) {
        if let Some(entry) = self.inner().get_mut(id)
            && running.is_none()
            && entry.running.as_ref().is_some_and(|run| run.run_id.is_empty())
        {
            entry.running = None;
        } else {
            return;
        }
        self.changed();
    }

    pub fn heard(&self, id: &str) {
        if let Some(entry) = self.inner().get_mut(id) {
            entry.last_heard = Instant::now();
            entry.last_heard_ms = now_ms();
        }
    }

    /// Takes an idle connected executor whose labels include `selector` for `run`:
    /// the one idle longest. `avoid` are tried only when nothing else fits.
    pub fn reserve(&self, selector: &BTreeMap<String, String>, avoid: &[String], run_id: &str) -> Option<String> {
        let mut inner = self.inner();
        let fits = |entry: &Entry| {
            entry.link.is_some()
                && entry.running.is_none()
                && selector.iter().all(|(key, value)| entry.hello.labels.get(key) == Some(value))
        };
        let chosen = inner
            .iter()
            .filter(|(_, entry)| fits(entry))
            .min_by_key(|(id, entry)| (avoid.contains(id), entry.last_assigned, (*id).clone()))
            .map(|(id, _)| id.clone())?;
        let entry = inner.get_mut(&chosen)?;
        // The attempt number is set once the database has counted it.
        entry.running = Some(RunRef { run_id: run_id.to_string(), attempt: 0 });
        entry.last_assigned = Some(Instant::now());
        drop(inner);
        self.changed();
        Some(chosen)
    }

    /// Records the attempt number of the run reserved on `id`.
    pub fn set_attempt(&self, id: &str, run: &RunRef) {
        if let Some(entry) = self.inner().get_mut(id)
            && let Some(running) = &mut entry.running
            && running.run_id == run.run_id
        {
            running.attempt = run.attempt;
        }
    }

    /// `id` no longer works on `run_id`.
    pub fn free(&self, id: &str, run_id: &str) {
        if let Some(entry) = self.inner().get_mut(id)
            && entry.running.as_ref().is_some_and(|run| run.run_id == run_id)
        {
            entry.running = None;
        } else {
            return;
        }
        self.changed();
    }

    /// A connected executor whose labels include `selector`, idle ones first: one to
    /// check a spec against.
    pub fn any_fitting(&self, selector: &BTreeMap<String, String>) -> Option<String> {
        self.inner()
            .iter()
            .filter(|(_, entry)| {
                entry.link.is_some() && selector.iter().all(|(key, value)| entry.hello.labels.get(key) == Some(value))
            })
            .min_by_key(|(id, entry)| (entry.running.is_some(), (*id).clone()))
            .map(|(id, _)| id.clone())
    }

    /// Sends a message on `id`'s connection; false when it has none.
    pub fn send(&self, id: &str, message: Message) -> bool {
        self.send_on(id, message).is_some()
    }

    /// Sends a message on `id`'s connection; the connection's number, `None` when it
    /// has none.
    pub fn send_on(&self, id: &str, message: Message) -> Option<u64> {
        let inner = self.inner();
        let link = inner.get(id)?.link.as_ref()?;
        match link.writer.try_send(message) {
            Ok(()) => Some(link.connection),
            Err(mpsc::error::TrySendError::Full(_)) => {
                // It does not read what it is sent: its connection is closed, and what
                // it missed it gets again after reconnecting.
                link.close.cancel();
                None
            }
            Err(mpsc::error::TrySendError::Closed(_)) => None,
        }
    }

    pub fn send_json(&self, id: &str, message: &OrchestratorMessage) -> bool {
        match serde_json::to_string(message) {
            Ok(text) => self.send(id, Message::Text(text.into())),
            Err(_) => false,
        }
    }

    /// The hello of `id`, if it is known.
    pub fn hello(&self, id: &str) -> Option<Hello> {
        self.inner().get(id).map(|entry| entry.hello.clone())
    }

    /// Executors disconnected for longer than `grace`: they are forgotten and returned
    /// with the run they had.
    pub fn expire(&self, grace: std::time::Duration) -> Vec<(String, Option<RunRef>)> {
        let mut inner = self.inner();
        let gone: Vec<String> = inner
            .iter()
            .filter(|(_, entry)| entry.disconnected_at.is_some_and(|at| at.elapsed() > grace))
            .map(|(id, _)| id.clone())
            .collect();
        let expired: Vec<_> =
            gone.into_iter().filter_map(|id| inner.remove(&id).map(|entry| (id, entry.running))).collect();
        drop(inner);
        if !expired.is_empty() {
            self.changed();
        }
        expired
    }

    /// Executors whose connection has been silent longer than `timeout`, with their
    /// connection numbers.
    pub fn silent(&self, timeout: std::time::Duration) -> Vec<(String, u64)> {
        self.inner()
            .iter()
            .filter(|(_, entry)| entry.last_heard.elapsed() > timeout)
            .filter_map(|(id, entry)| entry.link.as_ref().map(|link| (id.clone(), link.connection)))
            .collect()
    }

    /// How many connected executors are idle and busy.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner();
        let connected = inner.values().filter(|entry| entry.link.is_some());
        let busy = connected.clone().filter(|entry| entry.running.is_some()).count();
        (connected.count() - busy, busy)
    }

    /// What the API shows of the executors known in memory.
    pub fn infos(&self) -> Vec<ExecutorInfo> {
        let mut infos: Vec<ExecutorInfo> = self
            .inner()
            .values()
            .map(|entry| ExecutorInfo {
                executor_id: entry.hello.executor_id.clone(),
                state: match (&entry.link, &entry.running) {
                    (None, _) => "disconnected",
                    (Some(_), Some(_)) => "busy",
                    (Some(_), None) => "idle",
                }
                .into(),
                labels: entry.hello.labels.clone(),
                version: entry.hello.version.clone(),
                datafusion_version: entry.hello.datafusion_version.clone(),
                max_memory_bytes: entry.hello.max_memory_bytes,
                features: entry.hello.features.clone(),
                running: entry.running.clone().filter(|run| run.attempt > 0 && !run.run_id.is_empty()),
                last_heard_ms: entry.last_heard_ms,
                since_ms: entry.since_ms,
            })
            .collect();
        infos.sort_by(|a, b| a.executor_id.cmp(&b.executor_id));
        infos
    }
}

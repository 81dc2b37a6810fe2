//! [`Events`]: appends run events and tells event streams that a run has new ones.
//!
//! Appends are serialized in this process, so a run's event numbers are committed in
//! increasing order (PostgreSQL assigns a sequence value at insert, not at commit): a
//! stream that has read up to number n never misses a smaller one committed later.

use aqueducts_protocol::api::RunEvent;
use tokio::sync::{Mutex, broadcast};

use crate::db::{Db, DbError, runs};

pub struct Events {
    append: Mutex<()>,
    changed: broadcast::Sender<String>,
}

impl Default for Events {
    fn default() -> Self {
        Events { append: Mutex::new(()), changed: broadcast::Sender::new(1024) }
    }
}

impl Events {
    /// Stores `event` of run `run_id` (once, when it carries the executor's `source_seq`)
    /// and wakes the run's streams; the event's number, `None` for a repeat.
    pub async fn append(
        &self,
        db: &Db,
        run_id: &str,
        attempt: u32,
        source_seq: Option<u64>,
        event: &RunEvent,
    ) -> Result<Option<i64>, DbError> {
        let body = serde_json::to_string(event).map_err(|e| DbError::Corrupt(e.to_string()))?;
        let id = {
            let _serialized = self.append.lock().await;
            runs::append_event(db, run_id, attempt, source_seq, &body).await?
        };
        if id.is_some() {
            let _ = self.changed.send(run_id.to_string());
        }
        Ok(id)
    }

    /// Queues `run` with its `queued` event (its place in the queue) in one transaction;
    /// `None` when its trigger key queued one already.
    pub async fn queue(&self, db: &Db, run: &runs::NewRun) -> Result<Option<runs::Run>, DbError> {
        let _serialized = self.append.lock().await;
        let position = runs::queued_count(db).await? + 1;
        let body =
            serde_json::to_string(&RunEvent::Queued { position }).map_err(|e| DbError::Corrupt(e.to_string()))?;
        let run = runs::insert(db, run, Some(&body)).await?;
        if let Some(run) = &run {
            let _ = self.changed.send(run.id.clone());
        }
        Ok(run)
    }

    /// Hears the ids of runs with new events (a lagging receiver re-reads).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changed.subscribe()
    }
}

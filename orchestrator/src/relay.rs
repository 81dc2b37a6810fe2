//! Store operations relayed to an executor while compiling a spec for it.
//!
//! The orchestrator compiles against the executor that will run the spec: listings,
//! schemas, Parquet footers and ODBC descriptions come from the executor, over its
//! registration connection, exactly as they come to a CLI over its connection to a
//! standalone executor. [`LinkRelay`] is the compiler's [`StoreRelay`] for one
//! executor; answers are matched to requests by number, and every request fails at once
//! when the executor's connection ends.

use std::sync::Arc;
use std::time::Duration;

use aqueducts_compiler::remote::{Reply, StoreRelay};
use aqueducts_protocol::managed::OrchestratorMessage;
use aqueducts_protocol::{StoreAnswer, StoreOperation, parse_get_reply_frame};
use axum::extract::ws::Message;
use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::oneshot;

use crate::state::Orchestrator;

/// How long one store operation may take (a read is at most a few MiB).
pub const STORE_TIMEOUT: Duration = Duration::from_secs(120);

/// An answer from `executor`; one nobody asked for is ignored.
pub fn answer(orchestrator: &Orchestrator, executor: &str, request: u64, answer: StoreAnswer) {
    if let Some((_, waiting)) = orchestrator.relays.waiting().remove(&(executor.to_string(), request)) {
        let _ = waiting.send(Reply::Answer(answer));
    }
}

/// A binary frame from `executor`: the bytes of a read.
pub fn answer_bytes(orchestrator: &Orchestrator, executor: &str, frame: &[u8]) {
    let Some((request, bytes)) = parse_get_reply_frame(frame) else { return };
    if let Some((_, waiting)) = orchestrator.relays.waiting().remove(&(executor.to_string(), request)) {
        let _ = waiting.send(Reply::Bytes(Bytes::copy_from_slice(bytes)));
    }
}

/// `executor`'s connection `connection` ended: the requests sent on it fail now
/// (those sent on a newer connection of the same executor wait on).
pub fn disconnected(orchestrator: &Orchestrator, executor: &str, connection: u64) {
    orchestrator.relays.waiting().retain(|(owner, _), (sent_on, _)| owner != executor || *sent_on != connection);
}

/// The compiler's view of one executor's files and databases.
pub struct LinkRelay {
    pub orchestrator: Arc<Orchestrator>,
    pub executor: String,
}

impl StoreRelay for LinkRelay {
    fn store(&self, operation: StoreOperation) -> BoxFuture<'static, Result<Reply, String>> {
        let (orchestrator, executor) = (self.orchestrator.clone(), self.executor.clone());
        Box::pin(async move {
            let request = orchestrator.relays.next_request();
            let key = (executor.clone(), request);
            let (tx, rx) = oneshot::channel();
            let text =
                serde_json::to_string(&OrchestratorMessage::Store { request, operation }).map_err(|e| e.to_string())?;
            // Registered before sending (the answer may come at once), with the
            // connection it goes out on once known.
            orchestrator.relays.waiting().insert(key.clone(), (u64::MAX, tx));
            match orchestrator.executors.send_on(&executor, Message::Text(text.into())) {
                Some(connection) => {
                    if let Some(entry) = orchestrator.relays.waiting().get_mut(&key) {
                        entry.0 = connection;
                    }
                }
                None => {
                    orchestrator.relays.waiting().remove(&key);
                    return Err(format!("executor {executor} is not connected"));
                }
            }
            match tokio::time::timeout(STORE_TIMEOUT, rx).await {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(_)) => Err(format!("the connection to executor {executor} was lost")),
                Err(_) => {
                    orchestrator.relays.waiting().remove(&key);
                    Err(format!("executor {executor} did not answer within {} s", STORE_TIMEOUT.as_secs()))
                }
            }
        })
    }
}

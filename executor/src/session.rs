//! One client connection: its requests, its executions, and the messages back.
//!
//! Everything sent to the client goes through one channel, drained by one writer task,
//! so messages arrive in the order they were produced: an execution's queue positions,
//! then its progress and stage output, then its final message, always last. When the
//! client goes away, its queued and running executions are cancelled.
//!
//! What one connection can make the executor hold is bounded: its file requests are
//! served one after the other, in the order they came (so their answers come in that
//! order too), and at most [`store_requests::IN_FLIGHT`] answers wait to be written to
//! the socket (a client that does not read stops its own requests, not the executor); control messages over [`MAX_CONTROL_BYTES`] are refused unparsed;
//! an artifact is refused as busy before it is decoded when the queue is full; the
//! executor pings every [`PING_INTERVAL`] and closes a connection it has heard nothing
//! from (not even a pong) for [`IDLE_TIMEOUT`].

use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::{ClientMessage, ExecutorMessage, Outcome, PROTOCOL_VERSION, StoreOperation};
use aqueducts_runtime::ExecutablePipeline;
use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;

use crate::execution::{self, Report};
use crate::state::Executor;
use crate::store_requests::{self, StoreReply};
/// The largest text message: control messages are small (a described query is the
/// longest); a larger one is refused without being parsed.
pub const MAX_CONTROL_BYTES: usize = 1024 * 1024;
/// How often the executor pings a client.
pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// How long a connection may stay silent (no message, no pong) before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A message for the client, with the permit of the file request it answers, released
/// once the message is written.
type Outgoing = (Message, Option<OwnedSemaphorePermit>);

/// Sends messages to the client, in order.
#[derive(Clone)]
struct Outbox(mpsc::UnboundedSender<Outgoing>);

impl Outbox {
    fn send(&self, message: &ExecutorMessage) {
        self.send_holding(message, None);
    }

    fn send_holding(&self, message: &ExecutorMessage, permit: Option<OwnedSemaphorePermit>) {
        if let Ok(text) = serde_json::to_string(message) {
            let _ = self.0.send((Message::Text(text.into()), permit));
        }
    }

    fn send_bytes(&self, bytes: Vec<u8>, permit: Option<OwnedSemaphorePermit>) {
        let _ = self.0.send((Message::Binary(bytes.into()), permit));
    }

    fn ping(&self) {
        let _ = self.0.send((Message::Ping(Vec::new().into()), None));
    }
}

pub async fn serve(executor: Arc<Executor>, socket: WebSocket) {
    let connection = uuid::Uuid::new_v4().simple().to_string();
    tracing::info!(%connection, "client connected");
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    // Cancelled when the writer stops: a client that reads nothing for IDLE_TIMEOUT
    // (its socket buffer full) is gone as far as this connection is concerned.
    let writer_gone = CancellationToken::new();
    let writer_done = writer_gone.clone();
    let writer = tokio::spawn(async move {
        while let Some((message, permit)) = rx.recv().await {
            let sent = tokio::time::timeout(IDLE_TIMEOUT, sink.send(message)).await;
            drop(permit); // the next file request of this connection may be served
            if !matches!(sent, Ok(Ok(()))) {
                break;
            }
        }
        writer_done.cancel();
        // A peer that reads nothing does not hold the connection open by not closing.
        let _ = tokio::time::timeout(Duration::from_secs(5), sink.close()).await;
    });
    let outbox = Outbox(tx);
    outbox.send(&ExecutorMessage::Welcome {
        executor_id: executor.id.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        datafusion_version: aqueducts_runtime::DATAFUSION_VERSION.to_string(),
        protocol_version: PROTOCOL_VERSION,
        working_directory: executor.working_directory.display().to_string(),
        max_message_bytes: executor.max_message_bytes,
    });

    // Cancelled when this connection ends: stops every execution it submitted.
    let gone = CancellationToken::new();
    let store_requests = serve_store_requests(executor.clone(), outbox.clone());
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    // When the client was last heard from (any frame, a pong included).
    let mut last_heard = tokio::time::Instant::now();
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    tracing::info!(%connection, "closing a connection silent for {} s", IDLE_TIMEOUT.as_secs());
                    break;
                }
                outbox.ping();
                continue;
            }
            _ = writer_gone.cancelled() => break,
        };
        let Some(frame) = frame else { break };
        last_heard = tokio::time::Instant::now();
        match frame {
            Ok(Message::Text(text)) if text.len() > MAX_CONTROL_BYTES => {
                let message = format!(
                    "a text message of {} bytes; control messages are at most {MAX_CONTROL_BYTES} bytes (an artifact is sent as a binary message)",
                    text.len()
                );
                outbox.send(&ExecutorMessage::Error { message });
            }
            Ok(Message::Text(text)) => on_text(&executor, &outbox, &store_requests, text.as_str()).await,
            Ok(Message::Binary(bytes)) => {
                submit(&executor, &outbox, bytes.to_vec(), gone.child_token(), &connection).await
            }
            Ok(Message::Close(_)) => break,
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Err(error) => {
                // A message over the size limit (or a broken frame) ends the connection;
                // say why before closing.
                let message = too_large(&error.to_string(), executor.max_message_bytes)
                    .unwrap_or_else(|| format!("unreadable message: {error}"));
                tracing::warn!(%connection, %message, "closing the connection");
                outbox.send(&ExecutorMessage::Error { message });
                break;
            }
        }
    }
    gone.cancel();
    drop(outbox);
    let _ = writer.await;
    tracing::info!(%connection, "client disconnected");
}

fn too_large(error: &str, limit: usize) -> Option<String> {
    let lower = error.to_ascii_lowercase();
    (lower.contains("too long") || lower.contains("too big") || lower.contains("space limit"))
        .then(|| format!("message too large: this executor accepts messages of at most {limit} bytes"))
}

/// Serves a connection's file requests (see [`store_requests`]); answers go to the client.
fn serve_store_requests(executor: Arc<Executor>, outbox: Outbox) -> mpsc::Sender<(u64, StoreOperation)> {
    store_requests::serve(executor, move |answer, permit| match answer {
        StoreReply::Answer { request, answer } => {
            outbox.send_holding(&ExecutorMessage::StoreReply { request, answer }, Some(permit))
        }
        StoreReply::Bytes(frame) => outbox.send_bytes(frame, Some(permit)),
    })
}

async fn on_text(
    executor: &Arc<Executor>,
    outbox: &Outbox,
    store_requests: &mpsc::Sender<(u64, StoreOperation)>,
    text: &str,
) {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Store { request, operation }) => {
            // Waits while this connection has its fill of requests waiting: reading from
            // it stops, so a client that sends faster than it reads is held back.
            let _ = store_requests.send((request, operation)).await;
        }
        Ok(ClientMessage::Cancel { execution_id }) => {
            let outcome = executor.queue.cancel(&execution_id);
            tracing::info!(%execution_id, ?outcome, "cancel requested");
            outbox.send(&ExecutorMessage::CancelReply { execution_id, outcome });
        }
        Err(error) => {
            // Only the `type` is read again (everything else is skipped, not kept).
            #[derive(serde::Deserialize)]
            struct Kind {
                #[serde(rename = "type")]
                kind: Option<String>,
            }
            let kind = serde_json::from_str::<Kind>(text).ok().and_then(|k| k.kind);
            let message = match kind {
                Some(kind) if !["store", "cancel"].contains(&kind.as_str()) => {
                    format!("unknown message type `{kind}`; expected `store` or `cancel`, or a plan artifact")
                }
                _ => format!("malformed message: {error}"),
            };
            outbox.send(&ExecutorMessage::Error { message });
        }
    }
}

/// Decodes and checks an artifact, then queues it; refusals are error replies.
async fn submit(
    executor: &Arc<Executor>,
    outbox: &Outbox,
    bytes: Vec<u8>,
    cancel: CancellationToken,
    connection: &str,
) {
    let refuse = |message: String| {
        tracing::warn!(%connection, %message, "refused an artifact");
        outbox.send(&ExecutorMessage::Error { message });
    };
    // A full queue refuses before anything is decoded (enqueueing checks again).
    if let Some(waiting) = executor.queue.full() {
        return refuse(format!("the executor is busy: {waiting} runs are waiting already; try again later"));
    }
    // Hashing, decoding and walking a large plan is CPU work: off the async workers.
    let checker = executor.clone();
    let checked = tokio::task::spawn_blocking(move || execution::decode_and_check(&checker, &bytes)).await;
    let (pipeline, ctx) = match checked {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(message)) => return refuse(message),
        Err(_) => return refuse("refused the plan artifact: the decoder failed on it".into()),
    };
    let execution_id = uuid::Uuid::new_v4().to_string();
    if let Err(busy) = executor.queue.enqueue(&execution_id, cancel.clone()) {
        return refuse(format!("the executor is busy: {} runs are waiting already; try again later", busy.waiting));
    }
    tracing::info!(%connection, %execution_id, stages = pipeline.stages.len(), "accepted an execution");
    outbox.send(&ExecutorMessage::Accepted { execution_id: execution_id.clone() });
    let (executor, outbox) = (executor.clone(), outbox.clone());
    tokio::spawn(async move {
        let outcome = run(&executor, &outbox, &execution_id, pipeline, ctx, cancel).await;
        // Logged before the queue moves on, so the log shows runs one after the other.
        tracing::info!(%execution_id, outcome = execution::outcome_name(&outcome), "execution ended");
        executor.queue.finish(&execution_id);
        outbox.send(&ExecutorMessage::Finished { execution_id, outcome });
    });
}

/// Runs an accepted execution, its reports sent to the client.
async fn run(
    executor: &Executor,
    outbox: &Outbox,
    id: &str,
    pipeline: ExecutablePipeline,
    ctx: datafusion::prelude::SessionContext,
    cancel: CancellationToken,
) -> Outcome {
    let (outbox, execution_id) = (outbox.clone(), id.to_string());
    let report = move |report: Report| {
        let execution_id = execution_id.clone();
        outbox.send(&match report {
            Report::Queued(position) => ExecutorMessage::Queued { execution_id, position },
            Report::Started => ExecutorMessage::Started { execution_id },
            Report::Progress(event) => ExecutorMessage::Progress { execution_id, event },
        });
    };
    execution::run(executor, id, pipeline, ctx, cancel, report).await
}

//! One client connection: its requests, its executions, and the messages back.
//!
//! Everything sent to the client goes through one channel, drained by one writer task,
//! so messages arrive in the order they were produced: an execution's queue positions,
//! then its progress and stage output, then its final message, always last. When the
//! client goes away, its queued and running executions are cancelled.

use std::sync::Arc;

use aqueducts_protocol::{ClientMessage, Event, ExecutorMessage, Outcome, PROTOCOL_VERSION, get_reply_frame};
use aqueducts_runtime::{ExecutablePipeline, artifact, execute};
use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::files::{Served, serve as serve_files};
use crate::state::Executor;

/// Sends messages to the client, in order.
#[derive(Clone)]
struct Outbox(mpsc::UnboundedSender<Message>);

impl Outbox {
    fn send(&self, message: &ExecutorMessage) {
        if let Ok(text) = serde_json::to_string(message) {
            let _ = self.0.send(Message::Text(text.into()));
        }
    }

    fn send_bytes(&self, bytes: Vec<u8>) {
        let _ = self.0.send(Message::Binary(bytes.into()));
    }
}

pub async fn serve(executor: Arc<Executor>, socket: WebSocket) {
    let connection = uuid::Uuid::new_v4().simple().to_string();
    tracing::info!(%connection, "client connected");
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
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
    while let Some(frame) = stream.next().await {
        match frame {
            Ok(Message::Text(text)) => on_text(&executor, &outbox, text.as_str()),
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

fn on_text(executor: &Arc<Executor>, outbox: &Outbox, text: &str) {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Store { request, operation }) => {
            let (executor, outbox) = (executor.clone(), outbox.clone());
            tokio::task::spawn_blocking(move || {
                match serve_files(&operation, &executor.allowed, &executor.databases) {
                    Served::Answer(answer) => outbox.send(&ExecutorMessage::StoreReply { request, answer }),
                    Served::Bytes(bytes) => outbox.send_bytes(get_reply_frame(request, &bytes)),
                }
            });
        }
        Ok(ClientMessage::Cancel { execution_id }) => {
            let outcome = executor.queue.cancel(&execution_id);
            tracing::info!(%execution_id, ?outcome, "cancel requested");
            outbox.send(&ExecutorMessage::CancelReply { execution_id, outcome });
        }
        Err(error) => {
            let kind = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string));
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

/// The artifact's plans in a fresh run context, if they decode and stay within the
/// allowed locations; otherwise why not.
fn decode_and_check(
    executor: &Executor,
    bytes: &[u8],
) -> Result<(ExecutablePipeline, datafusion::prelude::SessionContext), String> {
    let ctx = executor.settings.session_context().map_err(|e| format!("cannot set up a run: {e}"))?;
    let pipeline = artifact::decode_checked(bytes, &ctx.task_ctx(), &executor.allowed)
        .map_err(|error| format!("refused the plan artifact: {error}"))?;
    let touched = executor.allowed.check_pipeline(&pipeline).map_err(|refused| refused.to_string())?;
    executor.databases.check(&touched.databases).map_err(|refused| refused.to_string())?;
    Ok((pipeline, ctx))
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
    // Hashing, decoding and walking a large plan is CPU work: off the async workers.
    let checker = executor.clone();
    let checked = tokio::task::spawn_blocking(move || decode_and_check(&checker, &bytes)).await;
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
        tracing::info!(%execution_id, outcome = outcome_name(&outcome), "execution ended");
        executor.queue.finish(&execution_id);
        outbox.send(&ExecutorMessage::Finished { execution_id, outcome });
    });
}

async fn run(
    executor: &Executor,
    outbox: &Outbox,
    id: &str,
    pipeline: ExecutablePipeline,
    ctx: datafusion::prelude::SessionContext,
    cancel: CancellationToken,
) -> Outcome {
    let queued = |position| outbox.send(&ExecutorMessage::Queued { execution_id: id.to_string(), position });
    if !executor.queue.wait_turn(id, &cancel, queued).await {
        return Outcome::Cancelled;
    }
    tracing::info!(execution_id = %id, "execution started");
    outbox.send(&ExecutorMessage::Started { execution_id: id.to_string() });
    let events = outbox.clone();
    let execution_id = id.to_string();
    // A task of its own: a panic inside DataFusion ends this run, not the executor, and
    // aborting the task drops every stream of the run.
    let mut task = tokio::spawn(async move {
        let mut on_event = move |event: Event| {
            events.send(&ExecutorMessage::Progress { execution_id: execution_id.clone(), event });
        };
        execute(pipeline, &ctx, &mut on_event).await
    });
    tokio::select! {
        joined = &mut task => match joined {
            Ok(Ok(summary)) => Outcome::Succeeded { summary },
            Ok(Err(error)) => Outcome::Failed {
                stage: Some(error.stage.clone()),
                message: error.to_string(),
                memory_limit: error.memory_limit,
                destination_changed: error.destination_changed,
            },
            Err(_) => Outcome::Failed {
                stage: None,
                message: "the run stopped on an internal error (a panic in the plan); the executor keeps serving".into(),
                memory_limit: false,
                destination_changed: false,
            },
        },
        _ = cancel.cancelled() => {
            task.abort();
            let _ = task.await; // wait until its work is dropped and its staging removed
            Outcome::Cancelled
        }
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded { .. } => "succeeded",
        Outcome::Failed { .. } => "failed",
        Outcome::Cancelled => "cancelled",
    }
}

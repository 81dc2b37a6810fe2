//! `GET /ws/executor/register`: one managed executor's connection.
//!
//! Only the executors' key opens it. The executor's first message is its [`Hello`];
//! one that cannot run our plans (another protocol, artifact format or DataFusion) or
//! names itself badly is refused with the reason. A welcomed executor is registered;
//! afterwards both sides send heartbeats, and a connection silent for the heartbeat
//! timeout is closed. Its reports are recorded ([`crate::ingest`]) and acknowledged once
//! stored; one writer task sends everything to it, in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aqueducts_protocol::managed::{Delivered, ExecutorReport, Hello, MAX_LABELS, OrchestratorMessage, is_plain_name};
use aqueducts_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::auth::{FAILED_KEY_DELAY, offered_key};
use crate::state::{KeyOwner, Orchestrator};
use crate::{ingest, relay};

/// The largest message an executor may send: stage output is bounded by the executor's
/// own print limit, well below this.
pub const MAX_MESSAGE_BYTES: usize = 80 << 20;
/// How long an executor may take to say hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages that may wait to be written to one executor.
pub const OUTGOING_MESSAGES: usize = 4096;
/// How long writing one message may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// A WebSocket upgrade if the request asked for one, checked after the key.
pub struct MaybeUpgrade(Option<WebSocketUpgrade>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUpgrade {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUpgrade(WebSocketUpgrade::from_request_parts(parts, state).await.ok()))
    }
}

pub async fn register(
    State(orchestrator): State<Arc<Orchestrator>>,
    parts: Parts,
    MaybeUpgrade(upgrade): MaybeUpgrade,
) -> Response {
    let owner = offered_key(&parts).map(|key| orchestrator.owner_of(key.as_bytes()));
    if owner != Some(KeyOwner::Executors) {
        orchestrator.log_refused_key(parts.uri.path());
        tokio::time::sleep(FAILED_KEY_DELAY).await;
        let message = match owner {
            Some(KeyOwner::Admin) => "this route is for executors: present the executors' key (--executor-key)\n",
            _ => "the executors' key is needed in the X-API-Key header\n",
        };
        return (StatusCode::UNAUTHORIZED, message).into_response();
    }
    let Some(upgrade) = upgrade else {
        return (StatusCode::BAD_REQUEST, "this route speaks WebSocket only\n").into_response();
    };
    let offered = parts.headers.get(PROTOCOL_HEADER).and_then(|v| v.to_str().ok()?.trim().parse::<u32>().ok());
    if offered != Some(PROTOCOL_VERSION) {
        let message = format!(
            "this orchestrator speaks protocol version {PROTOCOL_VERSION}, the executor {}; run executors of the orchestrator's release\n",
            offered.map_or("none".to_string(), |v| v.to_string())
        );
        tracing::warn!(%message, "refused an executor");
        return (StatusCode::BAD_REQUEST, message).into_response();
    }
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(orchestrator, socket))
        .into_response()
}

/// Why a hello cannot be welcomed, if it cannot.
pub fn refusal(hello: &Hello) -> Option<String> {
    let runtime_format = aqueducts_runtime::artifact::FORMAT_VERSION;
    let datafusion = aqueducts_runtime::DATAFUSION_VERSION;
    if hello.protocol_version != PROTOCOL_VERSION {
        return Some(format!(
            "the executor speaks protocol version {}, this orchestrator {PROTOCOL_VERSION}",
            hello.protocol_version
        ));
    }
    if hello.artifact_format_version != runtime_format {
        return Some(format!(
            "the executor reads plan artifacts of format {}, this orchestrator writes format {runtime_format}; run executors of the orchestrator's release",
            hello.artifact_format_version
        ));
    }
    if hello.datafusion_version != datafusion {
        return Some(format!(
            "the executor runs DataFusion {}, this orchestrator compiles plans for DataFusion {datafusion}; run executors of the orchestrator's release",
            hello.datafusion_version
        ));
    }
    if !is_plain_name(&hello.executor_id) || !is_plain_name(&hello.boot_id) {
        return Some("an executor id is 1 to 128 letters, digits, `.`, `_` or `-`".into());
    }
    if hello.labels.len() > MAX_LABELS || !hello.labels.iter().all(|(k, v)| is_plain_name(k) && is_plain_name(v)) {
        return Some(format!(
            "labels: at most {MAX_LABELS}, keys and values of 1 to 128 letters, digits, `.`, `_` or `-`"
        ));
    }
    None
}

async fn serve(orchestrator: Arc<Orchestrator>, socket: WebSocket) {
    let connection = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    // Bounded: an executor that stops reading fills it, and its connection is closed
    // (what it was not sent, it gets again after reconnecting).
    let (writer_tx, mut outgoing) = mpsc::channel::<Message>(OUTGOING_MESSAGES);
    let writer_gone = tokio_util::sync::CancellationToken::new();
    let writer = {
        let writer_gone = writer_gone.clone();
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if !matches!(tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await, Ok(Ok(()))) {
                    break;
                }
            }
            writer_gone.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), sink.close()).await;
        })
    };
    let send = |message: &OrchestratorMessage| {
        if let Ok(text) = serde_json::to_string(message)
            && let Err(mpsc::error::TrySendError::Full(_)) = writer_tx.try_send(Message::Text(text.into()))
        {
            writer_gone.cancel();
        }
    };
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str::<ExecutorReport>(text.as_str()) {
            Ok(ExecutorReport::Hello(hello)) => Some(hello),
            _ => None,
        },
        _ => None,
    };
    let Some(hello) = hello else {
        send(&OrchestratorMessage::Refused { reason: "the first message must be a hello".into() });
        drop(writer_tx);
        let _ = writer.await;
        return;
    };
    let id = hello.executor_id.clone();
    if let Some(reason) = refusal(&hello) {
        tracing::warn!(executor_id = %id, %reason, "refused an executor");
        send(&OrchestratorMessage::Refused { reason });
        drop(writer_tx);
        let _ = writer.await;
        return;
    }
    // What it holds: the orchestrator tells how far each run's reports are recorded,
    // and a run it still works on keeps it busy.
    let mut delivered = Vec::new();
    let mut running = None;
    let mut held_here = Vec::new();
    for held in &hello.held {
        // Only attempts given to this executor: another's run is not confirmed by it.
        let owner = crate::db::runs::attempt_executor(&orchestrator.db, &held.run.run_id, held.run.attempt).await;
        if !matches!(&owner, Ok(Some(owner)) if *owner == id) {
            continue;
        }
        held_here.push(held.run.clone());
        let seq = ingest::recorded_upto(&orchestrator, &held.run).await.unwrap_or(0);
        delivered.push(Delivered { run: held.run.clone(), seq });
        if !held.finished {
            running = Some(held.run.clone());
        }
    }
    let registered_ms = crate::db::now_ms();
    if let Err(taken) =
        orchestrator.executors.register(hello.clone(), connection, writer_tx.clone(), writer_gone.clone(), running)
    {
        tracing::warn!(executor_id = %id, reason = %taken.0, "refused an executor");
        send(&OrchestratorMessage::Refused { reason: taken.0 });
        drop(writer_tx);
        let _ = writer.await;
        return;
    }
    ingest::remember_executor(&orchestrator, &hello).await;
    send(&OrchestratorMessage::Welcome {
        orchestrator_version: env!("CARGO_PKG_VERSION").into(),
        heartbeat_interval_ms: orchestrator.heartbeat_interval().as_millis() as u64,
        heartbeat_timeout_ms: orchestrator.heartbeat_timeout.as_millis() as u64,
        delivered,
    });
    tracing::info!(
        executor_id = %id,
        labels = ?hello.labels,
        version = %hello.version,
        held = hello.held.len(),
        "executor registered"
    );
    orchestrator.wake.notify_one();
    ingest::confirm_held(&orchestrator, &id, &held_here, registered_ms).await;
    // Cancels asked for while it was away reach it now.
    ingest::resend_cancels(&orchestrator, &id).await;

    let interval = orchestrator.heartbeat_interval();
    let mut heartbeat = tokio::time::interval_at(Instant::now() + interval, interval);
    let mut last_heard = Instant::now();
    let reason = loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > orchestrator.heartbeat_timeout {
                    break format!("heard nothing for {} ms", orchestrator.heartbeat_timeout.as_millis());
                }
                send(&OrchestratorMessage::Heartbeat);
                continue;
            }
            _ = writer_gone.cancelled() => break "the executor does not read what it is sent".to_string(),
        };
        last_heard = Instant::now();
        orchestrator.executors.heard(&id);
        match frame {
            None | Some(Ok(Message::Close(_))) => break "the executor closed the connection".to_string(),
            Some(Err(error)) => break error.to_string(),
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<ExecutorReport>(text.as_str()) {
                Ok(ExecutorReport::Heartbeat { running, .. }) => {
                    orchestrator.executors.heartbeat(&id, running.as_ref())
                }
                Ok(ExecutorReport::Hello(_)) => {}
                Ok(ExecutorReport::RunReport { run, seq, report }) => {
                    match ingest::report(&orchestrator, &id, &run, seq, report).await {
                        Ok(true) => send(&OrchestratorMessage::Ack { run, seq }),
                        Ok(false) => {}
                        // Not acknowledged: the executor sends it again after reconnecting.
                        Err(error) => break format!("cannot record a report: {error}"),
                    }
                }
                Ok(ExecutorReport::AssignReply { run, answer }) => {
                    if let Err(error) = ingest::assign_reply(&orchestrator, &id, &run, answer).await {
                        tracing::error!(%error, run_id = %run.run_id, "cannot record an assignment's answer");
                    }
                }
                Ok(ExecutorReport::CancelReply { run_id, outcome }) => {
                    tracing::info!(executor_id = %id, %run_id, ?outcome, "cancel answered");
                }
                Ok(ExecutorReport::StoreReply { request, answer }) => {
                    relay::answer(&orchestrator, &id, request, answer)
                }
                Err(error) => {
                    tracing::warn!(executor_id = %id, %error, "ignored an unreadable message");
                }
            },
            Some(Ok(Message::Binary(frame))) => relay::answer_bytes(&orchestrator, &id, &frame),
            Some(Ok(_)) => {}
        }
    };
    orchestrator.executors.disconnected(&id, connection);
    relay::disconnected(&orchestrator, &id, connection);
    tracing::warn!(executor_id = %id, %reason, "executor disconnected");
    drop(writer_tx);
    writer.abort();
}

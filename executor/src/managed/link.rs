//! One connection to the orchestrator, from hello to its end.
//!
//! The executor says [`Hello`] and waits to be welcomed; then it reads the
//! orchestrator's messages (assignments, cancels, acknowledgements, store operations of
//! its compiler), sends a heartbeat every interval, and gives the connection up when it
//! hears nothing for the heartbeat timeout. One writer task sends everything, control
//! messages first, then the outbox's reports in order.
//!
//! A connection's end never touches runs: they keep going, and their reports wait in
//! the outbox for the next connection.

use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::StoreOperation;
use aqueducts_protocol::managed::{
    AssignAnswer, ExecutorReport, OrchestratorMessage, RunRef, RunReport, parse_assign_frame,
};
use futures::{SinkExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::dial::Socket;
use super::shared::Managed;
use crate::execution::{self, Report};
use crate::session::MAX_CONTROL_BYTES;
use crate::store_requests::{self, StoreReply};

/// How long writing one message to the orchestrator may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the orchestrator may take to answer a hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How a connection ended.
#[derive(Debug)]
pub enum LinkEnd {
    /// The orchestrator refused this executor, saying why.
    Refused(String),
    /// The connection broke or went silent, after `welcomed` (or not).
    Lost { reason: String, welcomed: bool },
}

type Outgoing = (Message, Option<OwnedSemaphorePermit>);

/// Sends control messages through the writer task.
#[derive(Clone)]
struct Control(mpsc::UnboundedSender<Outgoing>);

impl Control {
    fn send(&self, report: &ExecutorReport) {
        self.send_holding(report, None);
    }

    fn send_holding(&self, report: &ExecutorReport, permit: Option<OwnedSemaphorePermit>) {
        if let Ok(text) = serde_json::to_string(report) {
            let _ = self.0.send((Message::Text(text.into()), permit));
        }
    }
}

/// Serves one connection until it ends.
pub async fn run(socket: Socket, managed: &Arc<Managed>) -> LinkEnd {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut control) = mpsc::unbounded_channel::<Outgoing>();
    let control_tx = Control(tx);
    // Set once welcomed: from then on, the outbox's reports go out too.
    let draining = CancellationToken::new();
    let writer_gone = CancellationToken::new();
    let writer = {
        let (outbox, draining, writer_gone) = (managed.outbox.clone(), draining.clone(), writer_gone.clone());
        tokio::spawn(async move {
            loop {
                let (message, permit) = tokio::select! {
                    biased;
                    next = control.recv() => match next {
                        Some(next) => next,
                        None => break,
                    },
                    text = async {
                        draining.cancelled().await;
                        outbox.next_unsent().await
                    } => (Message::Text(text.into()), None),
                };
                let sent = tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await;
                drop(permit);
                if !matches!(sent, Ok(Ok(()))) {
                    break;
                }
            }
            writer_gone.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), sink.close()).await;
        })
    };
    let end = serve(managed, &control_tx, &mut stream, &draining, &writer_gone).await;
    drop(control_tx);
    writer.abort();
    end
}

async fn serve(
    managed: &Arc<Managed>,
    control: &Control,
    stream: &mut futures::stream::SplitStream<Socket>,
    draining: &CancellationToken,
    writer_gone: &CancellationToken,
) -> LinkEnd {
    control.send(&ExecutorReport::Hello(managed.hello()));
    let lost = |reason: String, welcomed: bool| LinkEnd::Lost { reason, welcomed };
    let (interval, timeout) = match tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await {
        Err(_) => return lost(format!("no answer to the hello within {} s", HELLO_TIMEOUT.as_secs()), false),
        Ok(None) => return lost("the orchestrator closed the connection".into(), false),
        Ok(Some(Err(error))) => return lost(error.to_string(), false),
        Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str::<OrchestratorMessage>(text.as_str()) {
            Ok(OrchestratorMessage::Welcome { heartbeat_interval_ms, heartbeat_timeout_ms, delivered, .. }) => {
                managed.outbox.rewind(&delivered);
                (
                    Duration::from_millis(heartbeat_interval_ms.clamp(100, 60_000)),
                    Duration::from_millis(heartbeat_timeout_ms.clamp(300, 600_000)),
                )
            }
            Ok(OrchestratorMessage::Refused { reason }) => return LinkEnd::Refused(reason),
            _ => return lost(format!("the orchestrator answered the hello with `{}`", preview(&text)), false),
        },
        Ok(Some(Ok(_))) => return lost("the orchestrator answered the hello with a non-text message".into(), false),
    };
    tracing::info!(
        heartbeat_interval_ms = interval.as_millis() as u64,
        held = managed.outbox.held().len(),
        "registered with the orchestrator"
    );
    draining.cancel();
    let store_requests = {
        let control = control.clone();
        store_requests::serve(managed.executor.clone(), move |reply, permit| match reply {
            StoreReply::Answer { request, answer } => {
                control.send_holding(&ExecutorReport::StoreReply { request, answer }, Some(permit))
            }
            StoreReply::Bytes(frame) => {
                let _ = control.0.send((Message::Binary(frame.into()), Some(permit)));
            }
        })
    };
    // Heartbeats go from a task of their own: reading may wait while store requests
    // are served, and the orchestrator must still hear from this executor.
    let heartbeats = {
        let (managed, control) = (managed.clone(), control.clone());
        tokio::spawn(async move {
            let mut heartbeat = tokio::time::interval_at(Instant::now() + interval, interval);
            loop {
                heartbeat.tick().await;
                control.send(&ExecutorReport::Heartbeat {
                    running: managed.running(),
                    unacknowledged: managed.outbox.unacknowledged(),
                });
            }
        })
    };
    let _stop_heartbeats = AbortOnDrop(heartbeats);
    let mut silence_check = tokio::time::interval_at(Instant::now() + interval, interval);
    let mut last_heard = Instant::now();
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = silence_check.tick() => {
                if last_heard.elapsed() > timeout {
                    return lost(format!("heard nothing for {} ms", timeout.as_millis()), true);
                }
                continue;
            }
            _ = writer_gone.cancelled() => return lost("cannot write to the orchestrator".into(), true),
        };
        last_heard = Instant::now();
        match frame {
            None => return lost("the orchestrator closed the connection".into(), true),
            Some(Err(error)) => return lost(error.to_string(), true),
            Some(Ok(Message::Close(_))) => return lost("the orchestrator closed the connection".into(), true),
            Some(Ok(Message::Text(text))) if text.len() > MAX_CONTROL_BYTES => {
                return lost(format!("a control message of {} bytes", text.len()), true);
            }
            Some(Ok(Message::Text(text))) => on_text(managed, control, &store_requests, text.as_str()).await,
            Some(Ok(Message::Binary(frame))) => match parse_assign_frame(&frame) {
                Some((run, artifact)) => {
                    let (managed, control, artifact) = (managed.clone(), control.clone(), artifact.to_vec());
                    tokio::spawn(async move { assign(managed, control, run, artifact).await });
                }
                None => tracing::warn!(bytes = frame.len(), "ignored an unreadable assignment"),
            },
            Some(Ok(_)) => {}
        }
    }
}

/// Stops a task when dropped (when the connection's loop returns).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn preview(text: &str) -> String {
    text.chars().take(200).collect()
}

async fn on_text(
    managed: &Arc<Managed>,
    control: &Control,
    store_requests: &mpsc::Sender<(u64, StoreOperation)>,
    text: &str,
) {
    match serde_json::from_str::<OrchestratorMessage>(text) {
        Ok(OrchestratorMessage::Heartbeat) => {}
        Ok(OrchestratorMessage::Ack { run, seq }) => managed.outbox.ack(&run, seq),
        Ok(OrchestratorMessage::Cancel { run_id }) => {
            let outcome = managed.executor.queue.cancel(&run_id);
            tracing::info!(%run_id, ?outcome, "cancel requested");
            control.send(&ExecutorReport::CancelReply { run_id, outcome });
        }
        Ok(OrchestratorMessage::Store { request, operation }) => {
            // Waits while requests are being served: reading stops, so an orchestrator
            // asking faster than it reads is held back.
            let _ = store_requests.send((request, operation)).await;
        }
        Ok(OrchestratorMessage::Error { message }) => tracing::warn!(%message, "the orchestrator reported an error"),
        Ok(OrchestratorMessage::Welcome { .. } | OrchestratorMessage::Refused { .. }) => {}
        Err(error) => tracing::warn!(%error, message = %preview(text), "ignored an unreadable message"),
    }
}

/// Takes an assignment: refused as busy while something runs, refused with the reason
/// when the artifact cannot run here, otherwise accepted and run exactly as in
/// standalone mode, its reports going to the outbox.
async fn assign(managed: Arc<Managed>, control: Control, run: RunRef, artifact: Vec<u8>) {
    let reply = |answer: AssignAnswer| control.send(&ExecutorReport::AssignReply { run: run.clone(), answer });
    if managed.outbox.holds(&run) {
        // Sent again after a reconnect: it runs (or ran) already.
        return reply(AssignAnswer::Accepted);
    }
    let executor = managed.executor.clone();
    if executor.queue.full().is_some() {
        return reply(AssignAnswer::Busy);
    }
    let checker = executor.clone();
    let checked = tokio::task::spawn_blocking(move || execution::decode_and_check(&checker, &artifact)).await;
    let (pipeline, ctx) = match checked {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(message)) => {
            tracing::warn!(run_id = %run.run_id, %message, "refused an assignment");
            return reply(AssignAnswer::Refused { message });
        }
        Err(_) => {
            return reply(AssignAnswer::Refused {
                message: "refused the plan artifact: the decoder failed on it".into(),
            });
        }
    };
    let cancel = CancellationToken::new();
    if executor.queue.enqueue(&run.run_id, cancel.clone()).is_err() {
        return reply(AssignAnswer::Busy);
    }
    managed.outbox.hold(&run);
    tracing::info!(run_id = %run.run_id, attempt = run.attempt, stages = pipeline.stages.len(), "accepted a run");
    reply(AssignAnswer::Accepted);
    let outbox = managed.outbox.clone();
    let reported = run.clone();
    let report = move |report: Report| {
        let report = match report {
            Report::Queued(_) => return,
            Report::Started => RunReport::Started,
            Report::Progress(event) => RunReport::Progress { event },
        };
        outbox.push(&reported, report);
    };
    *managed.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(run.clone());
    let outcome = execution::run(&executor, &run.run_id, pipeline, ctx, cancel, report).await;
    tracing::info!(run_id = %run.run_id, outcome = execution::outcome_name(&outcome), "execution ended");
    *managed.running.lock().unwrap_or_else(|p| p.into_inner()) = None;
    executor.queue.finish(&run.run_id);
    managed.outbox.push(&run, RunReport::Finished { outcome });
}

//! `GET /api/events`: what changed, as server-sent events, for pages that stay current
//! without reloading: `run` (data `{"id": ...}`) when a run has a new event, `executors`
//! when an executor connected, went away, or took or finished a run, and `lagged` when
//! the stream fell behind and the reader should read everything again.
//!
//! A run's events themselves are in `GET /api/runs/{id}/events`; this stream only names
//! what to read again.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::state::Orchestrator;

/// Notices waiting for a slow reader at most; past it the reader hears `lagged`.
const BUFFERED_NOTICES: usize = 64;
/// How often a web session's stream checks that the session still holds.
const SESSION_RECHECK: Duration = Duration::from_secs(15);

pub async fn events(
    State(orchestrator): State<Arc<Orchestrator>>,
    caller: Caller,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (tx, rx) = mpsc::channel::<SseEvent>(BUFFERED_NOTICES);
    tokio::spawn(async move {
        let mut runs = orchestrator.events.subscribe();
        let mut executors = orchestrator.executors.watch();
        executors.mark_unchanged();
        let mut recheck = tokio::time::interval(SESSION_RECHECK);
        recheck.tick().await;
        loop {
            let notice = tokio::select! {
                _ = recheck.tick() => {
                    // A stream of a web session ends with the session (signed out, key revoked).
                    if !caller.still_signed_in(&orchestrator).await {
                        return;
                    }
                    continue;
                }
                run = runs.recv() => match run {
                    Ok(id) => SseEvent::default().event("run").data(serde_json::json!({ "id": id }).to_string()),
                    Err(RecvError::Lagged(_)) => SseEvent::default().event("lagged").data("{}"),
                    Err(RecvError::Closed) => return,
                },
                changed = executors.changed() => match changed {
                    Ok(()) => SseEvent::default().event("executors").data("{}"),
                    Err(_) => return,
                },
                _ = tx.closed() => return,
            };
            // A reader that stopped reading: it is told to read everything again.
            match tx.try_send(notice) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    if tx.send(SseEvent::default().event("lagged").data("{}")).await.is_err() {
                        return;
                    }
                    runs = runs.resubscribe();
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|event| (Ok(event), rx)) });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

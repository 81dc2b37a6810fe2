//! What executors tell about runs, recorded: answers to assignments, run reports, and
//! what happens to runs whose executor went away.
//!
//! Every change of a run is a conditional move in the database ([`runs::transition`]),
//! so a late or repeated report never moves a run twice. Reports are stored with the
//! executor's sequence numbers and acknowledged only once stored.

use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::Outcome;
use aqueducts_protocol::api::RunEvent;
use aqueducts_protocol::managed::{AssignAnswer, Hello, OrchestratorMessage, RunRef, RunReport};
use sqlx::Row;

use crate::db::runs::{self, Run, RunState};
use crate::db::{DbError, now_ms};
use crate::state::Orchestrator;

/// The state a run ends in for `outcome`.
pub fn final_state(outcome: &Outcome) -> RunState {
    match outcome {
        Outcome::Succeeded { .. } => RunState::Succeeded,
        Outcome::Failed { .. } => RunState::Failed,
        Outcome::Cancelled => RunState::Cancelled,
    }
}

/// The last report of `run` recorded (0: none).
pub async fn recorded_upto(orchestrator: &Orchestrator, run: &RunRef) -> Result<u64, DbError> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(MAX(source_seq), 0) AS BIGINT) FROM run_events WHERE run_id = $1 AND attempt = $2",
    )
    .bind(&run.run_id)
    .bind(i64::from(run.attempt))
    .fetch_one(&orchestrator.db.pool)
    .await?;
    Ok(row.try_get::<i64, _>(0)?.max(0) as u64)
}

/// Keeps the executor's hello, so that it is listed while offline too.
pub async fn remember_executor(orchestrator: &Orchestrator, hello: &Hello) {
    let text = serde_json::to_string(hello).unwrap_or_default();
    let now = now_ms();
    let stored = sqlx::query(
        "INSERT INTO executors (id, boot_id, hello, first_seen_ms, last_seen_ms, state) VALUES ($1, $2, $3, $4, $4, 'online') \
         ON CONFLICT (id) DO UPDATE SET boot_id = $2, hello = $3, last_seen_ms = $4, state = 'online'",
    )
    .bind(&hello.executor_id)
    .bind(&hello.boot_id)
    .bind(text)
    .bind(now)
    .execute(&orchestrator.db.pool)
    .await;
    if let Err(error) = stored {
        tracing::error!(%error, "cannot record an executor");
    }
}

/// Records that `executor` is offline.
pub async fn executor_offline(orchestrator: &Orchestrator, executor: &str) {
    let _ = sqlx::query("UPDATE executors SET state = 'offline', last_seen_ms = $2 WHERE id = $1")
        .bind(executor)
        .bind(now_ms())
        .execute(&orchestrator.db.pool)
        .await;
}

/// An executor (re)connected holding `held`: runs the database gives it that it does not
/// hold were lost with its previous process or connection (assignments made on this
/// connection are not among them: they are newer than its registration).
pub async fn confirm_held(orchestrator: &Arc<Orchestrator>, executor: &str, held: &[RunRef], registered_ms: i64) {
    orchestrator.confirmed(held);
    let in_flight = match runs::in_flight(&orchestrator.db).await {
        Ok(runs) => runs,
        Err(error) => return tracing::error!(%error, "cannot read the runs in flight"),
    };
    for run in in_flight.into_iter().filter(|run| run.executor_id.as_deref() == Some(executor)) {
        let reference = RunRef { run_id: run.id.clone(), attempt: run.attempt };
        if held.contains(&reference) {
            continue;
        }
        let assigned_before = runs::attempts(&orchestrator.db, &run.id)
            .await
            .ok()
            .and_then(|attempts| attempts.into_iter().find(|a| a.attempt == run.attempt))
            .is_some_and(|attempt| attempt.assigned_ms < registered_ms);
        if !assigned_before {
            continue;
        }
        if run.state == RunState::Assigned {
            // The assignment never reached it: the run waits again, the attempt uncounted.
            let _ = runs::unassign(&orchestrator.db, &run.id, run.attempt).await;
            orchestrator.executors.free(executor, &run.id);
            orchestrator.wake.notify_one();
        } else {
            lose(orchestrator, &run, executor, "the executor came back without the run (it was restarted)").await;
        }
    }
}

/// Sends the cancels asked for the runs `executor` works on.
pub async fn resend_cancels(orchestrator: &Orchestrator, executor: &str) {
    let Ok(in_flight) = runs::in_flight(&orchestrator.db).await else { return };
    for run in in_flight {
        if run.cancel_requested && run.executor_id.as_deref() == Some(executor) {
            orchestrator.executors.send_json(executor, &OrchestratorMessage::Cancel { run_id: run.id.clone() });
        }
    }
}

/// Records a run report of `executor`; whether to acknowledge it.
pub async fn report(
    orchestrator: &Arc<Orchestrator>,
    executor: &str,
    run: &RunRef,
    seq: u64,
    report: RunReport,
) -> Result<bool, DbError> {
    let db = &orchestrator.db;
    if runs::attempt_executor(db, &run.run_id, run.attempt).await?.as_deref() != Some(executor) {
        // Not its run (an attempt taken back and given to another): acknowledged so
        // that it is not sent again, dropped, and stopped if it still runs.
        tracing::warn!(executor_id = %executor, run_id = %run.run_id, attempt = run.attempt, "dropped a report on a run this executor was not given");
        if !matches!(report, RunReport::Finished { .. }) {
            orchestrator.executors.send_json(executor, &OrchestratorMessage::Cancel { run_id: run.run_id.clone() });
        }
        return Ok(true);
    }
    let event = match &report {
        RunReport::Started => RunEvent::Started { attempt: run.attempt },
        RunReport::Progress { event } => RunEvent::Progress { attempt: run.attempt, event: event.clone() },
        RunReport::Finished { outcome } => {
            RunEvent::Ended { state: final_state(outcome).name().into(), outcome: Some(outcome.clone()) }
        }
    };
    match report {
        RunReport::Started => {
            runs::transition(db, &run.run_id, run.attempt, RunState::Assigned, RunState::Running, None).await?;
            orchestrator.events.append(db, &run.run_id, run.attempt, Some(seq), &event).await?;
        }
        RunReport::Progress { .. } => {
            orchestrator.events.append(db, &run.run_id, run.attempt, Some(seq), &event).await?;
        }
        RunReport::Finished { outcome } => {
            finished(orchestrator, executor, run, seq, &outcome, &event).await?;
        }
    }
    Ok(true)
}

async fn finished(
    orchestrator: &Arc<Orchestrator>,
    executor: &str,
    run: &RunRef,
    seq: u64,
    outcome: &Outcome,
    event: &RunEvent,
) -> Result<(), DbError> {
    let db = &orchestrator.db;
    let state = final_state(outcome);
    let text = serde_json::to_string(outcome).unwrap_or_default();
    // The run's true outcome, whether it is still under way, was taken for lost, or
    // waits for a retry after its executor was taken for lost.
    let mut moved = false;
    for from in [RunState::Running, RunState::Assigned, RunState::Lost, RunState::Queued] {
        if runs::transition(db, &run.run_id, run.attempt, from, state, Some(&text)).await? {
            moved = true;
            break;
        }
    }
    if moved {
        let seconds = match outcome {
            Outcome::Succeeded { summary } => Some(summary.elapsed.as_secs_f64()),
            _ => runs::get(db, &run.run_id)
                .await?
                .and_then(|r| r.started_ms.zip(r.ended_ms))
                .map(|(start, end)| (end - start).max(0) as f64 / 1000.0),
        };
        orchestrator.durations.record(state, seconds);
        orchestrator.events.append(db, &run.run_id, run.attempt, Some(seq), event).await?;
    } else {
        // A superseded attempt: recorded on the attempt only.
        let mut connection = db.pool.acquire().await?;
        runs::record_attempt(&mut connection, &run.run_id, run.attempt, state, Some(&text)).await?;
    }
    tracing::info!(run_id = %run.run_id, attempt = run.attempt, executor_id = %executor, state = state.name(), "run ended");
    orchestrator.executors.free(executor, &run.run_id);
    orchestrator.wake.notify_one();
    Ok(())
}

/// Records an executor's answer to an assignment.
pub async fn assign_reply(
    orchestrator: &Arc<Orchestrator>,
    executor: &str,
    run: &RunRef,
    answer: AssignAnswer,
) -> Result<(), DbError> {
    let db = &orchestrator.db;
    if runs::attempt_executor(db, &run.run_id, run.attempt).await?.as_deref() != Some(executor) {
        return Ok(());
    }
    match answer {
        AssignAnswer::Accepted => {
            // A cancel asked while the assignment travelled reaches it now.
            if runs::get(db, &run.run_id).await?.is_some_and(|current| current.cancel_requested) {
                orchestrator.executors.send_json(executor, &OrchestratorMessage::Cancel { run_id: run.run_id.clone() });
            }
        }
        AssignAnswer::Busy => {
            // Its view of itself wins: it gets nothing until a heartbeat says it is idle.
            tracing::info!(executor_id = %executor, run_id = %run.run_id, "the executor was busy; the run waits again");
            orchestrator.executors.free(executor, &run.run_id);
            orchestrator.executors.busy_elsewhere(executor);
            runs::unassign(db, &run.run_id, run.attempt).await?;
            orchestrator.wake.notify_one();
        }
        AssignAnswer::Refused { message } => {
            tracing::warn!(executor_id = %executor, run_id = %run.run_id, %message, "the executor refused a run");
            orchestrator.executors.free(executor, &run.run_id);
            orchestrator.wake.notify_one();
            fail(orchestrator, &run.run_id, run.attempt, RunState::Assigned, message).await?;
        }
    }
    Ok(())
}

/// Ends a run as failed with `message` (no stage failed: it did not get to run).
pub async fn fail(
    orchestrator: &Orchestrator,
    run_id: &str,
    attempt: u32,
    from: RunState,
    message: String,
) -> Result<bool, DbError> {
    let outcome = Outcome::Failed { stage: None, message, memory_limit: false, destination_changed: false };
    let text = serde_json::to_string(&outcome).unwrap_or_default();
    let db = &orchestrator.db;
    if !runs::transition(db, run_id, attempt, from, RunState::Failed, Some(&text)).await? {
        return Ok(false);
    }
    orchestrator.durations.record(RunState::Failed, None);
    let event = RunEvent::Ended { state: RunState::Failed.name().into(), outcome: Some(outcome) };
    orchestrator.events.append(db, run_id, attempt, None, &event).await?;
    Ok(true)
}

/// The wait before retry number `attempt` (from 1): 5 s, doubling, at most 5 minutes.
pub fn retry_backoff(attempt: u32) -> Duration {
    Duration::from_secs(5).saturating_mul(1u32 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(300))
}

/// The executor of `run` is gone: the run is cancelled if a cancel was asked for,
/// queued again if it has retries left, and lost otherwise. Its destination is as it
/// was: executors commit staged output only together with their outcome.
pub async fn lose(orchestrator: &Arc<Orchestrator>, run: &Run, executor: &str, reason: &str) {
    let result: Result<(), DbError> = async {
        let db = &orchestrator.db;
        let event = RunEvent::Lost { executor_id: executor.to_string(), attempt: run.attempt, reason: reason.into() };
        let end = |state: RunState, outcome: Option<Outcome>| RunEvent::Ended { state: state.name().into(), outcome };
        if run.cancel_requested {
            if runs::transition(db, &run.id, run.attempt, run.state, RunState::Cancelled, None).await? {
                orchestrator.durations.record(RunState::Cancelled, None);
                orchestrator.events.append(db, &run.id, run.attempt, None, &event).await?;
                orchestrator.events.append(db, &run.id, run.attempt, None, &end(RunState::Cancelled, None)).await?;
            }
        } else if run.attempt <= run.retries {
            let not_before_ms = now_ms() + retry_backoff(run.attempt).as_millis() as i64;
            if runs::requeue(db, &run.id, run.attempt, run.state, not_before_ms).await? {
                orchestrator.events.append(db, &run.id, run.attempt, None, &event).await?;
                let retrying = RunEvent::Retrying { attempt: run.attempt + 1, not_before_ms };
                orchestrator.events.append(db, &run.id, run.attempt, None, &retrying).await?;
            }
        } else if runs::transition(db, &run.id, run.attempt, run.state, RunState::Lost, None).await? {
            orchestrator.durations.record(RunState::Lost, None);
            orchestrator.events.append(db, &run.id, run.attempt, None, &event).await?;
            orchestrator.events.append(db, &run.id, run.attempt, None, &end(RunState::Lost, None)).await?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => tracing::warn!(run_id = %run.id, attempt = run.attempt, executor_id = %executor, %reason, "run lost"),
        Err(error) => tracing::error!(%error, run_id = %run.id, "cannot record a lost run"),
    }
    orchestrator.executors.free(executor, &run.id);
    orchestrator.wake.notify_one();
}

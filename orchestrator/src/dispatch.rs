//! The dispatcher: queued runs go to idle executors, first come, first served.
//!
//! One task, woken when a run is queued or an executor becomes free (and every second,
//! for runs waiting out a retry's backoff). A run goes to an idle, connected executor
//! whose labels include the run's selector, preferring one that has not tried it
//! before; a run no executor fits waits without holding back runs behind it that fit
//! other executors. The executor is marked busy before anything else happens, so it
//! never gets two runs; a spec is compiled for that executor, then the artifact goes
//! out in an assignment frame.

use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::api::RunEvent;
use aqueducts_protocol::managed::{RunRef, assign_frame};
use axum::extract::ws::Message;

use crate::compile::{self, CompileError};
use crate::db::runs::{self, Run, RunState, Work};
use crate::db::{DbError, pipelines};
use crate::ingest;
use crate::state::Orchestrator;

/// Queued runs looked at per round.
const ROUND: i64 = 1000;

pub async fn run(orchestrator: Arc<Orchestrator>) {
    loop {
        tokio::select! {
            _ = orchestrator.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if let Err(error) = round(&orchestrator).await {
            tracing::error!(%error, "dispatching failed; trying again");
        }
    }
}

async fn round(orchestrator: &Arc<Orchestrator>) -> Result<(), DbError> {
    // Page through the whole queue while executors are idle: runs no executor fits do
    // not hold back those behind them.
    let mut after = 0;
    loop {
        if orchestrator.executors.counts().0 == 0 {
            return Ok(());
        }
        let page = runs::queued(&orchestrator.db, after, ROUND).await?;
        let full = page.len() as i64 == ROUND;
        for run in page {
            after = run.seq;
            place(orchestrator, run).await?;
        }
        if !full {
            return Ok(());
        }
    }
}

/// Gives `run` to an executor that fits, if one is idle and its pipeline may run
/// another at once.
async fn place(orchestrator: &Arc<Orchestrator>, run: Run) -> Result<(), DbError> {
    if let Some((name, version)) = &run.pipeline {
        let max_concurrent = pipelines::version(&orchestrator.db, name, *version)
            .await?
            .map_or(1, |version| version.settings.max_concurrent.max(1));
        if pipelines::running(&orchestrator.db, name).await? >= max_concurrent {
            return Ok(());
        }
    }
    let avoid: Vec<String> = if run.attempt > 0 {
        runs::attempts(&orchestrator.db, &run.id).await?.into_iter().map(|a| a.executor_id).collect()
    } else {
        Vec::new()
    };
    let Some(executor) = orchestrator.executors.reserve(&run.labels, &avoid, &run.id) else { return Ok(()) };
    let attempt = match runs::assign(&orchestrator.db, &run.id, &executor).await {
        Ok(Some(attempt)) => attempt,
        Ok(None) => {
            orchestrator.executors.free(&executor, &run.id);
            return Ok(());
        }
        Err(error) => {
            orchestrator.executors.free(&executor, &run.id);
            return Err(error);
        }
    };
    let reference = RunRef { run_id: run.id.clone(), attempt };
    orchestrator.executors.set_attempt(&executor, &reference);
    let assigned = RunEvent::Assigned { executor_id: executor.clone(), attempt };
    if let Err(error) = orchestrator.events.append(&orchestrator.db, &run.id, attempt, None, &assigned).await {
        // The run goes on; its history misses this line.
        tracing::error!(%error, run_id = %run.id, "cannot record an assignment");
    }
    tracing::info!(run_id = %run.id, attempt, executor_id = %executor, "assigned a run");
    // Compiling asks the executor for its files: off the dispatcher, which goes on.
    let orchestrator = orchestrator.clone();
    tokio::spawn(async move { send(&orchestrator, run, reference, executor).await });
    Ok(())
}

/// Puts an assigned run back in the queue (the attempt uncounted) and frees its executor.
async fn give_back(orchestrator: &Orchestrator, run_id: &str, attempt: u32, executor: &str) {
    orchestrator.executors.free(executor, run_id);
    if let Err(error) = runs::unassign(&orchestrator.db, run_id, attempt).await {
        tracing::error!(%error, %run_id, "cannot put a run back in the queue");
    }
    orchestrator.wake.notify_one();
}

/// Compiles the run for `executor` when it is a spec, and sends it.
async fn send(orchestrator: &Arc<Orchestrator>, run: Run, reference: RunRef, executor: String) {
    let connection = orchestrator.executors.connection(&executor);
    // An artifact submitted as such has no stage graph to show.
    let artifact = match &run.work {
        Work::Artifact(bytes) if !bytes.is_empty() => Ok((bytes.clone(), None)),
        Work::Artifact(_) => match runs::artifact(&orchestrator.db, &run.id).await {
            Ok(Some(bytes)) => Ok((bytes, None)),
            Ok(None) => Err(CompileError::Failed("the run's artifact is gone".into())),
            Err(error) => Err(CompileError::Failed(error.to_string())),
        },
        Work::Spec { text, format, name } => {
            compile::for_executor(orchestrator, &executor, name, text, format, &run.params)
                .await
                .map(|compiled| (compiled.artifact, Some(compiled.graph)))
        }
    };
    // A spec that seemed broken while the executor's connection changed may only have
    // missed the executor's answers: tried again rather than failed.
    let artifact = match artifact {
        Err(CompileError::Invalid(..)) if orchestrator.executors.connection(&executor) != connection => {
            Err(CompileError::Failed(format!("the connection to executor {executor} changed while compiling")))
        }
        other => other,
    };
    // What happened while compiling: a cancel, or the run taken back.
    let current = match runs::get(&orchestrator.db, &run.id).await {
        Ok(Some(current)) => current,
        Ok(None) | Err(_) => return give_back(orchestrator, &run.id, reference.attempt, &executor).await,
    };
    if current.state != RunState::Assigned || current.attempt != reference.attempt {
        orchestrator.executors.free(&executor, &run.id);
        orchestrator.wake.notify_one();
        return;
    }
    if current.cancel_requested {
        let cancelled = runs::transition(
            &orchestrator.db,
            &run.id,
            reference.attempt,
            RunState::Assigned,
            RunState::Cancelled,
            None,
        )
        .await;
        if matches!(cancelled, Ok(true)) {
            orchestrator.durations.record(RunState::Cancelled, None);
            let ended =
                RunEvent::Ended { state: "cancelled".into(), outcome: Some(aqueducts_protocol::Outcome::Cancelled) };
            let _ = orchestrator.events.append(&orchestrator.db, &run.id, reference.attempt, None, &ended).await;
        }
        orchestrator.executors.free(&executor, &run.id);
        orchestrator.wake.notify_one();
        return;
    }
    let failure = match artifact {
        Ok((artifact, graph)) => match assign_frame(&reference, &artifact) {
            Some(frame) => {
                let limit = orchestrator.executors.hello(&executor).map_or(0, |hello| hello.max_message_bytes);
                if frame.len() as u64 > limit {
                    Some(format!(
                        "the plan artifact has {} bytes; executor {executor} accepts at most {limit} (--max-message-mb)",
                        artifact.len()
                    ))
                } else {
                    if let Some(graph) = graph {
                        let planned = RunEvent::Planned { attempt: reference.attempt, graph };
                        if let Err(error) = orchestrator
                            .events
                            .append(&orchestrator.db, &run.id, reference.attempt, None, &planned)
                            .await
                        {
                            tracing::error!(%error, run_id = %run.id, "cannot record a run's stage graph");
                        }
                    }
                    if orchestrator.executors.send(&executor, Message::Binary(frame.into())) {
                        return;
                    }
                    // Its connection is gone: the run waits for another executor.
                    return give_back(orchestrator, &run.id, reference.attempt, &executor).await;
                }
            }
            None => Some("the run id is too long for an assignment".to_string()),
        },
        Err(CompileError::Invalid(diagnostics, _)) => {
            Some(format!("the spec does not compile for executor {executor}:\n{diagnostics}"))
        }
        Err(CompileError::Failed(message)) => {
            // Not the spec's fault: the run waits for another try.
            tracing::warn!(run_id = %run.id, executor_id = %executor, %message, "cannot compile a run; it waits again");
            return give_back(orchestrator, &run.id, reference.attempt, &executor).await;
        }
    };
    if let Some(message) = failure {
        tracing::warn!(run_id = %run.id, executor_id = %executor, %message, "a run cannot be sent");
        orchestrator.executors.free(&executor, &run.id);
        if let Err(error) = ingest::fail(orchestrator, &run.id, reference.attempt, RunState::Assigned, message).await {
            tracing::error!(%error, run_id = %run.id, "cannot record a failed run");
        }
        orchestrator.wake.notify_one();
    }
}

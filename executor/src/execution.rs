//! The run path of every mode: an artifact decoded and checked against what this
//! executor allows, its turn in the queue, the run itself behind a panic boundary and
//! under the time limit, and the outcome. Who hears about it (a CLI's connection, an
//! orchestrator's) is the caller's [`Report`] function.

use aqueducts_protocol::{Event, Outcome};
use aqueducts_runtime::{ExecutablePipeline, artifact, execute_until};
use datafusion::prelude::SessionContext;
use tokio_util::sync::CancellationToken;

use crate::state::Executor;

/// What a run reports before its outcome.
#[derive(Debug, Clone)]
pub enum Report {
    /// It waits behind `position - 1` others.
    Queued(usize),
    Started,
    Progress(Event),
}

/// The artifact's plans in a fresh run context, if they decode and stay within the
/// allowed locations; otherwise why not.
pub fn decode_and_check(executor: &Executor, bytes: &[u8]) -> Result<(ExecutablePipeline, SessionContext), String> {
    let ctx = executor.settings.session_context().map_err(|e| format!("cannot set up a run: {e}"))?;
    let pipeline = artifact::decode_checked(bytes, &ctx.task_ctx(), &executor.allowed)
        .map_err(|error| format!("refused the plan artifact: {error}"))?;
    let touched = executor.allowed.check_pipeline(&pipeline).map_err(|refused| refused.to_string())?;
    executor.databases.check(&touched.databases).map_err(|refused| refused.to_string())?;
    Ok((pipeline, ctx))
}

/// Waits for the run's turn in the queue, runs it, and says how it ended; `report` hears
/// its queue positions, its start and its events, in that order.
pub async fn run(
    executor: &Executor,
    id: &str,
    pipeline: ExecutablePipeline,
    ctx: SessionContext,
    cancel: CancellationToken,
    report: impl Fn(Report) + Send + Sync + Clone + 'static,
) -> Outcome {
    if !executor.queue.wait_turn(id, &cancel, |position| report(Report::Queued(position))).await {
        return Outcome::Cancelled;
    }
    tracing::info!(execution_id = %id, "execution started");
    report(Report::Started);
    let events = report.clone();
    // Told to stop by a cancel or the time limit; a run already replacing its
    // destinations finishes that first, and its outcome says what it did.
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    // A task of its own: a panic inside DataFusion ends this run, not the executor.
    let mut task = tokio::spawn(async move {
        let mut on_event = move |event: Event| events(Report::Progress(event));
        execute_until(pipeline, &ctx, &mut on_event, stopping.cancelled_owned()).await
    });
    let deadline = async {
        match executor.max_run_duration {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let timed_out = tokio::select! {
        joined = &mut task => return outcome_of(joined, false, executor),
        _ = deadline => true,
        _ = cancel.cancelled() => false,
    };
    stop.cancel();
    outcome_of(task.await, timed_out, executor)
}

/// What a run's task ended with; a stopped run is cancelled, or failed when the time
/// limit stopped it.
fn outcome_of(
    joined: Result<Result<aqueducts_runtime::RunSummary, aqueducts_runtime::RunError>, tokio::task::JoinError>,
    timed_out: bool,
    executor: &Executor,
) -> Outcome {
    match joined {
        Ok(Ok(summary)) => Outcome::Succeeded { summary },
        Ok(Err(error)) if error.cancelled && timed_out => {
            let limit = executor.max_run_duration.map_or(0, |d| d.as_secs());
            Outcome::Failed {
                stage: None,
                message: format!(
                    "the run took longer than this executor allows ({limit} s, --max-run-duration); it was stopped"
                ),
                memory_limit: false,
                destination_changed: false,
            }
        }
        Ok(Err(error)) if error.cancelled => Outcome::Cancelled,
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
    }
}

pub fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded { .. } => "succeeded",
        Outcome::Failed { .. } => "failed",
        Outcome::Cancelled => "cancelled",
    }
}

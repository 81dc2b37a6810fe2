//! Executors that went away, and runs nobody confirmed after a restart.
//!
//! Every tick: an executor disconnected for longer than the heartbeat timeout is
//! offline, and the runs the database gives it are lost ([`ingest::lose`]: retried, cancelled or lost). After
//! the orchestrator starts, the runs its database has in flight wait one timeout for
//! their executor to come back holding them; those nobody holds by then are lost.

use std::sync::Arc;
use std::time::Duration;

use crate::db::runs;
use crate::ingest;
use crate::state::Orchestrator;

pub async fn run(orchestrator: Arc<Orchestrator>) {
    let tick = (orchestrator.heartbeat_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        for (executor, _) in orchestrator.executors.expire(orchestrator.heartbeat_timeout) {
            if orchestrator.executors.connection(&executor).is_some() {
                continue; // it came back in the meantime
            }
            tracing::warn!(executor_id = %executor, "executor offline");
            ingest::executor_offline(&orchestrator, &executor).await;
            // Every run the database gives it, not only the one the registry knew of
            // (after a restart, a run it held may not be known there).
            match runs::in_flight(&orchestrator.db).await {
                Ok(in_flight) => {
                    for run in in_flight.into_iter().filter(|run| run.executor_id.as_deref() == Some(executor.as_str()))
                    {
                        ingest::lose(
                            &orchestrator,
                            &run,
                            &executor,
                            "the executor went away and did not come back in time",
                        )
                        .await;
                    }
                }
                Err(error) => tracing::error!(%error, "cannot read the runs of an offline executor"),
            }
        }
        for run_id in orchestrator.unconfirmed_due() {
            match runs::get(&orchestrator.db, &run_id).await {
                Ok(Some(run)) if matches!(run.state, runs::RunState::Assigned | runs::RunState::Running) => {
                    let executor = run.executor_id.clone().unwrap_or_default();
                    ingest::lose(
                        &orchestrator,
                        &run,
                        &executor,
                        "no executor came back holding the run after a restart",
                    )
                    .await
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "cannot read a run to confirm"),
            }
        }
    }
}

/// At start-up: the runs in flight wait for their executors.
pub async fn recover(orchestrator: &Orchestrator) -> Result<usize, crate::db::DbError> {
    let in_flight = runs::in_flight(&orchestrator.db).await?;
    let count = in_flight.len();
    orchestrator.await_confirmation(in_flight.into_iter().map(|run| run.id));
    Ok(count)
}

//! `GET /metrics`: Prometheus text format, written by hand (a few lines, no dependency).
//!
//! Runs by state and the queue length come from the database (they survive restarts);
//! executors from the registry and the database; run durations and finished runs are
//! counted by this process since it started ([`crate::durations`]).

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use sqlx::Row;

use crate::auth::Caller;
use crate::db::runs::{self, RunState};
use crate::durations::BUCKETS;
use crate::error::ApiFailure;
use crate::state::Orchestrator;

pub async fn metrics(
    State(orchestrator): State<Arc<Orchestrator>>,
    _caller: Caller,
) -> Result<impl IntoResponse, ApiFailure> {
    let counts = runs::counts(&orchestrator.db).await?;
    let offline: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM executors WHERE state = 'offline'")
        .fetch_one(&orchestrator.db.pool)
        .await
        .map_err(ApiFailure::internal)?
        .try_get(0)
        .map_err(ApiFailure::internal)?;
    let (idle, busy) = orchestrator.executors.counts();
    let mut out = String::new();
    let _ = writeln!(out, "# HELP aqueducts_runs Runs in the database by state.\n# TYPE aqueducts_runs gauge");
    for state in RunState::ALL {
        let _ = writeln!(
            out,
            "aqueducts_runs{{state=\"{}\"}} {}",
            state.name(),
            counts.get(state.name()).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "# HELP aqueducts_queue_length Runs waiting for an executor.\n# TYPE aqueducts_queue_length gauge"
    );
    let _ = writeln!(out, "aqueducts_queue_length {}", counts.get("queued").copied().unwrap_or(0));
    let _ = writeln!(out, "# HELP aqueducts_executors Executors by state.\n# TYPE aqueducts_executors gauge");
    let _ = writeln!(out, "aqueducts_executors{{state=\"online\"}} {}", idle + busy);
    let _ = writeln!(out, "aqueducts_executors{{state=\"busy\"}} {busy}");
    let _ = writeln!(out, "aqueducts_executors{{state=\"offline\"}} {offline}");
    let inner = orchestrator.durations.snapshot();
    let _ = writeln!(
        out,
        "# HELP aqueducts_runs_finished_total Runs that ended since the orchestrator started, by state.\n# TYPE aqueducts_runs_finished_total counter"
    );
    for state in RunState::ALL.into_iter().filter(|state| state.is_final()) {
        let _ = writeln!(
            out,
            "aqueducts_runs_finished_total{{state=\"{}\"}} {}",
            state.name(),
            inner.finished.get(state.name()).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "# HELP aqueducts_run_duration_seconds How long runs that ended since the orchestrator started ran.\n# TYPE aqueducts_run_duration_seconds histogram"
    );
    let mut cumulative = 0;
    for (bound, count) in BUCKETS.iter().zip(inner.buckets) {
        cumulative += count;
        let _ = writeln!(out, "aqueducts_run_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += inner.buckets[BUCKETS.len()];
    let _ = writeln!(out, "aqueducts_run_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "aqueducts_run_duration_seconds_sum {}", inner.sum);
    let _ = writeln!(out, "aqueducts_run_duration_seconds_count {cumulative}");
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

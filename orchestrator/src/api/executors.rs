//! `/api/executors`: the executors connected now, and those seen before (offline).

use std::collections::BTreeSet;
use std::sync::Arc;

use aqueducts_protocol::api::ExecutorInfo;
use aqueducts_protocol::managed::Hello;
use axum::Json;
use axum::extract::{Path, State};
use sqlx::Row;

use crate::auth::Caller;
use crate::error::ApiFailure;
use crate::state::Orchestrator;

async fn all(orchestrator: &Orchestrator) -> Result<Vec<ExecutorInfo>, ApiFailure> {
    let mut infos = orchestrator.executors.infos();
    let known: BTreeSet<String> = infos.iter().map(|info| info.executor_id.clone()).collect();
    let rows = sqlx::query("SELECT id, hello, last_seen_ms FROM executors ORDER BY id")
        .fetch_all(&orchestrator.db.pool)
        .await
        .map_err(ApiFailure::internal)?;
    for row in rows {
        let id: String = row.try_get(0).map_err(ApiFailure::internal)?;
        if known.contains(&id) {
            continue;
        }
        let hello: String = row.try_get(1).map_err(ApiFailure::internal)?;
        let last_seen_ms: i64 = row.try_get(2).map_err(ApiFailure::internal)?;
        let Ok(hello) = serde_json::from_str::<Hello>(&hello) else { continue };
        infos.push(ExecutorInfo {
            executor_id: id,
            state: "offline".into(),
            labels: hello.labels,
            version: hello.version,
            datafusion_version: hello.datafusion_version,
            max_memory_bytes: hello.max_memory_bytes,
            features: hello.features,
            running: None,
            last_heard_ms: last_seen_ms,
            since_ms: last_seen_ms,
        });
    }
    infos.sort_by(|a, b| a.executor_id.cmp(&b.executor_id));
    Ok(infos)
}

/// `GET /api/executors`.
pub async fn list(
    State(orchestrator): State<Arc<Orchestrator>>,
    _caller: Caller,
) -> Result<Json<Vec<ExecutorInfo>>, ApiFailure> {
    Ok(Json(all(&orchestrator).await?))
}

/// `GET /api/executors/{id}`.
pub async fn show(
    State(orchestrator): State<Arc<Orchestrator>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExecutorInfo>, ApiFailure> {
    all(&orchestrator)
        .await?
        .into_iter()
        .find(|info| info.executor_id == id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("executor `{id}`")))
}

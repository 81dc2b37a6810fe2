//! The HTTP API's routes; one module per resource.

pub mod check;
pub mod executors;
pub mod live;
pub mod metrics;
pub mod pipelines;
pub mod runs;
pub mod shown;

use std::sync::Arc;

use aqueducts_protocol::api::{EXECUTORS_PATH, RUNS_PATH};
use aqueducts_protocol::managed::REGISTER_PATH;
use aqueducts_protocol::{HEALTH_PATH, Health};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::state::Orchestrator;

/// The largest request body: a plan artifact.
pub const MAX_BODY_BYTES: usize = 256 << 20;
/// The largest JSON body of the pipeline routes (a spec and its settings).
pub const MAX_JSON_BYTES: usize = 16 << 20;

pub fn router(orchestrator: Arc<Orchestrator>) -> Router {
    Router::new()
        .route(HEALTH_PATH, get(health))
        .route(REGISTER_PATH, get(crate::link::register))
        .route(EXECUTORS_PATH, get(executors::list))
        .route(&format!("{EXECUTORS_PATH}/{{id}}"), get(executors::show))
        .route(RUNS_PATH, get(runs::list).post(runs::submit))
        .route(&format!("{RUNS_PATH}/{{id}}"), get(runs::show))
        .route(&format!("{RUNS_PATH}/{{id}}/cancel"), post(runs::cancel))
        .route(&format!("{RUNS_PATH}/{{id}}/events"), get(runs::events))
        .route("/api/events", get(live::events))
        .route("/api/check", post(check::check).layer(DefaultBodyLimit::max(MAX_JSON_BYTES)))
        .route("/metrics", get(metrics::metrics))
        .route("/api/pipelines", get(pipelines::list))
        .route(
            "/api/pipelines/{name}",
            get(pipelines::show)
                .put(pipelines::deploy)
                .delete(pipelines::delete)
                .layer(DefaultBodyLimit::max(MAX_JSON_BYTES)),
        )
        .route("/api/pipelines/{name}/trigger", post(pipelines::trigger).layer(DefaultBodyLimit::max(MAX_JSON_BYTES)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(orchestrator)
}

/// `GET /api/health`: for anyone, says only that it is up.
async fn health() -> Json<Health> {
    Json(Health { status: "ok".into(), details: None })
}

//! `POST /api/check`: a spec checked as it would be compiled for a run, for the web
//! editor's diagnostics as the user types.
//!
//! The spec is compiled for a connected executor the labels fit, with that executor's
//! view of files and databases, exactly as a submitted run would be; nothing is queued.
//! Checks compile at most [`crate::state::MAX_CHECKS`] at once: the editor checks again
//! after the next change, so a refused check costs nothing.

use std::sync::Arc;

use aqueducts_protocol::api::{CheckAnswer, CheckSpec};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use crate::auth::Checker;
use crate::compile::{self, CompileError};
use crate::error::ApiFailure;
use crate::state::Orchestrator;

pub async fn check(
    State(orchestrator): State<Arc<Orchestrator>>,
    Checker(_caller): Checker,
    body: Bytes,
) -> Result<Json<CheckAnswer>, ApiFailure> {
    let request: CheckSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiFailure::new(StatusCode::BAD_REQUEST, format!("the body is not a check: {e}")))?;
    super::runs::check_labels(&request.labels)?;
    let format = request.spec.format.to_ascii_lowercase();
    if aqueducts_compiler::SpecFormat::from_key(&format).is_none() {
        return Err(ApiFailure::new(
            StatusCode::BAD_REQUEST,
            format!("`{format}` is not a spec format: use yaml, json or toml"),
        ));
    }
    let name = request.spec.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| format!("spec.{format}"));
    let Ok(_permit) = orchestrator.checks.try_acquire() else {
        return Err(ApiFailure::new(StatusCode::TOO_MANY_REQUESTS, "too many checks at once; try again"));
    };
    let Some(executor) = orchestrator.executors.any_fitting(&request.labels) else {
        return Err(ApiFailure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no connected executor fits the labels: a spec is checked against the files of the executor that would run it",
        ));
    };
    let compiled =
        compile::for_executor(&orchestrator, &executor, &name, &request.spec.text, &format, &request.params).await;
    let (ok, rendered, located) = match compiled {
        Ok(compiled) => (true, compiled.warnings.0, compiled.warnings.1),
        Err(CompileError::Invalid(rendered, located)) => {
            let has_errors = located.iter().any(|d| d.severity == "error") || located.is_empty();
            (!has_errors, rendered, located)
        }
        Err(CompileError::Failed(message)) => return Err(ApiFailure::new(StatusCode::SERVICE_UNAVAILABLE, message)),
    };
    Ok(Json(CheckAnswer { ok, executor_id: executor, rendered, located }))
}

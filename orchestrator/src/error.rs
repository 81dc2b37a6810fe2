//! [`ApiFailure`]: an error answer of the API (JSON with a message), and [`ServeError`]:
//! why the orchestrator cannot start or stopped serving.

use aqueducts_protocol::api::ApiError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};

#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub message: String,
    pub diagnostics: Option<String>,
    pub located: Vec<aqueducts_protocol::api::WireDiagnostic>,
}

impl ApiFailure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiFailure { status, message: message.into(), diagnostics: None, located: Vec::new() }
    }

    /// A spec with errors: 422 with its diagnostics.
    pub fn invalid(
        message: impl Into<String>,
        diagnostics: String,
        located: Vec<aqueducts_protocol::api::WireDiagnostic>,
    ) -> Self {
        ApiFailure {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            diagnostics: Some(diagnostics),
            located,
        }
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        ApiFailure::new(StatusCode::NOT_FOUND, format!("there is no {what}"))
    }

    /// A failure of the orchestrator itself (its database): logged in full, answered
    /// in general terms.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "a request failed");
        ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "the orchestrator failed to answer; see its log")
    }
}

impl From<crate::db::DbError> for ApiFailure {
    fn from(error: crate::db::DbError) -> Self {
        ApiFailure::internal(error)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let body = ApiError { error: self.message, diagnostics: self.diagnostics, located: self.located };
        (self.status, Json(body)).into_response()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    #[error("cannot resolve host `{host}`: {source}")]
    Resolve { host: String, source: std::io::Error },
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
    #[error("{0}")]
    Tls(String),
    #[error("the server stopped: {0}")]
    Stopped(std::io::Error),
}

//! [`Caller`]: who sent a request to a user route, and [`Caller::require`] for what
//! they may do.
//!
//! The key comes in `X-API-Key` (or `Authorization: Bearer`). The administrators' key
//! is compared as a digest in constant time; other keys are looked up by digest among
//! the stored keys. The executors' key opens no user route. A wrong key is answered
//! after a delay, and refusals are logged at most once a second.

use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::API_KEY_HEADER;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::db::keys::{self, Role};
use crate::error::ApiFailure;
use crate::state::{KeyOwner, Orchestrator};

/// How long the answer to a wrong key is held back.
pub const FAILED_KEY_DELAY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    /// The key's name (`admin` for the administrators' key).
    pub name: String,
}

impl Caller {
    /// Refuses a caller whose role is below `role`; `what` completes "a viewer key cannot ...".
    pub fn require(&self, role: Role, what: &str) -> Result<(), ApiFailure> {
        if self.role >= role {
            return Ok(());
        }
        Err(ApiFailure::new(StatusCode::FORBIDDEN, format!("a {} key cannot {what}", self.role.name())))
    }
}

/// Extractors for callers allowed to write, checked before the request's body is read
/// (a viewer's upload is refused before it is received): each names what a viewer may
/// not do.
macro_rules! writer {
    ($name:ident, $what:literal) => {
        pub struct $name(pub Caller);

        impl FromRequestParts<Arc<Orchestrator>> for $name {
            type Rejection = ApiFailure;

            async fn from_request_parts(
                parts: &mut Parts,
                orchestrator: &Arc<Orchestrator>,
            ) -> Result<Self, ApiFailure> {
                let caller = Caller::from_request_parts(parts, orchestrator).await?;
                caller.require(Role::Operator, $what)?;
                Ok($name(caller))
            }
        }
    };
}

writer!(Submitter, "submit runs");
writer!(Deployer, "deploy pipelines");
writer!(Triggerer, "trigger pipelines");

/// The key a request offers, if any.
pub fn offered_key(parts: &Parts) -> Option<&str> {
    if let Some(key) = parts.headers.get(API_KEY_HEADER) {
        return key.to_str().ok();
    }
    let bearer = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    bearer.strip_prefix("Bearer ").map(str::trim)
}

impl FromRequestParts<Arc<Orchestrator>> for Caller {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, orchestrator: &Arc<Orchestrator>) -> Result<Self, ApiFailure> {
        let unauthorized = |message: &str| ApiFailure::new(StatusCode::UNAUTHORIZED, message);
        let Some(key) = offered_key(parts) else {
            orchestrator.log_refused_key(parts.uri.path());
            return Err(unauthorized("a user key is needed in the X-API-Key header"));
        };
        match orchestrator.owner_of(key.as_bytes()) {
            KeyOwner::Admin => return Ok(Caller { role: Role::Admin, name: "admin".into() }),
            KeyOwner::Executors => {
                return Err(unauthorized("this is the executors' key; user routes need a user key"));
            }
            KeyOwner::Other => {}
        }
        match keys::lookup(&orchestrator.db, key).await {
            Ok(Some((name, role))) => Ok(Caller { role, name }),
            Ok(None) => {
                orchestrator.log_refused_key(parts.uri.path());
                tokio::time::sleep(FAILED_KEY_DELAY).await;
                Err(unauthorized("unknown or revoked key"))
            }
            Err(error) => Err(ApiFailure::internal(error)),
        }
    }
}

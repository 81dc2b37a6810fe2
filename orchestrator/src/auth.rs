//! [`Caller`]: who sent a request to a user route, and [`Caller::require`] for what
//! they may do.
//!
//! The key comes in `X-API-Key` (or `Authorization: Bearer`). The administrators' key
//! is compared as a digest in constant time; other keys are looked up by digest among
//! the stored keys. The executors' key opens no user route. A wrong key is answered
//! after a delay, and refusals are logged at most once a second.
//!
//! The web interface's requests carry a session cookie instead ([`crate::web::session`]):
//! those that change something must also carry the session's CSRF token, and a session
//! of a key revoked since ends at its next request.

use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::API_KEY_HEADER;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::db::keys::{self, Role};
use crate::error::ApiFailure;
use crate::state::{KeyOwner, Orchestrator};
use crate::web::session;

/// How long the answer to a wrong key is held back.
pub const FAILED_KEY_DELAY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    /// The key's name (`admin` for the administrators' key).
    pub name: String,
    /// The web session the request came with (its cookie's token), if it did.
    pub session: Option<String>,
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
writer!(Checker, "check specs");

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
            if let Some(token) = session::cookie_token(&parts.headers) {
                return from_session(parts, orchestrator, token).await;
            }
            orchestrator.log_refused_key(parts.uri.path());
            return Err(unauthorized("a user key is needed in the X-API-Key header"));
        };
        match orchestrator.owner_of(key.as_bytes()) {
            KeyOwner::Admin => return Ok(Caller { role: Role::Admin, name: "admin".into(), session: None }),
            KeyOwner::Executors => {
                return Err(unauthorized("this is the executors' key; user routes need a user key"));
            }
            KeyOwner::Other => {}
        }
        match keys::lookup(&orchestrator.db, key).await {
            Ok(Some((name, role))) => Ok(Caller { role, name, session: None }),
            Ok(None) => {
                orchestrator.log_refused_key(parts.uri.path());
                tokio::time::sleep(FAILED_KEY_DELAY).await;
                Err(unauthorized("unknown or revoked key"))
            }
            Err(error) => Err(ApiFailure::internal(error)),
        }
    }
}

/// The caller of a request that came with a session cookie and no key.
async fn from_session(parts: &Parts, orchestrator: &Orchestrator, token: &str) -> Result<Caller, ApiFailure> {
    let Some(session) = orchestrator.sessions.get(token) else {
        return Err(ApiFailure::new(StatusCode::UNAUTHORIZED, "the session has ended; sign in again"));
    };
    if !parts.method.is_safe() {
        let offered = parts.headers.get(session::CSRF_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default();
        // Browsers say where a request comes from; the page's own requests come from its origin.
        let cross_site = parts
            .headers
            .get("sec-fetch-site")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|site| site != "same-origin");
        if cross_site || !session.csrf_matches(offered) {
            tracing::warn!(route = parts.uri.path(), session = %session.name, "refused a request without its session's CSRF token");
            return Err(ApiFailure::new(
                StatusCode::FORBIDDEN,
                "a request with a session cookie must carry the session's token in X-CSRF-Token",
            ));
        }
    }
    let Some(key_digest) = &session.key_digest else {
        return Ok(Caller { role: session.role, name: session.name, session: Some(token.to_string()) });
    };
    match keys::lookup_digest(&orchestrator.db, key_digest).await {
        Ok(Some((name, role))) => Ok(Caller { role, name, session: Some(token.to_string()) }),
        Ok(None) => {
            orchestrator.sessions.end(token);
            Err(ApiFailure::new(StatusCode::UNAUTHORIZED, "the key of this session was revoked"))
        }
        Err(error) => Err(ApiFailure::internal(error)),
    }
}

impl Caller {
    /// Whether the caller may still read: always for a key; for a web session, while it
    /// lasts and its key is not revoked (long-lived streams ask now and then).
    pub async fn still_signed_in(&self, orchestrator: &Orchestrator) -> bool {
        let Some(token) = &self.session else { return true };
        let Some(session) = orchestrator.sessions.get(token) else { return false };
        match &session.key_digest {
            None => true,
            Some(digest) => !matches!(keys::lookup_digest(&orchestrator.db, digest).await, Ok(None)),
        }
    }
}

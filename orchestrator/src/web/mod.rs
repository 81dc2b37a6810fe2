//! The web interface: pages served from the orchestrator's binary, on its port and TLS.
//!
//! The page (`web/` at the crate's root: HTML, CSS and hand-written JavaScript, plus
//! vendored builds of CodeMirror, dagre and jsdiff with their versions and licences in
//! `web/vendor/README.md`) is embedded at build time ([`assets`]), so neither building
//! nor running the orchestrator needs Node. It signs in with a key ([`session`]) and
//! then uses the same HTTP API as the CLI, with the session cookie in place of the key,
//! and follows `/api/events` and a run's event stream for live updates.

pub mod assets;
pub mod session;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::auth::{Caller, FAILED_KEY_DELAY};
use crate::db::keys::{self, Role};
use crate::error::ApiFailure;
use crate::state::{KeyOwner, Orchestrator};
use session::Session;

/// The route of signing in (`POST`), the current session (`GET`) and signing out (`DELETE`).
pub const SESSION_PATH: &str = "/ui/session";

pub fn router(orchestrator: Arc<Orchestrator>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
        .route(
            SESSION_PATH,
            get(current_session).post(sign_in).delete(sign_out).layer(DefaultBodyLimit::max(SIGN_IN_BYTES)),
        )
        .with_state(orchestrator)
}

/// The largest sign-in body (a key in JSON).
const SIGN_IN_BYTES: usize = 4 << 10;

/// What the page may load and where it may send: only this origin; no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn page_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

async fn index(headers: HeaderMap) -> Response {
    serve_asset("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve_asset(&path, &headers)
}

fn serve_asset(path: &str, request: &HeaderMap) -> Response {
    let Some(asset) = assets::find(path) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let etag = assets::etag(asset);
    let mut response = if request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = asset.bytes.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        response
    };
    let headers = response.headers_mut();
    page_headers(headers);
    // Always revalidated (cheaply, by ETag): a new binary's page is used at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// What the page knows of its session.
#[derive(Debug, Serialize)]
pub struct SessionInfo {
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// Sent back in `X-CSRF-Token` with every request that changes something.
    pub csrf_token: String,
    pub expires_in_s: u64,
}

impl From<&Session> for SessionInfo {
    fn from(session: &Session) -> Self {
        SessionInfo {
            name: session.name.clone(),
            role: session.role.name().into(),
            csrf_token: session.csrf_token.clone(),
            expires_in_s: session.expires_in().as_secs(),
        }
    }
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    key: String,
}

/// `POST /ui/session` with `{"key": ...}`: opens a session for a user key. Only as JSON
/// (another site's form cannot send that without the browser asking first, which this
/// server never allows) and not from another site: nobody is signed in to someone else's key.
async fn sign_in(
    State(orchestrator): State<Arc<Orchestrator>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiFailure> {
    let unauthorized = |message: &str| ApiFailure::new(StatusCode::UNAUTHORIZED, message);
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(ApiFailure::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "sign in with a JSON body"));
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|site| site != "same-origin" && site != "none") {
        return Err(ApiFailure::new(StatusCode::FORBIDDEN, "sign in from the orchestrator's own page"));
    }
    let SignIn { key } = serde_json::from_slice(&body)
        .map_err(|_| ApiFailure::new(StatusCode::BAD_REQUEST, "send {\"key\": \"...\"} as JSON"))?;
    let key = key.trim();
    let (role, name, key_digest) = match orchestrator.owner_of(key.as_bytes()) {
        KeyOwner::Admin => (Role::Admin, "admin".to_string(), None),
        KeyOwner::Executors => return Err(unauthorized("this is the executors' key; sign in with a user key")),
        KeyOwner::Other => match keys::lookup(&orchestrator.db, key).await? {
            Some((name, role)) => (role, name, Some(keys::digest(key))),
            None => {
                orchestrator.log_refused_key(SESSION_PATH);
                tokio::time::sleep(FAILED_KEY_DELAY).await;
                return Err(unauthorized("unknown or revoked key"));
            }
        },
    };
    let (token, session) = orchestrator.sessions.open(role, name, key_digest);
    tracing::info!(name = %session.name, role = role.name(), "signed in to the web interface");
    let cookie = session::set_cookie(&token, orchestrator.secure_cookies);
    let mut response = Json(SessionInfo::from(&session)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(no_store(response))
}

/// `GET /ui/session`: the session of the cookie (the page's CSRF token after a reload).
async fn current_session(
    State(orchestrator): State<Arc<Orchestrator>>,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    let ended = || ApiFailure::new(StatusCode::UNAUTHORIZED, "not signed in");
    let token = session::cookie_token(&headers).ok_or_else(ended)?;
    let session = orchestrator.sessions.get(token).ok_or_else(ended)?;
    if let Some(key_digest) = &session.key_digest
        && keys::lookup_digest(&orchestrator.db, key_digest).await?.is_none()
    {
        orchestrator.sessions.end(token);
        return Err(ApiFailure::new(StatusCode::UNAUTHORIZED, "the key of this session was revoked"));
    }
    Ok(no_store(Json(SessionInfo::from(&session)).into_response()))
}

/// `DELETE /ui/session`: signs out (with the session's CSRF token, like every change).
async fn sign_out(
    State(orchestrator): State<Arc<Orchestrator>>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    if let Some(token) = session::cookie_token(&headers) {
        orchestrator.sessions.end(token);
        tracing::info!(name = %caller.name, "signed out of the web interface");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&session::clear_cookie(orchestrator.secure_cookies)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(no_store(response))
}

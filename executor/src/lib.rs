//! The Aqueducts executor: runs precompiled plan artifacts near the data.
//!
//! Clients (`aqueducts run --executor`) connect to `/ws/connect` with an API key, may read
//! the executor's view of their sources while compiling ([`files`]), and send a plan
//! artifact. Artifacts are decoded behind a panic boundary, checked against the allowed
//! locations, and run one at a time from a FIFO queue ([`queue`]), each under its own
//! memory pool; progress and the outcome go back over the same connection
//! ([`session`]). The executor never parses specs or SQL: it links the runtime, not the
//! compiler.
//!
//! In managed mode ([`managed`]) the executor listens for nobody (except `/api/health`
//! when given a port): it dials out to an orchestrator, which assigns it runs and
//! relays its compiler's store operations over that connection.

pub mod error;
pub mod execution;
pub mod files;
pub mod managed;
pub mod options;
pub mod queue;
pub mod session;
pub mod state;
pub mod store_requests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::{
    API_KEY_HEADER, CONNECT_PATH, HEALTH_PATH, Health, HealthDetails, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;

pub use error::ServeError;
pub use options::{Mode, Options};
pub use state::Executor;

/// The routes: `GET /api/health` (no key) and `GET /ws/connect` (WebSocket, key needed).
pub fn router(executor: Arc<Executor>) -> Router {
    Router::new().route(HEALTH_PATH, get(health)).route(CONNECT_PATH, get(connect)).with_state(executor)
}

/// The status for anyone; what the executor is and does only with the key.
async fn health(State(executor): State<Arc<Executor>>, headers: axum::http::HeaderMap) -> Json<Health> {
    let offered = headers.get(API_KEY_HEADER).map(|v| v.as_bytes());
    if offered.is_some_and(|key| !executor.key_matches(key)) {
        // A wrong guess here costs what it costs at `/ws/connect`.
        executor.log_refused_key(true);
        tokio::time::sleep(FAILED_KEY_DELAY).await;
    }
    let details = offered.filter(|key| executor.key_matches(key)).map(|_| {
        let (running, queued) = executor.queue.counts();
        HealthDetails {
            executor_id: executor.id.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            datafusion_version: aqueducts_runtime::DATAFUSION_VERSION.into(),
            protocol_version: PROTOCOL_VERSION,
            running,
            queued,
        }
    });
    Json(Health { status: "ok".into(), details })
}

/// A WebSocket upgrade if the request asked for one; otherwise `None`, answered after
/// the key check (so that a missing key is a 401 whatever else is wrong).
struct MaybeUpgrade(Option<WebSocketUpgrade>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUpgrade {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUpgrade(WebSocketUpgrade::from_request_parts(parts, state).await.ok()))
    }
}

async fn connect(
    State(executor): State<Arc<Executor>>,
    headers: axum::http::HeaderMap,
    MaybeUpgrade(upgrade): MaybeUpgrade,
) -> Response {
    let offered = headers.get(API_KEY_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !executor.key_matches(offered) {
        executor.log_refused_key(!offered.is_empty());
        // Each wrong guess costs its sender time.
        tokio::time::sleep(FAILED_KEY_DELAY).await;
        return (StatusCode::UNAUTHORIZED, "a valid API key is needed in the X-API-Key header\n").into_response();
    }
    let Some(upgrade) = upgrade else {
        return (StatusCode::BAD_REQUEST, "this endpoint speaks WebSocket only\n").into_response();
    };
    if let Err(refusal) = protocol_spoken(&headers) {
        tracing::warn!(%refusal, "refused a connection: protocol version");
        return (StatusCode::BAD_REQUEST, format!("{refusal}\n")).into_response();
    }
    let Ok(permit) = executor.connections.clone().try_acquire_owned() else {
        tracing::warn!("refused a connection: --max-connections reached");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections; try again later\n").into_response();
    };
    let limit = executor.max_message_bytes;
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            session::serve(executor, socket).await;
            drop(permit);
        })
        .into_response()
}

/// The client's protocol version must be ours: messages of another version would be
/// misread. (A client that sends none predates the header and speaks another version.)
fn protocol_spoken(headers: &axum::http::HeaderMap) -> Result<(), String> {
    let offered = headers.get(PROTOCOL_HEADER).map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u32>().ok()));
    let advice = "use an aqueducts of the executor's version";
    match offered {
        Some(Some(PROTOCOL_VERSION)) => Ok(()),
        Some(Some(other)) => {
            Err(format!("this executor speaks protocol version {PROTOCOL_VERSION}, the client {other}; {advice}"))
        }
        Some(None) => Err(format!(
            "the client sent an unreadable protocol version in {PROTOCOL_HEADER}; this executor speaks version {PROTOCOL_VERSION}: {advice}"
        )),
        None => Err(format!(
            "the client did not say which protocol it speaks ({PROTOCOL_HEADER}); this executor speaks version {PROTOCOL_VERSION}: {advice}"
        )),
    }
}

/// How long a client may take to send the headers of a request (and its first request
/// after connecting): half-sent requests do not hold connections open.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the answer to a wrong key is held back.
const FAILED_KEY_DELAY: Duration = Duration::from_millis(500);

/// Serves until the process is stopped: a standalone executor listens for CLIs; a
/// managed one dials its orchestrator (and listens for health checks when given a port).
pub async fn serve(options: Options) -> Result<(), ServeError> {
    let executor = Arc::new(Executor::new(&options)?);
    match (options.mode, options.listen_port()) {
        (Mode::Standalone, Some(port)) => listen(&options, port, executor.clone(), router(executor)).await,
        (_, port) => {
            let health = Router::new().route(HEALTH_PATH, get(health)).with_state(executor.clone());
            let listening = async {
                match port {
                    Some(port) => listen(&options, port, executor.clone(), health).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                served = listening => served,
                managed = managed::serve_managed(options.clone(), executor.clone()) => managed,
            }
        }
    }
}

/// Listens on `port` and serves `app` until the process is stopped.
async fn listen(options: &Options, port: u16, executor: Arc<Executor>, app: Router) -> Result<(), ServeError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((options.host.as_str(), port))
        .await
        .map_err(|source| ServeError::Resolve { host: options.host.clone(), source })?
        .collect();
    let address = *addresses.first().ok_or_else(|| ServeError::NoAddress { host: options.host.clone() })?;
    let listen_error = |source| ServeError::Listen { address, source };
    let listener = std::net::TcpListener::bind(address).map_err(listen_error)?;
    listener.set_nonblocking(true).map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    let app = app.into_make_service();
    let tls = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key).map_err(ServeError::Tls)?),
        _ => None,
    };
    tracing::info!(
        address = %bound,
        executor_id = %executor.id,
        tls = tls.is_some(),
        allowed_locations = ?executor.allowed.entries(),
        allow_custom_sql = options.allow_custom_sql,
        max_memory_bytes = ?executor.settings.max_memory,
        max_queue = executor.queue.max_waiting(),
        mode = ?options.mode,
        "listening"
    );
    if executor.allowed.allows_everything() {
        tracing::warn!(
            "every location is allowed (--allow-location '*'): a key holder can read and write whatever this process can"
        );
    }
    if tls.is_none() && !bound.ip().is_loopback() {
        tracing::warn!(
            address = %bound,
            "listening beyond loopback without TLS: API keys and data travel in clear text (use --tls-cert and --tls-key)"
        );
    }
    let mut server = axum_server::from_tcp(listener).map_err(listen_error)?.first_request_timeout(HEADER_READ_TIMEOUT);
    server.http_builder().http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    let served = match tls {
        Some(config) => server.acceptor(axum_server::tls_rustls::RustlsAcceptor::new(config)).serve(app).await,
        None => server.serve(app).await,
    };
    served.map_err(ServeError::Stopped)
}

fn tls_config(cert: &PathBuf, key: &PathBuf) -> Result<axum_server::tls_rustls::RustlsConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("cannot read the certificate `{}`: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("`{}` holds no PEM certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("cannot read the key `{}`: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)))
}

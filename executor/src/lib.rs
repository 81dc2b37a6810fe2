//! The Aqueducts executor: runs precompiled plan artifacts near the data.
//!
//! Clients (`aqueducts run --executor`) connect to `/ws/connect` with an API key, may read
//! the executor's view of their sources while compiling ([`files`]), and send a plan
//! artifact. Artifacts are decoded behind a panic boundary, checked against the allowed
//! locations, and run one at a time from a FIFO queue ([`queue`]), each under its own
//! memory pool; progress and the outcome go back over the same connection
//! ([`session`]). The executor never parses specs or SQL: it links the runtime, not the
//! compiler.

pub mod files;
pub mod options;
pub mod queue;
pub mod session;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aqueducts_protocol::{API_KEY_HEADER, CONNECT_PATH, HEALTH_PATH, Health, PROTOCOL_HEADER, PROTOCOL_VERSION};
use aqueducts_runtime::RunSettings;
use aqueducts_runtime::access::AllowList;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

pub use options::{Mode, Options};
use queue::Queue;

/// What every connection shares.
pub struct Executor {
    pub id: String,
    api_key: String,
    pub settings: RunSettings,
    /// The locations plans and compiling clients may touch.
    pub allowed: AllowList,
    pub max_message_bytes: usize,
    pub working_directory: PathBuf,
    pub queue: Queue,
}

impl Executor {
    pub fn new(options: &Options) -> Result<Self, ServeError> {
        let settings = RunSettings::from_gigabytes(options.max_memory)?;
        let working_directory = std::env::current_dir().map_err(ServeError::WorkingDirectory)?;
        let allowed = AllowList::parse(&options.allow_locations, &working_directory);
        Ok(Executor {
            id: options.executor_id.clone().unwrap_or_else(|| format!("executor-{}", uuid::Uuid::new_v4().simple())),
            api_key: options.api_key.clone(),
            settings,
            allowed,
            max_message_bytes: options.max_message_mb.saturating_mul(1024 * 1024).max(1024),
            working_directory,
            queue: Queue::new(options.max_queue),
        })
    }

    /// Compares in constant time, so the key cannot be guessed from response times.
    fn key_matches(&self, offered: &[u8]) -> bool {
        offered.ct_eq(self.api_key.as_bytes()).into()
    }
}

/// The routes: `GET /api/health` (no key) and `GET /ws/connect` (WebSocket, key needed).
pub fn router(executor: Arc<Executor>) -> Router {
    Router::new().route(HEALTH_PATH, get(health)).route(CONNECT_PATH, get(connect)).with_state(executor)
}

async fn health(State(executor): State<Arc<Executor>>) -> Json<Health> {
    let (running, queued) = executor.queue.counts();
    Json(Health {
        status: "ok".into(),
        executor_id: executor.id.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        datafusion_version: aqueducts_runtime::DATAFUSION_VERSION.into(),
        protocol_version: PROTOCOL_VERSION,
        running,
        queued,
    })
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
        tracing::warn!(key_sent = !offered.is_empty(), "refused a connection: wrong or missing API key");
        return (StatusCode::UNAUTHORIZED, "a valid API key is needed in the X-API-Key header\n").into_response();
    }
    let Some(upgrade) = upgrade else {
        return (StatusCode::BAD_REQUEST, "this endpoint speaks WebSocket only\n").into_response();
    };
    if let Err(refusal) = protocol_spoken(&headers) {
        tracing::warn!(%refusal, "refused a connection: protocol version");
        return (StatusCode::BAD_REQUEST, format!("{refusal}\n")).into_response();
    }
    let limit = executor.max_message_bytes;
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| session::serve(executor, socket))
        .into_response()
}

/// The client's protocol version must be ours: messages of another version would be
/// misread. (A client that sends none predates the header and speaks another version.)
fn protocol_spoken(headers: &axum::http::HeaderMap) -> Result<(), String> {
    let offered = headers.get(PROTOCOL_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u32>().ok());
    match offered {
        Some(PROTOCOL_VERSION) => Ok(()),
        Some(other) => Err(format!(
            "this executor speaks protocol version {PROTOCOL_VERSION}, the client {other}; use an aqueducts of the executor's version"
        )),
        None => Err(format!(
            "the client did not say which protocol it speaks ({PROTOCOL_HEADER}); this executor speaks version {PROTOCOL_VERSION}: use an aqueducts of the executor's version"
        )),
    }
}

/// Why the executor cannot start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    MemoryLimit(#[from] aqueducts_runtime::InvalidMemoryLimit),
    #[error("cannot read the working directory: {0}")]
    WorkingDirectory(std::io::Error),
    #[error("cannot resolve host `{host}`: {source}")]
    Resolve { host: String, source: std::io::Error },
    #[error("host `{host}` has no address")]
    NoAddress { host: String },
    #[error("cannot listen on {address}: {source}")]
    Listen { address: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Tls(String),
    #[error("the server stopped: {0}")]
    Stopped(std::io::Error),
}

/// Listens and serves until the process is stopped.
pub async fn serve(options: Options) -> Result<(), ServeError> {
    let executor = Arc::new(Executor::new(&options)?);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((options.host.as_str(), options.port))
        .await
        .map_err(|source| ServeError::Resolve { host: options.host.clone(), source })?
        .collect();
    let address = *addresses.first().ok_or_else(|| ServeError::NoAddress { host: options.host.clone() })?;
    let listen_error = |source| ServeError::Listen { address, source };
    let listener = std::net::TcpListener::bind(address).map_err(listen_error)?;
    listener.set_nonblocking(true).map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    let app = router(executor.clone()).into_make_service();
    let tls = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key).map_err(ServeError::Tls)?),
        _ => None,
    };
    tracing::info!(
        address = %bound,
        executor_id = %executor.id,
        tls = tls.is_some(),
        allowed_locations = ?executor.allowed.entries(),
        max_memory_bytes = ?executor.settings.max_memory,
        max_queue = options.max_queue,
        "listening"
    );
    let served = match tls {
        Some(config) => axum_server::from_tcp_rustls(listener, config).map_err(listen_error)?.serve(app).await,
        None => {
            let listener = tokio::net::TcpListener::from_std(listener).map_err(listen_error)?;
            axum::serve(listener, app).await
        }
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

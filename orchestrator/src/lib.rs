//! The Aqueducts orchestrator: queues, schedules and records runs of managed executors.
//!
//! Executors dial in ([`link`], `/ws/executor/register`) with the executors' key and
//! register; users submit runs through the HTTP API ([`api`]) with their keys
//! ([`auth`]). The dispatcher ([`dispatch`]) gives queued runs to idle executors whose
//! labels fit, compiling specs for the executor that runs them ([`compile`], with its
//! files read through [`relay`]). What executors report is recorded ([`ingest`]) and
//! streamed to followers ([`events`]); executors that go away lose their runs to a retry
//! or to `lost` ([`liveness`]). Deployed pipelines run on cron schedules ([`schedule`]) and when files arrive
//! ([`file_trigger`]).
//!
//! Everything it must not forget lives in a database ([`db`]): SQLite in its data
//! directory by default, or a PostgreSQL server. Both are reached through one set of
//! queries (sqlx's `Any` driver), so the same storage tests hold both to one contract.
//! User keys ([`db::keys`]) are stored as hashes only.
//!
//! The same port serves the web interface ([`web`]): pages embedded in the binary that
//! sign in with a key and then use the API with a session cookie.

pub mod api;
pub mod auth;
pub mod compile;
pub mod db;
pub mod dispatch;
pub mod durations;
pub mod error;
pub mod events;
pub mod file_trigger;
pub mod ingest;
pub mod link;
pub mod liveness;
pub mod options;
pub mod pending;
pub mod registry;
pub mod relay;
pub mod schedule;
pub mod state;
pub mod web;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use db::Db;
pub use error::ServeError;
pub use options::{Command, Options};
use state::Orchestrator;

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until the process is stopped.
pub async fn serve(options: &Options) -> Result<(), ServeError> {
    let (admin_key, executor_key) = options.serve.keys().map_err(ServeError::Options)?;
    let url = options.storage.database_url().map_err(|e| {
        ServeError::Options(format!("cannot use the data directory `{}`: {e}", options.storage.data_dir.display()))
    })?;
    let db = db::open(&url).await?;
    let heartbeat_timeout = Duration::from_secs(options.serve.heartbeat_timeout);
    std::fs::create_dir_all(&options.storage.data_dir).map_err(|e| {
        ServeError::Options(format!("cannot use the data directory `{}`: {e}", options.storage.data_dir.display()))
    })?;
    let data_dir = std::fs::canonicalize(&options.storage.data_dir).map_err(|e| {
        ServeError::Options(format!("cannot use the data directory `{}`: {e}", options.storage.data_dir.display()))
    })?;
    let serve = &options.serve;
    let tls = match (&serve.tls_cert, &serve.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key).map_err(ServeError::Tls)?),
        _ => None,
    };
    let mut orchestrator = Orchestrator::new(db.clone(), &admin_key, &executor_key, heartbeat_timeout, data_dir);
    orchestrator.secure_cookies = tls.is_some();
    let orchestrator = Arc::new(orchestrator);
    let in_flight = liveness::recover(&orchestrator).await?;
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((serve.host.as_str(), serve.port))
        .await
        .map_err(|source| ServeError::Resolve { host: serve.host.clone(), source })?
        .collect();
    let address = *addresses
        .first()
        .ok_or_else(|| ServeError::Resolve { host: serve.host.clone(), source: std::io::Error::other("no address") })?;
    let listen_error = |source| ServeError::Listen { address: address.to_string(), source };
    let listener = std::net::TcpListener::bind(address).map_err(listen_error)?;
    listener.set_nonblocking(true).map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    tokio::spawn(dispatch::run(orchestrator.clone()));
    tokio::spawn(liveness::run(orchestrator.clone()));
    tokio::spawn(schedule::run(orchestrator.clone()));
    tokio::spawn(file_trigger::run(orchestrator.clone()));
    tracing::info!(
        address = %bound,
        tls = tls.is_some(),
        database = %db.display_url,
        runs_in_flight = in_flight,
        heartbeat_timeout_s = serve.heartbeat_timeout,
        "listening"
    );
    if tls.is_none() && !bound.ip().is_loopback() {
        tracing::warn!(
            address = %bound,
            "listening beyond loopback without TLS: keys and specs travel in clear text (use --tls-cert and --tls-key)"
        );
    }
    let app = api::router(orchestrator.clone()).merge(web::router(orchestrator)).into_make_service();
    let mut server = axum_server::from_tcp(listener).map_err(listen_error)?.first_request_timeout(HEADER_READ_TIMEOUT);
    server.http_builder().http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    let served = match tls {
        Some(config) => server.acceptor(axum_server::tls_rustls::RustlsAcceptor::new(config)).serve(app).await,
        None => server.serve(app).await,
    };
    served.map_err(ServeError::Stopped)
}

fn tls_config(cert: &Path, key: &Path) -> Result<axum_server::tls_rustls::RustlsConfig, String> {
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

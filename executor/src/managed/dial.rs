//! Dialing the orchestrator: a WebSocket to its executor route, with the executor key
//! in a header and TLS for `wss://` (the usual roots plus `--ca-cert`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aqueducts_protocol::{API_KEY_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, http::HeaderValue};

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a dial may take, TLS and upgrade included.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where to dial and how to prove who we are.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub api_key: String,
    pub ca_cert: Option<PathBuf>,
    /// The largest message accepted (an assignment carries an artifact).
    pub max_message_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("the orchestrator refused the executor key (HTTP 401); check --api-key")]
    Unauthorized,
    #[error("the orchestrator refused the connection (HTTP {status}): {body}")]
    Refused { status: u16, body: String },
    #[error("{0}")]
    Unreachable(String),
}

impl DialError {
    /// Whether the orchestrator answered and said no: dialing again changes nothing
    /// until someone acts.
    pub fn refused(&self) -> bool {
        !matches!(self, DialError::Unreachable(_))
    }
}

pub async fn dial(target: &Target) -> Result<Socket, DialError> {
    let mut request = target.url.as_str().into_client_request().map_err(|e| {
        let url = crate::options::without_userinfo(&target.url);
        DialError::Unreachable(format!("`{url}` is not a usable address: {e}"))
    })?;
    let mut key: HeaderValue = target
        .api_key
        .parse()
        .map_err(|_| DialError::Unreachable("the API key has characters a header cannot carry".into()))?;
    key.set_sensitive(true);
    request.headers_mut().insert(API_KEY_HEADER, key);
    request.headers_mut().insert(PROTOCOL_HEADER, PROTOCOL_VERSION.into());
    let connector = if target.url.starts_with("wss://") {
        let config = tls_config(target.ca_cert.as_deref()).map_err(DialError::Unreachable)?;
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(config)))
    } else {
        None
    };
    let limit = target.max_message_bytes;
    let config = WebSocketConfig::default().max_message_size(Some(limit)).max_frame_size(Some(limit));
    let connecting = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    match tokio::time::timeout(DIAL_TIMEOUT, connecting).await {
        Err(_) => Err(DialError::Unreachable(format!("no answer within {} s", DIAL_TIMEOUT.as_secs()))),
        Ok(Err(WsError::Http(response))) if response.status().as_u16() == 401 => Err(DialError::Unauthorized),
        Ok(Err(WsError::Http(response))) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            Err(DialError::Refused {
                status: response.status().as_u16(),
                body: body.trim().chars().take(500).collect(),
            })
        }
        Ok(Err(error)) => Err(DialError::Unreachable(error.to_string())),
        Ok(Ok((socket, _))) => Ok(socket),
    }
}

fn tls_config(ca_cert: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_cert {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect())
            .map_err(|e| format!("cannot read the certificate `{}`: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("`{}` holds no PEM certificate", path.display()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("cannot trust `{}`: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

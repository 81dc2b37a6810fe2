//! A WebSocket connection to an executor, shared by the run and the file store.
//!
//! A reader task splits what arrives: answers to file requests go to whoever asked (by
//! request number); every other message goes, in order, to the one consumer of
//! [`Connection::next`]. A writer task sends frames in the order they were queued.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aqueducts_compiler::remote::StoreRelay;
use aqueducts_protocol::{
    API_KEY_HEADER, CONNECT_PATH, ClientMessage, ExecutorMessage, PROTOCOL_HEADER, PROTOCOL_VERSION, StoreOperation,
    parse_get_reply_frame,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

pub use aqueducts_compiler::remote::Reply;

/// What the executor said about itself when the connection opened.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub executor_id: String,
    pub working_directory: String,
    pub max_message_bytes: usize,
}

/// How long one file request may take (a read is at most a few MiB).
const STORE_TIMEOUT: Duration = Duration::from_secs(120);

/// Sends requests over the connection and waits for their answers; cheap to clone.
#[derive(Clone)]
pub struct Requests {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next: Arc<AtomicU64>,
    /// Set when nothing more will arrive from the executor.
    closed: Arc<AtomicBool>,
}

impl Requests {
    pub fn send(&self, message: &ClientMessage) -> Result<(), String> {
        let text = serde_json::to_string(message).map_err(|e| e.to_string())?;
        self.outgoing.send(Message::Text(text.into())).map_err(|_| "the connection to the executor is closed".into())
    }

    pub fn send_bytes(&self, bytes: Vec<u8>) -> Result<(), String> {
        self.outgoing.send(Message::Binary(bytes.into())).map_err(|_| "the connection to the executor is closed".into())
    }

    /// A file request, answered by the executor.
    pub async fn store(&self, operation: StoreOperation) -> Result<Reply, String> {
        let request = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            // Checked under the lock the reader clears the map with: no request is left
            // waiting for an answer that cannot come.
            if self.closed.load(Ordering::Acquire) {
                return Err("the connection to the executor was lost".to_string());
            }
            pending.insert(request, tx);
        }
        let forget = || {
            if let Ok(mut pending) = self.pending.lock() {
                pending.remove(&request);
            }
        };
        if let Err(message) = self.send(&ClientMessage::Store { request, operation }) {
            forget();
            return Err(message);
        }
        match tokio::time::timeout(STORE_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err("the connection to the executor was lost".to_string()),
            Err(_) => {
                forget();
                Err(format!("the executor did not answer a file request within {} s", STORE_TIMEOUT.as_secs()))
            }
        }
    }
}

impl StoreRelay for Requests {
    fn store(&self, operation: StoreOperation) -> BoxFuture<'static, Result<Reply, String>> {
        let requests = self.clone();
        Box::pin(async move { requests.store(operation).await })
    }
}

pub struct Connection {
    pub welcome: Welcome,
    pub requests: Requests,
    messages: mpsc::UnboundedReceiver<ExecutorMessage>,
}

/// Where an executor listens and how to reach it.
pub struct Target {
    pub url: String,
    pub api_key: String,
    /// A PEM certificate to trust besides the usual roots (a self-signed executor).
    pub ca_cert: Option<std::path::PathBuf>,
}

/// `HOST:PORT`, `http(s)://…` or `ws(s)://…` to the WebSocket URL of the executor.
pub fn websocket_url(executor: &str) -> Result<String, String> {
    let executor = executor.trim().trim_end_matches('/');
    let (scheme, rest) = match executor.split_once("://") {
        Some(("http" | "ws", rest)) => ("ws", rest),
        Some(("https" | "wss", rest)) => ("wss", rest),
        Some((other, _)) => {
            return Err(format!("`{other}://` is not an executor address; use HOST:PORT, http(s):// or ws(s)://"));
        }
        None => ("ws", executor),
    };
    if rest.is_empty() {
        return Err("the executor address is empty".into());
    }
    let with_path = if rest.contains('/') { rest.to_string() } else { format!("{rest}{CONNECT_PATH}") };
    Ok(format!("{scheme}://{with_path}"))
}

/// The pending file requests, by request number.
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

/// Either half of an open WebSocket.
type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long connecting and the executor's greeting may each take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl Connection {
    pub async fn open(target: &Target) -> Result<Connection, String> {
        let socket = connect(target).await?;
        let (sink, stream) = socket.split();
        let outgoing = spawn_writer(sink);
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let mut messages = spawn_reader(stream, pending.clone(), closed.clone());
        let requests = Requests { outgoing, pending, next: Arc::new(AtomicU64::new(1)), closed };
        let welcome = greeting(&mut messages).await?;
        Ok(Connection { welcome, requests, messages })
    }

    /// The next message that is not a file answer; `None` once the connection is closed.
    pub async fn next(&mut self) -> Option<ExecutorMessage> {
        self.messages.recv().await
    }
}

/// The upgrade request: the executor's URL with the API key and our protocol version.
fn request(target: &Target) -> Result<Request, String> {
    let mut request = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("`{}` is not a usable executor address: {e}", target.url))?;
    let mut key: tokio_tungstenite::tungstenite::http::HeaderValue =
        target.api_key.parse().map_err(|_| "the API key has characters a header cannot carry".to_string())?;
    key.set_sensitive(true);
    request.headers_mut().insert(API_KEY_HEADER, key);
    request.headers_mut().insert(PROTOCOL_HEADER, PROTOCOL_VERSION.into());
    Ok(request)
}

/// Opens the WebSocket (TLS for `wss://`), or says why the executor refused it.
async fn connect(target: &Target) -> Result<Socket, String> {
    let request = request(target)?;
    if target.ca_cert.is_some() && target.url.starts_with("ws://") {
        return Err(format!(
            "--ca-cert is for TLS, but `{}` is not encrypted: use https:// or wss:// (the key would travel in clear text)",
            target.url
        ));
    }
    if target.url.starts_with("ws://") && !is_loopback(&target.url) {
        eprintln!(
            "warning: the API key goes to {} in clear text; use https:// or wss:// for an executor beyond this machine",
            target.url
        );
    }
    let connector = match &target.ca_cert {
        _ if target.url.starts_with("ws://") => None,
        ca_cert => Some(tokio_tungstenite::Connector::Rustls(Arc::new(tls_config(ca_cert.as_deref())?))),
    };
    let config = WebSocketConfig::default().max_message_size(Some(1 << 30)).max_frame_size(Some(1 << 30));
    let connecting = tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => Err(format!("no answer from the executor at {} within 30 s", target.url)),
        Ok(Err(WsError::Http(response))) if response.status().as_u16() == 401 => {
            Err("the executor refused the API key (HTTP 401); check --api-key".into())
        }
        Ok(Err(WsError::Http(response))) if response.status().as_u16() == 400 => {
            // The executor says why in the body (another protocol version, say).
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            Err(format!("the executor at {} refused the connection: {}", target.url, body.trim()))
        }
        Ok(Err(error)) => Err(format!("cannot connect to the executor at {}: {error}", target.url)),
        Ok(Ok((socket, _))) => Ok(socket),
    }
}

/// Whether a URL's host is this machine (`ws://`, `http://`...).
pub fn is_loopback(url: &str) -> bool {
    let host = url.split_once("://").map_or(url, |(_, rest)| rest).split('/').next().unwrap_or_default();
    let host =
        host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Sends queued frames in order; closes the socket when the queue's senders are gone.
fn spawn_writer(mut sink: futures::stream::SplitSink<Socket, Message>) -> mpsc::UnboundedSender<Message> {
    let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(message) = to_send.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    outgoing
}

/// Routes what arrives: file answers to whoever asked (by request number), everything
/// else, in order, to the returned channel.
fn spawn_reader(
    mut stream: futures::stream::SplitStream<Socket>,
    answers: Pending,
    closed: Arc<AtomicBool>,
) -> mpsc::UnboundedReceiver<ExecutorMessage> {
    let (deliver, messages) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            let answer = |request: u64, reply: Reply| {
                if let Some(tx) = answers.lock().ok().and_then(|mut p| p.remove(&request)) {
                    let _ = tx.send(reply);
                }
            };
            match frame {
                Message::Text(text) => match serde_json::from_str::<ExecutorMessage>(text.as_str()) {
                    Ok(ExecutorMessage::StoreReply { request, answer: a }) => answer(request, Reply::Answer(a)),
                    Ok(message) => {
                        let _ = deliver.send(message);
                    }
                    Err(_) => {
                        let message = format!("the executor sent a message this client does not know: {text}");
                        let _ = deliver.send(ExecutorMessage::Error { message });
                    }
                },
                Message::Binary(bytes) => {
                    if let Some((request, data)) = parse_get_reply_frame(&bytes) {
                        answer(request, Reply::Bytes(Bytes::copy_from_slice(data)));
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        // Requests still waiting fail (their senders drop with the map entries), and
        // later ones fail at once (`closed`).
        if let Ok(mut pending) = answers.lock() {
            closed.store(true, Ordering::Release);
            pending.clear();
        }
    });
    messages
}

/// The executor's first message, if it speaks our protocol and runs our DataFusion.
async fn greeting(messages: &mut mpsc::UnboundedReceiver<ExecutorMessage>) -> Result<Welcome, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, messages.recv()).await {
        Ok(Some(ExecutorMessage::Welcome {
            executor_id,
            working_directory,
            max_message_bytes,
            datafusion_version,
            protocol_version,
            ..
        })) => {
            if protocol_version != PROTOCOL_VERSION {
                return Err(format!(
                    "executor {executor_id} speaks protocol version {protocol_version}, this aqueducts {PROTOCOL_VERSION}; use an aqueducts of the executor's version"
                ));
            }
            // Plans only decode with the DataFusion they were compiled with: say so
            // now rather than after compiling and uploading.
            if datafusion_version != aqueducts_runtime::DATAFUSION_VERSION {
                return Err(format!(
                    "executor {executor_id} runs DataFusion {datafusion_version}, this aqueducts {}; use an aqueducts of the executor's version",
                    aqueducts_runtime::DATAFUSION_VERSION
                ));
            }
            Ok(Welcome { executor_id, working_directory, max_message_bytes })
        }
        Ok(Some(other)) => Err(format!("the executor did not greet as expected: {other:?}")),
        Ok(None) => Err("the executor closed the connection".into()),
        Err(_) => Err("the executor did not greet within 30 s".into()),
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

#[cfg(test)]
mod tests {
    use super::websocket_url;

    #[test]
    fn executor_addresses() {
        assert_eq!(websocket_url("localhost:3031").unwrap(), "ws://localhost:3031/ws/connect");
        assert_eq!(websocket_url("http://h:1").unwrap(), "ws://h:1/ws/connect");
        assert_eq!(websocket_url("https://h:1/").unwrap(), "wss://h:1/ws/connect");
        assert_eq!(websocket_url("wss://h:1/ws/connect").unwrap(), "wss://h:1/ws/connect");
        assert!(websocket_url("ftp://h").is_err());
        assert!(super::is_loopback("ws://127.0.0.1:3031/ws/connect"));
        assert!(super::is_loopback("ws://[::1]:3031/ws/connect"));
        assert!(super::is_loopback("ws://localhost:3031/ws/connect"));
        assert!(!super::is_loopback("ws://data-host:3031/ws/connect"));
        assert!(!super::is_loopback("ws://10.0.0.5:3031/ws/connect"));
    }
}

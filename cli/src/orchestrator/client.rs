//! An HTTP client for the orchestrator's API: the base URL, the key, TLS with an extra
//! trusted certificate, JSON bodies, and a run's server-sent events.

use std::path::Path;
use std::time::Duration;

use aqueducts_protocol::API_KEY_HEADER;
use aqueducts_protocol::api::{ApiError, StreamedEvent};
use futures::StreamExt;
use reqwest::{Method, StatusCode};

/// How long one API call may take (an event stream is not one call).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

/// What went wrong talking to the orchestrator.
#[derive(Debug)]
pub enum ApiFailure {
    /// The orchestrator answered with an error.
    Status { status: StatusCode, error: String, diagnostics: Option<String> },
    /// No answer (unreachable, broken connection, unreadable body).
    Transport(String),
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiFailure::Status { status, error, .. } => match status.as_u16() {
                401 => write!(f, "the orchestrator refused the key (HTTP 401): {error}; check --api-key"),
                403 => write!(f, "the orchestrator refused (HTTP 403): {error}"),
                _ => write!(f, "{error} (HTTP {})", status.as_u16()),
            },
            ApiFailure::Transport(message) => f.write_str(message),
        }
    }
}

/// `HOST:PORT` or an `http(s)://` URL, to the API's base URL.
pub fn base_url(orchestrator: &str) -> Result<String, String> {
    let trimmed = orchestrator.trim().trim_end_matches('/');
    let base = match trimmed.split_once("://") {
        Some(("http" | "https", _)) => trimmed.to_string(),
        Some(("ws", rest)) => format!("http://{rest}"),
        Some(("wss", rest)) => format!("https://{rest}"),
        Some((scheme, _)) => {
            return Err(format!(
                "`{orchestrator}`: the orchestrator is reached over http:// or https://, not {scheme}://"
            ));
        }
        None => format!("http://{trimmed}"),
    };
    // Only the authority: the API's routes are added here.
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => base[..authority_end + slash].to_string(),
        None => base,
    };
    if base.len() <= authority_end {
        return Err(format!("`{orchestrator}` names no host"));
    }
    Ok(base)
}

impl Client {
    pub fn new(orchestrator: &str, key: &str, ca_cert: Option<&Path>) -> Result<Client, String> {
        let base = base_url(orchestrator)?;
        if base.starts_with("http://") && !crate::remote::connection::is_loopback(&base) {
            eprintln!(
                "warning: the API key goes to {base} in clear text; use https:// for an orchestrator beyond this machine"
            );
        }
        let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(30));
        if let Some(path) = ca_cert {
            if base.starts_with("http://") {
                return Err(format!(
                    "--ca-cert is for TLS, but `{base}` is not encrypted: use https:// (the key would travel in clear text)"
                ));
            }
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read the certificate `{}`: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("`{}` holds no usable PEM certificate: {e}", path.display()))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| format!("cannot set up HTTP: {e}"))?;
        Ok(Client { base, key: key.to_string(), http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).header(API_KEY_HEADER, &self.key)
    }

    /// Sends a request; the JSON answer, or the orchestrator's error.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<T, ApiFailure> {
        let mut request = self.request(method, path).timeout(CALL_TIMEOUT);
        if let Some((content_type, bytes)) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type).body(bytes);
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            let (error, diagnostics) = match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(answer) => (answer.error, answer.diagnostics),
                Err(_) => (String::from_utf8_lossy(&bytes).trim().to_string(), None),
            };
            return Err(ApiFailure::Status { status, error, diagnostics });
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiFailure::Transport(format!("the orchestrator's answer is not what this aqueducts reads: {e}"))
        })
    }

    fn unreachable(&self, error: reqwest::Error) -> ApiFailure {
        // reqwest's messages name the URL but never the headers.
        let mut message = format!("cannot reach the orchestrator at {}: {error}", self.base);
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        ApiFailure::Transport(message)
    }

    /// Follows a run's events after event `after`, handing each to `on_event`, until the
    /// stream ends; the last event id seen.
    pub async fn follow_events(
        &self,
        run_id: &str,
        after: i64,
        mut on_event: impl FnMut(StreamedEvent),
    ) -> Result<i64, ApiFailure> {
        let response = self
            .request(Method::GET, &format!("/api/runs/{run_id}/events"))
            .header("Last-Event-ID", after.to_string())
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.unwrap_or_default();
            let error = serde_json::from_slice::<ApiError>(&bytes)
                .map(|a| a.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).to_string());
            return Err(ApiFailure::Status { status, error, diagnostics: None });
        }
        let mut last = after;
        let mut pending = Vec::new();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(e))?;
            pending.extend_from_slice(&chunk);
            // Events are separated by a blank line; `data:` lines carry the JSON.
            while let Some(end) = find_blank_line(&pending) {
                let block: Vec<u8> = pending.drain(..end).collect();
                pending.drain(..2.min(pending.len()));
                for line in String::from_utf8_lossy(&block).lines() {
                    if let Some(data) = line.strip_prefix("data:")
                        && let Ok(event) = serde_json::from_str::<StreamedEvent>(data.trim_start())
                    {
                        last = event.id;
                        on_event(event);
                    }
                }
            }
        }
        Ok(last)
    }
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\n\n")
}

#[cfg(test)]
mod tests {
    use super::base_url;

    #[test]
    fn orchestrator_addresses() {
        assert_eq!(base_url("orch:3000").unwrap(), "http://orch:3000");
        assert_eq!(base_url("https://orch:3000/").unwrap(), "https://orch:3000");
        assert_eq!(base_url("ws://orch:3000/ws/executor/register").unwrap(), "http://orch:3000");
        assert!(base_url("ftp://orch").is_err());
    }
}

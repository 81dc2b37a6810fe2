//! Managed mode: the executor dials out to an orchestrator and runs what it assigns.
//!
//! [`serve_managed`] dials ([`dial`]) again and again, forever, waiting longer after
//! each failure ([`backoff`]); each connection ([`link`]) says hello, sends heartbeats,
//! takes assignments and relays the orchestrator's store operations. Runs belong to
//! the process, not to a connection: a broken connection leaves them running, and their
//! reports wait in the [`outbox`] until an orchestrator acknowledges them. Runs go
//! through the same path as in standalone mode ([`crate::execution`]): one at a time,
//! the allow-list, the memory pool, secrets from this process's environment, staging
//! and commit, the panic boundary.

pub mod backoff;
pub mod dial;
pub mod link;
pub mod outbox;
pub mod shared;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::ServeError;
use crate::options::Options;
use crate::state::Executor;
use backoff::Backoff;
use dial::{DialError, Target};
use link::LinkEnd;
use outbox::Outbox;
use shared::Managed;

/// A connection that lived this long makes the next failure start the backoff over.
pub const STABLE_LINK: Duration = Duration::from_secs(10);

/// Dials the orchestrator and serves it, reconnecting forever.
pub async fn serve_managed(options: Options, executor: Arc<Executor>) -> Result<(), ServeError> {
    let url = options.orchestrator_url.clone().unwrap_or_default();
    // For logs: without a user and password the URL may carry.
    let shown_url = crate::options::without_userinfo(&url);
    let state_dir = options
        .state_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("aqueducts-executor-{}", executor.id)));
    outbox::remove_stale_spills(&state_dir);
    let managed = Arc::new(Managed {
        outbox: Arc::new(Outbox::new(&state_dir, outbox::MEMORY_LIMIT, outbox::DISK_LIMIT)),
        executor: executor.clone(),
        boot_id: uuid::Uuid::new_v4().simple().to_string(),
        labels: options.labels.iter().cloned().collect(),
        running: Mutex::new(None),
    });
    let target = Target {
        url: url.clone(),
        api_key: options.api_key.clone(),
        ca_cert: options.ca_cert.clone(),
        max_message_bytes: executor.max_message_bytes,
    };
    if url.starts_with("ws://") && !is_loopback(&url) {
        tracing::warn!(url = %shown_url, "the executor key goes to the orchestrator in clear text; use wss://");
    }
    tracing::info!(
        executor_id = %executor.id,
        orchestrator = %shown_url,
        labels = ?managed.labels,
        allowed_locations = ?executor.allowed.entries(),
        max_memory_bytes = ?executor.settings.max_memory,
        state_dir = %state_dir.display(),
        "managed mode"
    );
    let mut backoff = Backoff::default();
    let mut attempt: u64 = 0;
    loop {
        attempt += 1;
        tracing::info!(attempt, url = %shown_url, "connecting to the orchestrator");
        let refused = match dial::dial(&target).await {
            Err(error) => {
                let refused = error.refused();
                let wait = backoff.next(refused);
                let retry_in_ms = wait.as_millis() as u64;
                match &error {
                    DialError::Unauthorized => {
                        tracing::error!(attempt, retry_in_ms, %error, "the orchestrator refused the executor key")
                    }
                    _ => tracing::warn!(attempt, retry_in_ms, %error, "cannot reach the orchestrator"),
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            Ok(socket) => {
                let connected = Instant::now();
                match link::run(socket, &managed).await {
                    LinkEnd::Refused(reason) => {
                        tracing::error!(%reason, "the orchestrator refused this executor");
                        true
                    }
                    LinkEnd::Lost { reason, welcomed } => {
                        if welcomed && connected.elapsed() >= STABLE_LINK {
                            backoff.reset();
                        }
                        let running = managed.running().map(|run| run.run_id);
                        tracing::warn!(%reason, ?running, unacknowledged = managed.outbox.unacknowledged(), "lost the orchestrator; runs go on");
                        false
                    }
                }
            }
        };
        let wait = backoff.next(refused);
        tracing::info!(attempt, retry_in_ms = wait.as_millis() as u64, "reconnecting");
        tokio::time::sleep(wait).await;
    }
}

/// Whether a `ws://` URL's host is this machine.
fn is_loopback(url: &str) -> bool {
    let host = url.split_once("://").map_or(url, |(_, rest)| rest).split('/').next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    let host =
        host.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(host, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

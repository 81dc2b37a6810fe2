//! [`Relays`]: the store operations sent to executors and waiting for their answers, by
//! executor and request number, each with the connection it went out on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use aqueducts_compiler::remote::Reply;
use tokio::sync::oneshot;

/// A request waiting for its answer: the connection it went out on, and the waiter.
pub type Waiting = (u64, oneshot::Sender<Reply>);

#[derive(Default)]
pub struct Relays {
    pending: Mutex<HashMap<(String, u64), Waiting>>,
    next: AtomicU64,
}

impl Relays {
    /// The requests waiting, locked.
    pub fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), Waiting>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request number not used before by this process.
    pub fn next_request(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

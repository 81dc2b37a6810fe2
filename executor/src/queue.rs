//! One run at a time, the others waiting first come, first served.
//!
//! Every accepted execution gets a cancellation token. While it waits, its client is told
//! its position whenever that changes; when it reaches the front and nothing runs, it
//! runs. Cancelling (by id, or because its client went away) removes it from the queue
//! or drops its running DataFusion work.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use aqueducts_protocol::CancelOutcome;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub struct Queue {
    max_waiting: usize,
    state: Mutex<State>,
    /// Bumped on every change, so waiting executions re-read their position.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<String>,
    running: Option<String>,
    cancels: HashMap<String, CancellationToken>,
}

/// Why an execution was not queued.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy {
    pub waiting: usize,
}

impl Queue {
    pub fn new(max_waiting: usize) -> Self {
        Queue { max_waiting, state: Mutex::new(State::default()), changed: watch::Sender::new(0) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing below can panic while holding the lock (collection updates only), so
        // a poisoned lock still guards a consistent queue.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|version| *version = version.wrapping_add(1));
    }

    /// How many runs may wait behind the running one.
    pub fn max_waiting(&self) -> usize {
        self.max_waiting
    }

    /// (running, waiting)
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (usize::from(state.running.is_some()), state.waiting.len())
    }

    /// How many wait, when that many leave no room for another: the check
    /// [`Queue::enqueue`] makes, for refusing before any work is done.
    pub fn full(&self) -> Option<usize> {
        Self::no_room(&self.state(), self.max_waiting)
    }

    fn no_room(state: &State, max_waiting: usize) -> Option<usize> {
        // With nothing running, the front of the queue is about to start: it does not wait.
        let still_waiting = state.waiting.len() - usize::from(state.running.is_none() && !state.waiting.is_empty());
        let idle = state.running.is_none() && state.waiting.is_empty();
        (!idle && still_waiting >= max_waiting).then_some(still_waiting)
    }

    /// Puts an execution at the back of the queue, unless the queue is full.
    pub fn enqueue(&self, id: &str, cancel: CancellationToken) -> Result<(), Busy> {
        let mut state = self.state();
        if let Some(waiting) = Self::no_room(&state, self.max_waiting) {
            return Err(Busy { waiting });
        }
        state.waiting.push_back(id.to_string());
        state.cancels.insert(id.to_string(), cancel);
        drop(state);
        self.notify();
        Ok(())
    }

    /// Cancels a queued or running execution.
    pub fn cancel(&self, id: &str) -> CancelOutcome {
        match self.state().cancels.get(id) {
            Some(token) => {
                token.cancel();
                CancelOutcome::Cancelled
            }
            None => CancelOutcome::Unknown,
        }
    }

    /// Waits until `id` may run and marks it running. Reports each new position (1: next
    /// to run). Returns `false` if it was cancelled while waiting (it has left the queue).
    pub async fn wait_turn(&self, id: &str, cancel: &CancellationToken, mut on_position: impl FnMut(usize)) -> bool {
        let mut changes = self.changed.subscribe();
        let mut reported = None;
        loop {
            changes.mark_unchanged();
            let position = {
                let mut state = self.state();
                let index = state.waiting.iter().position(|w| w == id);
                match index {
                    Some(0) if state.running.is_none() => {
                        state.waiting.pop_front();
                        state.running = Some(id.to_string());
                        None
                    }
                    Some(index) => Some(index + 1),
                    None => return false, // removed by `finish` after a cancel
                }
            };
            let Some(position) = position else {
                self.notify();
                return true;
            };
            if reported != Some(position) {
                on_position(position);
                reported = Some(position);
            }
            tokio::select! {
                _ = changes.changed() => {}
                _ = cancel.cancelled() => {
                    self.finish(id);
                    return false;
                }
            }
        }
    }

    /// Forgets an execution (finished, failed or cancelled) and lets the next one run.
    pub fn finish(&self, id: &str) {
        let mut state = self.state();
        state.waiting.retain(|w| w != id);
        if state.running.as_deref() == Some(id) {
            state.running = None;
        }
        state.cancels.remove(id);
        drop(state);
        self.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_come_first_served_with_positions() {
        let queue = std::sync::Arc::new(Queue::new(4));
        let tokens: Vec<_> = (0..3).map(|_| CancellationToken::new()).collect();
        for (i, token) in tokens.iter().enumerate() {
            queue.enqueue(&format!("e{i}"), token.clone()).unwrap();
        }
        assert!(queue.wait_turn("e0", &tokens[0], |_| {}).await);
        assert_eq!(queue.counts(), (1, 2));
        let waiter = {
            let (queue, token) = (queue.clone(), tokens[2].clone());
            tokio::spawn(async move {
                let mut positions = Vec::new();
                let ran = queue.wait_turn("e2", &token, |p| positions.push(p)).await;
                (ran, positions)
            })
        };
        tokio::task::yield_now().await;
        assert_eq!(queue.cancel("e1"), CancelOutcome::Cancelled);
        // e1 was cancelled while queued: it leaves, and e2 moves up.
        assert!(!queue.wait_turn("e1", &tokens[1], |_| {}).await);
        for _ in 0..10 {
            tokio::task::yield_now().await; // let e2 see its new position
        }
        queue.finish("e0");
        let (ran, positions) = waiter.await.unwrap();
        assert!(ran);
        assert_eq!(positions.first(), Some(&2));
        assert_eq!(positions.last(), Some(&1));
        assert_eq!(queue.cancel("nope"), CancelOutcome::Unknown);
    }

    #[test]
    fn a_full_queue_refuses() {
        let queue = Queue::new(1);
        queue.enqueue("a", CancellationToken::new()).unwrap(); // about to run
        queue.enqueue("b", CancellationToken::new()).unwrap(); // waits
        assert_eq!(queue.enqueue("c", CancellationToken::new()), Err(Busy { waiting: 1 }));
        let empty = Queue::new(0);
        empty.enqueue("a", CancellationToken::new()).unwrap(); // idle: runs at once
    }
}

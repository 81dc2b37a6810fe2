//! [`Backoff`]: how long to wait before dialing the orchestrator again.
//!
//! Exponential with "equal jitter": attempt n waits between half and all of
//! `min(cap, base * 2^n)`, so many executors that lost one orchestrator do not all
//! come back at the same moment.

use std::time::Duration;

pub struct Backoff {
    attempt: u32,
    base: Duration,
    cap: Duration,
}

/// The first wait.
pub const BASE: Duration = Duration::from_millis(250);
/// The longest wait while the orchestrator is unreachable.
pub const CAP: Duration = Duration::from_secs(10);
/// The longest wait after the orchestrator refused this executor (its key or version):
/// nothing changes until someone acts, so there is no hurry.
pub const REFUSED_CAP: Duration = Duration::from_secs(30);

impl Default for Backoff {
    fn default() -> Self {
        Backoff { attempt: 0, base: BASE, cap: CAP }
    }
}

impl Backoff {
    /// The wait before the next attempt; `refused` when the orchestrator said no.
    pub fn next(&mut self, refused: bool) -> Duration {
        let cap = if refused { REFUSED_CAP } else { self.cap };
        let full = self.base.saturating_mul(1u32 << self.attempt.min(16)).min(cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = full / 2;
        // Randomness without another dependency: a version-4 UUID is 122 random bits.
        let random = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as u32;
        half + half.mul_f64(f64::from(random) / 1_000_000.0)
    }

    /// After a connection that worked for a while, the next failure starts over.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let waits: Vec<Duration> = (0..10).map(|_| backoff.next(false)).collect();
        assert!(waits[0] >= BASE / 2 && waits[0] <= BASE);
        assert!(waits[3] >= BASE * 4 && waits[3] <= BASE * 8);
        assert!(waits.iter().all(|w| *w <= CAP));
        assert!(waits[9] >= CAP / 2);
        assert!(backoff.next(true) <= REFUSED_CAP);
        backoff.reset();
        assert!(backoff.next(false) <= BASE);
    }
}

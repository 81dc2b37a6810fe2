//! [`RunDurations`]: how long the runs that ended since the orchestrator started ran,
//! and how they ended, for `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::db::runs::RunState;

/// The upper bounds of the duration buckets, in seconds.
pub const BUCKETS: [f64; 7] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

/// Durations of the runs that ended since this process started.
#[derive(Default)]
pub struct RunDurations {
    inner: Mutex<Durations>,
}

#[derive(Default, Clone)]
pub struct Durations {
    /// Counts per bucket (not cumulative), the last one for +Inf.
    pub buckets: [u64; BUCKETS.len() + 1],
    pub sum: f64,
    pub finished: BTreeMap<&'static str, u64>,
}

impl RunDurations {
    /// A run ended in `state` after running `seconds` (none when it never started).
    pub fn record(&self, state: RunState, seconds: Option<f64>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.finished.entry(state.name()).or_default() += 1;
        if let Some(seconds) = seconds {
            let bucket = BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(BUCKETS.len());
            inner.buckets[bucket] += 1;
            inner.sum += seconds;
        }
    }

    /// The counts now.
    pub fn snapshot(&self) -> Durations {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

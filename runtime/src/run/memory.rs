//! The memory pool of a run under `--max-memory`.
//!
//! DataFusion's `FairSpillPool` lets the consumers that can spill (sorts, aggregates)
//! share everything that the others do not hold at the moment they ask. When sorts take
//! their whole share before a merge above them starts, the merge (which cannot spill)
//! finds the pool empty, and the run fails although it would fit. [`HeadroomPool`] keeps
//! the same rules but leaves a part of the limit to consumers that cannot spill.

use std::sync::Mutex;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation};

/// A limit of `size` bytes; consumers that can spill share at most `size - headroom`
/// of it, fairly (each gets its fraction of what they may use), and consumers that
/// cannot spill may use whatever is free.
#[derive(Debug)]
pub struct HeadroomPool {
    size: usize,
    headroom: usize,
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    spillers: usize,
    spillable: usize,
    unspillable: usize,
}

impl HeadroomPool {
    /// A pool of `size` bytes keeping an eighth for consumers that cannot spill.
    pub fn new(size: usize) -> Self {
        HeadroomPool { size, headroom: size / 8, state: Mutex::new(PoolState::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refuse(&self, reservation: &MemoryReservation, additional: usize, available: usize) -> DataFusionError {
        DataFusionError::ResourcesExhausted(format!(
            "Failed to allocate additional {} for {} with {} already allocated for this reservation - {} remain \
             available for it in the memory pool of {}",
            mib(additional),
            reservation.consumer().name(),
            mib(reservation.size()),
            mib(available),
            mib(self.size),
        ))
    }
}

impl std::fmt::Display for HeadroomPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "headroom(pool_size: {}, kept for consumers that cannot spill: {})",
            mib(self.size),
            mib(self.headroom)
        )
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

impl MemoryPool for HeadroomPool {
    fn name(&self) -> &str {
        "headroom"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            self.lock().spillers += 1;
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            let mut state = self.lock();
            state.spillers = state.spillers.saturating_sub(1);
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        let mut state = self.lock();
        match reservation.consumer().can_spill() {
            true => state.spillable += additional,
            false => state.unspillable += additional,
        }
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        let mut state = self.lock();
        match reservation.consumer().can_spill() {
            true => state.spillable = state.spillable.saturating_sub(shrink),
            false => state.unspillable = state.unspillable.saturating_sub(shrink),
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut state = self.lock();
        let free = self.size.saturating_sub(state.spillable + state.unspillable);
        if reservation.consumer().can_spill() {
            let for_spillers = (self.size - self.headroom).saturating_sub(state.unspillable);
            let share = for_spillers.checked_div(state.spillers).unwrap_or(for_spillers);
            let available = share.saturating_sub(reservation.size()).min(free);
            if additional > available {
                return Err(self.refuse(reservation, additional, available));
            }
            state.spillable += additional;
        } else {
            if additional > free {
                return Err(self.refuse(reservation, additional, free));
            }
            state.unspillable += additional;
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        let state = self.lock();
        state.spillable + state.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn consumers_that_cannot_spill_find_the_headroom_left() {
        let pool: Arc<dyn MemoryPool> = Arc::new(HeadroomPool::new(800));
        let sort = MemoryConsumer::new("sort").with_can_spill(true).register(&pool);
        let other_sort = MemoryConsumer::new("other sort").with_can_spill(true).register(&pool);
        // Two spillers share 700 bytes: 350 each, not more.
        sort.try_grow(350).unwrap();
        let refused = sort.try_grow(1).unwrap_err();
        assert!(matches!(refused, DataFusionError::ResourcesExhausted(_)), "{refused}");
        assert!(refused.to_string().contains("for sort with"), "{refused}");
        other_sort.try_grow(350).unwrap();
        // The merge above them still gets the eighth kept back.
        let merge = MemoryConsumer::new("merge").register(&pool);
        merge.try_grow(100).unwrap();
        assert!(merge.try_grow(1).is_err(), "the limit itself holds");
        assert_eq!(pool.reserved(), 800);
        drop(merge);
        drop(other_sort);
        // One spiller left: it may take everything but the headroom.
        sort.try_grow(350).unwrap();
        assert!(sort.try_grow(1).is_err());
        assert_eq!(pool.reserved(), 700);
    }
}

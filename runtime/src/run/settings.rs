//! [`RunSettings`]: how a run may use the machine, and the DataFusion session every run
//! (and every compile) uses: memory pool, spilling, optimizer rules, column types, our
//! functions.

use std::sync::Arc;

use datafusion::common::config::ConfigNonZeroUsize;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::DiskManagerBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::memory::HeadroomPool;
use crate::io::delta::sink::HeldDeltaWrites;
use crate::io::odbc::transactions::HeldTransactions;
use crate::optimizer::dense_joins::MIN_KEY_DENSITY;
use crate::optimizer::physical_optimizer_rules;
use crate::shared::results::SharedResults;

/// A memory limit that is not a size.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("--max-memory takes a size in GB of 0 or more, not {0}")]
pub struct InvalidMemoryLimit(pub f64);

/// How a run may use the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunSettings {
    /// The memory pool size in bytes; `None` is unlimited.
    pub max_memory: Option<usize>,
}

impl RunSettings {
    /// Reads `--max-memory GB` (decimals allowed; 0 means unlimited).
    pub fn from_gigabytes(gb: f64) -> Result<Self, InvalidMemoryLimit> {
        if !gb.is_finite() || gb < 0.0 {
            return Err(InvalidMemoryLimit(gb));
        }
        let bytes = (gb * 1024.0 * 1024.0 * 1024.0) as usize;
        Ok(RunSettings { max_memory: (bytes > 0).then_some(bytes) })
    }

    /// A DataFusion context whose memory pool and spill files serve everything the run
    /// does. With a limit, sorts, aggregates and repartitions spill to disk, and joins
    /// prefer sort-merge (whose build side can spill) over hash joins.
    pub fn session_context(&self) -> datafusion::error::Result<SessionContext> {
        let mut runtime = RuntimeEnvBuilder::new().with_disk_manager_builder(DiskManagerBuilder::default());
        let mut config = SessionConfig::new().with_information_schema(false);
        if let Some(bytes) = self.max_memory {
            runtime = runtime.with_memory_pool(Arc::new(HeadroomPool::new(bytes)));
            let options = config.options_mut();
            options.optimizer.prefer_hash_join = false;
            // Each sorting partition sets aside memory for merging its spill files
            // (10 MiB by default); under a small limit that reserve alone would exhaust
            // the pool, so it scales with the limit.
            let partitions = options.execution.target_partitions.max(1);
            let reserve = (bytes / (4 * partitions)).clamp(64 * 1024, options.execution.sort_spill_reservation_bytes);
            options.execution.sort_spill_reservation_bytes = reserve;
            options.execution.sort_in_place_threshold_bytes =
                options.execution.sort_in_place_threshold_bytes.min(reserve);
            // Merges hold a batch per input plus its encoded sort keys, outside
            // anything that can spill; with DataFusion's 8192-row batches the final
            // merge of a spilled sort asks for ~30 MB at once, more than a 0.25 GB
            // pool has left. Smaller batches under small limits keep those buffers in
            // proportion (2048 rows at 0.25 GB, the default from 1 GB up).
            options.execution.batch_size = ConfigNonZeroUsize::try_new(batch_rows_for_limit(bytes))?;
        }
        config.options_mut().sql_parser.collect_spans = true;
        config.options_mut().execution.perfect_hash_join_min_key_density = MIN_KEY_DENSITY;
        // A session time zone, as PostgreSQL has: `timestamptz` values carry it (and print
        // as `... +00`), `now()` is in it. UTC, as the tests' DuckDB and PostgreSQL use.
        config.options_mut().execution.time_zone = Some("UTC".into());
        configure_types(&mut config);
        let config = config
            .with_extension(Arc::new(SharedResults::default()))
            .with_extension(Arc::new(HeldTransactions::default()))
            .with_extension(Arc::new(HeldDeltaWrites::default()));
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime.build_arc()?)
            .with_default_features()
            .with_physical_optimizer_rules(physical_optimizer_rules())
            .build();
        let ctx = SessionContext::new_with_state(state);
        crate::functions::register(&ctx);
        Ok(ctx)
    }
}

/// Rows per batch under a memory limit of `bytes`: one row per 128 KiB of pool, between
/// 1024 and DataFusion's default of 8192.
fn batch_rows_for_limit(bytes: usize) -> usize {
    (bytes / (128 * 1024)).clamp(1024, 8192)
}

/// The column types every Aqueducts session uses, at compile time and at run time alike
/// (so that the schemas baked into a plan are the ones it runs with): Parquet strings are
/// read as plain `Utf8`, not `Utf8View`. View arrays share their data buffers between
/// batches, so a sorted or spilled view batch is accounted as the whole buffers it
/// points into, which makes memory limits fail long before memory runs out; ODBC
/// writers cannot take views either.
pub fn configure_types(config: &mut SessionConfig) {
    config.options_mut().execution.parquet.schema_force_view_types = false;
}

#[cfg(test)]
mod tests {
    use super::RunSettings;

    #[test]
    fn memory_limits_read_as_gigabytes() {
        assert_eq!(RunSettings::from_gigabytes(0.0).unwrap().max_memory, None);
        assert_eq!(RunSettings::from_gigabytes(0.5).unwrap().max_memory, Some(512 * 1024 * 1024));
        assert_eq!(super::batch_rows_for_limit(256 * 1024 * 1024), 2048);
        assert_eq!(super::batch_rows_for_limit(16 * 1024 * 1024), 1024);
        assert_eq!(super::batch_rows_for_limit(4 * 1024 * 1024 * 1024), 8192);
        assert!(RunSettings::from_gigabytes(-1.0).is_err());
        assert!(RunSettings::from_gigabytes(f64::NAN).is_err());
    }
}

//! A physical optimizer rule: hash joins whose build side has dense integer keys build
//! one table for all partitions.
//!
//! DataFusion indexes a join's build rows in a plain array ("perfect hash") rather than
//! a hash table when the build keys are integers dense enough in their range
//! (`perfect_hash_join_min_key_density`). Probing such an array is one memory access,
//! and a sequential one when the probe side arrives in key order, as tables written in
//! key order do; probing a hash table of millions of rows is two or more cache misses
//! per row. By default, a build side larger than a few megabytes is split by key across
//! partitions, and each partition's array spans the whole key range with a fraction of
//! the keys in it: the density falls below the threshold, the array is not used, and
//! both sides are repartitioned by hash on top.
//!
//! This rule runs right after DataFusion's `JoinSelection`, which has put the smaller
//! side on the left (build) side, and before distribution is enforced. A `Partitioned`
//! hash join whose build side has dense keys by the statistics becomes `CollectLeft`: the
//! build side is collected once, the probe side is not split by key, and the array
//! applies. The rule only picks joins whose array would take at most
//! [`MAX_ARRAY_BYTES`] by the statistics. DataFusion decides on the array at run time
//! from the real keys; an estimate that turns out wrong costs a hash table built on one
//! thread instead of one per partition.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{ColumnStatistics, NullEquality, ScalarValue, Statistics};
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// The largest key array worth building in one piece: 2^28 keys of 4 bytes. The same
/// bound applies to the build rows, whose chain links take 4 bytes each.
pub const MAX_ARRAY_BYTES: u64 = 1 << 30;

/// The build-side density above which DataFusion indexes build rows in an array. At
/// 0.1 the array takes 40 bytes per build row, about what a hash table of the same rows
/// takes (16-byte entries at up to 7/8 load, doubled when rounded to a power of two,
/// plus a 4-byte chain link): below it, the array would cost more memory than it saves.
pub const MIN_KEY_DENSITY: f64 = 0.1;

/// The name of DataFusion's rule this one follows.
pub const FOLLOWS: &str = "join_selection";

/// See the module documentation.
#[derive(Debug, Default)]
pub struct CollectDenseJoins;

impl PhysicalOptimizerRule for CollectDenseJoins {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let min_density = config.execution.perfect_hash_join_min_key_density;
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(Transformed::no(node)) };
            if !builds_dense_array(join, min_density) {
                return Ok(Transformed::no(node));
            }
            let collected = join.builder().with_partition_mode(PartitionMode::CollectLeft).build()?;
            Ok(Transformed::yes(Arc::new(collected) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "collect_dense_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `join` is a partitioned hash join on one key whose build (left) side would
/// get an array if it were collected whole. Statistics that cannot be computed leave the
/// join as it is: this is an optimisation, never a reason to fail.
fn builds_dense_array(join: &HashJoinExec, min_density: f64) -> bool {
    if *join.partition_mode() != PartitionMode::Partitioned || join.on().len() != 1 {
        return false;
    }
    // Unbounded inputs are joined as streams; collecting one whole would never finish.
    if join.left().boundedness().is_unbounded() || join.right().boundedness().is_unbounded() {
        return false;
    }
    // Only a plain column has statistics to go by.
    let Some(key) = join.on()[0].0.downcast_ref::<Column>() else { return false };
    let Ok(statistics) = statistics_of(join.left().as_ref()) else { return false };
    let Some(key_statistics) = statistics.column_statistics.get(key.index()) else { return false };
    // With nulls equal to nulls, DataFusion skips the array when a build key is null.
    if join.null_equality() == NullEquality::NullEqualsNull && key_statistics.null_count.get_value() != Some(&0) {
        return false;
    }
    match statistics.num_rows.get_value() {
        Some(&rows) => has_dense_keys(rows, key_statistics, min_density),
        None => false,
    }
}

/// Whether `rows` rows with these key statistics hold more than `min_density` rows per
/// value of the keys' range, in an array of at most [`MAX_ARRAY_BYTES`] and with at most
/// as many rows as that array has slots.
fn has_dense_keys(rows: usize, key: &ColumnStatistics, min_density: f64) -> bool {
    let (Some(min), Some(max)) = (integer(&key.min_value), integer(&key.max_value)) else { return false };
    let Some(range) = max.checked_sub(min).and_then(|r| r.checked_add(1)) else { return false };
    let slots = i128::from(MAX_ARRAY_BYTES / 4);
    if range <= 0 || range > slots || rows as i128 > slots {
        return false;
    }
    rows as f64 / range as f64 > min_density
}

fn statistics_of(plan: &dyn ExecutionPlan) -> Result<Arc<Statistics>> {
    StatisticsContext::new().compute(plan, &StatisticsArgs::new())
}

/// An integer statistic widened to `i128`; other types have no array form.
fn integer(precision: &Precision<ScalarValue>) -> Option<i128> {
    match precision.get_value()? {
        ScalarValue::Int8(Some(v)) => Some(i128::from(*v)),
        ScalarValue::Int16(Some(v)) => Some(i128::from(*v)),
        ScalarValue::Int32(Some(v)) => Some(i128::from(*v)),
        ScalarValue::Int64(Some(v)) => Some(i128::from(*v)),
        ScalarValue::UInt8(Some(v)) => Some(i128::from(*v)),
        ScalarValue::UInt16(Some(v)) => Some(i128::from(*v)),
        ScalarValue::UInt32(Some(v)) => Some(i128::from(*v)),
        ScalarValue::UInt64(Some(v)) => Some(i128::from(*v)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
    use datafusion::physical_plan::{ExecutionPlan, collect, displayable};
    use datafusion::prelude::SessionContext;

    use crate::RunSettings;

    /// A session as runs get it, with `dims` (200,000 keys `step` apart, `v` from 1 to
    /// 200,000) and `facts` (900,000 rows, six for each of the first 150,000 keys) written
    /// as Parquet.
    async fn session(dir: &std::path::Path, step: i64) -> SessionContext {
        let ctx = RunSettings::default().session_context().unwrap();
        ctx.sql("SET datafusion.execution.target_partitions = 2").await.unwrap();
        let dims = dir.join("dims.parquet");
        let facts = dir.join("facts.parquet");
        for (path, query) in [
            (&dims, format!("SELECT value * {step} AS k, value AS v FROM generate_series(1, 200000)")),
            (
                &facts,
                format!("SELECT (value % 150000 + 1) * {step} AS k, value AS amount FROM generate_series(1, 900000)"),
            ),
        ] {
            let copy = format!("COPY ({query}) TO '{}' STORED AS PARQUET", path.display());
            ctx.sql(&copy).await.unwrap().collect().await.unwrap();
        }
        ctx.register_parquet("dims", dims.to_str().unwrap(), Default::default()).await.unwrap();
        ctx.register_parquet("facts", facts.to_str().unwrap(), Default::default()).await.unwrap();
        ctx
    }

    /// Six facts for each of keys 1 to 150,000: the sum of their `v`.
    const MATCHED_TOTAL: i64 = 6 * 150_000 * 150_001 / 2;

    /// Every fact matches: the sum of `amount`, 1 to 900,000.
    const AMOUNTS: i64 = 900_000 * 900_001 / 2;

    fn find_join(plan: &Arc<dyn ExecutionPlan>) -> Option<&HashJoinExec> {
        plan.downcast_ref::<HashJoinExec>().or_else(|| plan.children().into_iter().find_map(find_join))
    }

    fn join_of(plan: &Arc<dyn ExecutionPlan>) -> &HashJoinExec {
        find_join(plan).expect("a hash join in the plan")
    }

    /// Runs `query` (three BIGINT columns, one row) and returns its plan and values.
    async fn run(ctx: &SessionContext, query: &str) -> (Arc<dyn ExecutionPlan>, [i64; 3]) {
        let plan = ctx.sql(query).await.unwrap().create_physical_plan().await.unwrap();
        let batches = collect(plan.clone(), ctx.task_ctx()).await.unwrap();
        let column = |i: usize| batches[0].column(i).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
        (plan, [column(0), column(1), column(2)])
    }

    fn arrays_built(join: &HashJoinExec) -> Option<usize> {
        join.metrics().unwrap().sum_by_name("array_map_created_count").map(|m| m.as_usize())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dense_build_keys_build_one_array_and_leave_the_probe_side_unsplit() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = session(dir.path(), 1).await;
        // Written both ways round: the smaller side is built either way.
        for query in [
            "SELECT count(*), sum(v), sum(amount) FROM facts JOIN dims ON facts.k = dims.k",
            "SELECT count(*), sum(v), sum(amount) FROM dims JOIN facts ON dims.k = facts.k",
        ] {
            let (plan, values) = run(&ctx, query).await;
            assert_eq!(values, [900_000, MATCHED_TOTAL, AMOUNTS], "{query}");
            let join = join_of(&plan);
            let shown = displayable(plan.as_ref()).indent(false).to_string();
            assert_eq!(*join.partition_mode(), PartitionMode::CollectLeft, "{shown}");
            let build = displayable(join.left().as_ref()).indent(false).to_string();
            assert!(build.contains("dims.parquet"), "{shown}");
            assert!(!shown.contains("partitioning=Hash([k"), "the probe side was split by key:\n{shown}");
            assert_eq!(arrays_built(join), Some(1), "the build side was not indexed by an array:\n{shown}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outer_join_on_a_collected_side_emits_each_unmatched_build_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = session(dir.path(), 1).await;
        // Keys 150,001 to 200,000 of `dims` match nothing, whichever probe partition ran.
        let query = "SELECT count(*), sum(v), count(facts.k) FROM facts RIGHT JOIN dims ON facts.k = dims.k";
        let (plan, values) = run(&ctx, query).await;
        let unmatched_total = (150_001..=200_000).sum::<i64>();
        assert_eq!(values, [900_000 + 50_000, MATCHED_TOTAL + unmatched_total, 900_000]);
        assert_eq!(*join_of(&plan).partition_mode(), PartitionMode::CollectLeft);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sparse_build_keys_keep_a_partitioned_hash_join() {
        let dir = tempfile::tempdir().unwrap();
        // Keys 100 apart: a density of 0.01, where an array would waste memory.
        let ctx = session(dir.path(), 100).await;
        let query = "SELECT count(*), sum(v), sum(amount) FROM facts JOIN dims ON facts.k = dims.k";
        let (plan, values) = run(&ctx, query).await;
        assert_eq!(values, [900_000, MATCHED_TOTAL, AMOUNTS]);
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        assert_eq!(*join_of(&plan).partition_mode(), PartitionMode::Partitioned, "{shown}");
        assert!(shown.contains("partitioning=Hash([k"), "both sides are split by key:\n{shown}");
        assert_eq!(arrays_built(join_of(&plan)), Some(0));
    }
}

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
//! This rule runs before DataFusion's `JoinSelection`: a join it would decide by size
//! whose build side (the smaller side, as `JoinSelection` picks it) has dense keys by the
//! statistics is marked `CollectLeft`. The build side is then collected once, the probe
//! side is not repartitioned, and the array applies. The array is capped
//! ([`MAX_ARRAY_BYTES`]); estimates that turn out wrong only cost a hash table built on
//! one thread.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{ScalarValue, Statistics};
use datafusion::error::Result;
use datafusion::physical_expr::PhysicalExprRef;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

/// The largest key array worth building in one piece: 2^28 keys of 4 bytes.
pub const MAX_ARRAY_BYTES: u64 = 1 << 30;

/// The build-side density above which DataFusion indexes build rows in an array. At
/// 0.1 the array takes 40 bytes per build row, about what a hash table of the same rows
/// takes (16-byte entries at up to 7/8 load, doubled when rounded to a power of two,
/// plus a 4-byte chain link): below it, the array would cost more memory than it saves.
pub const MIN_KEY_DENSITY: f64 = 0.1;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct CollectDenseJoins;

impl PhysicalOptimizerRule for CollectDenseJoins {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let min_density = config.execution.perfect_hash_join_min_key_density;
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else { return Ok(Transformed::no(node)) };
            if *join.partition_mode() != PartitionMode::Auto || join.on().len() != 1 {
                return Ok(Transformed::no(node));
            }
            let (left_key, right_key) = &join.on()[0];
            let (build, key) =
                if builds_right(join, config)? { (join.right(), right_key) } else { (join.left(), left_key) };
            if !has_dense_keys(build.as_ref(), key, min_density)? {
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

/// Whether `JoinSelection` will swap the join so that its right side is built: when it
/// may reorder and the right side is smaller, in bytes or else in rows.
fn builds_right(join: &HashJoinExec, config: &ConfigOptions) -> Result<bool> {
    if !config.optimizer.join_reordering || !join.join_type().supports_swap() || join.null_aware {
        return Ok(false);
    }
    let left = statistics_of(join.left().as_ref())?;
    let right = statistics_of(join.right().as_ref())?;
    Ok(match (left.total_byte_size.get_value(), right.total_byte_size.get_value()) {
        (Some(l), Some(r)) => l > r,
        _ => match (left.num_rows.get_value(), right.num_rows.get_value()) {
            (Some(l), Some(r)) => l > r,
            _ => false,
        },
    })
}

/// Whether the statistics of `side` put the values of `key` (a plain column) at more
/// than `min_density` rows per value of their range, in an array of at most
/// [`MAX_ARRAY_BYTES`].
fn has_dense_keys(side: &dyn ExecutionPlan, key: &PhysicalExprRef, min_density: f64) -> Result<bool> {
    let Some(column) = key.downcast_ref::<Column>() else { return Ok(false) };
    let statistics = statistics_of(side)?;
    let Some(column_statistics) = statistics.column_statistics.get(column.index()) else { return Ok(false) };
    let (Some(rows), Some(min), Some(max)) =
        (value(&statistics.num_rows), integer(&column_statistics.min_value), integer(&column_statistics.max_value))
    else {
        return Ok(false);
    };
    let Some(range) = max.checked_sub(min).and_then(|r| r.checked_add(1)) else { return Ok(false) };
    if range <= 0 || range.saturating_mul(4) > i128::from(MAX_ARRAY_BYTES) {
        return Ok(false);
    }
    Ok(rows as f64 / range as f64 > min_density)
}

fn statistics_of(plan: &dyn ExecutionPlan) -> Result<Arc<Statistics>> {
    StatisticsContext::new().compute(plan, &StatisticsArgs::new())
}

fn value(precision: &Precision<usize>) -> Option<usize> {
    precision.get_value().copied()
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

    /// A session as runs get it, with `dims` (200,000 keys `step` apart) and `facts`
    /// (1,000,000 rows, five per key) written as Parquet.
    async fn session(dir: &std::path::Path, step: i64) -> SessionContext {
        let ctx = RunSettings::default().session_context().unwrap();
        ctx.sql("SET datafusion.execution.target_partitions = 2").await.unwrap();
        let dims = dir.join("dims.parquet");
        let facts = dir.join("facts.parquet");
        for (path, query) in [
            (&dims, format!("SELECT value * {step} AS k, value AS v FROM generate_series(1, 200000)")),
            (
                &facts,
                format!("SELECT (value % 200000 + 1) * {step} AS k, value AS amount FROM generate_series(1, 1000000)"),
            ),
        ] {
            let copy = format!("COPY ({query}) TO '{}' STORED AS PARQUET", path.display());
            ctx.sql(&copy).await.unwrap().collect().await.unwrap();
        }
        ctx.register_parquet("dims", dims.to_str().unwrap(), Default::default()).await.unwrap();
        ctx.register_parquet("facts", facts.to_str().unwrap(), Default::default()).await.unwrap();
        ctx
    }

    const QUERY: &str = "SELECT count(*) AS n, sum(v) AS total FROM facts JOIN dims ON facts.k = dims.k";

    fn find_join(plan: &Arc<dyn ExecutionPlan>) -> Option<&HashJoinExec> {
        plan.downcast_ref::<HashJoinExec>().or_else(|| plan.children().into_iter().find_map(find_join))
    }

    fn join_of(plan: &Arc<dyn ExecutionPlan>) -> &HashJoinExec {
        find_join(plan).expect("a hash join in the plan")
    }

    async fn run(ctx: &SessionContext) -> (Arc<dyn ExecutionPlan>, i64, i64) {
        let plan = ctx.sql(QUERY).await.unwrap().create_physical_plan().await.unwrap();
        let batches = collect(plan.clone(), ctx.task_ctx()).await.unwrap();
        let column = |i: usize| batches[0].column(i).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
        (plan, column(0), column(1))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dense_build_keys_build_one_array_and_leave_the_probe_side_unsplit() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = session(dir.path(), 1).await;
        let (plan, rows, total) = run(&ctx).await;
        // Every fact finds its key once; the keys' values sum to 5 * (1 + ... + 200000).
        assert_eq!((rows, total), (1_000_000, 5 * 200_000 * 200_001 / 2));
        let join = join_of(&plan);
        assert_eq!(*join.partition_mode(), PartitionMode::CollectLeft);
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        assert!(!shown.contains("partitioning=Hash([k"), "the probe side was split by key:\n{shown}");
        let metrics = join.metrics().unwrap();
        let arrays = metrics.sum_by_name("array_map_created_count").map(|m| m.as_usize());
        assert_eq!(arrays, Some(1), "the build side was not indexed by an array:\n{shown}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sparse_build_keys_keep_a_partitioned_hash_join() {
        let dir = tempfile::tempdir().unwrap();
        // Keys 100 apart: a density of 0.01, where an array would waste memory.
        let ctx = session(dir.path(), 100).await;
        let (plan, rows, total) = run(&ctx).await;
        assert_eq!((rows, total), (1_000_000, 5 * 200_000 * 200_001 / 2));
        assert_eq!(*join_of(&plan).partition_mode(), PartitionMode::Partitioned);
    }
}

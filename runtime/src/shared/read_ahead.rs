//! Starting the later inputs of a query that reads one shared stage on several sides.
//!
//! A hash join reads its build side to the end before it polls its probe side. When
//! both sides read the same shared stage, the probe side's reader would hold up the
//! stage's log for the whole build, and everything the stage produces meanwhile would
//! be kept for it (in a spill file once memory is used up). [`with_read_ahead`] wraps
//! such a later input in a [`ReadAheadExec`], which starts it as soon as it is executed
//! and keeps its output, usually far smaller (an aggregate, a filtered join), in a
//! [`BatchLog`] of its own until its parent reads it.
//!
//! The wrapping happens when a run starts, on every plan it runs, so artifacts never
//! contain the node.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use futures::StreamExt;

use super::batch_log::BatchLog;
use super::scan::count_reads;
use crate::node_macros::single_input_node_methods;

/// `plan` with every input that reads a shared stage also read by an earlier input of
/// the same node wrapped in a [`ReadAheadExec`].
pub fn with_read_ahead(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let rewritten = plan.transform_up(|node| {
        let children = node.children();
        if children.len() < 2 {
            return Ok(Transformed::no(node));
        }
        let mut read_before = HashSet::new();
        let mut wrapped = false;
        let mut inputs = Vec::with_capacity(children.len());
        for child in children {
            let mut reads = HashMap::new();
            count_reads(child, &mut reads);
            let read_twice = reads.keys().any(|id| read_before.contains(id));
            read_before.extend(reads.into_keys());
            if read_twice && child.as_ref().downcast_ref::<ReadAheadExec>().is_none() {
                inputs.push(Arc::new(ReadAheadExec::new(child.clone())) as Arc<dyn ExecutionPlan>);
                wrapped = true;
            } else {
                inputs.push(child.clone());
            }
        }
        if !wrapped {
            return Ok(Transformed::no(node));
        }
        let options = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
        Ok(Transformed::yes(node.replace_children(inputs, options)?))
    })?;
    Ok(rewritten.data)
}

/// Runs its input from the moment it is executed, not from when its parent first asks
/// for a batch; the output waits in a [`BatchLog`] (memory, then a spill file).
#[derive(Debug)]
pub struct ReadAheadExec {
    input: Arc<dyn ExecutionPlan>,
}

impl ReadAheadExec {
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        ReadAheadExec { input }
    }
}

impl DisplayAs for ReadAheadExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ReadAheadExec")
    }
}

impl ExecutionPlan for ReadAheadExec {
    fn name(&self) -> &'static str {
        "ReadAheadExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    single_input_node_methods!(|_, input| ReadAheadExec::new(input));

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let schema = self.schema();
        let partitions = self.properties().output_partitioning().partition_count();
        let log = BatchLog::for_read_ahead(schema.clone(), partitions, &context.runtime_env());
        let batches = log.reader(schema.clone(), None)?;
        let input = self.input.execute(partition, context);
        // Aborted when the reader is dropped. Its errors and panics reach the reader
        // through the log.
        let filling = AbortOnDrop(tokio::spawn(async move { log.fill(input).await }));
        let batches = batches.map(move |batch| {
            let _keep_filling = &filling;
            batch
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}

/// A spawned task that ends with its owner.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

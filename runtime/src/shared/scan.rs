//! [`SharedStageExec`]: a reader of a shared stage's output, our own plan node, which
//! [`crate::artifact::AqueductsCodec`] stores in plan artifacts.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, Statistics, project_schema};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};

use super::results::SharedResults;
use crate::artifact::layout::{NodeReader, put_projection, put_schema, put_text, put_u32};
use crate::node_macros::leaf_node_methods;

/// How many times the plans read each shared stage (a plan that reads one twice, say in
/// a self-join, counts twice).
pub fn count_reads(plan: &Arc<dyn ExecutionPlan>, reads: &mut HashMap<u32, usize>) {
    let _ = plan.apply(|node| {
        if let Some(shared) = node.as_ref().downcast_ref::<SharedStageExec>() {
            *reads.entry(shared.id).or_default() += 1;
        }
        Ok(TreeNodeRecursion::Continue)
    });
}

/// Reads the output of a shared stage computed in the same run, as it is produced.
#[derive(Debug)]
pub struct SharedStageExec {
    id: u32,
    stage: String,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
    /// Estimates for planning its readers; not stored in artifacts, which are planned.
    statistics: Arc<Statistics>,
}

impl SharedStageExec {
    pub fn new(id: u32, stage: String, schema: SchemaRef, projection: Option<Vec<usize>>) -> Result<Self> {
        let projected = project_schema(&schema, projection.as_ref())?;
        let properties = PlanProperties::new(
            EquivalenceProperties::new(projected),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        let statistics = Arc::new(Statistics::new_unknown(properties.eq_properties.schema()));
        Ok(SharedStageExec { id, stage, schema, projection, properties: Arc::new(properties), statistics })
    }

    /// Estimates of the projected output (see [`super::table::SharedTable::with_statistics`]).
    pub fn with_statistics(mut self, statistics: Statistics) -> Self {
        self.statistics = Arc::new(statistics);
        self
    }

    /// The first bytes of the node in an artifact.
    pub(crate) const TAG: &'static [u8] = b"AQS1";

    /// `AQS1`, id, stage name, projection, then the full schema ([`crate::artifact::layout`]).
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(Self::TAG);
        put_u32(buf, self.id);
        put_text(buf, &self.stage);
        put_projection(buf, self.projection.as_ref());
        put_schema(buf, &self.schema)
    }

    pub(crate) fn decode(buf: &[u8]) -> Result<Self> {
        let mut reader = NodeReader::new(buf, b"AQS1", "shared stage")?;
        let id = reader.u32()?;
        let stage = reader.text()?;
        let projection = reader.projection()?;
        SharedStageExec::new(id, stage, reader.schema()?, projection)
    }
}

impl DisplayAs for SharedStageExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedStageExec: stage={}", self.stage)
    }
}

impl ExecutionPlan for SharedStageExec {
    fn name(&self) -> &'static str {
        "SharedStageExec"
    }

    leaf_node_methods!();

    fn statistics_from_inputs(&self, _: &[Arc<Statistics>], _: &StatisticsArgs) -> Result<Arc<Statistics>> {
        Ok(self.statistics.clone())
    }

    fn execute(&self, _partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let missing = || DataFusionError::Execution(format!("stage `{}` is not computed in this run", self.stage));
        let results = context.session_config().get_extension::<SharedResults>().ok_or_else(missing)?;
        let log = results.get(self.id).ok_or_else(missing)?;
        log.reader(self.schema(), self.projection.clone())
    }
}

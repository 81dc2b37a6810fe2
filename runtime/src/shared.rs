//! Stages read more than once: computed once and streamed to each of their readers.
//!
//! A stage that one reader reads once is planned inside that reader. A stage read by
//! several readers (or twice by one query) is instead run once, alongside its readers:
//! its output goes into a [`BatchLog`] that keeps each batch until every reader has read
//! it, in memory while they keep up, in a spill file otherwise. Readers scan the log
//! through [`SharedStageExec`], our own plan node, which [`AqueductsCodec`] stores in
//! plan artifacts. [`crate::read_ahead`] makes sure that one query reading a stage twice
//! reads both at once.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, Statistics, project_schema};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use datafusion::prelude::SessionContext;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use crate::batch_log::BatchLog;
use crate::node_codec::{NodeReader, leaf_node_methods, put_projection, put_schema, put_text, put_u32};

/// The logs of a run's shared stages, by id. Lives in the session config, so plan
/// nodes find them through their task context.
#[derive(Default)]
pub struct SharedResults {
    logs: Mutex<HashMap<u32, Arc<BatchLog>>>,
}

impl SharedResults {
    fn get(&self, id: u32) -> Option<Arc<BatchLog>> {
        self.logs.lock().ok()?.get(&id).cloned()
    }
}

/// Opens the log of shared stage `id`, read `reads` times by the plans of this run, so
/// that its readers find it whenever they start. Call before running anything.
pub fn open(ctx: &SessionContext, id: u32, stage: &str, schema: SchemaRef, reads: usize) -> Result<Arc<BatchLog>> {
    let results = ctx
        .state()
        .config()
        .get_extension::<SharedResults>()
        .ok_or_else(|| DataFusionError::Internal("the session has no shared stage results".into()))?;
    let log = BatchLog::for_stage(stage, schema, reads, &ctx.runtime_env());
    let mut logs = results.logs.lock().map_err(|_| DataFusionError::Internal("shared stage logs poisoned".into()))?;
    logs.insert(id, log.clone());
    Ok(log)
}

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

/// A table that reads a shared stage's output.
#[derive(Debug)]
pub struct SharedTable {
    id: u32,
    stage: String,
    schema: SchemaRef,
    statistics: Statistics,
}

impl SharedTable {
    pub fn new(id: u32, stage: impl Into<String>, schema: SchemaRef) -> Self {
        let statistics = Statistics::new_unknown(&schema);
        SharedTable { id, stage: stage.into(), schema, statistics }
    }

    /// What the stage's own plan estimates of its output. Readers are planned before the
    /// stage runs, and joins choose their build side by these estimates: without them a
    /// join would hash a large shared stage rather than the small table it meets.
    pub fn with_statistics(mut self, statistics: Statistics) -> Self {
        self.statistics = statistics.to_inexact();
        self
    }
}

#[async_trait]
impl TableProvider for SharedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(self.statistics.clone())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scan = SharedStageExec::new(self.id, self.stage.clone(), self.schema.clone(), projection.cloned())?;
        Ok(Arc::new(scan.with_statistics(self.statistics.clone().project(projection))))
    }
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

    /// Estimates of the projected output (see [`SharedTable::with_statistics`]).
    pub fn with_statistics(mut self, statistics: Statistics) -> Self {
        self.statistics = Arc::new(statistics);
        self
    }

    /// `AQS1`, id, stage name, projection, then the full schema ([`crate::node_codec`]).
    fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(b"AQS1");
        put_u32(buf, self.id);
        put_text(buf, &self.stage);
        put_projection(buf, self.projection.as_ref());
        put_schema(buf, &self.schema)
    }

    fn decode(buf: &[u8]) -> Result<Self> {
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

/// Stores our own plan nodes in plan artifacts.
#[derive(Debug)]
pub struct AqueductsCodec;

impl PhysicalExtensionCodec for AqueductsCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        _inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if crate::odbc::OdbcScanExec::is_encoded(buf) {
            return Ok(Arc::new(crate::odbc::OdbcScanExec::decode(buf)?));
        }
        if crate::odbc::OdbcWriteExec::is_encoded(buf) {
            return Ok(Arc::new(crate::odbc::OdbcWriteExec::decode(buf, _inputs)?));
        }
        Ok(Arc::new(SharedStageExec::decode(buf)?))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(scan) = node.as_ref().downcast_ref::<crate::odbc::OdbcScanExec>() {
            return scan.encode(buf);
        }
        if let Some(write) = node.as_ref().downcast_ref::<crate::odbc::OdbcWriteExec>() {
            return write.encode(buf);
        }
        match node.as_ref().downcast_ref::<SharedStageExec>() {
            Some(shared) => shared.encode(buf),
            None => {
                Err(DataFusionError::NotImplemented(format!("{} cannot be stored in a plan artifact", node.name())))
            }
        }
    }
}

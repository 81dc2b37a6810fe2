//! Stages read more than once: computed once, kept in memory or a spill file, read by each reader.
//!
//! A stage that one reader reads once is planned inside that reader. A stage read by
//! several readers (or twice by one query) is instead run once, before its readers, and
//! its output kept in memory accounted in the pool, or, once that is refused, streamed
//! to an Arrow IPC file from the disk manager (so it never has to fit in memory). Its
//! readers scan it through [`SharedStageExec`], our own plan node, which
//! [`AqueductsCodec`] stores in plan artifacts.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, Statistics, project_schema};
use datafusion::datasource::TableType;
use datafusion::execution::SpillFile;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryReservation};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream, execute_stream,
};
use datafusion::prelude::SessionContext;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use futures::StreamExt;

use crate::node_codec::{NodeReader, leaf_node_methods, put_projection, put_schema, put_text, put_u32};

/// The computed shared stages of a run, by id. Lives in the session config, so plan
/// nodes find it through their task context.
#[derive(Default)]
pub struct SharedResults {
    outputs: Mutex<HashMap<u32, Arc<SharedOutput>>>,
}

impl SharedResults {
    fn get(&self, id: u32) -> Option<Arc<SharedOutput>> {
        self.outputs.lock().ok()?.get(&id).cloned()
    }
}

/// Where a shared stage's output is kept until the run ends.
enum SharedOutput {
    /// Small enough to keep: the memory stays reserved in the pool.
    Memory { batches: Arc<Vec<RecordBatch>>, _reservation: MemoryReservation },
    /// Too big for its share of the pool: an Arrow IPC file from the disk manager.
    Disk(Arc<dyn SpillFile>),
}

type SpillWriter = FileWriter<BufWriter<File>>;

/// The most a shared stage keeps in memory without a memory limit.
const UNLIMITED_IN_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// Runs a shared stage once and keeps its output for its readers; returns its rows.
///
/// Without a memory limit, the output stays in memory (accounted in the pool) up to
/// [`UNLIMITED_IN_MEMORY_BYTES`]; past that, everything buffered so far and the rest of
/// the stream go to a spill file. Under a limit it goes to the spill file from the
/// start: memory held while the stage is computed is taken from the sorts and joins
/// computing it, which then fail or spill more.
pub async fn materialize(id: u32, stage: &str, plan: Arc<dyn ExecutionPlan>, ctx: &SessionContext) -> Result<u64> {
    let results = ctx
        .state()
        .config()
        .get_extension::<SharedResults>()
        .ok_or_else(|| DataFusionError::Internal("the session has no shared stage results".into()))?;
    let pool = ctx.runtime_env().memory_pool.clone();
    let budget = match pool.memory_limit() {
        MemoryLimit::Finite(_) => 0,
        MemoryLimit::Infinite | MemoryLimit::Unknown => UNLIMITED_IN_MEMORY_BYTES,
    };
    // Registered as spillable only when it may hold memory: a spillable consumer takes
    // a share from the sorts and joins computing the stage.
    let reservation = MemoryConsumer::new(format!("shared stage `{stage}`")).with_can_spill(budget > 0).register(&pool);
    let mut batches = Vec::new();
    let mut disk: Option<(Arc<dyn SpillFile>, SpillWriter)> = None;
    let mut stream = execute_stream(plan.clone(), ctx.task_ctx())?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        if let Some((_, writer)) = &mut disk {
            writer.write(&batch)?;
            continue;
        }
        let size = batch.get_array_memory_size();
        if reservation.size() + size <= budget && reservation.try_grow(size).is_ok() {
            batches.push(batch);
            continue;
        }
        let file = ctx.runtime_env().disk_manager.create_tmp_file("shared stage")?;
        let path = file.path().ok_or_else(missing_path)?;
        let mut writer = FileWriter::try_new(BufWriter::new(File::create(path)?), &plan.schema())?;
        for buffered in batches.drain(..).chain(std::iter::once(batch)) {
            writer.write(&buffered)?;
        }
        reservation.free();
        disk = Some((file, writer));
    }
    let output = match disk {
        Some((file, mut writer)) => {
            writer.finish()?;
            SharedOutput::Disk(file)
        }
        None => SharedOutput::Memory { batches: Arc::new(batches), _reservation: reservation },
    };
    if let Ok(mut outputs) = results.outputs.lock() {
        outputs.insert(id, Arc::new(output));
    }
    Ok(rows)
}

/// The shared stages a plan reads, by id.
pub fn shared_inputs(plan: &Arc<dyn ExecutionPlan>) -> Vec<u32> {
    let mut ids = Vec::new();
    let _ = plan.apply(|node| {
        if let Some(shared) = node.as_ref().downcast_ref::<SharedStageExec>() {
            ids.push(shared.id);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    ids.sort_unstable();
    ids.dedup();
    ids
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

/// Reads the output of a shared stage computed earlier in the same run.
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
        let missing =
            || DataFusionError::Execution(format!("stage `{}` was not computed before its readers", self.stage));
        let results = context.session_config().get_extension::<SharedResults>().ok_or_else(missing)?;
        let output = results.get(self.id).ok_or_else(missing)?;
        let projection = self.projection.clone();
        let mut builder = RecordBatchReceiverStream::builder(self.schema(), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || {
            let send = |batch: Result<RecordBatch>| tx.blocking_send(batch).is_ok();
            match output.as_ref() {
                SharedOutput::Memory { batches, .. } => {
                    for batch in batches.iter() {
                        let batch = match &projection {
                            Some(columns) => batch.project(columns).map_err(Into::into),
                            None => Ok(batch.clone()),
                        };
                        if !send(batch) {
                            break; // the reader stopped early (a LIMIT, or the run was cancelled)
                        }
                    }
                }
                SharedOutput::Disk(file) => {
                    let path = file.path().ok_or_else(missing_path)?;
                    let reader = FileReader::try_new(BufReader::new(File::open(path)?), projection)?;
                    for batch in reader {
                        if !send(batch.map_err(Into::into)) {
                            break;
                        }
                    }
                }
            }
            Ok(())
        });
        Ok(builder.build())
    }
}

fn missing_path() -> DataFusionError {
    DataFusionError::Execution("the shared stage's spill file has no local path".into())
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

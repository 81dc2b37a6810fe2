//! Delta sources: [`DeltaSourceTable`] plans a scan of one pinned table version and
//! [`DeltaSourceExec`] carries it through a plan artifact.
//!
//! The node holds the table's URL, the version, and the projection, filters and limit the
//! query pushed down. When it runs it opens that version (in the running process, through
//! its stores) and lets `deltalake` plan the scan: partition values, column mapping and
//! deletion vectors are its business, and the filters skip files by partition values
//! and statistics there again, as they did when the plan was made.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, ReplaceChildrenOptions,
};
use datafusion_proto::bytes::Serializeable;
use deltalake_core::DeltaTable;
use deltalake_core::delta_datafusion::DeltaScanNext;
use deltalake_core::logstore::LogStore;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;
use url::Url;

use super::table::{TablePoint, open_table};
use crate::artifact::layout::{NodeReader, put_bytes, put_projection, put_schema, put_text, put_u32, put_u64};
use crate::node_macros::leaf_node_methods;

/// The most filters one scan carries (each is decoded from the artifact).
const MAX_FILTERS: u32 = 1024;

/// One version of a Delta table, as a DataFusion table.
#[derive(Debug)]
pub struct DeltaSourceTable {
    url: Url,
    version: u64,
    /// Data files in this version, for `explain`.
    table_files: usize,
    provider: DeltaScanNext,
}

impl DeltaSourceTable {
    /// The loaded version of `table`, planned with `session`'s settings.
    pub async fn new<S: Session + 'static>(table: &DeltaTable, session: Arc<S>) -> Result<Self> {
        let state = table.snapshot().map_err(|e| DataFusionError::External(Box::new(e)))?;
        let version = state.version();
        let table_files = state.log_data().num_files();
        let provider = provider_for(table, session).await?;
        let mut url = table.log_store().root_url().clone();
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(DeltaSourceTable { url, version, table_files, provider })
    }

    pub fn version(&self) -> u64 {
        self.version
    }
}

async fn provider_for<S: Session + 'static>(table: &DeltaTable, session: Arc<S>) -> Result<DeltaScanNext> {
    let state = table.snapshot().map_err(|e| DataFusionError::External(Box::new(e)))?;
    let snapshot = Arc::new(state.snapshot().clone());
    DeltaScanNext::builder()
        .with_log_store(table.log_store())
        .with_eager_snapshot(snapshot)
        .with_session(session)
        .build()
        .await
}

#[async_trait]
impl TableProvider for DeltaSourceTable {
    fn schema(&self) -> SchemaRef {
        self.provider.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.provider.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let planned = self.provider.scan(state, projection, filters, limit).await?;
        let statistics = StatisticsContext::new().compute(planned.as_ref(), &StatisticsArgs::new())?;
        let scan = DeltaScanSpec {
            url: self.url.clone(),
            version: self.version,
            projection: projection.cloned(),
            filters: filters.to_vec(),
            limit,
        };
        let shape = ScanShape {
            partitions: planned.output_partitioning().partition_count().max(1),
            files: files_read(&planned),
            table_files: self.table_files,
        };
        Ok(Arc::new(DeltaSourceExec::new(scan, planned.schema(), shape).with_statistics(statistics)))
    }
}

/// The data files a planned scan reads.
fn files_read(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let mut files = 0;
    let _ = plan.apply(|node| {
        if let Some(source) = node.as_ref().downcast_ref::<DataSourceExec>()
            && let Some(scan) = source.data_source().downcast_ref::<FileScanConfig>()
        {
            files += scan.file_groups.iter().map(|group| group.len()).sum::<usize>();
        }
        Ok(TreeNodeRecursion::Continue)
    });
    files
}

/// What a Delta scan reads: enough to plan it again where it runs.
#[derive(Debug, Clone)]
pub struct DeltaScanSpec {
    /// The table root, ending in `/`.
    pub url: Url,
    pub version: u64,
    pub projection: Option<Vec<usize>>,
    pub filters: Vec<Expr>,
    pub limit: Option<usize>,
}

/// How the scan looked when it was planned: its partitions, and for `explain` how many
/// of the version's files it kept.
#[derive(Debug, Clone, Copy)]
struct ScanShape {
    partitions: usize,
    files: usize,
    table_files: usize,
}

/// Reads one version of a Delta table; see the module documentation.
#[derive(Debug)]
pub struct DeltaSourceExec {
    scan: DeltaScanSpec,
    shape: ScanShape,
    properties: Arc<PlanProperties>,
    statistics: Arc<Statistics>,
    /// The scan `deltalake` plans where this node runs, once for all partitions.
    planned: Arc<OnceCell<Arc<dyn ExecutionPlan>>>,
}

impl DeltaSourceExec {
    fn new(scan: DeltaScanSpec, schema: SchemaRef, shape: ScanShape) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(shape.partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        DeltaSourceExec {
            scan,
            shape,
            properties: Arc::new(properties),
            statistics: Arc::new(Statistics::new_unknown(&schema)),
            planned: Arc::new(OnceCell::new()),
        }
    }

    fn with_statistics(mut self, statistics: Arc<Statistics>) -> Self {
        self.statistics = statistics;
        self
    }

    /// What the node reads.
    pub fn scan(&self) -> &DeltaScanSpec {
        &self.scan
    }

    /// The first bytes of the node in an artifact.
    pub(crate) const TAG: &'static [u8] = b"AQD1";

    /// `AQD1`, URL, version, projection, limit (`u64::MAX` for none), partitions, files
    /// read, files in the version, the filters (count, then each as datafusion-proto
    /// bytes), then the output schema ([`crate::artifact::layout`]).
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(Self::TAG);
        put_text(buf, self.scan.url.as_str());
        put_u64(buf, self.scan.version);
        put_projection(buf, self.scan.projection.as_ref());
        put_u64(buf, self.scan.limit.map_or(u64::MAX, |l| l as u64));
        put_u64(buf, self.shape.partitions as u64);
        put_u64(buf, self.shape.files as u64);
        put_u64(buf, self.shape.table_files as u64);
        put_u32(buf, self.scan.filters.len() as u32);
        for filter in &self.scan.filters {
            put_bytes(buf, &filter.to_bytes()?);
        }
        put_schema(buf, &self.schema())
    }

    pub(crate) fn decode(buf: &[u8], ctx: &TaskContext) -> Result<Self> {
        let mut reader = NodeReader::new(buf, b"AQD1", "Delta scan")?;
        let bad = |what: &str| DataFusionError::Internal(format!("malformed Delta scan node: {what}"));
        let url = Url::parse(&reader.text()?).map_err(|_| bad("its URL"))?;
        let version = reader.u64()?;
        let projection = reader.projection()?;
        let limit = match reader.u64()? {
            u64::MAX => None,
            limit => Some(usize::try_from(limit).map_err(|_| bad("its limit"))?),
        };
        let count = |n: u64| usize::try_from(n).map_err(|_| bad("its sizes"));
        let partitions = count(reader.u64()?)?;
        if partitions == 0 || partitions > 4096 {
            return Err(bad("its partition count"));
        }
        let files = count(reader.u64()?)?;
        let table_files = count(reader.u64()?)?;
        let filter_count = reader.u32()?;
        if filter_count > MAX_FILTERS {
            return Err(bad("its filters"));
        }
        let mut filters = Vec::with_capacity(filter_count as usize);
        for _ in 0..filter_count {
            filters.push(Expr::from_bytes_with_ctx(reader.bytes()?, ctx)?);
        }
        let schema = reader.schema()?;
        let scan = DeltaScanSpec { url, version, projection, filters, limit };
        Ok(DeltaSourceExec::new(scan, schema, ScanShape { partitions, files, table_files }))
    }
}

/// Plans the scan of `scan` where it runs: opens the version and asks `deltalake`.
async fn plan_scan(scan: &DeltaScanSpec, context: &TaskContext) -> Result<Arc<dyn ExecutionPlan>> {
    let env = context.runtime_env();
    let table = open_table(&scan.url, &env, TablePoint::Version(scan.version))
        .await
        .map_err(|e| DataFusionError::Execution(e.to_string()))?;
    let state = SessionStateBuilder::new()
        .with_config(context.session_config().clone())
        .with_runtime_env(env)
        .with_default_features()
        .build();
    let state = Arc::new(state);
    let provider = provider_for(&table, state.clone()).await?;
    let planned = provider.scan(state.as_ref(), scan.projection.as_ref(), &scan.filters, scan.limit).await?;
    files_inside(&planned, &scan.url)?;
    Ok(planned)
}

/// Refuses a scan of files outside the table: a log may name data files by absolute
/// URLs, and what the allow-list judged is the table's location.
fn files_inside(plan: &Arc<dyn ExecutionPlan>, table: &Url) -> Result<()> {
    let store = super::table::object_store_url(table).map_err(|e| DataFusionError::Execution(e.to_string()))?;
    let root = object_store::path::Path::from_url_path(table.path())
        .map_err(|_| DataFusionError::Execution(format!("`{table}` is not a table location")))?;
    let mut outside = None;
    let _ = plan.apply(|node| {
        if let Some(source) = node.as_ref().downcast_ref::<DataSourceExec>()
            && let Some(config) = source.data_source().downcast_ref::<FileScanConfig>()
        {
            let files = config.file_groups.iter().flat_map(|group| group.iter());
            let foreign = |location: &object_store::path::Path| location.prefix_match(&root).is_none();
            if config.object_store_url != store {
                outside = Some(config.object_store_url.as_str().to_string());
            } else if let Some(file) = files.map(|f| &f.object_meta.location).find(|l| foreign(l)) {
                outside = Some(file.to_string());
            }
        }
        Ok(if outside.is_some() { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    });
    match outside {
        Some(file) => Err(DataFusionError::Execution(format!(
            "the log of the Delta table at `{table}` names a data file outside the table (`{file}`); it is not read"
        ))),
        None => Ok(()),
    }
}

impl DisplayAs for DeltaSourceExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let DeltaScanSpec { url, version, filters, limit, .. } = &self.scan;
        let ScanShape { files, table_files, .. } = self.shape;
        write!(f, "DeltaSourceExec: table={url}, version={version}, files={files} of {table_files}")?;
        if !filters.is_empty() {
            let shown: Vec<String> = filters.iter().map(|e| e.to_string()).collect();
            write!(f, ", filters=[{}]", shown.join(", "))?;
        }
        if let Some(limit) = limit {
            write!(f, ", limit={limit}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for DeltaSourceExec {
    fn name(&self) -> &'static str {
        "DeltaSourceExec"
    }

    leaf_node_methods!();

    fn statistics_from_inputs(&self, _: &[Arc<Statistics>], _: &StatisticsArgs) -> Result<Arc<Statistics>> {
        Ok(self.statistics.clone())
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let (planned, scan, step) = (self.planned.clone(), self.scan.clone(), self.shape.partitions);
        let schema = self.schema();
        let expected = schema.clone();
        let streams = futures::stream::once(async move {
            // delta-rs asserts on some malformed logs: a panic is this scan's error.
            let planning = || async {
                let guarded = std::panic::AssertUnwindSafe(plan_scan(&scan, &context));
                futures::FutureExt::catch_unwind(guarded).await.unwrap_or_else(|_| {
                    Err(DataFusionError::Execution(format!(
                        "the Delta library failed while reading the log of `{}`",
                        scan.url
                    )))
                })
            };
            let plan = planned.get_or_try_init(planning).await?.clone();
            // The batches must be what the plan above this node was made for.
            let columns = |s: &datafusion::arrow::datatypes::Schema| -> Vec<(String, DataType)> {
                s.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect()
            };
            if columns(&plan.schema()) != columns(&expected) {
                return Err(DataFusionError::Execution(format!(
                    "version {} of the Delta table at `{}` does not read as the plan expects (its columns differ)",
                    scan.version, scan.url
                )));
            }
            // This node's partition `p` reads the planned scan's partitions `p`, `p + n`,
            // ...: all of them, whatever count the running process plans.
            let count = plan.output_partitioning().partition_count();
            let parts = (partition..count).step_by(step).map(|p| plan.execute(p, context.clone()));
            let parts = parts.collect::<Result<Vec<_>>>()?;
            Ok::<_, DataFusionError>(futures::stream::iter(parts).flatten())
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, streams)))
    }
}

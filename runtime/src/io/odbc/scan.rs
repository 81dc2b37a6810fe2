//! ODBC sources: a query run on a database through arrow-odbc, streamed in batches.
//!
//! [`OdbcScanExec`] is our own plan node. It carries the connection string as written in
//! the spec (so `{{ env("...") }}` secrets stay references, see [`crate::access::secrets`])
//! and the query; the process that runs the plan resolves the secrets, connects and
//! fetches on a blocking thread, never on the async workers. Each batch in flight is
//! accounted in the memory pool. [`crate::artifact::AqueductsCodec`] stores the node in
//! artifacts.

use std::fmt;
use std::sync::Arc;

use arrow_odbc::OdbcReaderBuilder;
use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, project_schema};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};

use super::connection::{ConnectionString, MAX_TEXT_BYTES, OdbcError, connect_for_reading, driver_message, readable};
use crate::artifact::layout::{NodeReader, put_projection, put_schema, put_text};
use crate::node_macros::leaf_node_methods;

/// How much one fetch buffer may hold; rows per batch follow from the row size.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
const MAX_BATCH_ROWS: usize = 8192;

/// The message for a read that failed, naming the column when a value did not fit.
fn read_error(error: ArrowError, schema: &Schema) -> OdbcError {
    if let ArrowError::ExternalError(inner) = &error
        && let Some(arrow_odbc::odbc_api::Error::TooLargeValueForBuffer { indicator, buffer_index }) =
            inner.downcast_ref::<arrow_odbc::odbc_api::Error>()
    {
        let column = schema.fields().get(*buffer_index).map_or("?", |f| f.name().as_str());
        let size = indicator.map_or("a value".to_string(), |bytes| format!("a value of {bytes} bytes"));
        return OdbcError::Read(format!(
            "column `{column}` holds {size}, more than its read buffer (the size the driver reports \
             for the column, at most {} MiB); shorten it in the query (for example `left({column}, 100000)`)",
            MAX_TEXT_BYTES / (1024 * 1024)
        ));
    }
    OdbcError::Read(driver_message(error))
}

/// A query on a database, as a table.
#[derive(Debug)]
pub struct OdbcTable {
    connection_string: ConnectionString,
    query: String,
    schema: SchemaRef,
}

impl OdbcTable {
    pub fn new(connection_string: ConnectionString, query: String, schema: SchemaRef) -> Self {
        OdbcTable { connection_string, query, schema: Arc::new(readable(&schema)) }
    }
}

#[async_trait]
impl TableProvider for OdbcTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node = OdbcScanExec::new(
            self.connection_string.clone(),
            self.query.clone(),
            self.schema.clone(),
            projection.cloned(),
        )?;
        Ok(Arc::new(node))
    }
}

/// Runs a query through ODBC and streams its result.
#[derive(Debug)]
pub struct OdbcScanExec {
    connection_string: ConnectionString,
    query: String,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl OdbcScanExec {
    pub fn new(
        connection_string: ConnectionString,
        query: String,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
    ) -> Result<Self> {
        let projected = project_schema(&schema, projection.as_ref())?;
        let properties = PlanProperties::new(
            EquivalenceProperties::new(projected),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(OdbcScanExec { connection_string, query, schema, projection, properties: Arc::new(properties) })
    }

    /// The first bytes of the node in an artifact.
    pub(crate) const TAG: &'static [u8] = b"AQO1";

    /// The connection string, as written in the spec.
    pub fn connection_string(&self) -> &ConnectionString {
        &self.connection_string
    }

    /// `AQO1`, connection string, query, projection, then the schema ([`crate::artifact::layout`]).
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(Self::TAG);
        put_text(buf, self.connection_string.as_written());
        put_text(buf, &self.query);
        put_projection(buf, self.projection.as_ref());
        put_schema(buf, &self.schema)
    }

    pub(crate) fn decode(buf: &[u8]) -> Result<Self> {
        let mut reader = NodeReader::new(buf, b"AQO1", "ODBC scan")?;
        let connection_string = ConnectionString::new(reader.text()?);
        let query = reader.text()?;
        let projection = reader.projection()?;
        OdbcScanExec::new(connection_string, query, reader.schema()?, projection)
    }
}

impl DisplayAs for OdbcScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        // Passwords written into the connection string are masked; `env()` secrets show
        // as the references they are.
        let connection = &self.connection_string;
        let query = self.query.split_whitespace().collect::<Vec<_>>().join(" ");
        write!(f, "OdbcScanExec: connection={connection}, query={query}")
    }
}

impl ExecutionPlan for OdbcScanExec {
    fn name(&self) -> &'static str {
        "OdbcScanExec"
    }

    leaf_node_methods!();

    fn execute(&self, _partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let (connection_string, query) = (self.connection_string.clone(), self.query.clone());
        let (schema, projection) = (self.schema.clone(), self.projection.clone());
        let reservation = MemoryConsumer::new("OdbcScanExec").register(context.memory_pool());
        let mut builder = RecordBatchReceiverStream::builder(self.schema(), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || {
            let connection = connect_for_reading(connection_string.as_written())?;
            let cursor = connection
                .execute(&query, (), None)
                .map_err(|e| OdbcError::Query(driver_message(e)))?
                .ok_or_else(|| OdbcError::Query("the query returned no result set".into()))?;
            let reader = OdbcReaderBuilder::new()
                .with_schema(schema.clone())
                .with_max_text_size(MAX_TEXT_BYTES)
                .with_max_binary_size(MAX_TEXT_BYTES)
                .with_max_bytes_per_batch(MAX_BATCH_BYTES)
                .with_max_num_rows_per_batch(MAX_BATCH_ROWS)
                .with_fallibale_allocations(true)
                .build(cursor)
                .map_err(|e| OdbcError::Read(driver_message(e)))?;
            for batch in reader {
                let batch: RecordBatch = batch.map_err(|e| read_error(e, &schema))?;
                let batch = match &projection {
                    Some(columns) => batch.project(columns)?,
                    None => batch,
                };
                // The batch just read counts against the pool until the next one is read.
                reservation.try_resize(batch.get_array_memory_size())?;
                if tx.blocking_send(Ok(batch)).is_err() {
                    break; // the consumer stopped (a LIMIT, or the run was cancelled)
                }
            }
            reservation.free();
            Ok(())
        });
        Ok(builder.build())
    }
}

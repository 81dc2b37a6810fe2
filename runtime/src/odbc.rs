//! ODBC sources: a query run on a database through arrow-odbc, streamed in batches.
//!
//! [`OdbcScanExec`] is our own plan node. It carries the connection string as written in
//! the spec (so `{{ env("...") }}` secrets stay references, see [`crate::secrets`]) and
//! the query; the process that runs the plan resolves the secrets, connects and fetches
//! on a blocking thread, never on the async workers. Each batch in flight is accounted
//! in the memory pool. [`crate::shared::AqueductsCodec`] stores the node in artifacts.

use std::fmt;
use std::sync::{Arc, OnceLock};

use arrow_odbc::odbc_api::{ConnectionOptions, DataType as OdbcDataType, Environment, ResultSetMetadata};
use arrow_odbc::{OdbcReaderBuilder, arrow_schema_from};
use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, project_schema};
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

use crate::node_codec::{
    NodeReader, leaf_node_methods, put_projection, put_schema, put_text, single_input_node_methods,
};
use crate::secrets;

/// The largest text or binary value of a column without a length (`TEXT`, `VARCHAR`).
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// How much one fetch buffer may hold; rows per batch follow from the row size.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
const MAX_BATCH_ROWS: usize = 8192;
/// The most rows one insert round trip binds (`batch_size` is clamped to it: it sizes
/// buffers, and comes from the artifact).
const MAX_INSERT_BATCH_ROWS: usize = 100_000;

/// The process-wide ODBC environment (unixODBC allows one per process).
pub fn environment() -> Result<&'static Environment, String> {
    static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| Environment::new().map_err(|e| format!("cannot set up ODBC: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

/// Why a database could not be reached or queried. Messages never contain the connection
/// string (it may hold a password); they carry the driver's own words.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OdbcError {
    #[error("{0}")]
    Secret(#[from] secrets::MissingSecret),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("the database rejected the query: {0}")]
    Query(String),
    #[error("cannot read the result: {0}")]
    Read(String),
}

impl From<OdbcError> for DataFusionError {
    fn from(error: OdbcError) -> Self {
        DataFusionError::External(Box::new(error))
    }
}

/// The driver's diagnostic: its own message where ODBC's wrapping names one.
fn driver_message(error: impl fmt::Display) -> String {
    let text = error.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    match text.split_once("Message: ") {
        Some((_, message)) => message.split("; No query has been executed").next().unwrap_or(message).to_string(),
        None => text,
    }
}

fn connect(connection_string: &str) -> Result<arrow_odbc::odbc_api::Connection<'static>, OdbcError> {
    let resolved = secrets::resolve(connection_string)?;
    let environment = environment().map_err(OdbcError::Connect)?;
    environment
        .connect_with_connection_string(&resolved, ConnectionOptions::default())
        .map_err(|e| OdbcError::Connect(driver_message(e)))
}

/// A connection for reading query results. psqlodbc reports `text` and unbounded
/// `varchar` columns with its `MaxLongVarcharSize` (8190 bytes) and fails on longer
/// values; with `UnknownSizes=2` it reports the longest value of the result instead, so
/// they are read whole (up to [`MAX_TEXT_BYTES`]). A connection string that sets either
/// option keeps its choice.
fn connect_for_reading(connection_string: &str) -> Result<arrow_odbc::odbc_api::Connection<'static>, OdbcError> {
    let connection = connect(connection_string)?;
    let lowered = connection_string.to_ascii_lowercase();
    let sizes_chosen = lowered.contains("unknownsizes") || lowered.contains("maxlongvarcharsize");
    let is_postgres = connection.database_management_system_name().is_ok_and(|name| name == "PostgreSQL");
    if !is_postgres || sizes_chosen {
        return Ok(connection);
    }
    drop(connection);
    let separator = if connection_string.trim_end().ends_with(';') { "" } else { ";" };
    connect(&format!("{connection_string}{separator}UnknownSizes=2;"))
}

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

/// The Arrow schema of a query's result, asked of the database (prepared and described,
/// not run). Blocking.
pub fn describe(connection_string: &str, query: &str) -> Result<SchemaRef, OdbcError> {
    let connection = connect_for_reading(connection_string)?;
    let mut prepared = connection.prepare(query).map_err(|e| OdbcError::Query(driver_message(e)))?;
    let schema = arrow_schema_from(&mut prepared, None, false).map_err(|e| OdbcError::Query(driver_message(e)))?;
    // ODBC's FLOAT is double precision unless it says otherwise, but drivers report its
    // precision in decimal digits (PostgreSQL's float8 as 17), which reads as 32 bits.
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (index, field) in fields.iter_mut().enumerate() {
        let described = prepared.col_data_type(index as u16 + 1).map_err(|e| OdbcError::Query(driver_message(e)))?;
        if matches!(described, OdbcDataType::Float { .. }) {
            *field = field.clone().with_data_type(DataType::Float64);
        }
        // Timestamps without fractional seconds (MariaDB's DATETIME) are read with
        // millisecond precision: Parquet has no second unit, and other readers would see
        // the seconds written for them as plain integers.
        if let DataType::Timestamp(TimeUnit::Second, zone) = field.data_type() {
            *field = field.clone().with_data_type(DataType::Timestamp(TimeUnit::Millisecond, zone.clone()));
        }
    }
    Ok(Arc::new(readable(&Schema::new(fields))))
}

/// Describes ODBC queries for a compiler: on this machine ([`LocalDescriber`]) or on
/// the executor that will run the plan (the CLI's remote describer).
pub trait Describer: fmt::Debug + Send + Sync {
    fn describe(
        &self,
        connection_string: String,
        query: String,
    ) -> futures::future::BoxFuture<'static, Result<SchemaRef, OdbcError>>;
}

/// Describes queries from this process, on a blocking thread.
#[derive(Debug, Default)]
pub struct LocalDescriber;

impl Describer for LocalDescriber {
    fn describe(
        &self,
        connection_string: String,
        query: String,
    ) -> futures::future::BoxFuture<'static, Result<SchemaRef, OdbcError>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || describe(&connection_string, &query))
                .await
                .unwrap_or_else(|e| Err(OdbcError::Read(format!("describing the query failed: {e}"))))
        })
    }
}

/// A described schema as protocol columns, and back.
pub fn schema_to_columns(schema: &Schema) -> Vec<crate::protocol::DescribedColumn> {
    schema
        .fields()
        .iter()
        .map(|f| crate::protocol::DescribedColumn {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
        })
        .collect()
}

pub fn columns_to_schema(columns: &[crate::protocol::DescribedColumn]) -> Result<SchemaRef, OdbcError> {
    let mut fields = Vec::with_capacity(columns.len());
    for column in columns {
        let data_type: DataType = column.data_type.parse().map_err(|e| {
            OdbcError::Read(format!("the executor described column `{}` with an unknown type: {e}", column.name))
        })?;
        fields.push(Field::new(column.name.clone(), data_type, column.nullable));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// The schema with types arrow-odbc reads: string and binary views become plain strings
/// and binaries.
fn readable(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let data_type = match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
                other => other.clone(),
            };
            f.as_ref().clone().with_data_type(data_type)
        })
        .collect();
    Schema::new(fields)
}

/// A connection string as written in the spec (secrets as references). It is shown,
/// debug-printed included, only with passwords masked.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ConnectionString(String);

impl ConnectionString {
    pub fn new(text: impl Into<String>) -> Self {
        ConnectionString(text.into())
    }

    /// The text to connect with (secret references still to be resolved).
    fn as_written(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&secrets::display(&secrets::mask_passwords(&self.0)))
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}", self = self.to_string())
    }
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

    /// `AQO1`, connection string, query, projection, then the schema ([`crate::node_codec`]).
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(b"AQO1");
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

    pub(crate) fn is_encoded(buf: &[u8]) -> bool {
        buf.starts_with(b"AQO1")
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

/// Sends the count of rows written as the write's one output batch.
fn report_rows(rows: u64, schema: SchemaRef, tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>) -> Result<()> {
    let count = datafusion::arrow::array::UInt64Array::from(vec![rows]);
    let batch = RecordBatch::try_new(schema, vec![Arc::new(count)])?;
    let _ = tx.blocking_send(Ok(batch));
    Ok(())
}

/// How an ODBC destination inserts its rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum WriteMode {
    /// `INSERT INTO table (columns) VALUES (?, ...)` in batches.
    Append,
    /// `pre_insert` once, then the given parameterised insert (one `?` per column).
    Custom { pre_insert: Option<String>, insert: String },
}

/// What an [`OdbcWriteExec`] needs besides its input, as stored in artifacts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriteTarget {
    pub connection_string: ConnectionString,
    /// The table, as written in the spec (quoted when the statement is built).
    pub table: String,
    pub mode: WriteMode,
    pub batch_size: usize,
}

/// `schema.table` with each part in double quotes (quotes inside doubled); parts already
/// quoted are kept.
pub fn quote_table_name(table: &str, quote: char) -> String {
    table
        .split('.')
        .map(|part| {
            let part = part.trim();
            let already = part.len() >= 2 && part.starts_with(quote) && part.ends_with(quote);
            if already { part.to_string() } else { quote_identifier(part, quote) }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// One identifier in the database's quotes (`"` by the standard, `` ` `` for MySQL and
/// MariaDB), quotes inside doubled.
pub fn quote_identifier(name: &str, quote: char) -> String {
    let doubled: String = [quote, quote].iter().collect();
    format!("{quote}{}{quote}", name.replace(quote, &doubled))
}

/// Writes its input into a database table inside one transaction: everything is
/// committed at the end, or nothing (rolled back on any failure, including a cancel).
/// Returns one row with the `count` of rows written, like DataFusion's file sinks.
#[derive(Debug)]
pub struct OdbcWriteExec {
    input: Arc<dyn ExecutionPlan>,
    target: WriteTarget,
    properties: Arc<PlanProperties>,
}

impl OdbcWriteExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, target: WriteTarget) -> Self {
        let schema = Arc::new(Schema::new(vec![Field::new("count", DataType::UInt64, false)]));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        OdbcWriteExec { input, target, properties: Arc::new(properties) }
    }

    /// The table written, as the spec names it.
    pub fn table(&self) -> &str {
        &self.target.table
    }

    pub(crate) fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(b"AQW1");
        serde_json::to_writer(&mut *buf, &self.target).map_err(|e| DataFusionError::Internal(e.to_string()))
    }

    pub(crate) fn is_encoded(buf: &[u8]) -> bool {
        buf.starts_with(b"AQW1")
    }

    pub(crate) fn decode(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Result<Self> {
        let bad = || DataFusionError::Internal("malformed ODBC write node".into());
        let target: WriteTarget = serde_json::from_slice(buf.get(4..).ok_or_else(bad)?).map_err(|_| bad())?;
        let input = inputs.first().cloned().ok_or_else(bad)?;
        Ok(OdbcWriteExec::new(input, target))
    }
}

impl DisplayAs for OdbcWriteExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let connection = &self.target.connection_string;
        let mode = match &self.target.mode {
            WriteMode::Append => "append",
            WriteMode::Custom { .. } => "custom",
        };
        write!(f, "OdbcWriteExec: table={}, mode={mode}, connection={connection}", self.target.table)
    }
}

/// Strings and binaries as arrow-odbc writes them (no views, no large offsets).
fn writable(batch: RecordBatch) -> Result<RecordBatch> {
    let needs_cast = batch.schema().fields().iter().any(|f| {
        matches!(f.data_type(), DataType::Utf8View | DataType::LargeUtf8 | DataType::BinaryView | DataType::LargeBinary)
    });
    if !needs_cast {
        return Ok(batch);
    }
    let schema = Arc::new(readable(&batch.schema()));
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| datafusion::arrow::compute::cast(column, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// What the async side hands the writer: batches, then `None` at the end of the input.
/// A channel that closes without the `None` means the run was stopped.
type Feed = tokio::sync::mpsc::Receiver<Result<Option<RecordBatch>>>;

/// Inserts every batch from `batches` in one transaction; returns the rows written.
/// Inserts every batch from `batches` in one transaction, and returns the rows written
/// with the connection whose transaction is still open (the caller commits it).
fn write_all(
    target: &WriteTarget,
    schema: &Schema,
    mut batches: Feed,
    stopped: impl Fn() -> bool,
) -> Result<(u64, arrow_odbc::odbc_api::Connection<'static>)> {
    let connection = connect(target.connection_string.as_written())?;
    // The driver says how its database quotes names; `"` when it does not.
    let quote = connection.identifier_quote_char().ok().flatten().filter(|c| !c.is_whitespace()).unwrap_or('"');
    let table = quote_table_name(&target.table, quote);
    // The table must exist and hold every column before anything is written.
    let mut probe = connection
        .prepare(&format!("SELECT * FROM {table} WHERE 1 = 0"))
        .map_err(|e| OdbcError::Query(format!("cannot write to table {table}: {}", driver_message(e))))?;
    let unwritable = |e| OdbcError::Query(format!("cannot write to table {table}: {}", driver_message(e)));
    let existing: Vec<String> =
        probe.column_names().map_err(unwritable)?.collect::<std::result::Result<_, _>>().map_err(unwritable)?;
    if target.mode == WriteMode::Append {
        let missing: Vec<&str> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|name| !existing.iter().any(|e| e.eq_ignore_ascii_case(name)))
            .collect();
        if !missing.is_empty() {
            return Err(OdbcError::Query(format!(
                "table {table} has no column {} (it has {})",
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
                existing.join(", ")
            ))
            .into());
        }
    }
    drop(probe);
    connection.set_autocommit(false).map_err(|e| OdbcError::Connect(driver_message(e)))?;
    let written = (|| -> Result<u64> {
        let writer_schema = readable(schema);
        let statement = match &target.mode {
            WriteMode::Append => {
                let columns: Vec<String> =
                    writer_schema.fields().iter().map(|f| quote_identifier(f.name(), quote)).collect();
                let markers = vec!["?"; columns.len()].join(", ");
                format!("INSERT INTO {table} ({}) VALUES ({markers})", columns.join(", "))
            }
            WriteMode::Custom { pre_insert, insert } => {
                if let Some(pre) = pre_insert.as_deref().filter(|p| !p.trim().is_empty()) {
                    connection
                        .execute(pre, (), None)
                        .map_err(|e| OdbcError::Query(format!("pre_insert failed: {}", driver_message(e))))?;
                }
                insert.clone()
            }
        };
        let prepared = connection
            .prepare(&statement)
            .map_err(|e| OdbcError::Query(format!("cannot prepare the insert: {}", driver_message(e))))?;
        let mut writer =
            arrow_odbc::OdbcWriter::new(target.batch_size.clamp(1, MAX_INSERT_BATCH_ROWS), &writer_schema, prepared)
                .map_err(|e| OdbcError::Query(driver_message(e)))?;
        let mut rows = 0u64;
        loop {
            let batch = match batches.blocking_recv() {
                Some(Ok(Some(batch))) => writable(batch)?,
                Some(Ok(None)) => break,
                Some(Err(error)) => return Err(error),
                None => return Err(DataFusionError::Execution("the run was stopped; nothing was written".into())),
            };
            rows += batch.num_rows() as u64;
            writer
                .write_batch(&batch)
                .map_err(|e| OdbcError::Query(format!("insert failed: {}", driver_message(e))))?;
        }
        writer.flush().map_err(|e| OdbcError::Query(format!("insert failed: {}", driver_message(e))))?;
        Ok(rows)
    })();
    match written {
        // The run may have been stopped after the input ended: then nothing is kept.
        Ok(_) if stopped() => {
            let _ = connection.rollback();
            Err(DataFusionError::Execution("the run was stopped; nothing was written".into()))
        }
        Ok(rows) => Ok((rows, connection)),
        Err(error) => {
            let _ = connection.rollback();
            Err(error)
        }
    }
}

fn commit(connection: &arrow_odbc::odbc_api::Connection<'static>) -> std::result::Result<(), String> {
    connection.commit().map_err(|e| format!("commit failed: {}", driver_message(e)))
}

/// What a held transaction is told: commit (`true`) or roll back, and where to answer.
type Decision = (bool, tokio::sync::oneshot::Sender<std::result::Result<(), String>>);

/// Database writes whose rows are all inserted, waiting for the whole run to succeed
/// before they commit. A session holds one registry (a config extension); without it
/// a write commits as soon as its rows are in.
#[derive(Debug, Default)]
pub struct HeldTransactions {
    held: std::sync::Mutex<Vec<HeldTransaction>>,
}

impl HeldTransactions {
    fn hold(&self, transaction: HeldTransaction) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).push(transaction);
    }

    /// Every transaction held so far.
    pub fn take(&self) -> Vec<HeldTransaction> {
        std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// One database write, inserted and not committed. Dropping it rolls it back.
#[derive(Debug)]
pub struct HeldTransaction {
    pub table: String,
    decide: std::sync::mpsc::Sender<Decision>,
}

impl HeldTransaction {
    pub async fn commit(self) -> std::result::Result<(), String> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.decide
            .send((true, answer))
            .map_err(|_| "the database connection was lost before the commit".to_string())?;
        answered.await.map_err(|_| "the database connection was lost during the commit".to_string())?
    }

    pub fn roll_back(self) {
        let (answer, _) = tokio::sync::oneshot::channel();
        let _ = self.decide.send((false, answer));
    }
}

impl ExecutionPlan for OdbcWriteExec {
    fn name(&self) -> &'static str {
        "OdbcWriteExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    single_input_node_methods!(|write, input| OdbcWriteExec::new(input, write.target.clone()));

    fn execute(&self, _partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let registry = context.session_config().get_extension::<HeldTransactions>();
        let input = datafusion::physical_plan::execute_stream(self.input.clone(), context)?;
        let (target, schema) = (self.target.clone(), self.input.schema());
        let out_schema = self.schema();
        let mut builder = RecordBatchReceiverStream::builder(out_schema.clone(), 1);
        let tx = builder.tx();
        let (batches_tx, batches_rx) = tokio::sync::mpsc::channel(2);
        // The async side feeds the blocking writer; dropping the run drops both, and the
        // writer rolls back (its channel closes before the end of the input).
        builder.spawn(async move {
            use futures::StreamExt;
            let mut input = input;
            while let Some(batch) = input.next().await {
                let failed = batch.is_err();
                if batches_tx.send(batch.map(Some)).await.is_err() || failed {
                    return Ok(());
                }
            }
            let _ = batches_tx.send(Ok(None)).await;
            Ok(())
        });
        builder.spawn_blocking(move || {
            let (rows, connection) = write_all(&target, &schema, batches_rx, || tx.is_closed())?;
            let Some(registry) = registry else {
                commit(&connection).map_err(OdbcError::Query)?;
                return report_rows(rows, out_schema, &tx);
            };
            // Held open until the run decides: commit when every stage succeeded, roll
            // back otherwise (or when the run is dropped and the decision never comes).
            // The wait is a thread of its own: the stream ends only when all of its
            // tasks have, and the decision comes after the stream ended.
            let (decide, decision) = std::sync::mpsc::channel::<Decision>();
            registry.hold(HeldTransaction { table: target.table.clone(), decide });
            std::thread::spawn(move || match decision.recv() {
                Ok((true, answer)) => {
                    let _ = answer.send(commit(&connection));
                }
                Ok((false, _)) | Err(_) => {
                    let _ = connection.rollback();
                }
            });
            report_rows(rows, out_schema, &tx)
        });
        Ok(builder.build())
    }
}

/// Where Linux distributions put ODBC driver libraries that `odbcinst.ini` names
/// without a directory (Debian's packages do, relying on their own driver manager's
/// search path, which the driver manager built into Aqueducts does not share).
const DRIVER_DIRECTORIES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/odbc",
    "/usr/lib/aarch64-linux-gnu/odbc",
    "/usr/lib64",
    "/usr/lib/odbc",
    "/usr/local/lib",
    "/usr/lib",
];

/// Makes driver names from the system's `odbcinst.ini` loadable: unless `ODBCSYSINI` is
/// set already, copies `/etc/odbcinst.ini` and `/etc/odbc.ini` to a private directory
/// with every driver library given by its full path, and points `ODBCSYSINI` there.
///
/// Changes the process environment, so it must run before any other thread starts:
/// the binaries call it first thing in `main`.
pub fn prepare_driver_config() {
    if std::env::var_os("ODBCSYSINI").is_some() {
        return;
    }
    let Ok(odbcinst) = std::fs::read_to_string("/etc/odbcinst.ini") else { return };
    let resolved: Vec<String> = odbcinst
        .lines()
        .map(|line| {
            let Some((key, value)) = line.split_once('=') else { return line.to_string() };
            let (key_name, library) = (key.trim(), value.trim());
            let is_library = key_name.eq_ignore_ascii_case("driver") || key_name.eq_ignore_ascii_case("setup");
            if !is_library || library.is_empty() || library.starts_with('/') {
                return line.to_string();
            }
            match DRIVER_DIRECTORIES.iter().map(|d| std::path::Path::new(d).join(library)).find(|p| p.exists()) {
                Some(path) => format!("{key_name}={}", path.display()),
                None => line.to_string(),
            }
        })
        .collect();
    let odbcinst = resolved.join("\n") + "\n";
    let dsns = std::fs::read("/etc/odbc.ini").unwrap_or_default();
    // Named by content, so every process with the same configuration shares one copy.
    let digest = <sha2::Sha256 as sha2::Digest>::digest([odbcinst.as_bytes(), &dsns].concat());
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("aqueducts-odbc-{name}"));
    let written = if dir.join("odbcinst.ini").exists() {
        Ok(())
    } else {
        // Written beside, then renamed into place: a concurrent process never sees half.
        let partial = std::env::temp_dir().join(format!("aqueducts-odbc-{name}.{}", std::process::id()));
        std::fs::create_dir_all(&partial)
            .and_then(|()| std::fs::write(partial.join("odbc.ini"), &dsns))
            .and_then(|()| std::fs::write(partial.join("odbcinst.ini"), &odbcinst))
            .and_then(|()| match std::fs::rename(&partial, &dir) {
                Err(_) if dir.join("odbcinst.ini").exists() => std::fs::remove_dir_all(&partial),
                other => other,
            })
    };
    if written.is_ok() {
        // SAFETY: called at the start of `main`, before any other thread exists.
        unsafe { std::env::set_var("ODBCSYSINI", &dir) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_the_way_the_database_quotes() {
        assert_eq!(quote_table_name("public.daily", '"'), "\"public\".\"daily\"");
        assert_eq!(quote_table_name("\"Mixed Case\".t", '"'), "\"Mixed Case\".\"t\"");
        assert_eq!(quote_table_name("db.order", '`'), "`db`.`order`");
        assert_eq!(quote_identifier("a`b", '`'), "`a``b`");
        assert_eq!(quote_identifier("say \"hi\"", '"'), "\"say \"\"hi\"\"\"");
    }
}

//! ODBC destinations: [`OdbcWriteExec`] inserts its input into a table in one
//! transaction, held open ([`super::transactions`]) until every stage succeeded.

use std::fmt;
use std::sync::Arc;

use arrow_odbc::odbc_api::ResultSetMetadata;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};

use super::connection::{ConnectionString, OdbcError, connect, driver_message, readable};
use super::transactions::{Decision, HeldTransaction, HeldTransactions, commit};
use crate::node_macros::{rows_written_properties, single_input_node_methods};

/// The most rows one insert round trip binds (`batch_size` is clamped to it: it sizes
/// buffers, and comes from the artifact).
const MAX_INSERT_BATCH_ROWS: usize = 100_000;

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
        OdbcWriteExec { input, target, properties: rows_written_properties() }
    }

    /// The table written, as the spec names it.
    pub fn table(&self) -> &str {
        &self.target.table
    }

    /// Where and how it writes.
    pub fn target(&self) -> &WriteTarget {
        &self.target
    }

    /// The first bytes of the node in an artifact.
    pub(crate) const TAG: &'static [u8] = b"AQW1";

    /// `AQW1`, then the [`WriteTarget`] as JSON.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(Self::TAG);
        serde_json::to_writer(&mut *buf, &self.target).map_err(|e| DataFusionError::Internal(e.to_string()))
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

/// Inserts every batch from `batches` in one transaction, and returns the rows written
/// with the connection whose transaction is still open (the caller commits it).
fn write_all(
    target: &WriteTarget,
    schema: &Schema,
    batches: Feed,
    stopped: impl Fn() -> bool,
) -> Result<(u64, arrow_odbc::odbc_api::Connection<'static>)> {
    let connection = connect(target.connection_string.as_written())?;
    // The driver says how its database quotes names; `"` when it does not.
    let quote = connection.identifier_quote_char().ok().flatten().filter(|c| !c.is_whitespace()).unwrap_or('"');
    let table = quote_table_name(&target.table, quote);
    check_table(&connection, &table, target, schema)?;
    connection.set_autocommit(false).map_err(|e| OdbcError::Connect(driver_message(e)))?;
    let written = insert_batches(&connection, &table, quote, target, schema, batches);
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

/// The table must exist and, for appends, hold every column before anything is written.
fn check_table(
    connection: &arrow_odbc::odbc_api::Connection<'static>,
    table: &str,
    target: &WriteTarget,
    schema: &Schema,
) -> Result<()> {
    let mut probe = connection
        .prepare(&format!("SELECT * FROM {table} WHERE 1 = 0"))
        .map_err(|e| OdbcError::Query(format!("cannot write to table {table}: {}", driver_message(e))))?;
    let unwritable = |e| OdbcError::Query(format!("cannot write to table {table}: {}", driver_message(e)));
    let existing: Vec<String> =
        probe.column_names().map_err(unwritable)?.collect::<std::result::Result<_, _>>().map_err(unwritable)?;
    if target.mode != WriteMode::Append {
        return Ok(());
    }
    let missing: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|name| !existing.iter().any(|e| e.eq_ignore_ascii_case(name)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(OdbcError::Query(format!(
        "table {table} has no column {} (it has {})",
        missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
        existing.join(", ")
    ))
    .into())
}

/// The insert statement of the write mode; a custom mode's `pre_insert` runs first.
fn insert_statement(
    connection: &arrow_odbc::odbc_api::Connection<'static>,
    table: &str,
    quote: char,
    mode: &WriteMode,
    writer_schema: &Schema,
) -> Result<String> {
    match mode {
        WriteMode::Append => {
            let columns: Vec<String> =
                writer_schema.fields().iter().map(|f| quote_identifier(f.name(), quote)).collect();
            let markers = vec!["?"; columns.len()].join(", ");
            Ok(format!("INSERT INTO {table} ({}) VALUES ({markers})", columns.join(", ")))
        }
        WriteMode::Custom { pre_insert, insert } => {
            if let Some(pre) = pre_insert.as_deref().filter(|p| !p.trim().is_empty()) {
                connection
                    .execute(pre, (), None)
                    .map_err(|e| OdbcError::Query(format!("pre_insert failed: {}", driver_message(e))))?;
            }
            Ok(insert.clone())
        }
    }
}

/// Binds and inserts every batch of the feed, in the open transaction; the rows written.
fn insert_batches(
    connection: &arrow_odbc::odbc_api::Connection<'static>,
    table: &str,
    quote: char,
    target: &WriteTarget,
    schema: &Schema,
    mut batches: Feed,
) -> Result<u64> {
    let writer_schema = readable(schema);
    let statement = insert_statement(connection, table, quote, &target.mode, &writer_schema)?;
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
        writer.write_batch(&batch).map_err(|e| OdbcError::Query(format!("insert failed: {}", driver_message(e))))?;
    }
    writer.flush().map_err(|e| OdbcError::Query(format!("insert failed: {}", driver_message(e))))?;
    Ok(rows)
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
                commit(&connection)?;
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

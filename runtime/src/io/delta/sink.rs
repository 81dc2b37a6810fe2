//! Delta destinations: [`DeltaWriteExec`] stages the final stage's rows as a Parquet file
//! inside the table's directory (under `_aqueducts_staging/`, which Delta readers never
//! look at) while the run executes, and holds a [`HeldDeltaWrite`]. Only when every
//! stage succeeded does the run commit it: one `deltalake` operation over the staged
//! rows (a write, a `replace_where` write, or a merge) and so one Delta commit. A failed
//! or stopped run removes the staged file and leaves the table at its version.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::UInt64Array;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column, DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::Expr;
use datafusion::parquet::arrow::async_writer::AsyncArrowWriter;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use deltalake_core::delta_datafusion::planner::DeltaPlanner;
use deltalake_core::kernel::transaction::{CommitProperties, TransactionError};
use deltalake_core::operations::merge::MergeBuilder;
use deltalake_core::operations::write::{SchemaMode, WriteBuilder};
use deltalake_core::protocol::SaveMode;
use deltalake_core::{DeltaTable, DeltaTableError};
use futures::{FutureExt, StreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use url::Url;

use super::table::{DeltaOpenError, TablePoint, object_store_url, open_table};
use crate::node_macros::{rows_written_properties, single_input_node_methods};

/// The directory of a table where runs stage their rows.
pub const STAGING_DIRECTORY: &str = "_aqueducts_staging";

/// How the staged rows reach the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "snake_case")]
pub enum DeltaWriteMode {
    /// Added to the table's rows.
    Append,
    /// The table's rows are replaced by them.
    Overwrite,
    /// The rows matching every condition (`column = value`) are replaced by them; the
    /// rows written must match the conditions too.
    Replace { conditions: Vec<(String, String)> },
    /// Merged on the key columns: rows whose keys the table has update those rows, the
    /// others are inserted.
    Upsert { keys: Vec<String> },
}

/// What a [`DeltaWriteExec`] needs besides its input, as stored in artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaWriteTarget {
    /// The table root, ending in `/`.
    pub url: String,
    pub mode: DeltaWriteMode,
    /// For a table the run creates.
    pub partition_columns: Vec<String>,
    /// For a table the run creates (`delta.appendOnly`, ...).
    pub table_properties: BTreeMap<String, Option<String>>,
    /// Recorded in the commit.
    pub commit_metadata: BTreeMap<String, String>,
    /// New columns in the rows are added to the table (`schema_mode: merge`).
    pub merge_schema: bool,
}

impl DeltaWriteTarget {
    /// The table URL, parsed. Only a URL that is already in its parsed form is one: the
    /// allow-list judges the text, and parsing must not turn it into another place (tabs
    /// dropped, `\\` made `/`, `..` resolved).
    pub fn table_url(&self) -> Result<Url> {
        let refused = || DataFusionError::Execution(format!("`{}` is not a table URL", self.url));
        let url = Url::parse(&self.url).map_err(|_| refused())?;
        let plain = url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
        if url.as_str() != self.url || !plain || !url.path().ends_with('/') {
            return Err(refused());
        }
        Ok(url)
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            DeltaWriteMode::Append => "append",
            DeltaWriteMode::Overwrite => "overwrite",
            DeltaWriteMode::Replace { .. } => "replace",
            DeltaWriteMode::Upsert { .. } => "upsert",
        }
    }
}

/// Writes its input into a Delta table; see the module documentation.
#[derive(Debug)]
pub struct DeltaWriteExec {
    input: Arc<dyn ExecutionPlan>,
    target: DeltaWriteTarget,
    properties: Arc<PlanProperties>,
}

impl DeltaWriteExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, target: DeltaWriteTarget) -> Self {
        DeltaWriteExec { input, target, properties: rows_written_properties() }
    }

    pub fn target(&self) -> &DeltaWriteTarget {
        &self.target
    }

    /// The first bytes of the node in an artifact.
    pub(crate) const TAG: &'static [u8] = b"AQV1";

    /// `AQV1`, then the [`DeltaWriteTarget`] as JSON.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(Self::TAG);
        serde_json::to_writer(&mut *buf, &self.target).map_err(|e| DataFusionError::Internal(e.to_string()))
    }

    pub(crate) fn decode(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Result<Self> {
        let bad = || DataFusionError::Internal("malformed Delta write node".into());
        let target: DeltaWriteTarget = serde_json::from_slice(buf.get(4..).ok_or_else(bad)?).map_err(|_| bad())?;
        target.table_url()?;
        let input = inputs.first().cloned().ok_or_else(bad)?;
        Ok(DeltaWriteExec::new(input, target))
    }
}

impl DisplayAs for DeltaWriteExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let target = &self.target;
        write!(f, "DeltaWriteExec: table={}, mode={}", target.url, target.mode_name())?;
        match &target.mode {
            DeltaWriteMode::Replace { conditions } => {
                let shown: Vec<String> = conditions.iter().map(|(c, v)| format!("{c} = {v:?}")).collect();
                write!(f, ", where=[{}]", shown.join(", "))?;
            }
            DeltaWriteMode::Upsert { keys } => write!(f, ", keys=[{}]", keys.join(", "))?,
            DeltaWriteMode::Append | DeltaWriteMode::Overwrite => {}
        }
        if !target.partition_columns.is_empty() {
            write!(f, ", partition_columns=[{}]", target.partition_columns.join(", "))?;
        }
        if target.merge_schema {
            write!(f, ", schema_mode=merge")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for DeltaWriteExec {
    fn name(&self) -> &'static str {
        "DeltaWriteExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    single_input_node_methods!(|node: &DeltaWriteExec, input| DeltaWriteExec::new(input, node.target.clone()));

    fn execute(&self, _partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = datafusion::physical_plan::execute_stream(self.input.clone(), context.clone())?;
        let (target, out_schema) = (self.target.clone(), self.schema());
        let schema = out_schema.clone();
        let written = futures::stream::once(async move {
            let staged = stage_rows(&target, input, &context).await?;
            let rows = staged.rows;
            match context.session_config().get_extension::<HeldDeltaWrites>() {
                Some(registry) => registry.hold(staged),
                // Nobody to wait for: the write is the whole run.
                None => {
                    staged.commit().await.map_err(|e| DataFusionError::Execution(e.to_string()))?;
                }
            }
            let count = UInt64Array::from(vec![rows]);
            Ok(RecordBatch::try_new(schema, vec![Arc::new(count)])?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, written)))
    }
}

/// Streams `input` into one Parquet file in the table's staging directory.
async fn stage_rows(
    target: &DeltaWriteTarget,
    mut input: SendableRecordBatchStream,
    context: &TaskContext,
) -> Result<HeldDeltaWrite> {
    let url = target.table_url()?;
    let env = context.runtime_env();
    // The version the write starts from: the commit is checked against what other
    // writers committed since (an append against appends never conflicts).
    let base = match open_table(&url, &env, TablePoint::Latest).await {
        Ok(table) => Some(table),
        Err(DeltaOpenError::NotATable(_)) => None,
        Err(other) => return Err(DataFusionError::Execution(other.to_string())),
    };
    let key = object_store_url(&url).map_err(|e| DataFusionError::Execution(e.to_string()))?;
    let store = env.object_store(&key)?;
    let root = Path::from_url_path(url.path())
        .map_err(|_| DataFusionError::Execution(format!("`{url}` is not a table location")))?;
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let directory = root.join(STAGING_DIRECTORY).join(format!("{}-{nanos}", std::process::id()));
    let file = directory.clone().join("rows.parquet");
    // A run dropped while this writes (another stage failed, a stop) drops this future:
    // the guard removes what was written so far.
    let local = url.scheme() == "file";
    let mut guard = StagingGuard { store: store.clone(), directory: directory.clone(), local, armed: true };
    let mut staged = HeldDeltaWrite {
        target: target.clone(),
        store: store.clone(),
        directory,
        staged_file: file.clone(),
        staged_url: format!("{}{}", key.as_str(), file),
        rows: 0,
        state: commit_state(context),
        base,
    };
    let writing = async {
        let mut writer = AsyncArrowWriter::try_new(BufWriter::new(store, file), input.schema(), None)?;
        while let Some(batch) = input.next().await {
            let batch = batch?;
            staged.rows += batch.num_rows() as u64;
            writer.write(&batch).await?;
        }
        writer.close().await?;
        Ok::<_, DataFusionError>(())
    };
    match writing.await {
        Ok(()) => {
            // From here on the held write owns the staged rows.
            guard.armed = false;
            Ok(staged)
        }
        Err(error) => {
            staged.remove_staged().await;
            guard.armed = false;
            Err(error)
        }
    }
}

/// Removes a staging directory whose write was dropped before it finished.
struct StagingGuard {
    store: Arc<dyn ObjectStore>,
    directory: Path,
    local: bool,
    armed: bool,
}

impl Drop for StagingGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, directory, local) = (self.store.clone(), self.directory.clone(), self.local);
        // Dropping cannot wait: the deletion runs on the runtime, as long as it runs.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let listed: Vec<_> = store.list(Some(&directory)).collect().await;
                for meta in listed.into_iter().flatten() {
                    let _ = store.delete(&meta.location).await;
                }
                if local {
                    remove_local_directories(&directory).await;
                }
            });
        }
    }
}

/// The directories of a staging area on the local file system (object stores have none),
/// with what is left in them (an interrupted upload leaves a part file listings do not
/// show).
async fn remove_local_directories(directory: &Path) {
    let local = format!("/{directory}");
    let _ = tokio::fs::remove_dir_all(&local).await;
    if let Some(parent) = std::path::Path::new(&local).parent() {
        let _ = tokio::fs::remove_dir(parent).await; // only when no other run stages there
    }
}

/// The session the commit plans its `deltalake` operation in: the run's settings, stores
/// and memory pool, with `deltalake`'s planner for its own plan nodes.
fn commit_state(context: &TaskContext) -> SessionState {
    SessionStateBuilder::new()
        .with_config(context.session_config().clone())
        .with_runtime_env(context.runtime_env())
        .with_default_features()
        .with_query_planner(DeltaPlanner::new())
        .build()
}

/// Delta writes whose rows are staged, waiting for the whole run to succeed. A session
/// holds one registry (a config extension); without it a write commits at once.
#[derive(Debug, Default)]
pub struct HeldDeltaWrites {
    held: std::sync::Mutex<Vec<HeldDeltaWrite>>,
}

impl HeldDeltaWrites {
    fn hold(&self, write: HeldDeltaWrite) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).push(write);
    }

    /// Every write held so far.
    pub fn take(&self) -> Vec<HeldDeltaWrite> {
        std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Rows staged for a Delta table, not committed.
pub struct HeldDeltaWrite {
    target: DeltaWriteTarget,
    store: Arc<dyn ObjectStore>,
    directory: Path,
    staged_file: Path,
    /// The staged file as DataFusion reads it.
    staged_url: String,
    pub rows: u64,
    state: SessionState,
    /// The table as the write found it; `None` when the run creates it.
    base: Option<DeltaTable>,
}

impl fmt::Debug for HeldDeltaWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldDeltaWrite").field("table", &self.target.url).field("rows", &self.rows).finish()
    }
}

/// A Delta commit that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DeltaCommitError {
    pub message: String,
    /// This run's commit landed all the same (delta-rs failed after committing: its
    /// checkpoint or log cleanup).
    pub table_changed: bool,
    /// The failure came from delta-rs's operation, which may have committed before it.
    maybe_committed: bool,
}

impl DeltaCommitError {
    fn unchanged(message: String) -> DeltaCommitError {
        DeltaCommitError { message, table_changed: false, maybe_committed: false }
    }

    fn maybe_committed(message: String) -> DeltaCommitError {
        DeltaCommitError { message, table_changed: false, maybe_committed: true }
    }
}

impl HeldDeltaWrite {
    /// The table, for messages.
    pub fn table(&self) -> &str {
        &self.target.url
    }

    /// Commits the staged rows as one Delta commit, then removes them; the table's new
    /// version. `deltalake` asserts in places: a panic is a failed commit.
    pub async fn commit(self) -> std::result::Result<u64, DeltaCommitError> {
        let committing = AssertUnwindSafe(self.commit_staged()).catch_unwind().await;
        let mut outcome = committing.unwrap_or_else(|_| {
            Err(DeltaCommitError::maybe_committed("the Delta library failed while committing".into()))
        });
        if let Err(error) = &mut outcome
            && error.maybe_committed
        {
            error.table_changed = self.changed_since_start().await;
        }
        self.remove_staged().await;
        outcome
    }

    /// Whether the table has a version the write did not start from: a failure after
    /// delta-rs committed (its checkpoint or log cleanup) leaves the new version in place.
    /// (Another writer's commit in between counts too: then nobody can tell, and saying
    /// "changed" is the safe answer.)
    async fn changed_since_start(&self) -> bool {
        let Ok(url) = self.target.table_url() else { return false };
        let env = self.state.runtime_env().clone();
        let before = self.base.as_ref().and_then(|t| t.version());
        match open_table(&url, &env, TablePoint::Latest).await {
            Ok(now) => now.version() != before,
            Err(_) => false,
        }
    }

    /// Removes the staged rows; the table stays as it was.
    pub async fn abort(self) {
        self.remove_staged().await;
    }

    async fn remove_staged(&self) {
        let _ = self.store.delete(&self.staged_file).await;
        // Local directories remain after their files are gone.
        if self.target.url.starts_with("file:") {
            remove_local_directories(&self.directory).await;
        }
    }

    async fn commit_staged(&self) -> std::result::Result<u64, DeltaCommitError> {
        // A conflict is refused before anything is written to the log; other failures of
        // the operation may come after its commit.
        let failed = |e: DeltaTableError| match e {
            DeltaTableError::Transaction { .. } => DeltaCommitError::unchanged(commit_message(&self.target.url, e)),
            other => DeltaCommitError::maybe_committed(commit_message(&self.target.url, other)),
        };
        let url = self.target.table_url().map_err(|e| DeltaCommitError::unchanged(e.to_string()))?;
        let env = self.state.runtime_env().clone();
        let table = &self.base;
        let log_store = match table {
            Some(table) => table.log_store(),
            None => super::table::log_store(&url, &env).map_err(|e| DeltaCommitError::unchanged(e.to_string()))?,
        };
        let snapshot = match table {
            Some(table) => Some(table.snapshot().map_err(failed)?.snapshot().clone()),
            None => None,
        };
        let ctx = SessionContext::new_with_state(self.state.clone());
        let rows = ctx.read_parquet(self.staged_url.as_str(), ParquetReadOptions::default()).await.map_err(|e| {
            DeltaCommitError::unchanged(format!("cannot read the staged rows: {}", e.strip_backtrace()))
        })?;
        let session: Arc<SessionState> = Arc::new(self.state.clone());
        let metadata = self.target.commit_metadata.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())));
        let properties = CommitProperties::default().with_metadata(metadata);
        let target = &self.target;
        let written: DeltaTable = match (&target.mode, snapshot) {
            (DeltaWriteMode::Upsert { keys }, Some(snapshot)) => {
                let on = keys
                    .iter()
                    .map(|k| qualified("target", k).eq(qualified("source", k)))
                    .reduce(Expr::and)
                    .ok_or_else(|| DeltaCommitError::unchanged("an upsert needs key columns".into()))?;
                let columns: Vec<String> = rows.schema().fields().iter().map(|f| f.name().clone()).collect();
                let (table, _) = MergeBuilder::new(log_store, Some(snapshot), on, rows)
                    .with_source_alias("source")
                    .with_target_alias("target")
                    .with_merge_schema(target.merge_schema)
                    .with_session_state(session)
                    .with_commit_properties(properties)
                    .when_matched_update(|update| {
                        columns.iter().fold(update, |u, c| u.update(Column::new_unqualified(c), qualified("source", c)))
                    })
                    .map_err(failed)?
                    .when_not_matched_insert(|insert| {
                        columns.iter().fold(insert, |i, c| i.set(Column::new_unqualified(c), qualified("source", c)))
                    })
                    .map_err(failed)?
                    .await
                    .map_err(failed)?;
                table
            }
            (mode, snapshot) => {
                let mut write = WriteBuilder::new(log_store, snapshot)
                    .with_input_plan(rows.logical_plan().clone())
                    .with_session_state(session)
                    .with_configuration(target.table_properties.clone())
                    .with_commit_properties(properties);
                // None given: an existing table's own (`check` refused others).
                if !target.partition_columns.is_empty() {
                    write = write.with_partition_columns(target.partition_columns.clone());
                }
                if target.merge_schema {
                    write = write.with_schema_mode(SchemaMode::Merge);
                }
                write = match mode {
                    // A table the upsert creates holds its rows.
                    DeltaWriteMode::Append | DeltaWriteMode::Upsert { .. } => write.with_save_mode(SaveMode::Append),
                    DeltaWriteMode::Overwrite => write.with_save_mode(SaveMode::Overwrite),
                    DeltaWriteMode::Replace { conditions } => {
                        write.with_save_mode(SaveMode::Overwrite).with_replace_where(
                            replace_predicate(conditions).map_err(|e| DeltaCommitError::unchanged(e.to_string()))?,
                        )
                    }
                };
                write.await.map_err(failed)?
            }
        };
        Ok(written.version().unwrap_or(0))
    }
}

/// `alias.column`, the column's name taken as written.
fn qualified(alias: &str, column: &str) -> Expr {
    Expr::Column(Column::new(Some(alias), column))
}

/// `"column" = 'value' AND ...` in SQL, which `deltalake` plans against the table's
/// schema: the values are text, compared as the column's type.
fn replace_predicate(conditions: &[(String, String)]) -> Result<String> {
    let quote = |text: &str, mark: char| {
        let doubled = text.replace(mark, &format!("{mark}{mark}"));
        format!("{mark}{doubled}{mark}")
    };
    let terms: Vec<String> =
        conditions.iter().map(|(column, value)| format!("{} = {}", quote(column, '"'), quote(value, '\''))).collect();
    if terms.is_empty() {
        return Err(DataFusionError::Plan("a replace needs at least one condition".into()));
    }
    Ok(terms.join(" AND "))
}

/// What a failed commit says: conflicts with other writers by name, with what to do.
fn commit_message(table: &str, error: DeltaTableError) -> String {
    let first_line = |s: String| s.lines().next().unwrap_or_default().to_string();
    match error {
        DeltaTableError::Transaction { source: TransactionError::CommitConflict(conflict) } => format!(
            "another writer committed to the Delta table `{table}` first, and its change conflicts with this run's ({}); the table is unchanged: run again",
            first_line(conflict.to_string())
        ),
        DeltaTableError::Transaction { source: TransactionError::MaxCommitAttempts(attempts) } => format!(
            "the Delta table `{table}` kept changing under this run ({attempts} commit attempts); the table is unchanged: run again"
        ),
        other => format!("cannot commit to the Delta table `{table}`: {}", first_line(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_conditions_become_one_predicate() {
        let conditions = vec![("Region".to_string(), "e'u".to_string()), ("day".to_string(), "2024-01-01".to_string())];
        let predicate = replace_predicate(&conditions).unwrap();
        assert_eq!(predicate, "\"Region\" = 'e''u' AND \"day\" = '2024-01-01'");
        assert!(replace_predicate(&[]).is_err());
    }

    #[test]
    fn only_urls_in_their_parsed_form_are_tables() {
        let target = |url: &str| DeltaWriteTarget {
            url: url.to_string(),
            mode: DeltaWriteMode::Append,
            partition_columns: Vec::new(),
            table_properties: BTreeMap::new(),
            commit_metadata: BTreeMap::new(),
            merge_schema: false,
        };
        assert!(target("file:///data/t/").table_url().is_ok());
        assert!(target("s3://bucket/tables/t/").table_url().is_ok());
        // Each of these parses to another place than the text the allow-list judges.
        for hostile in [
            "file:///data/x\\..\\..\\etc/",
            "s3://bucket/in/.\t./out/t/",
            "file:///data/a/../b/",
            "s3://user:secret@bucket/t/",
            "s3://bucket/t/?x=1",
            "file:///data/t",
        ] {
            assert!(target(hostile).table_url().is_err(), "{hostile}");
        }
    }
}

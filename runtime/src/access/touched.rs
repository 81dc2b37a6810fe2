//! What a decoded pipeline touches, taken from its plans themselves (file scans, file
//! sinks, database nodes), never from anything a client says about them.
//!
//! Every node of every plan of every stage is visited: the plans a stage shows, the
//! shared computations, and the write with all of its inputs. A sink anywhere but at the
//! root of a stage's compiled write would write where nothing stages or checks it, so it
//! is refused here, as is a write whose store is not the store its path names.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;

use crate::io::delta::scan::DeltaSourceExec;
use crate::io::delta::sink::DeltaWriteExec;
use crate::io::odbc::connection::ConnectionString;
use crate::io::odbc::scan::OdbcScanExec;
use crate::io::odbc::sink::{OdbcWriteExec, WriteMode};
use crate::output::repoint::sink_config;
use crate::output::write::Write;
use crate::pipeline::ExecutablePipeline;

/// What ODBC reads and writes count as: `--allow-location odbc://` permits them.
pub const ODBC_LOCATION: &str = "odbc://";

/// Everything a pipeline's plans read and write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched {
    /// Every file a scan reads, as a URL such as `file:///data/x.csv`, and every Delta
    /// table (its root, ending in `/`).
    pub read: Vec<String>,
    /// The target of every file destination, as a URL.
    pub written: Vec<String>,
    /// Every database a plan reads or writes.
    pub databases: Vec<DatabaseUse>,
}

/// A database node of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUse {
    /// As written in the spec (secrets still references); shown only masked.
    pub connection_string: ConnectionString,
    /// A write that runs the spec's own SQL (`pre_insert`, `insert`).
    pub custom_sql: bool,
}

impl Touched {
    /// Every location, reads and writes, with [`ODBC_LOCATION`] for databases; sorted.
    pub fn locations(&self) -> Vec<String> {
        let mut all: Vec<String> = self.read.iter().chain(&self.written).cloned().collect();
        if !self.databases.is_empty() {
            all.push(ODBC_LOCATION.to_string());
        }
        all.sort();
        all.dedup();
        all
    }
}

/// A part of a plan whose location nobody can tell, or that writes outside the compiled
/// write; the message says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownLocation(pub String);

/// What the pipeline touches; refuses data sources of unknown kinds (nobody can tell
/// where they read) and sinks outside a stage's compiled write.
pub fn touched(pipeline: &ExecutablePipeline) -> Result<Touched, UnknownLocation> {
    let mut found = Touched::default();
    for stage in &pipeline.stages {
        let computing = stage.materialize.as_ref().map(|(_, plan)| plan);
        for plan in stage.plan.iter().chain(computing) {
            collect(plan, &stage.name, &mut found)?;
        }
        let Some(write) = &stage.write else { continue };
        let root = write.plan();
        for input in root.children() {
            collect(input, &stage.name, &mut found)?;
        }
        match write {
            Write::File(_) => found.written.push(file_target(root, &stage.name)?),
            Write::Delta(_) => {
                let node = root.as_ref().downcast_ref::<DeltaWriteExec>().ok_or_else(|| {
                    UnknownLocation(format!("stage `{}` has a Delta write without its write node", stage.name))
                })?;
                let url = node.target().table_url().map_err(|e| UnknownLocation(e.strip_backtrace()))?;
                found.written.push(url.to_string());
            }
            Write::Database(_) => {
                let node = root.as_ref().downcast_ref::<OdbcWriteExec>().ok_or_else(|| {
                    UnknownLocation(format!("stage `{}` has a database write without its write node", stage.name))
                })?;
                let target = node.target();
                let custom_sql = matches!(target.mode, WriteMode::Custom { .. });
                found.databases.push(DatabaseUse { connection_string: target.connection_string.clone(), custom_sql });
            }
        }
    }
    Ok(found)
}

/// The URL a file write targets, once its store is known to be the store of that URL
/// (a sink writes through its `object_store_url`, whatever its path says).
fn file_target(root: &Arc<dyn ExecutionPlan>, stage: &str) -> Result<String, UnknownLocation> {
    let config = sink_config(root).map_err(|e| {
        UnknownLocation(format!("stage `{stage}` has a write without a target: {}", e.strip_backtrace()))
    })?;
    let path = config
        .table_paths
        .first()
        .ok_or_else(|| UnknownLocation(format!("stage `{stage}` has a write without a target")))?;
    if path.object_store() != config.object_store_url {
        return Err(UnknownLocation(format!(
            "stage `{stage}` writes `{}` through the store `{}`",
            path.as_str(),
            config.object_store_url.as_str()
        )));
    }
    Ok(path.as_str().to_string())
}

/// Walks every node below `plan`: file scans and databases are recorded, sinks refused.
fn collect(plan: &Arc<dyn ExecutionPlan>, stage: &str, found: &mut Touched) -> Result<(), UnknownLocation> {
    let mut problem = None;
    let _ = plan.apply(|node| {
        let any = node.as_ref();
        if let Some(scan) = any.downcast_ref::<OdbcScanExec>() {
            let connection_string = scan.connection_string().clone();
            found.databases.push(DatabaseUse { connection_string, custom_sql: false });
        }
        if let Some(scan) = any.downcast_ref::<DeltaSourceExec>() {
            found.read.push(scan.scan().url.to_string());
        }
        if any.downcast_ref::<DataSinkExec>().is_some()
            || any.downcast_ref::<OdbcWriteExec>().is_some()
            || any.downcast_ref::<DeltaWriteExec>().is_some()
        {
            problem = Some(UnknownLocation(format!(
                "a write (`{}`) inside the plan of stage `{stage}`, outside its compiled write",
                node.name()
            )));
            return Ok(TreeNodeRecursion::Stop);
        }
        if let Some(source) = any.downcast_ref::<DataSourceExec>() {
            let source = source.data_source();
            if let Some(scan) = source.downcast_ref::<FileScanConfig>() {
                // `file:///` + `data/x.csv`: one slash comes from each side.
                let store = scan.object_store_url.as_str();
                let store = store.strip_suffix('/').unwrap_or(store);
                for file in scan.file_groups.iter().flat_map(|group| group.iter()) {
                    found.read.push(format!("{store}/{}", file.object_meta.location));
                }
            } else if source.downcast_ref::<MemorySourceConfig>().is_none() {
                problem = Some(UnknownLocation(format!("a data source of unknown kind in `{}`", node.name())));
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    problem.map_or(Ok(()), Err)
}

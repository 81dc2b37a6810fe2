//! Where a decoded pipeline reads and writes, taken from its plans themselves (file
//! scans, file sinks, database nodes), not from anything a client says about them.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;

use crate::io::odbc::scan::OdbcScanExec;
use crate::io::odbc::sink::OdbcWriteExec;
use crate::output::write::Write;
use crate::pipeline::ExecutablePipeline;

/// Every location the pipeline reads (each file of every scan) or writes (each
/// destination), as URLs such as `file:///data/x.csv`. Databases reached through ODBC
/// (read or written) are [`ODBC_LOCATION`], so an allow-list must name them to permit
/// them. A data source of an unknown kind is reported as `Err` with its name: nobody
/// can tell where it reads.
pub fn touched_locations(pipeline: &ExecutablePipeline) -> Result<Vec<String>, UnknownLocation> {
    let mut found = Vec::new();
    for stage in &pipeline.stages {
        let computing = stage.materialize.as_ref().map(|(_, plan)| plan);
        for plan in stage.plan.iter().chain(stage.write.as_ref().map(Write::plan)).chain(computing) {
            collect(plan, &mut found)?;
        }
        // Database writes were found by `collect`, as ODBC_LOCATION.
        if let Some(url) = stage
            .write
            .as_ref()
            .map(Write::target_url)
            .transpose()
            .map_err(|e| UnknownLocation(format!("a write without a target: {}", e.strip_backtrace())))?
        {
            found.extend(url);
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// A part of a plan whose location nobody can tell; the message says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownLocation(pub String);

/// What ODBC reads and writes count as: `--allow-location odbc://` permits them.
pub const ODBC_LOCATION: &str = "odbc://";

fn collect(plan: &Arc<dyn ExecutionPlan>, found: &mut Vec<String>) -> Result<(), UnknownLocation> {
    let mut problem = None;
    let _ = plan.apply(|node| {
        let any = node.as_ref();
        if any.downcast_ref::<OdbcScanExec>().is_some() || any.downcast_ref::<OdbcWriteExec>().is_some() {
            found.push(ODBC_LOCATION.to_string());
        }
        if let Some(source) = node.as_ref().downcast_ref::<DataSourceExec>() {
            let source = source.data_source();
            if let Some(scan) = source.downcast_ref::<FileScanConfig>() {
                // `file:///` + `data/x.csv`: one slash comes from each side.
                let store = scan.object_store_url.as_str();
                let store = store.strip_suffix('/').unwrap_or(store);
                for file in scan.file_groups.iter().flat_map(|group| group.iter()) {
                    found.push(format!("{store}/{}", file.object_meta.location));
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

//! Where a compiled pipeline reads and writes, for executors that restrict it.
//!
//! An executor started with `--allow-location` refuses, before running anything, a plan
//! that touches a location outside the allowed prefixes. The locations come from the
//! decoded plans themselves (file scans and file sinks), not from anything the client
//! says about them.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;

use crate::ExecutablePipeline;

/// Every location the pipeline reads (each file of every scan) or writes (each
/// destination), as URLs such as `file:///data/x.csv`. Databases reached through ODBC
/// (read or written) are [`ODBC_LOCATION`], so an allow-list must name them to permit
/// them. A data source of an unknown kind is reported as `Err` with its name: nobody
/// can tell where it reads.
pub fn touched_locations(pipeline: &ExecutablePipeline) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    for stage in &pipeline.stages {
        let computing = stage.materialize.as_ref().map(|(_, plan)| plan);
        for plan in stage.plan.iter().chain(&stage.write).chain(computing) {
            collect(plan, &mut found)?;
        }
        // Database writes were found by `collect`, as ODBC_LOCATION.
        if let Some(write) =
            stage.write.as_ref().filter(|w| w.as_ref().downcast_ref::<crate::odbc::OdbcWriteExec>().is_none())
        {
            found.push(crate::write::target_url(write).map_err(|e| e.strip_backtrace())?);
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// What ODBC reads and writes count as: `--allow-location odbc://` permits them.
pub const ODBC_LOCATION: &str = "odbc://";

fn collect(plan: &Arc<dyn ExecutionPlan>, found: &mut Vec<String>) -> Result<(), String> {
    let mut problem = None;
    let _ = plan.apply(|node| {
        let any = node.as_ref();
        if any.downcast_ref::<crate::odbc::OdbcScanExec>().is_some()
            || any.downcast_ref::<crate::odbc::OdbcWriteExec>().is_some()
        {
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
                problem = Some(format!("a data source of unknown kind in `{}`", node.name()));
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    problem.map_or(Ok(()), Err)
}

/// Whether `location` (a URL) lies under one of the allowed prefixes (paths or URLs).
/// Prefixes match whole path segments, and a location with `.` or `..` segments (after
/// percent-decoding) never matches.
pub fn is_allowed(location: &str, allowed: &[String]) -> bool {
    let location = crate::write::percent_decode(location);
    let Some((scheme, rest)) = location.split_once("://") else { return false };
    if rest.split('/').any(|segment| segment == ".." || segment == ".") {
        return false;
    }
    allowed.iter().any(|prefix| {
        let prefix = if prefix.contains("://") { prefix.clone() } else { format!("file://{prefix}") };
        let Some((prefix_scheme, prefix_rest)) = prefix.split_once("://") else { return false };
        if !prefix_scheme.eq_ignore_ascii_case(scheme) {
            return false;
        }
        let prefix_rest = prefix_rest.trim_end_matches('/');
        rest == prefix_rest || rest.strip_prefix(prefix_rest).is_some_and(|tail| tail.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::is_allowed;

    #[test]
    fn prefixes_match_whole_segments() {
        let allowed = vec!["/data".to_string(), "s3://bucket/in/".to_string()];
        assert!(is_allowed("file:///data/x.csv", &allowed));
        assert!(is_allowed("file:///data", &allowed));
        assert!(!is_allowed("file:///database/x.csv", &allowed));
        assert!(!is_allowed("file:///etc/passwd", &allowed));
        assert!(is_allowed("s3://bucket/in/part-1.parquet", &allowed));
        assert!(!is_allowed("s3://bucket/out/part-1.parquet", &allowed));
        assert!(!is_allowed("gs://bucket/in/x", &allowed));
    }

    #[test]
    fn databases_must_be_allowed_by_name() {
        assert!(!is_allowed(super::ODBC_LOCATION, &["/data".to_string()]));
        assert!(is_allowed(super::ODBC_LOCATION, &["/data".to_string(), "odbc://".to_string()]));
    }

    #[test]
    fn parent_segments_never_match() {
        let allowed = vec!["/data".to_string()];
        assert!(!is_allowed("file:///data/../etc/passwd", &allowed));
        assert!(!is_allowed("file:///data/%2E%2E/etc/passwd", &allowed));
        assert!(!is_allowed("file:///data/./x", &allowed));
    }
}

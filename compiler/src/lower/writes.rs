//! The write of the final stage: a `COPY` to the destination's files (re-pointed at a
//! staging location when it runs), an ODBC write in one transaction, or a Delta write
//! (one Delta commit).

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use aqueducts_runtime::io::delta::table::table_url;
use aqueducts_runtime::io::delta::{DeltaWriteExec, DeltaWriteMode as RuntimeDeltaMode, DeltaWriteTarget};
use aqueducts_runtime::io::odbc::{ConnectionString, OdbcWriteExec, WriteMode, WriteTarget};
use datafusion::common::config::{CsvOptions, JsonOptions};
use datafusion::common::parsers::CompressionTypeVariant;
use datafusion::datasource::file_format::csv::CsvFormatFactory;
use datafusion::datasource::file_format::format_as_file_type;
use datafusion::datasource::file_format::json::JsonFormatFactory;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast};
use datafusion::physical_plan::scalar_subquery::ScalarSubqueryExec;
use datafusion::physical_plan::{ChildrenPropertiesMode, ExecutionPlan, ReplaceChildrenOptions};

use super::errors::{stage_error, unsupported};
use super::sources::location_url;
use crate::diagnostic::Diagnostic;
use crate::formats::parquet_options;
use crate::plan::{declared_schema, redact_location};
use crate::spec::{
    DeltaDestination, DeltaSchemaMode, DeltaWriteMode, Destination, DestinationFileFormat, OdbcDestination,
    OdbcWriteMode,
};

/// The write of the final stage into a database table (one transaction).
pub(super) fn odbc_write(destination: &OdbcDestination, input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    let mode = match &destination.write_mode {
        OdbcWriteMode::Append => WriteMode::Append,
        OdbcWriteMode::Custom(custom) => WriteMode::Custom {
            pre_insert: custom.pre_insert.as_ref().map(|p| p.value.clone()),
            insert: custom.insert.value.clone(),
        },
    };
    let target = WriteTarget {
        connection_string: ConnectionString::new(&destination.connection_string.value),
        table: destination.name.value.clone(),
        mode,
        batch_size: destination.batch_size,
    };
    Arc::new(OdbcWriteExec::new(input, target))
}

/// The write of the final stage into a Delta table.
pub(super) fn delta_write(
    destination: &DeltaDestination,
    input: Arc<dyn ExecutionPlan>,
    base_dir: &Path,
) -> Result<Arc<dyn ExecutionPlan>, Vec<Diagnostic>> {
    let location = location_url(&destination.location, base_dir).map_err(|d| vec![d])?;
    let url = table_url(&location).map_err(|e| {
        vec![unsupported(&destination.location, redact_location(&e.to_string()), "give the directory of the table")]
    })?;
    let mode = match &destination.write_mode {
        DeltaWriteMode::Append => RuntimeDeltaMode::Append,
        DeltaWriteMode::Overwrite => RuntimeDeltaMode::Overwrite,
        DeltaWriteMode::Upsert(keys) => {
            RuntimeDeltaMode::Upsert { keys: keys.iter().map(|k| k.value.clone()).collect() }
        }
        DeltaWriteMode::Replace(conditions) => RuntimeDeltaMode::Replace {
            conditions: conditions.iter().map(|c| (c.column.value.clone(), c.value.clone())).collect(),
        },
    };
    let target = DeltaWriteTarget {
        url: url.to_string(),
        mode,
        partition_columns: destination.partition_columns.iter().map(|c| c.value.clone()).collect(),
        table_properties: destination.table_properties.clone(),
        commit_metadata: destination.metadata.clone(),
        merge_schema: destination.schema_mode == DeltaSchemaMode::Merge,
    };
    Ok(Arc::new(DeltaWriteExec::new(input, target)))
}

/// The rows a Delta destination writes: the final stage's, cast to the declared
/// `schema` when there is one.
pub(super) fn delta_rows(destination: &DeltaDestination, plan: LogicalPlan) -> Result<LogicalPlan, Vec<Diagnostic>> {
    let Some(declared) = declared_schema(&destination.schema).filter(|_| !destination.schema.is_empty()) else {
        return Ok(plan);
    };
    let columns = declared.fields().iter().map(|f| {
        let column = Expr::Column(datafusion::common::Column::new_unqualified(f.name()));
        cast(column, f.data_type().clone()).alias(f.name())
    });
    LogicalPlanBuilder::from(plan).project(columns).and_then(|b| b.build()).map_err(|e| {
        vec![stage_error(&destination.name, "cannot cast the rows to the declared schema", &e.to_string())]
    })
}

/// The write with its sink at the root, where the runtime looks for it. DataFusion puts
/// the node that computes uncorrelated scalar subqueries (`ScalarSubqueryExec`) above
/// everything, the sink included; it belongs under the sink, around what the sink
/// writes, which computes the same rows.
pub(super) fn sink_at_root(plan: Arc<dyn ExecutionPlan>) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    let Some(subqueries) = plan.downcast_ref::<ScalarSubqueryExec>() else { return Ok(plan) };
    let sink = subqueries.input().clone();
    let Some(written) = sink.downcast_ref::<DataSinkExec>().map(|s| s.input().clone()) else { return Ok(plan) };
    let mut children = vec![written];
    children.extend(subqueries.subqueries().iter().map(|link| link.plan.clone()));
    let recompute = || ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    let computed = plan.clone().replace_children(children, recompute())?;
    sink.replace_children(vec![computed], recompute())
}

/// The write of the final stage to the destination. (The runtime points it at a staging
/// location when it runs; see `aqueducts_runtime::output::repoint`.)
pub(super) fn write_plan(
    destination: &Destination,
    plan: LogicalPlan,
    base_dir: &Path,
) -> Result<LogicalPlan, Vec<Diagnostic>> {
    let Destination::File(d) = destination else {
        // ODBC and Delta destinations never get here: `odbc_write` and `delta_write` write them.
        return Err(vec![unsupported(
            destination.name(),
            "`run` cannot write in-memory destinations yet".to_string(),
            "file, ODBC and Delta destinations run today; in-memory destinations are being added",
        )]);
    };
    let partition_by: Vec<String> = d.partition_columns.iter().map(|c| c.value.clone()).collect();
    let single_file = d.single_file && partition_by.is_empty();
    let mut url = location_url(&d.location, base_dir).map_err(|d| vec![d])?;
    // A trailing `/` means a directory to the writer: one file has none (as a local
    // `./out/` names the file `out`), a directory of parts always has one.
    if single_file {
        url.truncate(url.trim_end_matches('/').len());
    } else if !url.ends_with('/') {
        url.push('/');
    }
    let file_type = match &d.format {
        DestinationFileFormat::Csv(o) => {
            let compression = o
                .compression
                .as_ref()
                .and_then(|c| CompressionTypeVariant::from_str(&c.value).ok())
                .unwrap_or(CompressionTypeVariant::UNCOMPRESSED);
            let options = CsvOptions {
                has_header: Some(o.has_header),
                delimiter: u8::try_from(o.delimiter.value).unwrap_or(b','),
                compression,
                ..Default::default()
            };
            format_as_file_type(Arc::new(CsvFormatFactory::new_with_options(options)))
        }
        DestinationFileFormat::Parquet(settings) => {
            let options = parquet_options(settings).map_err(|d| vec![d])?;
            format_as_file_type(Arc::new(ParquetFormatFactory::new_with_options(options)))
        }
        DestinationFileFormat::Json(_) => {
            format_as_file_type(Arc::new(JsonFormatFactory::new_with_options(JsonOptions::default())))
        }
    };
    let options = HashMap::from([("single_file_output".to_string(), single_file.to_string())]);
    let write = LogicalPlanBuilder::copy_to(plan, url, file_type, options, partition_by)
        .and_then(|b| b.build())
        .map_err(|e| vec![stage_error(&d.name, "cannot plan the write", &e.to_string())])?;
    Ok(write)
}

//! Delta tables: each Delta source is opened at the version it names (the latest, a
//! `version`, or the latest as of a `timestamp`), for its schema and so that lowering
//! plans the very version `check` saw; a Delta destination is checked against the rows
//! it receives and, when the table exists, against the table.

use std::sync::Arc;

use aqueducts_runtime::io::delta::{DeltaOpenError, DeltaSourceTable, TablePoint, open_table, table_url};
use datafusion::arrow::compute::can_cast_types;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use deltalake_core::DeltaTable;

use super::context::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::{Location, Planner, declared_schema, redact_location, resolve_location};
use crate::spec::de::quoted_list;
use crate::spec::{DeltaSchemaMode, DeltaSource, DeltaWriteMode, Destination, Pipeline, Spanned};
use crate::suggest;

impl Checker<'_> {
    /// The source's table at its version, and the schema its scans have; `None` when the
    /// version it names is already reported as invalid.
    pub(super) async fn open_delta_source(
        &self,
        source: &DeltaSource,
        planner: &Planner,
    ) -> Result<Option<(DeltaTable, SchemaRef)>, Diagnostic> {
        let location = &source.location;
        let url = self.delta_table_url(&location.value).map_err(|message| {
            Diagnostic::error(Code::SourceUnreadable, message)
                .label(location.span.clone(), "not a table location")
                .help("give the directory of the table (the one holding `_delta_log`), as a path or a URL")
        })?;
        // A version or time the options phase refused is not looked for.
        let point = match (&source.version, &source.timestamp) {
            (Some(_), Some(_)) => return Ok(None),
            (Some(version), None) => match u64::try_from(version.value) {
                Ok(version) => TablePoint::Version(version),
                Err(_) => return Ok(None),
            },
            (None, Some(ts)) => match chrono::DateTime::parse_from_rfc3339(ts.value.trim()) {
                Ok(time) => TablePoint::AsOf(time.to_utc()),
                Err(_) => return Ok(None),
            },
            (None, None) => TablePoint::Latest,
        };
        let state = planner.state();
        let table = open_table(&url, state.runtime_env(), point).await.map_err(|error| {
            let shown = redact_location(url.as_str());
            let what = format!("cannot open Delta source `{}`", source.name.value);
            match &error {
                DeltaOpenError::NoSuchVersion { latest, .. } => {
                    let span = source.version.as_ref().map_or(location.span.clone(), |v| v.span.clone());
                    Diagnostic::error(Code::SourceUnreadable, format!("{what}: {error}"))
                        .label(span, "no such version")
                        .help(format!("versions 0 to {latest} exist (unless their log was cleaned up)"))
                }
                DeltaOpenError::BeforeFirstCommit { first_committed, .. } => {
                    let span = source.timestamp.as_ref().map_or(location.span.clone(), |t| t.span.clone());
                    Diagnostic::error(Code::SourceUnreadable, format!("{what}: {error}"))
                        .label(span, "before the first commit")
                        .help(format!("give a time at or after {}", first_committed.to_rfc3339()))
                }
                DeltaOpenError::NotATable(_) => {
                    Diagnostic::error(Code::SourceUnreadable, format!("{what}: there is no Delta table at `{shown}`"))
                        .label(location.span.clone(), "no `_delta_log` here")
                        .help("give the directory of the table (the one holding `_delta_log`); check the path or bucket and the `storage_config`")
                }
                DeltaOpenError::NoStore(_) | DeltaOpenError::Unreadable { .. } => {
                    Diagnostic::error(Code::SourceUnreadable, format!("{what}: {}", redact_location(&error.to_string())))
                        .label(location.span.clone(), "unreadable")
                        .help("check that the table exists and is readable with this `storage_config`")
                }
            }
        })?;
        let scan = DeltaSourceTable::new(&table, Arc::new(state)).await.map_err(|e| {
            Diagnostic::error(
                Code::SourceUnreadable,
                format!("cannot read Delta source `{}`: {}", source.name.value, e.strip_backtrace()),
            )
            .label(location.span.clone(), "this table")
        })?;
        Ok(Some((table, scan.schema())))
    }

    /// The table root of a Delta location, local paths resolved against the base directory.
    pub(super) fn delta_table_url(&self, location: &str) -> Result<url::Url, String> {
        let resolved = match resolve_location(location, &self.options.base_dir) {
            Location::Local(path) => path.display().to_string(),
            Location::Url(url) => match aqueducts_runtime::io::stores::normalize_location(&url) {
                Ok((url, _)) => url.to_string(),
                Err(error) => return Err(redact_location(&error.to_string())),
            },
        };
        table_url(&resolved).map_err(|e| redact_location(&e.to_string()))
    }
}

/// A column the rows and the table disagree on, for a diagnostic.
enum Mismatch {
    NotInTable(String),
    NotInRows(String),
    Type { column: String, rows: DataType, table: DataType },
}

impl Checker<'_> {
    /// A Delta destination against the rows it receives: the columns its write mode
    /// names, and, when the table exists, its columns and partitioning.
    pub(super) async fn check_delta_destination(
        &mut self,
        pipeline: &Pipeline,
        final_stage: Option<usize>,
        schemas: &[Option<SchemaRef>],
        planner: &Planner,
    ) {
        let Some(Destination::Delta(d)) = &pipeline.destination else { return };
        let Some(stage) = final_stage else { return };
        let Some(stage_schema) = &schemas[stage] else { return };
        let stage_name = &pipeline.stages[stage].name;
        // With a declared schema the rows are cast to it.
        let rows: SchemaRef = match declared_schema(&d.schema) {
            Some(declared) if !d.schema.is_empty() => {
                for field in &d.schema {
                    if stage_schema.field_with_name(&field.name.value).is_err() {
                        self.diagnostics.push(
                            Diagnostic::error(
                                Code::DestinationSchema,
                                format!("`{}` is not a column of stage `{}`", field.name.value, stage_name.value),
                            )
                            .label(field.name.span.clone(), "declared here")
                            .label(stage_name.span.clone(), "the destination writes this stage"),
                        );
                    }
                }
                Arc::new(declared)
            }
            _ => stage_schema.clone(),
        };
        let named: Vec<&Spanned<String>> = match &d.write_mode {
            DeltaWriteMode::Upsert(keys) => keys.iter().collect(),
            DeltaWriteMode::Replace(conditions) => conditions.iter().map(|c| &c.column).collect(),
            DeltaWriteMode::Append | DeltaWriteMode::Overwrite => Vec::new(),
        };
        let columns: Vec<&str> = rows.fields().iter().map(|f| f.name().as_str()).collect();
        for column in named.iter().filter(|c| !columns.contains(&c.value.as_str())) {
            let help = suggest::help(&column.value, columns.iter().copied())
                .or(format!("columns written: {}", quoted_list(&columns)));
            self.diagnostics.push(
                Diagnostic::error(
                    Code::DestinationSchema,
                    format!("`{}` is not a column of the rows written", column.value),
                )
                .label(column.span.clone(), "no such column")
                .label(stage_name.span.clone(), "the destination writes this stage")
                .help(help),
            );
        }
        if matches!(&d.write_mode, DeltaWriteMode::Upsert(keys) if keys.is_empty()) {
            self.diagnostics.push(
                Diagnostic::error(Code::InvalidValue, "an upsert needs the key columns rows are matched on")
                    .label(d.name.span.clone(), "in this destination")
                    .help("write `write_mode: {operation: upsert, params: [id]}`"),
            );
        }
        if matches!(&d.write_mode, DeltaWriteMode::Replace(conditions) if conditions.is_empty()) {
            self.diagnostics.push(
                Diagnostic::error(Code::InvalidValue, "a replace needs the conditions of the rows it replaces")
                    .label(d.name.span.clone(), "in this destination")
                    .help("write `write_mode: {operation: replace, params: [{column: day, value: '2024-01-01'}]}`, or use `overwrite` to replace the whole table"),
            );
        }
        let Ok(url) = self.delta_table_url(&d.location.value) else {
            self.diagnostics.push(
                Diagnostic::error(Code::InvalidValue, "not a Delta table location")
                    .label(d.location.span.clone(), "not a table location")
                    .help("give the directory of the table, as a path or a URL"),
            );
            return;
        };
        let state = planner.state();
        let table = match open_table(&url, state.runtime_env(), TablePoint::Latest).await {
            Ok(table) => table,
            // The run creates it.
            Err(DeltaOpenError::NotATable(_)) => return,
            Err(error) => {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::SourceUnreadable,
                        format!("cannot open the Delta destination: {}", redact_location(&error.to_string())),
                    )
                    .label(d.location.span.clone(), "unreadable")
                    .help("check that the location is reachable with this `storage_config`"),
                );
                return;
            }
        };
        let Ok(snapshot) = table.snapshot() else { return };
        let table_schema = snapshot.snapshot().arrow_schema();
        let table_partitions = snapshot.metadata().partition_columns().to_vec();
        let given: Vec<String> = d.partition_columns.iter().map(|c| c.value.clone()).collect();
        if !given.is_empty() && given != table_partitions {
            let table_says =
                if table_partitions.is_empty() { "not partitioned".to_string() } else { table_partitions.join(", ") };
            self.diagnostics.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("the table is partitioned by {table_says}, not by {}", given.join(", ")),
                )
                .label(d.partition_columns[0].span.clone(), "differs from the table")
                .help("partition columns apply when the run creates the table; remove them or match the table's"),
            );
        }
        let merge = d.schema_mode == DeltaSchemaMode::Merge;
        for mismatch in schema_mismatches(&rows, &table_schema) {
            let message = match &mismatch {
                Mismatch::NotInTable(column) if !merge => {
                    format!("the rows have a column `{column}` that the Delta table does not have")
                }
                Mismatch::NotInRows(column) if !merge => {
                    format!("the Delta table has a column `{column}` that the rows do not have")
                }
                Mismatch::Type { column, rows, table } => {
                    format!(
                        "column `{column}` is {rows} in the rows but {table} in the Delta table, which it cannot be converted to"
                    )
                }
                Mismatch::NotInTable(_) | Mismatch::NotInRows(_) => continue,
            };
            let help = match mismatch {
                Mismatch::Type { .. } => "cast the column in the stage's query to the table's type",
                _ => {
                    "select the table's columns in the final stage, or set `schema_mode: merge` on the destination to add new columns to the table and write null for missing ones"
                }
            };
            self.diagnostics.push(
                Diagnostic::error(Code::DestinationSchema, message)
                    .label(stage_name.span.clone(), "the destination writes this stage")
                    .label(d.location.span.clone(), "to this table")
                    .help(help),
            );
        }
    }
}

/// Where the rows and the table differ, column by column (names compared exactly).
fn schema_mismatches(rows: &Schema, table: &Schema) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for field in rows.fields() {
        match table.field_with_name(field.name()) {
            Err(_) => out.push(Mismatch::NotInTable(field.name().clone())),
            Ok(existing) if !can_cast_types(field.data_type(), existing.data_type()) => out.push(Mismatch::Type {
                column: field.name().clone(),
                rows: field.data_type().clone(),
                table: existing.data_type().clone(),
            }),
            Ok(_) => {}
        }
    }
    for field in table.fields() {
        if rows.field_with_name(field.name()).is_err() {
            out.push(Mismatch::NotInRows(field.name().clone()));
        }
    }
    out
}

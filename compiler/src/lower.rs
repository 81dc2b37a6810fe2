//! Lowering a checked spec to the physical plans the runtime executes.
//!
//! Sources become DataFusion tables (listing tables over local files and directories,
//! with their schemas and hive partitions). Each stage is planned in graph order and
//! registered as a view, so a stage is planned inside the stages that read it and
//! DataFusion optimises across the boundary (projections and filters reach the files).
//! Stages that print get their own plans; the final stage is wrapped in a write to a
//! staging location that replaces the destination when the run succeeds.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use aqueducts_runtime::shared::{SharedStageExec, SharedTable};
use aqueducts_runtime::{ExecutablePipeline, StagePlans};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::config::{ConfigField, CsvOptions, JsonOptions, TableParquetOptions};
use datafusion::common::parsers::CompressionTypeVariant;
use datafusion::datasource::file_format::csv::CsvFormatFactory;
use datafusion::datasource::file_format::format_as_file_type;
use datafusion::datasource::file_format::json::JsonFormatFactory;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use crate::check::Spec;
use crate::datatype::parse_data_type;
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::{Location, Planner, first_line, redact_location, resolve_location};
use crate::spec::{Destination, DestinationFileFormat, OdbcDestination, OdbcWriteMode, Source, Spanned};
use crate::sql::normalize_name;

/// Rows printed by `show: 0`.
const SHOW_ALL_LIMIT: usize = 500;

/// Lowers a checked spec for a local run in `ctx` (whose runtime holds the memory pool).
pub async fn lower(spec: &Spec, ctx: &SessionContext, base_dir: &Path) -> Result<ExecutablePipeline, Vec<Diagnostic>> {
    let Prepared { plans, shared_plans } = prepare(spec, ctx, base_dir).await?;
    let pipeline = &spec.pipeline;
    let state = ctx.state();
    let mut stages = Vec::new();
    for &i in &spec.order {
        let stage = &pipeline.stages[i];
        let Some(plan) = plans[i].clone() else { continue };
        let is_final = spec.final_stage == Some(i) && pipeline.destination.is_some();
        // A final stage that also prints is computed once too, so the rows shown are
        // rows written, whatever `random()`, `now()` or ties in an ORDER BY do.
        let shared = is_shared(spec, i) || (is_final && stage.prints());
        if !stage.prints() && !is_final && !shared {
            continue;
        }
        let materialize = match (shared, &shared_plans[i]) {
            (false, _) => None,
            (true, Some(planned)) => Some((i as u32, planned.clone())),
            (true, None) => Some((i as u32, physical_plan(&state, plan.clone(), &stage.name).await?)),
        };
        let write = match (&pipeline.destination, is_final) {
            (Some(Destination::Odbc(d)), true) => {
                let input = if shared { shared_scan(i, &stage.name, &plan)? } else { plan.clone() };
                Some(odbc_write(d, physical_plan(&state, input, &stage.name).await?))
            }
            (Some(destination), true) => {
                let input = if shared { shared_scan(i, &stage.name, &plan)? } else { plan.clone() };
                Some(physical_plan(&state, write_plan(destination, input, base_dir)?, &stage.name).await?)
            }
            _ => None,
        };
        // A shared stage prints what was computed, not a second computation.
        let printed = match (stage.prints(), shared) {
            (false, _) => None,
            (true, false) => Some(physical_plan(&state, plan, &stage.name).await?),
            (true, true) => {
                let schema = Arc::new(plan.schema().as_arrow().clone());
                let scan = SharedStageExec::new(i as u32, stage.name.value.clone(), schema, None)
                    .map_err(|e| vec![stage_error(&stage.name, "cannot plan this stage", &e.to_string())])?;
                Some(Arc::new(scan) as Arc<dyn ExecutionPlan>)
            }
        };
        stages.push(StagePlans {
            name: stage.name.value.clone(),
            plan: printed,
            show: stage.show.map(|rows| if rows == 0 { SHOW_ALL_LIMIT } else { rows }),
            print_schema: stage.print_schema,
            explain: stage.explain,
            explain_analyze: stage.explain_analyze,
            write,
            materialize,
        });
    }
    Ok(ExecutablePipeline { stages, stores: spec.stores.clone() })
}

/// The physical plan of every stage in run order (the final stage's as its write), for
/// `aqueducts plan --explain`.
pub async fn explain(
    spec: &Spec,
    ctx: &SessionContext,
    base_dir: &Path,
) -> Result<Vec<(String, Arc<dyn ExecutionPlan>)>, Vec<Diagnostic>> {
    let Prepared { plans, shared_plans } = prepare(spec, ctx, base_dir).await?;
    let state = ctx.state();
    let mut out = Vec::new();
    for &i in &spec.order {
        let stage = &spec.pipeline.stages[i];
        let Some(mut plan) = plans[i].clone() else { continue };
        let is_final = spec.final_stage == Some(i);
        if let (Some(Destination::Odbc(d)), true) = (&spec.pipeline.destination, is_final) {
            out.push((stage.name.value.clone(), odbc_write(d, physical_plan(&state, plan, &stage.name).await?)));
            continue;
        }
        if let (Some(destination), true) = (&spec.pipeline.destination, is_final) {
            plan = write_plan(destination, plan, base_dir)?;
        } else if let Some(planned) = &shared_plans[i] {
            out.push((stage.name.value.clone(), planned.clone()));
            continue;
        }
        out.push((stage.name.value.clone(), physical_plan(&state, plan, &stage.name).await?));
    }
    Ok(out)
}

/// Planning runs behind a panic boundary like everything that handles user input.
async fn physical_plan(
    state: &datafusion::execution::SessionState,
    plan: LogicalPlan,
    name: &Spanned<String>,
) -> Result<Arc<dyn ExecutionPlan>, Vec<Diagnostic>> {
    let planned = std::panic::AssertUnwindSafe(state.create_physical_plan(&plan));
    match futures::FutureExt::catch_unwind(planned).await {
        Ok(result) => result.map_err(|e| vec![stage_error(name, "cannot plan this stage", &e.strip_backtrace())]),
        Err(_) => Err(vec![stage_error(name, "cannot plan this stage", "DataFusion panicked")]),
    }
}

/// Each stage's logical plan, and the physical plan of each shared stage.
struct Prepared {
    plans: Vec<Option<LogicalPlan>>,
    shared_plans: Vec<Option<Arc<dyn ExecutionPlan>>>,
}

/// Registers the sources as tables and the stages as views or shared tables.
async fn prepare(spec: &Spec, ctx: &SessionContext, base_dir: &Path) -> Result<Prepared, Vec<Diagnostic>> {
    let pipeline = &spec.pipeline;
    let mut problems = Vec::new();
    if let Err(e) = aqueducts_runtime::stores::register(ctx.runtime_env().as_ref(), &spec.stores) {
        let at = pipeline.sources.first().map(|s| s.name().span.clone()).unwrap_or(0..0);
        return Err(vec![
            Diagnostic::error(Code::SourceUnreadable, e.to_string())
                .label(at, "while setting up object stores")
                .help("check `storage_config` and the environment variables it reads"),
        ]);
    }
    for (i, source) in pipeline.sources.iter().enumerate() {
        if spec.dag.readers(crate::dag::Vertex::Source(i)).is_empty() {
            continue;
        }
        if let Err(d) = register_source(spec, i, source, ctx, base_dir) {
            problems.push(d);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let state = ctx.state();
    let mut plans: Vec<Option<LogicalPlan>> = vec![None; pipeline.stages.len()];
    let mut shared_plans: Vec<Option<Arc<dyn ExecutionPlan>>> = vec![None; pipeline.stages.len()];
    for &i in &spec.order {
        let stage = &pipeline.stages[i];
        let Some(query) = spec.queries.get(i).and_then(Option::as_ref) else { continue };
        let plan = state
            .statement_to_plan(query.statement.clone())
            .await
            .map_err(|e| vec![stage_error(&stage.name, "cannot plan this stage", &e.strip_backtrace())])?;
        // A stage read once is planned inside its reader (a view); a stage read more
        // than once is computed once and its readers scan the result.
        let table: Arc<dyn datafusion::catalog::TableProvider> = if is_shared(spec, i) {
            // Planned now, before its readers: they are planned with its estimates.
            let planned = physical_plan(&state, plan.clone(), &stage.name).await?;
            let schema = Arc::new(plan.schema().as_arrow().clone());
            let table = SharedTable::new(i as u32, stage.name.value.clone(), schema);
            let table = match estimated_output(planned.as_ref()) {
                Some(statistics) => table.with_statistics(statistics),
                None => table,
            };
            shared_plans[i] = Some(planned);
            Arc::new(table)
        } else {
            Arc::new(datafusion::catalog::view::ViewTable::new(plan.clone(), None))
        };
        let name = TableReference::bare(normalize_name(&stage.name.value));
        let _ = ctx.deregister_table(name.clone());
        ctx.register_table(name, table)
            .map_err(|e| vec![stage_error(&stage.name, "cannot register", &e.to_string())])?;
        plans[i] = Some(plan);
    }

    Ok(Prepared { plans, shared_plans })
}

/// What a physical plan estimates of its output (rows, bytes), if anything.
fn estimated_output(plan: &dyn ExecutionPlan) -> Option<datafusion::common::Statistics> {
    use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
    let statistics = StatisticsContext::new().compute(plan, &StatisticsArgs::new()).ok()?;
    Some(statistics.as_ref().clone())
}

/// A logical scan of a shared stage's computed result.
fn shared_scan(stage: usize, name: &Spanned<String>, plan: &LogicalPlan) -> Result<LogicalPlan, Vec<Diagnostic>> {
    let schema = Arc::new(plan.schema().as_arrow().clone());
    let table = Arc::new(SharedTable::new(stage as u32, name.value.clone(), schema));
    LogicalPlanBuilder::scan(normalize_name(&name.value), datafusion::datasource::provider_as_source(table), None)
        .and_then(|b| b.build())
        .map_err(|e| vec![stage_error(name, "cannot plan this stage", &e.to_string())])
}

/// Whether a stage is read more than once (by several stages, or twice by one query).
fn is_shared(spec: &Spec, stage: usize) -> bool {
    let name = normalize_name(&spec.pipeline.stages[stage].name.value);
    let reads: usize = spec.queries.iter().flatten().map(|q| q.reads.iter().filter(|r| r.name == name).count()).sum();
    reads > 1
}

fn stage_error(name: &Spanned<String>, what: &str, message: &str) -> Diagnostic {
    Diagnostic::error(Code::SqlPlan, format!("stage `{}`: {what}: {}", name.value, first_line(message)))
        .label(name.span.clone(), "in this stage")
        .help("this stage passed `check`; please report it with the spec that shows it")
}

fn unsupported(span: &Spanned<String>, what: String, help: &str) -> Diagnostic {
    Diagnostic::error(Code::Unsupported, what)
        .label(span.span.clone(), "not supported by `run` yet")
        .help(help.to_string())
}

fn register_source(
    spec: &Spec,
    index: usize,
    source: &Source,
    ctx: &SessionContext,
    base_dir: &Path,
) -> Result<(), Diagnostic> {
    let table = source_table(spec, index, source, base_dir)?;
    let name = TableReference::bare(normalize_name(&source.name().value));
    let _ = ctx.deregister_table(name.clone());
    ctx.register_table(name, table).map(|_| ()).map_err(|e| {
        Diagnostic::error(Code::SourceUnreadable, format!("cannot register source `{}`: {e}", source.name().value))
            .label(source.name().span.clone(), "this source")
    })
}

/// The DataFusion table a source is read through.
fn source_table(
    spec: &Spec,
    index: usize,
    source: &Source,
    base_dir: &Path,
) -> Result<Arc<dyn TableProvider>, Diagnostic> {
    let schema = spec.source_schemas.get(index).cloned().flatten();
    let (format, location, partitions, directory) = match source {
        Source::File(s) => (&s.format, &s.location, &[][..], false),
        Source::Directory(s) => (&s.format, &s.location, &s.partition_columns[..], true),
        Source::Odbc(s) => {
            let Some(schema) = schema else {
                return Err(unsupported(
                    &s.load_query,
                    "the columns of this query are not known".into(),
                    "declare `schema:`",
                ));
            };
            let connection = aqueducts_runtime::odbc::ConnectionString::new(&s.connection_string.value);
            let query = s.load_query.value.clone();
            return Ok(Arc::new(aqueducts_runtime::odbc::OdbcTable::new(connection, query, schema)));
        }
        other => {
            return Err(unsupported(
                other.name(),
                format!("`run` cannot read {} sources yet", other.kind()),
                "file, directory and ODBC sources run today; Delta and in-memory sources are being added",
            ));
        }
    };
    let Some(schema) = schema else {
        return Err(unsupported(location, "the schema of this source is not known".into(), "declare `schema:`"));
    };
    let mut url = location_url(location, base_dir)?;
    if directory && !url.ends_with('/') {
        url.push('/');
    }
    let unreadable = |e: datafusion::error::DataFusionError| {
        Diagnostic::error(Code::SourceUnreadable, format!("cannot open `{url}`: {}", first_line(&e.strip_backtrace())))
            .label(location.span.clone(), "unreadable")
            .help("check that the location exists and is readable")
    };
    let table_url = ListingTableUrl::parse(&url).map_err(unreadable)?;
    let partition_cols = partitions
        .iter()
        .filter_map(|p| parse_data_type(&p.data_type).ok().map(|t| (p.name.value.clone(), t)))
        .collect();
    let extension = if directory { format!(".{}", format.name()) } else { String::new() };
    let options = ListingOptions::new(Planner::file_format(format))
        .with_file_extension(extension)
        .with_table_partition_cols(partition_cols);
    let config = ListingTableConfig::new(table_url).with_listing_options(options).with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config).map_err(unreadable)?))
}

/// A location as DataFusion reads it: a local path, or the URL of an object on a store
/// in the form the store is registered under (see `aqueducts_runtime::stores`).
fn location_url(location: &Spanned<String>, base_dir: &Path) -> Result<String, Diagnostic> {
    match resolve_location(&location.value, base_dir) {
        Location::Local(path) => Ok(path.display().to_string()),
        Location::Url(url) => match aqueducts_runtime::stores::normalize_location(&url) {
            Ok((url, _)) => Ok(url.to_string()),
            Err(message) => Err(unsupported(location, redact_location(&message), "check the location")),
        },
    }
}

/// The write of the final stage into a database table (one transaction).
fn odbc_write(destination: &OdbcDestination, input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    use aqueducts_runtime::odbc::{OdbcWriteExec, WriteMode, WriteTarget};
    let mode = match &destination.write_mode {
        OdbcWriteMode::Append => WriteMode::Append,
        OdbcWriteMode::Custom(custom) => WriteMode::Custom {
            pre_insert: custom.pre_insert.as_ref().map(|p| p.value.clone()),
            insert: custom.insert.value.clone(),
        },
    };
    let target = WriteTarget {
        connection_string: aqueducts_runtime::odbc::ConnectionString::new(&destination.connection_string.value),
        table: destination.name.value.clone(),
        mode,
        batch_size: destination.batch_size,
    };
    Arc::new(OdbcWriteExec::new(input, target))
}

/// The write of the final stage to the destination. (The runtime points it at a staging
/// location when it runs; see `aqueducts_runtime::write`.)
fn write_plan(destination: &Destination, plan: LogicalPlan, base_dir: &Path) -> Result<LogicalPlan, Vec<Diagnostic>> {
    let Destination::File(d) = destination else {
        // ODBC destinations never get here: they are written by `odbc_write`.
        let kind = if matches!(destination, Destination::Delta(_)) { "Delta" } else { "in-memory" };
        return Err(vec![unsupported(
            destination.name(),
            format!("`run` cannot write {kind} destinations yet"),
            "file and ODBC destinations run today; Delta and in-memory destinations are being added",
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

/// DataFusion's Parquet writer options from the destination's options map; a bad key
/// or value is a diagnostic at its value.
pub fn parquet_options(
    settings: &std::collections::BTreeMap<String, Spanned<String>>,
) -> Result<TableParquetOptions, Diagnostic> {
    let mut options = TableParquetOptions::default();
    for (key, value) in settings {
        // Building the writer properties checks values such as codec names; the arrow
        // schema it would also want is only known when writing, so leave it out here.
        let applied = options.set(key, &value.value).and_then(|()| {
            let mut probe = options.clone();
            probe.global.skip_arrow_metadata = true;
            datafusion::common::file_options::parquet_writer::ParquetWriterOptions::try_from(&probe).map(|_| ())
        });
        if let Err(e) = applied {
            return Err(Diagnostic::error(Code::InvalidValue, format!("invalid Parquet option `{key}`: {}", first_line(&e.strip_backtrace())))
                .label(value.span.clone(), "rejected by the Parquet writer")
                .help("options are DataFusion's Parquet writer settings, e.g. `compression: zstd(3)`, `max_row_group_size: \"1000000\"`; see https://datafusion.apache.org/user-guide/configs.html"));
        }
    }
    Ok(options)
}

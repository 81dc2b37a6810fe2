//! Planning stages with DataFusion against the schemas of their inputs.
//!
//! `check` registers each source under its name with its real schema (inferred from
//! the files when they are reachable, or declared), then plans each stage in graph
//! order and registers its logical plan as a view, so the next stage sees its columns.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aqueducts_runtime::io::stores::StoreError;
use datafusion::arrow::datatypes::{Field as ArrowField, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStore;
use object_store::ObjectStoreExt;

use crate::datatype::parse_data_type;
use crate::spec::{Field, PartitionColumn, SourceFileFormat};
use crate::sql::ParsedQuery;

/// Where a `location` points: a local path (resolved) or a URL of some store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Url(String),
}

/// Resolves a location: URLs stay as they are (`file://` becomes a path); relative
/// paths resolve against `base_dir` (the working directory, as in v2).
pub fn resolve_location(location: &str, base_dir: &Path) -> Location {
    let trimmed = location.trim();
    if let Some(path) = trimmed.strip_prefix("file://") {
        return Location::Local(PathBuf::from(path));
    }
    let has_scheme = trimmed.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
    });
    if has_scheme {
        return Location::Url(trimmed.to_string());
    }
    let path = Path::new(trimmed);
    let joined = if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) };
    // `./data/x.csv` reads better in messages without the `.` in the middle.
    Location::Local(joined.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect())
}

/// Why a source's schema could not be read.
pub struct SourceProblem {
    pub message: String,
    pub label: String,
    pub help: String,
}

/// The DataFusion context used to check (and later lower) a pipeline.
pub struct Planner {
    ctx: SessionContext,
    /// Local paths are read through a store of another machine's files.
    remote: bool,
}

enum PathKind {
    File,
    Directory,
    Missing,
    /// The machine that will run the plan refused to say (for example, not allowed).
    Unreadable(String),
    /// The store refused these credentials (wrong, unknown, or without the permission).
    Refused(String),
}

impl Default for Planner {
    fn default() -> Self {
        Planner::new(None)
    }
}

impl Planner {
    /// A planner reading local paths from `file_store` (`None`: this machine's files).
    pub fn new(file_store: Option<Arc<dyn ObjectStore>>) -> Self {
        // The session `plan` and `run` compile with, so that `check` plans as they will.
        let ctx = crate::sql::compile_context(&aqueducts_runtime::RunSettings::default()).unwrap_or_else(|_| {
            let mut config = SessionConfig::new().with_information_schema(false);
            // Spans let DataFusion attach positions to planning errors ("no column x here").
            config.options_mut().sql_parser.collect_spans = true;
            aqueducts_runtime::configure_types(&mut config);
            SessionContext::new_with_config(config)
        });
        let remote = file_store.is_some();
        if let Some(store) = file_store {
            ctx.register_object_store(ObjectStoreUrl::local_filesystem().as_ref(), store);
        }
        Planner { ctx, remote }
    }

    /// Whether `path` is a file, a directory, or neither, where the plan will run.
    async fn kind_of(&self, path: &Path) -> PathKind {
        if !self.remote {
            return match std::fs::metadata(path) {
                Ok(meta) if meta.is_dir() => PathKind::Directory,
                Ok(_) => PathKind::File,
                Err(_) => PathKind::Missing,
            };
        }
        let Ok(location) = object_store::path::Path::from_absolute_path(path) else { return PathKind::Missing };
        let Ok(store) = self.ctx.runtime_env().object_store(ObjectStoreUrl::local_filesystem()) else {
            return PathKind::Missing;
        };
        kind_in_store(store.as_ref(), &location).await
    }

    /// Builds an object store from its descriptor (secrets from this process's
    /// environment) and registers it for reading schemas and listings.
    pub fn register_store(
        &self,
        descriptor: &aqueducts_runtime::io::stores::StoreDescriptor,
    ) -> Result<(), StoreError> {
        let url = url::Url::parse(&descriptor.url)
            .map_err(|e| StoreError::Build { url: descriptor.url.clone(), message: e.to_string() })?;
        let store = aqueducts_runtime::io::stores::build(descriptor)?;
        self.ctx.register_object_store(&url, store);
        Ok(())
    }

    /// Whether a store for `url` is registered.
    pub fn has_store(&self, url: &url::Url) -> bool {
        let store_url = aqueducts_runtime::io::stores::store_url(url);
        ObjectStoreUrl::parse(store_url).is_ok_and(|u| self.ctx.runtime_env().object_store(u).is_ok())
    }

    /// Reads the schema of a file or directory on an object store from its data.
    pub async fn infer_url_schema(
        &self,
        format: &SourceFileFormat,
        url: &url::Url,
        directory: bool,
    ) -> Result<SchemaRef, SourceProblem> {
        let shown = redact_location(url.as_str());
        let problem = |message: String, label: &str, help: &str| SourceProblem {
            message,
            label: label.into(),
            help: help.into(),
        };
        let store_url = ObjectStoreUrl::parse(aqueducts_runtime::io::stores::store_url(url)).map_err(|e| {
            problem(format!("`{shown}` is not a store URL: {e}"), "not a store URL", "check the location")
        })?;
        let store = self.ctx.runtime_env().object_store(&store_url).map_err(|e| {
            problem(
                format!("no store for `{shown}`: {}", first_line(&e.strip_backtrace())),
                "no store",
                "check the location",
            )
        })?;
        let location = object_store::path::Path::from_url_path(url.path()).map_err(|e| {
            problem(format!("`{shown}` is not a valid object path: {e}"), "invalid path", "check the location")
        })?;
        match kind_in_store(store.as_ref(), &location).await {
            PathKind::Unreadable(reason) => {
                return Err(problem(
                    format!("cannot read `{shown}`: {}", redact_location(&reason)),
                    "unreadable",
                    "check that the bucket or container exists, and the credentials in `storage_config` (or the cloud's environment variables)",
                ));
            }
            PathKind::Refused(reason) => {
                return Err(problem(
                    format!("the store refused the credentials for `{shown}`: {}", redact_location(&reason)),
                    "access refused",
                    "check the credentials in `storage_config` (or the cloud's environment variables), and that they may read this location",
                ));
            }
            PathKind::Missing => {
                return Err(problem(
                    format!("`{shown}` does not exist"),
                    "no such object or prefix",
                    "check the bucket and the path",
                ));
            }
            PathKind::Directory if !directory => {
                return Err(problem(
                    format!("`{shown}` is a prefix of several objects, not one"),
                    "a directory",
                    "use `type: directory` to read every file in it",
                ));
            }
            PathKind::File if directory => {
                return Err(problem(
                    format!("`{shown}` is one object, not a directory"),
                    "not a directory",
                    "use `type: file` for a single file",
                ));
            }
            _ => {}
        }
        let mut text = url.to_string();
        if directory && !text.ends_with('/') {
            text.push('/');
        }
        self.infer_listing_schema(format, &shown, &text, directory).await
    }

    /// Infers the schema of the files at `url` (a path or a URL; a directory ends in
    /// `/`); `shown` names it in messages.
    async fn infer_listing_schema(
        &self,
        format: &SourceFileFormat,
        shown: &str,
        url: &str,
        directory: bool,
    ) -> Result<SchemaRef, SourceProblem> {
        let unreadable = |e: DataFusionError| SourceProblem {
            message: format!(
                "cannot read the schema of `{shown}`: {}",
                redact_location(first_line(&e.strip_backtrace()))
            ),
            label: "unreadable".into(),
            help: format!("check that it holds {} data, or declare `schema:` in the format options", format.name()),
        };
        let table_url = ListingTableUrl::parse(url).map_err(unreadable)?;
        let extension = if directory { format!(".{}", format.name()) } else { String::new() };
        let options = ListingOptions::new(Self::file_format(format)).with_file_extension(extension);
        options.infer_schema(&self.ctx.state(), &table_url).await.map_err(unreadable)
    }
}

/// Whether `location` is an object, a prefix of objects, or neither, in `store`.
async fn kind_in_store(store: &dyn ObjectStore, location: &object_store::path::Path) -> PathKind {
    // Listing errors come back as `Generic` with the status in their text.
    let failed = |error: object_store::Error| match error {
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
            PathKind::Refused(error.to_string())
        }
        other => {
            let text = other.to_string();
            if text.contains("403 Forbidden") || text.contains("401 Unauthorized") {
                PathKind::Refused(text)
            } else {
                PathKind::Unreadable(text)
            }
        }
    };
    match store.head(location).await {
        Ok(_) => return PathKind::File,
        Err(object_store::Error::NotFound { .. }) => {}
        Err(other) => return failed(other),
    }
    match store.list_with_delimiter(Some(location)).await {
        Ok(listing) if listing.objects.is_empty() && listing.common_prefixes.is_empty() => PathKind::Missing,
        Ok(_) => PathKind::Directory,
        Err(object_store::Error::NotFound { .. }) => PathKind::Missing,
        Err(other) => failed(other),
    }
}

impl Planner {
    pub fn state(&self) -> SessionState {
        self.ctx.state()
    }

    /// The file format DataFusion reads a source with.
    pub fn file_format(format: &SourceFileFormat) -> Arc<dyn FileFormat> {
        match format {
            SourceFileFormat::Csv(o) => Arc::new(
                CsvFormat::default()
                    .with_has_header(o.has_header)
                    .with_delimiter(u8::try_from(o.delimiter.value).unwrap_or(b',')),
            ),
            SourceFileFormat::Parquet(_) => Arc::new(ParquetFormat::default()),
            SourceFileFormat::Json(_) => Arc::new(JsonFormat::default()),
        }
    }

    /// Reads the schema of a local file or directory source from its data.
    pub async fn infer_file_schema(
        &self,
        format: &SourceFileFormat,
        path: &Path,
        directory: bool,
    ) -> Result<SchemaRef, SourceProblem> {
        let shown = path.display().to_string();
        let kind = self.kind_of(path).await;
        if let PathKind::Unreadable(reason) | PathKind::Refused(reason) = &kind {
            return Err(SourceProblem {
                message: format!("cannot read `{shown}`: {reason}"),
                label: "unreadable".into(),
                help: "check the location and what the executor allows (`--allow-location`)".into(),
            });
        }
        if let PathKind::Missing = kind {
            return Err(SourceProblem {
                message: format!("`{shown}` does not exist"),
                label: "no such file or directory".into(),
                help: "check the path; relative locations resolve against the working directory".into(),
            });
        }
        let is_dir = matches!(kind, PathKind::Directory);
        if directory && !is_dir {
            return Err(SourceProblem {
                message: format!("`{shown}` is a file, not a directory"),
                label: "not a directory".into(),
                help: "use `type: file` for a single file".into(),
            });
        }
        if !directory && is_dir {
            return Err(SourceProblem {
                message: format!("`{shown}` is a directory, not a file"),
                label: "a directory".into(),
                help: "use `type: directory` to read every file in it".into(),
            });
        }
        let mut url_text = shown.clone();
        if directory && !url_text.ends_with('/') {
            url_text.push('/');
        }
        self.infer_listing_schema(format, &shown, &url_text, directory).await
    }

    pub fn register(&self, name: &str, provider: Arc<dyn TableProvider>) {
        let _ = self.ctx.deregister_table(TableReference::bare(name));
        let _ = self.ctx.register_table(TableReference::bare(name), provider);
    }

    /// Registers a table with a schema and no rows: enough to plan queries against it.
    pub fn register_schema(&self, name: &str, schema: SchemaRef) {
        self.register(name, Arc::new(EmptyTable::new(schema)));
    }

    /// Plans one stage's query against what is registered, logically and then physically
    /// (as `run` will), so what cannot run is found here. A panic inside DataFusion
    /// becomes an error rather than taking `check` down.
    pub fn plan_stage(&self, query: &ParsedQuery) -> Result<LogicalPlan, DataFusionError> {
        let state = self.ctx.state();
        let planned =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| futures::executor::block_on(query.plan(&state))));
        let plan = match planned {
            Ok(result) => result?,
            Err(_) => return Err(DataFusionError::Internal("DataFusion panicked while planning this query".into())),
        };
        // The analyzer applies type coercion (type errors surface here, not at run time),
        // the optimizer decorrelates subqueries, and the physical planner refuses what
        // nothing can execute (an outer reference left in a plan, say).
        let physical = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures::executor::block_on(state.create_physical_plan(&plan))
        }));
        // ... and what cannot be stored in a plan artifact is found here too.
        match physical {
            Ok(result) => aqueducts_runtime::artifact::storable(&result?).map(|()| plan),
            Err(_) => Err(DataFusionError::Internal("DataFusion panicked while planning this query".into())),
        }
    }

    /// Registers a planned stage for the stages that read it. Only its schema is
    /// needed, so later stages are planned on their own rather than with every
    /// upstream plan inlined (which would make checking quadratic in the depth).
    pub fn register_stage(&self, name: &str, plan: &LogicalPlan) {
        self.register_schema(name, Arc::new(plan.schema().as_arrow().clone()));
    }
}

pub(crate) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The Arrow schema of declared fields; `None` when a type does not parse (that is
/// reported on its own).
pub fn declared_schema(fields: &[Field]) -> Option<Schema> {
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let data_type = parse_data_type(&field.data_type).ok()?;
        let mut arrow = ArrowField::new(field.name.value.clone(), data_type, field.nullable);
        if !field.metadata.is_empty() {
            arrow = arrow.with_metadata(field.metadata.clone().into_iter().collect());
        }
        out.push(arrow);
    }
    Some(Schema::new(out))
}

/// A schema with the partition columns appended (as hive-partitioned tables show them).
pub fn with_partitions(schema: &Schema, partitions: &[PartitionColumn]) -> Option<Schema> {
    let mut fields: Vec<ArrowField> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for column in partitions {
        let data_type = parse_data_type(&column.data_type).ok()?;
        fields.push(ArrowField::new(column.name.value.clone(), data_type, true));
    }
    Some(Schema::new(fields))
}

/// The place of a DataFusion planning error in the SQL text, if DataFusion knows it.
pub fn error_range(error: &DataFusionError, sql: &str) -> Option<Range<usize>> {
    let span = error.diagnostic()?.span?;
    span_range(sql, span)
}

pub fn span_range(sql: &str, span: datafusion::common::Span) -> Option<Range<usize>> {
    if span.start.line == 0 {
        return None;
    }
    let start = crate::source::offset_of(sql, span.start.line as usize, span.start.column as usize);
    let end = crate::source::offset_of(sql, span.end.line as usize, span.end.column as usize);
    Some(start..end.max(start))
}

/// A location fit for messages: credentials in the user part of a URL (`user:pass@`)
/// and the whole query string (signatures, tokens) are masked.
pub fn redact_location(location: &str) -> String {
    let (base, query) = match location.split_once('?') {
        Some((base, _)) => (base, "?***"),
        None => (location, ""),
    };
    if let Some((scheme, rest)) = base.split_once("://") {
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{scheme}://***@{}{query}", &rest[at + 1..]);
        }
    }
    format!("{base}{query}")
}

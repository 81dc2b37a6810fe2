//! Sources as DataFusion tables: listing tables over local files, directories and object
//! stores (with their schemas and hive partitions), ODBC queries, and Delta tables at
//! the version `check` opened.

use std::path::Path;
use std::sync::Arc;

use aqueducts_runtime::io::delta::DeltaSourceTable;
use aqueducts_runtime::io::odbc::{ConnectionString, OdbcTable};
use aqueducts_runtime::io::stores::normalize_location;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;

use super::errors::unsupported;
use crate::checked::Spec;
use crate::datatype::parse_data_type;
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::{Location, Planner, first_line, redact_location, resolve_location};
use crate::spec::{Source, Spanned};
use crate::sql::normalize_name;

pub(super) async fn register_source(
    spec: &Spec,
    index: usize,
    source: &Source,
    ctx: &SessionContext,
    base_dir: &Path,
) -> Result<(), Diagnostic> {
    let table = match (source, spec.delta_tables.get(&index)) {
        (Source::Delta(delta), Some(table)) => {
            let scan = DeltaSourceTable::new(table, Arc::new(ctx.state())).await.map_err(|e| {
                Diagnostic::error(
                    Code::SourceUnreadable,
                    format!("cannot read Delta source `{}`: {}", delta.name.value, e.strip_backtrace()),
                )
                .label(delta.location.span.clone(), "this table")
            })?;
            Arc::new(scan) as Arc<dyn TableProvider>
        }
        _ => source_table(spec, index, source, base_dir)?,
    };
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
            let connection = ConnectionString::new(&s.connection_string.value);
            let query = s.load_query.value.clone();
            return Ok(Arc::new(OdbcTable::new(connection, query, schema)));
        }
        other => {
            return Err(unsupported(
                other.name(),
                format!("`run` cannot read {} sources yet", other.kind()),
                "file, directory, ODBC and Delta sources run today; in-memory sources are being added",
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
/// in the form the store is registered under (see `aqueducts_runtime::io::stores`).
pub(super) fn location_url(location: &Spanned<String>, base_dir: &Path) -> Result<String, Diagnostic> {
    match resolve_location(&location.value, base_dir) {
        Location::Local(path) => Ok(path.display().to_string()),
        Location::Url(url) => match normalize_location(&url) {
            Ok((url, _)) => Ok(url.to_string()),
            Err(error) => Err(unsupported(location, redact_location(&error.to_string()), "check the location")),
        },
    }
}

//! Pointing a compiled file write at a staging location.
//!
//! A compiled pipeline writes its final stage with a DataFusion sink whose path is the
//! destination itself. Just before running it, the runtime rebuilds that sink with the
//! same options but a staging path, so the destination is replaced only when the write
//! is complete, whether the plan was compiled now or read from an artifact. Local
//! destinations are staged by [`super::local`], destinations on object stores by
//! [`super::object_store`].

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::csv::WriterBuilder;
use datafusion::common::file_options::csv_writer::CsvWriterOptions;
use datafusion::datasource::file_format::csv::CsvSink;
use datafusion::datasource::file_format::json::JsonSink;
use datafusion::datasource::file_format::parquet::ParquetSink;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::datasource::physical_plan::FileSinkConfig;
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;

use datafusion::prelude::SessionContext;

use super::local::Staging;
use super::object_store::ObjectStaging;
use super::staged::Staged;

/// The URL a write plan targets.
pub fn target_url(write: &Arc<dyn ExecutionPlan>) -> Result<String> {
    let config = sink_config(write)?;
    let url = config.table_paths.first().ok_or_else(|| DataFusionError::Plan("the write has no output path".into()))?;
    Ok(url.as_str().to_string())
}

/// The local path a write plan targets.
fn target_path(write: &Arc<dyn ExecutionPlan>) -> Result<PathBuf> {
    let text = target_url(write)?;
    let path = text
        .strip_prefix("file://")
        .ok_or_else(|| DataFusionError::NotImplemented(format!("writing to `{text}` is not supported yet")))?;
    let decoded = percent_decode(path.trim_end_matches('/'));
    Ok(PathBuf::from(decoded))
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn sink_exec(write: &Arc<dyn ExecutionPlan>) -> Result<&DataSinkExec> {
    write
        .as_ref()
        .downcast_ref::<DataSinkExec>()
        .ok_or_else(|| DataFusionError::Plan("the destination plan is not a file write".into()))
}

pub(crate) fn sink_config(write: &Arc<dyn ExecutionPlan>) -> Result<FileSinkConfig> {
    let any = sink_exec(write)?.sink();
    if let Some(s) = any.downcast_ref::<ParquetSink>() {
        Ok(datafusion::datasource::physical_plan::FileSink::config(s).clone())
    } else if let Some(s) = any.downcast_ref::<CsvSink>() {
        Ok(datafusion::datasource::physical_plan::FileSink::config(s).clone())
    } else if let Some(s) = any.downcast_ref::<JsonSink>() {
        Ok(datafusion::datasource::physical_plan::FileSink::config(s).clone())
    } else {
        Err(DataFusionError::NotImplemented("this kind of destination write is not supported".into()))
    }
}

/// The same write, into a fresh staging location for its destination.
pub async fn stage_write(
    write: &Arc<dyn ExecutionPlan>,
    ctx: &SessionContext,
) -> Result<(Arc<dyn ExecutionPlan>, Staged)> {
    let exec = sink_exec(write)?;
    let mut config = sink_config(write)?;
    let directory = config.table_paths.first().is_some_and(|u| u.as_str().ends_with('/'));
    let (staged_url, staged) = if config.object_store_url.as_str().starts_with("file://") {
        let target = target_path(write)?;
        let staging = Staging::new(&target, directory)
            .map_err(|e| DataFusionError::Execution(format!("cannot prepare `{}`: {e}", target.display())))?;
        // A URL, not a path: a path is read as a glob, and `[`, `*` or `?` in a name
        // would cut it short and send the write to a parent directory.
        let url = if directory {
            url::Url::from_directory_path(staging.path())
        } else {
            url::Url::from_file_path(staging.path())
        }
        .map_err(|()| DataFusionError::Execution(format!("`{}` is not an absolute path", staging.path().display())))?;
        (url.to_string(), Staged::Local(staging))
    } else {
        let store = ctx.runtime_env().object_store(&config.object_store_url)?;
        let table =
            config.table_paths.first().ok_or_else(|| DataFusionError::Plan("the write has no output path".into()))?;
        let target = table.prefix().clone();
        let store_url = config.object_store_url.as_str().to_string();
        let staging = ObjectStaging::new(store, &store_url, target, directory).await?;
        (staging.url(), Staged::Object(staging))
    };
    let parsed = url::Url::parse(&staged_url).map_err(|e| DataFusionError::Execution(e.to_string()))?;
    config.table_paths = vec![ListingTableUrl::try_new(parsed, None)?];
    config.original_url = staged_url;
    let any = exec.sink();
    let sink: Arc<dyn DataSink> = if let Some(s) = any.downcast_ref::<ParquetSink>() {
        Arc::new(ParquetSink::new(config, s.parquet_options().clone()))
    } else if let Some(s) = any.downcast_ref::<CsvSink>() {
        Arc::new(CsvSink::new(config, without_empty_formats(s.writer_options())))
    } else if let Some(s) = any.downcast_ref::<JsonSink>() {
        Arc::new(JsonSink::new(config, s.writer_options().clone()))
    } else {
        return Err(DataFusionError::NotImplemented("this kind of destination write is not supported".into()));
    };
    let staged_exec = DataSinkExec::new(exec.input().clone(), sink, exec.sort_order().clone());
    Ok((Arc::new(staged_exec), staged))
}

/// The CSV writer options with empty date and time formats removed.
///
/// DataFusion's proto decoding turns an unset format into `Some("")`, with which Arrow
/// writes every date as an empty string; an empty format never means anything else.
fn without_empty_formats(options: &CsvWriterOptions) -> CsvWriterOptions {
    let w = &options.writer_options;
    let mut builder = WriterBuilder::new()
        .with_header(w.header())
        .with_delimiter(w.delimiter())
        .with_quote(w.quote())
        .with_escape(w.escape())
        .with_double_quote(w.double_quote())
        .with_quote_style(w.quote_style())
        .with_null(w.null().to_string())
        .with_ignore_leading_whitespace(w.ignore_leading_whitespace())
        .with_ignore_trailing_whitespace(w.ignore_trailing_whitespace());
    let keep = |format: Option<&str>| format.filter(|f| !f.is_empty()).map(str::to_string);
    if let Some(f) = keep(w.date_format()) {
        builder = builder.with_date_format(f);
    }
    if let Some(f) = keep(w.datetime_format()) {
        builder = builder.with_datetime_format(f);
    }
    if let Some(f) = keep(w.time_format()) {
        builder = builder.with_time_format(f);
    }
    if let Some(f) = keep(w.timestamp_format()) {
        builder = builder.with_timestamp_format(f);
    }
    if let Some(f) = keep(w.timestamp_tz_format()) {
        builder = builder.with_timestamp_tz_format(f);
    }
    CsvWriterOptions {
        writer_options: builder,
        compression: options.compression,
        compression_level: options.compression_level,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_decoding_keeps_odd_input() {
        assert_eq!(super::percent_decode("/a%20b/%E2%82%AC"), "/a b/€");
        assert_eq!(super::percent_decode("/x%2"), "/x%2");
        assert_eq!(super::percent_decode("/x%é"), "/x%é");
    }
}

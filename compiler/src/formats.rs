//! Format options of the spec as DataFusion's writer options; used by `check` (to report
//! bad options where they are written) and by lowering (to write with them).

use datafusion::common::config::{ConfigField, TableParquetOptions};

use crate::diagnostic::{Code, Diagnostic};
use crate::plan::first_line;
use crate::spec::Spanned;

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

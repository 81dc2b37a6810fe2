//! Format options: CSV delimiters and compression, Parquet writer options, Delta time
//! travel.

use super::context::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::formats::parquet_options;
use crate::spec::de::quoted_list;
use crate::spec::{Destination, DestinationFileFormat, Pipeline, Source, SourceFileFormat, Spanned};
use crate::suggest;

impl Checker<'_> {
    pub(super) fn check_options(&mut self, pipeline: &Pipeline) {
        let mut problems = Vec::new();
        for source in &pipeline.sources {
            let format = match source {
                Source::File(s) => Some(&s.format),
                Source::Directory(s) => Some(&s.format),
                _ => None,
            };
            if let Some(SourceFileFormat::Csv(o)) = format {
                problems.extend(check_delimiter(&o.delimiter));
            }
            if let Source::Delta(d) = source {
                if let Some(ts) = &d.timestamp
                    && chrono::DateTime::parse_from_rfc3339(ts.value.trim()).is_err()
                    && !self.poisoned(ts)
                {
                    problems.push(
                        Diagnostic::error(Code::InvalidValue, format!("`{}` is not an RFC 3339 timestamp", ts.value))
                            .label(ts.span.clone(), "not RFC 3339")
                            .help("write a time with its offset, for example `2024-05-01T12:00:00Z`"),
                    );
                }
                if let Some(version) = &d.version
                    && version.value < 0
                {
                    problems.push(
                        Diagnostic::error(Code::InvalidValue, format!("{} is not a table version", version.value))
                            .label(version.span.clone(), "a negative version")
                            .help("versions count from 0, the commit that created the table"),
                    );
                }
                if d.version.is_some() && d.timestamp.is_some() {
                    problems.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            "a delta source takes `version` or `timestamp`, not both",
                        )
                        .label(d.name.span.clone(), "in this source")
                        .help("remove one of them"),
                    );
                }
            }
        }
        if let Some(Destination::File(d)) = &pipeline.destination
            && let DestinationFileFormat::Parquet(settings) = &d.format
            && let Err(problem) = parquet_options(settings)
        {
            problems.push(problem);
        }
        if let Some(Destination::File(d)) = &pipeline.destination
            && let DestinationFileFormat::Csv(o) = &d.format
        {
            problems.extend(check_delimiter(&o.delimiter));
            if let Some(c) = &o.compression {
                const CODECS: &[&str] = &["gzip", "bzip2", "xz", "zstd", "uncompressed"];
                if !CODECS.contains(&c.value.to_lowercase().as_str()) {
                    let help = suggest::help(&c.value, CODECS.iter().copied())
                        .or(format!("use one of {}", quoted_list(CODECS)));
                    problems.push(
                        Diagnostic::error(Code::InvalidValue, format!("unknown CSV compression `{}`", c.value))
                            .label(c.span.clone(), "unknown compression")
                            .help(help),
                    );
                }
            }
        }
        self.diagnostics.extend(problems);
    }
}

fn check_delimiter(delimiter: &Spanned<char>) -> Option<Diagnostic> {
    (!delimiter.value.is_ascii()).then(|| {
        Diagnostic::error(
            Code::InvalidValue,
            format!("the CSV delimiter `{}` is not an ASCII character", delimiter.value),
        )
        .label(delimiter.span.clone(), "not ASCII")
        .help("use an ASCII delimiter such as `,`, `;`, `|` or a tab")
    })
}

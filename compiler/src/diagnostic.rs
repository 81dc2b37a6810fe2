//! Diagnostics: what went wrong, where in the file, and how to fix it.
//!
//! Every diagnostic carries a stable [`Code`] (documented in `docs/diagnostics.md`),
//! labels that point at byte ranges of the original file, and help that teaches the fix.
//! They render through miette for people and as JSON for tools.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::source::{SourceFile, ceil_char_boundary, floor_char_boundary, line_col};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Advice,
}

/// The kinds of diagnostics. The names are stable: tools and docs refer to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Syntax,
    UnknownKey,
    MissingKey,
    DuplicateKey,
    InvalidType,
    InvalidValue,
    InvalidDataType,
    DuplicateName,
    NoStages,
    InvalidTemplate,
    MissingParameter,
    UnusedParameter,
    SqlSyntax,
    UnsupportedStatement,
    UnknownTable,
    DependencyCycle,
    SqlPlan,
    SourceUnreadable,
    SchemaUnknown,
    UnknownPartitionColumn,
    DestinationSchema,
    UnusedStage,
    UnusedSource,
    Unsupported,
    RunFailed,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::Syntax,
        Code::UnknownKey,
        Code::MissingKey,
        Code::DuplicateKey,
        Code::InvalidType,
        Code::InvalidValue,
        Code::InvalidDataType,
        Code::DuplicateName,
        Code::NoStages,
        Code::InvalidTemplate,
        Code::MissingParameter,
        Code::UnusedParameter,
        Code::SqlSyntax,
        Code::UnsupportedStatement,
        Code::UnknownTable,
        Code::DependencyCycle,
        Code::SqlPlan,
        Code::SourceUnreadable,
        Code::SchemaUnknown,
        Code::UnknownPartitionColumn,
        Code::DestinationSchema,
        Code::UnusedStage,
        Code::UnusedSource,
        Code::Unsupported,
        Code::RunFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Code::Syntax => "syntax",
            Code::UnknownKey => "unknown-key",
            Code::MissingKey => "missing-key",
            Code::DuplicateKey => "duplicate-key",
            Code::InvalidType => "invalid-type",
            Code::InvalidValue => "invalid-value",
            Code::InvalidDataType => "invalid-data-type",
            Code::DuplicateName => "duplicate-name",
            Code::NoStages => "no-stages",
            Code::InvalidTemplate => "invalid-template",
            Code::MissingParameter => "missing-parameter",
            Code::UnusedParameter => "unused-parameter",
            Code::SqlSyntax => "sql-syntax",
            Code::UnsupportedStatement => "unsupported-statement",
            Code::UnknownTable => "unknown-table",
            Code::DependencyCycle => "dependency-cycle",
            Code::SqlPlan => "sql-plan",
            Code::SourceUnreadable => "source-unreadable",
            Code::SchemaUnknown => "schema-unknown",
            Code::UnknownPartitionColumn => "unknown-partition-column",
            Code::DestinationSchema => "destination-schema",
            Code::UnusedStage => "unused-stage",
            Code::UnusedSource => "unused-source",
            Code::Unsupported => "unsupported",
            Code::RunFailed => "run-failed",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "aqueducts::{}", self.name())
    }
}

/// A span of the file with an optional text shown next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Range<usize>,
    pub text: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic { code, severity: Severity::Error, message: message.into(), labels: Vec::new(), help: None }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message) }
    }

    pub fn advice(code: Code, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Advice, ..Diagnostic::error(code, message) }
    }

    pub fn label(mut self, span: Range<usize>, text: impl Into<String>) -> Self {
        self.labels.push(Label { span, text: Some(text.into()) });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The diagnostic bound to its file, ready for miette to render.
    pub fn located<'a>(&'a self, file: &'a SourceFile) -> Located<'a> {
        Located { diagnostic: self, file }
    }

    /// The diagnostic as a JSON value with 1-based lines and columns.
    pub fn to_json(&self, file: &SourceFile) -> serde_json::Value {
        let labels: Vec<_> = self
            .labels
            .iter()
            .map(|label| {
                let (line, column) = line_col(&file.text, label.span.start);
                let (end_line, end_column) = line_col(&file.text, label.span.end);
                serde_json::json!({
                    "line": line,
                    "column": column,
                    "end_line": end_line,
                    "end_column": end_column,
                    "offset": label.span.start,
                    "length": label.span.len(),
                    "text": label.text,
                })
            })
            .collect();
        let primary = self.labels.first().map(|l| line_col(&file.text, l.span.start));
        serde_json::json!({
            "code": self.code.name(),
            "severity": self.severity,
            "message": self.message,
            "file": file.name,
            "line": primary.map(|p| p.0),
            "column": primary.map(|p| p.1),
            "labels": labels,
            "help": self.help,
        })
    }
}

/// A [`Diagnostic`] with its source file, implementing [`miette::Diagnostic`].
#[derive(Debug)]
pub struct Located<'a> {
    diagnostic: &'a Diagnostic,
    file: &'a SourceFile,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Located<'_> {}

impl miette::Diagnostic for Located<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Advice => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.diagnostic.labels.is_empty() { None } else { Some(self.file) }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.diagnostic.labels.is_empty() {
            return None;
        }
        let text = &self.file.text;
        Some(Box::new(self.diagnostic.labels.iter().enumerate().map(move |(i, label)| {
            // Labels always cover whole characters, even if a position map ends mid-way.
            let start = floor_char_boundary(text, label.span.start.min(text.len()));
            let end = ceil_char_boundary(text, label.span.end.clamp(start, text.len()));
            let span = miette::SourceSpan::from(start..end);
            if i == 0 {
                miette::LabeledSpan::new_primary_with_span(label.text.clone(), span)
            } else {
                miette::LabeledSpan::new_with_span(label.text.clone(), span)
            }
        })))
    }
}

impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self.text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// Renders diagnostics as plain text (no colours, fixed width), the stable form that
/// snapshot tests compare and that `aqueducts check` prints when not on a terminal.
pub fn render_plain(diagnostics: &[Diagnostic], file: &SourceFile) -> String {
    render(diagnostics, file, false)
}

/// Renders diagnostics for people; `color` picks the coloured unicode theme.
pub fn render(diagnostics: &[Diagnostic], file: &SourceFile, color: bool) -> String {
    let theme = if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    // Snippets quote the file: passwords written into it are masked (same length, so
    // every position stays right).
    let mut masked = file.clone();
    masked.text = aqueducts_runtime::access::secrets::mask_credential_settings(
        &aqueducts_runtime::access::secrets::mask_passwords(&file.text),
    )
    .into();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let _ = handler.render_report(&mut out, &diagnostic.located(&masked));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod mask_tests {
    #[test]
    fn passwords_are_masked_in_place() {
        let text = "c: 'Driver=x;UID=me;PWD=s3cr\u{e9}t;Port=1'\nPassword={a;b}\n";
        let masked = aqueducts_runtime::access::secrets::mask_passwords(text);
        assert_eq!(masked.len(), text.len());
        assert_eq!(masked, "c: 'Driver=x;UID=me;PWD=*******;Port=1'\nPassword=*****\n");
    }
}

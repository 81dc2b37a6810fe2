//! A run's failure told as a diagnostic against its spec: the failing stage's query
//! quoted with the error, for a failure `check` could not foresee (it came from the data).

use crate::diagnostic::{Code, Diagnostic, render_plain};
use crate::parse::stage_query_span;
use crate::source::SourceFile;

/// The failure of stage `stage` with `message`, rendered (as `aqueducts check` renders
/// diagnostics) against `file`; `None` when the file does not have that stage.
pub fn run_failure_report(file: &SourceFile, stage: &str, message: &str) -> Option<String> {
    let span = stage_query_span(file, stage)?;
    // The runtime's message names the stage already; the headline names it once.
    let message = message.strip_prefix(&format!("stage `{stage}` failed: ")).unwrap_or(message);
    let diagnostic = Diagnostic::error(Code::RunFailed, format!("stage `{stage}` failed while running: {message}"))
        .label(span, "this query failed on the data")
        .help("the spec checked and compiled; the data made this query fail (a value that does not convert, a division by zero, a source that changed since compiling)");
    Some(render_plain(&[diagnostic], file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SpecFormat;

    #[test]
    fn the_failing_stage_is_quoted_in_any_format_and_in_groups() {
        let yaml = "sources: []\nstages:\n  - - name: first\n      query: SELECT 1 AS one\n  - - name: second\n      query: SELECT CAST(one AS INT) FROM first\n";
        let report = run_failure_report(&SourceFile::new("spec.yml", yaml, SpecFormat::Yaml), "second", "Cast error")
            .expect("the stage is found");
        assert!(report.contains("run-failed") && report.contains("Cast error"), "{report}");
        assert!(report.contains(" 6 │") && report.contains("SELECT CAST(one AS INT) FROM first"), "{report}");
        let json = r#"{"sources": [], "stages": [{"name": "only", "query": "SELECT 1/x FROM t"}]}"#;
        let report =
            run_failure_report(&SourceFile::new("spec.json", json, SpecFormat::Json), "only", "Divide by zero")
                .expect("the stage is found");
        assert!(report.contains("SELECT 1/x FROM t"), "{report}");
        let report = run_failure_report(
            &SourceFile::new("spec.json", json, SpecFormat::Json),
            "only",
            "stage `only` failed: Divide by zero",
        )
        .expect("the stage is found");
        assert!(report.contains("stage `only` failed while running: Divide by zero"), "{report}");
        assert!(run_failure_report(&SourceFile::new("spec.yml", yaml, SpecFormat::Yaml), "third", "x").is_none());
        assert!(run_failure_report(&SourceFile::new("spec.yml", "stages: [", SpecFormat::Yaml), "x", "x").is_none());
    }
}

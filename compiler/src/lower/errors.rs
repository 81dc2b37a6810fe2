//! The diagnostics lowering gives: a stage that passed `check` and still cannot be
//! planned (a bug to report), and parts `run` does not support yet.

use crate::diagnostic::{Code, Diagnostic};
use crate::plan::first_line;
use crate::spec::Spanned;

pub(super) fn stage_error(name: &Spanned<String>, what: &str, message: &str) -> Diagnostic {
    Diagnostic::error(Code::SqlPlan, format!("stage `{}`: {what}: {}", name.value, first_line(message)))
        .label(name.span.clone(), "in this stage")
        .help("this stage passed `check`; please report it with the spec that shows it")
}

pub(super) fn unsupported(span: &Spanned<String>, what: String, help: &str) -> Diagnostic {
    Diagnostic::error(Code::Unsupported, what)
        .label(span.span.clone(), "not supported by `run` yet")
        .help(help.to_string())
}

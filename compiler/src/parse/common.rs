//! What the three parsers share: the nesting limit and the syntax diagnostics.

use crate::diagnostic::{Code, Diagnostic};

/// Deeper nesting than this is refused: no pipeline needs it, and it keeps recursion
/// (and the drop of the tree) far from the stack limit on hostile input.
pub(crate) const MAX_DEPTH: usize = 128;

pub(crate) fn syntax_error(
    format: &str,
    message: impl Into<String>,
    at: std::ops::Range<usize>,
    label: &str,
) -> Diagnostic {
    Diagnostic::error(Code::Syntax, format!("invalid {format}: {}", message.into())).label(at, label.to_string())
}

pub(crate) fn too_deep(format: &str, at: std::ops::Range<usize>) -> Diagnostic {
    syntax_error(format, format!("nesting deeper than {MAX_DEPTH} levels"), at, "too deep")
        .help("a pipeline spec never needs this much nesting; check for a runaway structure")
}

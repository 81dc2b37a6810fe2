//! What `check` returns: every diagnostic, and the checked spec when there are no errors.

use crate::checked::Spec;
use crate::diagnostic::{Diagnostic, Severity};

/// The outcome of `check`: diagnostics sorted by position, and the spec when valid.
pub struct CheckReport {
    pub diagnostics: Vec<Diagnostic>,
    pub spec: Option<Spec>,
}

impl CheckReport {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == severity).count()
    }
}

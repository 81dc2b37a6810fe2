//! The checker's state, shared by every phase: what `check` was given, the diagnostics
//! so far, the spec's string table and the names of parts that could not be read.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use aqueducts_runtime::io::odbc::{Describer, LocalDescriber};
use deltalake_core::DeltaTable;
use object_store::ObjectStore;

use super::report::CheckReport;
use crate::checked::Spec;
use crate::diagnostic::Diagnostic;
use crate::node::Text;
use crate::spec::Spanned;

/// What `check` needs besides the file.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Template parameters (`--param k=v`).
    pub params: BTreeMap<String, String>,
    /// Relative locations resolve against this directory (the working directory).
    pub base_dir: PathBuf,
    /// Where local paths are read from while checking: `None` is this machine's file
    /// system; compiling for an executor passes a store that reads the executor's files.
    pub file_store: Option<Arc<dyn ObjectStore>>,
    /// Who describes ODBC queries without a declared schema: this machine, or the
    /// executor the plan is compiled for.
    pub odbc_describer: Arc<dyn Describer>,
}

impl CheckOptions {
    pub fn new(params: BTreeMap<String, String>, base_dir: PathBuf) -> Self {
        CheckOptions { params, base_dir, file_store: None, odbc_describer: Arc::new(LocalDescriber) }
    }
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions::new(BTreeMap::new(), std::env::current_dir().unwrap_or_default())
    }
}

/// One check of one file. Each phase is an `impl Checker` block in a file of its own.
pub(super) struct Checker<'a> {
    pub(super) options: &'a CheckOptions,
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) texts: Vec<Text>,
    /// Names of sources and stages that could not be read (already reported).
    pub(super) broken_names: BTreeSet<String>,
    /// The Delta sources opened while planning, by source index.
    pub(super) delta_tables: BTreeMap<usize, DeltaTable>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(options: &'a CheckOptions) -> Self {
        Checker {
            options,
            diagnostics: Vec::new(),
            texts: Vec::new(),
            broken_names: BTreeSet::new(),
            delta_tables: BTreeMap::new(),
        }
    }

    pub(super) fn report(self, spec: Option<Spec>) -> CheckReport {
        let spec = if self.diagnostics.iter().any(Diagnostic::is_error) { None } else { spec };
        CheckReport { diagnostics: self.diagnostics, spec }
    }

    pub(super) fn text<T>(&self, spanned: &Spanned<T>) -> Option<&Text> {
        spanned.text.and_then(|i| self.texts.get(i))
    }

    /// The file range of bytes `range` of a spanned string's value.
    pub(super) fn range_in<T>(&self, spanned: &Spanned<T>, range: Range<usize>) -> Range<usize> {
        match self.text(spanned) {
            Some(text) => text.map.range(range),
            None => spanned.span.clone(),
        }
    }

    pub(super) fn poisoned<T>(&self, spanned: &Spanned<T>) -> bool {
        self.text(spanned).is_some_and(|t| t.poisoned)
    }
}

//! The grammar corpus: spec files in `cases/`, each with the exact diagnostics that
//! `aqueducts check` must print for it in `cases/<name>.expected`.
//!
//! `tests/corpus.rs` runs every case and compares. After an intended change to
//! diagnostics, regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p aqueducts-grammar-tests`
//! and review the diff. A case may have `cases/<name>.params` with one `name=value`
//! per line. Relative locations in cases resolve against this crate's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aqueducts_compiler::diagnostic::render_plain;
use aqueducts_compiler::{CheckOptions, Severity, SourceFile, SpecFormat, check};

/// The directory of the corpus.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

/// Every spec file of the corpus, sorted.
pub fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| SpecFormat::from_path(p).is_some());
    files.sort();
    files
}

/// Checks one case and renders the outcome as its snapshot text.
pub async fn run_case(path: &Path) -> String {
    let base_dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let name = format!("cases/{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let format = SpecFormat::from_path(path).unwrap_or(SpecFormat::Yaml);
    let file = SourceFile::new(name, text, format);
    let mut params = BTreeMap::new();
    if let Ok(lines) = std::fs::read_to_string(path.with_extension("params")) {
        for line in lines.lines().filter(|l| !l.trim().is_empty()) {
            if let Some((k, v)) = line.split_once('=') {
                params.insert(k.trim().to_string(), v.to_string());
            }
        }
    }
    let report = check(&file, &CheckOptions::new(params, base_dir.clone())).await;
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let mut out = render_plain(&report.diagnostics, &file);
    out.push_str(&match errors {
        0 => format!("result: valid, {warnings} warning(s)\n"),
        n => format!("result: {n} error(s), {warnings} warning(s)\n"),
    });
    // Absolute paths differ between machines.
    out.replace(&base_dir.display().to_string(), "<base>")
}

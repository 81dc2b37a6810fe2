//! The SQL conformance corpus: everyday analytical SQL, each case run as an Aqueducts
//! pipeline and compared with DuckDB's answer on the same data.
//!
//! This crate reads the case files of `cases/` ([`load_cases`]), turns a case into a
//! pipeline over the Parquet tables that `reference.py prepare` writes ([`spec_for`]),
//! and runs it the way `aqueducts run --file` does: check, lower, encode the plan
//! artifact, decode it in a fresh session (as an executor would) and execute it
//! ([`run_case`]). `tests/conformance.rs` drives it and hands the outputs to
//! `reference.py compare`. The format is described in `README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aqueducts_compiler::diagnostic::render;
use aqueducts_compiler::lower::lower;
use aqueducts_compiler::sql::compile_context;
use aqueducts_compiler::{CheckOptions, SourceFile, SpecFormat, check};
use aqueducts_runtime::{RunSettings, artifact, execute};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// The tables of `data.sql`, each a Parquet source of every case.
pub const TABLES: [&str; 9] =
    ["customers", "orders", "products", "order_items", "employees", "events", "edges", "nullable", "texts"];

/// One case of the corpus.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// The file the case is in, without its extension.
    pub category: String,
    /// Stage names and their SQL, in file order; the last one is written out.
    pub stages: Vec<(String, String)>,
    /// DuckDB's spelling of the final stage, where it differs.
    pub reference: Option<String>,
    /// Why the answer differs from DuckDB's on purpose.
    pub deviation: Option<String>,
}

impl Case {
    /// Whether the final query orders its rows at the top level, so that the order of
    /// the answer is part of the answer.
    pub fn ordered(&self) -> bool {
        let Some((_, sql)) = self.stages.last() else { return false };
        match Parser::parse_sql(&GenericDialect {}, sql).as_deref() {
            Ok([Statement::Query(query)]) => query.order_by.is_some(),
            _ => false,
        }
    }
}

/// The repository's `sql-tests/` folder.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every case of every file in `dir` (the files sorted by name).
pub fn load_cases(dir: &Path) -> Result<Vec<Case>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let category = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        cases.extend(parse_cases(&text, &category).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(cases)
}

/// The cases of one file's text.
pub fn parse_cases(text: &str, category: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    // The reference query of the current case, once `-- reference:` was seen.
    let mut reference: Option<String> = None;
    for (number, line) in text.lines().enumerate() {
        if let Some(name) = line.strip_prefix("-- case: ") {
            finish(cases.last_mut(), reference.take());
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return Err(format!("line {}: a case name is lower-case letters, digits and _", number + 1));
            }
            cases.push(Case {
                name: name.to_string(),
                category: category.to_string(),
                stages: Vec::new(),
                reference: None,
                deviation: None,
            });
            continue;
        }
        let Some(case) = cases.last_mut() else { continue };
        if let Some(sql) = reference.as_mut() {
            sql.push_str(line);
            sql.push('\n');
        } else if let Some(name) = line.strip_prefix("-- stage: ") {
            case.stages.push((name.trim().to_string(), String::new()));
        } else if let Some(reason) = line.strip_prefix("-- deviation: ") {
            case.deviation = Some(reason.trim().to_string());
        } else if line.trim() == "-- reference:" {
            reference = Some(String::new());
        } else {
            if case.stages.is_empty() {
                // Comments before the SQL describe the case.
                if line.trim().is_empty() || line.trim_start().starts_with("--") {
                    continue;
                }
                case.stages.push(("result".to_string(), String::new()));
            }
            if let Some((_, sql)) = case.stages.last_mut() {
                sql.push_str(line);
                sql.push('\n');
            }
        }
    }
    finish(cases.last_mut(), reference);
    for case in &cases {
        if case.stages.iter().any(|(_, sql)| sql.is_empty()) {
            return Err(format!("case {} has a stage without SQL", case.name));
        }
    }
    Ok(cases)
}

/// Trims a finished case's SQL: surrounding space and the closing `;`.
fn finish(case: Option<&mut Case>, reference: Option<String>) {
    let Some(case) = case else { return };
    let trim = |sql: &str| sql.trim().trim_end_matches(';').trim().to_string();
    for (_, sql) in &mut case.stages {
        *sql = trim(sql);
    }
    case.reference = reference.map(|sql| trim(&sql));
}

/// The pipeline of a case (JSON): every table of `data_dir` as a Parquet source, the
/// case's stages, and `output` as a Parquet destination.
pub fn spec_for(case: &Case, data_dir: &Path, output: &Path) -> String {
    let sources: Vec<serde_json::Value> = TABLES
        .iter()
        .map(|table| {
            serde_json::json!({
                "type": "file",
                "name": table,
                "format": { "type": "parquet", "options": {} },
                "location": data_dir.join(format!("{table}.parquet")),
            })
        })
        .collect();
    let stages: Vec<serde_json::Value> =
        case.stages.iter().map(|(name, sql)| serde_json::json!({ "name": name, "query": sql })).collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "version": "v2",
        "sources": sources,
        "stages": stages,
        "destination": {
            "type": "file",
            "name": "answer",
            "format": { "type": "parquet", "options": {} },
            "location": output,
        },
    }))
    .unwrap_or_default()
}

/// Runs a case as a pipeline writing `output`; the error is what a user would read.
pub async fn run_case(case: &Case, data_dir: &Path, output: &Path) -> Result<(), String> {
    let file = SourceFile::new(format!("{}.json", case.name), spec_for(case, data_dir, output), SpecFormat::Json);
    let options = CheckOptions::new(BTreeMap::new(), data_dir.to_path_buf());
    let report = check(&file, &options).await;
    let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
    if !errors.is_empty() {
        return Err(format!("check: {}", render(&errors, &file, false)));
    }
    let spec = report.spec.ok_or("check: no spec and no error")?;
    let compile = compile_context(&RunSettings::default()).map_err(|e| e.to_string())?;
    let executable = lower(&spec, &compile, data_dir)
        .await
        .map_err(|diagnostics| format!("compile: {}", render(&diagnostics, &file, false)))?;
    let bytes = artifact::encode(&executable).map_err(|e| format!("artifact: {e}"))?;
    // A fresh session decodes and runs, as on an executor: nothing the compiling
    // session set up can help.
    let run = RunSettings::default().session_context().map_err(|e| e.to_string())?;
    let decoded = artifact::decode(&bytes, &run.task_ctx()).map_err(|e| format!("decode: {e}"))?;
    execute(decoded, &run, &mut |_| {}).await.map(|_| ()).map_err(|e| format!("run: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_cases;

    #[test]
    fn case_files_read_stages_references_and_deviations() {
        let text = "-- what this file covers\n\n-- case: one\n-- about one\nSELECT 1;\n\n-- case: two\n-- stage: totals\nSELECT 2 AS x;\n-- stage: top\n-- a comment\nSELECT x FROM totals ORDER BY x;\n-- deviation: on purpose\n-- reference:\nSELECT 2 ORDER BY 1;\n";
        let cases = parse_cases(text, "misc").unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].stages, vec![("result".to_string(), "SELECT 1".to_string())]);
        assert!(!cases[0].ordered());
        assert_eq!(cases[1].stages[0], ("totals".to_string(), "SELECT 2 AS x".to_string()));
        assert_eq!(
            cases[1].stages[1],
            ("top".to_string(), "-- a comment\nSELECT x FROM totals ORDER BY x".to_string())
        );
        assert_eq!(cases[1].deviation.as_deref(), Some("on purpose"));
        assert_eq!(cases[1].reference.as_deref(), Some("SELECT 2 ORDER BY 1"));
        assert!(cases[1].ordered());
        assert!(parse_cases("-- case: Bad\nSELECT 1", "misc").is_err());
        assert!(parse_cases("-- case: empty\n-- stage: a\n", "misc").is_err());
    }
}

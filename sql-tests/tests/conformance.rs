//! Runs every case of the corpus as a pipeline and compares its answer with DuckDB's
//! (`reference.py compare`); prints the pass count by category and fails on any case
//! that does not match, unless the case is a documented deviation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aqueducts_sql_tests::{Case, corpus_dir, load_cases, run_case};

/// Planning recurses per operator: room as the CLI gives it.
const PLANNING_STACK: usize = 256 * 1024 * 1024;

/// The corpus keeps at least this many cases.
const MIN_CASES: usize = 300;

#[test]
fn corpus_matches_duckdb() {
    let cases = load_cases(&corpus_dir().join("cases")).expect("read the corpus");
    assert!(cases.len() >= MIN_CASES, "the corpus should hold at least {MIN_CASES} cases, found {}", cases.len());
    let mut names = std::collections::BTreeSet::new();
    for case in &cases {
        assert!(names.insert(case.name.clone()), "case name {} is used twice", case.name);
    }

    let scratch = tempfile::tempdir().expect("scratch directory");
    let data = scratch.path().join("data");
    let outputs = scratch.path().join("out");
    std::fs::create_dir_all(&outputs).unwrap();
    reference(&["prepare", path_str(&data)]);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(PLANNING_STACK)
        .build()
        .expect("runtime");
    let mut manifest = Vec::new();
    for case in &cases {
        let output = outputs.join(format!("{}.parquet", case.name));
        let (case_owned, data_dir, out) = (case.clone(), data.clone(), output.clone());
        let ran = runtime
            .block_on(runtime.spawn(async move { run_case(&case_owned, &data_dir, &out).await }))
            .unwrap_or_else(|panic| Err(format!("panicked: {panic}")));
        manifest.push(serde_json::json!({
            "name": case.name,
            "stages": case.stages,
            "reference": case.reference,
            "ordered": case.ordered(),
            "output": output,
            "error": ran.err(),
        }));
    }
    let manifest_path = scratch.path().join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_string(&manifest).unwrap()).unwrap();
    let compared = reference(&["compare", path_str(&data), path_str(&manifest_path)]);
    let results: BTreeMap<String, Outcome> = compared
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("a result line");
            let field = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_string);
            let outcome = match (field("error"), field("duckdb_error"), field("difference")) {
                (Some(error), _, _) => Outcome::Failed(error),
                (None, Some(error), _) => Outcome::DuckDbFailed(error),
                (None, None, Some(difference)) => Outcome::Differs(difference),
                (None, None, None) => Outcome::Same,
            };
            (field("name").unwrap_or_default(), outcome)
        })
        .collect();

    let report = Report::new(&cases, &results);
    println!("{}", report.table());
    let documented = std::fs::read_to_string(corpus_dir().join("../docs/sql.md")).unwrap_or_default();
    let undocumented: Vec<&str> = cases
        .iter()
        .filter(|c| c.deviation.is_some() && !documented.contains(&format!("`{}`", c.name)))
        .map(|c| c.name.as_str())
        .collect();
    assert!(undocumented.is_empty(), "deviations missing from docs/sql.md: {undocumented:?}");
    assert!(report.problems.is_empty(), "{} case(s) fail:\n\n{}", report.problems.len(), report.problems.join("\n\n"));
}

/// What became of one case.
enum Outcome {
    Same,
    Differs(String),
    /// Aqueducts refused or failed to run it.
    Failed(String),
    /// DuckDB refused the reference query: a broken case.
    DuckDbFailed(String),
}

/// Pass counts by category, and every case that did not do what it should.
struct Report {
    /// Category → (passed, deviations, total).
    counts: BTreeMap<String, (usize, usize, usize)>,
    problems: Vec<String>,
}

impl Report {
    fn new(cases: &[Case], results: &BTreeMap<String, Outcome>) -> Report {
        let mut counts: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
        let mut problems = Vec::new();
        for case in cases {
            let count = counts.entry(case.category.clone()).or_default();
            count.2 += 1;
            let sql = case.stages.iter().map(|(name, sql)| format!("  [{name}] {sql}")).collect::<Vec<_>>().join("\n");
            match (results.get(&case.name), &case.deviation) {
                (None, _) => problems.push(format!("{}: no answer from reference.py", case.name)),
                (Some(Outcome::DuckDbFailed(error)), _) => {
                    problems.push(format!("{}: DuckDB refused the case: {error}\n{sql}", case.name))
                }
                (Some(Outcome::Same), None) => count.0 += 1,
                (Some(Outcome::Same), Some(_)) => problems.push(format!(
                    "{}: marked as a deviation but now matches DuckDB: remove the mark and its entry in docs/sql.md",
                    case.name
                )),
                (Some(Outcome::Differs(_) | Outcome::Failed(_)), Some(_)) => count.1 += 1,
                (Some(Outcome::Differs(difference)), None) => {
                    problems.push(format!("{} ({}): {difference}\n{sql}", case.name, case.category))
                }
                (Some(Outcome::Failed(error)), None) => {
                    problems.push(format!("{} ({}): {error}\n{sql}", case.name, case.category))
                }
            }
        }
        Report { counts, problems }
    }

    fn table(&self) -> String {
        let mut out = format!("{:<16} {:>6} {:>6} {:>10}\n", "category", "passed", "cases", "deviations");
        let (mut passed, mut deviations, mut total) = (0, 0, 0);
        for (category, (p, d, t)) in &self.counts {
            out.push_str(&format!("{category:<16} {p:>6} {t:>6} {d:>10}\n"));
            (passed, deviations, total) = (passed + p, deviations + d, total + t);
        }
        out.push_str(&format!("{:<16} {passed:>6} {total:>6} {deviations:>10}", "all"));
        out
    }
}

/// Runs `reference.py` with the tests' Python environment; returns what it printed.
fn reference(args: &[&str]) -> String {
    let python = python();
    let out =
        Command::new(python).arg(corpus_dir().join("reference.py")).args(args).output().expect("run reference.py");
    assert!(out.status.success(), "reference.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The interpreter of the environment `scripts/python-env.sh` makes (DuckDB, pyarrow).
fn python() -> PathBuf {
    let script = corpus_dir().join("../scripts/python-env.sh");
    let out = Command::new("bash").arg(script).output().expect("run python-env.sh");
    assert!(out.status.success(), "scripts/python-env.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

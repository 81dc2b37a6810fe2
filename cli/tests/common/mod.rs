//! Helpers shared by the end-to-end tests of the `aqueducts` binary.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

pub mod executor;
pub mod orchestrator;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scratch directory with a copy of the examples (without earlier outputs), so runs
/// do not touch the repository.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples"), &dir.path().join("examples"));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "output" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs `aqueducts` with `args` in `dir`.
pub fn aqueducts(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aqueducts")).args(args).current_dir(dir).output().expect("run aqueducts")
}

/// Writes `spec` to `dir/spec.yml` and runs it quietly, with `env` added.
pub fn run_spec(dir: &Path, spec: &str, env: &[(&str, &str)]) -> Output {
    std::fs::write(dir.join("spec.yml"), spec).unwrap();
    Command::new(env!("CARGO_BIN_EXE_aqueducts"))
        .args(["run", "-f", "spec.yml", "-q"])
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("run aqueducts")
}

/// A variable `scripts/test.sh` exports after starting `service` (a database, a store
/// server); a clear failure when the tests were started some other way.
pub fn service_var(name: &str, service: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `bash scripts/test.sh`, which starts {service}")
    })
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The expected average temperature per (date, location name), computed from the CSV
/// files directly, rounded like the pipelines do.
pub fn expected_averages(dir: &Path, month: &str) -> BTreeMap<(String, String), f64> {
    let names: BTreeMap<String, String> = std::fs::read_to_string(dir.join("examples/data/location_dict.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (id, name) = l.split_once(',').unwrap();
            (id.to_string(), name.to_string())
        })
        .collect();
    let mut sums: BTreeMap<(String, String), (f64, u32)> = BTreeMap::new();
    let readings = std::fs::read_to_string(dir.join(format!("examples/data/temp_readings_{month}_2024.csv"))).unwrap();
    for line in readings.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let date = cols[0][..10].to_string();
        let entry = sums.entry((date, names[cols[1]].clone())).or_default();
        entry.0 += cols[2].parse::<f64>().unwrap();
        entry.1 += 1;
    }
    sums.into_iter().map(|(k, (sum, n))| (k, (sum / n as f64 * 100.0).round() / 100.0)).collect()
}

/// The Python interpreter of the test environment (DuckDB and pyarrow from PyPI), made
/// by `scripts/python-env.sh` on first use.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("bash").arg(repo().join("scripts/python-env.sh")).output().expect("run python-env.sh");
        assert!(out.status.success(), "scripts/python-env.sh failed: {}", text(&out.stderr));
        PathBuf::from(text(&out.stdout).trim())
    })
}

/// Runs a Python snippet with the test environment in `dir`; returns what it printed.
pub fn run_python(dir: &Path, code: &str) -> String {
    // A snippet that got to its end succeeded: leave without interpreter teardown, where
    // pyarrow's and boto3's background threads now and then abort the process
    // ("terminate called without an active exception") after the work is done.
    let code = format!("{code}\nimport os, sys\nsys.stdout.flush()\nos._exit(0)\n");
    let out = Command::new(python()).arg("-c").arg(&code).current_dir(dir).output().expect("run python");
    assert!(out.status.success(), "python failed: {}\n{code}", text(&out.stderr));
    text(&out.stdout)
}

/// The rows of a DuckDB query run in `dir`, one line per row, values joined by `|`.
pub fn duckdb(dir: &Path, sql: &str) -> Vec<String> {
    let code =
        "import duckdb, sys\nfor row in duckdb.sql(sys.argv[1]).fetchall():\n    print('|'.join(str(v) for v in row))";
    let out = Command::new(python()).arg("-c").arg(code).arg(sql).current_dir(dir).output().expect("run duckdb");
    assert!(out.status.success(), "DuckDB failed on {sql}: {}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_string).collect()
}

//! `aqueducts plan` and `aqueducts run --plan`: artifacts, explain output, refusals.

mod common;

use common::{aqueducts, text, workspace};

#[test]
fn artifact_runs_give_byte_identical_output() {
    for (spec, output) in
        [("examples/simple.json", "daily_jan_2024.csv"), ("examples/simple.yml", "daily_jan_2024.parquet")]
    {
        let dir = workspace();
        let params = ["-p", "month=jan", "-p", "year=2024"];
        let direct = aqueducts(dir.path(), &[&["run", "-f", spec, "-q"][..], &params].concat());
        assert_eq!(direct.status.code(), Some(0), "{}", text(&direct.stderr));
        let path = dir.path().join("examples/output").join(output);
        let from_file = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();

        let planned = aqueducts(dir.path(), &[&["plan", "-f", spec, "--out", "pipeline.aqp"][..], &params].concat());
        assert_eq!(planned.status.code(), Some(0), "{}", text(&planned.stderr));
        let from_plan = aqueducts(dir.path(), &["run", "--plan", "pipeline.aqp", "-q"]);
        assert_eq!(from_plan.status.code(), Some(0), "{}", text(&from_plan.stderr));
        assert_eq!(std::fs::read(&path).unwrap(), from_file, "{spec}: outputs differ");
        assert_eq!(from_plan.stdout, direct.stdout, "{spec}: shown rows differ");
    }
}

#[test]
fn damaged_artifacts_are_refused() {
    let dir = workspace();
    let out = aqueducts(
        dir.path(),
        &["plan", "-f", "examples/simple.json", "-p", "month=jan", "-p", "year=2024", "--out", "p.aqp"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut bytes = std::fs::read(dir.path().join("p.aqp")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(dir.path().join("bad.aqp"), &bytes).unwrap();
    std::fs::write(dir.path().join("garbage.aqp"), b"SELECT 1").unwrap();
    for (file, message) in [("bad.aqp", "is corrupted"), ("garbage.aqp", "not an Aqueducts plan artifact")] {
        let out = aqueducts(dir.path(), &["run", "--plan", file]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(text(&out.stderr).contains(message), "{file}: {}", text(&out.stderr));
    }
    assert!(!dir.path().join("examples/output").exists(), "nothing was written");
    let missing = aqueducts(dir.path(), &["run", "--plan", "nope.aqp"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn explain_shows_the_graph_and_physical_plans() {
    let dir = workspace();
    let out = aqueducts(
        dir.path(),
        &["plan", "-f", "examples/simple.yml", "-p", "month=jan", "-p", "year=2024", "--explain"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("  enriched <- locations, aggregated -> destination results: file (parquet)"), "{stdout}");
    assert!(stdout.contains("stage `aggregated`:\nProjectionExec"), "{stdout}");
    assert!(stdout.contains("DataSinkExec: sink=ParquetSink"), "{stdout}");
    // Projection pushdown reaches the CSV scan.
    assert!(stdout.contains("projection=[location_id, location_name], file_type=csv"), "{stdout}");

    let dot = aqueducts(
        dir.path(),
        &["plan", "-f", "examples/simple.yml", "-p", "month=jan", "-p", "year=2024", "--format", "dot"],
    );
    let dot = text(&dot.stdout);
    assert!(dot.starts_with("digraph pipeline {"), "{dot}");
    assert!(dot.contains("\"stage:aggregated\" -> \"stage:enriched\";"), "{dot}");
    assert!(dot.contains("\"source:temp_readings\" [label=\"temp_readings\\nfile\", shape=box];"), "{dot}");
}

#[test]
fn plan_needs_something_to_do() {
    let dir = workspace();
    let out = aqueducts(dir.path(), &["plan", "-f", "examples/simple.yml"]);
    assert_eq!(out.status.code(), Some(2));
    let both = aqueducts(dir.path(), &["run", "-f", "examples/simple.yml", "--plan", "x.aqp"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn a_recursive_query_travels_in_an_artifact() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("recursive.yml"),
        "\
sources: []
stages:
  - name: numbers
    query: WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT sum(n) AS total, max(n) AS top FROM t
    show: 0
",
    )
    .unwrap();
    let out = aqueducts(dir.path(), &["plan", "-f", "recursive.yml", "--out", "r.aqp"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ran = aqueducts(dir.path(), &["run", "--plan", "r.aqp", "-q"]);
    let stdout = text(&ran.stdout);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran.stderr));
    // 1 + 2 + 3 + 4 + 5, computed by decoding the stored recursion.
    let row = stdout.lines().find(|l| l.contains("15")).unwrap_or_default();
    assert!(row.contains("| 15") && row.contains("| 5"), "{stdout}");
}

#[test]
fn readers_of_a_shared_stage_hash_the_smaller_side() {
    // A shared stage is planned into its readers before it runs: its estimated size is
    // what lets a join hash the smaller table it meets rather than the stage. `small` is
    // past DataFusion's thresholds for collecting a side whole (128 Ki rows), so only
    // the estimates decide.
    let dir = workspace();
    common::run_python(
        dir.path(),
        "import pyarrow as pa, pyarrow.parquet as pq
n = 150000
pq.write_table(pa.table({'k': [i % n for i in range(4 * n)], 'v': list(range(4 * n))}), 'big.parquet')
pq.write_table(pa.table({'k': list(range(n)), 'name': [f'n{i % 10}' for i in range(n)]}), 'small.parquet')",
    );
    let spec = "sources:
  - { type: file, name: big, format: { type: parquet, options: {} }, location: ./big.parquet }
  - { type: file, name: small, format: { type: parquet, options: {} }, location: ./small.parquet }
stages:
  - name: lines
    query: SELECT k, v * 2 AS w FROM big WHERE v >= 10
  - name: by_name
    query: SELECT name, sum(w) AS total FROM lines JOIN small ON lines.k = small.k GROUP BY name
  - name: by_key
    query: SELECT lines.k, count(*) AS n FROM lines JOIN small ON lines.k = small.k GROUP BY lines.k
  - name: both
    query: SELECT by_name.name, total, n FROM by_name JOIN small ON by_name.name = small.name JOIN by_key ON small.k = by_key.k
";
    std::fs::write(dir.path().join("spec.yml"), spec).unwrap();
    let out = aqueducts(dir.path(), &["plan", "-f", "spec.yml", "--explain"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // No join hashes the shared stage: the first (build) input of a join never leads,
    // through repartitioning only, to the scan of `lines`.
    let lines: Vec<&str> = stdout.lines().map(str::trim_start).collect();
    let mut joins = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with("HashJoinExec") {
            continue;
        }
        let mut build = i + 1;
        while lines[build].starts_with("RepartitionExec") || lines[build].starts_with("CoalescePartitionsExec") {
            build += 1;
        }
        assert!(!lines[build].starts_with("SharedStageExec"), "a join hashes the shared stage:\n{stdout}");
        joins += 1;
    }
    assert!(joins >= 4 && stdout.matches("SharedStageExec").count() >= 4, "{stdout}");
    let run = aqueducts(dir.path(), &["run", "-f", "spec.yml", "-q"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
}

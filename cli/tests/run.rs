//! `aqueducts run` end to end: real files in, values checked in the output.

mod common;

use common::{aqueducts, expected_averages, text, workspace};

use std::collections::BTreeMap;
use std::process::Command;

#[test]
fn csv_destination_holds_the_right_values() {
    let dir = workspace();
    let out = aqueducts(dir.path(), &["run", "-f", "examples/simple.json", "-p", "month=feb", "-p", "year=2024"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("examples/output/daily_feb_2024.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("date,location_name,avg_temp_c"));
    let actual: BTreeMap<(String, String), f64> = lines
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            ((cols[0].to_string(), cols[1].to_string()), cols[2].parse().unwrap())
        })
        .collect();
    let expected = expected_averages(dir.path(), "feb");
    assert_eq!(actual.len(), 28 * 3);
    for (key, value) in &expected {
        assert!((actual[key] - value).abs() < 0.011, "{key:?}: {} vs {value}", actual[key]);
    }
    // `show: 10` printed a table on stdout.
    assert!(text(&out.stdout).contains("stage `enriched` (10 rows shown)"), "{}", text(&out.stdout));
}

#[test]
fn json_destination_and_print_schema() {
    let dir = workspace();
    let out =
        aqueducts(dir.path(), &["run", "-f", "examples/simple.toml", "-p", "month=jan", "-p", "year=2024", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).is_empty(), "--quiet prints no progress: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("schema of stage `enriched`:\n  date: Date32\n  location_name:"), "{stdout}");
    let json = std::fs::read_to_string(dir.path().join("examples/output/daily_jan_2024.json")).unwrap();
    let expected = expected_averages(dir.path(), "jan");
    let rows: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), expected.len());
    for row in rows {
        let key = (row["date"].as_str().unwrap().to_string(), row["location_name"].as_str().unwrap().to_string());
        assert!((row["avg_temp_c"].as_f64().unwrap() - expected[&key]).abs() < 0.011, "{key:?}");
    }
}

#[tokio::test]
async fn parquet_destination_reads_back() {
    let dir = workspace();
    let out = aqueducts(dir.path(), &["run", "-f", "examples/simple.yml", "-p", "month=jan", "-p", "year=2024"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("wrote 84 rows to"), "{}", text(&out.stderr));
    let ctx = datafusion::prelude::SessionContext::new();
    let path = dir.path().join("examples/output/daily_jan_2024.parquet");
    let df = ctx
        .read_parquet(path.to_str().unwrap(), Default::default())
        .await
        .unwrap()
        .sort(vec![
            datafusion::prelude::col("date").sort(true, true),
            datafusion::prelude::col("location_name").sort(true, true),
        ])
        .unwrap();
    let batches = df.collect().await.unwrap();
    let expected = expected_averages(dir.path(), "jan");
    let mut seen = 0;
    let format = |batch: &datafusion::arrow::array::RecordBatch, column: usize, row: usize| {
        datafusion::arrow::util::display::array_value_to_string(batch.column(column), row).unwrap()
    };
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let key = (format(batch, 0, row), format(batch, 1, row));
            let avg: f64 = format(batch, 4, row).parse().unwrap();
            assert!((avg - expected[&key]).abs() < 0.011, "{key:?}");
            seen += 1;
        }
    }
    assert_eq!(seen, 84);
}

#[test]
fn partitioned_destination_writes_a_hive_layout() {
    let dir = workspace();
    let spec = dir.path().join("partitioned.yml");
    std::fs::write(
        &spec,
        "\
sources:
  - type: file
    name: locations
    format: {type: csv, options: {}}
    location: ./examples/data/location_dict.csv
stages:
  - name: names
    query: SELECT location_id, location_name FROM locations
destination:
  type: file
  name: out
  location: ./out/by_name
  format: {type: csv, options: {has_header: true}}
  partition_columns: [location_name]
",
    )
    .unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "partitioned.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut partitions: Vec<String> = std::fs::read_dir(dir.path().join("out/by_name"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    partitions.sort();
    assert_eq!(partitions, ["location_name=Graz", "location_name=Linz", "location_name=Vienna"]);
    let graz =
        std::fs::read_dir(dir.path().join("out/by_name/location_name=Graz")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::read_to_string(graz).unwrap(), "location_id\n2\n");
}

#[test]
fn a_failing_run_leaves_the_previous_output_intact() {
    let dir = workspace();
    let ok = aqueducts(dir.path(), &["run", "-f", "examples/simple.json", "-p", "month=jan", "-p", "year=2024"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let output = dir.path().join("examples/output/daily_jan_2024.csv");
    let before = std::fs::read(&output).unwrap();

    // Same destination, but the final stage fails while running (a cast of real data).
    let failing = std::fs::read_to_string(dir.path().join("examples/simple.json")).unwrap().replace(
        "SELECT date, location_name, avg_temp_c",
        "SELECT date, CAST(location_name AS INT) AS location_name, avg_temp_c",
    );
    std::fs::write(dir.path().join("failing.json"), failing).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "failing.json", "-p", "month=jan", "-p", "year=2024"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error: stage `enriched` failed:"), "{stderr}");
    assert!(stderr.contains("the destination was left as it was"), "{stderr}");

    assert_eq!(std::fs::read(&output).unwrap(), before, "previous output unchanged");
    let entries: Vec<_> =
        std::fs::read_dir(output.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries.len(), 1, "no staging debris: {entries:?}");
}

#[test]
fn run_refuses_an_invalid_spec_without_writing() {
    let dir = workspace();
    let out = aqueducts(dir.path(), &["run", "-f", "examples/simple.yml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing parameter `month`"));
    assert!(!dir.path().join("examples/output").exists());
}

#[test]
fn bad_memory_limit_is_a_usage_error() {
    let dir = workspace();
    let out = aqueducts(dir.path(), &["run", "-f", "examples/simple.yml", "--max-memory", "-1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn parallel_stages_print_whole_outputs() {
    let dir = workspace();
    let spec = "sources:
  - type: file
    name: readings
    format: {type: csv, options: {}}
    location: ./examples/data/temp_readings_jan_2024.csv
stages:
  - name: per_location
    query: SELECT location_id, count(*) AS n FROM readings GROUP BY 1 ORDER BY 1
    show: 0
  - name: warmest
    query: SELECT max(temperature_c) AS t FROM readings
    show: 1
    print_schema: true
  - name: coldest
    query: SELECT min(temperature_c) AS t FROM readings
    show: 1
    explain: true
";
    std::fs::write(dir.path().join("parallel.yml"), spec).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "parallel.yml", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let per_location = "stage `per_location` (3 rows shown):\n+-------------+-----+\n| location_id | n   |\n+-------------+-----+\n| 1           | 112 |\n| 2           | 112 |\n| 3           | 112 |\n+-------------+-----+\n";
    assert!(stdout.contains(per_location), "{stdout}");
    assert!(stdout.contains("schema of stage `warmest`:\n  t: Float64\nstage `warmest` (1 rows shown):\n"), "{stdout}");
    assert!(stdout.contains("physical plan of stage `coldest`:\n"), "{stdout}");
}

/// A stage read more than once is computed once: `random()` gives every reader the same
/// value, through a compiled artifact too. Without sharing, each read would draw anew.
#[test]
fn a_stage_read_more_than_once_is_computed_once() {
    let dir = workspace();
    let spec = "sources: []
stages:
  - name: base
    query: SELECT random() AS r
  - name: left_side
    query: SELECT r FROM base
  - name: result
    query: SELECT a.r = b.r AS same, (SELECT r FROM base) = a.r AS same_again FROM left_side a CROSS JOIN base b
    show: 1
";
    std::fs::write(dir.path().join("shared.yml"), spec).unwrap();
    let expected = "stage `result` (1 rows shown):\n+------+------------+\n| same | same_again |\n+------+------------+\n| true | true       |\n+------+------------+\n";
    let direct = aqueducts(dir.path(), &["run", "-f", "shared.yml"]);
    assert_eq!(direct.status.code(), Some(0), "{}", text(&direct.stderr));
    assert!(text(&direct.stdout).contains(expected), "{}", text(&direct.stdout));
    assert!(text(&direct.stderr).contains("stage `base`: done, 1 rows"), "{}", text(&direct.stderr));

    let plan = aqueducts(dir.path(), &["plan", "-f", "shared.yml", "--out", "shared.aqp"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let from_plan = aqueducts(dir.path(), &["run", "--plan", "shared.aqp", "-q"]);
    assert_eq!(from_plan.status.code(), Some(0), "{}", text(&from_plan.stderr));
    assert!(text(&from_plan.stdout).contains(expected), "{}", text(&from_plan.stdout));

    let explain = aqueducts(dir.path(), &["plan", "-f", "shared.yml", "--explain"]);
    let explained = text(&explain.stdout);
    assert_eq!(explained.matches("SharedStageExec: stage=base").count(), 4, "{explained}");
    assert!(!explained.contains("SharedStageExec: stage=left_side"), "read once, so inlined: {explained}");
}

/// A shared stage read on both sides of a join in one query (the build side reads it to
/// the end before the probe side starts) is streamed to both: the later side is read
/// ahead. Values are exact with and without a memory limit far below the stage's size.
#[test]
fn a_stage_read_on_both_sides_of_a_join_streams_to_both() {
    let dir = workspace();
    let spec = "sources: []
stages:
  - name: numbers
    query: SELECT value AS n, value % 7 AS k FROM generate_series(1, 2000000)
  - name: by_k
    query: SELECT k, count(*) AS c, sum(n) AS s FROM numbers GROUP BY k
  - name: odd_by_k
    query: SELECT k, count(*) AS c FROM numbers WHERE n % 2 = 1 GROUP BY k
  - name: result
    query: SELECT by_k.k, by_k.c, by_k.s, odd_by_k.c AS odd FROM by_k JOIN odd_by_k ON by_k.k = odd_by_k.k ORDER BY k
    show: 0
    explain: true
  - name: pairs
    query: SELECT count(*) AS pairs FROM numbers a JOIN numbers b ON a.n = b.n AND a.k = b.k
    show: 1
";
    std::fs::write(dir.path().join("both_sides.yml"), spec).unwrap();
    let line = "+---+--------+--------------+--------+\n";
    let mut expected = format!("{line}| k | c      | s            | odd    |\n{line}");
    for k in 0..7u64 {
        let members = (1..=2_000_000u64).filter(|n| n % 7 == k);
        let (count, sum, odd) = members.fold((0u64, 0u64, 0u64), |(c, s, o), n| (c + 1, s + n, o + n % 2));
        expected.push_str(&format!("| {k} | {count:<6} | {sum:<12} | {odd:<6} |\n"));
    }
    expected.push_str(line);
    for limit in [None, Some("0.05")] {
        let mut args = vec!["run", "-f", "both_sides.yml", "-q"];
        args.extend(limit.iter().flat_map(|gb| ["--max-memory", gb]));
        let out = aqueducts(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{limit:?}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains(&expected), "{limit:?}: {stdout}\nexpected:\n{expected}");
        assert!(stdout.contains("| pairs   |\n+---------+\n| 2000000 |"), "{limit:?}: {stdout}");
        let plan = stdout.split("physical plan of stage `result`:").nth(1).unwrap_or_default();
        assert_eq!(plan.matches("SharedStageExec: stage=numbers").count(), 2, "{plan}");
        assert_eq!(plan.matches("ReadAheadExec").count(), 1, "the later side is read ahead: {plan}");
    }

    // The shared stage fails part way: the run names it, not the readers that failed with it.
    let failing =
        spec.replace("value % 7 AS k", "CAST(CASE WHEN value = 1500000 THEN 'x' ELSE '0' END AS INT) + value % 7 AS k");
    std::fs::write(dir.path().join("failing.yml"), failing).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "failing.yml", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error: stage `numbers` failed: ") && stderr.contains("'x'"), "{stderr}");
}

/// Parquet and JSON outputs of the examples are read back as sources by another
/// pipeline, and written with CSV compression and Parquet writer options.
#[test]
fn parquet_and_json_sources_and_writer_options() {
    let dir = workspace();
    for spec in ["examples/simple.yml", "examples/simple.toml"] {
        let out = aqueducts(dir.path(), &["run", "-f", spec, "-p", "month=jan", "-p", "year=2024", "-q"]);
        assert_eq!(out.status.code(), Some(0), "{spec}: {}", text(&out.stderr));
    }
    let spec = "sources:
  - type: file
    name: from_parquet
    format: {type: parquet, options: {}}
    location: ./examples/output/daily_jan_2024.parquet
  - type: file
    name: from_json
    format:
      type: json
      options:
        schema:
          - {name: date, data_type: date32}
          - {name: location_name, data_type: string}
          - {name: avg_temp_c, data_type: double}
    location: ./examples/output/daily_jan_2024.json
stages:
  - name: compared
    query: |
      SELECT p.location_name, count(*) AS days, sum(CASE WHEN p.avg_temp_c = j.avg_temp_c THEN 1 ELSE 0 END) AS equal
      FROM from_parquet p JOIN from_json j ON p.date = j.date AND p.location_name = j.location_name
      GROUP BY 1 ORDER BY 1
    show: 0
destination:
  type: file
  name: out
  location: ./out/compared.csv.gz
  format: {type: csv, options: {has_header: true, delimiter: ';', compression: gzip}}
";
    std::fs::write(dir.path().join("compare.yml"), spec).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "compare.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let gz = dir.path().join("out/compared.csv.gz");
    let python = Command::new("python3")
        .args(["-c", "import gzip,sys; sys.stdout.write(gzip.open(sys.argv[1], 'rt').read())", gz.to_str().unwrap()])
        .output()
        .expect("python3 reads the gzip file");
    assert_eq!(text(&python.stdout), "location_name;days;equal\nGraz;28;28\nLinz;28;28\nVienna;28;28\n");

    // Parquet writer options reach the writer; bad ones are check diagnostics.
    let parquet = spec.replace("./out/compared.csv.gz", "./out/compared.parquet").replace(
        "{type: csv, options: {has_header: true, delimiter: ';', compression: gzip}}",
        "{type: parquet, options: {compression: \"zstd(3)\", max_row_group_size: \"2\"}}",
    );
    std::fs::write(dir.path().join("parquet.yml"), &parquet).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "parquet.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let bytes = std::fs::read(dir.path().join("out/compared.parquet")).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    std::fs::write(dir.path().join("bad.yml"), parquet.replace("zstd(3)", "zstandard")).unwrap();
    let bad = aqueducts(dir.path(), &["check", "-f", "bad.yml"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("invalid Parquet option `compression`"), "{}", text(&bad.stderr));
}

/// The destination is replaced only when every stage succeeded: a printing stage that
/// fails after the write finished still leaves the previous output.
#[test]
fn a_failure_in_another_stage_keeps_the_destination() {
    let dir = workspace();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/names.csv"), "previous\n").unwrap();
    let spec = "sources:
  - type: file
    name: locations
    format: {type: csv, options: {}}
    location: ./examples/data/location_dict.csv
stages:
  - name: broken
    query: SELECT CAST(location_name AS INT) AS n FROM locations
    show: 3
  - name: names
    query: SELECT location_name FROM locations
destination:
  type: file
  name: out
  location: ./out/names.csv
  format: {type: csv, options: {}}
";
    std::fs::write(dir.path().join("two.yml"), spec).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "two.yml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("error: stage `broken` failed:"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("out/names.csv")).unwrap(), "previous\n");
    let entries = std::fs::read_dir(dir.path().join("out")).unwrap().count();
    assert_eq!(entries, 1, "no staging debris");
}

/// A final stage that also shows rows is computed once: the rows shown are the rows
/// written, and `explain` shows the plan that computed it.
#[test]
fn a_final_stage_that_shows_is_computed_once() {
    let dir = workspace();
    let spec = "sources: []
stages:
  - name: drawn
    query: SELECT random() AS r
    show: 1
    explain: true
destination:
  type: file
  name: out
  location: ./out/drawn.csv
  format: {type: csv, options: {has_header: false}}
";
    std::fs::write(dir.path().join("drawn.yml"), spec).unwrap();
    let out = aqueducts(dir.path(), &["run", "-f", "drawn.yml", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(dir.path().join("out/drawn.csv")).unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("| {} |", written.trim())), "shown {stdout} written {written}");
    assert!(stdout.contains("physical plan of stage `drawn`:\nProjectionExec: expr=[random() as r]"), "{stdout}");
}

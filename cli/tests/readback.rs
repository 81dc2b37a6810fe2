//! Outputs of `aqueducts run` read back by independent readers (DuckDB and pyarrow from
//! PyPI), for every file format and writer option, compared with values computed from
//! the input CSV files directly.

mod common;

use common::{duckdb, expected_averages, run_python, run_spec, text, workspace};

/// A pipeline over the January example data whose final stage yields one row per day and
/// location, written to `destination` (YAML, indented as a mapping under `destination:`).
fn pipeline(destination: &str) -> String {
    format!(
        "sources:
  - type: file
    name: readings
    format: {{type: csv, options: {{has_header: true}}}}
    location: ./examples/data/temp_readings_jan_2024.csv
  - type: file
    name: locations
    format: {{type: csv, options: {{}}}}
    location: ./examples/data/location_dict.csv
stages:
  - name: daily
    query: |
      SELECT cast(timestamp AS date) AS date, location_name, round(avg(temperature_c), 2) AS avg_temp_c
      FROM readings JOIN locations ON readings.location_id = locations.location_id
      GROUP BY 1, 2
destination:
{destination}"
    )
}

/// Runs `spec` in a fresh copy of the examples; returns the directory.
fn run(spec: &str) -> tempfile::TempDir {
    let dir = workspace();
    let out = run_spec(dir.path(), spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    dir
}

/// Compares `date|location|avg` rows with the averages computed from the CSV input.
fn assert_daily_averages(dir: &tempfile::TempDir, rows: &[String]) {
    let expected = expected_averages(dir.path(), "jan");
    assert_eq!(rows.len(), expected.len(), "{rows:?}");
    for row in rows {
        let cols: Vec<&str> = row.split('|').collect();
        let key = (cols[0].to_string(), cols[1].to_string());
        let value: f64 = cols[2].parse().unwrap();
        assert!((value - expected[&key]).abs() < 0.011, "{key:?}: {value} vs {}", expected[&key]);
    }
}

#[test]
fn csv_with_header_delimiter_and_gzip_reads_back_in_duckdb() {
    let dir = run(&pipeline(
        "  type: file
  name: out
  location: ./out/daily.csv.gz
  format: {type: csv, options: {has_header: true, delimiter: ';', compression: gzip}}",
    ));
    let rows = duckdb(
        dir.path(),
        "SELECT date, location_name, avg_temp_c FROM read_csv('out/daily.csv.gz', delim = ';', header = true,
         compression = 'gzip', auto_detect = true) ORDER BY ALL",
    );
    assert_daily_averages(&dir, &rows);
    // The header names the columns (DuckDB took them from it).
    let columns = duckdb(dir.path(), "SELECT column_name FROM (DESCRIBE SELECT * FROM 'out/daily.csv.gz')");
    assert_eq!(columns, ["date", "location_name", "avg_temp_c"]);
}

#[test]
fn csv_without_header_reads_back_in_duckdb() {
    let dir = run(&pipeline(
        "  type: file
  name: out
  location: ./out/daily.csv
  format: {type: csv, options: {has_header: false}}",
    ));
    let raw = std::fs::read_to_string(dir.path().join("out/daily.csv")).unwrap();
    assert!(raw.starts_with("2024-01-"), "no header line: {raw:.60}");
    let rows = duckdb(
        dir.path(),
        "SELECT column0, column1, column2 FROM read_csv('out/daily.csv', header = false) ORDER BY ALL",
    );
    assert_daily_averages(&dir, &rows);
}

#[test]
fn json_lines_read_back_in_duckdb() {
    let dir = run(&pipeline(
        "  type: file
  name: out
  location: ./out/daily.json
  format: {type: json, options: {}}",
    ));
    let rows = duckdb(
        dir.path(),
        "SELECT date, location_name, avg_temp_c FROM read_json('out/daily.json', format = 'newline_delimited')
         ORDER BY ALL",
    );
    assert_daily_averages(&dir, &rows);
}

#[test]
fn parquet_options_are_visible_to_pyarrow() {
    let dir = run(&pipeline(
        "  type: file
  name: out
  location: ./out/daily.parquet
  format: {type: parquet, options: {compression: \"zstd(3)\", max_row_group_size: \"10\"}}",
    ));
    let report = run_python(
        dir.path(),
        "import pyarrow.parquet as pq
f = pq.ParquetFile('out/daily.parquet')
meta = f.metadata
print(meta.num_rows, meta.num_row_groups, meta.row_group(0).column(0).compression)
print(f.schema_arrow)
for row in sorted(zip(*f.read().to_pydict().values())):
    print('|'.join(str(v) for v in row))",
    );
    let mut lines = report.lines();
    // 84 rows in row groups of at most 10: nine groups, compressed with zstd.
    assert_eq!(lines.next(), Some("84 9 ZSTD"));
    let schema: Vec<&str> = lines.by_ref().take(3).collect();
    assert_eq!(schema, ["date: date32[day]", "location_name: string", "avg_temp_c: double"]);
    let rows: Vec<String> = lines.map(str::to_string).collect();
    assert_daily_averages(&dir, &rows);
}

#[test]
fn a_directory_of_parts_reads_back_in_duckdb() {
    let dir = run(&pipeline(
        "  type: file
  name: out
  location: ./out/daily
  single_file: false
  format: {type: parquet, options: {}}",
    ));
    assert!(dir.path().join("out/daily").is_dir());
    let rows = duckdb(
        dir.path(),
        "SELECT date, location_name, avg_temp_c FROM read_parquet('out/daily/*.parquet') ORDER BY ALL",
    );
    assert_daily_averages(&dir, &rows);
}

#[test]
fn hive_partitions_read_back_in_duckdb() {
    let dir = run(&pipeline(
        "  type: file
  name: out
  location: ./out/by_location
  partition_columns: [location_name]
  format: {type: parquet, options: {}}",
    ));
    let rows = duckdb(
        dir.path(),
        "SELECT date, location_name, avg_temp_c
         FROM read_parquet('out/by_location/*/*.parquet', hive_partitioning = true) ORDER BY ALL",
    );
    assert_daily_averages(&dir, &rows);
    // The partition column lives in the directory names, not in the files.
    let in_file = duckdb(
        dir.path(),
        "SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet('out/by_location/*/*.parquet', hive_partitioning = false))
         WHERE column_name = 'location_name'",
    );
    assert_eq!(in_file, ["0"]);
}

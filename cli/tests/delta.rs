//! Delta Lake sources and destinations, against an independent reader and writer: the
//! `deltalake` package from PyPI (delta-rs's Python binding) writes the tables read here
//! (with several versions, for time travel) and reads back every table written here.
//! Object stores are moto (S3) and Azurite (Azure), which `scripts/test.sh` starts.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::executor::{Executor, remote};
use common::{aqueducts, duckdb, run_python, run_spec, service_var, text, workspace};

/// Writes a local table `t` with three versions whose commit times are pinned: version 0
/// (ids 1-3) on 2024-01-01, version 1 (ids 4-5 appended) on 2024-02-01, version 2 (ids
/// 10 and 20, overwriting) on 2024-03-01.
fn three_versions(dir: &Path) {
    run_python(
        dir,
        "import datetime, os
import pyarrow as pa
from deltalake import write_deltalake
write_deltalake('t', pa.table({'id': pa.array([1, 2, 3], pa.int64()), 'name': ['a', 'b', 'c']}))
write_deltalake('t', pa.table({'id': pa.array([4, 5], pa.int64()), 'name': ['d', 'e']}), mode='append')
write_deltalake('t', pa.table({'id': pa.array([10, 20], pa.int64()), 'name': ['x', 'y']}), mode='overwrite')
for version, day in [(0, '2024-01-01'), (1, '2024-02-01'), (2, '2024-03-01')]:
    at = datetime.datetime.fromisoformat(day + 'T00:00:00+00:00').timestamp()
    os.utime(f't/_delta_log/{version:020}.json', (at, at))
",
    );
}

/// A spec reading table `t` with `options` and writing `SELECT ids` to `out.parquet`.
fn read_spec(options: &str) -> String {
    format!(
        "sources:
  - type: delta
    name: t
    location: ./t
{options}
stages:
  - name: ids
    query: SELECT id, name FROM t ORDER BY id
destination:
  type: file
  name: out
  location: ./out.parquet
  format: {{type: parquet, options: {{}}}}
"
    )
}

fn read_ids(dir: &Path, options: &str) -> Vec<String> {
    let out = run_spec(dir, &read_spec(options), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    duckdb(dir, "SELECT id, name FROM 'out.parquet' ORDER BY id")
}

#[test]
fn reads_the_latest_version_a_version_and_a_time() {
    let dir = workspace();
    three_versions(dir.path());
    assert_eq!(read_ids(dir.path(), ""), ["10|x", "20|y"]);
    assert_eq!(read_ids(dir.path(), "    version: 1"), ["1|a", "2|b", "3|c", "4|d", "5|e"]);
    assert_eq!(read_ids(dir.path(), "    version: 0"), ["1|a", "2|b", "3|c"]);
    assert_eq!(read_ids(dir.path(), "    timestamp: '2024-02-15T00:00:00Z'"), ["1|a", "2|b", "3|c", "4|d", "5|e"]);
    assert_eq!(read_ids(dir.path(), "    timestamp: '2024-01-01T00:00:00Z'"), ["1|a", "2|b", "3|c"]);
    assert_eq!(read_ids(dir.path(), "    timestamp: '2030-01-01T00:00:00+02:00'"), ["10|x", "20|y"]);
}

#[test]
fn missing_tables_versions_and_times_are_located_errors() {
    let dir = workspace();
    three_versions(dir.path());
    let check = |options: &str| {
        std::fs::write(dir.path().join("spec.yml"), read_spec(options)).unwrap();
        let out = aqueducts(dir.path(), &["check", "-f", "spec.yml"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        text(&out.stderr) + &text(&out.stdout)
    };
    let report = check("    version: 7");
    assert!(report.contains("the table has no version 7: its latest version is 2"), "{report}");
    assert!(report.contains("spec.yml:5:14"), "{report}");
    let report = check("    timestamp: '2023-12-01T00:00:00Z'");
    assert!(report.contains("before the table's first commit"), "{report}");
    assert!(report.contains("(version 0, committed 2024-01-01 00:00:00 UTC)"), "{report}");
    assert!(report.contains("spec.yml:5:16"), "{report}");
    let report = check("    version: -1");
    assert!(report.contains("-1 is not a table version"), "{report}");
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let spec = read_spec("").replace("location: ./t", "location: ./empty");
    std::fs::write(dir.path().join("spec.yml"), spec).unwrap();
    let out = aqueducts(dir.path(), &["check", "-f", "spec.yml"]);
    let report = text(&out.stderr) + &text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("there is no Delta table at") && report.contains("spec.yml:4:15"), "{report}");
}

#[test]
fn partitions_and_statistics_skip_files_as_explain_shows() {
    let dir = workspace();
    run_python(
        dir.path(),
        "import pyarrow as pa
from deltalake import write_deltalake
for region, ids in [('eu', [1, 2]), ('us', [3, 4]), ('ap', [5, 6])]:
    rows = pa.table({'id': pa.array(ids, pa.int64()), 'region': [region] * len(ids)})
    write_deltalake('t', rows, mode='append', partition_by=['region'])
",
    );
    let spec = "sources:
  - type: delta
    name: t
    location: ./t
stages:
  - name: eu
    query: SELECT id FROM t WHERE region = 'eu'
    show: 0
  - name: big
    query: SELECT id, region FROM t WHERE id >= 5
    show: 0
";
    std::fs::write(dir.path().join("spec.yml"), spec).unwrap();
    let out = aqueducts(dir.path(), &["plan", "-f", "spec.yml", "--explain"]);
    let explained = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let scans: Vec<&str> = explained.lines().filter(|l| l.contains("DeltaSourceExec")).collect();
    assert_eq!(scans.len(), 2, "{explained}");
    assert!(scans[0].contains("version=2, files=1 of 3"), "{explained}");
    assert!(scans[1].contains("files=1 of 3"), "statistics skip the files without ids >= 5: {explained}");
    let out = run_spec(dir.path(), spec, &[]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(shown.contains("| 1  |") && shown.contains("| 2  |") && shown.contains("| 6  | ap     |"), "{shown}");
    assert!(!shown.contains("| 3  |"), "{shown}");
}

/// The rows of the table at `path` as the Python package reads them, sorted, with the
/// table's version first.
fn python_rows(dir: &Path, path: &str, columns: &str) -> Vec<String> {
    let code = format!(
        "from deltalake import DeltaTable
t = DeltaTable({path:?})
print(t.version())
rows = t.to_pyarrow_table().to_pylist()
for r in sorted(rows, key=lambda r: tuple((r[c] is None, r[c]) for c in {columns:?}.split(','))):
    print('|'.join(str(r[c]) for c in {columns:?}.split(',')))
"
    );
    run_python(dir, &code).lines().map(str::to_string).collect()
}

fn write_spec(query: &str, destination: &str) -> String {
    format!(
        "sources: []
stages:
  - name: rows
    query: {query}
destination:
  type: delta
  name: t
  location: ./t
{destination}
"
    )
}

#[test]
fn every_write_mode_is_one_commit_the_python_package_reads() {
    let dir = workspace();
    let run = |query: &str, destination: &str| {
        let out = run_spec(dir.path(), &write_spec(query, destination), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    // Created with its partitioning, properties and commit metadata: version 0 holds the rows.
    run(
        "SELECT * FROM (VALUES (1, 'eu', 10.5), (2, 'us', 20.0), (3, 'eu', 30.25)) AS v(id, region, amount)",
        "  write_mode: {operation: append}
  partition_columns: [region]
  table_properties: {delta.appendOnly: 'false', delta.logRetentionDuration: 'interval 30 days'}
  metadata: {job: nightly}",
    );
    assert_eq!(python_rows(dir.path(), "t", "id,region,amount"), ["0", "1|eu|10.50", "2|us|20.00", "3|eu|30.25"]);
    let described = run_python(
        dir.path(),
        "from deltalake import DeltaTable
t = DeltaTable('t')
print(t.metadata().partition_columns)
print(t.metadata().configuration.get('delta.logRetentionDuration'))
print(t.history(1)[0].get('job'))",
    );
    assert_eq!(described, "['region']\ninterval 30 days\nnightly\n");
    run("SELECT 4 AS id, 'ap' AS region, 1.0 AS amount", "  write_mode: {operation: append}");
    assert_eq!(python_rows(dir.path(), "t", "id,region").len(), 5);
    assert_eq!(python_rows(dir.path(), "t", "id")[0], "1");
    // Replace: only the rows of region eu are replaced.
    run(
        "SELECT * FROM (VALUES (7, 'eu', 70.0)) AS v(id, region, amount)",
        "  write_mode: {operation: replace, params: [{column: region, value: eu}]}",
    );
    assert_eq!(python_rows(dir.path(), "t", "id,region,amount"), ["2", "2|us|20.00", "4|ap|1.00", "7|eu|70.00"]);
    // Upsert: id 2 is updated, id 9 inserted, the others kept.
    run(
        "SELECT * FROM (VALUES (2, 'us', 22.0), (9, 'us', 90.0)) AS v(id, region, amount)",
        "  write_mode: {operation: upsert, params: [id]}",
    );
    assert_eq!(
        python_rows(dir.path(), "t", "id,region,amount"),
        ["3", "2|us|22.00", "4|ap|1.00", "7|eu|70.00", "9|us|90.00"]
    );
    run("SELECT 100 AS id, 'eu' AS region, 0.5 AS amount", "  write_mode: {operation: overwrite}");
    assert_eq!(python_rows(dir.path(), "t", "id,region,amount"), ["4", "100|eu|0.50"]);
    // Time travel through what was written, by version.
    let out = run_spec(
        dir.path(),
        "sources:
  - {type: delta, name: t, location: ./t, version: 3}
stages:
  - name: total
    query: SELECT count(*) AS n, sum(amount) AS s FROM t
    show: 1
",
        &[],
    );
    assert!(text(&out.stdout).contains("| 4 | 183.00 |"), "{}", text(&out.stdout));
    assert!(!dir.path().join("t/_aqueducts_staging").exists(), "staged rows are removed");
}

#[test]
fn upserts_match_keys_of_every_comparable_type() {
    let dir = workspace();
    let run = |query: &str| {
        let out =
            run_spec(dir.path(), &write_spec(query, "  write_mode: {operation: upsert, params: [day, code, at]}"), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    run(
        "SELECT DATE '2024-01-01' AS day, CAST(1.50 AS DECIMAL(5,2)) AS code, TIMESTAMP '2024-01-01 10:00:00' AS at, 'first' AS v",
    );
    run("SELECT DATE '2024-01-01' AS day, CAST(1.50 AS DECIMAL(5,2)) AS code, TIMESTAMP '2024-01-01 10:00:00' AS at, 'second' AS v
         UNION ALL SELECT DATE '2024-01-02', CAST(2 AS DECIMAL(5,2)), TIMESTAMP '2024-01-01 10:00:00', 'new'");
    assert_eq!(python_rows(dir.path(), "t", "day,v"), ["1", "2024-01-01|second", "2024-01-02|new"]);
}

#[test]
fn a_schema_that_differs_is_a_located_error_unless_merged() {
    let dir = workspace();
    run_python(
        dir.path(),
        "import pyarrow as pa
from deltalake import write_deltalake
write_deltalake('t', pa.table({'id': pa.array([1], pa.int64()), 'name': ['a']}))",
    );
    let spec = write_spec("SELECT 2 AS id, 'b' AS name, 0.5 AS score", "  write_mode: {operation: append}");
    std::fs::write(dir.path().join("spec.yml"), &spec).unwrap();
    let out = aqueducts(dir.path(), &["check", "-f", "spec.yml"]);
    let report = text(&out.stderr) + &text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains("destination-schema"), "{report}");
    assert!(report.contains("the rows have a column `score` that the Delta table does not have"), "{report}");
    assert!(report.contains("spec.yml:3:11"), "the final stage is pointed at: {report}");
    let merged = spec.replace("{operation: append}", "{operation: append}\n  schema_mode: merge");
    let out = run_spec(dir.path(), &merged, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(python_rows(dir.path(), "t", "id,name,score"), ["1", "1|a|None", "2|b|0.5"]);
    let wrong_type =
        write_spec("SELECT make_array(1, 2) AS id, 'c' AS name, 1.0 AS score", "  write_mode: {operation: append}");
    std::fs::write(dir.path().join("spec.yml"), wrong_type).unwrap();
    let out = aqueducts(dir.path(), &["check", "-f", "spec.yml"]);
    let report = text(&out.stderr) + &text(&out.stdout);
    assert!(report.contains("column `id` is List") && report.contains("but Int64 in the Delta table"), "{report}");
    let unknown_key = write_spec("SELECT 3 AS id", "  write_mode: {operation: upsert, params: [idd]}");
    std::fs::write(dir.path().join("spec.yml"), unknown_key).unwrap();
    let out = aqueducts(dir.path(), &["check", "-f", "spec.yml"]);
    let report = text(&out.stderr) + &text(&out.stdout);
    assert!(report.contains("`idd` is not a column of the rows written") && report.contains("`id`"), "{report}");
}

fn table_version(dir: &Path) -> String {
    run_python(dir, "from deltalake import DeltaTable\nprint(DeltaTable('t').version())").trim().to_string()
}

#[test]
fn a_failed_run_leaves_the_table_at_its_version() {
    let dir = workspace();
    let out = run_spec(dir.path(), &write_spec("SELECT 1 AS id", "  write_mode: {operation: append}"), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let spec = "sources: []
stages:
  - name: broken
    query: SELECT CAST(concat('x', value) AS INT) AS n FROM range(3)
    show: 3
  - name: rows
    query: SELECT value AS id FROM range(1000)
destination:
  type: delta
  name: t
  location: ./t
  write_mode: {operation: append}
";
    let out = run_spec(dir.path(), spec, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("stage `broken` failed"), "{}", text(&out.stderr));
    assert_eq!(table_version(dir.path()), "0");
    assert_eq!(python_rows(dir.path(), "t", "id"), ["0", "1"]);
    let staging = dir.path().join("t/_aqueducts_staging");
    let debris = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
    assert_eq!(debris, 0, "no staged rows are left behind");
}

/// Starts a run of `spec` in `dir` in the background.
fn start_run(dir: &Path, file: &str, spec: &str) -> std::process::Child {
    std::fs::write(dir.join(file), spec).unwrap();
    Command::new(env!("CARGO_BIN_EXE_aqueducts"))
        .args(["run", "-f", file, "-q"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until a run has started staging rows into table `t`.
fn wait_for_staging(dir: &Path) {
    let started = Instant::now();
    let staging = dir.join("t/_aqueducts_staging");
    while !std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some()) {
        assert!(started.elapsed() < Duration::from_secs(60), "the run never started writing");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Enough rows that writing them takes a while.
const MANY_ROWS: &str = "SELECT 'eu' AS region, value AS id, repeat('x', 40) AS filler FROM range(30000000)";

#[test]
fn a_killed_run_leaves_a_readable_table_at_its_version() {
    let dir = workspace();
    let spec = write_spec("SELECT 'eu' AS region, 1 AS id, 'x' AS filler", "  write_mode: {operation: append}");
    let out = run_spec(dir.path(), &spec, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut run = start_run(dir.path(), "many.yml", &write_spec(MANY_ROWS, "  write_mode: {operation: append}"));
    wait_for_staging(dir.path());
    std::thread::sleep(Duration::from_millis(300));
    run.kill().unwrap(); // SIGKILL
    run.wait().unwrap();
    assert_eq!(python_rows(dir.path(), "t", "id"), ["0", "1"]);
}

#[test]
fn concurrent_appends_both_land_and_a_conflicting_replace_fails_clearly() {
    let dir = workspace();
    let append = |rows: &str| write_spec(rows, "  write_mode: {operation: append}");
    let out = run_spec(dir.path(), &append("SELECT 'eu' AS region, 0 AS id, 'x' AS filler"), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A long append and a short one: the short one commits while the long one writes.
    let long = start_run(dir.path(), "long.yml", &append(MANY_ROWS));
    wait_for_staging(dir.path());
    let out = run_spec(dir.path(), &append("SELECT 'us' AS region, 1 AS id, 'y' AS filler"), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let long = long.wait_with_output().unwrap();
    assert!(long.status.success(), "{}", text(&long.stderr));
    assert_eq!(table_version(dir.path()), "2");
    let counted = python_count(dir.path());
    assert_eq!(counted, 30_000_002);
    // A long replace of region eu and a short one: the short one commits first, and
    // the long one, which started from the version before, must not overwrite it.
    let replace =
        |rows: &str| write_spec(rows, "  write_mode: {operation: replace, params: [{column: region, value: eu}]}");
    let long = start_run(dir.path(), "long.yml", &replace(MANY_ROWS));
    wait_for_staging(dir.path());
    let out = run_spec(dir.path(), &replace("SELECT 'eu' AS region, 5 AS id, 'z' AS filler"), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let long = long.wait_with_output().unwrap();
    let stderr = text(&long.stderr);
    assert_eq!(long.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another writer committed to the Delta table"), "{stderr}");
    assert!(stderr.contains("the table is unchanged: run again"), "{stderr}");
    assert_eq!(table_version(dir.path()), "3");
    assert_eq!(python_rows(dir.path(), "t", "region,id"), ["3", "eu|5", "us|1"]);
}

fn python_count(dir: &Path) -> u64 {
    let code = "from deltalake import DeltaTable\nprint(DeltaTable('t').to_pyarrow_dataset().count_rows())";
    run_python(dir, code).trim().parse().unwrap()
}

#[test]
fn duckdb_reads_what_is_written_when_its_delta_extension_is_at_hand() {
    let dir = workspace();
    let out = run_spec(
        dir.path(),
        &write_spec("SELECT value AS id, value * 2 AS twice FROM range(100)", "  write_mode: {operation: append}"),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let probe = run_python(
        dir.path(),
        "import duckdb
try:
    duckdb.sql('LOAD delta')
    print('ok')
except Exception as e:
    print('missing', str(e).splitlines()[0])",
    );
    if !probe.starts_with("ok") {
        eprintln!(
            "skipped: DuckDB's delta extension is not installed and cannot be downloaded here ({})",
            probe.trim()
        );
        return;
    }
    assert_eq!(duckdb(dir.path(), "SELECT count(*), sum(twice) FROM delta_scan('t')"), ["100|9900"]);
}

#[test]
fn an_executor_reads_and_writes_tables_in_its_directory() {
    let dir = workspace();
    three_versions(dir.path());
    let executor = Executor::start(dir.path(), &[]);
    let client = tempfile::tempdir().unwrap();
    let spec = "sources:
  - {type: delta, name: t, location: ./t, version: 1}
stages:
  - name: doubled
    query: SELECT id * 2 AS id, name FROM t
destination:
  type: delta
  name: out
  location: ./doubled
  write_mode: {operation: append}
";
    std::fs::write(client.path().join("spec.yml"), spec).unwrap();
    let out = remote(client.path(), &executor, &["run", "-f", "spec.yml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(python_rows(dir.path(), "doubled", "id,name"), ["0", "2|a", "4|b", "6|c", "8|d", "10|e"]);
    assert!(!client.path().join("doubled").exists(), "written where the executor runs");
}

/// A store the tests write tables to, and Python that opens a table of it with the
/// `deltalake` package as `t` (given `table`, its URL).
struct Remote {
    root: String,
    storage_config: String,
    python_open: String,
}

fn s3() -> Remote {
    let endpoint = service_var("AQUEDUCTS_TEST_S3_ENDPOINT", "moto");
    let key = service_var("AQUEDUCTS_TEST_S3_ACCESS_KEY_ID", "moto");
    let secret = service_var("AQUEDUCTS_TEST_S3_SECRET_ACCESS_KEY", "moto");
    let bucket = format!("delta-{}", std::process::id());
    run_python(
        Path::new("."),
        &format!(
            "import boto3\nboto3.client('s3', endpoint_url={endpoint:?}, aws_access_key_id={key:?}, aws_secret_access_key={secret:?}, region_name='us-east-1').create_bucket(Bucket={bucket:?})"
        ),
    );
    Remote {
        root: format!("s3://{bucket}"),
        storage_config: format!(
            "{{aws_endpoint: '{endpoint}', allow_http: 'true', aws_access_key_id: '{key}', aws_secret_access_key: '{secret}', aws_region: us-east-1}}"
        ),
        python_open: format!(
            "t = DeltaTable(table, storage_options={{'AWS_ENDPOINT_URL': {endpoint:?}, 'AWS_ALLOW_HTTP': 'true', 'AWS_ACCESS_KEY_ID': {key:?}, 'AWS_SECRET_ACCESS_KEY': {secret:?}, 'AWS_REGION': 'us-east-1'}})"
        ),
    }
}

/// Azurite's well-known development account.
const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn azure() -> Remote {
    let endpoint = service_var("AQUEDUCTS_TEST_AZURE_ENDPOINT", "Azurite");
    let container = format!("delta-{}", std::process::id());
    run_python(
        Path::new("."),
        &format!(
            "from azure.storage.blob import BlobServiceClient\nBlobServiceClient(account_url={endpoint:?}, credential={{'account_name': 'devstoreaccount1', 'account_key': {AZURITE_KEY:?}}}).create_container({container:?})"
        ),
    );
    Remote {
        root: format!("az://{container}"),
        storage_config: format!(
            "{{azure_storage_account_name: devstoreaccount1, azure_storage_account_key: '{AZURITE_KEY}', azure_storage_endpoint: '{endpoint}', allow_http: 'true'}}"
        ),
        // The package's Azure URLs do not take Azurite's account-in-path endpoint, so the
        // table's blobs are fetched with Azure's own client and the copy is read.
        python_open: format!(
            "import os
from azure.storage.blob import BlobServiceClient
container = BlobServiceClient(account_url={endpoint:?}, credential={{'account_name': 'devstoreaccount1', 'account_key': {AZURITE_KEY:?}}}).get_container_client({container:?})
prefix = table.split('/', 3)[3] + '/'
for blob in container.list_blobs(name_starts_with=prefix):
    local = os.path.join('copy', blob.name[len(prefix):])
    os.makedirs(os.path.dirname(local), exist_ok=True)
    open(local, 'wb').write(container.download_blob(blob.name).readall())
t = DeltaTable('copy')"
        ),
    }
}

/// Creates, appends to and upserts into a table on `store`, reads it back with the
/// Python package, and reads its first version back here.
fn writes_and_reads_on(store: Remote) {
    let dir = workspace();
    let table = format!("{}/tables/sales", store.root);
    let write = |query: &str, mode: &str| {
        let spec = format!(
            "sources: []
stages:
  - name: rows
    query: {query}
destination:
  type: delta
  name: sales
  location: {table}
  storage_config: {config}
  partition_columns: [region]
  write_mode: {mode}
",
            config = store.storage_config
        );
        let out = run_spec(dir.path(), &spec, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    write("SELECT * FROM (VALUES (1, 'eu'), (2, 'us')) AS v(id, region)", "{operation: append}");
    write("SELECT * FROM (VALUES (2, 'ap'), (3, 'eu')) AS v(id, region)", "{operation: upsert, params: [id]}");
    let read = run_python(
        dir.path(),
        &format!(
            "from deltalake import DeltaTable
table = {table:?}
{open}
print(t.version(), sorted((r['id'], r['region']) for r in t.to_pyarrow_table().to_pylist()))",
            open = store.python_open
        ),
    );
    assert_eq!(read.trim(), "1 [(1, 'eu'), (2, 'ap'), (3, 'eu')]");
    let spec = format!(
        "sources:
  - type: delta
    name: sales
    location: {table}
    storage_config: {config}
    version: 0
stages:
  - name: first
    query: SELECT count(*) AS n, max(id) AS top FROM sales
    show: 1
",
        config = store.storage_config
    );
    let out = run_spec(dir.path(), &spec, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("| 2 | 2   |"), "{}", text(&out.stdout));
}

#[test]
fn tables_on_s3() {
    writes_and_reads_on(s3());
}

#[test]
fn tables_on_azure() {
    writes_and_reads_on(azure());
}

//! ODBC sources against a real PostgreSQL through psqlodbc. `scripts/test.sh` starts the
//! server (scripts/postgres.sh) and exports where it is; outputs are read back with DuckDB.

mod common;

use common::{aqueducts, duckdb, run_spec as run, text, workspace};

use std::process::Command;

struct Postgres {
    port: String,
    password: String,
    driver: String,
    bin: String,
}

fn postgres() -> Postgres {
    let var = |name: &str| common::service_var(name, "PostgreSQL");
    Postgres {
        port: var("AQUEDUCTS_TEST_PG_PORT"),
        password: var("AQUEDUCTS_TEST_PG_PASSWORD"),
        driver: var("AQUEDUCTS_TEST_PG_DRIVER"),
        bin: var("AQUEDUCTS_TEST_PG_BIN"),
    }
}

impl Postgres {
    /// A driver-style connection string; `password` goes in as written (a secret
    /// reference, or the password itself).
    fn connection_string(&self, password: &str) -> String {
        format!(
            "Driver={};Server=127.0.0.1;Port={};Database=aqueducts_test;Uid=aqueducts;Pwd={password};BoolsAsChar=0;",
            self.driver, self.port
        )
    }

    /// Runs SQL with psql (the independent client).
    fn psql(&self, sql: &str) -> String {
        let out = Command::new(format!("{}/psql", self.bin))
            .args(["-h", "127.0.0.1", "-p", &self.port, "-U", "aqueducts", "-d", "aqueducts_test", "-At", "-c", sql])
            .env("PGPASSWORD", &self.password)
            .output()
            .expect("run psql");
        assert!(out.status.success(), "psql failed: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

/// A spec reading `query` from PostgreSQL as `db`, written by `stage` to out/result.parquet.
fn spec(connection: &str, query: &str, stage: &str, extra_sources: &str) -> String {
    format!(
        "sources:
  - type: odbc
    name: db
    connection_string: '{connection}'
    load_query: |
      {query}
{extra_sources}stages:
  - name: result
    query: |
      {stage}
destination:
  type: file
  name: out
  location: ./out/result.parquet
  format: {{type: parquet, options: {{}}}}
"
    )
}

#[test]
fn common_column_types_and_nulls_join_a_file_source() {
    let pg = postgres();
    pg.psql(
        "DROP TABLE IF EXISTS typed;
         CREATE TABLE typed (id integer, big bigint, amount numeric(12,2), ratio double precision,
           note text, code varchar(8), flag boolean, day date, seen timestamp, location_id integer);
         INSERT INTO typed VALUES
           (1, 9000000000, 12.34, 0.5, 'first', 'A1', true, '2024-01-02', '2024-01-02 03:04:05', 1),
           (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2),
           (3, -1, -0.01, 1e300, 'ünïcode ✓', 'Z', false, '1999-12-31', '1999-12-31 23:59:59', 3);",
    );
    let dir = workspace();
    let locations = "  - type: file\n    name: locations\n    format: {type: csv, options: {}}\n    location: ./examples/data/location_dict.csv\n";
    let text_spec = spec(
        &pg.connection_string(&pg.password),
        "SELECT id, big, amount, ratio, note, code, flag, day, seen, location_id FROM typed",
        "SELECT db.*, locations.location_name FROM db JOIN locations ON db.location_id = locations.location_id",
        locations,
    );
    let out = run(dir.path(), &text_spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = duckdb(
        dir.path(),
        "SELECT id, big, amount, ratio, note, code, flag, day, seen, location_name FROM 'out/result.parquet' ORDER BY id",
    );
    assert_eq!(
        rows,
        [
            "1|9000000000|12.34|0.5|first|A1|True|2024-01-02|2024-01-02 03:04:05|Vienna",
            "2|None|None|None|None|None|None|None|None|Graz",
            "3|-1|-0.01|1e+300|ünïcode ✓|Z|False|1999-12-31|1999-12-31 23:59:59|Linz",
        ]
    );
}

#[test]
fn a_million_rows_stream_through() {
    let pg = postgres();
    let dir = workspace();
    let text_spec = spec(
        &pg.connection_string(&pg.password),
        "SELECT g AS id, md5(g::text) AS hash, repeat('x', (g % 5000)::int) AS text_value FROM generate_series(1, 1000000) AS g",
        "SELECT id, hash, length(text_value) AS text_length FROM db",
        "",
    );
    let out = run(dir.path(), &text_spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = duckdb(
        dir.path(),
        "SELECT count(*), sum(id), max(text_length), sum(text_length), count(DISTINCT hash) FROM 'out/result.parquet'",
    );
    let lengths: u64 = (1..=1_000_000u64).map(|g| g % 5000).sum();
    assert_eq!(summary, [format!("1000000|500000500000|4999|{lengths}|1000000")]);
    let expected = pg.psql("SELECT md5('123456')");
    let hash = duckdb(dir.path(), "SELECT hash FROM 'out/result.parquet' WHERE id = 123456");
    assert_eq!(hash, [expected.trim()]);
}

#[test]
fn long_text_values_are_read_whole_and_too_long_ones_name_their_column() {
    let pg = postgres();
    pg.psql(
        "DROP TABLE IF EXISTS long_text;
         CREATE TABLE long_text (id integer, body text, label varchar);
         INSERT INTO long_text SELECT g, repeat(chr(65 + g), 100000 * g), repeat('é', 3000 * g)
           FROM generate_series(1, 3) AS g;",
    );
    let dir = workspace();
    let connection = pg.connection_string(&pg.password);
    let read = spec(&connection, "SELECT id, body, label FROM long_text", "SELECT * FROM db", "");
    let out = run(dir.path(), &read, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = duckdb(
        dir.path(),
        "SELECT id, length(body), body = repeat(chr(65 + id::int), 100000 * id::int), length(label), md5(label)
         FROM 'out/result.parquet' ORDER BY id",
    );
    let hashes = pg.psql("SELECT md5(label) FROM long_text ORDER BY id");
    let hashes: Vec<&str> = hashes.lines().collect();
    assert_eq!(
        rows,
        [
            format!("1|100000|True|3000|{}", hashes[0]),
            format!("2|200000|True|6000|{}", hashes[1]),
            format!("3|300000|True|9000|{}", hashes[2]),
        ]
    );

    // Beyond what a column without a length can hold: an error naming the column, and
    // the destination left as it was.
    let too_long = spec(&connection, "SELECT id, repeat('x', 2000000) AS huge FROM long_text", "SELECT * FROM db", "");
    let out = run(dir.path(), &too_long, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("column `huge` holds a value of 2000000 bytes, more than its read buffer"), "{stderr}");
    assert_eq!(duckdb(dir.path(), "SELECT count(*) FROM 'out/result.parquet'"), ["3"]);
}

#[test]
fn a_bad_query_and_a_bad_connection_string_are_located_diagnostics() {
    let pg = postgres();
    let dir = workspace();
    std::fs::write(
        dir.path().join("bad.yml"),
        spec(&pg.connection_string(&pg.password), "SELECT no_such_column FROM pg_class", "SELECT * FROM db", ""),
    )
    .unwrap();
    let out = aqueducts(dir.path(), &["check", "-f", "bad.yml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the database rejected the query of source `db`"), "{stderr}");
    assert!(stderr.contains("no_such_column"), "the driver's message: {stderr}");
    assert!(stderr.contains("bad.yml:6:7"), "located at the query: {stderr}");
    assert!(stderr.contains("column \"no_such_column\" does not exist"), "{stderr}");
    assert!(!stderr.contains(&pg.password), "no password in diagnostics");

    let wrong = pg.connection_string("not-the-password");
    std::fs::write(dir.path().join("conn.yml"), spec(&wrong, "SELECT 1 AS one", "SELECT * FROM db", "")).unwrap();
    let out = aqueducts(dir.path(), &["check", "-f", "conn.yml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect to the database"), "{stderr}");
    assert!(stderr.contains("conn.yml:4:"), "located at the connection string: {stderr}");
    assert!(!stderr.contains("not-the-password"), "no password in diagnostics: {stderr}");
}

#[test]
fn secrets_come_from_the_environment_of_the_running_process() {
    let pg = postgres();
    let dir = workspace();
    let connection = pg.connection_string("{{ env(\"AQ_TEST_PG_PASSWORD\") }}");
    let with_schema = spec(&connection, "SELECT 41 + 1 AS answer", "SELECT answer FROM db", "")
        .replace("    load_query: |", "    schema: [{name: answer, data_type: int32}]\n    load_query: |");
    std::fs::write(dir.path().join("spec.yml"), &with_schema).unwrap();
    // The plan holds a reference, not the password.
    let plan = dir.path().join("secret.aqp");
    let out = aqueducts(dir.path(), &["plan", "-f", "spec.yml", "--out", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let bytes = std::fs::read(&plan).unwrap();
    assert!(!bytes.windows(pg.password.len()).any(|w| w == pg.password.as_bytes()), "no password in the artifact");
    let explained = aqueducts(dir.path(), &["plan", "-f", "spec.yml", "--explain"]);
    let explained = text(&explained.stdout);
    assert!(explained.contains("Pwd={{ env(\"AQ_TEST_PG_PASSWORD\") }}"), "{explained}");
    assert!(!explained.contains(&pg.password));
    // A password written into the spec is masked in the plan display.
    std::fs::write(
        dir.path().join("literal.yml"),
        with_schema.replace("{{ env(\"AQ_TEST_PG_PASSWORD\") }}", &pg.password),
    )
    .unwrap();
    let literal = text(&aqueducts(dir.path(), &["plan", "-f", "literal.yml", "--explain"]).stdout);
    assert!(literal.contains("OdbcScanExec: connection=") && !literal.contains(&pg.password), "{literal}");

    let missing = run(dir.path(), &with_schema, &[]);
    let stderr = text(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("environment variable `AQ_TEST_PG_PASSWORD` is not set"), "{stderr}");

    let out = run(dir.path(), &with_schema, &[("AQ_TEST_PG_PASSWORD", &pg.password)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(duckdb(dir.path(), "SELECT answer FROM 'out/result.parquet'"), ["42"]);
}

/// A pipeline that writes the example's daily averages (84 rows) to an ODBC table.
fn write_spec(connection: &str, table: &str, mode: &str, query: &str) -> String {
    format!(
        "sources:
  - type: file
    name: readings
    format: {{type: csv, options: {{has_header: true}}}}
    location: ./examples/data/temp_readings_jan_2024.csv
stages:
  - name: daily
    query: |
      {query}
destination:
  type: odbc
  name: {table}
  connection_string: '{connection}'
  batch_size: 10
  write_mode:
{mode}
"
    )
}

const DAILY: &str = "SELECT cast(timestamp AS date) AS day, location_id, round(avg(temperature_c), 2) AS avg_temp FROM readings GROUP BY 1, 2";

#[test]
fn append_and_custom_writes_commit_everything_or_nothing() {
    let pg = postgres();
    pg.psql(
        "DROP TABLE IF EXISTS daily_append, daily_custom, write_log;
         CREATE TABLE daily_append (day date, location_id bigint, avg_temp double precision NOT NULL);
         CREATE TABLE daily_custom (day date, location_id bigint, avg_temp double precision);
         CREATE TABLE write_log (note text);
         INSERT INTO daily_append VALUES ('2000-01-01', 0, 1.0);",
    );
    let dir = workspace();
    let connection = pg.connection_string(&pg.password);
    let expected = common::expected_averages(dir.path(), "jan");

    let append = write_spec(&connection, "public.daily_append", "    operation: append", DAILY);
    let out = run(dir.path(), &append, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(pg.psql("SELECT count(*) FROM daily_append").trim(), (expected.len() + 1).to_string());
    let sum: f64 = pg.psql("SELECT sum(avg_temp) FROM daily_append WHERE location_id > 0").trim().parse().unwrap();
    let want: f64 = expected.values().sum();
    assert!((sum - want).abs() < 0.01, "{sum} vs {want}");

    let custom = write_spec(
        &connection,
        "daily_custom",
        "    operation: custom\n    transaction:\n      pre_insert: INSERT INTO write_log VALUES ('custom run')\n      insert: INSERT INTO daily_custom (day, location_id, avg_temp) VALUES (?, ?, ? * 10)",
        DAILY,
    );
    let out = run(dir.path(), &custom, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(pg.psql("SELECT count(*) FROM daily_custom").trim(), expected.len().to_string());
    let sum: f64 = pg.psql("SELECT sum(avg_temp) FROM daily_custom").trim().parse().unwrap();
    assert!((sum - want * 10.0).abs() < 0.1, "{sum} vs {}", want * 10.0);
    assert_eq!(pg.psql("SELECT note FROM write_log").trim(), "custom run");

    // A NULL in a NOT NULL column after many good rows: nothing of the run is kept.
    let before = pg.psql("SELECT count(*) FROM daily_append");
    let failing = write_spec(
        &connection,
        "daily_append",
        "    operation: append",
        "SELECT day, location_id, CASE WHEN day = DATE '2024-01-20' THEN NULL ELSE avg_temp END AS avg_temp FROM (SELECT cast(timestamp AS date) AS day, location_id, round(avg(temperature_c), 2) AS avg_temp FROM readings GROUP BY 1, 2) ORDER BY day",
    );
    let out = run(dir.path(), &failing, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("insert failed"), "{stderr}");
    assert!(!stderr.contains(&pg.password), "{stderr}");
    assert_eq!(pg.psql("SELECT count(*) FROM daily_append"), before, "rolled back");

    // Another stage failing after the insert finished: the transaction, held open until
    // the whole run succeeds, is rolled back.
    let late_failure = write_spec(&connection, "daily_append", "    operation: append", DAILY).replace(
        "destination:",
        "  - name: late_failure
    query: SELECT CAST(CASE WHEN value = 2999999 THEN 'x' ELSE '1' END AS INT) AS n FROM (SELECT value FROM range(3000000) ORDER BY value DESC)
    show: 1
destination:",
    );
    let out = run(dir.path(), &late_failure, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stage `late_failure` failed"), "{stderr}");
    assert_eq!(pg.psql("SELECT count(*) FROM daily_append"), before, "rolled back after another stage failed");

    // A missing table and a missing column are reported before anything is written.
    let missing = write_spec(&connection, "no_such_table", "    operation: append", DAILY);
    let out = run(dir.path(), &missing, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot write to table \"no_such_table\""), "{}", text(&out.stderr));
    let extra = write_spec(
        &connection,
        "daily_append",
        "    operation: append",
        &format!("SELECT *, 1 AS extra FROM ({DAILY})"),
    );
    let out = run(dir.path(), &extra, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("has no column `extra`"), "{}", text(&out.stderr));
    assert_eq!(pg.psql("SELECT count(*) FROM daily_append"), before);
}

#[test]
fn dsn_and_driver_name_connection_strings_work() {
    let pg = postgres();
    let dir = workspace();
    // A user DSN in an odbc.ini of our own; the driver by the name its package registered.
    let ini = dir.path().join("odbc.ini");
    std::fs::write(
        &ini,
        format!(
            "[aqueducts_test]\nDriver=PostgreSQL Unicode\nServername=127.0.0.1\nPort={}\nDatabase=aqueducts_test\n",
            pg.port
        ),
    )
    .unwrap();
    let by_name = format!(
        "Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={};Database=aqueducts_test;Uid=aqueducts;Pwd={};",
        pg.port, pg.password
    );
    let by_dsn = format!("DSN=aqueducts_test;Uid=aqueducts;Pwd={};", pg.password);
    for connection in [by_name, by_dsn] {
        let text_spec = spec(&connection, "SELECT 7 AS seven", "SELECT seven * 6 AS answer FROM db", "");
        let out = run(dir.path(), &text_spec, &[("ODBCINI", ini.to_str().unwrap())]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(duckdb(dir.path(), "SELECT answer FROM 'out/result.parquet'"), ["42"]);
    }
}

//! ODBC sources and destinations against a real MariaDB through MariaDB Connector/ODBC.
//! `scripts/test.sh` starts the server (scripts/mariadb.sh) and exports where it is;
//! values are checked with the `mariadb` client and DuckDB.

mod common;

use common::{duckdb, run_spec as run, text, workspace};

use std::process::Command;

struct MariaDb {
    port: String,
    password: String,
    driver: String,
}

fn mariadb() -> MariaDb {
    let var = |name: &str| common::service_var(name, "MariaDB");
    MariaDb {
        port: var("AQUEDUCTS_TEST_MARIADB_PORT"),
        password: var("AQUEDUCTS_TEST_MARIADB_PASSWORD"),
        driver: var("AQUEDUCTS_TEST_MARIADB_DRIVER"),
    }
}

impl MariaDb {
    fn connection_string(&self) -> String {
        format!(
            "Driver={};Server=127.0.0.1;Port={};Database=aqueducts_test;User=aqueducts;Password={};",
            self.driver, self.port, self.password
        )
    }

    /// Runs SQL with the `mariadb` client (the independent reader).
    fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .args([
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                &self.port,
                "-u",
                "aqueducts",
                "-N",
                "-B",
                "aqueducts_test",
            ])
            .arg(format!("-p{}", self.password))
            .args(["-e", sql])
            .output()
            .expect("run mariadb");
        assert!(out.status.success(), "mariadb failed: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

#[test]
fn mariadb_sources_and_destinations() {
    let db = mariadb();
    db.sql(
        "DROP TABLE IF EXISTS typed, copied;
         CREATE TABLE typed (id int, big bigint, amount decimal(12,2), ratio double, note text,
           code varchar(8), flag boolean, day date, seen datetime);
         INSERT INTO typed VALUES
           (1, 9000000000, 12.34, 0.5, 'first', 'A1', true, '2024-01-02', '2024-01-02 03:04:05'),
           (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (3, -1, -0.01, 1e300, REPEAT('ü', 20000), 'Z', false, '1999-12-31', '1999-12-31 23:59:59');
         CREATE TABLE copied (id int NOT NULL, note_length bigint, day date, `order` varchar(10));",
    );
    let dir = workspace();
    let connection = db.connection_string();
    let read = format!(
        "sources:
  - type: odbc
    name: db
    connection_string: '{connection}'
    load_query: SELECT id, big, amount, ratio, note, code, flag, day, seen FROM typed
stages:
  - name: result
    query: SELECT * FROM db
destination:
  type: file
  name: out
  location: ./out/result.parquet
  format: {{type: parquet, options: {{}}}}
"
    );
    let out = run(dir.path(), &read, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = duckdb(
        dir.path(),
        "SELECT id, big, amount, ratio, left(note, 5), length(note), code, flag::int, day, seen FROM 'out/result.parquet' ORDER BY id",
    );
    assert_eq!(
        rows,
        [
            "1|9000000000|12.34|0.5|first|5|A1|1|2024-01-02|2024-01-02 03:04:05",
            "2|None|None|None|None|None|None|None|None|None",
            "3|-1|-0.01|1e+300|üüüüü|20000|Z|0|1999-12-31|1999-12-31 23:59:59",
        ]
    );

    // Append into a table with a reserved word as a column name (quoted the database's way).
    let write = |query: &str| {
        format!(
            "sources:
  - type: odbc
    name: db
    connection_string: '{connection}'
    load_query: SELECT id, note, day FROM typed
stages:
  - name: rows
    query: {query}
destination:
  type: odbc
  name: copied
  connection_string: '{connection}'
  batch_size: 2
  write_mode:
    operation: append
"
        )
    };
    let out = run(dir.path(), &write("SELECT id, length(note) AS note_length, day, 'x' AS \"order\" FROM db"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        db.sql("SELECT id, note_length, day, `order` FROM copied ORDER BY id"),
        "1\t5\t2024-01-02\tx\n2\tNULL\tNULL\tx\n3\t20000\t1999-12-31\tx\n"
    );

    // A NULL into the NOT NULL id after good rows: nothing of the run is kept.
    let out = run(
        dir.path(),
        &write(
            "SELECT CASE WHEN id = 3 THEN NULL ELSE id END AS id, length(note) AS note_length, day, 'y' AS \"order\" FROM db ORDER BY id NULLS LAST",
        ),
        &[],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains(&db.password), "{stderr}");
    assert_eq!(db.sql("SELECT count(*), sum(`order` = 'y') FROM copied"), "3\t0\n", "rolled back");

    // A query the database rejects is a diagnostic at the query.
    let bad = read.replace("FROM typed", "FROM no_such_table");
    let out = run(dir.path(), &bad, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the database rejected the query of source `db`"), "{stderr}");
    assert!(stderr.contains("no_such_table"), "{stderr}");
    assert!(!stderr.contains(&db.password), "{stderr}");
}

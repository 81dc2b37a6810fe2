"""DuckDB's side of the SQL conformance corpus.

    python reference.py prepare DIR             the tables of data.sql as DIR/<table>.parquet
    python reference.py compare DIR MANIFEST    DuckDB's answer to every case of MANIFEST (JSON
                                                written by tests/conformance.rs) compared with
                                                the Parquet file the pipeline wrote, read back
                                                with pyarrow; prints a JSON result per case
    python reference.py answer DIR CASES.sql    DuckDB's answers to a case file (for authors)
    python reference.py postgres DIR CASES.sql  the same cases on DuckDB and on PostgreSQL
                                                (PG* environment variables; needs psycopg),
                                                for authors checking that both agree

DuckDB runs with PostgreSQL's conventions where the two differ by default: `/` on integers
divides as integers, and NULLs sort last ascending and first descending.
"""

import datetime
import decimal
import json
import math
import pathlib
import re
import sys

import duckdb

HERE = pathlib.Path(__file__).resolve().parent
TABLES = ["customers", "orders", "products", "order_items", "employees", "events", "edges", "nullable", "texts"]


def connect(data_dir):
    con = duckdb.connect()
    con.execute("SET integer_division = true")
    con.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 1")
    for table in TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{data_dir}/{table}.parquet')")
    return con


def prepare(data_dir):
    data_dir = pathlib.Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute((HERE / "data.sql").read_text())
    for table in TABLES:
        con.execute(f"COPY {table} TO '{data_dir}/{table}.parquet' (FORMAT parquet)")


CASE = re.compile(r"^-- case: ([a-z0-9_]+)\s*$")
STAGE = re.compile(r"^-- stage: ([a-z0-9_]+)\s*$")
DEVIATION = re.compile(r"^-- deviation: (.+)$")


def load_cases(path):
    """The cases of one file, in the format tests/conformance.rs reads (see README.md)."""
    path = pathlib.Path(path)
    cases = []
    current = None
    for line in path.read_text().splitlines():
        if m := CASE.match(line):
            current = {"name": m.group(1), "category": path.stem, "stages": [], "reference": None, "deviation": None}
            cases.append(current)
            continue
        if current is None:
            continue
        if m := STAGE.match(line):
            current["stages"].append([m.group(1), ""])
            continue
        if m := DEVIATION.match(line):
            current["deviation"] = m.group(1).strip()
            continue
        if line.strip() == "-- reference:":
            current["reference"] = ""
            continue
        if current["reference"] is not None:
            current["reference"] += line + "\n"
        else:
            if not current["stages"]:
                # Comments before the SQL describe the case.
                if not line.strip() or line.lstrip().startswith("--"):
                    continue
                current["stages"].append(["result", ""])
            current["stages"][-1][1] += line + "\n"
    for case in cases:
        case["stages"] = [[name, sql.strip().rstrip(";").strip()] for name, sql in case["stages"]]
        if case["reference"] is not None:
            case["reference"] = case["reference"].strip().rstrip(";").strip()
    return cases


def run_duckdb(con, case):
    """DuckDB's rows for a case: earlier stages become views the later ones read."""
    views = []
    try:
        for name, sql in case["stages"][:-1]:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
            views.append(name)
        final = case["reference"] or case["stages"][-1][1]
        return [list(row) for row in con.execute(final).fetchall()]
    finally:
        for name in reversed(views):
            con.execute(f"DROP VIEW IF EXISTS {name}")


def normal(value):
    """A value in a form both engines' answers can be compared in."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, decimal.Decimal)):
        if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
            return int(value)
        return float(value) if isinstance(value, decimal.Decimal) else value
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, datetime.date):
        # A date and the midnight that starts it compare equal: PostgreSQL and DuckDB
        # answer `date + interval` or `date_trunc` on a date with either.
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, datetime.timedelta):
        return ("interval", 0, value.days, value.seconds * 1_000_000 + value.microseconds)
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"months", "days", "nanoseconds"}:  # pyarrow's month_day_nano
            return ("interval", value["months"], value["days"], value["nanoseconds"] // 1000)
        return {k: normal(v) for k, v in value.items()}
    if hasattr(value, "months") and hasattr(value, "days") and hasattr(value, "nanoseconds"):
        return ("interval", value.months, value.days, value.nanoseconds // 1000)
    return value


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool) or isinstance(b, bool):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a.values()) and len(a) == len(b) and all(same(x, y) for x, y in zip(a.values(), b.values()))
    return type(a) is type(b) and a == b


def sort_key(row):
    return [(v is None, repr(type(v)), round(v, 6) if isinstance(v, float) else repr(v)) for v in row]


def compare_rows(ours, theirs, ordered):
    """None when the answers agree, otherwise what differs."""
    ours = [[normal(v) for v in row] for row in ours]
    theirs = [[normal(v) for v in row] for row in theirs]
    if ours and theirs and len(ours[0]) != len(theirs[0]):
        return f"{len(ours[0])} columns, DuckDB has {len(theirs[0])}"
    if len(ours) != len(theirs):
        return f"{len(ours)} rows, DuckDB has {len(theirs)}: ours {show(ours)} DuckDB {show(theirs)}"
    if not ordered:
        ours, theirs = sorted(ours, key=sort_key), sorted(theirs, key=sort_key)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if not same(a, b):
            return f"row {i + 1}: ours {a!r}, DuckDB {b!r}"
    return None


def show(rows, limit=6):
    text = ", ".join(repr(r) for r in rows[:limit])
    return f"[{text}{', ...' if len(rows) > limit else ''}]"


def read_ours(path):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [list(row) for row in zip(*columns)] if columns else []


def compare(data_dir, manifest_path):
    manifest = json.loads(pathlib.Path(manifest_path).read_text())
    con = connect(data_dir)
    for case in manifest:
        result = {"name": case["name"]}
        try:
            theirs = run_duckdb(con, case)
        except Exception as e:  # noqa: BLE001 - DuckDB's refusal is the answer to report
            result["duckdb_error"] = str(e).splitlines()[0]
            theirs = None
        if case.get("error") is not None:
            result["error"] = case["error"]
        elif theirs is not None:
            result["difference"] = compare_rows(read_ours(case["output"]), theirs, case["ordered"])
        print(json.dumps(result), flush=True)


def answer(data_dir, files):
    con = connect(data_dir)
    for path in files:
        for case in load_cases(path):
            try:
                rows = run_duckdb(con, case)
                print(f"{case['name']}: {len(rows)} rows {show(rows)}")
            except Exception as e:  # noqa: BLE001
                print(f"{case['name']}: DUCKDB ERROR {str(e).splitlines()[0]}")


def postgres(data_dir, files):
    import psycopg

    duck = connect(data_dir)
    pg = psycopg.connect(autocommit=True)
    types = {"INTEGER": "integer", "BIGINT": "bigint", "VARCHAR": "text", "DATE": "date", "TIMESTAMP": "timestamp",
             "DOUBLE": "double precision", "BOOLEAN": "boolean"}
    for table in TABLES:
        columns = duck.execute(f"DESCRIBE {table}").fetchall()
        pg.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        pg.execute(f"CREATE TABLE {table} (" + ", ".join(
            f"{c[0]} {types.get(c[1], c[1].replace('DECIMAL', 'numeric'))}" for c in columns) + ")")
        rows = duck.execute(f"SELECT * FROM {table}").fetchall()
        with pg.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(columns))})", rows)
    for path in files:
        for case in load_cases(path):
            try:
                theirs = run_duckdb(duck, case)
            except Exception as e:  # noqa: BLE001
                print(f"{case['name']}: DUCKDB ERROR {str(e).splitlines()[0]}")
                continue
            try:
                with pg.transaction():
                    for name, sql in case["stages"][:-1]:
                        pg.execute(f"CREATE TEMP VIEW {name} AS {sql}")
                    rows = [list(r) for r in pg.execute(case["stages"][-1][1]).fetchall()]
                    raise Rollback(rows)
            except Rollback as done:
                ordered = bool(re.search(r"order\s+by[^)]*$", case["stages"][-1][1], re.I | re.S))
                difference = compare_rows(done.rows, theirs, ordered)
                print(f"{case['name']}: {'same' if difference is None else 'DIFFERS ' + difference}")
            except Exception as e:  # noqa: BLE001
                print(f"{case['name']}: POSTGRES ERROR {str(e).splitlines()[0]}")


class Rollback(Exception):
    def __init__(self, rows):
        self.rows = rows


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "prepare":
        prepare(args[0])
    elif command == "compare":
        compare(args[0], args[1])
    elif command == "answer":
        answer(args[0], args[1:])
    elif command == "postgres":
        postgres(args[0], args[1:])
    else:
        sys.exit(f"unknown command {command}")

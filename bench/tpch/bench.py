"""TPC-H benchmark of `aqueducts run` against DuckDB and a single DataFusion query.

Run it through `scripts/bench-tpch.sh`, which builds the release binaries and the Python
environment first. Each contender runs as its own process; its wall time and peak
resident memory (from wait4's rusage) are measured alone. The results of all three are
compared value by value before any figure is printed.

Scenarios:
  pipeline  bench/tpch/pipeline.yml (joins, aggregates, a stage read by two stages) vs
            DuckDB (2 threads) and DataFusion on the same SQL as one statement.
  sort      bench/tpch/sort_lineitem.yml: all of lineitem sorted under --max-memory 0.25.
  delta     lineitem as a Delta table: Q1's aggregate read (bench/delta/read.yml) and an
            upsert of changed and new rows (bench/delta/upsert.yml) vs the deltalake
            package (the same Rust core, from Python) and, for the read, DuckDB's
            delta_scan when its extension can be loaded.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import yaml

HERE = Path(__file__).resolve().parent
DELTA = HERE.parent / "delta"
TABLES = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]
DUCKDB_THREADS = 2


def measure(argv, env=None):
    """Runs argv to completion; returns (seconds, peak RSS in MiB). Fails loudly on error."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"failed ({process.returncode}): {' '.join(map(str, argv))}")
    return seconds, usage.ru_maxrss / 1024


def single_query(pipeline_file):
    """The pipeline's stages as one statement: every stage but the last becomes a CTE."""
    stages = yaml.safe_load(pipeline_file.read_text())["stages"]
    ctes = ",\n".join(f"{stage['name']} AS (\n{stage['query'].strip()}\n)" for stage in stages[:-1])
    return f"WITH {ctes}\n{stages[-1]['query'].strip()}\n"


def rows(parquet, order_by):
    connection = duckdb.connect()
    return connection.execute(f"SELECT * FROM read_parquet('{parquet}') ORDER BY {order_by}").fetchall()


def same(left, right):
    if isinstance(left, str) or isinstance(right, str) or left is None or right is None:
        return left == right
    left, right = float(left), float(right)
    return abs(left - right) <= 1e-9 * max(1.0, abs(left), abs(right))


def compare(name, expected, actual):
    if len(expected) != len(actual):
        sys.exit(f"{name}: {len(actual)} rows, DuckDB has {len(expected)}")
    for index, (want, got) in enumerate(zip(expected, actual)):
        if len(want) != len(got) or not all(same(w, g) for w, g in zip(want, got)):
            sys.exit(f"{name}: row {index} is {got}, DuckDB has {want}")


def pipeline_scenario(args, data, work):
    sql_file = work / "single_query.sql"
    sql_file.write_text(single_query(HERE / "pipeline.yml"))
    contenders = {
        "aqueducts run": lambda out: [
            args.bin_dir / "aqueducts", "run", "--quiet", "--file", HERE / "pipeline.yml",
            "--param", f"data={data}", "--param", f"out={out}",
        ],
        "DataFusion, one query": lambda out: [
            args.bin_dir / "aqueducts-bench", "query", "--data", data, "--sql", sql_file, "--out", out,
        ],
        f"DuckDB ({DUCKDB_THREADS} threads)": lambda out: [
            sys.executable, HERE / "duckdb_query.py", "--data", data, "--sql", sql_file, "--out", out,
            "--threads", str(DUCKDB_THREADS),
        ],
    }
    figures = {}
    outputs = {}
    for run in range(args.runs):
        for name, argv in contenders.items():
            out = work / f"{len(outputs)}-{run}.parquet"
            seconds, mib = measure(argv(out))
            figures.setdefault(name, []).append((seconds, mib))
            outputs[(name, run)] = out
    duck = next(name for name in contenders if name.startswith("DuckDB"))
    order = "nation, year"
    expected = rows(outputs[(duck, 0)], order)
    if len(expected) == 0:
        sys.exit("DuckDB's result is empty: the data or the query is wrong")
    for (name, run), out in outputs.items():
        compare(f"{name} (run {run + 1})", expected, rows(out, order))
    print(f"\nresults agree: {len(expected)} rows from each contender in every run")
    return report(f"pipeline, SF{args.scale_factor}, {args.runs} run(s), median", figures, duck)


def report(title, figures, baseline):
    summary = {name: (statistics.median(s for s, _ in runs), max(m for _, m in runs)) for name, runs in figures.items()}
    base_seconds, base_mib = summary[baseline]
    short = baseline.split(" (")[0]
    print(f"\n{title}")
    print(f"{'contender':<24} {'wall s':>8} {'peak MiB':>9} {'time vs ' + short:>15} {'memory vs ' + short:>17}")
    for name, (seconds, mib) in summary.items():
        print(f"{name:<24} {seconds:>8.2f} {mib:>9.0f} {seconds / base_seconds:>14.2f}x {mib / base_mib:>16.2f}x")
    return summary


def sort_scenario(args, data, work):
    out = work / "sorted.parquet"
    seconds, mib = measure([
        args.bin_dir / "aqueducts", "run", "--quiet", "--file", HERE / "sort_lineitem.yml", "--max-memory", "0.25",
        "--param", f"data={data}", "--param", f"out={out}",
    ])
    connection = duckdb.connect()
    expected = connection.execute(f"SELECT count(*) FROM read_parquet('{data}/lineitem/*.parquet')").fetchone()[0]
    written, unsorted = connection.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE key < previous)
        FROM (SELECT (l_shipdate, l_orderkey, l_linenumber) AS key,
                     lag((l_shipdate, l_orderkey, l_linenumber)) OVER (ORDER BY file_row_number) AS previous
              FROM read_parquet('{out}', file_row_number = true))
    """).fetchone()
    if written != expected or unsorted != 0:
        sys.exit(f"sort: wrote {written} of {expected} rows, {unsorted} out of order")
    print(f"\nsort of lineitem under --max-memory 0.25, SF{args.scale_factor}: {written} rows in order,"
          f" {seconds:.2f} s, peak {mib:.0f} MiB")


def delta_table_and_changes(data):
    """lineitem as a Delta table written by the deltalake package, and the rows an upsert
    merges into it: 5% of the rows with a changed quantity and 2% new ones (made once,
    kept next to the TPC-H data)."""
    import pyarrow.dataset as dataset
    from deltalake import write_deltalake

    table = data / "lineitem_delta"
    if not (table / "_delta_log").exists():
        write_deltalake(str(table), dataset.dataset(str(data / "lineitem"), format="parquet"))
    changes = data / "lineitem_changes.parquet"
    if not changes.exists():
        connection = duckdb.connect()
        lineitem = f"read_parquet('{data}/lineitem/*.parquet')"
        quantity = connection.execute(f"SELECT typeof(l_quantity) FROM {lineitem} LIMIT 1").fetchone()[0]
        connection.execute(f"""COPY (
            SELECT * REPLACE (CAST(l_quantity + 1 AS {quantity}) AS l_quantity) FROM {lineitem} WHERE l_orderkey % 20 = 0
            UNION ALL
            SELECT * REPLACE (l_orderkey + 100000000 AS l_orderkey) FROM {lineitem} WHERE l_orderkey % 50 = 1
        ) TO '{changes}' (FORMAT parquet)""")
    return table, changes


def table_summary(table):
    """Rows, their quantities and the largest key of a Delta table, as the deltalake package reads it."""
    from deltalake import DeltaTable

    connection = duckdb.connect()
    connection.register("t", DeltaTable(str(table)).to_pyarrow_dataset())
    return connection.execute("SELECT count(*), sum(l_quantity), max(l_orderkey) FROM t").fetchone()


def delta_scenario(args, data, work):
    table, changes = delta_table_and_changes(data)
    contender = [sys.executable, DELTA / "contender.py"]
    readers = {
        "aqueducts run": lambda out: [
            args.bin_dir / "aqueducts", "run", "--quiet", "--file", DELTA / "read.yml",
            "--param", f"table={table}", "--param", f"out={out}",
        ],
        "deltalake (Python)": lambda out: contender + ["deltalake", "read", table, out],
    }
    try:
        duckdb.connect().execute("LOAD delta")
        readers[f"DuckDB ({DUCKDB_THREADS} threads)"] = lambda out: contender + ["duckdb", "read", table, out]
    except duckdb.Error as error:
        print(f"DuckDB's delta extension cannot be loaded here, so DuckDB is left out: {str(error).splitlines()[0]}")
    figures, outputs = {}, {}
    for run in range(args.runs):
        for name, argv in readers.items():
            out = work / f"read-{len(outputs)}.parquet"
            figures.setdefault(name, []).append(measure(argv(out)))
            outputs[(name, run)] = out
    expected = rows(outputs[("deltalake (Python)", 0)], "l_returnflag, l_linestatus")
    for (name, run), out in outputs.items():
        compare(f"{name} (run {run + 1})", expected, rows(out, "l_returnflag, l_linestatus"))
    print(f"\nresults agree: {len(expected)} rows from each reader in every run")
    report(f"Delta read (TPC-H Q1 aggregate), SF{args.scale_factor}, {args.runs} run(s), median", figures,
           "deltalake (Python)")

    upserts = {
        "aqueducts run": lambda copy: [
            args.bin_dir / "aqueducts", "run", "--quiet", "--file", DELTA / "upsert.yml",
            "--param", f"table={copy}", "--param", f"changes={changes}",
        ],
        "deltalake (Python)": lambda copy: contender + ["deltalake", "upsert", copy, changes],
    }
    figures, summaries = {}, {}
    for run in range(args.runs):
        for name, argv in upserts.items():
            copy = work / f"upsert-{len(summaries)}"
            shutil.copytree(table, copy)
            figures.setdefault(name, []).append(measure(argv(copy)))
            summaries[(name, run)] = table_summary(copy)
            shutil.rmtree(copy)
    expected = summaries[("deltalake (Python)", 0)]
    if expected == table_summary(table):
        sys.exit("the upsert changed nothing: the changes are wrong")
    for (name, run), summary in summaries.items():
        if [str(v) for v in summary] != [str(v) for v in expected]:
            sys.exit(f"upsert: {name} (run {run + 1}) left {summary}, the deltalake package {expected}")
    print(f"\nupserted tables agree: {expected[0]} rows, quantities {expected[1]}, largest key {expected[2]}")
    report(f"Delta upsert, SF{args.scale_factor}, {args.runs} run(s), median", figures, "deltalake (Python)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", type=Path, required=True, help="where the release binaries are")
    parser.add_argument("--scale-factor", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-root", type=Path, default=Path.home() / ".cache" / "aqueducts-bench")
    parser.add_argument("--scenario", choices=["pipeline", "sort", "delta", "all"], default="all")
    args = parser.parse_args()
    if args.scale_factor == int(args.scale_factor):
        args.scale_factor = int(args.scale_factor)

    data = args.data_root / f"tpch-sf{args.scale_factor}"
    subprocess.run([args.bin_dir / "aqueducts-bench", "generate", "--scale-factor", str(args.scale_factor),
                    "--out", data], check=True)
    work = Path(tempfile.mkdtemp(prefix="aqueducts-bench-"))
    try:
        if args.scenario in ("pipeline", "all"):
            pipeline_scenario(args, data, work)
        if args.scenario in ("sort", "all"):
            sort_scenario(args, data, work)
        if args.scenario in ("delta", "all"):
            delta_scenario(args, data, work)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

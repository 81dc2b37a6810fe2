"""TPC-H benchmark of `aqueducts run` against DuckDB and a single DataFusion query.

Run it through `scripts/bench-tpch.sh`, which builds the release binaries and the Python
environment first. Each contender runs as its own process; its wall time and peak
resident memory (from wait4's rusage) are measured alone. The results of all three are
compared value by value before any figure is printed.

Scenarios:
  pipeline  bench/tpch/pipeline.yml (joins, aggregates, a stage read by two stages) vs
            DuckDB (2 threads) and DataFusion on the same SQL as one statement.
  sort      bench/tpch/sort_lineitem.yml: all of lineitem sorted under --max-memory 0.25.
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
    print(f"\n{title}")
    print(f"{'contender':<24} {'wall s':>8} {'peak MiB':>9} {'time vs DuckDB':>15} {'memory vs DuckDB':>17}")
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", type=Path, required=True, help="where the release binaries are")
    parser.add_argument("--scale-factor", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-root", type=Path, default=Path.home() / ".cache" / "aqueducts-bench")
    parser.add_argument("--scenario", choices=["pipeline", "sort", "all"], default="all")
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
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

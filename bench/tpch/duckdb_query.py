"""Runs one SQL statement over the TPC-H Parquet tables with DuckDB; the result goes to a
Parquet file. The DuckDB contender of bench/tpch/bench.py, run as its own process."""

import argparse
from pathlib import Path

import duckdb

TABLES = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]

parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, required=True)
parser.add_argument("--sql", type=Path, required=True)
parser.add_argument("--out", type=Path, required=True)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

connection = duckdb.connect(config={"threads": args.threads})
for table in TABLES:
    connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{args.data / table}/*.parquet')")
connection.execute(f"COPY ({args.sql.read_text()}) TO '{args.out}' (FORMAT parquet)")

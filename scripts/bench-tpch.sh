#!/usr/bin/env bash
# TPC-H benchmark: builds the release binaries and the Python environment, then runs
# bench/tpch/bench.py with the arguments given (e.g. --scale-factor 5 --runs 1).
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(bash scripts/python-env.sh)"
cargo build --release --workspace --bins
bin_dir="${CARGO_TARGET_DIR:-target}/release"
exec "$python" bench/tpch/bench.py --bin-dir "$bin_dir" "$@"

#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the grammar corpus, and end-to-end tests of the
# `aqueducts` binary (local runs; remote runs against `aqueducts-executor` processes the
# tests start on 127.0.0.1; ODBC against PostgreSQL). Sets up everything it needs itself:
#   - the Python tools that read outputs back (DuckDB, pyarrow): scripts/python-env.sh,
#     a venv under ~/.cache;
#   - PostgreSQL and its ODBC driver (apt packages postgresql, odbc-postgresql, installed
#     when missing and running as root), started on a free port on 127.0.0.1 for this run
#     and stopped afterwards: scripts/postgres.sh; likewise MariaDB and its ODBC driver
#     (apt packages mariadb-server, odbc-mariadb): scripts/mariadb.sh;
#   - object store servers on free ports on 127.0.0.1, stopped afterwards: moto (S3, from
#     PyPI), Azurite (Azure Blob Storage, from npm) and gcp-storage-emulator (Google Cloud
#     Storage, from PyPI, with the XML API of scripts/gcs-emulator.py): scripts/object-stores.sh;
#   - headless Chromium and chromedriver for the web interface's tests (apt packages
#     chromium and chromium-driver, installed when missing if run as root): scripts/browser.sh.
# cargo-nextest is used when installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The build goes where cargo puts it (`target/`, shared with the README's `cargo run`),
# unless CARGO_TARGET_DIR says otherwise (CI keeps it outside the clone).

echo "python tools: $(bash scripts/python-env.sh)"

services="$(mktemp -d "${TMPDIR:-/tmp}/aqueducts-test-services.XXXXXX")"
chmod 755 "$services"
cleanup() {
  bash scripts/postgres.sh stop "$services/postgres" || true
  bash scripts/mariadb.sh stop "$services/mariadb" || true
  bash scripts/object-stores.sh stop "$services/stores" || true
  rm -rf "$services"
}
trap cleanup EXIT
# Starts scripts/SCRIPT.sh and takes in the variables it prints. They are assigned before
# being evaluated so that a failed start stops this script (`eval "$(...)"` carries on).
start_service() { # SCRIPT DIR
  local exports
  exports="$(bash "scripts/$1.sh" start "$services/$2")"
  eval "$exports"
}
start_service postgres postgres
echo "postgresql: 127.0.0.1:$AQUEDUCTS_TEST_PG_PORT"
start_service mariadb mariadb
echo "mariadb: 127.0.0.1:$AQUEDUCTS_TEST_MARIADB_PORT"
start_service object-stores stores
echo "s3 (moto): $AQUEDUCTS_TEST_S3_ENDPOINT, azure (azurite): $AQUEDUCTS_TEST_AZURE_ENDPOINT, gcs: $AQUEDUCTS_TEST_GCS_ENDPOINT"
exports="$(bash scripts/browser.sh)"
eval "$exports"
echo "browser: $AQUEDUCTS_TEST_CHROMIUM, $AQUEDUCTS_TEST_CHROMEDRIVER"

# The end-to-end tests start the binaries (`aqueducts-executor` beside `aqueducts`), and
# neither `cargo nextest run` nor `cargo test` builds another package's binary: build
# every target of the workspace first (all targets, so that features resolve as they do
# for the test run and nothing is compiled twice), so that a fresh clone with an empty
# target directory runs the same tests as a warm one.
cargo build --workspace --all-targets

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast
else
  cargo test --workspace --all-targets --no-fail-fast
fi

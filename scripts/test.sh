#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the grammar corpus, and end-to-end tests of the
# `aqueducts` binary. Sets up everything it needs itself; today that is only the Rust
# toolchain (cargo-nextest is used when installed).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aqueducts-target}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast
else
  cargo test --workspace --all-targets --no-fail-fast
fi

#!/usr/bin/env bash
# Makes the Python environment of the tests and benchmarks (scripts/requirements.txt) and
# prints its interpreter. The environment lives outside the clone and is rebuilt only
# when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${AQUEDUCTS_VENV:-$HOME/.cache/aqueducts-venv}"
stamp="$venv/.requirements"
# Test processes may ask at the same time: one builds, the others wait for it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if ! cmp -s scripts/requirements.txt "$stamp" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements.txt >&2
  cp scripts/requirements.txt "$stamp"
fi
echo "$venv/bin/python"

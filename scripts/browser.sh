#!/usr/bin/env bash
# Makes headless Chromium and its WebDriver server available for the web interface's
# tests (Debian packages chromium and chromium-driver, installed when missing and running
# as root), and prints the variables the tests read:
#   AQUEDUCTS_TEST_CHROMIUM, AQUEDUCTS_TEST_CHROMEDRIVER
# The tests start a chromedriver of their own on a free port and stop it.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "browser.sh: chromium and chromium-driver are missing; install them (apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core >&2
fi
echo "export AQUEDUCTS_TEST_CHROMIUM=$(command -v chromium)"
echo "export AQUEDUCTS_TEST_CHROMEDRIVER=$(command -v chromedriver)"

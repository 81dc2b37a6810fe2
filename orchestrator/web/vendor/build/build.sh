#!/usr/bin/env bash
# Rebuilds the vendored files of the web interface from the npm registry, at the exact
# versions of package-lock.json. Only maintainers who upgrade a library run this; building
# the orchestrator uses the committed files and needs no Node.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json editor-entry.js "$work/"
(cd "$work" && npm ci --no-audit --no-fund >/dev/null)
"$work/node_modules/.bin/esbuild" "$work/editor-entry.js" --bundle --minify --format=iife \
  --global-name=AqueductsEditor --legal-comments=none --outfile=../codemirror.js
cp "$work/node_modules/@dagrejs/dagre/dist/dagre.min.js" ../dagre.min.js
cp "$work/node_modules/diff/dist/diff.min.js" ../diff.min.js
echo "rebuilt codemirror.js, dagre.min.js and diff.min.js; update README.md's versions"

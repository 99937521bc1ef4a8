#!/usr/bin/env bash
# UI figures for the release build: bundle sizes (raw, gzip, brotli), then first paint,
# hydration and per-keystroke validation time in headless Chromium (end2end/bench-ui.mjs).
# Build first: ./dev build (or cargo make --no-workspace build).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/outmail ] || { echo "target/release/outmail is missing: run ./dev build" >&2; exit 1; }
bash scripts/size-report.sh target/site/pkg
echo
cd end2end
node bench-ui.mjs

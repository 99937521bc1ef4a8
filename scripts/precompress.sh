#!/usr/bin/env bash
# Writes .br and .gz beside each built text or WASM file, at the highest levels, so the server
# sends them as they are instead of compressing on every request.
set -euo pipefail
site=${1:?usage: precompress.sh SITE_DIR}
find "$site" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.svg' \) -print0 |
  while IFS= read -r -d '' file; do
    brotli --force --best --keep "$file"
    gzip --force --best --keep "$file"
  done

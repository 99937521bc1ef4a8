#!/usr/bin/env bash
# Prints the size of each release WASM, JS and CSS file: raw, gzip -9 and brotli -q 11.
set -euo pipefail
pkg=${1:?usage: size-report.sh PKG_DIR}
printf '%-44s %10s %10s %10s\n' file raw gzip brotli
total_raw=0 total_gz=0 total_br=0
for file in "$pkg"/*.wasm "$pkg"/*.js "$pkg"/*.css; do
  [ -f "$file" ] || continue
  raw=$(stat -c %s "$file")
  gz=$(gzip --best --stdout "$file" | wc -c)
  br=$(brotli --best --stdout "$file" | wc -c)
  total_raw=$((total_raw + raw)) total_gz=$((total_gz + gz)) total_br=$((total_br + br))
  printf '%-44s %10d %10d %10d\n' "$(basename "$file")" "$raw" "$gz" "$br"
done
printf '%-44s %10d %10d %10d\n' total "$total_raw" "$total_gz" "$total_br"

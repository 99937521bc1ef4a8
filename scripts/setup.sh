#!/usr/bin/env bash
# Installs everything building, running and testing outmail needs, from the package registries
# only. Idempotent: what is already installed at the right version is detected and skipped, so a
# second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.0
CARGO_MAKE_VERSION=0.37.24
# Debian packages: the browser for Playwright, compressors for the precompressed site
# files, PostgreSQL for the second storage backend's tests, and the real mail peers the transport
# tests start on loopback: aiosmtpd (run by /usr/bin/python3), tinyproxy and microsocks, and
# Postfix with Cyrus SASL (PLAIN/LOGIN modules, saslpasswd2 for its sasldb) for private instances
# (crates/outmail-testkit/peers/postfix_peer.py); swaks, the reference client of
# scripts/bench-test-send.sh; wrk, the HTTP load generator of the API and outbox benchmarks. The
# system Postfix is left unconfigured, see preseed_postfix.
# (wasm-opt comes from npm, tools/: Debian's binaryen 108 breaks wasm-bindgen's externref table.)
APT_PACKAGES=(chromium brotli gzip postgresql python3-aiosmtpd tinyproxy microsocks
  postfix libsasl2-modules sasl2-bin swaks wrk)

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
}

# Postfix's package asks which kind of mail system to set up. Answering "No configuration"
# beforehand keeps the install non-interactive and the system instance without a main.cf, so it
# never starts and holds no port; the tests run private instances of their own.
preseed_postfix() {
  if ! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'install ok installed'; then
    echo 'postfix postfix/main_mailer_type select No configuration' |
      as_root debconf-set-selections
  fi
}

install_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown Rust target"
    rustup target add wasm32-unknown-unknown
  fi
}

# cargo_tool BINARY_VERSION_LINE CRATE VERSION [EXTRA cargo install ARGS...]
install_cargo_tool() {
  local version_command=$1 expected=$2 crate=$3 version=$4
  shift 4
  if [ "$($version_command 2>/dev/null || true)" != "$expected" ]; then
    say "installing $crate $version"
    # Some newest dependencies need a newer rustc; this picks versions that build on ours.
    if ! CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
      cargo install "$crate" --version "$version" --locked "$@"; then
      say "$crate $version: the locked dependency set is not available here, resolving afresh"
      CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
        cargo install "$crate" --version "$version" --force "$@"
    fi
  fi
}

# wasm-bindgen's CLI must match the library version in Cargo.lock exactly, so it follows the lock.
locked_wasm_bindgen_version() {
  awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

# npm_ci DIR: installs DIR's locked npm packages unless node_modules already matches the lock.
npm_ci() {
  local dir=$1 stamp=$1/node_modules/.outmail-package-lock
  if ! cmp -s "$dir/package-lock.json" "$stamp"; then
    say "installing the npm packages of $dir"
    # Playwright drives Debian's chromium: it must not try to download a browser of its own.
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  fi
}

preseed_postfix
install_debian_packages
install_wasm_target
install_cargo_tool "cargo make --version" "cargo-make $CARGO_MAKE_VERSION" \
  cargo-make "$CARGO_MAKE_VERSION"
install_cargo_tool "cargo leptos --version" "cargo-leptos $CARGO_LEPTOS_VERSION" \
  cargo-leptos "$CARGO_LEPTOS_VERSION" --features no_downloads
if [ ! -f Cargo.lock ]; then
  cargo generate-lockfile
fi
wasm_bindgen_version=$(locked_wasm_bindgen_version)
install_cargo_tool "wasm-bindgen --version" "wasm-bindgen $wasm_bindgen_version" \
  wasm-bindgen-cli "$wasm_bindgen_version"
npm_ci tools
npm_ci end2end

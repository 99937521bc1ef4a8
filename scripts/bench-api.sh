#!/usr/bin/env bash
# Benchmarks `GET /api/v1/profiles` (a page of 50 out of 1,000 stored profiles) with wrk, against
# a bare axum handler serving a JSON body of the same shape from memory, and prints req/s, p50,
# p99 and the ratios outmail/reference. Raw numbers depend on the machine; the ratios travel.
#
# The API needs a signed-in session: the script makes an admin with `outmail admin create` before
# the server starts, signs in (POST /api/v1/session), seeds the profiles with that session (cookie
# and Origin) and has wrk send its cookie. So on outmail's side every request measured also
# checks the session, a database lookup (and, at most once a minute, an update of its last-seen
# time) before the page is read; the reference server checks nothing, as before.
#
#   bash scripts/bench-api.sh                        # outmail on SQLite in a temporary folder
#
#   # on PostgreSQL: a throwaway server from with-postgres.sh, its URL given to outmail
#   bash scripts/with-postgres.sh bash -c \
#       'bash scripts/bench-api.sh --database-url "$OUTMAIL_TEST_POSTGRES_URL"'
#   # (or set BENCH_DATABASE_URL=postgres://… instead of passing --database-url)
#
# Knobs (environment): BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_THREADS (2),
# BENCH_CONNECTIONS ("64 256"), BENCH_PROFILES (1000), BENCH_LOG (outmail's log filter, info).
#
# Everything listens on and talks to 127.0.0.1 only. Both servers are stopped and the temporary
# folder removed on exit, however the script ends. This is a benchmark, not a test: it fails only
# when it cannot measure (a server does not start, seeding is refused, a run returns errors).
set -euo pipefail
# wrk's and awk's numbers use a decimal point; so must printf's.
export LC_ALL=C

# The server reads OUTMAIL_* settings (and a config file) from the environment; the benchmark
# must measure what its flags say, not whatever the caller's shell has exported (this
# runs first: the variables below that start with OUTMAIL_ are the script's own).
for name in "${!OUTMAIL_@}"; do
    unset "$name"
done

usage() {
    echo "usage: $0 [--database-url postgres://USER@HOST:PORT/DB]" >&2
    exit 2
}

DATABASE_URL=${BENCH_DATABASE_URL:-}
while [ "$#" -gt 0 ]; do
    case $1 in
        --database-url)
            [ "$#" -ge 2 ] || usage
            DATABASE_URL=$2
            shift 2
            ;;
        --database-url=*)
            DATABASE_URL=${1#*=}
            shift
            ;;
        *) usage ;;
    esac
done

DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
THREADS=${BENCH_THREADS:-2}
read -r -a CONNECTIONS <<<"${BENCH_CONNECTIONS:-64 256}"
PROFILES=${BENCH_PROFILES:-1000}
SERVER_LOG=${BENCH_LOG:-info}
PER_PAGE=50
ADMIN_EMAIL=admin@example.test
# A throwaway account in a throwaway data folder.
ADMIN_PASSWORD=api-benchmark-only

log() { echo "bench-api: $*" >&2; }
die() {
    log "$*"
    exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# A target folder of its own: this build has neither the environment nor the features of the
# cargo-leptos release build, and sharing target/ would make each rebuild the other.
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench}
export CARGO_TARGET_DIR=$TARGET_DIR
OUTMAIL_BIN="$TARGET_DIR/release/outmail"
REFERENCE_BIN="$TARGET_DIR/release/examples/bare_json"

case $DATABASE_URL in
    "") BACKEND=sqlite ;;
    postgres://* | postgresql://*) BACKEND=postgres ;;
    *) die "BENCH_DATABASE_URL / --database-url must be a postgres:// URL (SQLite is the default)" ;;
esac

for tool in wrk python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        if [ "$tool" = wrk ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            log "installing Debian's wrk package"
            apt-get install -y -qq wrk >&2 || { apt-get update -qq >&2 && apt-get install -y -qq wrk >&2; }
        else
            die "$tool is needed (Debian: sudo apt-get install -y $tool)"
        fi
    fi
done

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/outmail-bench.XXXXXX")
OUTMAIL_PID=""
REFERENCE_PID=""
CHILD_PID=""

stop() {
    # TERM first (outmail finishes requests in flight and closes the database), KILL if it hangs;
    # waiting reaps the child so nothing outlives the script.
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop "$CHILD_PID"
    stop "$OUTMAIL_PID"
    stop "$REFERENCE_PID"
    rm -rf "$WORK_DIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in the background and waits for it, so a signal reaches the traps at once (bash
# defers traps while a foreground child runs) and cleanup can stop the command.
run_child() {
    "$@" &
    CHILD_PID=$!
    local status=0
    wait "$CHILD_PID" || status=$?
    CHILD_PID=""
    return "$status"
}

# ---------------------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "rustc:    $(rustc --version)"
echo "backend:  $BACKEND"
echo "wrk:      $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), -t$THREADS, $DURATION per run after $WARMUP warm-up"
echo "outmail:  GET /api/v1/profiles?per_page=$PER_PAGE with $PROFILES profiles stored, signed in"
echo "reference: GET /profiles on a bare axum handler, the same page shape from memory"

# ---------------------------------------------------------------------------------------------
log "building outmail and the reference server (release)"
cargo build --release -p outmail-server --bin outmail --example bare_json >&2

# ---------------------------------------------------------------------------------------------
# Waits for a server's "... http://ADDR" line on its stdout and prints ADDR.
wait_for_address() {
    local name=$1 pid=$2 out=$3 err=$4 pattern=$5 address=""
    for _ in $(seq 1 300); do
        address=$(sed -n "s|^${pattern}http://\\([0-9.:]*\\).*|\\1|p" "$out" 2>/dev/null | head -n 1 || true)
        if [ -n "$address" ]; then
            echo "$address"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    log "$name did not start; its output:"
    cat "$out" "$err" >&2 || true
    return 1
}

OUTMAIL_ARGS=(serve --bind 127.0.0.1:0 --data-dir "$WORK_DIR/data" --log "$SERVER_LOG")
STORE_ARGS=(--data-dir "$WORK_DIR/data")
if [ -n "$DATABASE_URL" ]; then
    OUTMAIL_ARGS+=(--database-url "$DATABASE_URL")
    STORE_ARGS+=(--database-url "$DATABASE_URL")
fi
# The admin whose session seeds the profiles and reads the pages.
printf '%s\n' "$ADMIN_PASSWORD" |
    "$OUTMAIL_BIN" admin create --email "$ADMIN_EMAIL" "${STORE_ARGS[@]}" >/dev/null ||
    die "creating the benchmark admin failed"
"$OUTMAIL_BIN" "${OUTMAIL_ARGS[@]}" >"$WORK_DIR/outmail.out" 2>"$WORK_DIR/outmail.err" &
OUTMAIL_PID=$!
OUTMAIL_ADDR=$(wait_for_address outmail "$OUTMAIL_PID" "$WORK_DIR/outmail.out" \
    "$WORK_DIR/outmail.err" "outmail is listening on ")

"$REFERENCE_BIN" 0 >"$WORK_DIR/reference.out" 2>"$WORK_DIR/reference.err" &
REFERENCE_PID=$!
REFERENCE_ADDR=$(wait_for_address reference "$REFERENCE_PID" "$WORK_DIR/reference.out" \
    "$WORK_DIR/reference.err" "listening on ")

OUTMAIL_URL="http://$OUTMAIL_ADDR/api/v1/profiles?per_page=$PER_PAGE"
REFERENCE_URL="http://$REFERENCE_ADDR/profiles"
# The session cookie ("outmail_session=..."), written by seed below.
COOKIE_FILE="$WORK_DIR/cookie"

# ---------------------------------------------------------------------------------------------
# Signs in, writes the session cookie to COOKIE_FILE and seeds bench-0001 … bench-NNNN with it.
# The first one alone, so a missing or broken API stops the script with its answer before a
# thousand requests repeat it; then the rest from a few threads.
seed() {
    python3 - "http://$OUTMAIL_ADDR" "$PROFILES" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" \
        "$COOKIE_FILE" <<'PY'
import concurrent.futures
import json
import sys
import time
import urllib.error
import urllib.request

base, count = sys.argv[1], int(sys.argv[2])
email, password, cookie_path = sys.argv[3:6]
# No proxy: the traffic is to 127.0.0.1 only, whatever http_proxy says.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sign_in(base, email, password):
    """The headers of an admin's session: its cookie, and our own Origin (the cross-site check)."""
    origin = base  # http://127.0.0.1:PORT, the server's own origin
    request = urllib.request.Request(
        f"{base}/api/v1/session",
        data=json.dumps({"email": email, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Origin": origin},
    )
    try:
        with opener.open(request, timeout=30) as response:
            cookie = (response.headers["Set-Cookie"] or "").split(";", 1)[0]
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")[:2000]
        raise SystemExit(f"POST /api/v1/session answered {error.code}, expected 200:\n{text}")
    except (urllib.error.URLError, OSError) as error:
        raise SystemExit(f"POST /api/v1/session failed: {error}")
    if not cookie.startswith("outmail_session="):
        raise SystemExit(f"POST /api/v1/session set no session cookie: {cookie!r}")
    return {"Cookie": cookie, "Origin": origin}


admin = sign_in(base, email, password)
with open(cookie_path, "w") as f:
    f.write(admin["Cookie"])


def draft(n):
    # outmail-types' `profile::examples::SMTP_BASIC` (STARTTLS, basic auth, a sealed password,
    # sender with reply-to, a signature), numbered; without `alternate_profile_id`, which must
    # name a stored profile.
    return {
        "name": f"bench-{n:04d}",
        "description": "Main outgoing relay",
        "transport": {
            "kind": "smtp",
            "host": "smtp.example.com",
            "port": 587,
            "security": "starttls",
            "ca_certificate": None,
            "ehlo_name": "app.example.com",
            "auth": {
                "kind": "basic",
                "username": "alerts@example.com",
                "password": {"value": "correct horse battery staple"},
                "mechanism": "auto",
            },
        },
        "sender": {
            "address": '"Example Alerts" <alerts@example.com>',
            "display_name": None,
            "reply_to": "helpdesk@example.com",
            "send_as_acting_user": False,
            "template_from_overrides": True,
        },
        "signature": "-- \nThe Example operations team",
        "send_frequency": 300,
        "proxy": None,
        "utf8_headers": False,
    }


def create(n):
    request = urllib.request.Request(
        f"{base}/api/v1/profiles",
        data=json.dumps(draft(n)).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json", **admin},
        method="POST",
    )
    try:
        with opener.open(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        raise SystemExit(f"POST /api/v1/profiles (bench-{n:04d}) failed: {error}")
    if status != 201:
        text = body.decode("utf-8", "replace")[:2000]
        raise SystemExit(
            f"POST /api/v1/profiles (bench-{n:04d}) answered {status}, expected 201:\n{text}"
        )
    created = json.loads(body)
    missing = [key for key in ("id", "version") if key not in created]
    if missing:
        raise SystemExit(f"POST /api/v1/profiles answered 201 without {missing}: {body[:500]!r}")


started = time.monotonic()
create(1)
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    # list() re-raises the first failure (SystemExit included) here, in the main thread.
    list(pool.map(create, range(2, count + 1)))
print(f"seeded {count} profiles in {time.monotonic() - started:.1f} s", file=sys.stderr)
PY
}

# Checks both endpoints answer 200 with a page of the same shape (outmail's with the session
# cookie), and prints the body sizes.
check_pages() {
    python3 - "$OUTMAIL_URL" "$REFERENCE_URL" "$PROFILES" "$PER_PAGE" "$OUTMAIL_COOKIE" <<'PY'
import json
import sys
import urllib.error
import urllib.request

outmail_url, reference_url = sys.argv[1], sys.argv[2]
total, per_page = int(sys.argv[3]), int(sys.argv[4])
cookie = sys.argv[5]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url, headers):
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


for name, url, headers in (
    ("outmail", outmail_url, {"Cookie": cookie}),
    ("reference", reference_url, {}),
):
    status, body = get(url, headers)
    if status != 200:
        raise SystemExit(f"{name}: GET {url} answered {status}:\n{body[:2000].decode('utf-8', 'replace')}")
    page = json.loads(body)
    shape = {key: page.get(key) for key in ("total", "page", "per_page")}
    if shape != {"total": total, "page": 1, "per_page": per_page} or len(page.get("items", [])) != per_page:
        raise SystemExit(
            f"{name}: GET {url} is not page 1 of {total} with {per_page} items: "
            f"{shape}, {len(page.get('items', []))} items"
        )
    print(f"{name}: {len(body)} bytes per page", file=sys.stderr)
PY
}

log "seeding $PROFILES profiles through POST /api/v1/profiles"
run_child seed || die "seeding failed (is the profiles API built into this outmail?)"
OUTMAIL_COOKIE=$(cat "$COOKIE_FILE")
run_child check_pages || die "the list endpoints do not answer as expected"

# ---------------------------------------------------------------------------------------------
# wrk prints latencies with a unit (us, ms, s, m); the table is in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n
    }'
}

declare -A RPS P50 P99 ERRORS

measure() {
    local target=$1 url=$2 conns=$3 out="$WORK_DIR/wrk-$1-$3.txt"
    # The rest ("$@"): wrk's options for this target only (outmail's session cookie).
    shift 3
    # Warm-up: connections opened, caches and the database's pages hot; the numbers are dropped.
    run_child wrk -t"$THREADS" -c"$conns" -d"$WARMUP" --timeout 10s "$@" "$url" >/dev/null
    run_child wrk -t"$THREADS" -c"$conns" -d"$DURATION" --timeout 10s --latency "$@" "$url" >"$out"
    RPS[$target:$conns]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    P50[$target:$conns]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    P99[$target:$conns]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    # Errors make a run fast and meaningless: socket errors and non-2xx answers are counted.
    ERRORS[$target:$conns]=$(awk '
        /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { n += $NF }
        END { print n + 0 }' "$out")
    if [ -z "${RPS[$target:$conns]}" ]; then
        cat "$out" >&2
        die "could not read wrk's output for $target at $conns connections"
    fi
    log "$target, $conns connections: ${RPS[$target:$conns]} req/s, p99 ${P99[$target:$conns]} ms"
}

for conns in "${CONNECTIONS[@]}"; do
    measure reference "$REFERENCE_URL" "$conns"
    measure outmail "$OUTMAIL_URL" "$conns" -H "Cookie: $OUTMAIL_COOKIE"
done

# ---------------------------------------------------------------------------------------------
echo
printf '%-10s %6s %11s %9s %9s %7s %12s %10s\n' \
    target conns req/s "p50 ms" "p99 ms" errors "req/s ratio" "p99 ratio"
failed=0
for conns in "${CONNECTIONS[@]}"; do
    for target in reference outmail; do
        key=$target:$conns
        ratios=("" "")
        if [ "$target" = outmail ]; then
            mapfile -t ratios < <(awk -v o="${RPS[$key]}" -v r="${RPS[reference:$conns]}" \
                -v op="${P99[$key]}" -v rp="${P99[reference:$conns]}" 'BEGIN {
                    printf "%.3f\n", (r > 0 ? o / r : 0)
                    printf "%.2f\n", (rp > 0 ? op / rp : 0)
                }')
        fi
        printf '%-10s %6s %11.0f %9.2f %9.2f %7s %12s %10s\n' \
            "$target" "$conns" "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "${ERRORS[$key]}" \
            "${ratios[0]}" "${ratios[1]}"
        if [ "${ERRORS[$key]}" -ne 0 ]; then
            failed=1
        fi
    done
done
echo
echo "req/s ratio = outmail / reference throughput (higher is better, 1 = as fast as bare axum);"
echo "p99 ratio = outmail / reference p99 latency (lower is better)."
if [ "$failed" -ne 0 ]; then
    die "some runs had socket errors or non-2xx answers: their numbers do not count"
fi

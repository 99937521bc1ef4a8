#!/usr/bin/env bash
# Benchmark: outbox throughput. N messages of 1 KB go through outmail's sending API to Postfix's
# smtp-sink, against Postfix's smtp-source sending the same number of 1 KB messages to the same
# sink at the same concurrency, in the same run; prints messages/s of both, the ratio
# outmail/reference, outmail's API accept rate and its peak memory, for SQLite and (when a
# PostgreSQL URL is given) PostgreSQL.
#
#   bash scripts/bench-outbox.sh                          # SQLite only
#   BENCH_MESSAGES=500 bash scripts/bench-outbox.sh       # a quick check
#
#   # SQLite, then PostgreSQL (a throwaway server; a fresh database is created in it)
#   bash scripts/with-postgres.sh bash scripts/bench-outbox.sh
#   # (or BENCH_DATABASE_URL=postgres://USER@HOST:PORT/DB: CREATE DATABASE is run there, and the
#   # database dropped again at the end)
#
# What it does, for each backend:
#  1. starts `smtp-sink -c` on a free loopback port: it accepts everything, throws it away and
#     keeps running counters on its stdout ("sess=… quit=… mesg=…"); mesg, the number of
#     messages whose final dot it received, is what "delivered" means here;
#  2. reference: `smtp-source -s C -m N -l SIZE` to the sink, C sessions in parallel, one message
#     per connection (smtp-source's default without -d; outmail's worker opens one connection
#     per message too), after BENCH_WARMUP messages the same way; timed from its start until the
#     sink has counted all N;
#  3. outmail: `target/release/outmail serve` on a free loopback port with a fresh data folder
#     (and a fresh PostgreSQL database), an admin made with `outmail admin create` who signs in
#     and creates an API token (messages:send, messages:read) that wrk and the log check use,
#     an SMTP profile to the sink (no TLS, no auth,
#     send_frequency 0 so that no message is suppressed as a duplicate) made the global default;
#     BENCH_WARMUP messages first (until the sink has them all), then N messages of SIZE bytes of
#     text posted to POST /api/v1/messages by wrk (one thread, C keep-alive connections, a Lua
#     script that posts exactly N times and stops); timed from wrk's start until the sink has
#     counted all N. The API accept rate is N over the time until the last 202 arrived. Memory:
#     VmHWM (peak RSS) and VmRSS of the outmail process from /proc at the end; also its CPU time,
#     the machine's CPU use and, on PostgreSQL, the CPU time of the postgres processes;
#  4. checks that the sink counted exactly 2 x (BENCH_WARMUP + N) messages once outmail has
#     stopped, that every POST was answered 202, and that the delivery log holds nothing queued
#     or failed; then prints the table.
#
# outmail's delivery worker sends at most 8 messages at once (a constant in worker.rs), so the
# default concurrency is 8 for smtp-source and wrk alike; BENCH_CONCURRENCY changes the clients'
# side only.
#
# Knobs (environment): BENCH_MESSAGES (10000), BENCH_SIZE (1024 bytes of body), BENCH_CONCURRENCY
# (8), BENCH_WARMUP (100), BENCH_TIMEOUT (900 s per outmail run), BENCH_STALL (60 s without a
# delivery ends a run), BENCH_DATABASE_URL (else OUTMAIL_TEST_POSTGRES_URL) for the PostgreSQL
# run, BENCH_BACKENDS ("sqlite postgres": the ones to run; postgres needs a URL), OUTMAIL_BIN
# (target/release/outmail; build it with `cargo build --release -p outmail-server`).
#
# Needs smtp-sink and smtp-source (Debian: postfix), wrk, /usr/bin/python3 and, for PostgreSQL,
# psql. Everything listens on and talks to 127.0.0.1 only. The sink, outmail and any client are
# stopped, the database dropped and the temporary folder removed on exit, however the script
# ends. A benchmark, not a test: it fails when it cannot measure or when the counts are wrong.
set -euo pipefail
# Numbers are printed with a decimal point.
export LC_ALL=C

# The server reads OUTMAIL_* settings from the environment; it must run with the flags given
# here only. Read the two this script uses first.
PG_URL=${BENCH_DATABASE_URL:-${OUTMAIL_TEST_POSTGRES_URL:-}}
OUTMAIL=${OUTMAIL_BIN:-target/release/outmail}
for name in "${!OUTMAIL_@}"; do
  unset "$name"
done

MESSAGES=${BENCH_MESSAGES:-10000}
SIZE=${BENCH_SIZE:-1024}
CONCURRENCY=${BENCH_CONCURRENCY:-8}
WARMUP=${BENCH_WARMUP:-100}
TIMEOUT=${BENCH_TIMEOUT:-900}
STALL=${BENCH_STALL:-60}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
PYTHON=/usr/bin/python3
SINK=/usr/sbin/smtp-sink
SOURCE=/usr/sbin/smtp-source
FROM=bench@example.test
TO=rcpt@example.test
ADMIN_EMAIL=admin@example.test
# A throwaway account in a throwaway data folder.
ADMIN_PASSWORD=outbox-benchmark-only

say() { printf '==> %s\n' "$*" >&2; }
fail() {
  printf 'bench-outbox: %s\n' "$*" >&2
  exit 1
}

for knob in MESSAGES SIZE CONCURRENCY TIMEOUT STALL; do
  [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || fail "BENCH_$knob must be a positive integer, not '${!knob}'"
done
[[ $WARMUP =~ ^[0-9]+$ ]] || fail "BENCH_WARMUP must be a whole number, not '$WARMUP'"
[ "$SIZE" -le 60000 ] || fail "BENCH_SIZE must stay under outmail's 64 KiB body limit"

cd "$(dirname "$0")/.."
[ -x "$OUTMAIL" ] || fail "$OUTMAIL is missing; build it with: cargo build --release -p outmail-server"
for tool in "$PYTHON" "$SINK" "$SOURCE" wrk; do
  command -v "$tool" >/dev/null || fail "$tool is missing (Debian: apt-get install -y postfix wrk python3)"
done

RUN=()
for backend in $BACKENDS; do
  case $backend in
    sqlite) RUN+=(sqlite) ;;
    postgres)
      if [ -n "$PG_URL" ]; then
        case $PG_URL in
          postgres://* | postgresql://*) ;;
          *) fail "the PostgreSQL URL must start with postgres:// (got '$PG_URL')" ;;
        esac
        command -v psql >/dev/null || fail "psql is missing (Debian: apt-get install -y postgresql-client)"
        RUN+=(postgres)
      elif [ -n "${BENCH_BACKENDS:-}" ]; then
        fail "postgres asked for, but neither BENCH_DATABASE_URL nor OUTMAIL_TEST_POSTGRES_URL is set"
      else
        say "no PostgreSQL URL: SQLite only (run under scripts/with-postgres.sh for both)"
      fi
      ;;
    *) fail "unknown backend '$backend' in BENCH_BACKENDS (sqlite, postgres)" ;;
  esac
done
[ "${#RUN[@]}" -gt 0 ] || fail "no backend to run"

work=$(mktemp -d "${TMPDIR:-/tmp}/outmail-bench.XXXXXX")
# smtp-sink drops root for nobody, which must be able to reach nothing in here but its stdout,
# opened by this shell; the folder stays private.
chmod 700 "$work"
sink_pid='' outmail_pid='' child_pid='' pg_db='' pg_admin_url=''

# stop PID: TERM, then KILL after 5 s; waiting reaps it, so nothing outlives the script.
stop() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
drop_database() {
  [ -n "$pg_db" ] || return 0
  psql "$pg_admin_url" -X -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 ||
    printf 'bench-outbox: could not drop database %s\n' "$pg_db" >&2
  pg_db=''
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop "$child_pid"
  stop "$outmail_pid"
  stop "$sink_pid"
  drop_database
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in the background and waits for it, so that a signal reaches the traps at once
# (bash defers traps while a foreground child runs) and cleanup can stop the command.
run_child() {
  "$@" &
  child_pid=$!
  local status=0
  wait "$child_pid" || status=$?
  child_pid=''
  return "$status"
}

# --- the helpers: Python (stdlib) and wrk's Lua --------------------------------------------------
cat >"$work/bench.py" <<'PY'
"""Helpers of bench-outbox.sh: API calls, the timed runs, the report."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


# Shared with the other benchmark (scripts/bench_common.py, on PYTHONPATH).
from bench_common import (  # noqa: E402
    CLOCK_TICKS,
    call,
    sink_count,
    cpu_seconds,
    memory_kib,
    postgres_cpu_seconds,
    machine_ticks,
    sign_in,
    setup,
    log_counts,
)


def body(size, to, path):
    # Lines of 63 characters and a newline: plain ASCII that goes out as 7bit, like
    # smtp-source's payload.
    line = "The quick brown fox jumps over the lazy dog; outbox benchmark.."
    assert len(line) == 63
    text = ((line + "\n") * (size // 64 + 1))[:size]
    with open(path, "w") as f:
        json.dump({"to": [to], "subject": "outbox benchmark", "text": text}, f)


def measure(options, command):
    """Runs the client, watches the sink until it has counted N more messages."""
    sink, n, out = options["sink"], int(options["n"]), options["out"]
    api, pid = options["mode"] == "api", options.get("pid")
    timeout, stall = float(options["timeout"]), float(options["stall"])
    base = sink_count(sink)
    target = base + n
    before = {"machine": machine_ticks()}
    if pid:
        before["cpu"] = cpu_seconds(pid)
        before["memory"] = memory_kib(pid)
    if options.get("postgres"):
        before["pg_cpu"] = postgres_cpu_seconds()
    lines, marks = [], {}
    stderr = open(options["log"], "w")
    started = time.monotonic()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE if api else stderr, stderr=stderr, start_new_session=True
    )

    def read():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line == "posts-answered" and "accepted" not in marks:
                marks["accepted"] = time.monotonic()
                marks["delivered_then"] = sink_count(sink) - base
                # wrk sleeps for its -d duration in its main thread; SIGINT ends that sleep, and
                # it prints its summary and calls done().
                proc.send_signal(signal.SIGINT)
            lines.append(line)

    reader = None
    if api:
        reader = threading.Thread(target=read, daemon=True)
        reader.start()

    failure, last, changed, progress = None, base, started, started + 10
    exited_at = None
    try:
        while True:
            now = time.monotonic()
            count = sink_count(sink)
            if count >= target:
                marks["delivered"] = now
                break
            if count != last:
                last, changed = count, now
            if now - started > timeout:
                failure = f"timed out after {timeout:.0f} s with {count - base} of {n} delivered"
                break
            if now - changed > stall:
                failure = f"no delivery for {stall:.0f} s; {count - base} of {n} delivered"
                break
            if not api and proc.poll() is not None:
                exited_at = exited_at or now
                if now - exited_at > 2:
                    failure = (f"smtp-source exited with status {proc.returncode} "
                               f"after {count - base} of {n} messages")
                    break
            if now >= progress:
                print(f"    {now - started:6.1f} s: {count - base} of {n} delivered",
                      file=sys.stderr)
                progress += 10
            time.sleep(0.005)
        after = {"machine": machine_ticks()}
        if pid:
            after["cpu"] = cpu_seconds(pid)
            after["memory"] = memory_kib(pid)
        if options.get("postgres"):
            after["pg_cpu"] = postgres_cpu_seconds()
        if api and "accepted" not in marks:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if reader:
            reader.join(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not api and proc.returncode != 0 and failure is None:
        failure = f"smtp-source exited with status {proc.returncode}"
    # Anything more than N (a message sent twice) shows up here.
    time.sleep(1)
    result = {
        "n": n,
        "failure": failure,
        "elapsed": marks.get("delivered", time.monotonic()) - started,
        "delivered": sink_count(sink) - base,
    }
    busy = after["machine"][0] - before["machine"][0]
    total = after["machine"][1] - before["machine"][1]
    result["machine_busy"] = busy / total if total else 0.0
    if pid:
        result["cpu_user"] = after["cpu"][0] - before["cpu"][0]
        result["cpu_system"] = after["cpu"][1] - before["cpu"][1]
        result["cpu"] = result["cpu_user"] + result["cpu_system"]
        result["memory_before"] = before["memory"]
        result["memory_after"] = after["memory"]
    if "pg_cpu" in before:
        result["pg_cpu"] = after["pg_cpu"] - before["pg_cpu"]
    if api:
        result["wrk"] = lines
        summary = next((l for l in lines if l.startswith("result ")), None)
        if summary is None:
            result["failure"] = failure or "wrk printed no result line"
        else:
            fields = dict(item.split("=", 1) for item in summary.split()[1:])
            result.update({k: float(v) for k, v in fields.items()})
            if int(result["accepted"]) != n or int(result["refused"]) or int(result["errors"]):
                result["failure"] = failure or (
                    f"wrk: {int(result['accepted'])} of {n} accepted, "
                    f"{int(result['refused'])} refused, {int(result['errors'])} socket errors"
                )
        if "accepted" in marks:
            result["accept_elapsed"] = marks["accepted"] - started
            result["delivered_then"] = marks["delivered_then"]
    json.dump(result, open(out, "w"))
    if result["failure"]:
        print(f"    {result['failure']}", file=sys.stderr)
    return 0


def report(args):
    n, size, concurrency, warmup = (int(a) for a in args[:4])
    rows = []
    for path in args[4:]:
        backend = os.path.basename(path).split(".")[0]
        data = json.load(open(path))
        rows.append((backend, data))
    print()
    print(f"{n} messages of {size} bytes to smtp-sink, concurrency {concurrency} "
          f"({warmup} warm-up messages each first)")
    print(f"{'backend':<9} {'reference msg/s':>15} {'outmail msg/s':>13} {'ratio':>7} "
          f"{'API accepted/s':>14} {'peak RSS MiB':>12}  check")
    failed = False
    for backend, data in rows:
        ref, out = data["reference"], data["outmail"]
        ref_rate = ref["n"] / ref["elapsed"]
        out_rate = out["n"] / out["elapsed"]
        accept_rate = out["n"] / out["accept_elapsed"] if "accept_elapsed" in out else float("nan")
        peak = out["memory_after"]["VmHWM"] / 1024
        problems = [p for p in (ref["failure"], out["failure"], data.get("check")) if p]
        log = out.get("log", {})
        if log.get("queued") or log.get("failed"):
            problems.append(f"delivery log: {log.get('queued')} queued, {log.get('failed')} failed")
        failed = failed or bool(problems)
        print(f"{backend:<9} {ref_rate:15.1f} {out_rate:13.1f} {out_rate / ref_rate:7.3f} "
              f"{accept_rate:14.1f} {peak:12.1f}  {'; '.join(problems) or 'ok'}")
    print()
    for backend, data in rows:
        ref, out = data["reference"], data["outmail"]
        print(f"{backend}:")
        print(f"  reference: {ref['n']} messages in {ref['elapsed']:.2f} s, "
              f"machine CPU {100 * ref['machine_busy']:.0f}% busy")
        if "accept_elapsed" in out:
            rest = out["n"] - out["delivered_then"]
            drain = out["elapsed"] - out["accept_elapsed"]
            print(f"  outmail API: {out['n']} accepted in {out['accept_elapsed']:.2f} s "
                  f"(latency p50 {out['p50_us'] / 1000:.1f} ms, p99 {out['p99_us'] / 1000:.1f} ms); "
                  f"{out['delivered_then']} delivered by then")
            print(f"  outmail delivery: the other {rest} in {drain:.2f} s after that"
                  + (f" ({rest / drain:.0f}/s)" if drain > 0 and rest else "")
                  + f"; all {out['n']} in {out['elapsed']:.2f} s from the first POST")
        cpu = out["cpu"]
        line = (f"  CPU: outmail {cpu:.1f} s ({out['cpu_user']:.1f} user, {out['cpu_system']:.1f} "
                f"system; {1000 * cpu / out['n']:.2f} ms per message)")
        if "pg_cpu" in out:
            line += f", postgres {out['pg_cpu']:.1f} s"
        line += f"; machine {100 * out['machine_busy']:.0f}% busy ({os.cpu_count()} CPUs)"
        print(line)
        mb, ma = out["memory_before"], out["memory_after"]
        print(f"  memory: RSS {mb['VmRSS'] / 1024:.1f} MiB before, {ma['VmRSS'] / 1024:.1f} MiB "
              f"after; peak (VmHWM) {ma['VmHWM'] / 1024:.1f} MiB")
        print(f"  sink: {data['sink_total']} messages counted, {data['sink_expected']} expected "
              f"(2 x ({warmup} warm-up + {n})); delivery log: "
              f"{out.get('log', {}).get('queued', '?')} queued, "
              f"{out.get('log', {}).get('failed', '?')} failed")
    print()
    print("msg/s: messages over the time from the client's start until the sink had counted all")
    print("of them; ratio = outmail / reference (1 = as fast as smtp-source); API accepted/s:")
    print("messages over the time until the last 202.")
    return 1 if failed else 0


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    what, args = sys.argv[1], sys.argv[2:]
    if what == "setup":
        setup(*args, sender="bench@example.test", token_name="outbox benchmark",
              scopes=["messages:send", "messages:read"])
    elif what == "body":
        body(int(args[0]), args[1], args[2])
    elif what == "count":
        print(sink_count(args[0]))
    elif what == "log":
        log_counts(*args)
    elif what == "measure":
        split = args.index("--")
        options = dict(a.split("=", 1) for a in args[:split])
        return measure(options, args[split + 1:])
    elif what == "merge":
        out, pairs = args[0], args[1:]
        merged = {}
        for pair in pairs:
            key, _, value = pair.partition("=")
            if value.startswith("@"):
                merged[key] = json.load(open(value[1:]))
            else:
                merged[key] = int(value) if value.lstrip("-").isdigit() else (value or None)
        json.dump(merged, open(out, "w"))
    elif what == "report":
        return report(args)
    else:
        raise SystemExit(f"unknown helper {what}")
    return 0


sys.exit(main())
PY

cat >"$work/post.lua" <<'LUA'
-- Posts the JSON body in args[1] to /api/v1/messages exactly args[2] times over all of this
-- thread's connections, then sends nothing more; when every post is answered it prints
-- "posts-answered" and stops. Run with one thread (-t1).
local post
quota, reserved, accepted, refused = 0, 0, 0, 0
local finished = false
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  quota = tonumber(args[2])
  local token_file = assert(io.open(args[3], "rb"))
  local token = token_file:read("*a"):gsub("%s+$", "")
  token_file:close()
  post = wrk.format("POST", "/api/v1/messages",
    { ["Content-Type"] = "application/json", ["Accept"] = "application/json",
      ["Authorization"] = "Bearer " .. token }, body)
end

-- wrk asks before each request how long to wait; a zero is followed by exactly one request().
-- The count is kept here (wrk also calls request() once before the run, only to check it):
-- no wait while posts are left, then an hour, i.e. nothing more on that connection.
function delay()
  if reserved < quota then
    reserved = reserved + 1
    return 0
  end
  return 3600000
end

function request()
  return post
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    refused = refused + 1
    if refused <= 3 then
      io.stderr:write("POST /api/v1/messages answered " .. status .. ": " .. body:sub(1, 500) .. "\n")
    end
  end
  if not finished and accepted + refused >= quota then
    finished = true
    io.stdout:write("posts-answered\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local a, r = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    r = r + thread:get("refused")
  end
  local e = summary.errors
  io.stdout:write(string.format("result accepted=%d refused=%d errors=%d p50_us=%d p99_us=%d\n",
    a, r, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
LUA

# (An array, not a function: run_child must start python itself, so that stopping it stops python.)
bench=(env PYTHONPATH="$PWD/scripts" "$PYTHON" "$work/bench.py")

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# --- one backend -------------------------------------------------------------------------------
# start_sink: smtp-sink on a free port (a port found free can be taken before the sink binds it:
# a few tries); sets sink_pid, sink_port, sink_out.
start_sink() {
  local as_user=()
  [ "$(id -u)" -ne 0 ] || as_user=(-u nobody) # smtp-sink refuses to keep root
  sink_out=$work/$1.sink
  for _ in 1 2 3 4 5; do
    sink_port=$(free_port)
    : >"$sink_out"
    "$SINK" "${as_user[@]}" -4 -c -h sink.example.test "127.0.0.1:$sink_port" 1024 \
      >"$sink_out" 2>"$work/$1.sink.err" &
    sink_pid=$!
    for _ in $(seq 50); do
      kill -0 "$sink_pid" 2>/dev/null || break
      if "$PYTHON" -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$sink_port" \
        2>/dev/null; then
        return 0
      fi
      sleep 0.1
    done
    stop "$sink_pid"
    sink_pid=''
  done
  fail "smtp-sink did not start: $(cat "$work/$1.sink.err")"
}

# source_cmd N: sets source_args to the smtp-source command for N messages of SIZE bytes to the
# sink, CONCURRENCY sessions at once, one message per connection.
source_cmd() {
  source_args=("$SOURCE" -s "$CONCURRENCY" -m "$1" -l "$SIZE" -f "$FROM" -t "$TO"
    -M bench.example.test -S "outbox benchmark" "127.0.0.1:$sink_port")
}

run_backend() {
  local backend=$1 url=${2:-} results=$work/$1
  mkdir -p "$results"
  say "$backend: starting smtp-sink"
  start_sink "$backend"
  say "$backend: smtp-sink on 127.0.0.1:$sink_port"

  local source_common=(sink="$sink_out" mode=source timeout="$TIMEOUT" stall="$STALL")
  if [ "$WARMUP" -gt 0 ]; then
    say "$backend: reference warm-up, $WARMUP messages"
    source_cmd "$WARMUP"
    run_child "${bench[@]}" measure "${source_common[@]}" n="$WARMUP" out="$results/ref-warm.json" \
      log="$results/ref-warm.log" -- "${source_args[@]}" ||
      fail "the reference warm-up failed"
  fi
  say "$backend: reference, smtp-source: $MESSAGES messages, $CONCURRENCY sessions"
  source_cmd "$MESSAGES"
  run_child "${bench[@]}" measure "${source_common[@]}" n="$MESSAGES" out="$results/reference.json" \
    log="$results/reference.log" -- "${source_args[@]}" || fail "the reference run failed"

  local args=(serve --bind 127.0.0.1:0 --data-dir "$work/$backend-data" --log warn)
  local store_args=(--data-dir "$work/$backend-data")
  if [ -n "$url" ]; then
    args+=(--database-url "$url")
    store_args+=(--database-url "$url")
  fi
  # The admin who sets up the profile and the API token the product sends with.
  printf '%s\n' "$ADMIN_PASSWORD" |
    "$OUTMAIL" admin create --email "$ADMIN_EMAIL" "${store_args[@]}" >/dev/null ||
    fail "creating the benchmark admin failed"
  say "$backend: starting $OUTMAIL"
  "$OUTMAIL" "${args[@]}" >"$work/$backend.out" 2>"$work/$backend.err" &
  outmail_pid=$!
  local address=''
  for _ in $(seq 300); do
    address=$(sed -n 's|^outmail is listening on http://\([0-9.:]*\).*|\1|p' "$work/$backend.out" |
      head -n 1)
    [ -z "$address" ] || break
    kill -0 "$outmail_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$address" ] || fail "outmail did not start: $(cat "$work/$backend.out" "$work/$backend.err")"
  local base=http://$address/api/v1
  local profile
  profile=$("${bench[@]}" setup "$base" "$sink_port" "$backend" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" \
    "$work/$backend.token") || fail "setting up the profile failed"
  say "$backend: outmail on $address, profile $profile sends to the sink"

  local wrk_cmd=(wrk -t1 -c"$CONCURRENCY" -d"$((TIMEOUT + 60))s" --timeout 30s
    -s "$work/post.lua" "http://$address/api/v1/messages" --)
  local api_common=(sink="$sink_out" mode=api pid="$outmail_pid" timeout="$TIMEOUT"
    stall="$STALL")
  [ "$backend" != postgres ] || api_common+=(postgres=1)
  if [ "$WARMUP" -gt 0 ]; then
    say "$backend: outmail warm-up, $WARMUP messages"
    run_child "${bench[@]}" measure "${api_common[@]}" n="$WARMUP" out="$results/out-warm.json" \
      log="$results/out-warm.log" -- "${wrk_cmd[@]}" "$work/body.json" "$WARMUP" \
      "$work/$backend.token" ||
      fail "the outmail warm-up failed"
  fi
  say "$backend: outmail, $MESSAGES messages through POST /api/v1/messages, $CONCURRENCY connections"
  run_child "${bench[@]}" measure "${api_common[@]}" n="$MESSAGES" out="$results/outmail.json" \
    log="$results/outmail.log" -- "${wrk_cmd[@]}" "$work/body.json" "$MESSAGES" \
    "$work/$backend.token" ||
    fail "the outmail run failed"
  if [ -s "$results/outmail.log" ]; then
    say "$backend: wrk said on stderr:"
    head -n 20 "$results/outmail.log" >&2
  fi
  "${bench[@]}" log "$base" "$results/outmail.json" "$work/$backend.token" ||
    fail "reading the delivery log failed"

  stop "$outmail_pid"
  outmail_pid=''
  # Counted once outmail has stopped: nothing can arrive late any more.
  local total expected=$((2 * (WARMUP + MESSAGES))) check=''
  total=$("${bench[@]}" count "$sink_out")
  stop "$sink_pid"
  sink_pid=''
  [ "$total" -eq "$expected" ] || check="sink counted $total, expected $expected"
  "${bench[@]}" merge "$work/$backend.json" reference=@"$results/reference.json" \
    outmail=@"$results/outmail.json" sink_total="$total" sink_expected="$expected" \
    check="$check"
  drop_database
}

# --- the run -----------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "outmail:  $OUTMAIL ($("$OUTMAIL" --version 2>/dev/null || echo '?'))"
echo "clients:  smtp-source -s $CONCURRENCY (one message per connection); $(wrk -v 2>&1 | head -n 1 |
  cut -d' ' -f1-2) -t1 -c$CONCURRENCY"
echo "messages: $MESSAGES of $SIZE bytes of body each way, after $WARMUP warm-up messages"

"${bench[@]}" body "$SIZE" "$TO" "$work/body.json"
reports=()
for backend in "${RUN[@]}"; do
  url=''
  if [ "$backend" = postgres ]; then
    pg_admin_url=$PG_URL
    pg_db=outmail_bench_$$
    psql "$pg_admin_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$pg_db\"" >/dev/null ||
      { pg_db='' && fail "CREATE DATABASE failed on $PG_URL"; }
    url=$("$PYTHON" -c 'import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(u._replace(path="/" + sys.argv[2])))' "$PG_URL" "$pg_db")
    say "postgres: fresh database $pg_db"
  fi
  run_backend "$backend" "$url"
  reports+=("$work/$backend.json")
done

"${bench[@]}" report "$MESSAGES" "$SIZE" "$CONCURRENCY" "$WARMUP" "${reports[@]}" ||
  fail "some counts are wrong (see the check column): those numbers do not count"

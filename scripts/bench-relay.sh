#!/usr/bin/env bash
# Benchmark: SMTP relay throughput. Postfix's smtp-source submits N messages of 1 KB to outmail's
# SMTP relay listener (`outmail serve --smtp-bind`), which delivers them through its outbox to
# Postfix's smtp-sink, against the same N messages submitted the same way to a private Postfix
# that relays them to a sink of its own, in the same run; prints messages/s end to end and
# accepted/s of both, the ratios outmail/Postfix, outmail's peak memory and CPU time, for SQLite
# and (when a PostgreSQL URL is given) PostgreSQL.
#
#   bash scripts/bench-relay.sh                           # as root; SQLite only
#   BENCH_MESSAGES=500 bash scripts/bench-relay.sh        # a quick check
#
#   # SQLite, then PostgreSQL (a throwaway server; a fresh database is created in it)
#   bash scripts/with-postgres.sh bash scripts/bench-relay.sh
#   # (or BENCH_DATABASE_URL=postgres://USER@HOST:PORT/DB: CREATE DATABASE is run there, and the
#   # database dropped again at the end)
#
# What it does, for each backend:
#  1. starts `smtp-sink -c` on a free loopback port: it accepts everything, throws it away and
#     keeps running counters on its stdout ("sess=… quit=… mesg=…"); mesg, the number of
#     messages whose final dot it received, is what "delivered" means here; each relay gets a
#     sink of its own, started before it and stopped after it;
#  2. reference: a private Postfix (crates/outmail-testkit/peers/postfix_peer.py --relayhost) on
#     a free loopback port, relaying everything to its sink: clients on 127.0.0.1 relay without
#     AUTH, every message is in a synced queue file before Postfix's 250 (Postfix's default), at
#     most 8 connections to the sink at once (--relay-concurrency, as many as outmail's worker
#     sends at once), connections reused while mail is queued up (Postfix's default; outmail
#     pools its SMTP connections too); `smtp-source -s C -m N -l SIZE` into it, C sessions in
#     parallel, one message per connection (smtp-source's default without -d), after
#     BENCH_WARMUP messages the same way;
#  3. outmail: `target/release/outmail serve` with the relay listener on a free loopback port
#     (`--smtp-bind 127.0.0.1:0`, the port read from its "The SMTP relay is listening on" line)
#     and `--smtp-allow-unauthenticated 127.0.0.1/32`, so that smtp-source submits without AUTH,
#     and a fresh data folder (and a fresh PostgreSQL database); an admin made with `outmail
#     admin create` who signs in and creates an API token (messages:read) that the log check
#     uses, and an SMTP profile to the sink (no TLS, no auth, sender bench@example.test, the
#     address of the From header smtp-source writes, send_frequency 0 so that no message is
#     suppressed as a duplicate) made the global default; BENCH_WARMUP messages first (until
#     the sink has them all), then the same smtp-source command as for Postfix into outmail's
#     listener. outmail answers 250 once the message is in its durable outbox; its worker
#     delivers it later. Memory: VmHWM (peak RSS) and VmRSS of the outmail process from /proc at
#     the end; also its CPU time, the machine's CPU use and, on PostgreSQL, the CPU time of the
#     postgres processes;
#  4. both runs are timed the same way, from smtp-source's start until the sink has counted all
#     N (end to end) and until smtp-source has exited, i.e. has had its 250 for every message
#     (accepted). The CPU time of all of Postfix's processes is measured too;
#  5. checks that each sink counted exactly BENCH_WARMUP + N messages once its relay has stopped,
#     that Postfix's queue is empty and its log holds no deferred or bounced delivery, and that
#     outmail's delivery log holds nothing queued or failed; then prints the table.
#
# smtp-source writes its own headers: From: <bench@example.test>, To: <rcpt@example.test>, Date,
# a Message-Id of its own for each message, and Subject; then SIZE bytes of text. outmail needs
# exactly one From header in a relayed message, and the profile's sender must be that address.
#
# Durability: Postfix syncs each queue file before its 250, and outmail's SQLite database runs
# with synchronous=FULL. scripts/with-postgres.sh starts PostgreSQL with fsync and
# synchronous_commit off, so outmail's 250 is not durable there and its PostgreSQL numbers are
# not a like-for-like comparison; the run prints both settings of the database it uses.
#
# outmail's delivery worker sends at most 8 messages at once (a constant in worker.rs), and
# Postfix is given the same limit; the default concurrency of smtp-source is 8 as well.
# BENCH_CONCURRENCY changes the client's side only.
#
# Knobs (environment): BENCH_MESSAGES (10000), BENCH_SIZE (1024 bytes of body), BENCH_CONCURRENCY
# (8), BENCH_WARMUP (100), BENCH_TIMEOUT (900 s per run), BENCH_STALL (60 s without a delivery
# ends a run), BENCH_DATABASE_URL (else OUTMAIL_TEST_POSTGRES_URL) for the PostgreSQL run,
# BENCH_BACKENDS ("sqlite postgres": the ones to run; postgres needs a URL), OUTMAIL_BIN
# (target/release/outmail; build it with `cargo build --release -p outmail-server`).
#
# Needs root (Postfix's master daemon), smtp-sink, smtp-source and Postfix with the packages
# scripts/setup.sh installs (postfix, libsasl2-modules, sasl2-bin), /usr/bin/python3 and, for
# PostgreSQL, psql. Everything listens on and talks to 127.0.0.1 only. The sinks, Postfix,
# outmail and any client are stopped, the database dropped and the temporary folders removed on
# exit, however the script ends. A benchmark, not a test: it fails when it cannot measure or when
# the counts are wrong.
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
PEER=crates/outmail-testkit/peers/postfix_peer.py
# outmail's worker sends at most this many messages at once; Postfix gets the same.
RELAY_CONCURRENCY=8
FROM=bench@example.test
TO=rcpt@example.test
ADMIN_EMAIL=admin@example.test
# A throwaway account in a throwaway data folder.
ADMIN_PASSWORD=relay-benchmark-only

say() { printf '==> %s\n' "$*" >&2; }
fail() {
  printf 'bench-relay: %s\n' "$*" >&2
  exit 1
}

for knob in MESSAGES SIZE CONCURRENCY TIMEOUT STALL; do
  [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || fail "BENCH_$knob must be a positive integer, not '${!knob}'"
done
[[ $WARMUP =~ ^[0-9]+$ ]] || fail "BENCH_WARMUP must be a whole number, not '$WARMUP'"
[ "$SIZE" -le 9000000 ] || fail "BENCH_SIZE must stay under Postfix's 10 MB message_size_limit"

cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || fail "run as root: the Postfix relay starts Postfix's master daemon"
[ -x "$OUTMAIL" ] || fail "$OUTMAIL is missing; build it with: cargo build --release -p outmail-server"
for tool in "$PYTHON" "$SINK" "$SOURCE" /usr/sbin/postfix /usr/sbin/saslpasswd2; do
  command -v "$tool" >/dev/null ||
    fail "$tool is missing (Debian: apt-get install -y postfix sasl2-bin libsasl2-modules python3)"
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
# opened by this shell; the folder stays private. Postfix's own users must reach the Postfix
# folder, so that one is a folder of its own next to it, made for each run.
chmod 700 "$work"
sink_pid='' outmail_pid='' child_pid='' postfix_pid='' postfix_in='' postfix_dir=''
pg_db='' pg_admin_url=''

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
# stop_postfix: closing its stdin stops the Postfix relay (the master daemon and all its
# processes) before it exits; TERM (which does the same) if it has not gone within 10 s. Then its
# folder goes.
stop_postfix() {
  if [ -n "$postfix_in" ]; then
    exec {postfix_in}>&-
    postfix_in=''
  fi
  if [ -n "$postfix_pid" ]; then
    for _ in $(seq 100); do
      kill -0 "$postfix_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop "$postfix_pid"
    postfix_pid=''
  fi
  if [ -n "$postfix_dir" ]; then
    rm -rf "$postfix_dir"
    postfix_dir=''
  fi
}
drop_database() {
  [ -n "$pg_db" ] || return 0
  psql "$pg_admin_url" -X -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 ||
    printf 'bench-relay: could not drop database %s\n' "$pg_db" >&2
  pg_db=''
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop "$child_pid"
  stop "$outmail_pid"
  stop_postfix
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

# --- the helpers: Python (stdlib) ----------------------------------------------------------------
cat >"$work/bench.py" <<'PY'
"""Helpers of bench-relay.sh: API calls, the timed runs, the checks, the report."""
import glob
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
    stat_fields,
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


def postfix_cpu_seconds(master):
    """CPU time of Postfix: every live process in the master daemon's process group, plus what
    the master has collected from the processes it has reaped."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = stat_fields(entry)
        except OSError:
            continue
        if int(fields[2]) == master:
            total += int(fields[11]) + int(fields[12])
            if int(entry) == master:
                total += int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


def postfix_state(folder, out):
    """Postfix's queue (files left in it) and its log's delivery outcomes, into the result."""
    queued = sum(
        len(files)
        for name in ("maildrop", "incoming", "active", "deferred", "hold")
        for _, _, files in os.walk(os.path.join(folder, "queue", name))
    )
    outcomes = {"sent": 0, "deferred": 0, "bounced": 0}
    first = None
    try:
        lines = open(os.path.join(folder, "maillog"), errors="replace").read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        found = re.search(r" postfix/smtp\[\d+\]: .* status=(\w+)", line)
        if found and found.group(1) in outcomes:
            outcomes[found.group(1)] += 1
            if found.group(1) != "sent" and first is None:
                first = line.split(" status=", 1)[1]
    result = json.load(open(out))
    result["postfix"] = {"queued": queued, **outcomes, "first_problem": first}
    json.dump(result, open(out, "w"))


def measure(options, command):
    """Runs smtp-source, watches the sink until it has counted N more messages."""
    sink, n, out = options["sink"], int(options["n"]), options["out"]
    pid = options.get("pid")
    master = int(options["postfix"]) if options.get("postfix") else None
    timeout, stall = float(options["timeout"]), float(options["stall"])
    base = sink_count(sink)
    target = base + n
    before = {"machine": machine_ticks()}
    if pid:
        before["cpu"] = cpu_seconds(pid)
        before["memory"] = memory_kib(pid)
    if master:
        before["postfix_cpu"] = postfix_cpu_seconds(master)
    if options.get("postgres"):
        before["pg_cpu"] = postgres_cpu_seconds()
    marks = {}
    stderr = open(options["log"], "w")
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=stderr, stderr=stderr, start_new_session=True)

    def wait_for_exit():
        proc.wait()
        marks["accepted"] = time.monotonic()

    waiter = threading.Thread(target=wait_for_exit, daemon=True)
    waiter.start()

    failure, last, changed, progress = None, base, started, started + 10
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
            # A relay delivers after smtp-source has gone: only a failed client ends the wait.
            if "accepted" in marks and proc.returncode != 0:
                failure = (f"smtp-source exited with status {proc.returncode} "
                           f"after {count - base} of {n} messages were delivered")
                break
            if now >= progress:
                accepted = "all accepted" if "accepted" in marks else "smtp-source running"
                print(f"    {now - started:6.1f} s: {count - base} of {n} delivered ({accepted})",
                      file=sys.stderr)
                progress += 10
            time.sleep(0.005)
        after = {"machine": machine_ticks()}
        if pid:
            after["cpu"] = cpu_seconds(pid)
            after["memory"] = memory_kib(pid)
        if master:
            after["postfix_cpu"] = postfix_cpu_seconds(master)
        if options.get("postgres"):
            after["pg_cpu"] = postgres_cpu_seconds()
        waiter.join(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 and failure is None:
        failure = f"smtp-source exited with status {proc.returncode}"
    # Anything more than N (a message sent twice) shows up here.
    time.sleep(1)
    result = {
        "n": n,
        "failure": failure,
        "elapsed": marks.get("delivered", time.monotonic()) - started,
        "delivered": sink_count(sink) - base,
    }
    if "accepted" in marks:
        result["accept_elapsed"] = marks["accepted"] - started
    busy = after["machine"][0] - before["machine"][0]
    total = after["machine"][1] - before["machine"][1]
    result["machine_busy"] = busy / total if total else 0.0
    if pid:
        result["cpu_user"] = after["cpu"][0] - before["cpu"][0]
        result["cpu_system"] = after["cpu"][1] - before["cpu"][1]
        result["cpu"] = result["cpu_user"] + result["cpu_system"]
        result["memory_before"] = before["memory"]
        result["memory_after"] = after["memory"]
    if master:
        result["cpu"] = after["postfix_cpu"] - before["postfix_cpu"]
    if "pg_cpu" in before:
        result["pg_cpu"] = after["pg_cpu"] - before["pg_cpu"]
    json.dump(result, open(out, "w"))
    if result["failure"]:
        print(f"    {result['failure']}", file=sys.stderr)
        smtp_source = open(options["log"], errors="replace").read().strip()
        if smtp_source:
            print("    smtp-source said: " + smtp_source[:1000], file=sys.stderr)
    return 0


def report(args):
    n, size, concurrency, warmup = (int(a) for a in args[:4])
    rows = []
    for path in args[4:]:
        backend = os.path.basename(path).split(".")[0]
        data = json.load(open(path))
        rows.append((backend, data))

    def rate(run, key):
        return run["n"] / run[key] if run.get(key) else float("nan")

    print()
    print(f"{n} messages of {size} bytes of body from smtp-source -s {concurrency} (one per "
          f"connection), relayed to smtp-sink ({warmup} warm-up messages each first)")
    print(f"{'':9} {'end to end msg/s':^26} {'accepted msg/s':^26} {'outmail':^20}")
    print(f"{'backend':<9} {'Postfix':>8} {'outmail':>8} {'ratio':>8} {'Postfix':>8} {'outmail':>8} "
          f"{'ratio':>8} {'peak RSS MiB':>12} {'CPU s':>7}  check")
    failed = False
    for backend, data in rows:
        ref, out = data["postfix"], data["outmail"]
        ref_rate, out_rate = rate(ref, "elapsed"), rate(out, "elapsed")
        ref_acc, out_acc = rate(ref, "accept_elapsed"), rate(out, "accept_elapsed")
        peak = out["memory_after"]["VmHWM"] / 1024
        problems = [p for p in (ref["failure"], out["failure"], data.get("check")) if p]
        log = out.get("log", {})
        if log.get("queued") or log.get("failed"):
            problems.append(f"outmail's delivery log: {log.get('queued')} queued, "
                            f"{log.get('failed')} failed")
        state = ref.get("postfix", {})
        if state.get("queued") or state.get("deferred") or state.get("bounced"):
            problems.append(f"Postfix: {state.get('queued')} left in its queue, "
                            f"{state.get('deferred')} deferred, {state.get('bounced')} bounced")
        failed = failed or bool(problems)
        print(f"{backend:<9} {ref_rate:8.1f} {out_rate:8.1f} {out_rate / ref_rate:8.3f} "
              f"{ref_acc:8.1f} {out_acc:8.1f} {out_acc / ref_acc:8.3f} {peak:12.1f} "
              f"{out['cpu']:7.1f}  {'; '.join(problems) or 'ok'}")
    print()
    for backend, data in rows:
        ref, out = data["postfix"], data["outmail"]
        print(f"{backend}:")
        for name, run in (("Postfix", ref), ("outmail", out)):
            accepted = (f"all accepted in {run['accept_elapsed']:.2f} s"
                        if "accept_elapsed" in run else "smtp-source did not finish")
            print(f"  {name}: {run['n']} messages delivered in {run['elapsed']:.2f} s, {accepted}; "
                  f"CPU {run['cpu']:.1f} s ({1000 * run['cpu'] / run['n']:.2f} ms per message), "
                  f"machine CPU {100 * run['machine_busy']:.0f}% busy ({os.cpu_count()} CPUs)")
        line = f"  outmail CPU: {out['cpu_user']:.1f} s user, {out['cpu_system']:.1f} s system"
        if "pg_cpu" in out:
            line += f"; postgres {out['pg_cpu']:.1f} s"
        print(line)
        mb, ma = out["memory_before"], out["memory_after"]
        print(f"  outmail memory: RSS {mb['VmRSS'] / 1024:.1f} MiB before, {ma['VmRSS'] / 1024:.1f} "
              f"MiB after; peak (VmHWM) {ma['VmHWM'] / 1024:.1f} MiB")
        state = ref.get("postfix", {})
        print(f"  Postfix: {state.get('queued', '?')} left in its queue; its log: "
              f"{state.get('sent', '?')} sent, {state.get('deferred', '?')} deferred, "
              f"{state.get('bounced', '?')} bounced"
              + (f" (first: {state['first_problem']})" if state.get("first_problem") else ""))
        log = out.get("log", {})
        print(f"  outmail's delivery log: {log.get('queued', '?')} queued, "
              f"{log.get('failed', '?')} failed"
              + (f" (first error: {log['first_error']})" if log.get("first_error") else ""))
        print(f"  sinks: {data['postfix_sink']} messages counted behind Postfix, "
              f"{data['outmail_sink']} behind outmail, {data['sink_expected']} expected each "
              f"({warmup} warm-up + {n})")
    print()
    print("end to end: messages over the time from smtp-source's start until the sink had counted")
    print("all of them; accepted: over the time until smtp-source had its last 250 and exited;")
    print("ratio = outmail / Postfix (1 = as fast as Postfix). CPU: outmail's process, and every")
    print("process of the private Postfix, during the measured run.")
    return 1 if failed else 0


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    what, args = sys.argv[1], sys.argv[2:]
    if what == "setup":
        *common, sender, token_path = args
        setup(*common, token_path, sender=sender, token_name="relay benchmark",
              scopes=["messages:read"])
    elif what == "count":
        print(sink_count(args[0]))
    elif what == "log":
        log_counts(*args)
    elif what == "postfix-state":
        postfix_state(*args)
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

# (An array, not a function: run_child must start python itself, so that stopping it stops python.)
bench=(env PYTHONPATH="$PWD/scripts" "$PYTHON" "$work/bench.py")

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# --- one backend -------------------------------------------------------------------------------
# start_sink NAME: smtp-sink on a free port (a port found free can be taken before the sink binds
# it: a few tries); sets sink_pid, sink_port, sink_out.
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

# stop_sink: stops the sink and sets sink_total to what it counted, all arrived by then.
stop_sink() {
  sink_total=$("${bench[@]}" count "$sink_out")
  stop "$sink_pid"
  sink_pid=''
}

# start_postfix NAME: the private Postfix relay to the sink (it picks a free port itself and
# reports it); sets postfix_pid, postfix_port, postfix_dir, postfix_master.
start_postfix() {
  postfix_dir=$(mktemp -d "${TMPDIR:-/tmp}/outmail-bench-postfix.XXXXXX")
  mkfifo "$work/$1.postfix.in"
  "$PYTHON" "$PEER" --dir "$postfix_dir" --relayhost "127.0.0.1:$sink_port" \
    --relay-concurrency "$RELAY_CONCURRENCY" --log-level warning --exit-on-stdin-eof \
    <"$work/$1.postfix.in" >"$work/$1.postfix.out" 2>"$work/$1.postfix.err" &
  postfix_pid=$!
  # Postfix runs for as long as this descriptor is open, i.e. at most as long as this script.
  exec {postfix_in}>"$work/$1.postfix.in"
  postfix_port=''
  for _ in $(seq 300); do
    if read -r word port <"$work/$1.postfix.out" 2>/dev/null && [ "$word" = READY ]; then
      postfix_port=$port
      break
    fi
    kill -0 "$postfix_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$postfix_port" ] || fail "the Postfix relay did not start: $(cat "$work/$1.postfix.err")"
  postfix_master=$(tr -d ' \n' <"$postfix_dir/queue/pid/master.pid")
  [[ $postfix_master =~ ^[0-9]+$ ]] || fail "no master.pid in $postfix_dir/queue/pid"
}

# source_cmd N PORT: sets source_args to the smtp-source command for N messages of SIZE bytes to
# 127.0.0.1:PORT, CONCURRENCY sessions at once, one message per connection.
source_cmd() {
  source_args=("$SOURCE" -s "$CONCURRENCY" -m "$1" -l "$SIZE" -f "$FROM" -t "$TO"
    -M bench.example.test -S "relay benchmark" "127.0.0.1:$2")
}

run_backend() {
  local backend=$1 url=${2:-} results=$work/$1
  mkdir -p "$results"
  local expected=$((WARMUP + MESSAGES)) check=()

  # The reference: Postfix.
  say "$backend: starting smtp-sink and the Postfix relay"
  start_sink "$backend-postfix"
  start_postfix "$backend"
  say "$backend: Postfix on 127.0.0.1:$postfix_port relays to smtp-sink on 127.0.0.1:$sink_port"
  local common=(sink="$sink_out" timeout="$TIMEOUT" stall="$STALL")
  if [ "$WARMUP" -gt 0 ]; then
    say "$backend: Postfix warm-up, $WARMUP messages"
    source_cmd "$WARMUP" "$postfix_port"
    run_child "${bench[@]}" measure "${common[@]}" n="$WARMUP" out="$results/postfix-warm.json" \
      log="$results/postfix-warm.log" -- "${source_args[@]}" ||
      fail "the Postfix warm-up failed"
  fi
  say "$backend: Postfix, smtp-source: $MESSAGES messages, $CONCURRENCY sessions"
  source_cmd "$MESSAGES" "$postfix_port"
  run_child "${bench[@]}" measure "${common[@]}" postfix="$postfix_master" n="$MESSAGES" \
    out="$results/postfix.json" log="$results/postfix.log" -- "${source_args[@]}" ||
    fail "the Postfix run failed"
  "${bench[@]}" postfix-state "$postfix_dir" "$results/postfix.json" ||
    fail "reading Postfix's queue and log failed"
  stop_postfix
  # Counted once Postfix has stopped: nothing can arrive late any more.
  stop_sink
  local postfix_total=$sink_total
  [ "$postfix_total" -eq "$expected" ] ||
    check+=("the sink behind Postfix counted $postfix_total, expected $expected")

  # outmail.
  say "$backend: starting smtp-sink"
  start_sink "$backend-outmail"
  say "$backend: smtp-sink on 127.0.0.1:$sink_port"
  local args=(serve --bind 127.0.0.1:0 --data-dir "$work/$backend-data" --log warn
    --smtp-bind 127.0.0.1:0 --smtp-allow-unauthenticated 127.0.0.1/32)
  local store_args=(--data-dir "$work/$backend-data")
  if [ -n "$url" ]; then
    args+=(--database-url "$url")
    store_args+=(--database-url "$url")
  fi
  # The admin who sets up the profile and the API token that reads the delivery log.
  printf '%s\n' "$ADMIN_PASSWORD" |
    "$OUTMAIL" admin create --email "$ADMIN_EMAIL" "${store_args[@]}" >/dev/null ||
    fail "creating the benchmark admin failed"
  say "$backend: starting $OUTMAIL"
  "$OUTMAIL" "${args[@]}" >"$work/$backend.out" 2>"$work/$backend.err" &
  outmail_pid=$!
  local address='' relay=''
  for _ in $(seq 300); do
    address=$(sed -n 's|^outmail is listening on http://\([0-9.:]*\).*|\1|p' "$work/$backend.out" |
      head -n 1)
    relay=$(sed -n 's|^The SMTP relay is listening on \([0-9.]*:[0-9]*\).*|\1|p' \
      "$work/$backend.out" | head -n 1)
    [ -z "$address" ] || [ -z "$relay" ] || break
    kill -0 "$outmail_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$address" ] && [ -n "$relay" ] ||
    fail "outmail did not start with its SMTP relay: $(cat "$work/$backend.out" "$work/$backend.err")"
  local base=http://$address/api/v1
  local profile
  profile=$("${bench[@]}" setup "$base" "$sink_port" "$backend" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" \
    "$FROM" "$work/$backend.token") || fail "setting up the profile failed"
  say "$backend: outmail on $address, its SMTP relay on $relay, profile $profile sends to the sink"

  local out_common=(sink="$sink_out" pid="$outmail_pid" timeout="$TIMEOUT" stall="$STALL")
  [ "$backend" != postgres ] || out_common+=(postgres=1)
  if [ "$WARMUP" -gt 0 ]; then
    say "$backend: outmail warm-up, $WARMUP messages"
    source_cmd "$WARMUP" "${relay##*:}"
    run_child "${bench[@]}" measure "${out_common[@]}" n="$WARMUP" out="$results/out-warm.json" \
      log="$results/out-warm.log" -- "${source_args[@]}" ||
      fail "the outmail warm-up failed"
  fi
  say "$backend: outmail, smtp-source: $MESSAGES messages, $CONCURRENCY sessions"
  source_cmd "$MESSAGES" "${relay##*:}"
  run_child "${bench[@]}" measure "${out_common[@]}" n="$MESSAGES" out="$results/outmail.json" \
    log="$results/outmail.log" -- "${source_args[@]}" ||
    fail "the outmail run failed"
  "${bench[@]}" log "$base" "$results/outmail.json" "$work/$backend.token" ||
    fail "reading the delivery log failed"

  stop "$outmail_pid"
  outmail_pid=''
  # Counted once outmail has stopped: nothing can arrive late any more.
  stop_sink
  local outmail_total=$sink_total
  [ "$outmail_total" -eq "$expected" ] ||
    check+=("the sink behind outmail counted $outmail_total, expected $expected")
  local joined=''
  if [ "${#check[@]}" -gt 0 ]; then
    joined=$(printf '%s; ' "${check[@]}")
    joined=${joined%; }
  fi
  "${bench[@]}" merge "$work/$backend.json" postfix=@"$results/postfix.json" \
    outmail=@"$results/outmail.json" postfix_sink="$postfix_total" \
    outmail_sink="$outmail_total" sink_expected="$expected" check="$joined"
  drop_database
}

# --- the run -----------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "machine:  $(nproc) CPUs${cpu:+ ($cpu)}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "outmail:  $OUTMAIL ($("$OUTMAIL" --version 2>/dev/null || echo '?'))"
echo "Postfix:  $(/usr/sbin/postconf -dh mail_version 2>/dev/null || echo '?'), relaying with at most" \
  "$RELAY_CONCURRENCY connections, queue on disk"
echo "client:   smtp-source -s $CONCURRENCY (one message per connection)"
echo "messages: $MESSAGES of $SIZE bytes of body into each relay, after $WARMUP warm-up messages"

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
    durability=$(psql "$url" -X -A -t -q -c "SHOW fsync" -c "SHOW synchronous_commit" | paste -sd ' ')
    echo "postgres: fsync ${durability% *}, synchronous_commit ${durability#* }$(
      [[ $durability != *off* ]] || echo " (outmail's 250 is not durable on this server)")"
  fi
  run_backend "$backend" "$url"
  reports+=("$work/$backend.json")
done

"${bench[@]}" report "$MESSAGES" "$SIZE" "$CONCURRENCY" "$WARMUP" "${reports[@]}" ||
  fail "some counts are wrong (see the check column): those numbers do not count"

#!/usr/bin/env bash
# Benchmark: the latency of outmail's test send to a local Postfix, against swaks sending the same
# message to the same Postfix from the same script; reports the overhead in milliseconds.
#
#   sudo scripts/bench-test-send.sh            # BENCH_SENDS=200 sends of each kind
#   BENCH_SENDS=20 scripts/bench-test-send.sh
#
# What it does:
#  1. starts a private Postfix (crates/outmail-testkit/peers/postfix_peer.py) on a free
#     loopback port, with STARTTLS (a fresh self-signed certificate for localhost and 127.0.0.1)
#     and SASL PLAIN for one account; it writes each accepted message to a JSON file;
#  2. starts `target/release/outmail serve` on a free loopback port with a fresh data folder
#     (the binary is built with `cargo build --release -p outmail-server` when it is missing;
#     OUTMAIL_BIN=PATH benchmarks another build instead), with an admin made beforehand by
#     `outmail admin create` and a test-send limit (--test-sends-per-minute) above the number of
#     test sends the run makes; curl signs in (POST /api/v1/session) and keeps the session
#     cookie in a cookie jar;
#  3. sends one warm-up message each way, then BENCH_SENDS rounds, each one outmail test send
#     (curl: POST /api/v1/profiles/test with the session cookie and Origin, an unsaved SMTP
#     profile: STARTTLS, the certificate as its CA, AUTH PLAIN; outmail's time includes its
#     session check and the audit entry of the test send) and one swaks run (STARTTLS,
#     certificate verified, AUTH PLAIN) of the very message outmail sent, taking turns at going
#     first so that drift hits both alike;
#  4. prints p50/p90/p99/mean of both, outmail minus swaks at p50, p99 and mean, and how many
#     messages Postfix delivered (2 x BENCH_SENDS + 2 warm-ups expected).
#
# Both are timed the same way: wall time around the command (bash's EPOCHREALTIME), so both
# include the start-up of their client process (curl; swaks is Perl loading its TLS modules).
# That start-up is measured too (each command against a closed port) and the overhead is also
# printed without it. curl's own time_total and outmail's total_ms (the server's time for the
# test send) are printed as well.
#
# Needs root (Postfix's master daemon) and the Debian packages scripts/setup.sh installs
# (postfix, libsasl2-modules, sasl2-bin, swaks) plus curl, openssl and /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."

SENDS=${BENCH_SENDS:-200}
OUTMAIL=${OUTMAIL_BIN:-target/release/outmail}
PEER=crates/outmail-testkit/peers/postfix_peer.py
PYTHON=/usr/bin/python3
SMTP_USER=bench@example.test
FROM=bench@example.test
TO=rcpt@example.test
ADMIN_EMAIL=admin@example.test
# A throwaway account in a throwaway data folder.
ADMIN_PASSWORD=test-send-benchmark-only

say() { printf '==> %s\n' "$*" >&2; }
fail() {
  printf 'bench-test-send: %s\n' "$*" >&2
  exit 1
}

[[ $SENDS =~ ^[1-9][0-9]*$ ]] || fail "BENCH_SENDS must be a positive integer, not '$SENDS'"
[ "$(id -u)" -eq 0 ] || fail "run as root: the Postfix peer starts Postfix's master daemon"
for tool in curl openssl swaks "$PYTHON" /usr/sbin/postfix /usr/sbin/saslpasswd2; do
  command -v "$tool" >/dev/null || fail "$tool is missing; scripts/setup.sh installs it"
done
if [ ! -x "$OUTMAIL" ]; then
  [ -z "${OUTMAIL_BIN:-}" ] || fail "OUTMAIL_BIN=$OUTMAIL is not an executable"
  say "building $OUTMAIL"
  cargo build --release -p outmail-server
fi

work=$(mktemp -d /tmp/outmail-bench.XXXXXX)
# Postfix's own users (postfix, nobody) must reach the peer's folder inside.
chmod 711 "$work"
peer_pid='' outmail_pid=''
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$outmail_pid" ]; then
    kill "$outmail_pid" 2>/dev/null || true
    wait "$outmail_pid" 2>/dev/null || true
  fi
  if [ -n "$peer_pid" ]; then
    # Closing its stdin stops the peer; SIGTERM does the same should it not notice.
    if [ -n "${peer_in:-}" ]; then exec {peer_in}>&-; fi
    kill "$peer_pid" 2>/dev/null || true
    wait "$peer_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# --- 1. Postfix ------------------------------------------------------------------------------
say "making a self-signed certificate for localhost and 127.0.0.1"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
  -addext basicConstraints=critical,CA:FALSE \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>"$work/openssl.log" ||
  fail "openssl failed: $(cat "$work/openssl.log")"
password=$(openssl rand -hex 16)

say "starting Postfix"
mkfifo "$work/peer.in"
"$PYTHON" "$PEER" --dir "$work/postfix" --cert "$work/cert.pem" --key "$work/key.pem" \
  --user "$SMTP_USER" --password "$password" --log-level warning --exit-on-stdin-eof \
  <"$work/peer.in" >"$work/peer.out" 2>"$work/peer.err" &
peer_pid=$!
# The peer runs for as long as this descriptor is open, i.e. at most as long as this script.
exec {peer_in}>"$work/peer.in"
smtp_port=''
for _ in $(seq 300); do
  if read -r word port <"$work/peer.out" 2>/dev/null && [ "$word" = READY ]; then
    smtp_port=$port
    break
  fi
  kill -0 "$peer_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$smtp_port" ] || fail "the Postfix peer did not start: $(cat "$work/peer.err")"
maildir=$work/postfix/mail

# --- 2. outmail ------------------------------------------------------------------------------
http_port=$(free_port)
base=http://127.0.0.1:$http_port/api/v1
origin=http://127.0.0.1:$http_port
# Test sends are limited per admin and minute: the limit must let the whole run through (the
# warm-up and SENDS measured ones). The server takes at most 10000; that many a minute is one
# every 6 ms, far less than a round (a test send and a swaks run) takes, so longer runs pass too.
test_sends_per_minute=$((SENDS + 1))
((test_sends_per_minute <= 10000)) || test_sends_per_minute=10000
# The admin whose session makes the test sends.
printf '%s\n' "$ADMIN_PASSWORD" |
  "$OUTMAIL" admin create --email "$ADMIN_EMAIL" --data-dir "$work/outmail" >/dev/null ||
  fail "creating the benchmark admin failed"
say "starting $OUTMAIL on 127.0.0.1:$http_port"
# (Without the peer's stdin: the peer must see it close when this script ends.)
"$OUTMAIL" serve --bind "127.0.0.1:$http_port" --data-dir "$work/outmail" --log warn \
  --test-sends-per-minute "$test_sends_per_minute" \
  >"$work/outmail.out" 2>"$work/outmail.err" {peer_in}>&- &
outmail_pid=$!
for _ in $(seq 300); do
  curl -sf -o /dev/null "$base/health" && break
  kill -0 "$outmail_pid" 2>/dev/null || fail "outmail exited: $(cat "$work/outmail.err")"
  sleep 0.1
done
curl -sf -o /dev/null "$base/health" || fail "outmail does not answer on $base/health"

say "signing in as $ADMIN_EMAIL"
status=$(printf '{"email":"%s","password":"%s"}' "$ADMIN_EMAIL" "$ADMIN_PASSWORD" |
  curl -sS -o "$work/session.json" -w '%{http_code}' -c "$work/cookies" -H "Origin: $origin" \
    -H 'content-type: application/json' --data-binary @- "$base/session") || status=000
if [ "$status" != 200 ] || ! grep -q outmail_session "$work/cookies" 2>/dev/null; then
  fail "signing in failed (HTTP $status): $(head -c 2000 "$work/session.json" 2>/dev/null)"
fi

# The unsaved profile: STARTTLS to the peer, its certificate as the CA, AUTH PLAIN.
"$PYTHON" - "$work/cert.pem" "$smtp_port" "$SMTP_USER" "$password" "$FROM" "$TO" \
  >"$work/request.json" <<'EOF'
import json, sys
cert, port, user, password, sender, to = sys.argv[1:]
draft = {
    "name": "Benchmark",
    "transport": {
        "kind": "smtp", "host": "127.0.0.1", "port": int(port), "security": "starttls",
        "ca_certificate": open(cert, encoding="ascii").read(),
        "ehlo_name": "bench-outmail.example.test",
        "auth": {"kind": "basic", "username": user, "password": {"value": password},
                 "mechanism": "plain"},
    },
    "sender": {"address": f'"Outmail Bench" <{sender}>'},
    "utf8_headers": False,
}
json.dump({"profile": draft, "to": to, "dry_run": False}, sys.stdout)
EOF

# outmail_send: one test send; appends "outmail WALL_MS CURL_MS TOTAL_MS" to the results.
outmail_send() {
  local start end status
  start=$EPOCHREALTIME
  status=$(curl -sS -o "$work/answer.json" -w '%{http_code} %{time_total}' \
    -b "$work/cookies" -H "Origin: $origin" \
    -H 'content-type: application/json' --data-binary @"$work/request.json" \
    "$base/profiles/test") || status="000 0"
  end=$EPOCHREALTIME
  if [ "${status%% *}" != 200 ] || ! grep -q '"outcome":"delivered"' "$work/answer.json"; then
    fail "outmail's test send failed (HTTP ${status%% *}; a stale $OUTMAIL without" \
      "POST /api/v1/profiles/test? rebuild it): $(head -c 2000 "$work/answer.json" 2>/dev/null)"
  fi
  local total
  total=$(grep -o '"total_ms":[0-9]*' "$work/answer.json" | cut -d: -f2)
  echo "outmail $start $end ${status#* } ${total:-nan}" >>"$work/results"
}

# swaks_send: the same message through swaks; appends "swaks START END".
swaks_send() {
  local start end
  start=$EPOCHREALTIME
  swaks --server "127.0.0.1:$smtp_port" --tls --tls-verify --tls-ca-path "$work/cert.pem" \
    --auth PLAIN --auth-user "$SMTP_USER" --auth-password "$password" \
    --helo bench-swaks.example.test --from "$FROM" --to "$TO" \
    --data @"$work/message.eml" >"$work/swaks.log" 2>&1 ||
    fail "swaks failed: $(tail -n 20 "$work/swaks.log")"
  end=$EPOCHREALTIME
  echo "swaks $start $end" >>"$work/results"
}

delivered() { find "$maildir" -maxdepth 1 -name '*.json' | wc -l; }

# wait_delivered N: waits (up to 20 s) until Postfix has delivered N messages.
wait_delivered() {
  for _ in $(seq 200); do
    [ "$(delivered)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# --- 3. warm-up, and the message swaks sends ---------------------------------------------------
say "warming up"
: >"$work/results"
outmail_send
wait_delivered 1 || fail "outmail's warm-up message never reached Postfix's mail folder"
# What outmail sent, without the Received: header Postfix put on top, becomes swaks's DATA.
"$PYTHON" - "$maildir/1.json" >"$work/message.eml" <<'EOF'
import json, re, sys
data = json.load(open(sys.argv[1], encoding="utf-8"))["data"]
data = re.sub(r"\AReceived:.*?\r\n(?=\S)", "", data, count=1, flags=re.S)
sys.stdout.write(data.replace("\r\n", "\n"))
EOF
swaks_send
wait_delivered 2 || fail "swaks's warm-up message never reached Postfix's mail folder"
: >"$work/results"

# Client start-up alone: the same two commands against a closed port (refused at once).
closed_port=$(free_port)
: >"$work/startup"
for _ in $(seq 10); do
  start=$EPOCHREALTIME
  curl -sS -o /dev/null -b "$work/cookies" -H "Origin: $origin" \
    -H 'content-type: application/json' \
    --data-binary @"$work/request.json" "http://127.0.0.1:$closed_port/" 2>/dev/null || true
  end=$EPOCHREALTIME
  echo "curl $start $end" >>"$work/startup"
  start=$EPOCHREALTIME
  swaks --server "127.0.0.1:$closed_port" --tls --tls-verify --tls-ca-path "$work/cert.pem" \
    --auth PLAIN --auth-user "$SMTP_USER" --auth-password "$password" \
    --helo bench-swaks.example.test --from "$FROM" --to "$TO" \
    --data @"$work/message.eml" >/dev/null 2>&1 || true
  end=$EPOCHREALTIME
  echo "swaks $start $end" >>"$work/startup"
done

# --- 4. the measured rounds --------------------------------------------------------------------
say "measuring $SENDS test sends and $SENDS swaks runs, alternating"
for round in $(seq "$SENDS"); do
  if ((round % 2)); then
    outmail_send
    swaks_send
  else
    swaks_send
    outmail_send
  fi
done

expected=$((2 * SENDS + 2))
wait_delivered "$expected" || true

"$PYTHON" - "$work/results" "$work/startup" "$SENDS" "$(delivered)" "$expected" <<'EOF'
import statistics, sys

results, startup, sends, delivered, expected = sys.argv[1:]

def wall(fields):
    return (float(fields[2]) - float(fields[1])) * 1000

samples = {"outmail": [], "curl": [], "server": [], "swaks": []}
for line in open(results):
    fields = line.split()
    samples[fields[0]].append(wall(fields))
    if fields[0] == "outmail":
        samples["curl"].append(float(fields[3]) * 1000)
        if fields[4] != "nan":
            samples["server"].append(float(fields[4]))
floor = {"curl": [], "swaks": []}
for line in open(startup):
    fields = line.split()
    floor[fields[0]].append(wall(fields))

def pct(values, p):
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    # Linear interpolation between closest ranks.
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

def row(name, values):
    if not values:
        return f"{name:<34} (none)"
    return (f"{name:<34} {pct(values, 50):8.1f} {pct(values, 90):8.1f} "
            f"{pct(values, 99):8.1f} {statistics.fmean(values):8.1f} {len(values):6d}")

print()
print(f"test send vs swaks, {sends} of each, to a local Postfix (STARTTLS, AUTH PLAIN); ms")
print(f"{'':<34} {'p50':>8} {'p90':>8} {'p99':>8} {'mean':>8} {'n':>6}")
print(row("outmail test send (wall, curl)", samples["outmail"]))
print(row("  curl time_total", samples["curl"]))
print(row("  outmail total_ms (server side)", samples["server"]))
print(row("swaks (wall)", samples["swaks"]))
print(row("curl alone (to a closed port)", floor["curl"]))
print(row("swaks alone (to a closed port)", floor["swaks"]))
o, s = samples["outmail"], samples["swaks"]
print()
print(f"overhead, outmail minus swaks:  p50 {pct(o, 50) - pct(s, 50):+.1f} ms   "
      f"p99 {pct(o, 99) - pct(s, 99):+.1f} ms   "
      f"mean {statistics.fmean(o) - statistics.fmean(s):+.1f} ms")
# Each client's own start-up (median) taken out of its wall times.
lag = statistics.median(floor["curl"]) - statistics.median(floor["swaks"])
print(f"  without client start-up:      p50 {pct(o, 50) - pct(s, 50) - lag:+.1f} ms   "
      f"p99 {pct(o, 99) - pct(s, 99) - lag:+.1f} ms   "
      f"mean {statistics.fmean(o) - statistics.fmean(s) - lag:+.1f} ms")
print(f"messages delivered by Postfix: {delivered} (expected {expected}: "
      f"2 x {sends} + 2 warm-ups)")
if int(delivered) != int(expected):
    sys.exit(1)
EOF

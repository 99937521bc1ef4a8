#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL and exits with the command's status.
#
#   bash scripts/with-postgres.sh cargo test -p outmail-store
#
# The server lives in a fresh temporary directory, listens on 127.0.0.1 only (on a free port)
# and on a unix socket in that directory, trusts local connections (tests only), and is stopped
# and deleted on exit however the command ends. The command sees
# OUTMAIL_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

log() { echo "with-postgres: $*" >&2; }

find_pg_bin() {
    # The newest installed major version (Debian keeps one directory per version).
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    fi
}

PG_BIN=$(find_pg_bin)
if [ -z "$PG_BIN" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        log "PostgreSQL is not installed; run: sudo apt-get install -y postgresql"
        exit 1
    fi
    log "installing Debian's postgresql package"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    PG_BIN=$(find_pg_bin)
    if [ -z "$PG_BIN" ]; then
        log "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
        exit 1
    fi
fi

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/outmail-pg.XXXXXX")
DATA_DIR="$WORK_DIR/data"
SOCKET_DIR="$WORK_DIR/socket"
LOG_FILE="$WORK_DIR/server.log"
mkdir -p "$SOCKET_DIR"

# PostgreSQL refuses to run as root: as root, run it as the `postgres` user the package creates.
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then
    if ! id -u postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    chown -R postgres: "$WORK_DIR"
    AS_PG=(runuser -u postgres --)
fi

pg() {
    # From inside the work dir: the postgres user may not be allowed into the caller's directory.
    (cd "$WORK_DIR" && "${AS_PG[@]}" "$@")
}

SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        # The server is this script's child (not daemonised by pg_ctl), so waiting here reaps
        # it: nothing, not even a zombie, outlives the script.
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_server
    rm -rf "$WORK_DIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$WORK_DIR/initdb.log" 2>&1 || {
    cat "$WORK_DIR/initdb.log" >&2
    log "initdb failed"
    exit 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ready() {
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1"
}

# A port found free can be taken before the server binds it: try a few.
PORT=""
for _ in 1 2 3 4 5; do
    candidate=$(free_port)
    # Durability settings off: the cluster is deleted at exit, and tests run faster without fsync.
    (cd "$WORK_DIR" && exec "${AS_PG[@]}" "$PG_BIN/postgres" -D "$DATA_DIR" \
        -c listen_addresses=127.0.0.1 -p "$candidate" -k "$SOCKET_DIR" \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=200) >>"$LOG_FILE" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 120); do
        if ready "$candidate" || ! kill -0 "$SERVER_PID" 2>/dev/null; then
            break
        fi
        sleep 0.25
    done
    if ready "$candidate"; then
        PORT=$candidate
        break
    fi
    stop_server
done
if [ -z "$PORT" ]; then
    cat "$LOG_FILE" >&2 2>/dev/null || true
    log "could not start PostgreSQL"
    exit 1
fi

export OUTMAIL_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"

set +e
"$@"
status=$?
set -e
exit "$status"

"""What the outmail benchmarks' Python helpers share: loopback API calls, the sink's
counter, CPU and memory from /proc, signing in, the benchmark's profile, the delivery log."""
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

# The traffic is to 127.0.0.1 only, whatever http_proxy says.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def call(method, url, body=None, headers=None, expect=200):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with OPENER.open(request, timeout=30) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    if status != expect:
        text = answer.decode("utf-8", "replace")[:2000]
        raise SystemExit(f"{method} {url} answered {status}, expected {expect}:\n{text}")
    return json.loads(answer) if answer else None


def sink_count(path):
    """The sink's message counter: the last complete "mesg=N" record on its stdout."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256))
            tail = f.read()
    except FileNotFoundError:
        return 0
    found = re.findall(rb"mesg=(\d+)\r", tail)
    return int(found[-1]) if found else 0


def stat_fields(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()


def cpu_seconds(pid):
    """User and system CPU time of a process, all its threads."""
    fields = stat_fields(pid)
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def memory_kib(pid):
    values = {}
    for line in open(f"/proc/{pid}/status"):
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            values[name] = int(rest.split()[0])
    return values


def postgres_cpu_seconds():
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if open(f"/proc/{entry}/comm").read().strip() == "postgres":
                total += sum(cpu_seconds(entry))
        except OSError:
            pass
    return total


def machine_ticks():
    values = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def sign_in(base, email, password):
    """The headers of an admin's session: its cookie, and our own Origin (the cross-site check)."""
    origin = base.rsplit("/api/v1", 1)[0]
    request = urllib.request.Request(
        f"{base}/session",
        data=json.dumps({"email": email, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Origin": origin},
    )
    with OPENER.open(request, timeout=30) as response:
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
    return {"Cookie": cookie, "Origin": origin}


def setup(base, sink_port, backend, email, password, token_path, sender, token_name, scopes):
    health = call("GET", f"{base}/health")
    if health.get("database") != backend:
        raise SystemExit(f"outmail reports database {health.get('database')!r}, expected {backend!r}")
    admin = sign_in(base, email, password)
    # The product's side: an API token with the scopes this benchmark needs.
    token = call(
        "POST",
        f"{base}/tokens",
        {"name": token_name, "scopes": scopes},
        headers=admin,
        expect=201,
    )["token"]
    with open(token_path, "w") as f:
        f.write(token)
    profile = call(
        "POST",
        f"{base}/profiles",
        {
            "name": "Sink",
            "transport": {
                "kind": "smtp",
                "host": "127.0.0.1",
                "port": int(sink_port),
                "security": "none",
                "auth": {"kind": "none"},
            },
            "sender": {"address": sender},
            "send_frequency": 0,
            "utf8_headers": False,
        },
        headers=admin,
        expect=201,
    )
    call(
        "PUT",
        f"{base}/settings",
        {
            "sending_enabled": True,
            "tenant_support_allowed": False,
            "attach_system_info": False,
            "default_profile_id": profile["id"],
        },
        headers={"If-Match": '"0"', **admin},
    )
    print(profile["id"])


def log_counts(base, out, token_path):
    token = open(token_path).read().strip()
    limit = 500
    counts = {}
    for status in ("queued", "failed"):
        rows = call(
            "GET",
            f"{base}/messages?status={status}&limit={limit}",
            headers={"Authorization": f"Bearer {token}"},
        )
        counts[status] = len(rows)
        if status == "failed" and rows:
            counts["first_error"] = rows[0].get("last_error")
    result = json.load(open(out))
    result["log"] = counts
    json.dump(result, open(out, "w"))

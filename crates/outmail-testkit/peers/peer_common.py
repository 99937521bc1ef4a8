"""The start-up protocol shared by the test peers in this folder.

Standard library only.  Every peer (graph_peer.py, ews_peer.py, smtp_peer.py,
postfix_peer.py) writes exactly one line ``READY <port>`` to stdout once it
serves, logs to stderr at ``--log-level``, stops with status 0 on SIGTERM or
SIGINT, and with ``--exit-on-stdin-eof`` also once its stdin reaches end of
file.  Bad arguments exit with status 2 (argparse).  The peers import this
module from the folder they live in.
"""

import argparse
import logging
import os
import signal
import sys
import threading

LOG_LEVELS = ("debug", "info", "warning", "error")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def add_standard_flags(parser):
    """Adds --log-level and --exit-on-stdin-eof (every peer takes them last)."""
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def int_between(text, low, high):
    """The integer `text` if low <= it <= high; for an argparse type function
    (a non-number raises ValueError, which argparse reports under the name of
    that function)."""
    value = int(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
    return value


def setup_logging(program, level, logger_names=False):
    """Log lines on stderr: time, ``program[pid]``, the logger's name when
    `logger_names`, the level and the message."""
    name = " %(name)s" if logger_names else ""
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper()),
        format=f"%(asctime)s {program}[%(process)d]{name} %(levelname)s %(message)s",
    )


def stop_event():
    """A threading.Event that SIGTERM and SIGINT set."""
    stop = threading.Event()
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: stop.set())
    return stop


def announce_ready(port):
    """The one line a peer ever writes to stdout."""
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


def on_stdin_eof(callback):
    """Calls `callback` from a daemon thread once stdin reaches end of file."""

    def watch():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        callback()

    threading.Thread(target=watch, daemon=True).start()

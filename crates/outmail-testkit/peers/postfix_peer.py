#!/usr/bin/python3
"""A private Postfix instance used as a real SMTP peer by tests and benchmarks.

It runs Debian's Postfix (3.7) on 127.0.0.1 in one of two modes:

* destination (the default): with STARTTLS and Cyrus SASL (PLAIN and LOGIN
  against a sasldb file), writing every accepted message as a JSON file, like
  ``smtp_peer.py --spool`` does;
* relay (``--relayhost HOST:PORT``): a durable relay, as a product's relay
  client or as the reference a relay is measured against.  It accepts mail
  from 127.0.0.1 without AUTH, queues it on disk as Postfix always does (the
  ``250`` comes once the queue file is written and synced), and relays every
  message to ``[HOST]:PORT``, optionally over STARTTLS and with SASL
  (see "Relay mode" below).

It uses the Python standard library only; run it with ``/usr/bin/python3``.
Debian packages needed: ``postfix``, ``libsasl2-modules`` and ``sasl2-bin``
(``scripts/setup.sh`` installs them).  Postfix's master daemon must start as
root, so this script must be run as root.

Nothing outside ``--dir`` is touched: the system instance (``/etc/postfix``,
``/var/spool/postfix``, ``/var/lib/postfix``) is neither read for settings nor
written, so any number of peers can run at once, each with its own directory
and port.

Start-up protocol
-----------------
Once Postfix answers on its port with a ``220`` greeting, exactly one line
``READY <port>`` is written to stdout and flushed; nothing else is ever written
to stdout.  The script's own log lines go to stderr (``--log-level``, default
``info``); Postfix itself logs to ``DIR/maillog``.  Start-up takes about 0.1 s
(0.15 s for the whole process).
SIGTERM and SIGINT stop Postfix (the master daemon and all its processes) and
the process exits with status 0 once Postfix is gone.
With ``--exit-on-stdin-eof`` it also stops (status 0) once its stdin reaches
end of file; a parent should prefer closing stdin and waiting for the exit
over killing the process, as the master daemon is then fully stopped before
its directory is removed.  Should this process be killed outright (SIGKILL),
a small watchdog (``/bin/sh``, in a session of its own, waiting on a pipe from
this process) sends SIGTERM to the master daemon's process group, so Postfix
still goes away within a moment.
Bad arguments exit with status 2; a failure to start (not root, Postfix or
saslpasswd2 missing, unreadable certificate or CA file, Postfix not answering
within 30 seconds) with status 1 before ``READY`` is printed, with the last
lines of ``DIR/maillog`` on stderr.  If Postfix dies after ``READY`` the
process exits with status 1.

Flags
-----
--dir DIR            Working directory (created if missing; tests pass a
                     fresh temporary one).  Gets search permission for others
                     (o+x) because the ``postfix`` and ``nobody`` users must
                     reach files in it; every parent of DIR must already be
                     searchable by others (``/tmp`` is).  Layout:
                       conf/      main.cf and master.cf (``postfix -c DIR/conf``)
                       conf/sasl/ smtpd.conf and the sasldb2 file
                                  (destination mode)
                       conf/relay_passwd
                                  the relay's SASL account, a texthash table
                                  (relay mode with --relay-user only)
                       queue/     queue_directory (master.pid is in queue/pid)
                       data/      data_directory (master.lock, TLS PRNG file)
                       tls/       copies of the certificate and key
                                  (cert.pem, key.pem) and of --relay-ca
                                  (relay-ca.pem)
                       bin/       the delivery program (a copy of this script;
                                  destination mode)
                       mail/      delivered messages, see below (destination
                                  mode)
                       maillog    Postfix's log (maillog_file via postlogd)
                       master.log master daemon's own stderr
--port N             TCP port on 127.0.0.1 (default 0: a free port is picked,
                     and another one, up to five times, if it turns out to be
                     taken; the port in use is reported in the READY line).
                     Postfix listens with SO_REUSEPORT and so binds a port
                     another root process listens on without an error; this
                     script therefore refuses a port that has a listener
                     before it starts Postfix, and gives it up if another
                     listener shows up next to Postfix's before READY.
--cert PEM, --key PEM
                     Certificate chain and private key for STARTTLS
                     (required in destination mode; optional in relay mode,
                     where STARTTLS is offered only when they are given).
--user U, --password P
                     The one SASL account (required in destination mode, not
                     allowed in relay mode, which offers no AUTH).  ``U`` may
                     be ``name@domain`` (stored as user ``name`` in realm
                     ``domain``; the client logs in with ``name@domain``) or
                     a bare name (realm ``mail.example.test``; the client logs
                     in with the bare name).
--relayhost HOST:PORT
                     Relay mode: every accepted message is relayed to
                     ``[HOST]:PORT`` (``relayhost``; no MX lookup; HOST is an
                     IPv4 address or a name in /etc/hosts) instead of being
                     written to ``DIR/mail``.  The flags below need it.
--relay-user U, --relay-password P
                     Log in to the relayhost with SASL (PLAIN or LOGIN,
                     whichever it offers) as ``U`` with password ``P``; both
                     or neither.  ``U`` must not hold ``:`` or white space,
                     ``P`` no line break, NUL, or white space at either end.
                     Without them no AUTH is attempted.
--relay-ca PEM       CA certificates to check the relayhost's certificate
                     against (``smtp_tls_CAfile``); makes ``encrypt`` the
                     default of --relay-tls.
--relay-tls LEVEL    smtp_tls_security_level towards the relayhost:
                     ``none`` (never STARTTLS), ``may`` (STARTTLS when
                     offered, certificate not checked), ``encrypt``
                     (STARTTLS required, certificate not checked; the maillog
                     says "Trusted" or "Untrusted TLS connection" after
                     checking it against --relay-ca) or ``verify`` (STARTTLS
                     required and the certificate must be signed by a CA of
                     --relay-ca and name HOST: a DNS name, or for an IPv4
                     address an IP address entry, as the Pki certificates of
                     the Rust tests have for 127.0.0.1; a mismatch defers
                     the message, "Server certificate not verified"; needs
                     --relay-ca).  Default:
                     ``encrypt`` with --relay-ca, else ``may`` with
                     --relay-user (so that AUTH offered only after STARTTLS
                     works), else ``none``.
--relay-concurrency N
                     At most N connections to the relayhost at once
                     (``smtp_destination_concurrency_limit``; default 8, the
                     number of messages outmail's delivery worker sends at
                     once, where Postfix's own default is 20).  Postfix starts
                     with up to 5 (``initial_destination_concurrency``) and
                     opens more as deliveries succeed.
--max-size N         message_size_limit (advertised as ``250-SIZE N``).
                     Default: Postfix's 10240000.  Postfix counts the message
                     as queued, with its own Received: header and envelope
                     records, so DATA is refused about 1 kB below N (see
                     Replies).
--log-level LEVEL    debug, info (default), warning, error.
--exit-on-stdin-eof  See above.

Postfix settings
----------------
myhostname ``mail.example.test``; inet_protocols ipv4; every daemon runs
without chroot.  STARTTLS is offered (``smtpd_tls_security_level = may``),
AUTH is offered only after it (``smtpd_tls_auth_only = yes``) with mechanisms
``PLAIN LOGIN``.  No domain is local and none is a relay domain, so every
recipient needs an authenticated client (``smtpd_relay_restrictions =
permit_sasl_authenticated, reject_unauth_destination``); whatever is accepted
goes, whatever the recipient domain, to a ``pipe`` transport run as
``nobody`` that writes the message into ``DIR/mail``.  No DNS lookups of the
client, no inflow throttling, deliveries retried every second.  Postfix adds
no missing headers to mail from SMTP clients (``local_header_rewrite_clients``
is empty).  Root can also inject mail locally with ``/usr/sbin/sendmail -C
DIR/conf``; such mail is delivered the same way (``auth_mechanism`` null,
``tls`` false) and gets the usual Message-Id, Date and From when missing.

Relay mode
----------
The same instance, with these differences.  ``relayhost = [HOST]:PORT``,
``smtp_host_lookup = native``; nothing is local and nothing a relay domain,
so everything goes through the ``smtp`` transport to the relayhost.  Any
client on 127.0.0.1 may relay without AUTH (``mynetworks = 127.0.0.0/8``,
``smtpd_relay_restrictions = permit_mynetworks, reject``; the listener is on
127.0.0.1 only); no AUTH is offered, and STARTTLS only with --cert/--key.
Durability is Postfix's default: the message is in a synced queue file
under ``DIR/queue`` before the ``250``, and it stays there (``incoming``,
``active``, then ``deferred`` while the relayhost is unreachable or answers
4xx) until the relayhost has accepted it.  Deferred mail is retried every
one to two seconds, as in destination mode.  Outgoing connections are
cached on demand (Postfix's default ``smtp_connection_cache_on_demand``:
several messages per connection while mail for the relayhost is queued up)
and limited by --relay-concurrency.  SASL to the relayhost (with
--relay-user): ``smtp_sasl_auth_enable = yes``, ``smtp_sasl_password_maps =
texthash:DIR/conf/relay_passwd`` (one line ``[HOST]:PORT U:P``, mode 0600,
read by smtp(8) before it drops root), ``smtp_sasl_security_options =
noanonymous`` (Postfix's default also says ``noplaintext``, which refuses
PLAIN and LOGIN).  A message the relayhost refuses for good is bounced to
its sender, through the relayhost too.  The outcome of each delivery is a
maillog line of ``postfix/smtp`` with ``status=sent``, ``status=deferred``
or ``status=bounced`` and the relayhost's reply in parentheses; the queue is
empty once no file is left under ``DIR/queue/{maildrop,incoming,active,
deferred,hold}`` (or ``postqueue -c DIR/conf -p`` says "Mail queue is
empty").  The ``220``/``EHLO`` replies are the ones below, without
``250-STARTTLS`` unless --cert is given and never with AUTH; a relayed
message gets ``250 2.0.0 Ok: queued as <queue id>``, a client outside
127.0.0.0/8 cannot reach the listener at all.

Replies (exact lines, Postfix 3.7.11 on Debian 12)
--------------------------------------------------
Greeting              ``220 mail.example.test ESMTP Postfix``
EHLO before STARTTLS  ``250-mail.example.test``, ``250-PIPELINING``,
                      ``250-SIZE <limit>``, ``250-VRFY``, ``250-ETRN``,
                      ``250-STARTTLS``, ``250-ENHANCEDSTATUSCODES``,
                      ``250-8BITMIME``, ``250-DSN``, ``250-SMTPUTF8``,
                      ``250 CHUNKING`` (no AUTH line)
STARTTLS              ``220 2.0.0 Ready to start TLS``
EHLO after STARTTLS   the same without ``250-STARTTLS`` and with
                      ``250-AUTH PLAIN LOGIN`` after ``250-ETRN``
AUTH before STARTTLS  ``503 5.5.1 Error: authentication not enabled``
                      (PLAIN and LOGIN alike)
AUTH LOGIN challenges ``334 VXNlcm5hbWU6`` then ``334 UGFzc3dvcmQ6``
AUTH success          ``235 2.7.0 Authentication successful``
AUTH wrong password or unknown user (PLAIN and LOGIN alike)
                      ``535 5.7.8 Error: authentication failed: authentication failure``
second AUTH           ``503 5.5.1 Error: already authenticated``
MAIL, RCPT accepted   ``250 2.1.0 Ok``, ``250 2.1.5 Ok``
RCPT without AUTH (with or without TLS; MAIL itself gets ``250 2.1.0 Ok``)
                      ``554 5.7.1 <rcpt@example.test>: Relay access denied``
MAIL ... SIZE=n, n > limit
                      ``552 5.3.4 Message size exceeds fixed limit``
DATA                  ``354 End data with <CR><LF>.<CR><LF>``
DATA over the limit (after the final dot)
                      ``552 5.3.4 Error: message file too big``
                      Postfix counts the queue file (its own Received:
                      header, envelope records), so the cut-off is about
                      1 kB below the limit: with ``--max-size 20000`` a
                      STARTTLS+AUTH client got 18934 octets of DATA
                      accepted and 18935 refused.
Accepted              ``250 2.0.0 Ok: queued as <queue id>`` (hex, e.g. ``6F5BDA20122``)
QUIT                  ``221 2.0.0 Bye``

Delivered files
---------------
In destination mode, every accepted message is delivered once (all its
recipients together) as ``DIR/mail/<n>.json`` (n = 1, 2, 3, ... in delivery
order, skipping names that already exist), written to a temporary name first
and then linked to the final name, so a ``*.json`` file is always complete.
Delivery is asynchronous: the file appears shortly after the final ``250``
(about 40 ms; one delivery at a time, so a burst queues up), so poll for it.
Keys:
``mail_from`` (str, ``""`` for the null sender), ``rcpt_tos`` (list of str,
in Postfix's order, not necessarily the RCPT order: compare as a set),
``data`` (the message as Postfix delivers it: Postfix's ``Received:`` header
first, then the message as sent, lines ended by CRLF, decoded as UTF-8 with
``errors="replace"``), ``auth_mechanism`` (``"PLAIN"``, ``"LOGIN"`` or
null), ``auth_login`` (the SASL user name with its realm, as Postfix reports
it: ``alice@example.test`` for ``--user alice@example.test``, and
``bob@mail.example.test`` for a bare ``--user bob``),
``tls`` (bool: whether the session carrying the message was encrypted, read
from the Received: header) and ``queue_id`` (Postfix's queue id, as in the
``250`` reply).
"""

import argparse
import json
import logging
import os
import pwd
import grp
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

if sys.argv[1:2] != ["deliver"]:
    # Server mode.  Postfix runs a lone copy of this file for each delivery
    # (see deliver()), and that needs the standard library only.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peer_common  # lives next to this file

LOG = logging.getLogger("postfix_peer")

LISTEN_HOST = "127.0.0.1"
MYHOSTNAME = "mail.example.test"
POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"
PYTHON = "/usr/bin/python3"
MAIL_OWNER = "postfix"
DELIVERY_USER = "nobody"
TRANSPORT = "outmailspool"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 5
LOG_TAIL_LINES = 40
RELAY_TLS_LEVELS = ("none", "may", "encrypt", "verify")
RELAY_CONCURRENCY = 8


class StartError(Exception):
    """Postfix could not be set up or started."""


# --------------------------------------------------------------------------
# Delivery mode: run by Postfix's pipe(8) as `nobody`, one call per message.
# argv: deliver MAILDIR from=SENDER method=M user=U queue_id=Q -- RCPT...


def deliver(argv):
    maildir = argv[0]
    fields = {}
    rest = argv[1:]
    while rest and rest[0] != "--":
        key, _, value = rest.pop(0).partition("=")
        fields[key] = value
    recipients = rest[1:]
    raw = sys.stdin.buffer.read()
    # pipe(8) hands over LF line ends; give the SMTP form back.
    data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    text = data.decode("utf-8", "replace")
    received = text.split("\r\n\r\n", 1)[0]
    # The first header is Postfix's own Received: (folded over lines).
    first = re.match(r"Received:.*?(?=\r\n\S|\Z)", received, re.S)
    record = {
        "mail_from": fields.get("from", ""),
        "rcpt_tos": recipients,
        "data": text,
        "auth_mechanism": fields.get("method") or None,
        "auth_login": fields.get("user") or None,
        "tls": bool(first and "(using TLS" in first.group(0)),
        "queue_id": fields.get("queue_id") or None,
    }
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".json.tmp", dir=maildir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False, indent=2)
            out.write("\n")
        os.chmod(tmp, 0o644)
        n = 1 + max(
            (int(name[:-5]) for name in os.listdir(maildir)
             if name.endswith(".json") and name[:-5].isdigit()),
            default=0,
        )
        while True:
            try:
                # link() never replaces an existing name: the number is ours.
                os.link(tmp, os.path.join(maildir, f"{n}.json"))
                break
            except FileExistsError:
                n += 1
    finally:
        os.unlink(tmp)
    return 0


# --------------------------------------------------------------------------
# Server mode.


def port_number(text):
    return peer_common.int_between(text, 0, 65535)


def relayhost(text):
    """HOST:PORT (or [HOST]:PORT) as (host, port); an argparse type function."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise argparse.ArgumentTypeError("must be HOST:PORT (an IPv4 address or a host name)")
    return host, peer_common.int_between(port, 1, 65535)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Private Postfix instance (STARTTLS + SASL, or a relay) for outmail tests."
    )
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=port_number, default=0)
    # Required in destination mode (checked below, in argparse's words).
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--max-size", type=peer_common.positive_int)
    parser.add_argument("--relayhost", type=relayhost)
    parser.add_argument("--relay-user")
    parser.add_argument("--relay-password")
    parser.add_argument("--relay-ca")
    parser.add_argument("--relay-tls", choices=RELAY_TLS_LEVELS)
    parser.add_argument("--relay-concurrency", type=peer_common.positive_int)
    peer_common.add_standard_flags(parser)
    ns = parser.parse_args(argv)
    if ns.relayhost is None:
        missing = [
            flag for flag, value in (
                ("--cert", ns.cert), ("--key", ns.key),
                ("--user", ns.user), ("--password", ns.password),
            ) if value is None
        ]
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)}")
        relay_flags = [
            flag for flag, value in (
                ("--relay-user", ns.relay_user), ("--relay-password", ns.relay_password),
                ("--relay-ca", ns.relay_ca), ("--relay-tls", ns.relay_tls),
                ("--relay-concurrency", ns.relay_concurrency),
            ) if value is not None
        ]
        if relay_flags:
            parser.error(f"{', '.join(relay_flags)}: only in relay mode (--relayhost)")
        if "\n" in ns.password or "\0" in ns.password:
            parser.error("--password must not hold a newline or NUL")
        if not ns.user or "\n" in ns.user or ns.user.endswith("@") or ns.user.startswith("@"):
            parser.error("--user must be NAME or NAME@DOMAIN")
    else:
        if ns.user is not None or ns.password is not None:
            parser.error(
                "--user and --password belong to destination mode: a relay offers no AUTH "
                "(every client on 127.0.0.1 may relay)"
            )
        if (ns.cert is None) != (ns.key is None):
            parser.error("--cert and --key go together")
        if (ns.relay_user is None) != (ns.relay_password is None):
            parser.error("--relay-user and --relay-password go together")
        if ns.relay_user is not None and (
            not ns.relay_user or re.search(r"[\s:]", ns.relay_user)
        ):
            parser.error("--relay-user must not be empty or hold ':' or white space")
        if ns.relay_password is not None and (
            not ns.relay_password
            or ns.relay_password != ns.relay_password.strip()
            or re.search(r"[\r\n\0]", ns.relay_password)
        ):
            parser.error(
                "--relay-password must not be empty, hold a line break or NUL, "
                "or start or end with white space"
            )
        if ns.relay_tls is None:
            ns.relay_tls = (
                "encrypt" if ns.relay_ca else "may" if ns.relay_user else "none"
            )
        if ns.relay_tls == "verify" and not ns.relay_ca:
            parser.error("--relay-tls verify needs --relay-ca")
        ns.relay_concurrency = ns.relay_concurrency or RELAY_CONCURRENCY
    ns.dir = os.path.abspath(ns.dir)
    return ns


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LISTEN_HOST, 0))
        return sock.getsockname()[1]


def listening_sockets(port):
    """Inodes of the TCP sockets listening on `port` (any address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as entries:
                next(entries, None)
                for entry in entries:
                    fields = entry.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(int(inode))
        except OSError:
            pass
    return inodes


def run(command, **kwargs):
    """Runs a setup command; its output goes to the log, failure raises."""
    LOG.debug("running %s", " ".join(command))
    result = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs
    )
    output = result.stdout.decode("utf-8", "replace").strip()
    if output:
        LOG.debug("%s: %s", os.path.basename(command[0]), output)
    if result.returncode != 0:
        raise StartError(
            f"{' '.join(command)} exited with status {result.returncode}: {output}"
        )
    return output


class Instance:
    """One private Postfix: its files, its master daemon."""

    def __init__(self, ns):
        self.ns = ns
        self.dir = ns.dir
        self.conf = os.path.join(self.dir, "conf")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        # Debian's smtpd looks for smtpd.conf in "sasl" under the configuration
        # directory (a built-in path that wins over cyrus_sasl_config_path,
        # which is set to the same place anyway).
        self.sasl = os.path.join(self.conf, "sasl")
        self.tls = os.path.join(self.dir, "tls")
        self.bin = os.path.join(self.dir, "bin")
        self.mail = os.path.join(self.dir, "mail")
        self.relay = ns.relayhost is not None
        self.relay_passwd = os.path.join(self.conf, "relay_passwd")
        self.relay_ca = os.path.join(self.tls, "relay-ca.pem")
        self.maillog = os.path.join(self.dir, "maillog")
        self.master_log = os.path.join(self.dir, "master.log")
        self.master = None
        self.watchdog = None
        self.watchdog_pipe = None
        self.port = None

    # ---- preparation ------------------------------------------------------

    def check_environment(self):
        if os.geteuid() != 0:
            raise StartError("must run as root (the Postfix master daemon needs it)")
        for program in (POSTFIX, POSTCONF, SASLPASSWD2, PYTHON):
            if not os.access(program, os.X_OK):
                raise StartError(
                    f"{program} is missing (Debian packages postfix, sasl2-bin, "
                    "libsasl2-modules; scripts/setup.sh installs them)"
                )
        self.daemon_directory = run([POSTCONF, "-dh", "daemon_directory"])
        for user in (MAIL_OWNER, DELIVERY_USER):
            try:
                pwd.getpwnam(user)
            except KeyError:
                raise StartError(f"system user {user!r} does not exist") from None

    def make_dirs(self):
        os.makedirs(self.dir, exist_ok=True)
        mode = os.stat(self.dir).st_mode & 0o7777
        os.chmod(self.dir, mode | 0o711)
        # The postfix and nobody users reach DIR/conf/sasl, DIR/bin and DIR/mail.
        parent = os.path.dirname(self.dir)
        while True:
            if not os.stat(parent).st_mode & 0o001:
                raise StartError(
                    f"{parent} is not searchable by others, so Postfix's users "
                    f"cannot reach {self.dir}; use a directory under /tmp"
                )
            if parent == "/":
                break
            parent = os.path.dirname(parent)
        if self.relay:
            paths = [self.conf, self.queue]
            if self.ns.cert or self.ns.relay_ca:
                paths.append(self.tls)
        else:
            paths = [self.conf, self.queue, self.sasl, self.tls, self.bin, self.mail]
        for path in paths:
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o755)
        os.makedirs(self.data, exist_ok=True)
        owner = pwd.getpwnam(MAIL_OWNER)
        os.chown(self.data, owner.pw_uid, owner.pw_gid)
        os.chmod(self.data, 0o700)
        if not self.relay:
            nobody = pwd.getpwnam(DELIVERY_USER)
            os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)

    def copy_tls(self):
        self.cert = os.path.join(self.tls, "cert.pem")
        self.key = os.path.join(self.tls, "key.pem")
        if self.relay and self.ns.relay_ca:
            self.copy_relay_ca()
        if self.relay and not self.ns.cert:
            return
        try:
            shutil.copyfile(self.ns.cert, self.cert)
            shutil.copyfile(self.ns.key, self.key)
        except OSError as error:
            raise StartError(f"cannot read the certificate or key: {error}") from None
        os.chmod(self.cert, 0o644)
        os.chmod(self.key, 0o600)
        # smtpd would only log a bad pair and quietly drop STARTTLS.
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, ValueError) as error:
            raise StartError(f"unusable certificate or key: {error}") from None

    def copy_relay_ca(self):
        try:
            shutil.copyfile(self.ns.relay_ca, self.relay_ca)
        except OSError as error:
            raise StartError(f"cannot read the relay CA file: {error}") from None
        os.chmod(self.relay_ca, 0o644)
        # smtp(8) would only log an unusable file, and then trust nothing.
        try:
            ssl.create_default_context(cafile=self.relay_ca)
        except (ssl.SSLError, ValueError) as error:
            raise StartError(f"unusable relay CA file: {error}") from None

    def write_relay_passwd(self):
        """The relayhost's SASL account as a texthash table (no postmap needed);
        smtp(8) reads it as root, before it drops privileges."""
        host, port = self.ns.relayhost
        fd = os.open(self.relay_passwd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"[{host}]:{port} {self.ns.relay_user}:{self.ns.relay_password}\n")
        os.chmod(self.relay_passwd, 0o600)

    def make_sasldb(self):
        user = self.ns.user
        if "@" in user:
            name, _, realm = user.rpartition("@")
            self.local_domain = ""
        else:
            name, realm = user, MYHOSTNAME
            self.local_domain = MYHOSTNAME
        self.sasldb = os.path.join(self.sasl, "sasldb2")
        if os.path.exists(self.sasldb):
            os.unlink(self.sasldb)
        run(
            [SASLPASSWD2, "-c", "-p", "-f", self.sasldb, "-u", realm, name],
            input=self.ns.password.encode("utf-8"),
        )
        os.chown(self.sasldb, 0, grp.getgrnam(MAIL_OWNER).gr_gid)
        os.chmod(self.sasldb, 0o640)
        with open(os.path.join(self.sasl, "smtpd.conf"), "w", encoding="utf-8") as out:
            out.write(
                "pwcheck_method: auxprop\n"
                "auxprop_plugin: sasldb\n"
                "mech_list: PLAIN LOGIN\n"
                f"sasldb_path: {self.sasldb}\n"
            )

    def install_delivery_program(self):
        self.deliver_program = os.path.join(self.bin, "deliver.py")
        shutil.copyfile(os.path.abspath(__file__), self.deliver_program)
        os.chmod(self.deliver_program, 0o644)

    def write_main_cf(self):
        if self.relay:
            return self.write_settings(self.relay_settings())
        return self.write_settings(self.destination_settings())

    def destination_settings(self):
        return [
            ("compatibility_level", "3.6"),
            ("queue_directory", self.queue),
            ("data_directory", self.data),
            ("mail_owner", MAIL_OWNER),
            ("myhostname", MYHOSTNAME),
            ("mydomain", "example.test"),
            ("myorigin", "$myhostname"),
            ("inet_interfaces", LISTEN_HOST),
            ("inet_protocols", "ipv4"),
            ("mynetworks", "127.0.0.0/8"),
            # Nothing is local, nothing is a relay domain: AUTH is needed for
            # every recipient, and everything goes to the spool transport.
            ("mydestination", ""),
            ("relay_domains", ""),
            ("local_recipient_maps", ""),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("local_transport", "error:5.1.1 local delivery is disabled"),
            ("default_transport", f"{TRANSPORT}:spool"),
            ("relay_transport", f"{TRANSPORT}:spool"),
            (f"{TRANSPORT}_destination_recipient_limit", "1000"),
            ("smtpd_relay_restrictions",
             "permit_sasl_authenticated, reject_unauth_destination"),
            ("smtpd_recipient_restrictions", ""),
            ("local_header_rewrite_clients", ""),
            ("append_dot_mydomain", "no"),
            ("biff", "no"),
            ("smtpd_peername_lookup", "no"),
            ("in_flow_delay", "0s"),
            ("queue_run_delay", "1s"),
            ("minimal_backoff_time", "1s"),
            ("maximal_backoff_time", "2s"),
            ("message_size_limit", str(self.ns.max_size or 10240000)),
            ("mailbox_size_limit", "0"),
            # TLS: STARTTLS offered, AUTH only after it.
            ("smtpd_tls_security_level", "may"),
            ("smtpd_tls_cert_file", self.cert),
            ("smtpd_tls_key_file", self.key),
            ("smtpd_tls_auth_only", "yes"),
            ("smtpd_tls_received_header", "yes"),
            ("smtpd_tls_loglevel", "1"),
            ("smtpd_tls_session_cache_database", ""),
            # SASL: Cyrus with our own smtpd.conf and sasldb.
            ("smtpd_sasl_auth_enable", "yes"),
            ("smtpd_sasl_type", "cyrus"),
            ("smtpd_sasl_path", "smtpd"),
            ("cyrus_sasl_config_path", self.sasl),
            ("smtpd_sasl_local_domain", self.local_domain),
            ("smtpd_sasl_security_options", "noanonymous"),
            ("smtpd_sasl_tls_security_options", "noanonymous"),
            # Logging to our own file through postlogd.
            ("maillog_file", self.maillog),
            ("maillog_file_prefixes", self.dir),
        ]

    def relay_settings(self):
        host, port = self.ns.relayhost
        settings = [
            ("compatibility_level", "3.6"),
            ("queue_directory", self.queue),
            ("data_directory", self.data),
            ("mail_owner", MAIL_OWNER),
            ("myhostname", MYHOSTNAME),
            ("mydomain", "example.test"),
            ("myorigin", "$myhostname"),
            ("inet_interfaces", LISTEN_HOST),
            ("inet_protocols", "ipv4"),
            ("mynetworks", "127.0.0.0/8"),
            # Nothing is local, nothing is a relay domain: everything goes
            # through the smtp transport to the relayhost.
            ("mydestination", ""),
            ("relay_domains", ""),
            ("local_recipient_maps", ""),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("local_transport", "error:5.1.1 local delivery is disabled"),
            ("relayhost", f"[{host}]:{port}"),
            # /etc/hosts, not DNS, for a relayhost given by name.
            ("smtp_host_lookup", "native"),
            ("smtp_destination_concurrency_limit", str(self.ns.relay_concurrency)),
            # Clients on 127.0.0.1 (the only ones that reach the listener)
            # relay without AUTH.
            ("smtpd_relay_restrictions", "permit_mynetworks, reject"),
            ("smtpd_recipient_restrictions", ""),
            ("local_header_rewrite_clients", ""),
            ("append_dot_mydomain", "no"),
            ("biff", "no"),
            ("smtpd_peername_lookup", "no"),
            ("in_flow_delay", "0s"),
            ("queue_run_delay", "1s"),
            ("minimal_backoff_time", "1s"),
            ("maximal_backoff_time", "2s"),
            ("message_size_limit", str(self.ns.max_size or 10240000)),
            ("mailbox_size_limit", "0"),
        ]
        if self.ns.cert:
            # STARTTLS offered to clients; no AUTH.
            settings += [
                ("smtpd_tls_security_level", "may"),
                ("smtpd_tls_cert_file", self.cert),
                ("smtpd_tls_key_file", self.key),
                ("smtpd_tls_received_header", "yes"),
                ("smtpd_tls_loglevel", "1"),
                ("smtpd_tls_session_cache_database", ""),
            ]
        # TLS towards the relayhost.
        settings += [
            ("smtp_tls_security_level", self.ns.relay_tls),
            ("smtp_tls_loglevel", "1"),
            ("smtp_tls_session_cache_database", ""),
        ]
        if self.ns.relay_ca:
            settings.append(("smtp_tls_CAfile", self.relay_ca))
        if self.ns.relay_tls == "verify":
            # The name in the certificate must be HOST as given.
            settings.append(("smtp_tls_verify_cert_match", "nexthop"))
        if self.ns.relay_user:
            settings += [
                ("smtp_sasl_auth_enable", "yes"),
                ("smtp_sasl_password_maps", f"texthash:{self.relay_passwd}"),
                # Postfix's default adds noplaintext, which refuses PLAIN and LOGIN.
                ("smtp_sasl_security_options", "noanonymous"),
                ("smtp_sasl_tls_security_options", "noanonymous"),
            ]
        settings += [
            # Logging to our own file through postlogd.
            ("maillog_file", self.maillog),
            ("maillog_file_prefixes", self.dir),
        ]
        return settings

    def write_settings(self, settings):
        with open(os.path.join(self.conf, "main.cf"), "w", encoding="utf-8") as out:
            out.write("# Private Postfix instance written by postfix_peer.py.\n")
            for name, value in settings:
                out.write(f"{name} = {value}\n")

    def write_master_cf(self):
        # Columns: service type private unpriv chroot wakeup maxproc command.
        # chroot is "n" everywhere: the instance's files live outside any jail.
        services = [
            (f"{LISTEN_HOST}:{self.port}", "inet", "n", "-", "n", "-", "-", "smtpd"),
            # pickup takes what "sendmail -C DIR/conf" drops into the queue.
            ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
            ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
            ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
            ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
            ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
            ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
            ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
            ("error", "unix", "-", "-", "n", "-", "-", "error"),
            ("retry", "unix", "-", "-", "n", "-", "-", "error"),
            ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
            ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
            ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
            ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
        ]
        if not self.relay:
            # One delivery at a time, so file numbers follow delivery order.
            services.append((TRANSPORT, "unix", "-", "n", "n", "-", "1", "pipe"))
        with open(os.path.join(self.conf, "master.cf"), "w", encoding="utf-8") as out:
            out.write("# Private Postfix instance written by postfix_peer.py.\n")
            for service in services:
                out.write("{:<24} {:<10} {:<3} {:<3} {:<3} {:<6} {:<3} {}\n".format(*service))
            if self.relay:
                return
            out.write(
                f"  flags=q null_sender= user={DELIVERY_USER} argv={PYTHON} -I -S "
                f"{self.deliver_program} deliver {self.mail} from=${{sender}} "
                "method=${sasl_method} user=${sasl_username} queue_id=${queue_id} "
                "-- ${recipient}\n"
            )

    def create_postfix_dirs(self):
        """Creates the queue and data directories as Postfix's postfix-files
        lists them (what "postfix check" does through post-install
        create-missing, without its two seconds of checks).  Falls back to
        "postfix check" if that list cannot be read."""
        meta = run([POSTCONF, "-dh", "meta_directory"])
        names = {
            "mail_owner": MAIL_OWNER,
            "setgid_group": run([POSTCONF, "-dh", "setgid_group"]),
        }
        roots = {"queue_directory": self.queue, "data_directory": self.data}
        entries = []
        try:
            with open(os.path.join(meta, "postfix-files"), encoding="utf-8") as listing:
                for line in listing:
                    fields = line.strip().split(":")
                    if len(fields) < 5 or fields[1] != "d":
                        continue
                    match = re.fullmatch(r"\$(\w+)(/.*)?", fields[0])
                    if not match or match.group(1) not in roots:
                        continue
                    path = roots[match.group(1)] + (match.group(2) or "")
                    owner, group = (
                        names.get(v[1:], v) if v.startswith("$") else v
                        for v in fields[2:4]
                    )
                    entries.append((path, owner, group, int(fields[4], 8)))
        except (OSError, ValueError) as error:
            LOG.debug("cannot use postfix-files (%s), running postfix check", error)
            entries = []
        if not any(path.endswith("/active") for path, *_ in entries):
            # Needs both files; the real port is filled in later.
            self.port = self.ns.port
            self.write_main_cf()
            self.write_master_cf()
            run([POSTFIX, "-c", self.conf, "check"])
            return
        for path, owner, group, mode in entries:
            os.makedirs(path, exist_ok=True)
            uid = pwd.getpwnam(owner).pw_uid
            gid = 0 if group == "-" else grp.getgrnam(group).gr_gid
            os.chown(path, uid, gid)
            os.chmod(path, mode)

    # ---- running ----------------------------------------------------------

    def start(self):
        self.check_environment()
        self.make_dirs()
        self.copy_tls()
        if self.relay:
            if self.ns.relay_user:
                self.write_relay_passwd()
        else:
            self.make_sasldb()
            self.install_delivery_program()
        self.create_postfix_dirs()
        attempts = 1 if self.ns.port else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            self.port = self.ns.port or free_port()
            # Postfix listens with SO_REUSEPORT, so a second master binds a
            # port already in use without any error and the kernel then
            # spreads connections over both.  Check before and after.
            if listening_sockets(self.port):
                LOG.warning("port %d is already in use (attempt %d)", self.port, attempt)
                continue
            self.write_main_cf()
            self.write_master_cf()
            # Postfix re-reads a configuration file every 300 ms until its
            # mtime is two seconds old (a guard against half-edited files);
            # backdate ours so the master starts at once.
            past = time.time() - 60
            for name in ("main.cf", "master.cf"):
                os.utime(os.path.join(self.conf, name), (past, past))
            LOG.debug("starting the master daemon for port %d", self.port)
            if self.start_master():
                return self.port
            LOG.warning("Postfix did not start on port %d (attempt %d)", self.port, attempt)
        raise StartError(f"Postfix did not start after {attempts} attempt(s)")

    def start_master(self):
        """Starts master in the foreground; True once port answers with 220."""
        env = dict(os.environ, MAIL_CONFIG=self.conf)
        with open(self.master_log, "ab") as log:
            # Not detached: master stays our child, in a session of its own.
            self.master = subprocess.Popen(
                [os.path.join(self.daemon_directory, "master"), "-c", self.conf],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.dir,
            )
        self.start_watchdog()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.master.poll() is not None:
                LOG.debug("master exited with status %s", self.master.returncode)
                self.stop()
                return False
            sockets = listening_sockets(self.port)
            # Only once our master listens, or another server may answer.
            if sockets & self.master_sockets():
                if len(sockets) > 1:
                    LOG.warning("another server listens on port %d too", self.port)
                    self.stop()
                    return False
                if self.greets():
                    return True
            time.sleep(0.02)
        self.stop()
        raise StartError(f"Postfix did not answer on port {self.port} in {START_TIMEOUT:.0f} s")

    def start_watchdog(self):
        """Stops Postfix should this process die without doing it (SIGKILL).

        A shell in a session of its own waits on a pipe whose only writer is
        this process.  On a clean stop it reads "stop" and exits; if this
        process dies, the kernel closes the pipe, the shell reads end of file
        and sends SIGTERM to master's process group (then SIGKILL after five
        seconds if anything is left).  A parent-death signal cannot do this:
        the kernel clears it when master changes its effective ids.
        """
        script = (
            'IFS= read -r word; [ "$word" = stop ] && exit 0; '
            'kill -TERM -"$1" 2>/dev/null || exit 0; '
            "for i in 1 2 3 4 5 6 7 8 9 10; do "
            'sleep 0.5; kill -0 -"$1" 2>/dev/null || exit 0; done; '
            'kill -KILL -"$1" 2>/dev/null; exit 0'
        )
        read_end, write_end = os.pipe()
        try:
            self.watchdog = subprocess.Popen(
                ["/bin/sh", "-c", script, "postfix_peer-watchdog", str(self.master.pid)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(read_end)
        self.watchdog_pipe = write_end

    def stop_watchdog(self):
        if self.watchdog is None:
            return
        try:
            os.write(self.watchdog_pipe, b"stop\n")
        except OSError:
            pass
        os.close(self.watchdog_pipe)
        self.watchdog.wait()
        self.watchdog = None

    def master_sockets(self):
        """Inodes of the sockets the master daemon holds open."""
        inodes = set()
        fd_dir = f"/proc/{self.master.pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return inodes
        for name in names:
            try:
                target = os.readlink(os.path.join(fd_dir, name))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
        return inodes

    def greets(self):
        """True once the port answers 220 and EHLO offers STARTTLS (if it should)."""
        try:
            with socket.create_connection((LISTEN_HOST, self.port), timeout=5) as sock:
                replies = sock.makefile("rb")
                if not replies.readline().startswith(b"220 "):
                    return False
                sock.sendall(b"EHLO probe.invalid\r\n")
                keywords = []
                while True:
                    line = replies.readline()
                    if not line.startswith(b"250"):
                        return False
                    keywords.append(line[4:].strip().upper())
                    if line[3:4] != b"-":
                        break
                sock.sendall(b"QUIT\r\n")
        except OSError:
            return False
        if b"STARTTLS" not in keywords and (self.ns.cert or not self.relay):
            raise StartError("Postfix answers but does not offer STARTTLS")
        return True

    def stop(self):
        self.stop_watchdog()
        master = self.master
        if master is None:
            return
        self.master = None
        if master.poll() is None:
            LOG.info("stopping Postfix (master pid %d)", master.pid)
            # What "postfix stop" does: SIGTERM to the master, which passes it
            # on to its processes.
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                LOG.warning("Postfix did not stop in time, killing it")
        # master is a session (and process group) leader: take down stragglers.
        try:
            os.killpg(master.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        master.wait()

    def log_tail(self):
        lines = []
        for path in (self.master_log, self.maillog):
            try:
                with open(path, encoding="utf-8", errors="replace") as log:
                    tail = log.readlines()[-LOG_TAIL_LINES:]
            except OSError:
                continue
            if tail:
                lines.append(f"--- last lines of {path} ---\n")
                lines.extend(tail)
        return "".join(lines)


def serve(ns):
    stop = peer_common.stop_event()

    instance = Instance(ns)
    started = time.monotonic()
    try:
        port = instance.start()
    except (StartError, OSError) as error:
        instance.stop()
        LOG.error("cannot start: %s", error)
        sys.stderr.write(instance.log_tail())
        return 1
    if ns.relayhost is None:
        LOG.info(
            "Postfix answers on %s:%d after %.2f s (dir %s, user %s, max size %s)",
            LISTEN_HOST, port, time.monotonic() - started, ns.dir, ns.user,
            ns.max_size or "default",
        )
    else:
        LOG.info(
            "Postfix relays from %s:%d to [%s]:%d after %.2f s (dir %s, TLS %s, "
            "SASL user %s, concurrency %d, max size %s)",
            LISTEN_HOST, port, *ns.relayhost, time.monotonic() - started, ns.dir,
            ns.relay_tls, ns.relay_user or "none", ns.relay_concurrency,
            ns.max_size or "default",
        )
    peer_common.announce_ready(port)

    if ns.exit_on_stdin_eof:
        peer_common.on_stdin_eof(stop.set)

    status = 0
    while not stop.wait(0.2):
        if instance.master is not None and instance.master.poll() is not None:
            LOG.error("Postfix master exited (status %s)", instance.master.returncode)
            sys.stderr.write(instance.log_tail())
            status = 1
            break
    instance.stop()
    LOG.info("stopped")
    return status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["deliver"]:
        # Run by Postfix (pipe transport): exit 75 (EX_TEMPFAIL) on trouble,
        # so Postfix retries instead of bouncing.
        try:
            return deliver(argv[1:])
        except Exception as error:  # noqa: BLE001 - any failure is temporary
            sys.stderr.write(f"postfix_peer deliver: {error}\n")
            return 75
    ns = parse_args(argv)
    peer_common.setup_logging("postfix_peer", ns.log_level)
    return serve(ns)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A real SMTP server used as a peer by the outmail-mail integration tests.

It is built on Debian's ``python3-aiosmtpd`` (1.4.3) and uses nothing beyond
the Python standard library and aiosmtpd.  Run it with the system interpreter,
``/usr/bin/python3`` (aiosmtpd is installed for that one only).  One process is
started per test; it listens on 127.0.0.1 only.

Start-up protocol
-----------------
Once the socket is listening, exactly one line ``READY <port>`` is written to
stdout and flushed; nothing else is ever written to stdout.  Logs go to stderr
(level set by ``--log-level``, default ``info``: one line per SMTP command).  A
parent that pipes stderr must drain it, or inherit it / pass
``--log-level warning``, or a long session can block on a full pipe.
SIGTERM and SIGINT stop the server and the process exits with status 0.
With ``--exit-on-stdin-eof`` it also stops (status 0) once its stdin reaches
end of file, so a peer whose test process died does not linger (give it a
piped stdin that the parent keeps open; with stdin on /dev/null it stops at
once).
Bad arguments exit with status 2, and a failure to start (unreadable
certificate or key, port in use) with status 1, in both cases before ``READY``
is printed.

Flags
-----
--port N             TCP port on 127.0.0.1 (default 0: an ephemeral port,
                     reported in the READY line).
--tls MODE           ``none`` (default) plain SMTP;
                     ``starttls``: STARTTLS is advertised and required
                     (aiosmtpd ``require_starttls``): before it, every command
                     except NOOP, EHLO, STARTTLS and QUIT, including AUTH,
                     MAIL and HELO, gets
                     ``530 Must issue a STARTTLS command first``, and AUTH is
                     not advertised in the pre-TLS EHLO;
                     ``implicit``: TLS from the first byte (SMTPS, as port 465).
--cert PEM, --key PEM
                     Certificate chain and private key; required for
                     ``starttls`` and ``implicit``.
--auth LIST          Comma list of SASL mechanisms to offer, among PLAIN,
                     LOGIN, NTLM and XOAUTH2 (default: none, and then no AUTH
                     line appears in the EHLO reply at all).  In ``none`` and
                     ``implicit`` modes AUTH is offered at once; in
                     ``starttls`` mode only after STARTTLS.  The EHLO line
                     lists the offered ones sorted: ``250-AUTH LOGIN NTLM
                     PLAIN XOAUTH2``.
--user U, --password P
                     Credentials accepted by PLAIN and LOGIN (both required
                     when one of these is offered), and by NTLM together with
                     ``--ntlm-domain``.  ``--user`` is also the user expected
                     by XOAUTH2.
--ntlm-domain D      The account's domain for NTLM, also the NetBIOS domain
                     named in the CHALLENGE (required with NTLM; compared
                     case-insensitively, like the user name).
--token T            Bearer token accepted by XOAUTH2 (required with it).
--require-auth       MAIL, RCPT and DATA (also HELP, VRFY) without a
                     successful AUTH get ``530 5.7.0 Authentication required``.
--smtputf8 on|off    Whether SMTPUTF8 is advertised and accepted (default on).
--spool DIR          Every accepted message is written as ``DIR/<n>.json``
                     (n = 1, 2, 3, ... in acceptance order, skipping names
                     that already exist), first to ``DIR/.<n>.json.tmp`` then
                     renamed, so a ``*.json`` file is always complete.  It is
                     written before the final ``250 OK`` is sent.
--max-size N         Advertise ``250-SIZE N`` and refuse bigger messages.
--data-delay S       Wait S seconds (a decimal) after the final dot before taking
                     the message and answering, like a slow server; the message
                     is spooled after the wait even if the client went away.
                     Without it no SIZE is advertised and there is no limit.
--reject-rcpt-domain D
                     RCPT TO an address at domain D (case-insensitive) is
                     refused.
--idle-timeout S     Close a connection that sends nothing for S seconds
                     (aiosmtpd ``timeout``, default 300), answering
                     ``421 4.4.2 localhost Error: timeout exceeded``.
--log-level LEVEL    debug, info (default), warning, error.
--exit-on-stdin-eof  See above.

Spool file keys
---------------
``mail_from`` (str), ``rcpt_tos`` (list of str), ``mail_options`` (list of
str as aiosmtpd records them: upper-cased, e.g. ``["SIZE=123",
"BODY=8BITMIME", "SMTPUTF8"]``), ``rcpt_options`` (list of str),
``data`` (the message after dot-unstuffing, CRLF line ends kept, decoded as
UTF-8 with ``errors="replace"`` so the JSON is always valid for serde_json),
``auth_mechanism`` (``"PLAIN"``, ``"LOGIN"``, ``"NTLM"``, ``"XOAUTH2"`` or
null), ``auth_login`` (user name or null; for NTLM ``DOMAIN\\user`` with
both as the client sent them, --ntlm-domain standing in for an empty domain),
``xoauth2_sasl`` (the exact decoded SASL string of the successful XOAUTH2
exchange, or null) and ``tls`` (bool: whether the session carrying the
message was encrypted, by STARTTLS or implicitly), ``client_port`` (the
client's TCP port: messages sharing one are from one connection) and
``connection_message`` (1 for the first message on its connection, 2 for the
next, ...).

Replies (exact lines)
---------------------
Greeting: ``220 localhost ESMTP outmail smtp peer (aiosmtpd 1.4.3)``.

AUTH, every mechanism accepts the response both on the AUTH line (initial
response) and after an empty ``334 `` challenge (LOGIN challenges are
``334 VXNlcm5hbWU6`` and ``334 UGFzc3dvcmQ6``, i.e. "Username:" and
"Password:", as real servers send):
  success                       ``235 2.7.0 Authentication successful``
  PLAIN/LOGIN wrong credentials ``535 5.7.8 Authentication credentials invalid``
  XOAUTH2: the decoded SASL string must be exactly
  ``user={user}\\x01auth=Bearer {token}\\x01\\x01``.  On any mismatch the
  server behaves like Gmail and Microsoft 365: it sends
  ``334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==``
  (base64 of ``{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}``),
  reads one line from the client (normally empty), whatever it is, then
  sends ``535 5.7.8 Username and Password not accepted``.
  NTLM (MS-SMTPNTLM, NTLMv2 only, checked by ``ntlm_server.py``):
  ``AUTH NTLM <b64 NEGOTIATE>`` is answered with ``334 <b64 CHALLENGE>``;
  a bare ``AUTH NTLM`` first gets ``334 NTLM supported`` (the
  human-readable SMTP_NTLM_Supported_Response Exchange sends, not base64),
  then the client's base64 NEGOTIATE line gets ``334 <b64 CHALLENGE>``.
  The AUTHENTICATE line then gets ``235 2.7.0 Authentication successful``
  or, for a wrong password, unknown user or domain, NTLMv1 or anonymous
  response, a tampered blob or MIC, or an unacceptable NEGOTIATE (no
  NTLMSSP_NEGOTIATE_UNICODE/NTLM flag),
  ``535 5.7.3 Authentication unsuccessful``.
  Other AUTH replies come from aiosmtpd:
  unknown or not offered mechanism ``504 5.5.4 Unrecognized authentication type``;
  bad base64                       ``501 5.5.2 Can't decode base64``;
  PLAIN blob without two NULs      ``501 5.5.2 Can't split auth value``;
  client answers a challenge ``*`` ``501 5.7.0 Auth aborted``;
  second AUTH                      ``503 Already authenticated``.
  AUTH lines and responses up to 12288 octets (RFC 4954) are accepted, so
  long OAuth2 access tokens fit; message lines stay limited to 1000 octets.

Size (``--max-size N``):
  MAIL FROM with ``SIZE=`` above N, or DATA longer than N octets (measured
  after dot-unstuffing, CRLFs included):
  ``552 5.3.4 Message size exceeds fixed maximum message size``.
Relay (``--reject-rcpt-domain D``):
  ``550 5.7.1 Unable to relay``.
Auth required (``--require-auth``):
  ``530 5.7.0 Authentication required``.

SMTPUTF8 ``off`` (aiosmtpd's own replies, kept as they are):
  ``SMTPUTF8`` is not in the EHLO reply.
  Any command line holding non-ASCII bytes, e.g.
  ``MAIL FROM:<山田@example.com> SMTPUTF8`` or ``MAIL FROM:<山田@example.com>``,
  is refused before it is even parsed with
  ``500 Error: strict ASCII mode`` (not 553/555).
  ``MAIL FROM:<ascii@example.com> SMTPUTF8`` gets
  ``501 Error: SMTPUTF8 disabled`` (not 555).
  The message body itself may still carry 8-bit bytes (8BITMIME is always
  advertised).
SMTPUTF8 ``on``: ``250-SMTPUTF8`` is advertised and non-ASCII addresses are
  accepted; aiosmtpd does NOT insist on the SMTPUTF8 parameter for them, so a
  non-ASCII MAIL FROM without it is accepted too.  Whether the client sent it
  shows in ``mail_options``.

Other aiosmtpd behaviour worth knowing: 8BITMIME is always advertised;
unknown MAIL parameters get ``555 MAIL FROM parameters not recognized or not
implemented``; any RCPT parameter gets ``555 RCPT TO parameters not
recognized or not implemented``; a DATA line longer than 1001 octets gets
``500 Line too long (see RFC5321 4.5.3.1.6)`` after the final dot; the reply to
an accepted message is ``250 OK``.
"""

import argparse
import asyncio
import base64
import binascii
import collections
import json
import logging
import os
import ssl
import sys
import warnings

from aiosmtpd import __version__ as AIOSMTPD_VERSION
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ntlm_server  # noqa: E402  (lives next to this file)
import peer_common  # noqa: E402  (lives next to this file)

LOG = logging.getLogger("smtp_peer")

HOSTNAME = "localhost"
LISTEN_HOST = "127.0.0.1"
KNOWN_MECHANISMS = ("PLAIN", "LOGIN", "NTLM", "XOAUTH2")
# RFC 4954 section 4: AUTH command lines and responses may be 12288 octets.
AUTH_LINE_LIMIT = 12288

REPLY_OK = "250 OK"
REPLY_AUTH_OK = "235 2.7.0 Authentication successful"
REPLY_XOAUTH2_FAILED = "535 5.7.8 Username and Password not accepted"
# MS-SMTPNTLM: SMTP_NTLM_Supported_Response and SMTP_AUTH_Fail_Response.
NTLM_SUPPORTED = "NTLM supported"
REPLY_NTLM_FAILED = "535 5.7.3 Authentication unsuccessful"
REPLY_TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
REPLY_NO_RELAY = "550 5.7.1 Unable to relay"
# What Gmail sends (base64-encoded) after a rejected XOAUTH2 token.
XOAUTH2_ERROR_JSON = (
    b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
)


class PeerConfig:
    """Validated command-line settings."""

    def __init__(self, ns):
        self.port = ns.port
        self.tls = ns.tls
        self.cert = ns.cert
        self.key = ns.key
        self.mechanisms = ns.auth
        self.user = ns.user
        self.password = ns.password
        self.token = ns.token
        self.ntlm_domain = ns.ntlm_domain
        self.require_auth = ns.require_auth
        self.smtputf8 = ns.smtputf8 == "on"
        self.spool = ns.spool
        self.max_size = ns.max_size
        self.data_delay = ns.data_delay
        self.idle_timeout = ns.idle_timeout
        self.reject_domain = (
            ns.reject_rcpt_domain.lower() if ns.reject_rcpt_domain else None
        )
        self.exit_on_stdin_eof = ns.exit_on_stdin_eof
        self.log_level = ns.log_level.upper()

    def xoauth2_expected(self):
        return f"user={self.user}\x01auth=Bearer {self.token}\x01\x01".encode()

    def ntlm_users(self):
        return {(self.user.upper(), self.ntlm_domain.upper()): self.password}


def _auth_state(session):
    """Per-session record of the successful AUTH (None until there is one)."""
    return getattr(session, "peer_auth", None)


class PeerSMTP(SMTP):
    """aiosmtpd's SMTP protocol plus XOAUTH2 and longer AUTH lines."""

    # Real servers send "Username:"/"Password:"; aiosmtpd's default is odd.
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    def __init__(self, handler, config, **kwargs):
        self.peer_config = config
        # SMTP.__init__ sizes the StreamReader from line_length_limit.  Give
        # the reader room for RFC 4954 AUTH lines, then fall back to the class
        # value (1001), which is what DATA lines are checked against.
        self.line_length_limit = AUTH_LINE_LIMIT + 2
        super().__init__(handler, **kwargs)
        del self.line_length_limit
        # aiosmtpd keeps command_size_limits on the class (shared by every
        # connection); give each connection its own, with AUTH raised.
        self.command_size_limits = collections.defaultdict(
            lambda: SMTP.command_size_limit
        )
        self.command_size_limits["AUTH"] = AUTH_LINE_LIMIT

    def is_encrypted(self):
        if self.session is not None and self.session.ssl is not None:
            return True  # after STARTTLS
        transport = self.transport
        return (
            transport is not None
            and transport.get_extra_info("ssl_object") is not None
        )

    # Picked up by aiosmtpd as mechanism "XOAUTH2" (methods named auth_*).
    async def auth_XOAUTH2(self, _, args):
        config = self.peer_config
        if len(args) == 1:
            # No initial response: send an empty challenge ("334 ").
            raw = await self.challenge_auth("", encode_to_b64=False)
            if raw is MISSING:  # "*" or bad base64, already answered
                return AuthResult(success=False, handled=True)
        else:
            try:
                raw = base64.b64decode(args[1].encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)

        if raw == config.xoauth2_expected():
            self.session.peer_auth = {
                "mechanism": "XOAUTH2",
                "login": config.user,
                "xoauth2_sasl": raw.decode("utf-8"),
            }
            LOG.info("XOAUTH2 accepted for %r", config.user)
            return AuthResult(success=True, auth_data=config.user)

        LOG.warning(
            "XOAUTH2 refused: got %r, expected %r",
            raw.decode("utf-8", "replace"),
            config.xoauth2_expected().decode("utf-8", "replace"),
        )
        # Gmail/Microsoft: a 334 carrying the JSON error, the client answers
        # with an empty line, then the final 535.
        await self.push(
            "334 " + base64.b64encode(XOAUTH2_ERROR_JSON).decode("ascii")
        )
        answer = await self._reader.readline()
        LOG.debug("XOAUTH2 client answer to error challenge: %r", answer)
        return AuthResult(success=False, handled=False, message=REPLY_XOAUTH2_FAILED)

    # Picked up by aiosmtpd as mechanism "NTLM" (MS-SMTPNTLM).
    async def auth_NTLM(self, _, args):
        config = self.peer_config
        if len(args) == 1:
            # No initial response: "334 NTLM supported", then the NEGOTIATE.
            negotiate = await self.challenge_auth(NTLM_SUPPORTED, encode_to_b64=False)
            if negotiate is MISSING:  # "*" or bad base64, already answered
                return AuthResult(success=False, handled=True)
        else:
            try:
                negotiate = base64.b64decode(args[1].encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        try:
            challenge, state = ntlm_server.new_challenge(
                negotiate, nb_domain=config.ntlm_domain.upper()
            )
        except ntlm_server.NtlmError as error:
            LOG.warning("NTLM refused: NEGOTIATE: %s", error)
            return AuthResult(success=False, handled=False, message=REPLY_NTLM_FAILED)

        authenticate = await self.challenge_auth(challenge)
        if authenticate is MISSING:
            return AuthResult(success=False, handled=True)
        ok, reason, user, domain = ntlm_server.verify_authenticate(
            authenticate, state, config.ntlm_users()
        )
        if ok:
            login = f"{domain or config.ntlm_domain}\\{user}"
            self.session.peer_auth = {
                "mechanism": "NTLM",
                "login": login,
                "xoauth2_sasl": None,
            }
            LOG.info("NTLM accepted for %r", login)
            return AuthResult(success=True, auth_data=login)
        LOG.warning("NTLM refused for %s\\%s: %s", domain, user, reason)
        return AuthResult(success=False, handled=False, message=REPLY_NTLM_FAILED)


class PeerHandler:
    """aiosmtpd handler: EHLO tweaks, size/relay policy and the spool."""

    def __init__(self, config):
        self.config = config
        self.seq = 0

    # Used through SMTP(authenticator=...) for PLAIN and LOGIN.
    def check_login(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode("utf-8", "replace")
        if (
            self.config.user is not None
            and self.config.password is not None
            and auth_data.login == self.config.user.encode("utf-8")
            and auth_data.password == self.config.password.encode("utf-8")
        ):
            session.peer_auth = {
                "mechanism": mechanism,
                "login": login,
                "xoauth2_sasl": None,
            }
            LOG.info("%s accepted for %r", mechanism, login)
            return AuthResult(success=True, auth_data=auth_data)
        LOG.warning("%s refused for %r (wrong credentials)", mechanism, login)
        # handled=False without message -> aiosmtpd sends
        # "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # With this (5-argument) hook aiosmtpd leaves host_name to us.
        session.host_name = hostname
        lines = []
        for line in responses:
            keyword = line[4:].split(" ", 1)[0].upper()
            # aiosmtpd prints a bare "250-AUTH " even with no mechanism.
            if keyword == "AUTH" and not self.config.mechanisms:
                continue
            lines.append(line)
        if self.config.max_size is not None:
            lines.insert(1, f"250-SIZE {self.config.max_size}")
        return lines

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        limit = self.config.max_size
        if limit is not None:
            for option in mail_options:
                name, _, value = option.partition("=")
                if name == "SIZE" and value.isdigit() and int(value) > limit:
                    return REPLY_TOO_BIG
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return REPLY_OK

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower()
        if self.config.reject_domain is not None and domain == self.config.reject_domain:
            LOG.info("refusing relay to %r", address)
            return REPLY_NO_RELAY
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return REPLY_OK

    async def handle_DATA(self, server, session, envelope):
        if self.config.data_delay:
            await asyncio.sleep(self.config.data_delay)
        content = envelope.original_content
        limit = self.config.max_size
        if limit is not None and len(content) > limit:
            LOG.info("refusing %d-octet message (limit %d)", len(content), limit)
            return REPLY_TOO_BIG
        auth = _auth_state(session) or {}
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "data": content.decode("utf-8", "replace"),
            "auth_mechanism": auth.get("mechanism"),
            "auth_login": auth.get("login"),
            "xoauth2_sasl": auth.get("xoauth2_sasl"),
            "tls": server.is_encrypted(),
            "client_port": session.peer[1] if session.peer else None,
            "connection_message": self.count_on(session),
        }
        if self.config.spool is not None:
            path = self.write_spool(record)
            LOG.info("accepted message from %r, spooled as %s", envelope.mail_from, path)
        else:
            LOG.info("accepted message from %r (no spool)", envelope.mail_from)
        return REPLY_OK

    @staticmethod
    def count_on(session):
        """Messages taken on this session's connection, this one included."""
        session.peer_messages = getattr(session, "peer_messages", 0) + 1
        return session.peer_messages

    def write_spool(self, record):
        spool = self.config.spool
        while True:
            self.seq += 1
            final = os.path.join(spool, f"{self.seq}.json")
            if not os.path.exists(final):
                break
        tmp = os.path.join(spool, f".{self.seq}.json.tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False, indent=2)
            out.write("\n")
        os.replace(tmp, final)
        return final


class _DropNoise(logging.Filter):
    """Hide aiosmtpd warnings that are expected with this configuration."""

    NOISE = (
        "Session.login_data is deprecated",
        "auth_required == True but auth_require_tls == False",
    )

    def filter(self, record):
        return not str(record.msg).startswith(self.NOISE)


def parse_mechanisms(text):
    names = [part.strip().upper() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in KNOWN_MECHANISMS:
            raise argparse.ArgumentTypeError(
                f"unknown mechanism {name!r} (choose among {','.join(KNOWN_MECHANISMS)})"
            )
    return sorted(set(names))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="SMTP server peer for outmail-mail integration tests."
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", choices=("none", "starttls", "implicit"), default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth", type=parse_mechanisms, default=[])
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--token")
    parser.add_argument("--ntlm-domain")
    parser.add_argument("--require-auth", action="store_true")
    parser.add_argument("--smtputf8", choices=("on", "off"), default="on")
    parser.add_argument("--spool")
    parser.add_argument("--max-size", type=peer_common.positive_int)
    parser.add_argument("--data-delay", type=float, default=0.0)
    parser.add_argument("--reject-rcpt-domain")
    parser.add_argument("--idle-timeout", type=float, default=300.0)
    peer_common.add_standard_flags(parser)
    ns = parser.parse_args(argv)

    if ns.tls != "none" and not (ns.cert and ns.key):
        parser.error(f"--tls {ns.tls} needs --cert and --key")
    if ("PLAIN" in ns.auth or "LOGIN" in ns.auth) and (
        ns.user is None or ns.password is None
    ):
        parser.error("PLAIN/LOGIN need --user and --password")
    if "NTLM" in ns.auth and (
        ns.user is None or ns.password is None or not ns.ntlm_domain
    ):
        parser.error("NTLM needs --user, --password and --ntlm-domain")
    if "XOAUTH2" in ns.auth and (ns.user is None or ns.token is None):
        parser.error("XOAUTH2 needs --user and --token")
    if ns.require_auth and not ns.auth:
        parser.error("--require-auth needs --auth")
    return PeerConfig(ns)


def make_tls_context(config):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(config.cert, config.key)
    return context


async def serve(config):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in peer_common.STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)

    tls_context = make_tls_context(config) if config.tls != "none" else None
    handler = PeerHandler(config)
    excluded = [m for m in KNOWN_MECHANISMS if m not in config.mechanisms]

    def new_connection():
        return PeerSMTP(
            handler,
            config,
            hostname=HOSTNAME,
            ident=f"ESMTP outmail smtp peer (aiosmtpd {AIOSMTPD_VERSION})",
            # Size is enforced by PeerHandler so the replies read as wanted.
            data_size_limit=None,
            enable_SMTPUTF8=config.smtputf8,
            decode_data=False,
            # Only the STARTTLS mode hands the context to aiosmtpd; implicit
            # TLS is done by the listening socket.
            tls_context=tls_context if config.tls == "starttls" else None,
            require_starttls=config.tls == "starttls",
            auth_required=config.require_auth,
            # In starttls mode AUTH waits for TLS; otherwise it is offered at
            # once (implicit TLS is invisible to aiosmtpd's own check).
            auth_require_tls=config.tls == "starttls",
            auth_exclude_mechanism=excluded,
            authenticator=handler.check_login,
            timeout=config.idle_timeout,
            loop=loop,
        )

    server = await loop.create_server(
        new_connection,
        host=LISTEN_HOST,
        port=config.port,
        ssl=tls_context if config.tls == "implicit" else None,
    )
    port = server.sockets[0].getsockname()[1]
    LOG.info(
        "listening on %s:%d tls=%s auth=%s smtputf8=%s max_size=%s spool=%s",
        LISTEN_HOST, port, config.tls, ",".join(config.mechanisms) or "-",
        "on" if config.smtputf8 else "off", config.max_size, config.spool,
    )
    peer_common.announce_ready(port)

    if config.exit_on_stdin_eof:
        peer_common.on_stdin_eof(lambda: loop.call_soon_threadsafe(stop.set))

    await stop.wait()
    LOG.info("stopping")
    server.close()
    # Open sessions are cancelled by asyncio.run() on the way out.


def main(argv=None):
    config = parse_args(sys.argv[1:] if argv is None else argv)
    peer_common.setup_logging("smtp_peer", config.log_level, logger_names=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropNoise())
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    if config.spool is not None:
        os.makedirs(config.spool, exist_ok=True)
    try:
        asyncio.run(serve(config))
    except (OSError, ssl.SSLError) as error:
        # Unreadable cert/key, port already in use, ...: no READY line.
        LOG.error("cannot start: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

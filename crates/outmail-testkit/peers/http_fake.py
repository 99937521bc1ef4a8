"""What the two HTTP fakes (graph_peer.py and ews_peer.py) have in common.

Standard library only.  An HTTP/1.1 keep-alive request handler whose every
response carries a Content-Length and whose every method goes to the
subclass's ``handle_any()``; the request body reader (Content-Length or
chunked, at most MAX_BODY octets); the ``--record`` file; the recipient
address rule both fakes apply; ``parse_mime()``, how both read a MIME send
(Graph's MIME ``sendMail``, EWS's ``MimeContent``); and ``serve()``, which runs a threading server
on 127.0.0.1 under the start-up protocol of peer_common.py.
"""

import email.errors
import email.parser
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import peer_common

LISTEN_HOST = "127.0.0.1"
MAX_BODY = 64 * 1024 * 1024


class BadFraming(Exception):
    """The request cannot be framed (bad Content-Length or chunking)."""


class Handler(BaseHTTPRequestHandler):
    """Subclasses set ``server_version`` and ``logger`` and define ``handle_any()``."""

    protocol_version = "HTTP/1.1"
    logger = None

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        self.logger.info("%s %s", self.address_string(), fmt % args)

    # One method for every verb: routing decides.
    def do_POST(self):
        self.handle_any()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_POST

    def read_body(self):
        """The request body; raises BadFraming when it cannot be delimited."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BadFraming(f"bad chunk size line {line!r}") from None
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise BadFraming("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not (length.strip().isascii() and length.strip().isdigit()):
            raise BadFraming(f"bad Content-Length {length!r}")
        length = int(length)
        if length > MAX_BODY:
            raise BadFraming("body too large")
        return self.rfile.read(length)

    def respond(self, status, body=b"", headers=(), content_type=None):
        """Sends a response: `headers` (name, value) pairs in order, then
        Content-Type (if given) and Content-Length; no body for HEAD."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Recorder:
    """Shared state of a fake: ``lock`` and the --record file (None: none)."""

    def __init__(self, record_path):
        self.record_path = record_path
        self.lock = threading.Lock()

    def record(self, entry):
        """Appends `entry` as one JSON line (flushed before the response goes)."""
        if self.record_path is None:
            return
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self.lock:
            with open(self.record_path, "a", encoding="utf-8") as out:
                out.write(line)
                out.flush()


def address_ok(address):
    """Whether Exchange would resolve `address`: one ``@`` with text on both
    sides, no whitespace, control characters or any of ``<>,;"``."""
    if address.count("@") != 1:
        return False
    local, domain = address.split("@")
    if not local or not domain:
        return False
    return not any(
        c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c in '<>,;"' for c in address
    )


class PeerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, config):
        self.config = config
        super().__init__(address, handler)


MIME_STRUCTURE_DEFECTS = (
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.FirstHeaderLineIsContinuationDefect,
    email.errors.MisplacedEnvelopeHeaderDefect,
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
)
MIME_SINGLE_FIELDS = ("Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
                      "Message-ID", "In-Reply-To", "References", "Subject")
MIME_PARSER = email.parser.BytesParser(policy=email.policy.default)


def parse_mime(data):
    """(summary, None) for a parseable message, else (None, what is wrong).

    summary: ``from`` ({"name", "address"} or None), ``to``, ``cc``, ``bcc``,
    ``reply_to`` (lists of {"name", "address"}), ``subject``, ``message_id``
    (strings or None) and ``content_type``."""
    if not data.strip():
        return None, "the MIME content is empty"
    try:
        message = MIME_PARSER.parsebytes(data)
        if message.get_unixfrom() is not None:
            return None, "it starts with an mbox 'From ' line, not a header field"
        if not message.keys():
            return None, "it has no header fields"
        for part in message.walk():
            for defect in part.defects:
                if isinstance(defect, MIME_STRUCTURE_DEFECTS):
                    what = str(defect) or (type(defect).__doc__ or "").strip()
                    return None, f"{type(defect).__name__}: {what.rstrip('.')}"
        for name in MIME_SINGLE_FIELDS:
            if len(message.get_all(name, [])) > 1:
                return None, f"the {name} header field appears more than once"

        def mailboxes(name):
            found = []
            for field in message.get_all(name, []):
                for address in field.addresses:
                    found.append({"name": address.display_name or None,
                                  "address": address.addr_spec})
            return found

        senders = mailboxes("From")
        summary = {
            "from": senders[0] if len(senders) == 1 else None,
            "to": mailboxes("To"),
            "cc": mailboxes("Cc"),
            "bcc": mailboxes("Bcc"),
            "reply_to": mailboxes("Reply-To"),
            "subject": str(message["Subject"]) if "Subject" in message else None,
            "message_id": str(message["Message-ID"]).strip()
            if "Message-ID" in message else None,
            "content_type": message.get_content_type(),
        }
    except Exception as error:  # noqa: BLE001  (any parser failure is a refusal)
        return None, f"it does not parse: {type(error).__name__}: {error}"
    if "From" not in message:
        return None, "it has no From header field"
    if len(senders) != 1:
        return None, (f"its From header field holds {len(senders)} mailboxes; this "
                      "fake takes exactly one")
    return summary, None


def serve(handler, config, port, exit_on_stdin_eof, summary):
    """Serves `handler` (its requests see `config` as ``self.server.config``)
    on LISTEN_HOST:`port` until SIGTERM, SIGINT or, with `exit_on_stdin_eof`,
    end of file on stdin; returns the exit status (1: cannot listen, before
    READY).  `summary` ends the "listening on" log line."""
    log = handler.logger
    try:
        server = PeerServer((LISTEN_HOST, port), handler, config)
    except OSError as error:
        log.error("cannot start: %s", error)
        return 1
    stop = peer_common.stop_event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    log.info("listening on %s:%d %s", LISTEN_HOST, port, summary)
    peer_common.announce_ready(port)
    if exit_on_stdin_eof:
        peer_common.on_stdin_eof(stop.set)
    while not stop.wait(0.5):
        pass
    log.info("stopping")
    server.shutdown()
    server.server_close()
    return 0

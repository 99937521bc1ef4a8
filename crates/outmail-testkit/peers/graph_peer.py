#!/usr/bin/python3
"""A strict fake of Microsoft Graph ``sendMail`` for the outmail-mail tests.

Standard library only; run it with ``/usr/bin/python3``.  One process is
started per test; it serves plain HTTP/1.1 (keep-alive, every response has a
Content-Length) on 127.0.0.1 only.  It accepts exactly the two documented
forms of ``POST /v1.0/users/{id | userPrincipalName}/sendMail``, JSON and
MIME (the message base64-encoded, ``Content-Type: text/plain``), and answers
everything else with the status and error body Graph gives where that is
known, otherwise with a 400 whose message says precisely what was wrong.

Start-up protocol
-----------------
Once the socket is listening, exactly one line ``READY <port>`` is written to
stdout and flushed; nothing else is ever written to stdout.  Logs go to stderr
(``--log-level``, default ``info``: one line per request).  SIGTERM and SIGINT
stop the server with exit status 0; so does end of file on stdin with
``--exit-on-stdin-eof``.  Bad arguments exit with status 2, a failure to
listen with status 1, both before ``READY``.

Flags
-----
--port N             TCP port on 127.0.0.1 (default 0: ephemeral, reported
                     in the READY line).
--token T            The one accepted bearer token (required).
--mailbox ADDR       A mailbox that exists (repeatable; UPN or object id;
                     compared case-insensitively with the URL segment).
--deny MAILBOX       Sends as this mailbox get 403 ErrorAccessDenied (an
                     application access policy excluding it); repeatable.
                     Checked before existence, so it need not be listed.
--throttle N         The first N requests that pass every check get 429
                     ApplicationThrottled with ``Retry-After: 3``.
--fail-status S      Every request that passes every check (and is not
                     throttled) is answered with status S (400..599) and a
                     Graph error body (see below) instead of 202.
--record FILE        Append one JSON line per request (see below).
--log-level LEVEL    debug, info (default), warning, error.
--exit-on-stdin-eof  See above.

Request shape required
----------------------
``POST /v1.0/users/{user}/sendMail``, path compared exactly (case-sensitive,
no trailing slash, no query string); ``{user}`` is percent-decoded and must
be a UPN (one ``@``) or a GUID.  Headers: ``Authorization: Bearer <token>``
(scheme case-insensitive, exactly one space), ``Content-Type:
application/json`` (parameters allowed; a ``charset`` must be utf-8) for the
JSON form, ``Content-Type: text/plain`` (any parameters) for the MIME form.

MIME form: the body is the base64 of an RFC 5322 message (CR, LF, space and
tab in the base64 are ignored, as Graph's own example wraps it at 76 columns;
lines of the message may end in CRLF or LF).  The message is parsed with
Python's ``email`` package (``policy=email.policy.default``) and must have
header fields (no leading mbox ``From `` line, no continuation line first),
no header line without a colon, no multipart without or with a missing
boundary, at most one each of Date, From, Sender, Reply-To, To, Cc, Bcc,
Message-ID, In-Reply-To, References and Subject, and exactly one From field
holding exactly one mailbox.  As Graph documents, sender and recipients come
from the MIME header fields: From, To, Cc and Bcc (Exchange removes the Bcc
field before it delivers; the recorded MIME is the one received).  Nothing
else of the JSON form (``saveToSentItems``, ``internetMessageHeaders``
limits) applies.

JSON form: UTF-8 JSON object, no duplicate keys, no NaN/Infinity, no ``null``
values anywhere::

    {"message": {...}, "saveToSentItems": false}

``saveToSentItems`` is optional and must be a JSON boolean.  ``message`` keys
(all optional): ``subject`` (string), ``body`` (``{"contentType": "text" |
"html" (any case), "content": string}``, both keys required), ``from``
(recipient), ``toRecipients`` / ``ccRecipients`` / ``bccRecipients`` /
``replyTo`` (arrays of recipients), ``internetMessageHeaders`` (array of
``{"name": string, "value": string}``), ``attachments`` (array of
``{"@odata.type": "#microsoft.graph.fileAttachment", "name": string,
"contentType"?: string, "contentBytes": base64 string, "contentId"?: string,
"isInline"?: bool}``).  A recipient is ``{"emailAddress": {"address":
string, "name"?: string}}``.  An ``@odata.type`` annotation is tolerated
only with the right type name (``#microsoft.graph.message``, ``.recipient``,
``.emailAddress``, ``.itemBody``, ``.internetMessageHeader``).

Checks, in order, and the answers
---------------------------------
All error bodies are ``{"error": {"code": C, "message": M}}`` with
``Content-Type: application/json; odata.metadata=minimal;
odata.streaming=true; IEEE754Compatible=false; charset=utf-8``.  Errors from
the Graph front end (401, 404 ResourceNotFound, 405, 429, --fail-status) also
carry ``"innerError": {"date", "request-id", "client-request-id"}``; mailbox
(Outlook) errors do not, as is common in real responses.  Every response has
``request-id`` (a fresh GUID) and ``client-request-id`` (the request's own, or
the request-id) headers.

1. Path not ``/v1.0/users/{user}/sendMail`` (or ``{user}`` neither UPN nor
   GUID): 404 ``ResourceNotFound`` "Resource not found for the segment
   '<segment>'. (This fake serves only POST /v1.0/users/{id |
   userPrincipalName}/sendMail.)"; right path, method other than POST: 405
   ``BadRequest``
   "The HTTP method '<M>' is not supported for sendMail; use POST." with
   ``Allow: POST``; a query string: 400 ``BadRequest``.
2. No Authorization: 401 ``InvalidAuthenticationToken`` "Access token is
   empty."; another scheme or token: 401 ``InvalidAuthenticationToken``
   "Access token validation failure. Invalid audience."; both with
   ``WWW-Authenticate: Bearer realm="",
   authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize",
   client_id="00000003-0000-0000-c000-000000000000"``.
3. ``{user}`` in --deny: 403 ``ErrorAccessDenied`` "Access is denied. Check
   credentials and try again."; not in --mailbox: 404 ``ErrorInvalidUser``
   "The requested user '<user>' is invalid."
4. Content-Type missing: 400 ``BadRequest``; ``text/plain`` (MIME send):
   checks 4a-4c, then 9-11; any other non-JSON type, or a JSON charset other
   than utf-8: 400 ``BadRequest``.
   4a. Body not base64 (after dropping CR, LF, space and tab; padding
       required): 400 ``ErrorMimeContentInvalidBase64String`` "Invalid base64
       string for MIME content." (Graph's documented answer).
   4b. Decoded MIME empty, not a message, or breaking the rules above (no or
       several From fields or From mailboxes, a repeated single field, ...):
       400 ``ErrorMimeContentInvalid`` "MIME content does not contain all
       required information, malformed formatting, or empty. (graph_peer:
       <what>.)".  Graph documents only that message and status for this
       case, no code; the code is Exchange's ResponseCode for invalid MIME
       content, the one Graph passes on with Exchange's errors.
   4c. The JSON rules 7 and 8 applied to the MIME header fields: the From
       address not the URL mailbox: 403 ``ErrorSendAsDenied``; no address in
       To, Cc and Bcc together: 400 ``ErrorInvalidRecipients`` (the answer
       Exchange gives any message without recipients; no MIME-specific code
       is documented); an address in From/To/Cc/Bcc/Reply-To failing the
       address rule of 8 (a group's members count, an empty group adds
       none): 400 ``ErrorInvalidRecipients`` "... Recipient \"<address>\"
       isn't resolved. ..."; more than 500: 400
       ``ErrorExceededMaxRecipientLimit``.
   Checks 5-8 are the JSON form's only; 9-11 apply to both forms.
5. Body not UTF-8, not JSON, not an object, duplicate keys, nulls, wrong
   JSON types, unknown keys, bad ``contentType``, bad base64 in
   ``contentBytes``: 400 ``RequestBodyRead``.  Unknown top-level key: "The
   parameter '<k>' in the request payload is not a valid parameter for the
   operation 'sendMail'."; unknown key in an object: "The property '<k>' does
   not exist on type '<Type>'. Make sure to only use property names that are
   defined by the type or mark the type as open type." (Type is
   Microsoft.OutlookServices.Message / .Recipient / .EmailAddress /
   .ItemBody / .InternetMessageHeader / .FileAttachment); a real Graph message
   property this fake does not take (importance, sender, ...) says so.
   Missing ``message``: 400 ``ErrorInvalidParameter`` "The value of the
   parameter 'Message' is empty."
6. ``internetMessageHeaders`` empty or more than 5: 400
   ``InvalidInternetMessageHeaderCollection`` "Maximum number of headers in
   one message should be less than or equal to 5."; a name not starting with
   ``x-``/``X-``: 400 ``InvalidInternetMessageHeader`` "The internet message
   header name '<name>' should start with 'x-' or 'X-'."; CR, LF or NUL in a
   name or value, or an empty name: 400 ``InvalidInternetMessageHeader``
   naming the header.
7. ``from`` present and not the URL mailbox (case-insensitive): 403
   ``ErrorSendAsDenied`` "The user account which was used to submit this
   request does not have the right to send mail on behalf of the specified
   sending account., Cannot submit message."
8. No recipient in to/cc/bcc: 400 ``ErrorInvalidRecipients`` "At least one
   recipient is not valid., A message can't be sent because it contains no
   recipients."; an address (to/cc/bcc/replyTo) that is empty, has no or
   several ``@``, an empty local part or domain, whitespace, control
   characters or any of ``<>,;"``: 400 ``ErrorInvalidRecipients`` "At least
   one recipient isn't valid., Recipient \"<address>\" isn't resolved. All
   recipients must be resolved before a message can be submitted."; more
   than 500 in to+cc+bcc: 400 ``ErrorExceededMaxRecipientLimit``.
9. --throttle: 429 ``ApplicationThrottled`` "Application is over its
   MailboxConcurrency limit." with ``Retry-After: 3``.
10. --fail-status S: S with code 500 ``ErrorInternalServerError`` "An internal
   server error occurred. The operation failed.", 503 ``serviceNotAvailable``
   "The service is temporarily unavailable. Try again later.", 429
   ``ApplicationThrottled`` (as above, with ``Retry-After: 3``), 403
   ``ErrorAccessDenied`` (as above), 401 ``InvalidAuthenticationToken``, any
   other S ``UnknownError`` with an empty message.
11. Otherwise ``202 Accepted``, empty body, ``Content-Length: 0``.

Record file
-----------
One JSON object per line, written (and flushed) before the response is sent:
``method``, ``path`` (raw, as received), ``query`` (raw string, "" if none),
``user`` (percent-decoded URL mailbox or null), ``headers`` (object, names
lower-cased; the Authorization value replaced by ``"Bearer <ok>"`` when it
carried the right token, else ``"<bad>"``), ``body`` (the parsed JSON, or
null when it did not parse), ``body_text`` (the raw body as UTF-8 with
replacement when it did not parse, else null), ``status`` (int), ``code``
(the error code or null on 202), ``format`` (``"mime"`` when the
Content-Type is text/plain, else ``"json"``), ``mime`` and ``mime_message``.

For ``"json"`` records ``mime`` and ``mime_message`` are null and everything
else is as described above.  For ``"mime"`` records ``body`` is always null
and ``body_text`` is the base64 text as received (null when empty); ``mime``
is the decoded message as text (UTF-8, invalid bytes replaced; decode
``body_text`` for the exact bytes) whenever the body is valid base64,
however far the request got, else null; ``mime_message`` is, once the message
passed check 4b (so also on a 4c, 429 or --fail-status refusal), ``{"from":
{"name", "address"}, "to", "cc", "bcc", "reply_to": [{"name", "address"}],
"subject", "message_id", "content_type"}`` (``name`` null when the mailbox
has no display name; RFC 2047 words decoded), else null.  Example::

    {"method": "POST", "path": "/v1.0/users/alerts@example.com/sendMail",
     "query": "", "user": "alerts@example.com",
     "headers": {"content-type": "text/plain", "authorization": "Bearer <ok>",
                 ...},
     "body": null, "body_text": "RnJvbTogQWxlcnRz...", "status": 202,
     "code": null, "format": "mime",
     "mime": "From: Alerts <alerts@example.com>\\r\\nTo: ops@example.net\\r\\n
              Bcc: audit@example.org\\r\\nSubject: Hi\\r\\n\\r\\nHello\\r\\n",
     "mime_message": {"from": {"name": "Alerts",
                               "address": "alerts@example.com"},
                      "to": [{"name": null, "address": "ops@example.net"}],
                      "cc": [],
                      "bcc": [{"name": null, "address": "audit@example.org"}],
                      "reply_to": [], "subject": "Hi", "message_id": null,
                      "content_type": "text/plain"}}
"""

import argparse
import base64
import binascii
import datetime
import json
import logging
import os
import re
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_fake  # noqa: E402  (lives next to this file)
import peer_common  # noqa: E402  (lives next to this file)

LOG = logging.getLogger("graph_peer")

JSON_TYPE = (
    "application/json; odata.metadata=minimal; odata.streaming=true; "
    "IEEE754Compatible=false; charset=utf-8"
)
WWW_AUTHENTICATE = (
    'Bearer realm="", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
PATH_RE = re.compile(r"^/v1\.0/users/([^/]+)/sendMail$")
GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
MAX_RECIPIENTS = 500
MAX_HEADERS = 5

MSG_ACCESS_DENIED = "Access is denied. Check credentials and try again."
MSG_SEND_AS_DENIED = (
    "The user account which was used to submit this request does not have the "
    "right to send mail on behalf of the specified sending account., Cannot "
    "submit message."
)
MSG_NO_RECIPIENTS = (
    "At least one recipient is not valid., A message can't be sent because it "
    "contains no recipients."
)
MSG_HEADER_COUNT = (
    "Maximum number of headers in one message should be less than or equal to 5."
)
MSG_THROTTLED = "Application is over its MailboxConcurrency limit."
MSG_MIME_BASE64 = "Invalid base64 string for MIME content."
# Graph documents no code for MIME content that decodes but is no message; the
# message is the one Microsoft documents for that case ("Sending emails with
# MIME content", error conditions), the code the Exchange ResponseCode for it.
MSG_MIME_INVALID = (
    "MIME content does not contain all required information, malformed "
    "formatting, or empty."
)

MESSAGE_TYPE = "Microsoft.OutlookServices.Message"
RECIPIENT_TYPE = "Microsoft.OutlookServices.Recipient"
EMAIL_TYPE = "Microsoft.OutlookServices.EmailAddress"
BODY_TYPE = "Microsoft.OutlookServices.ItemBody"
HEADER_TYPE = "Microsoft.OutlookServices.InternetMessageHeader"
ATTACHMENT_TYPE = "Microsoft.OutlookServices.FileAttachment"

ODATA_TYPES = {
    MESSAGE_TYPE: "#microsoft.graph.message",
    RECIPIENT_TYPE: "#microsoft.graph.recipient",
    EMAIL_TYPE: "#microsoft.graph.emailAddress",
    BODY_TYPE: "#microsoft.graph.itemBody",
    HEADER_TYPE: "#microsoft.graph.internetMessageHeader",
    ATTACHMENT_TYPE: "#microsoft.graph.fileAttachment",
}
MESSAGE_KEYS = {
    "subject", "body", "from", "toRecipients", "ccRecipients", "bccRecipients",
    "replyTo", "internetMessageHeaders", "attachments",
}
# Real properties of microsoft.graph.message that this fake does not take.
OTHER_MESSAGE_PROPERTIES = {
    "bodyPreview", "categories", "changeKey", "conversationId",
    "conversationIndex", "createdDateTime", "flag", "hasAttachments", "id",
    "importance", "inferenceClassification", "internetMessageId",
    "isDeliveryReceiptRequested", "isDraft", "isRead", "isReadReceiptRequested",
    "lastModifiedDateTime", "parentFolderId", "receivedDateTime", "sender",
    "sentDateTime", "uniqueBody", "webLink", "extensions",
    "multiValueExtendedProperties", "singleValueExtendedProperties", "mentions",
}
RECIPIENT_LISTS = ("toRecipients", "ccRecipients", "bccRecipients")

# MIME sends: what .NET's Convert.FromBase64String skips (Graph's documented
# example wraps the base64 at 76 columns), the parser defects that mean the
# bytes are not a message, and the fields RFC 5322 allows at most once.
BASE64_WHITESPACE = b" \t\r\n"
class GraphError(Exception):
    """An answer other than 202: status, code, message, extra headers."""

    def __init__(self, status, code, message, headers=None, inner=False):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.inner = inner


def body_error(message):
    return GraphError(400, "RequestBodyRead", message)


def no_property(key, type_name):
    return body_error(
        f"The property '{key}' does not exist on type '{type_name}'. Make sure to "
        "only use property names that are defined by the type or mark the type "
        "as open type."
    )


# ---------------------------------------------------------------------------
# Body validation
# ---------------------------------------------------------------------------

def _reject_constant(name):
    raise ValueError(f"JSON constant {name} is not allowed")


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(
                f"Multiple properties with the name '{key}' were found in the payload"
            )
        seen[key] = value
    return seen


def parse_json_body(raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise body_error(f"The request body is not valid UTF-8: {error}") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates,
                           parse_constant=_reject_constant)
    except ValueError as error:
        raise body_error(f"The request body is not valid JSON: {error}") from None
    return value


def _where(path):
    return path or "the request body"


def expect_type(value, kind, path):
    names = {str: "a JSON string (Edm.String)", bool: "a JSON boolean (Edm.Boolean)",
             dict: "a JSON object", list: "a JSON array"}
    if value is None:
        raise body_error(
            f"'{path}' is null; this fake refuses nulls: omit the property instead"
        )
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        raise body_error(
            f"'{path}' must be {names[kind]}, got {type(value).__name__} {json.dumps(value)[:80]}"
        )


def check_keys(obj, allowed, type_name, path, required=()):
    for key in obj:
        if key == "@odata.type":
            if obj[key] != ODATA_TYPES[type_name]:
                raise body_error(
                    f"'{path}.@odata.type' is {json.dumps(obj[key])}, expected "
                    f"\"{ODATA_TYPES[type_name]}\""
                )
            continue
        if key not in allowed:
            if type_name == MESSAGE_TYPE and key in OTHER_MESSAGE_PROPERTIES:
                raise body_error(
                    f"The property '{key}' exists on Graph messages but this fake "
                    "does not accept it (outmail does not send it)."
                )
            raise no_property(key, type_name)
    for key in required:
        if key not in obj:
            raise body_error(f"'{path}' lacks the required property '{key}'")


def check_recipient(value, path):
    expect_type(value, dict, path)
    check_keys(value, {"emailAddress"}, RECIPIENT_TYPE, path, required=("emailAddress",))
    email = value["emailAddress"]
    expect_type(email, dict, f"{path}.emailAddress")
    check_keys(email, {"address", "name"}, EMAIL_TYPE, f"{path}.emailAddress",
               required=("address",))
    expect_type(email["address"], str, f"{path}.emailAddress.address")
    if "name" in email:
        expect_type(email["name"], str, f"{path}.emailAddress.name")
    return email["address"]


def validate_send_mail(payload, mailbox):
    """Raises GraphError unless `payload` is an acceptable sendMail body."""
    if not isinstance(payload, dict):
        raise body_error(
            f"The request body must be a JSON object, got {type(payload).__name__}"
        )
    for key in payload:
        if key not in ("message", "saveToSentItems"):
            raise body_error(
                f"The parameter '{key}' in the request payload is not a valid "
                "parameter for the operation 'sendMail'."
            )
    if "message" not in payload:
        raise GraphError(400, "ErrorInvalidParameter",
                         "The value of the parameter 'Message' is empty.")
    if "saveToSentItems" in payload:
        expect_type(payload["saveToSentItems"], bool, "saveToSentItems")

    message = payload["message"]
    expect_type(message, dict, "message")
    check_keys(message, MESSAGE_KEYS, MESSAGE_TYPE, "message")

    if "subject" in message:
        expect_type(message["subject"], str, "message.subject")
    if "body" in message:
        body = message["body"]
        expect_type(body, dict, "message.body")
        check_keys(body, {"contentType", "content"}, BODY_TYPE, "message.body",
                   required=("contentType", "content"))
        expect_type(body["contentType"], str, "message.body.contentType")
        if body["contentType"].lower() not in ("text", "html"):
            raise body_error(
                f"Cannot convert the literal '{body['contentType']}' to the expected "
                "type 'Microsoft.OutlookServices.BodyType' (text or html)."
            )
        expect_type(body["content"], str, "message.body.content")

    addresses = []  # (path, address) for the format check
    sender = None
    if "from" in message:
        sender = check_recipient(message["from"], "message.from")
        addresses.append(("message.from", sender))
    counted = 0
    for name in RECIPIENT_LISTS + ("replyTo",):
        if name not in message:
            continue
        items = message[name]
        expect_type(items, list, f"message.{name}")
        for index, item in enumerate(items):
            path = f"message.{name}[{index}]"
            addresses.append((path, check_recipient(item, path)))
        if name in RECIPIENT_LISTS:
            counted += len(items)

    headers = None
    if "internetMessageHeaders" in message:
        headers = message["internetMessageHeaders"]
        expect_type(headers, list, "message.internetMessageHeaders")
        for index, header in enumerate(headers):
            path = f"message.internetMessageHeaders[{index}]"
            expect_type(header, dict, path)
            check_keys(header, {"name", "value"}, HEADER_TYPE, path,
                       required=("name", "value"))
            expect_type(header["name"], str, f"{path}.name")
            expect_type(header["value"], str, f"{path}.value")

    if "attachments" in message:
        attachments = message["attachments"]
        expect_type(attachments, list, "message.attachments")
        for index, attachment in enumerate(attachments):
            path = f"message.attachments[{index}]"
            expect_type(attachment, dict, path)
            check_keys(attachment,
                       {"name", "contentType", "contentBytes", "contentId", "isInline"},
                       ATTACHMENT_TYPE, path,
                       required=("@odata.type", "name", "contentBytes"))
            for key in ("name", "contentType", "contentBytes", "contentId"):
                if key in attachment:
                    expect_type(attachment[key], str, f"{path}.{key}")
            if "isInline" in attachment:
                expect_type(attachment["isInline"], bool, f"{path}.isInline")
            try:
                base64.b64decode(attachment["contentBytes"], validate=True)
            except (binascii.Error, ValueError):
                raise body_error(
                    f"Cannot convert the literal in '{path}.contentBytes' to the "
                    "expected type 'Edm.Binary' (not valid base64)."
                ) from None

    # Business rules, after the payload deserialised.
    if headers is not None:
        if not headers or len(headers) > MAX_HEADERS:
            raise GraphError(400, "InvalidInternetMessageHeaderCollection", MSG_HEADER_COUNT)
        for header in headers:
            name, value = header["name"], header["value"]
            if any(c in name or c in value for c in "\r\n\x00") or not name:
                raise GraphError(
                    400, "InvalidInternetMessageHeader",
                    f"The internet message header '{name!r}' has an empty name or "
                    "a CR, LF or NUL character in its name or value.",
                )
            if not name.lower().startswith("x-"):
                raise GraphError(
                    400, "InvalidInternetMessageHeader",
                    f"The internet message header name '{name}' should start with "
                    "'x-' or 'X-'.",
                )

    if sender is not None and sender.lower() != mailbox.lower():
        raise GraphError(403, "ErrorSendAsDenied", MSG_SEND_AS_DENIED)

    if counted == 0:
        raise GraphError(400, "ErrorInvalidRecipients", MSG_NO_RECIPIENTS)
    for _path, address in addresses:
        if not http_fake.address_ok(address):
            raise GraphError(
                400, "ErrorInvalidRecipients",
                f"At least one recipient isn't valid., Recipient \"{address}\" isn't "
                "resolved. All recipients must be resolved before a message can be "
                "submitted.",
            )
    if counted > MAX_RECIPIENTS:
        raise GraphError(
            400, "ErrorExceededMaxRecipientLimit",
            f"The message has {counted} recipients in To, Cc and Bcc; the maximum "
            f"is {MAX_RECIPIENTS}.",
        )


# ---------------------------------------------------------------------------
# MIME sends (Content-Type: text/plain)
# ---------------------------------------------------------------------------

def decode_mime_body(raw):
    """The MIME bytes of a base64 body (CR, LF, space and tab ignored), or None."""
    try:
        return base64.b64decode(raw.translate(None, BASE64_WHITESPACE), validate=True)
    except (binascii.Error, ValueError):
        return None


def mime_text(data):
    """Decoded MIME bytes as text for the record (UTF-8, invalid bytes replaced)."""
    return data.decode("utf-8", "replace")


def validate_mime_send(raw, mailbox, entry):
    """Raises GraphError unless `raw` is an acceptable MIME sendMail body;
    puts the parsed summary in ``entry["mime_message"]``."""
    data = decode_mime_body(raw)
    if data is None:
        raise GraphError(400, "ErrorMimeContentInvalidBase64String", MSG_MIME_BASE64)
    summary, problem = http_fake.parse_mime(data)
    if summary is None:
        raise GraphError(400, "ErrorMimeContentInvalid",
                         f"{MSG_MIME_INVALID} (graph_peer: {problem}.)")
    entry["mime_message"] = summary

    # Graph takes sender and recipients from the MIME header fields (and Exchange
    # drops Bcc before delivery); the same rules as for JSON then apply.
    sender = summary["from"]["address"]
    if sender.lower() != mailbox.lower():
        raise GraphError(403, "ErrorSendAsDenied", MSG_SEND_AS_DENIED)
    counted = len(summary["to"]) + len(summary["cc"]) + len(summary["bcc"])
    if counted == 0:
        raise GraphError(400, "ErrorInvalidRecipients", MSG_NO_RECIPIENTS)
    for key in ("from", "to", "cc", "bcc", "reply_to"):
        entries = [summary[key]] if key == "from" else summary[key]
        for item in entries:
            if not http_fake.address_ok(item["address"]):
                raise GraphError(
                    400, "ErrorInvalidRecipients",
                    f"At least one recipient isn't valid., Recipient "
                    f"\"{item['address']}\" isn't resolved. All recipients must be "
                    "resolved before a message can be submitted.",
                )
    if counted > MAX_RECIPIENTS:
        raise GraphError(
            400, "ErrorExceededMaxRecipientLimit",
            f"The message has {counted} recipients in To, Cc and Bcc; the maximum "
            f"is {MAX_RECIPIENTS}.",
        )


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class PeerState(http_fake.Recorder):
    """Settings plus the mutable counters shared by all connections."""

    def __init__(self, ns):
        super().__init__(ns.record)
        self.token = ns.token
        self.mailboxes = {m.lower() for m in ns.mailbox}
        self.deny = {m.lower() for m in ns.deny}
        self.throttle_left = ns.throttle
        self.fail_status = ns.fail_status

    def take_throttle(self):
        with self.lock:
            if self.throttle_left > 0:
                self.throttle_left -= 1
                return True
            return False


def fail_status_error(status):
    if status == 500:
        return GraphError(500, "ErrorInternalServerError",
                          "An internal server error occurred. The operation failed.",
                          inner=True)
    if status == 503:
        return GraphError(503, "serviceNotAvailable",
                          "The service is temporarily unavailable. Try again later.",
                          inner=True)
    if status == 429:
        return GraphError(429, "ApplicationThrottled", MSG_THROTTLED,
                          headers={"Retry-After": "3"}, inner=True)
    if status == 403:
        return GraphError(403, "ErrorAccessDenied", MSG_ACCESS_DENIED)
    if status == 401:
        return GraphError(401, "InvalidAuthenticationToken",
                          "Access token has expired or is not yet valid.",
                          headers={"WWW-Authenticate": WWW_AUTHENTICATE}, inner=True)
    return GraphError(status, "UnknownError", "", inner=True)


class GraphHandler(http_fake.Handler):
    server_version = "graph-peer"
    logger = LOG

    def send(self, status, body=b"", headers=None, content_type=None, request_id=None):
        request_id = request_id or str(uuid.uuid4())
        fixed = [
            ("request-id", request_id),
            ("client-request-id", self.headers.get("client-request-id") or request_id),
            ("x-ms-ags-diagnostic",
             '{"ServerInfo":{"DataCenter":"Loopback","Slice":"E",'
             '"Ring":"5","ScaleUnit":"000","RoleInstance":"GRAPHPEER"}}'),
        ]
        self.respond(status, body, fixed + list((headers or {}).items()), content_type)
        return request_id

    def send_error_body(self, error):
        request_id = str(uuid.uuid4())
        payload = {"code": error.code, "message": error.message}
        if error.inner:
            payload["innerError"] = {
                "date": datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": self.headers.get("client-request-id") or request_id,
            }
        body = json.dumps({"error": payload}).encode("utf-8")
        self.send(error.status, body, error.headers, JSON_TYPE, request_id)

    def handle_any(self):
        state = self.server.config
        raw_path, _, query = self.path.partition("?")
        entry = {
            "method": self.command,
            "path": raw_path,
            "query": query,
            "user": None,
            "headers": {},
            "body": None,
            "body_text": None,
            "status": None,
            "code": None,
            "format": "mime" if self.is_mime() else "json",
            "mime": None,
            "mime_message": None,
        }
        auth_ok = self.auth_matches(state)
        for name, value in self.headers.items():
            lower = name.lower()
            if lower == "authorization":
                value = "Bearer <ok>" if auth_ok else "<bad>"
            entry["headers"][lower] = value
        try:
            raw = self.read_body()
        except http_fake.BadFraming as error:
            LOG.warning("cannot frame request: %s", error)
            self.close_connection = True
            entry["status"], entry["code"] = 400, "BadRequest"
            state.record(entry)
            self.send_error_body(GraphError(400, "BadRequest", str(error), inner=True))
            return
        payload = None
        parsed = False
        if entry["format"] == "mime":
            # The body is base64 text, never JSON (even when it would parse).
            if raw:
                entry["body_text"] = raw.decode("utf-8", "replace")
            data = decode_mime_body(raw)
            if data is not None:
                entry["mime"] = mime_text(data)
        elif raw:
            try:
                payload = json.loads(raw.decode("utf-8"))
                parsed = True
            except (UnicodeDecodeError, ValueError):
                entry["body_text"] = raw.decode("utf-8", "replace")
        entry["body"] = payload if parsed else None

        try:
            self.check(state, raw, raw_path, query, entry, auth_ok)
        except GraphError as error:
            LOG.info("%s %s -> %d %s: %s", self.command, self.path, error.status,
                     error.code, error.message)
            entry["status"], entry["code"] = error.status, error.code
            state.record(entry)
            self.send_error_body(error)
            return
        LOG.info("%s %s -> 202 accepted", self.command, self.path)
        entry["status"] = 202
        state.record(entry)
        self.send(202)

    def is_mime(self):
        """Whether the request claims a MIME body (Content-Type text/plain)."""
        media = (self.headers.get("Content-Type") or "").partition(";")[0]
        return media.strip().lower() == "text/plain"

    def auth_matches(self, state):
        value = self.headers.get("Authorization")
        if value is None:
            return False
        scheme, sep, token = value.partition(" ")
        return bool(sep) and scheme.lower() == "bearer" and token == state.token

    def check(self, state, raw, raw_path, query, entry, auth_ok):
        match = PATH_RE.match(raw_path)
        user = None
        if match:
            try:
                user = urllib.parse.unquote(match.group(1), errors="strict")
            except UnicodeDecodeError:
                user = ""
            if not (user.count("@") == 1 or GUID_RE.match(user)):
                match = None
        if not match:
            segments = [s for s in raw_path.split("/") if s]
            expected = ["v1.0", "users", None, "sendMail"]
            bad = raw_path
            for index, segment in enumerate(segments):
                want = expected[index] if index < len(expected) else ""
                if want is None:
                    continue
                if segment != want:
                    bad = urllib.parse.unquote(segment)
                    break
            else:
                bad = segments[-1] if segments else "/"
            raise GraphError(
                404, "ResourceNotFound",
                f"Resource not found for the segment '{bad}'. (This fake serves only "
                "POST /v1.0/users/{id | userPrincipalName}/sendMail.)",
                inner=True,
            )
        entry["user"] = user
        if self.command != "POST":
            raise GraphError(
                405, "BadRequest",
                f"The HTTP method '{self.command}' is not supported for sendMail; use POST.",
                headers={"Allow": "POST"}, inner=True,
            )
        if query:
            raise GraphError(400, "BadRequest",
                             f"sendMail takes no query options; got '?{query}'.", inner=True)

        authorization = self.headers.get("Authorization")
        if authorization is None or not authorization.strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.",
                             headers={"WWW-Authenticate": WWW_AUTHENTICATE}, inner=True)
        if not auth_ok:
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Access token validation failure. Invalid audience.",
                             headers={"WWW-Authenticate": WWW_AUTHENTICATE}, inner=True)

        if user.lower() in state.deny:
            raise GraphError(403, "ErrorAccessDenied", MSG_ACCESS_DENIED)
        if user.lower() not in state.mailboxes:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")

        content_type = self.headers.get("Content-Type")
        if content_type is None:
            raise GraphError(400, "BadRequest",
                             "Content-Type is missing; sendMail with a JSON body needs "
                             "'Content-Type: application/json'.")
        media, _, params = content_type.partition(";")
        media = media.strip().lower()
        if media == "text/plain":
            validate_mime_send(raw, user, entry)
        else:
            if media != "application/json":
                raise GraphError(400, "BadRequest",
                                 f"Content-Type '{content_type}' is not supported; use "
                                 "'application/json'.")
            for param in params.split(";"):
                name, _, value = param.strip().partition("=")
                if (name.strip().lower() == "charset"
                        and value.strip().strip('"').lower() != "utf-8"):
                    raise GraphError(400, "BadRequest",
                                     f"Content-Type charset '{value.strip()}' is not "
                                     "supported; the body must be UTF-8.")

            payload = parse_json_body(raw)
            self.reject_nulls(payload, "")
            validate_send_mail(payload, user)

        if state.take_throttle():
            raise GraphError(429, "ApplicationThrottled", MSG_THROTTLED,
                             headers={"Retry-After": "3"}, inner=True)
        if state.fail_status is not None:
            raise fail_status_error(state.fail_status)

    def reject_nulls(self, value, path):
        if value is None:
            raise body_error(
                f"'{path or 'body'}' is null; this fake refuses nulls: omit the "
                "property instead"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                self.reject_nulls(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.reject_nulls(item, f"{path}[{index}]")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def error_status(text):
    return peer_common.int_between(text, 400, 599)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Fake Microsoft Graph sendMail.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--mailbox", action="append", default=[])
    parser.add_argument("--deny", action="append", default=[])
    parser.add_argument("--throttle", type=peer_common.non_negative_int, default=0)
    parser.add_argument("--fail-status", type=error_status)
    parser.add_argument("--record")
    peer_common.add_standard_flags(parser)
    ns = parser.parse_args(argv)
    if not ns.token:
        parser.error("--token must not be empty")
    return ns


def main(argv=None):
    ns = parse_args(sys.argv[1:] if argv is None else argv)
    peer_common.setup_logging("graph_peer", ns.log_level)
    state = PeerState(ns)
    return http_fake.serve(
        GraphHandler, state, ns.port, ns.exit_on_stdin_eof,
        f"mailboxes={sorted(state.mailboxes)} deny={sorted(state.deny)} "
        f"throttle={ns.throttle} fail_status={ns.fail_status}",
    )


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A strict fake of Exchange Web Services (CreateItem sends) for the tests.

Standard library only (plus ``ntlm_server.py`` next to it); run it with
``/usr/bin/python3``.  One process per test; plain HTTP/1.1 with keep-alive
(every response has a Content-Length) on 127.0.0.1 only.  It accepts the
documented SOAP 1.1 ``CreateItem`` that sends one ``t:Message`` and answers
everything else as Exchange does where that is known (SOAP faults with HTTP
500, per-item errors with HTTP 200), otherwise with HTTP 400 and a SOAP fault
``a:ErrorInvalidRequest`` whose text starts with ``ews_peer:`` and says what
this fake refused.  Requests are parsed with expat into ElementTree elements
(DTDs refused) and namespaces are compared exactly.

Start-up protocol
-----------------
Once listening, exactly one line ``READY <port>`` is written to stdout and
flushed; nothing else goes to stdout.  Logs go to stderr (``--log-level``,
default ``info``).  SIGTERM/SIGINT stop the server with exit status 0; so does
end of file on stdin with ``--exit-on-stdin-eof``.  Bad arguments exit with
status 2, a failure to listen with status 1, both before ``READY``.

Flags
-----
--port N             TCP port on 127.0.0.1 (default 0: ephemeral).
--auth MODE          ``basic``, ``ntlm`` or ``bearer`` (required).
--user U             basic/ntlm: the account (compared case-insensitively;
                     required).  bearer: optional, the user of a delegated
                     token.  When U contains ``@`` it is also the caller's own
                     mailbox; otherwise the first --mailbox is.
--password P         basic/ntlm password (required with them).
--domain D           ntlm: the account's domain, also the NetBIOS domain in
                     the CHALLENGE (required with ntlm).
--token T            bearer: the one accepted token (required with bearer).
--mailbox ADDR       A mailbox that exists (repeatable, case-insensitive).
--send-as ADDR       An address the caller may put in ``t:From`` besides the
                     mailbox it acts as (repeatable).
--impersonation required|forbidden|any
                     Whether ``t:ExchangeImpersonation`` must / must not be
                     present (default any).  App-only OAuth needs
                     ``required``.
--response-code CODE Answer every otherwise valid CreateItem with
                     ``ResponseClass="Error"`` and this ResponseCode (HTTP
                     200), e.g. ErrorAccessDenied, ErrorNonExistentMailbox,
                     ErrorSendAsDenied, ErrorQuotaExceeded, ErrorServerBusy.
--message-text TEXT  MessageText for --response-code / --fault (default: the
                     text Exchange uses where known, see below).
--fault CODE         Answer otherwise valid requests with an HTTP 500 SOAP
                     fault ``a:CODE`` instead (ErrorServerBusy carries
                     ``BackOffMilliseconds``).
--fault-count N      Only the first N otherwise valid requests get --fault
                     (default 0: all of them).
--backoff-ms N       BackOffMilliseconds of an ErrorServerBusy fault (default
                     30000).
--record FILE        Append one JSON line per request (see below).
--log-level LEVEL    debug, info (default), warning, error.
--exit-on-stdin-eof  See above.

Known MessageText defaults: ErrorAccessDenied "Access is denied. Check
credentials and try again."; ErrorNonExistentMailbox "The SMTP address has
no mailbox associated with it."; ErrorSendAsDenied "The user account which
was used to submit this request does not have the right to send mail on
behalf of the specified sending account."; ErrorQuotaExceeded "Mailbox has
exceeded maximum mailbox size."; ErrorServerBusy "The server cannot service
this request right now. Try again later."; ErrorImpersonateUserDenied "The
account does not have permission to impersonate the requested user."; other
codes "ews_peer: simulated <CODE>".

HTTP layer, in order
--------------------
1. Path must be ``/EWS/Exchange.asmx`` (case-insensitive, as IIS); else 404
   (text/html body).
2. Authentication (before the method is looked at, as IIS does):
   basic   ``Authorization: Basic base64(user:password)``; otherwise 401,
           ``WWW-Authenticate: Basic realm="127.0.0.1"``.
   bearer  ``Authorization: Bearer <token>``; missing: 401 with
           ``WWW-Authenticate: Bearer client_id="00000002-0000-0ff1-ce00-000000000000",
           trusted_issuers="00000001-0000-0000-c000-000000000000@*",
           token_types="app_asserted_user_v1 service_asserted_app_v1",
           authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"``;
           wrong: the same plus ``, error="invalid_token"`` and
           ``x-ms-diagnostics: 2000003;reason="The audience claim value is
           invalid 'aud'.";error_category="invalid_resource"``.  Empty body.
   ntlm    Connection-oriented, state kept per TCP connection.  No
           Authorization (on a not yet authenticated connection), a failed
           AUTHENTICATE, an AUTHENTICATE without a preceding NEGOTIATE on this
           connection, a malformed token or any other scheme (``Negotiate`` is
           not implemented): 401 with two headers ``WWW-Authenticate:
           Negotiate`` and ``WWW-Authenticate: NTLM``.  ``Authorization: NTLM
           <b64 NEGOTIATE>``: 401 with ``WWW-Authenticate: NTLM <b64
           CHALLENGE>`` (whatever body came with it is read and dropped).
           ``Authorization: NTLM <b64 AUTHENTICATE>`` (NTLMv2 only, checked by
           ntlm_server.py against --user/--domain/--password): the request is
           then processed.  As IIS does by default, the connection stays
           authenticated: later requests on it need no Authorization header
           (a new NEGOTIATE restarts the handshake).
   401 bodies for basic/ntlm are a short text/html page, as IIS sends.
3. Method other than POST: 405 with ``Allow: POST``.
4. ``Content-Type`` must be ``text/xml`` with ``charset=utf-8`` (compared
   case-insensitively; other parameters refused); else 415 with the text
   "Cannot process the message because the content type '<ct>' was not the
   expected type 'text/xml; charset=utf-8'."

SOAP request required
---------------------
::

  <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
      xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
    <soap:Header>
      <t:RequestServerVersion Version="Exchange2013_SP1"/>
      <t:ExchangeImpersonation>                          (optional)
        <t:ConnectingSID><t:SmtpAddress>a@b</t:SmtpAddress></t:ConnectingSID>
      </t:ExchangeImpersonation>
    </soap:Header>
    <soap:Body>
      <m:CreateItem MessageDisposition="SendAndSaveCopy">
        <m:SavedItemFolderId>
          <t:DistinguishedFolderId Id="sentitems"/>     (optionally with a
        </m:SavedItemFolderId>                           t:Mailbox child)
        <m:Items><t:Message>...</t:Message></m:Items>
      </m:CreateItem>
    </soap:Body>
  </soap:Envelope>

Envelope: ``Header`` (optional) then ``Body``, nothing else.  Header children
(any order, each at most once): ``t:RequestServerVersion`` (required here,
``Version`` from the ExchangeVersionType enumeration: Exchange2007,
Exchange2007_SP1, Exchange2009, Exchange2010, Exchange2010_SP1,
Exchange2010_SP2, Exchange2012, Exchange2013, Exchange2013_SP1, Exchange2015,
Exchange2016, V2015_10_05, V2016_01_06, V2016_04_13, V2016_07_13,
V2016_10_10), ``t:ExchangeImpersonation`` (ConnectingSID with exactly one of
PrincipalName, SID, PrimarySmtpAddress, SmtpAddress; SID is not supported
here), ``t:MailboxCulture``, ``t:TimeZoneContext``.  Body: exactly one
``m:CreateItem`` (other operations: 400).  CreateItem attributes:
``MessageDisposition`` = ``SendAndSaveCopy`` (then ``m:SavedItemFolderId``
with ``t:DistinguishedFolderId Id="sentitems"`` is required here) or
``SendOnly`` (then SavedItemFolderId must be absent); ``SaveOnly`` is refused
(400, not a send).  ``m:Items`` holds exactly one ``t:Message``.

``t:Message`` children must follow the types.xsd sequence (ItemType, then
MessageType).  The ones this fake takes, in the required order:
MimeContent (see below), ItemClass (IPM.Note or IPM.Note.*), Subject,
Sensitivity, Body (``BodyType`` "HTML" or "Text", exact case; text content
only), Attachments
(t:FileAttachment with Name, optional ContentType/ContentId/IsInline, and
base64 Content), Importance, InReplyTo, ExtendedProperty* (ExtendedFieldURI
then Value|Values; for X-headers ``DistinguishedPropertySetId=
"InternetHeaders" PropertyName="X-..." PropertyType="String"``),
ToRecipients, CcRecipients, BccRecipients, IsReadReceiptRequested,
IsDeliveryReceiptRequested, From, InternetMessageId, IsRead,
IsResponseRequested, References, ReplyTo.  Recipient lists hold only
``t:Mailbox``; a Mailbox is the sequence Name?, EmailAddress, RoutingType?
(SMTP), MailboxType?, (ItemId and OriginalDisplayName refused).  From holds
exactly one Mailbox.  Other schema elements of Message: read-only ones get
ErrorInvalidPropertySet "Set action is invalid for property." (HTTP 200),
settable ones not used by outmail a 400.

MIME items: ``t:MimeContent`` (optional ``CharacterSet`` attribute, which
Exchange ignores; no other attribute; text only) holds the base64 of an RFC
5322 message; as ItemType's first child it comes before every other element,
and any of the elements above may follow it in the same order (none is
required: subject and body come from the MIME), e.g.::

  <t:Message><t:MimeContent CharacterSet="UTF-8">RnJvbTog...</t:MimeContent>
    <t:BccRecipients><t:Mailbox><t:EmailAddress>audit@example.org
    </t:EmailAddress></t:Mailbox></t:BccRecipients></t:Message>

The value is xs:string in the schema, so bad base64 is an item error, not a
schema one.  Whitespace (space, tab, CR, LF) in the base64 is ignored; the
decoded message may end its lines in CRLF or LF.  It is parsed with Python's
``email`` package (``policy=email.policy.default``) and must have header
fields (no leading mbox ``From `` line, no continuation line first), no
header line without a colon, no multipart without or with a missing
boundary, at most one each of Date, From, Sender, Reply-To, To, Cc, Bcc,
Message-ID, In-Reply-To, References and Subject, and exactly one From field
holding exactly one mailbox.  The MIME From is the sending address unless a
``t:From`` element is given; the MIME To and Cc addresses count as
recipients together with the To/Cc/BccRecipients elements.  A Bcc header
field in the MIME is recorded but neither counted nor checked: outmail must
give blind recipients as ``t:BccRecipients`` elements, and the record lets a
test see which way they went.

Answers
-------
Schema problems (unknown or misplaced element, wrong namespace, missing
required element/attribute, bad enumeration or boolean, text where elements
belong, malformed XML, DTD): HTTP 500 SOAP fault
``a:ErrorSchemaValidation``, faultstring "The request failed schema
validation: <violation>", detail ``e:ResponseCode``, ``e:Message`` "The
request failed schema validation." and ``t:MessageXml`` with
``t:LineNumber``, ``t:LinePosition``, ``t:Violation``.  Violations read like
.NET's, e.g. "The element 'Message' in namespace '<types>' has invalid child
element 'ToRecipients' in namespace '<types>'. List of possible elements
expected: '...' in namespace '<types>'."

Header problems (HTTP 500 SOAP faults):
  RequestServerVersion missing, Version missing or not in the enumeration:
    ``a:ErrorInvalidServerVersion`` "The specified server version is
    invalid." (Exchange Online's answer to an unknown version; a missing
    header is really treated as Exchange2007 by Exchange; refused here).
  --impersonation required and no ExchangeImpersonation:
    ``a:ErrorInvalidExchangeImpersonationHeaderData`` "ExchangeImpersonation
    SOAP header must be present for this type of OAuth token."
  --impersonation forbidden and ExchangeImpersonation present: bearer:
    ``a:ErrorInvalidExchangeImpersonationHeaderData`` "ExchangeImpersonation
    SOAP header must not exist for this type of OAuth token."; basic/ntlm:
    ``a:ErrorImpersonateUserDenied`` "The account does not have permission to
    impersonate the requested user."
  Empty ConnectingSID value: ``a:ErrorInvalidExchangeImpersonationHeaderData``.
  Impersonated address not a --mailbox: ``a:ErrorNonExistentMailbox`` "The
    SMTP address has no mailbox associated with it."
  Impersonation without ``X-AnchorMailbox`` equal (case-insensitive) to the
    impersonated address: ``a:ErrorInternalServerError`` "An internal server
    error occurred. The operation failed." plus an ews_peer explanation
    (Exchange Online documents "500 or 503 at times" for this).

Item problems, in this order (HTTP 200, ``ResponseClass="Error"``,
``m:MessageText``, ``m:ResponseCode``, ``m:DescriptiveLinkKey`` 0, empty
``m:Items``; the 400 refusals of this fake are interleaved where noted):
  no MessageDisposition: ErrorMessageDispositionRequired "MessageDisposition
    is required for this operation."; (SaveOnly: 400);
  SendOnly with SavedItemFolderId: ErrorInvalidSendItemSaveSettings
    "SavedItemFolderId cannot be specified when MessageDisposition is
    SendOnly."; (SendAndSaveCopy without it, or a folder other than
    sentitems: 400);
  a read-only Message (or FileAttachment) child: ErrorInvalidPropertySet
    "Set action is invalid for property."; (ItemClass not IPM.Note: 400);
  FileAttachment without Name or Content: ErrorRequiredPropertyMissing
    "Required property is missing.";
  MimeContent not base64: ErrorMimeContentInvalidBase64String "Invalid
    base64 string for MIME content.";
  MimeContent decoding to nothing, to no message or to one breaking the MIME
    rules above: ErrorMimeContentInvalid "The MIME content is invalid.
    (ews_peer: <what>.)" (the ResponseCodeType documentation's codes for
    these two cases; ErrorMimeContentConversionFailed is documented for iCal
    content only);
  SavedItemFolderId mailbox, or the sending mailbox (From, else the MIME
    From, else the impersonated address, else the caller's mailbox) not a
    --mailbox: ErrorNonExistentMailbox (text above);
  From (element, else MIME) not the acting mailbox nor a --send-as:
    ErrorSendAsDenied (text above);
  no Mailbox in To/Cc/Bcc and no MIME To/Cc address: ErrorInvalidRecipients
    "At least one recipient is not valid., A message can't be sent because it
    contains no recipients.";
  a Mailbox (To/Cc/Bcc/ReplyTo/From) without EmailAddress, or an address
    (those, then MIME From/To/Cc/Reply-To) with no or several ``@``,
    whitespace, control characters or ``<>,;"``: ErrorInvalidRecipients "At
    least one recipient isn't valid., Recipient \"<a>\" isn't resolved. All
    recipients must be resolved before a message can be submitted.";
  more than 500 in To+Cc+Bcc (elements and MIME To/Cc):
    ErrorExceededMaxRecipientLimit;
  then --fault (HTTP 500 fault) / --response-code as configured.

Success: HTTP 200, ``Content-Type: text/xml; charset=utf-8``::

  <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
    <s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="20"
      MajorBuildNumber="8835" MinorBuildNumber="22" Version="V2018_01_08"
      xmlns:h="<types>" .../></s:Header>
    <s:Body ...><m:CreateItemResponse xmlns:m="<messages>" xmlns:t="<types>">
      <m:ResponseMessages>
        <m:CreateItemResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode><m:Items/>
        </m:CreateItemResponseMessage>
      </m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>

Record file
-----------
One JSON object per line, flushed before the response is sent: ``method``,
``path``, ``query``, ``headers`` (names lower-cased; Authorization replaced by
``"Basic <ok>"``, ``"Bearer <ok>"``, ``"NTLM <negotiate>"``, ``"NTLM
<authenticate ok>"`` or ``"<bad>"``), ``auth`` (``{"scheme", "user",
"domain"}`` of the authenticated caller, or null), ``soap`` (summary, or null
when the body was not parsed that far: ``version``, ``impersonated``,
``anchor_mailbox``, ``disposition``, ``saved_folder`` ``{"id", "mailbox"}``,
``item_class``, ``subject``, ``body_type``, ``body``, ``importance``,
``sensitivity``, ``in_reply_to``, ``internet_message_id``, ``references``,
``from``, ``to``, ``cc``, ``bcc``, ``reply_to`` (``{"name", "address"}``
objects / lists), ``is_read_receipt_requested``,
``is_delivery_receipt_requested``, ``is_read``, ``is_response_requested``,
``extended_properties`` (list of ``{"set", "set_id", "tag", "name", "id",
"type", "value", "values"}``), ``internet_headers`` (list of ``[name,
value]`` from the InternetHeaders set), ``attachments`` (list of ``{"name",
"content_type", "content_id", "is_inline", "size"}``)), ``soap_xml`` (the
request body as text), ``status`` (int), ``response_code`` (NoError, the
error ResponseCode or fault code, or null) and ``error`` (the message given,
or null).

A Message with ``t:MimeContent`` adds three keys to ``soap`` (absent
otherwise): ``mime_character_set`` (the attribute or null), ``mime`` (the
decoded message as text, UTF-8 with invalid bytes replaced, or null when the
value is not base64; ``soap_xml`` has the exact base64) and ``mime_message``
(null unless the message parsed under the rules above, else ``{"from":
{"name", "address"}, "to", "cc", "bcc", "reply_to": [{"name", "address"}],
"subject", "message_id", "content_type"}`` read from the MIME header fields,
``name`` null when absent).  ``to``/``cc``/``bcc`` stay the elements' lists,
so a Bcc sent as an element shows in ``soap.bcc`` and a Bcc header field in
``soap.mime_message.bcc``.  Example (abridged)::

  "soap": {"version": "Exchange2013_SP1", "disposition": "SendAndSaveCopy",
           "mime_character_set": "UTF-8",
           "mime": "From: Relay <relay@corp.example.com>\\r\\n
                    To: ops@example.net\\r\\nSubject: Hi\\r\\n\\r\\n
                    Hello\\r\\n",
           "mime_message": {
               "from": {"name": "Relay", "address": "relay@corp.example.com"},
               "to": [{"name": null, "address": "ops@example.net"}],
               "cc": [], "bcc": [], "reply_to": [], "subject": "Hi",
               "message_id": null, "content_type": "text/plain"},
           "to": [], "cc": [],
           "bcc": [{"name": null, "address": "audit@example.org"}], ...}
"""

import argparse
import base64
import binascii
import logging
import os
import re
import sys
import uuid
import xml.etree.ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_fake  # noqa: E402  (lives next to this file)
import ntlm_server  # noqa: E402  (lives next to this file)
import peer_common  # noqa: E402  (lives next to this file)

LOG = logging.getLogger("ews_peer")
EWS_PATH = "/ews/exchange.asmx"
MAX_RECIPIENTS = 500

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages"
NS_T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS_E = "http://schemas.microsoft.com/exchange/services/2006/errors"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XSD = "http://www.w3.org/2001/XMLSchema"

EXCHANGE_VERSIONS = (
    "Exchange2007", "Exchange2007_SP1", "Exchange2009", "Exchange2010",
    "Exchange2010_SP1", "Exchange2010_SP2", "Exchange2012", "Exchange2013",
    "Exchange2013_SP1", "Exchange2015", "Exchange2016", "V2015_10_05",
    "V2016_01_06", "V2016_04_13", "V2016_07_13", "V2016_10_10",
)
DISTINGUISHED_FOLDERS = (
    "calendar contacts deleteditems drafts inbox journal notes outbox sentitems "
    "tasks msgfolderroot publicfoldersroot root junkemail searchfolders voicemail "
    "recoverableitemsroot recoverableitemsdeletions recoverableitemsversions "
    "recoverableitemspurges recoverableitemsdiscoveryholds archiveroot "
    "archivemsgfolderroot archivedeleteditems archiveinbox archiverecoverableitemsroot "
    "archiverecoverableitemsdeletions archiverecoverableitemsversions "
    "archiverecoverableitemspurges archiverecoverableitemsdiscoveryholds syncissues "
    "conflicts localfailures serverfailures recipientcache quickcontacts "
    "conversationhistory adminauditlogs todosearch mycontacts directory "
    "imcontactlist peopleconnect favorites mecontact personmetadata "
    "teamspaceactivity teamspacemessaging teamspaceworkitems scheduled orionnotes "
    "tagitems alltaggeditems externalcontacts teamchat yammerroot yammerinbound "
    "yammeroutbound yammerfeeds onedriveroot onedriverecylebin onedrivesystem "
    "onedrivevolume"
).split()
DISPOSITIONS = ("SaveOnly", "SendOnly", "SendAndSaveCopy")
MEETING_INVITATIONS = ("SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy")
BODY_TYPES = ("HTML", "Text")
IMPORTANCE = ("Low", "Normal", "High")
SENSITIVITY = ("Normal", "Personal", "Private", "Confidential")
MAILBOX_TYPES = ("Unknown", "OneOff", "Mailbox", "PublicDL", "PrivateDL", "Contact",
                 "PublicFolder", "GroupMailbox", "ImplicitContact")
PROPERTY_SETS = ("Meeting", "Appointment", "Common", "PublicStrings", "Address",
                 "InternetHeaders", "CalendarAssistant", "UnifiedMessaging", "Task",
                 "Sharing")
PROPERTY_TYPES = (
    "ApplicationTime ApplicationTimeArray Binary BinaryArray Boolean CLSID CLSIDArray "
    "Currency CurrencyArray Double DoubleArray Error Float FloatArray Integer "
    "IntegerArray Long LongArray Null Object ObjectArray Short ShortArray SystemTime "
    "SystemTimeArray String StringArray"
).split()

ITEM_ORDER = (
    "MimeContent ItemId ParentFolderId ItemClass Subject Sensitivity Body Attachments "
    "DateTimeReceived Size Categories Importance InReplyTo IsSubmitted IsDraft IsFromMe "
    "IsResend IsUnmodified InternetMessageHeaders DateTimeSent DateTimeCreated "
    "ResponseObjects ReminderDueBy ReminderIsSet ReminderNextTime "
    "ReminderMinutesBeforeStart DisplayCc DisplayTo DisplayBcc HasAttachments "
    "ExtendedProperty Culture EffectiveRights LastModifiedName LastModifiedTime "
    "IsAssociated WebClientReadFormQueryString WebClientEditFormQueryString "
    "ConversationId UniqueBody Flag StoreEntryId InstanceKey NormalizedBody "
    "EntityExtractionResult PolicyTag ArchiveTag RetentionDate Preview "
    "RightsManagementLicenseData PredictedActionReasons IsClutter BlockStatus "
    "HasBlockedImages TextBody IconIndex SearchKey SortKey Hashtags Mentions "
    "MentionedMe MentionsPreview MentionsEx AppliedHashtags AppliedHashtagsPreview "
    "Likes LikesPreview PendingSocialActivityTagIds AtAllMention CanDelete "
    "InferenceClassification"
).split()
MESSAGE_ORDER = (
    "Sender ToRecipients CcRecipients BccRecipients IsReadReceiptRequested "
    "IsDeliveryReceiptRequested ConversationIndex ConversationTopic From "
    "InternetMessageId IsRead IsResponseRequested References ReplyTo ReceivedBy "
    "ReceivedRepresenting ApprovalRequestData VotingInformation ReminderMessageData "
    "SenderSMTPAddress MailboxGuids"
).split()
MESSAGE_SEQUENCE = [
    (NS_T, name, 0, None if name == "ExtendedProperty" else 1)
    for name in ITEM_ORDER + MESSAGE_ORDER
]
SUPPORTED_MESSAGE_CHILDREN = {
    "MimeContent", "ItemClass", "Subject", "Sensitivity", "Body", "Attachments", "Importance",
    "InReplyTo", "ExtendedProperty", "ToRecipients", "CcRecipients",
    "BccRecipients", "IsReadReceiptRequested", "IsDeliveryReceiptRequested",
    "From", "InternetMessageId", "IsRead", "IsResponseRequested", "References",
    "ReplyTo",
}
READ_ONLY_MESSAGE_CHILDREN = {
    "ItemId", "ParentFolderId", "DateTimeReceived", "Size", "IsSubmitted",
    "IsDraft", "IsFromMe", "IsResend", "IsUnmodified", "InternetMessageHeaders",
    "DateTimeSent", "DateTimeCreated", "ResponseObjects", "DisplayCc", "DisplayTo",
    "DisplayBcc", "HasAttachments", "EffectiveRights", "LastModifiedName",
    "LastModifiedTime", "WebClientReadFormQueryString",
    "WebClientEditFormQueryString", "ConversationId", "UniqueBody", "StoreEntryId",
    "InstanceKey", "NormalizedBody", "EntityExtractionResult", "Preview",
    "TextBody", "IconIndex", "SearchKey", "SortKey", "MentionedMe",
    "MentionsPreview", "AppliedHashtagsPreview", "LikesPreview", "CanDelete",
    "ReceivedBy", "ReceivedRepresenting", "MailboxGuids", "IsAssociated",
    "HasBlockedImages", "BlockStatus", "PredictedActionReasons", "IsClutter",
}
EMAIL_ADDRESS_SEQUENCE = [
    (NS_T, "Name", 0, 1), (NS_T, "EmailAddress", 0, 1), (NS_T, "RoutingType", 0, 1),
    (NS_T, "MailboxType", 0, 1), (NS_T, "ItemId", 0, 1),
    (NS_T, "OriginalDisplayName", 0, 1),
]
FILE_ATTACHMENT_SEQUENCE = [
    (NS_T, name, 0, 1) for name in (
        "AttachmentId", "Name", "ContentType", "ContentId", "ContentLocation",
        "AttachmentOriginalUrl", "Size", "LastModifiedTime", "IsInline",
        "IsContactPhoto", "Content",
    )
]
ITEM_KINDS = (
    "Item Message CalendarItem Contact DistributionList MeetingMessage MeetingRequest "
    "MeetingResponse MeetingCancellation Task PostItem ReplyToItem ForwardItem "
    "ReplyAllToItem AcceptItem TentativelyAcceptItem DeclineItem CancelCalendarItem "
    "RemoveItem SuppressReadReceipt PostReplyItem AcceptSharingInvitation RoleMember "
    "Network Person"
).split()
HEADER_ELEMENTS = ("RequestServerVersion", "ExchangeImpersonation", "MailboxCulture",
                   "TimeZoneContext")

TEXT_ACCESS_DENIED = "Access is denied. Check credentials and try again."
TEXT_NO_MAILBOX = "The SMTP address has no mailbox associated with it."
TEXT_SEND_AS_DENIED = (
    "The user account which was used to submit this request does not have the "
    "right to send mail on behalf of the specified sending account."
)
TEXT_SERVER_BUSY = "The server cannot service this request right now. Try again later."
TEXT_IMPERSONATE_DENIED = (
    "The account does not have permission to impersonate the requested user."
)
TEXT_NO_RECIPIENTS = (
    "At least one recipient is not valid., A message can't be sent because it "
    "contains no recipients."
)
# MimeContent (ResponseCodeType: "ErrorMimeContentInvalidBase64String: the MIME
# content in the request is not a valid base 64 string", "ErrorMimeContentInvalid:
# the MIME content is invalid"; ErrorMimeContentConversionFailed is documented for
# iCal content, not messages).  The first text is Exchange's, as Graph passes it on.
TEXT_MIME_BASE64 = "Invalid base64 string for MIME content."
TEXT_MIME_INVALID = "The MIME content is invalid."
# What the XML base64Binary lexical space lets through between characters, the
# parser defects that mean the bytes are no message, and the fields RFC 5322
# allows at most once.
BASE64_WHITESPACE = {ord(c): None for c in " \t\r\n"}
KNOWN_TEXTS = {
    "ErrorAccessDenied": TEXT_ACCESS_DENIED,
    "ErrorNonExistentMailbox": TEXT_NO_MAILBOX,
    "ErrorSendAsDenied": TEXT_SEND_AS_DENIED,
    "ErrorQuotaExceeded": "Mailbox has exceeded maximum mailbox size.",
    "ErrorServerBusy": TEXT_SERVER_BUSY,
    "ErrorImpersonateUserDenied": TEXT_IMPERSONATE_DENIED,
    "ErrorInternalServerError": "An internal server error occurred. The operation failed.",
}

BEARER_CHALLENGE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
    'token_types="app_asserted_user_v1 service_asserted_app_v1", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'
)
BEARER_DIAGNOSTICS = (
    '2000003;reason="The audience claim value is invalid \'aud\'.";'
    'error_category="invalid_resource"'
)
IIS_401_BODY = (
    b"<!DOCTYPE html><html><head><title>401 - Unauthorized</title></head><body>"
    b"<h1>401 - Unauthorized: Access is denied due to invalid credentials.</h1>"
    b"</body></html>"
)
XML_TYPE = "text/xml; charset=utf-8"


# ---------------------------------------------------------------------------
# Answers other than success
# ---------------------------------------------------------------------------

class HttpReject(Exception):
    """A non-SOAP HTTP answer (401, 404, 405, 415, 400 framing)."""

    def __init__(self, status, reason, headers=(), body=b"", content_type=None,
                 record_code=None):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason
        self.headers = list(headers)
        self.body = body
        self.content_type = content_type
        self.record_code = record_code


class Fault(Exception):
    """A SOAP fault (HTTP 500 unless told otherwise)."""

    def __init__(self, code, text, status=500, message=None, message_xml=""):
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.status = status
        self.message = message if message is not None else text
        self.message_xml = message_xml


class ItemError(Exception):
    """A per-item error: HTTP 200, ResponseClass="Error"."""

    def __init__(self, code, text):
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


def refuse(text):
    """Valid EWS (maybe) but not what this fake takes: HTTP 400."""
    return Fault("ErrorInvalidRequest", f"ews_peer: {text}", status=400)


class Positions:
    """Line/column of each element's start tag (1-based, like .NET)."""

    def __init__(self):
        self.table = {}

    def of(self, elem):
        return self.table.get(id(elem), (0, 0))


def schema_error(violation, positions, elem=None, where=None):
    line, column = where if where else positions.of(elem)
    message_xml = (
        f"<t:MessageXml xmlns:t=\"{NS_T}\"><t:LineNumber>{line}</t:LineNumber>"
        f"<t:LinePosition>{column}</t:LinePosition>"
        f"<t:Violation>{escape(violation)}</t:Violation></t:MessageXml>"
    )
    return Fault(
        "ErrorSchemaValidation",
        f"The request failed schema validation: {violation}",
        message="The request failed schema validation.",
        message_xml=message_xml,
    )


def fault_xml(fault):
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{NS_SOAP}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="{NS_T}">a:{fault.code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(fault.text)}</faultstring>'
        "<detail>"
        f'<e:ResponseCode xmlns:e="{NS_E}">{fault.code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{NS_E}">{escape(fault.message)}</e:Message>'
        f"{fault.message_xml}"
        "</detail></s:Fault></s:Body></s:Envelope>"
    ).encode("utf-8")


def response_xml(code, text=None):
    if code == "NoError":
        inner = (
            '<m:CreateItemResponseMessage ResponseClass="Success">'
            "<m:ResponseCode>NoError</m:ResponseCode><m:Items/>"
            "</m:CreateItemResponseMessage>"
        )
    else:
        inner = (
            '<m:CreateItemResponseMessage ResponseClass="Error">'
            f"<m:MessageText>{escape(text or '')}</m:MessageText>"
            f"<m:ResponseCode>{code}</m:ResponseCode>"
            "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/>"
            "</m:CreateItemResponseMessage>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{NS_SOAP}"><s:Header>'
        '<h:ServerVersionInfo MajorVersion="15" MinorVersion="20" '
        'MajorBuildNumber="8835" MinorBuildNumber="22" Version="V2018_01_08" '
        f'xmlns:h="{NS_T}" xmlns="{NS_T}" xmlns:xsd="{NS_XSD}" xmlns:xsi="{NS_XSI}"/>'
        f'</s:Header><s:Body xmlns:xsi="{NS_XSI}" xmlns:xsd="{NS_XSD}">'
        f'<m:CreateItemResponse xmlns:m="{NS_M}" xmlns:t="{NS_T}">'
        f"<m:ResponseMessages>{inner}</m:ResponseMessages>"
        "</m:CreateItemResponse></s:Body></s:Envelope>"
    ).encode("utf-8")


# ---------------------------------------------------------------------------
# XML parsing and schema helpers
# ---------------------------------------------------------------------------

class _DtdFound(Exception):
    pass


def parse_xml(raw):
    """Bytes -> (root Element, Positions); raises a schema Fault."""
    positions = Positions()
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def fix(name):
        return "{" + name if "}" in name else name

    def start(name, attrs):
        elem = builder.start(fix(name), {fix(k): v for k, v in attrs.items()})
        positions.table[id(elem)] = (parser.CurrentLineNumber,
                                     parser.CurrentColumnNumber + 2)

    def end(name):
        builder.end(fix(name))

    def doctype(*_):
        raise _DtdFound()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(raw, True)
    except _DtdFound:
        line = parser.CurrentLineNumber
        column = parser.CurrentColumnNumber + 1
        raise schema_error(
            "For security reasons DTD is prohibited in this XML document.",
            positions, where=(line, column)) from None
    except expat.ExpatError as error:
        violation = (f"{expat.errors.messages[error.code]}. Line {error.lineno}, "
                     f"position {error.offset + 1}.")
        raise schema_error(violation, positions,
                           where=(error.lineno, error.offset + 1)) from None
    root = builder.close()
    # Keep the elements alive with their ids valid: the tree owns them.
    return root, positions


def split(elem):
    tag = elem.tag
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def label(elem):
    ns, local = split(elem)
    return f"'{local}' in namespace '{ns}'" if ns else f"'{local}'"


class Validator:
    """Schema-style checks that raise Faults naming line and position."""

    def __init__(self, positions):
        self.positions = positions

    def error(self, violation, elem):
        return schema_error(violation, self.positions, elem)

    def no_text(self, elem, expected=""):
        texts = [elem.text or ""] + [child.tail or "" for child in elem]
        if any(t.strip() for t in texts):
            extra = f" List of possible elements expected: {expected}." if expected else ""
            raise self.error(f"The element {label(elem)} cannot contain text.{extra}", elem)

    def text_only(self, elem, type_name="string"):
        if len(elem):
            child = elem[0]
            raise self.error(
                f"The element {label(elem)} cannot contain child element "
                f"{label(child)} because the parent element's content model is text only.",
                child)
        return elem.text or ""

    def attrs(self, elem, allowed=(), required=(), soap_any=False):
        for name in elem.attrib:
            if name in allowed:
                continue
            if soap_any and name.startswith("{" + NS_SOAP + "}"):
                continue
            shown = name if not name.startswith("{") else name.split("}")[1]
            raise self.error(f"The '{shown}' attribute is not declared.", elem)
        for name in required:
            if name not in elem.attrib:
                raise self.error(f"The required attribute '{name}' is missing.", elem)

    def enum_attr(self, elem, name, values, type_name):
        value = elem.attrib.get(name)
        if value is not None and value not in values:
            raise self.error(
                f"The '{name}' attribute is invalid - The value '{value}' is invalid "
                f"according to its datatype '{NS_T}:{type_name}' - The Enumeration "
                "constraint failed.", elem)
        return value

    def enum_text(self, elem, values, type_name):
        value = self.text_only(elem).strip()
        if value not in values:
            raise self.error(
                f"The '{NS_T}:{split(elem)[1]}' element is invalid - The value "
                f"'{value}' is invalid according to its datatype '{NS_T}:{type_name}' "
                "- The Enumeration constraint failed.", elem)
        return value

    def boolean(self, elem):
        self.attrs(elem)
        value = self.text_only(elem).strip()
        if value not in ("true", "false", "1", "0"):
            raise self.error(
                f"The '{NS_T}:{split(elem)[1]}' element is invalid - The value "
                f"'{value}' is invalid according to its datatype "
                f"'{NS_XSD}:boolean' - The string '{value}' is not a valid Boolean "
                "value.", elem)
        return value in ("true", "1")

    def non_empty(self, elem):
        self.attrs(elem)
        value = self.text_only(elem)
        if value == "":
            raise self.error(
                f"The '{NS_T}:{split(elem)[1]}' element is invalid - The value '' is "
                f"invalid according to its datatype '{NS_T}:NonEmptyStringType' - "
                "The actual length is less than the MinLength value.", elem)
        return value

    def string(self, elem):
        self.attrs(elem)
        return self.text_only(elem)

    def sequence(self, parent, spec):
        """spec: [(ns, name, min, max|None)]; returns {name: [elements]}."""
        self.no_text(parent, self._expected(spec, 0, {}))
        found = {}
        index = 0
        counts = {}
        for child in parent:
            ns, local = split(child)
            position = None
            for j in range(index, len(spec)):
                s_ns, s_name, _, s_max = spec[j]
                if (s_ns, s_name) == (ns, local):
                    if j == index and s_max is not None and counts.get(j, 0) >= s_max:
                        continue
                    position = j
                    break
            if position is None:
                expected = self._expected(spec, index, counts)
                tail = f" List of possible elements expected: {expected}." if expected else ""
                raise self.error(
                    f"The element {label(parent)} has invalid child element "
                    f"{label(child)}.{tail}", child)
            # Skipping over a required element is an error too.
            for j in range(index, position):
                if spec[j][2] > counts.get(j, 0):
                    raise self.error(
                        f"The element {label(parent)} has invalid child element "
                        f"{label(child)}. List of possible elements expected: "
                        f"{self._expected(spec, j, counts)}.", child)
            index = position
            counts[position] = counts.get(position, 0) + 1
            found.setdefault(local, []).append(child)
        for j in range(index, len(spec)):
            if spec[j][2] > counts.get(j, 0):
                raise self.error(
                    f"The element {label(parent)} has incomplete content. List of "
                    f"possible elements expected: {self._expected(spec, j, counts)}.",
                    parent)
        return found

    @staticmethod
    def _expected(spec, index, counts):
        groups = []
        for j in range(index, len(spec)):
            ns, name, minimum, maximum = spec[j]
            if maximum is not None and counts.get(j, 0) >= maximum:
                continue
            if groups and groups[-1][0] == ns:
                groups[-1][1].append(name)
            else:
                groups.append((ns, [name]))
            if minimum > counts.get(j, 0):
                break
        return " as well as ".join(
            f"'{', '.join(names)}' in namespace '{ns}'" for ns, names in groups
        )

    def choice_one(self, parent, ns, names):
        """Exactly one child, among `names` in `ns`."""
        self.no_text(parent)
        children = list(parent)
        expected = f"'{', '.join(names)}' in namespace '{ns}'"
        if not children:
            raise self.error(
                f"The element {label(parent)} has incomplete content. List of possible "
                f"elements expected: {expected}.", parent)
        first = children[0]
        if split(first) not in [(ns, n) for n in names]:
            raise self.error(
                f"The element {label(parent)} has invalid child element {label(first)}. "
                f"List of possible elements expected: {expected}.", first)
        if len(children) > 1:
            raise self.error(
                f"The element {label(parent)} has invalid child element "
                f"{label(children[1])}.", children[1])
        return first


def decode_mime_content(text):
    """The bytes of a MimeContent value (whitespace ignored), or None."""
    try:
        return base64.b64decode(text.translate(BASE64_WHITESPACE), validate=True)
    except (binascii.Error, ValueError):
        return None


def unresolved(address):
    return ItemError(
        "ErrorInvalidRecipients",
        f"At least one recipient isn't valid., Recipient \"{address}\" isn't resolved. "
        "All recipients must be resolved before a message can be submitted.",
    )


# ---------------------------------------------------------------------------
# The CreateItem request
# ---------------------------------------------------------------------------

class Request:
    """Validates one SOAP request; fills `summary` as it goes."""

    def __init__(self, config, raw, principal, anchor, summary):
        self.config = config
        self.raw = raw
        self.principal = principal
        self.anchor = anchor
        self.summary = summary

    def run(self):
        root, positions = parse_xml(self.raw)
        v = self.v = Validator(positions)
        if split(root) != (NS_SOAP, "Envelope"):
            raise v.error(
                f"The root element must be 'Envelope' in namespace '{NS_SOAP}' "
                f"(SOAP 1.1); got {label(root)}.", root)
        found = v.sequence(root, [(NS_SOAP, "Header", 0, 1), (NS_SOAP, "Body", 1, 1)])
        header = found.get("Header", [None])[0]
        body = found["Body"][0]

        headers = self.check_header_schema(header)
        create = self.check_body_schema(body)
        message = self.check_create_schema(create)
        items = self.check_message_schema(message)

        # Header semantics (SOAP faults).
        self.check_version(headers.get("RequestServerVersion"))
        impersonated = self.check_impersonation(headers.get("ExchangeImpersonation"))
        acting = impersonated or self.principal_mailbox()

        # Item semantics (ResponseClass="Error").
        self.check_disposition(create)
        self.check_item(items, acting, impersonated)

    # -- schema pass ---------------------------------------------------------

    def check_header_schema(self, header):
        v = self.v
        if header is None:
            return {}
        v.no_text(header)
        v.attrs(header, soap_any=True)
        seen = {}
        for child in header:
            ns, local = split(child)
            if ns != NS_T or local not in HEADER_ELEMENTS:
                raise v.error(
                    f"The SOAP header {label(child)} is not allowed for CreateItem "
                    f"(allowed: {', '.join(HEADER_ELEMENTS)} in namespace '{NS_T}').",
                    child)
            if local in seen:
                raise v.error(f"The SOAP header {label(child)} appears twice.", child)
            seen[local] = child
        if "RequestServerVersion" in seen:
            elem = seen["RequestServerVersion"]
            v.attrs(elem, allowed=("Version",), soap_any=True)
            v.no_text(elem)
            if len(elem):
                raise v.error(f"The element {label(elem)} cannot contain child element "
                              f"{label(elem[0])}.", elem[0])
            self.summary["version"] = elem.attrib.get("Version")
        if "ExchangeImpersonation" in seen:
            elem = seen["ExchangeImpersonation"]
            v.attrs(elem, soap_any=True)
            sid = v.sequence(elem, [(NS_T, "ConnectingSID", 1, 1)])["ConnectingSID"][0]
            v.attrs(sid)
            which = v.choice_one(sid, NS_T, ("PrincipalName", "SID",
                                             "PrimarySmtpAddress", "SmtpAddress"))
            v.attrs(which)
            value = v.text_only(which).strip()
            self.summary["impersonated"] = value
            self.impersonation_kind = split(which)[1]
        if "MailboxCulture" in seen:
            elem = seen["MailboxCulture"]
            v.attrs(elem, soap_any=True)
            self.summary["mailbox_culture"] = v.text_only(elem).strip()
        if "TimeZoneContext" in seen:
            elem = seen["TimeZoneContext"]
            v.attrs(elem, soap_any=True)
            v.no_text(elem)
            children = list(elem)
            if len(children) != 1 or split(children[0]) != (NS_T, "TimeZoneDefinition"):
                raise v.error(
                    f"The element {label(elem)} must hold exactly one "
                    f"'TimeZoneDefinition' in namespace '{NS_T}'.", elem)
            self.summary["time_zone"] = children[0].attrib.get("Id")
        return seen

    def check_body_schema(self, body):
        v = self.v
        v.attrs(body, soap_any=True)
        v.no_text(body)
        children = list(body)
        if len(children) != 1:
            raise v.error(
                f"The SOAP Body must hold exactly one operation element; it holds "
                f"{len(children)}.", body)
        operation = children[0]
        ns, local = split(operation)
        if ns != NS_M:
            raise v.error(
                f"The operation element {label(operation)} is not in the messages "
                f"namespace '{NS_M}'.", operation)
        if local != "CreateItem":
            raise refuse(f"only CreateItem is implemented; got m:{local}")
        return operation

    def check_create_schema(self, create):
        v = self.v
        v.attrs(create, allowed=("MessageDisposition", "SendMeetingInvitations"))
        self.summary["disposition"] = v.enum_attr(
            create, "MessageDisposition", DISPOSITIONS, "MessageDispositionType")
        v.enum_attr(create, "SendMeetingInvitations", MEETING_INVITATIONS,
                    "CalendarItemCreateOrDeleteOperationType")
        found = v.sequence(create, [(NS_M, "SavedItemFolderId", 0, 1),
                                    (NS_M, "Items", 1, 1)])
        self.saved_folder = None
        if "SavedItemFolderId" in found:
            holder = found["SavedItemFolderId"][0]
            v.attrs(holder)
            folder = v.choice_one(holder, NS_T, ("FolderId", "DistinguishedFolderId",
                                                 "AddressListId"))
            kind = split(folder)[1]
            info = {"kind": kind, "id": folder.attrib.get("Id"), "mailbox": None}
            if kind == "DistinguishedFolderId":
                v.attrs(folder, allowed=("Id", "ChangeKey"), required=("Id",))
                v.enum_attr(folder, "Id", DISTINGUISHED_FOLDERS,
                            "DistinguishedFolderIdNameType")
                inner = v.sequence(folder, [(NS_T, "Mailbox", 0, 1)])
                if "Mailbox" in inner:
                    info["mailbox"] = self.mailbox(inner["Mailbox"][0])["address"]
            self.saved_folder = info
            self.summary["saved_folder"] = {"id": info["id"], "mailbox": info["mailbox"]}
            if kind != "DistinguishedFolderId":
                raise refuse(f"SavedItemFolderId must be a DistinguishedFolderId "
                             f"(sentitems), not t:{kind}")
        items = found["Items"][0]
        v.attrs(items)
        v.no_text(items)
        children = list(items)
        expected = f"'{', '.join(ITEM_KINDS)}' in namespace '{NS_T}'"
        if not children:
            raise v.error(f"The element {label(items)} has incomplete content. List of "
                          f"possible elements expected: {expected}.", items)
        for child in children:
            if split(child) not in [(NS_T, kind) for kind in ITEM_KINDS]:
                raise v.error(f"The element {label(items)} has invalid child element "
                              f"{label(child)}. List of possible elements expected: "
                              f"{expected}.", child)
        if len(children) != 1 or split(children[0])[1] != "Message":
            kinds = ", ".join("t:" + split(c)[1] for c in children)
            raise refuse(f"m:Items must hold exactly one t:Message; got {kinds}")
        return children[0]

    def check_message_schema(self, message):
        v = self.v
        v.attrs(message)
        found = v.sequence(message, MESSAGE_SEQUENCE)
        for name in found:
            if name in READ_ONLY_MESSAGE_CHILDREN:
                self.read_only = name
        unsupported = [n for n in found if n not in SUPPORTED_MESSAGE_CHILDREN
                       and n not in READ_ONLY_MESSAGE_CHILDREN]
        if unsupported:
            raise refuse(f"t:Message child t:{unsupported[0]} is valid EWS but not "
                         "accepted here (outmail does not send it)")
        summary = self.summary
        one = {name: elems[0] for name, elems in found.items()}
        self.mime_problem = None
        if "MimeContent" in one:
            elem = one["MimeContent"]
            v.attrs(elem, allowed=("CharacterSet",))
            text = v.text_only(elem)
            summary["mime_character_set"] = elem.attrib.get("CharacterSet")
            data = decode_mime_content(text)
            summary["mime"] = None if data is None else data.decode("utf-8", "replace")
            summary["mime_message"] = None
            if data is None:
                self.mime_problem = ("ErrorMimeContentInvalidBase64String",
                                     TEXT_MIME_BASE64)
            else:
                parsed, problem = http_fake.parse_mime(data)
                summary["mime_message"] = parsed
                if parsed is None:
                    self.mime_problem = ("ErrorMimeContentInvalid",
                                         f"{TEXT_MIME_INVALID} (ews_peer: {problem}.)")
        if "ItemClass" in one:
            summary["item_class"] = v.string(one["ItemClass"])
        if "Subject" in one:
            summary["subject"] = v.string(one["Subject"])
        if "Sensitivity" in one:
            v.attrs(one["Sensitivity"])
            summary["sensitivity"] = v.enum_text(one["Sensitivity"], SENSITIVITY,
                                                 "SensitivityChoicesType")
        if "Body" in one:
            body = one["Body"]
            v.attrs(body, allowed=("BodyType", "IsTruncated"), required=("BodyType",))
            summary["body_type"] = v.enum_attr(body, "BodyType", BODY_TYPES, "BodyTypeType")
            summary["body"] = v.text_only(body)
        if "Attachments" in one:
            summary["attachments"] = self.attachments(one["Attachments"])
        if "Importance" in one:
            v.attrs(one["Importance"])
            summary["importance"] = v.enum_text(one["Importance"], IMPORTANCE,
                                                "ImportanceChoicesType")
        if "InReplyTo" in one:
            summary["in_reply_to"] = v.string(one["InReplyTo"])
        summary["extended_properties"] = []
        summary["internet_headers"] = []
        for prop in found.get("ExtendedProperty", []):
            self.extended_property(prop)
        for name, key in (("ToRecipients", "to"), ("CcRecipients", "cc"),
                          ("BccRecipients", "bcc"), ("ReplyTo", "reply_to")):
            summary[key] = []
            if name in one:
                holder = one[name]
                v.attrs(holder)
                v.no_text(holder)
                for child in holder:
                    if split(child) != (NS_T, "Mailbox"):
                        raise v.error(
                            f"The element {label(holder)} has invalid child element "
                            f"{label(child)}. List of possible elements expected: "
                            f"'Mailbox' in namespace '{NS_T}'.", child)
                    summary[key].append(self.mailbox(child))
        for name, key in (("IsReadReceiptRequested", "is_read_receipt_requested"),
                          ("IsDeliveryReceiptRequested", "is_delivery_receipt_requested"),
                          ("IsRead", "is_read"),
                          ("IsResponseRequested", "is_response_requested")):
            if name in one:
                summary[key] = v.boolean(one[name])
        if "From" in one:
            holder = one["From"]
            v.attrs(holder)
            mailbox = v.choice_one(holder, NS_T, ("Mailbox",))
            summary["from"] = self.mailbox(mailbox)
        if "InternetMessageId" in one:
            summary["internet_message_id"] = v.string(one["InternetMessageId"])
        if "References" in one:
            summary["references"] = v.string(one["References"])
        return one

    def mailbox(self, elem):
        v = self.v
        v.attrs(elem)
        found = v.sequence(elem, EMAIL_ADDRESS_SEQUENCE)
        entry = {"name": None, "address": None}
        if "Name" in found:
            entry["name"] = v.string(found["Name"][0])
        if "EmailAddress" in found:
            entry["address"] = v.non_empty(found["EmailAddress"][0])
        if "RoutingType" in found:
            routing = v.non_empty(found["RoutingType"][0])
            if routing != "SMTP":
                raise refuse(f"t:RoutingType '{routing}' is not accepted (only SMTP)")
        if "MailboxType" in found:
            v.attrs(found["MailboxType"][0])
            v.enum_text(found["MailboxType"][0], MAILBOX_TYPES, "MailboxTypeType")
        for name in ("ItemId", "OriginalDisplayName"):
            if name in found:
                raise refuse(f"t:Mailbox child t:{name} is not accepted here")
        return entry

    def attachments(self, holder):
        v = self.v
        v.attrs(holder)
        v.no_text(holder)
        kinds = ("ItemAttachment", "FileAttachment", "ReferenceAttachment")
        children = list(holder)
        expected = f"'{', '.join(kinds)}' in namespace '{NS_T}'"
        if not children:
            raise v.error(f"The element {label(holder)} has incomplete content. List of "
                          f"possible elements expected: {expected}.", holder)
        result = []
        self.missing_attachment_property = False
        for child in children:
            ns, local = split(child)
            if ns != NS_T or local not in kinds:
                raise v.error(f"The element {label(holder)} has invalid child element "
                              f"{label(child)}. List of possible elements expected: "
                              f"{expected}.", child)
            if local != "FileAttachment":
                raise refuse(f"t:{local} is not accepted here (only t:FileAttachment)")
            v.attrs(child)
            found = v.sequence(child, FILE_ATTACHMENT_SEQUENCE)
            for name in ("AttachmentId", "Size", "LastModifiedTime"):
                if name in found:
                    self.read_only = f"FileAttachment/{name}"
            for name in ("ContentLocation", "AttachmentOriginalUrl", "IsContactPhoto"):
                if name in found:
                    raise refuse(f"t:FileAttachment child t:{name} is not accepted here")
            entry = {"name": None, "content_type": None, "content_id": None,
                     "is_inline": None, "size": None}
            if "Name" in found:
                entry["name"] = v.string(found["Name"][0])
            if "ContentType" in found:
                entry["content_type"] = v.string(found["ContentType"][0])
            if "ContentId" in found:
                entry["content_id"] = v.string(found["ContentId"][0])
            if "IsInline" in found:
                entry["is_inline"] = v.boolean(found["IsInline"][0])
            if "Content" in found:
                content = found["Content"][0]
                text = "".join(v.string(content).split())
                try:
                    entry["size"] = len(base64.b64decode(text, validate=True))
                except (binascii.Error, ValueError):
                    raise v.error(
                        f"The '{NS_T}:Content' element is invalid - The value '{text[:40]}' "
                        f"is invalid according to its datatype '{NS_XSD}:base64Binary' - "
                        "The string is not a valid Base64 value.", content) from None
            if entry["name"] is None or "Content" not in found:
                self.missing_attachment_property = True
            result.append(entry)
        return result

    def extended_property(self, prop):
        v = self.v
        v.attrs(prop)
        v.no_text(prop)
        children = list(prop)
        if not children or split(children[0]) != (NS_T, "ExtendedFieldURI"):
            raise v.error(
                f"The element {label(prop)} has "
                + (f"invalid child element {label(children[0])}" if children
                   else "incomplete content")
                + f". List of possible elements expected: 'ExtendedFieldURI' in "
                f"namespace '{NS_T}'.", children[0] if children else prop)
        uri = children[0]
        names = ("DistinguishedPropertySetId", "PropertySetId", "PropertyTag",
                 "PropertyName", "PropertyId", "PropertyType")
        v.attrs(uri, allowed=names, required=("PropertyType",))
        v.no_text(uri)
        if len(uri):
            raise v.error(f"The element {label(uri)} cannot contain child element "
                          f"{label(uri[0])}.", uri[0])
        v.enum_attr(uri, "DistinguishedPropertySetId", PROPERTY_SETS,
                    "DistinguishedPropertySetType")
        v.enum_attr(uri, "PropertyType", PROPERTY_TYPES, "MapiPropertyTypeType")
        if len(children) < 2:
            raise v.error(f"The element {label(prop)} has incomplete content. List of "
                          f"possible elements expected: 'Value, Values' in namespace "
                          f"'{NS_T}'.", prop)
        holder = children[1]
        if split(holder) not in ((NS_T, "Value"), (NS_T, "Values")):
            raise v.error(f"The element {label(prop)} has invalid child element "
                          f"{label(holder)}. List of possible elements expected: "
                          f"'Value, Values' in namespace '{NS_T}'.", holder)
        if len(children) > 2:
            raise v.error(f"The element {label(prop)} has invalid child element "
                          f"{label(children[2])}.", children[2])
        a = uri.attrib
        entry = {
            "set": a.get("DistinguishedPropertySetId"),
            "set_id": a.get("PropertySetId"),
            "tag": a.get("PropertyTag"),
            "name": a.get("PropertyName"),
            "id": a.get("PropertyId"),
            "type": a.get("PropertyType"),
            "value": None,
            "values": None,
        }
        if split(holder)[1] == "Value":
            entry["value"] = v.string(holder)
        else:
            v.attrs(holder)
            v.no_text(holder)
            values = []
            for child in holder:
                if split(child) != (NS_T, "Value"):
                    raise v.error(f"The element {label(holder)} has invalid child "
                                  f"element {label(child)}. List of possible elements "
                                  f"expected: 'Value' in namespace '{NS_T}'.", child)
                values.append(v.string(child))
            if not values:
                raise v.error(f"The element {label(holder)} has incomplete content. "
                              f"List of possible elements expected: 'Value' in "
                              f"namespace '{NS_T}'.", holder)
            entry["values"] = values
        self.summary["extended_properties"].append(entry)

        # Combinations (types.xsd documentation of PathToExtendedFieldType).
        has_set = (entry["set"] is not None) + (entry["set_id"] is not None)
        has_name = (entry["name"] is not None) + (entry["id"] is not None)
        if entry["tag"] is not None:
            if has_set or has_name:
                raise refuse("ExtendedFieldURI with PropertyTag must not also have a "
                             "property set, PropertyName or PropertyId")
        elif has_set != 1 or has_name != 1:
            raise refuse("ExtendedFieldURI needs exactly one of DistinguishedPropertySetId/"
                          "PropertySetId and exactly one of PropertyName/PropertyId (or "
                          "PropertyTag alone)")
        if entry["set"] == "InternetHeaders":
            name = entry["name"]
            if name is None or entry["type"] != "String" or entry["value"] is None:
                raise refuse("an InternetHeaders extended property needs PropertyName, "
                              "PropertyType=\"String\" and a single t:Value")
            if not re.fullmatch(r"[!-9;-~]+", name):
                raise refuse(f"InternetHeaders PropertyName '{name}' is not a valid "
                             "header field name")
            if any(c in entry["value"] for c in "\r\n\x00"):
                raise refuse(f"InternetHeaders value of '{name}' holds CR, LF or NUL")
            self.summary["internet_headers"].append([name, entry["value"]])

    # -- semantics -----------------------------------------------------------

    def check_version(self, elem):
        if elem is None or elem.attrib.get("Version") not in EXCHANGE_VERSIONS:
            raise Fault("ErrorInvalidServerVersion", "The specified server version is invalid.")

    def check_impersonation(self, elem):
        config = self.config
        scheme = self.principal["scheme"]
        if elem is None:
            if config.impersonation == "required":
                raise Fault("ErrorInvalidExchangeImpersonationHeaderData",
                            "ExchangeImpersonation SOAP header must be present for this "
                            "type of OAuth token.")
            return None
        if config.impersonation == "forbidden":
            if scheme == "bearer":
                raise Fault("ErrorInvalidExchangeImpersonationHeaderData",
                            "ExchangeImpersonation SOAP header must not exist for this "
                            "type of OAuth token.")
            raise Fault("ErrorImpersonateUserDenied", TEXT_IMPERSONATE_DENIED)
        address = self.summary.get("impersonated") or ""
        if not address:
            raise Fault("ErrorInvalidExchangeImpersonationHeaderData",
                        f"The ExchangeImpersonation ConnectingSID/"
                        f"{self.impersonation_kind} value is empty.")
        if self.impersonation_kind == "SID":
            raise refuse("impersonation by SID is not supported; use SmtpAddress")
        if address.lower() not in config.mailboxes:
            raise Fault("ErrorNonExistentMailbox", TEXT_NO_MAILBOX)
        if (self.anchor or "").lower() != address.lower():
            raise Fault(
                "ErrorInternalServerError",
                "An internal server error occurred. The operation failed.",
                message=(
                    "An internal server error occurred. The operation failed. "
                    f"(ews_peer: X-AnchorMailbox {self.anchor!r} does not match the "
                    f"impersonated mailbox {address!r}; Exchange Online routes on "
                    "X-AnchorMailbox and documents 500/503 errors when it is wrong.)"
                ),
            )
        return address

    def principal_mailbox(self):
        user = self.principal.get("user") or ""
        if "@" in user:
            return user
        return self.config.mailbox_list[0] if self.config.mailbox_list else None

    def check_disposition(self, create):
        disposition = create.attrib.get("MessageDisposition")
        if disposition is None:
            raise ItemError("ErrorMessageDispositionRequired",
                            "MessageDisposition is required for this operation.")
        if disposition == "SaveOnly":
            raise refuse("MessageDisposition=\"SaveOnly\" does not send; use "
                         "SendAndSaveCopy or SendOnly")
        if disposition == "SendOnly" and self.saved_folder is not None:
            raise ItemError("ErrorInvalidSendItemSaveSettings",
                            "SavedItemFolderId cannot be specified when "
                            "MessageDisposition is SendOnly.")
        if disposition == "SendAndSaveCopy":
            if self.saved_folder is None:
                raise refuse("SendAndSaveCopy without m:SavedItemFolderId: outmail must "
                             "name <t:DistinguishedFolderId Id=\"sentitems\"/>")
            if self.saved_folder["id"] != "sentitems":
                raise refuse(f"SavedItemFolderId is '{self.saved_folder['id']}', "
                             "expected 'sentitems'")

    def check_item(self, items, acting, impersonated):
        config = self.config
        summary = self.summary
        if getattr(self, "read_only", None):
            raise ItemError("ErrorInvalidPropertySet", "Set action is invalid for property.")
        item_class = summary.get("item_class")
        if item_class is not None and not (
            item_class == "IPM.Note" or item_class.startswith("IPM.Note.")
        ):
            raise refuse(f"ItemClass '{item_class}' is not a message class (IPM.Note)")
        if getattr(self, "missing_attachment_property", False):
            raise ItemError("ErrorRequiredPropertyMissing", "Required property is missing.")
        if self.mime_problem is not None:
            raise ItemError(*self.mime_problem)
        # A MimeContent message: its From counts when there is no t:From, its To
        # and Cc add to the elements' recipients; a Bcc header field is neither
        # counted nor checked (blind recipients go as t:BccRecipients).
        mime = summary.get("mime_message")

        folder_mailbox = (self.saved_folder or {}).get("mailbox")
        if folder_mailbox is not None and folder_mailbox.lower() not in config.mailboxes:
            raise ItemError("ErrorNonExistentMailbox", TEXT_NO_MAILBOX)
        sender = (summary.get("from") or {}).get("address") if "from" in summary else None
        if "from" in summary and sender is None:
            raise unresolved(summary["from"].get("name") or "")
        if "from" not in summary and mime is not None:
            sender = mime["from"]["address"]
        effective = sender or acting
        if effective is None or effective.lower() not in config.mailboxes:
            raise ItemError("ErrorNonExistentMailbox", TEXT_NO_MAILBOX)
        if sender is not None and acting is not None and sender.lower() != acting.lower() \
                and sender.lower() not in config.send_as:
            raise ItemError("ErrorSendAsDenied", TEXT_SEND_AS_DENIED)

        counted = len(summary["to"]) + len(summary["cc"]) + len(summary["bcc"])
        if mime is not None:
            counted += len(mime["to"]) + len(mime["cc"])
        if counted == 0:
            raise ItemError("ErrorInvalidRecipients", TEXT_NO_RECIPIENTS)
        for key in ("to", "cc", "bcc", "reply_to"):
            for entry in summary[key]:
                if entry["address"] is None:
                    raise unresolved(entry["name"] or "")
                if not http_fake.address_ok(entry["address"]):
                    raise unresolved(entry["address"])
        if mime is not None:
            for entry in [mime["from"], *mime["to"], *mime["cc"], *mime["reply_to"]]:
                if not http_fake.address_ok(entry["address"]):
                    raise unresolved(entry["address"])
        if counted > MAX_RECIPIENTS:
            raise ItemError(
                "ErrorExceededMaxRecipientLimit",
                f"The message has {counted} recipients in To, Cc and Bcc; the maximum "
                f"is {MAX_RECIPIENTS}.")


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class PeerConfig(http_fake.Recorder):
    def __init__(self, ns):
        super().__init__(ns.record)
        self.auth = ns.auth
        self.user = ns.user
        self.password = ns.password
        self.domain = ns.domain
        self.token = ns.token
        self.mailbox_list = list(ns.mailbox)
        self.mailboxes = {m.lower() for m in ns.mailbox}
        self.send_as = {m.lower() for m in ns.send_as}
        self.impersonation = ns.impersonation
        self.response_code = ns.response_code
        self.message_text = ns.message_text
        self.fault = ns.fault
        self.fault_left = ns.fault_count
        self.fault_all = ns.fault_count == 0
        self.backoff_ms = ns.backoff_ms
        self.port = ns.port
        self.log_level = ns.log_level
        self.exit_on_stdin_eof = ns.exit_on_stdin_eof
        self.users = {}
        if ns.auth == "ntlm":
            self.users[(ns.user.upper(), ns.domain.upper())] = ns.password

    def take_fault(self):
        if self.fault is None:
            return False
        with self.lock:
            if self.fault_all:
                return True
            if self.fault_left > 0:
                self.fault_left -= 1
                return True
            return False

    def text_for(self, code):
        if self.message_text is not None:
            return self.message_text
        return KNOWN_TEXTS.get(code, f"ews_peer: simulated {code}")


class EwsHandler(http_fake.Handler):
    server_version = "Microsoft-IIS/10.0"
    logger = LOG

    def setup(self):
        super().setup()
        self.ntlm_pending = None
        self.ntlm_principal = None

    def send(self, status, body=b"", headers=(), content_type=None):
        self.respond(status, body, [("request-id", str(uuid.uuid4())), *headers], content_type)

    # -- authentication --------------------------------------------------------

    def ntlm_restart(self, reason):
        self.ntlm_pending = None
        return HttpReject(401, reason,
                          [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")],
                          IIS_401_BODY, "text/html")

    def authenticate(self, entry):
        config = self.server.config
        value = self.headers.get("Authorization")
        scheme, _, credentials = (value or "").partition(" ")
        scheme_l = scheme.lower()
        if config.auth == "basic":
            reject = HttpReject(401, "Basic credentials missing or wrong",
                                [("WWW-Authenticate", 'Basic realm="127.0.0.1"')],
                                IIS_401_BODY, "text/html")
            if scheme_l != "basic":
                raise reject
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                entry["headers"]["authorization"] = "<bad>"
                raise reject from None
            user, sep, password = decoded.partition(":")
            if not sep or user.lower() != config.user.lower() or password != config.password:
                entry["headers"]["authorization"] = "<bad>"
                LOG.warning("basic credentials refused for %r", user)
                raise reject
            entry["headers"]["authorization"] = "Basic <ok>"
            return {"scheme": "basic", "user": user, "domain": None}

        if config.auth == "bearer":
            if value is None:
                raise HttpReject(401, "no bearer token",
                                 [("WWW-Authenticate", BEARER_CHALLENGE)])
            if scheme_l != "bearer" or credentials != config.token:
                entry["headers"]["authorization"] = "<bad>"
                raise HttpReject(401, "wrong bearer token", [
                    ("WWW-Authenticate", BEARER_CHALLENGE + ', error="invalid_token"'),
                    ("x-ms-diagnostics", BEARER_DIAGNOSTICS),
                ])
            entry["headers"]["authorization"] = "Bearer <ok>"
            return {"scheme": "bearer", "user": config.user, "domain": None}

        # NTLM
        if value is None:
            if self.ntlm_principal is not None:
                return self.ntlm_principal
            raise self.ntlm_restart("no Authorization on an unauthenticated connection")
        if scheme_l != "ntlm":
            entry["headers"]["authorization"] = "<bad>"
            raise self.ntlm_restart(f"scheme {scheme!r} is not supported (use NTLM)")
        try:
            token = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            entry["headers"]["authorization"] = "<bad>"
            raise self.ntlm_restart("NTLM token is not base64") from None
        kind = token[8:12]
        if kind == b"\x01\x00\x00\x00":
            entry["headers"]["authorization"] = "NTLM <negotiate>"
            self.ntlm_principal = None
            try:
                challenge, state = ntlm_server.new_challenge(token, nb_domain=config.domain.upper())
            except ntlm_server.NtlmError as error:
                entry["headers"]["authorization"] = "<bad>"
                raise self.ntlm_restart(f"NEGOTIATE refused: {error}") from None
            self.ntlm_pending = state
            raise HttpReject(
                401, "NTLM challenge sent",
                [("WWW-Authenticate", "NTLM " + base64.b64encode(challenge).decode("ascii"))],
                IIS_401_BODY, "text/html", record_code="NTLM-CHALLENGE")
        if kind == b"\x03\x00\x00\x00":
            state = self.ntlm_pending
            self.ntlm_pending = None
            if state is None:
                entry["headers"]["authorization"] = "<bad>"
                raise self.ntlm_restart("AUTHENTICATE without a NEGOTIATE on this connection")
            ok, reason, user, domain = ntlm_server.verify_authenticate(token, state, config.users)
            if not ok:
                entry["headers"]["authorization"] = "<bad>"
                LOG.warning("NTLM refused for %s\\%s: %s", domain, user, reason)
                raise self.ntlm_restart(f"NTLM AUTHENTICATE refused: {reason}")
            entry["headers"]["authorization"] = "NTLM <authenticate ok>"
            LOG.info("NTLM accepted for %s\\%s", domain, user)
            self.ntlm_principal = {"scheme": "ntlm", "user": user, "domain": domain}
            return self.ntlm_principal
        entry["headers"]["authorization"] = "<bad>"
        raise self.ntlm_restart("NTLM token is neither NEGOTIATE nor AUTHENTICATE")

    # -- request handling ------------------------------------------------------

    def handle_any(self):
        config = self.server.config
        raw_path, _, query = self.path.partition("?")
        entry = {
            "method": self.command, "path": raw_path, "query": query, "headers": {},
            "auth": None, "soap": None, "soap_xml": None, "status": None,
            "response_code": None, "error": None,
        }
        for name, value in self.headers.items():
            entry["headers"][name.lower()] = value
        entry["headers"].pop("authorization", None)
        if "Authorization" in self.headers:
            entry["headers"]["authorization"] = "<bad>"
        try:
            raw = self.read_body()
        except http_fake.BadFraming as error:
            self.close_connection = True
            self.finish_reject(entry, HttpReject(400, str(error), (), str(error).encode(),
                                                 "text/plain"))
            return
        if raw:
            entry["soap_xml"] = raw.decode("utf-8", "replace")
        try:
            status, code, text, body = self.process(config, raw, raw_path, entry)
        except HttpReject as reject:
            self.finish_reject(entry, reject)
            return
        except Fault as fault:
            LOG.info("%s %s -> %d fault %s: %s", self.command, self.path, fault.status,
                     fault.code, fault.message)
            entry.update(status=fault.status, response_code=fault.code, error=fault.message)
            config.record(entry)
            self.send(fault.status, fault_xml(fault), content_type=XML_TYPE)
            return
        LOG.info("%s %s -> %d %s%s", self.command, self.path, status, code,
                 f": {text}" if text else "")
        entry.update(status=status, response_code=code, error=text)
        config.record(entry)
        self.send(status, body, content_type=XML_TYPE)

    def finish_reject(self, entry, reject):
        LOG.info("%s %s -> %d (%s)", self.command, self.path, reject.status, reject.reason)
        entry.update(status=reject.status, response_code=reject.record_code,
                     error=reject.reason)
        self.server.config.record(entry)
        self.send(reject.status, reject.body, reject.headers, reject.content_type)

    def process(self, config, raw, raw_path, entry):
        if raw_path.lower() != EWS_PATH:
            raise HttpReject(404, f"no such path {raw_path!r} (only /EWS/Exchange.asmx)",
                             (), b"<!DOCTYPE html><html><body><h1>404 - File or directory "
                             b"not found.</h1></body></html>", "text/html")
        principal = self.authenticate(entry)
        entry["auth"] = principal
        if self.command != "POST":
            raise HttpReject(405, f"method {self.command} not allowed", [("Allow", "POST")],
                             b"", None)
        content_type = self.headers.get("Content-Type") or ""
        media, *params = [p.strip() for p in content_type.split(";")]
        params = [p for p in params if p]
        ok = (media.lower() == "text/xml" and len(params) == 1
              and params[0].replace(" ", "").lower() in ("charset=utf-8", 'charset="utf-8"'))
        if not ok:
            text = (f"Cannot process the message because the content type '{content_type}' "
                    "was not the expected type 'text/xml; charset=utf-8'.")
            raise HttpReject(415, text, (), text.encode("utf-8"), "text/plain; charset=utf-8")

        summary = {"version": None, "impersonated": None,
                   "anchor_mailbox": self.headers.get("X-AnchorMailbox")}
        entry["soap"] = summary
        request = Request(config, raw, principal, self.headers.get("X-AnchorMailbox"),
                          summary)
        try:
            request.run()
        except ItemError as error:
            return 200, error.code, error.text, response_xml(error.code, error.text)
        if config.take_fault():
            code = config.fault
            text = config.text_for(code)
            message_xml = ""
            if code == "ErrorServerBusy":
                message_xml = (f'<t:MessageXml xmlns:t="{NS_T}"><t:Value '
                               f'Name="BackOffMilliseconds">{config.backoff_ms}</t:Value>'
                               "</t:MessageXml>")
            raise Fault(code, text, message_xml=message_xml)
        if config.response_code is not None:
            code = config.response_code
            text = config.text_for(code)
            return 200, code, text, response_xml(code, text)
        return 200, "NoError", None, response_xml("NoError")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def response_code(text):
    if not re.fullmatch(r"Error[A-Za-z0-9]+", text):
        raise argparse.ArgumentTypeError("must be an EWS ResponseCode such as ErrorAccessDenied")
    return text


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Fake Exchange Web Services (CreateItem).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", choices=("basic", "ntlm", "bearer"), required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--domain")
    parser.add_argument("--token")
    parser.add_argument("--mailbox", action="append", default=[])
    parser.add_argument("--send-as", action="append", default=[])
    parser.add_argument("--impersonation", choices=("required", "forbidden", "any"),
                        default="any")
    parser.add_argument("--response-code", type=response_code)
    parser.add_argument("--message-text")
    parser.add_argument("--fault", type=response_code)
    parser.add_argument("--fault-count", type=peer_common.non_negative_int, default=0)
    parser.add_argument("--backoff-ms", type=peer_common.non_negative_int, default=30000)
    parser.add_argument("--record")
    peer_common.add_standard_flags(parser)
    ns = parser.parse_args(argv)
    if ns.auth in ("basic", "ntlm") and (not ns.user or ns.password is None):
        parser.error(f"--auth {ns.auth} needs --user and --password")
    if ns.auth == "ntlm" and not ns.domain:
        parser.error("--auth ntlm needs --domain")
    if ns.auth == "bearer" and not ns.token:
        parser.error("--auth bearer needs --token")
    if ns.message_text is not None and ns.response_code is None and ns.fault is None:
        parser.error("--message-text needs --response-code or --fault")
    return PeerConfig(ns)


def main(argv=None):
    config = parse_args(sys.argv[1:] if argv is None else argv)
    peer_common.setup_logging("ews_peer", config.log_level)
    return http_fake.serve(
        EwsHandler, config, config.port, config.exit_on_stdin_eof,
        f"auth={config.auth} mailboxes={config.mailbox_list} "
        f"impersonation={config.impersonation} response_code={config.response_code} "
        f"fault={config.fault}",
    )


if __name__ == "__main__":
    sys.exit(main())

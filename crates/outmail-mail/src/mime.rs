//! A message a product submitted as MIME (the SMTP relay): what outmail reads of its headers
//! ([`read_headers`]) and the few edits it makes before forwarding it through a profile
//! ([`without_bcc`], [`with_header`], [`with_signature`]).
//!
//! mail-parser reads the message; nothing here parses RFC 5322 or MIME by hand. The edits splice
//! bytes at the offsets mail-parser reports and leave every other byte as the product wrote it:
//! the message may be DKIM-signed downstream, and a rebuilt message would lose whatever our
//! builder does not know (unusual headers, part order, preambles).
//!
//! mail-parser's offsets, as read in its source and pinned by the tests below:
//! - a header's `offset_field..offset_end` is the whole field, from the first byte of its name
//!   to just after the line break that ends its last (folded) line;
//! - a part's `offset_body..offset_end` is its body. In a multipart child the line break before
//!   the next `--boundary` is not in it (RFC 2046 §5.1.1: it belongs to the delimiter); for the
//!   root, `offset_end` is the end of the message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_parser::{Header, HeaderName, HeaderValue, Message, MessageParser, MessagePart};
use mail_parser::{MimeHeaders as _, PartType};
use outmail_types::EmailAddress;
use outmail_types::email::InvalidEmailAddress;

/// What outmail needs to know of a submitted message's headers: who it is from and to (for the
/// envelope and the routing rules), how it is named in the delivery log, and outmail's own
/// `X-Outmail-` instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// At least one mailbox.
    pub from: Vec<MimeMailbox>,
    /// The one mailbox that sent it, when the message has a Sender field.
    pub sender: Option<MimeMailbox>,
    pub to: Vec<MimeMailbox>,
    pub cc: Vec<MimeMailbox>,
    /// Every Bcc field's mailboxes: a message may carry more than one, and [`without_bcc`]
    /// removes them all.
    pub bcc: Vec<MimeMailbox>,
    /// Decoded (RFC 2047 encoded words, RFC 6532 UTF-8).
    pub subject: Option<String>,
    /// Without the angle brackets; none when the field is missing or is not one message id.
    pub message_id: Option<String>,
    /// Whether there is a Date field: a relay that forwards over plain SMTP adds one when not
    /// ([`with_header`]), since not every next hop does.
    pub has_date: bool,
    /// `X-Outmail-Dedupe-Key`, unfolded and trimmed, otherwise as written.
    pub dedupe_key: Option<String>,
    /// `X-Outmail-Priority`, unfolded and trimmed, otherwise as written: its meaning is the
    /// caller's to decide.
    pub priority: Option<String>,
    /// Where the body starts: the length of the header section including the empty line.
    pub header_bytes: usize,
}

/// A mailbox of an address field. The address parses as an
/// [`outmail_types::EmailAddress`] (with UTF-8 allowed), so the caller can turn it into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeMailbox {
    /// Decoded; none when the mailbox has no display name.
    pub name: Option<String>,
    /// As written, without angle brackets.
    pub address: String,
}

/// Why a submitted message's headers cannot be used, or a header cannot be added. The text is
/// for the person whose product submitted it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeProblem {
    #[error("the message has no header section: it is empty or starts with an empty line")]
    NoHeaderSection,
    #[error(
        "the header section does not end with an empty line, so there is no telling where the \
         body starts"
    )]
    NoBodySeparator,
    #[error(
        "line {line} of the header section is not a header field (a name, a colon and a value): \
         {text:?}"
    )]
    NotAHeaderField { line: usize, text: String },
    #[error("the {field} header contains a NUL byte")]
    NulInHeader { field: String },
    #[error(
        "the {field} header is not valid UTF-8: write other charsets as RFC 2047 encoded words"
    )]
    HeaderNotUtf8 { field: String },
    #[error("the message has more than one {field} header")]
    RepeatedHeader { field: String },
    #[error("the message has no From header")]
    MissingFrom,
    #[error("the From header names no mailbox")]
    NoFromMailbox,
    #[error(
        "the From header names {count} mailboxes and there is no Sender header saying which one \
         sent the message"
    )]
    SeveralFromWithoutSender { count: usize },
    #[error("the Sender header must name exactly one mailbox")]
    SenderNotOneMailbox,
    #[error("the {field} header cannot be read as a list of addresses: {value:?}")]
    UnreadableAddresses { field: String, value: String },
    #[error("the {field} header has an entry without an address: {entry:?}")]
    NotAnAddress { field: String, entry: String },
    #[error("the {field} header has an invalid address {address:?}: {reason}")]
    InvalidAddress {
        field: String,
        address: String,
        reason: InvalidEmailAddress,
    },
    #[error("{name:?} is not a header name (printable ASCII without spaces or a colon)")]
    BadHeaderName { name: String },
    #[error("the value for the {name} header contains a line break")]
    LineBreakInHeader { name: String },
}

/// Why [`with_signature`] left the message as it was. The caller sends it unsigned and notes
/// this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureNotAdded {
    #[error("the message cannot be read: {0}")]
    Unreadable(MimeProblem),
    #[error(
        "the message has no plain-text body to sign (only HTML or attachments, or a structure \
         other than text/plain or a multipart/mixed, related or alternative leading to one)"
    )]
    NoTextPart,
    #[error("the text body's charset {charset} cannot carry the signature's characters")]
    Charset { charset: String },
    #[error(
        "the text body is sent as 7bit, which cannot carry the signature's non-ASCII characters"
    )]
    SevenBit,
    #[error("the text body's transfer encoding {encoding:?} is not one outmail can add to")]
    UnknownEncoding { encoding: String },
    #[error("the text body's {encoding} content cannot be decoded")]
    UndecodableBody { encoding: &'static str },
    #[error("a line of the signature is longer than the 998 bytes a mail line may have")]
    LineTooLong,
    #[error("the signature contains a MIME boundary of the message, which would split its parts")]
    BoundaryInSignature,
}

/// Reads the header fields outmail acts on, checking what would make them ambiguous: a missing
/// or repeated field, an address that does not parse, lines that are not fields.
pub fn read_headers(raw: &[u8]) -> Result<Submitted, MimeProblem> {
    let head = Head::read(raw)?;
    let mut from = None;
    let mut sender = None;
    let mut to = None;
    let mut cc = None;
    let mut bcc = Vec::new();
    let mut subject = None;
    let mut message_id = None;
    let mut date = None;
    let mut dedupe_key = None;
    let mut priority = None;
    for header in head.message.headers() {
        match &header.name {
            HeaderName::From => once(&mut from, header, mailboxes(raw, header)?)?,
            HeaderName::Sender => once(&mut sender, header, mailboxes(raw, header)?)?,
            HeaderName::To => once(&mut to, header, mailboxes(raw, header)?)?,
            HeaderName::Cc => once(&mut cc, header, mailboxes(raw, header)?)?,
            // Merged: they all leave the header section, and all go into the envelope.
            HeaderName::Bcc => bcc.extend(mailboxes(raw, header)?),
            HeaderName::Subject => {
                let text = header.value.as_text().map(str::to_owned);
                once(&mut subject, header, text)?;
            }
            HeaderName::MessageId => {
                let id = header.value.as_text().map(str::to_owned);
                once(&mut message_id, header, id)?;
            }
            HeaderName::Date => once(&mut date, header, ())?,
            HeaderName::Other(name) if name.eq_ignore_ascii_case("X-Outmail-Dedupe-Key") => {
                once(&mut dedupe_key, header, raw_value(raw, header))?;
            }
            HeaderName::Other(name) if name.eq_ignore_ascii_case("X-Outmail-Priority") => {
                once(&mut priority, header, raw_value(raw, header))?;
            }
            _ => {}
        }
    }
    let from = from.ok_or(MimeProblem::MissingFrom)?;
    if from.is_empty() {
        return Err(MimeProblem::NoFromMailbox);
    }
    let sender = match sender {
        None => None,
        Some(mut mailboxes) if mailboxes.len() == 1 => mailboxes.pop(),
        Some(_) => return Err(MimeProblem::SenderNotOneMailbox),
    };
    // RFC 5322 §3.6.2: several authors need a Sender naming the one who sent it.
    if from.len() > 1 && sender.is_none() {
        return Err(MimeProblem::SeveralFromWithoutSender { count: from.len() });
    }
    Ok(Submitted {
        from,
        sender,
        to: to.unwrap_or_default(),
        cc: cc.unwrap_or_default(),
        bcc,
        subject: subject.flatten(),
        message_id: message_id.flatten(),
        has_date: date.is_some(),
        dedupe_key: dedupe_key.filter(|v| !v.is_empty()),
        priority: priority.filter(|v| !v.is_empty()),
        header_bytes: head.body_start,
    })
}

/// The message without its Bcc header field(s) (including folded continuation lines), every
/// other byte unchanged: Bcc recipients get the message through the envelope, and the other
/// recipients must not see them (RFC 5322 §3.6.3). Only the top-level header section is
/// touched, never that of an attached message. A message [`read_headers`] refuses is edited as
/// far as mail-parser reads its fields.
pub fn without_bcc(raw: &[u8]) -> Vec<u8> {
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return raw.to_vec();
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for header in message.headers() {
        if matches!(header.name, HeaderName::Bcc) {
            let (start, end) = field_range(header);
            out.extend_from_slice(&raw[at..start]);
            at = end;
        }
    }
    out.extend_from_slice(&raw[at..]);
    out
}

/// The message with a header field added at the top of the header section (e.g. `Bcc: a@x, b@y`
/// for Graph, which takes Bcc recipients of a MIME send only from that header, or a missing
/// Message-ID/Date). The value is written as given (UTF-8 is allowed, RFC 6532), folded at its
/// spaces into lines of at most 78 characters where it has spaces to fold at. A line break in
/// the value would let it add fields of its own, so it is refused, as is a name that is not an
/// RFC 5322 field name. It does not check whether the message already has such a field.
pub fn with_header(raw: &[u8], name: &str, value: &str) -> Result<Vec<u8>, MimeProblem> {
    let is_field_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !is_field_name {
        return Err(MimeProblem::BadHeaderName {
            name: name.to_owned(),
        });
    }
    if value.contains(['\r', '\n']) {
        return Err(MimeProblem::LineBreakInHeader {
            name: name.to_owned(),
        });
    }
    if value.contains('\0') {
        return Err(MimeProblem::NulInHeader {
            field: name.to_owned(),
        });
    }
    let field = folded(&format!("{name}: {value}"), name.len() + 1);
    let mut out = Vec::with_capacity(field.len() + 2 + raw.len());
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(raw);
    Ok(out)
}

/// Appends the signature to the message's text/plain body after the RFC 3676 "-- " separator,
/// without breaking the MIME structure, the way [`crate::message::with_signature`] signs a
/// message outmail composes: the body loses its trailing whitespace, then comes
/// `\r\n\r\n-- \r\n` and the signature with CRLF line endings. A blank signature leaves the
/// message as it is.
///
/// The body signed is the message's main text: the root if it is text/plain, else the first
/// text/plain child of a multipart/alternative, reached through the first part of any
/// multipart/mixed or multipart/related. Never an attachment, never HTML: like the REST API,
/// outmail signs only the text body. The signature is encoded as the body is (as is for 7bit,
/// 8bit and binary, quoted-printable, base64) and spliced in at the body's offsets; every other
/// byte of the message stays as it was. Non-ASCII in the signature needs a utf-8 charset and a
/// transfer encoding other than 7bit: the headers are not rewritten to make room.
pub fn with_signature(raw: &[u8], signature: &str) -> Result<Vec<u8>, SignatureNotAdded> {
    if signature.trim().is_empty() {
        return Ok(raw.to_vec());
    }
    Head::read(raw).map_err(SignatureNotAdded::Unreadable)?;
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(SignatureNotAdded::Unreadable(MimeProblem::NoHeaderSection))?;
    let part = main_text_part(&message).ok_or(SignatureNotAdded::NoTextPart)?;
    let encoding = TransferEncoding::of(part)?;
    if part.is_encoding_problem {
        return Err(SignatureNotAdded::UndecodableBody {
            encoding: encoding.name(),
        });
    }
    let content_type = part.content_type();
    let flowed = content_type
        .and_then(|ct| ct.attribute("format"))
        .is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
    let text = signature_block(signature, flowed);
    check_charset(content_type.and_then(|ct| ct.attribute("charset")), &text)?;
    if !text.is_ascii() && encoding == TransferEncoding::SevenBit {
        return Err(SignatureNotAdded::SevenBit);
    }
    let (start, end) = (part.offset_body as usize, part.offset_end as usize);
    let body = &raw[start..end];
    let signed = match encoding {
        TransferEncoding::SevenBit | TransferEncoding::EightBit | TransferEncoding::Binary => {
            if encoding != TransferEncoding::Binary && text.split("\r\n").any(|l| l.len() > 998) {
                return Err(SignatureNotAdded::LineTooLong);
            }
            check_boundaries(&message, text.as_bytes())?;
            let mut signed = trim_end(body).to_vec();
            signed.extend_from_slice(text.as_bytes());
            if body.ends_with(b"\n") {
                signed.extend_from_slice(b"\r\n");
            }
            signed
        }
        TransferEncoding::QuotedPrintable => {
            let decoded = quoted_printable::decode(body, quoted_printable::ParseMode::Robust)
                .map_err(|_| SignatureNotAdded::UndecodableBody {
                    encoding: encoding.name(),
                })?;
            let mut addition = text.into_bytes();
            if decoded.ends_with(b"\n") {
                addition.extend_from_slice(b"\r\n");
            }
            let addition = quoted_printable::encode(addition);
            check_boundaries(&message, &addition)?;
            let mut signed = trim_end_quoted_printable(body).to_vec();
            signed.extend_from_slice(&addition);
            if body.ends_with(b"\n") && !signed.ends_with(b"\n") {
                // A soft line break: the message keeps its final line break, the text gains
                // none.
                signed.extend_from_slice(b"=\r\n");
            }
            signed
        }
        TransferEncoding::Base64 => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let decoded =
                LENIENT_BASE64
                    .decode(compact)
                    .map_err(|_| SignatureNotAdded::UndecodableBody {
                        encoding: encoding.name(),
                    })?;
            let mut content = trim_end(&decoded).to_vec();
            content.extend_from_slice(text.as_bytes());
            if decoded.ends_with(b"\n") {
                content.extend_from_slice(b"\r\n");
            }
            let encoded = BASE64.encode(content);
            let mut signed = Vec::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
            for (i, line) in encoded.as_bytes().chunks(76).enumerate() {
                if i > 0 {
                    signed.extend_from_slice(b"\r\n");
                }
                signed.extend_from_slice(line);
            }
            if body.ends_with(b"\n") {
                signed.extend_from_slice(b"\r\n");
            }
            signed
        }
    };
    let mut out = Vec::with_capacity(raw.len() + signed.len() - body.len());
    out.extend_from_slice(&raw[..start]);
    out.extend_from_slice(&signed);
    out.extend_from_slice(&raw[end..]);
    Ok(out)
}

/// The top-level header section as mail-parser reads it, checked for what mail-parser passes
/// over: lines that are not fields, no empty line before the body, NUL bytes, non-UTF-8.
struct Head<'a> {
    message: Message<'a>,
    body_start: usize,
}

impl<'a> Head<'a> {
    fn read(raw: &'a [u8]) -> Result<Self, MimeProblem> {
        let message = MessageParser::default()
            .parse_headers(raw)
            .ok_or(MimeProblem::NoHeaderSection)?;
        let headers = message.headers();
        if headers.is_empty() {
            return Err(MimeProblem::NoHeaderSection);
        }
        // mail-parser skips a line without a colon, so between the fields there must be none;
        // one at the very end of the message it reads as a field named after the whole line.
        let mut at = 0;
        for header in headers {
            let (start, end) = field_range(header);
            not_a_field(raw, at, start)?;
            if header
                .offset_start
                .checked_sub(1)
                .and_then(|colon| raw.get(colon as usize))
                != Some(&b':')
            {
                not_a_field(raw, start, end)?;
            }
            at = end;
        }
        // After the last field, the empty line (mail-parser also takes one of spaces).
        let line_end = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| at + i + 1);
        let body_start = match line_end {
            Some(end) if raw[at..end].iter().all(u8::is_ascii_whitespace) => end,
            _ if raw[at..].iter().all(u8::is_ascii_whitespace) => {
                return Err(MimeProblem::NoBodySeparator);
            }
            _ => {
                not_a_field(raw, at, line_end.unwrap_or(raw.len()))?;
                return Err(MimeProblem::NoBodySeparator);
            }
        };
        for header in headers {
            let (start, end) = field_range(header);
            let field = &raw[start..end];
            if field.contains(&0) {
                return Err(MimeProblem::NulInHeader {
                    field: header.name.as_str().to_owned(),
                });
            }
            if std::str::from_utf8(field).is_err() {
                return Err(MimeProblem::HeaderNotUtf8 {
                    field: header.name.as_str().to_owned(),
                });
            }
        }
        Ok(Head {
            message,
            body_start,
        })
    }
}

/// A header field's bytes: its name to the end of its last line, line break included.
fn field_range(header: &Header<'_>) -> (usize, usize) {
    (header.offset_field as usize, header.offset_end as usize)
}

/// Refuses `raw[start..end]` (lines between fields) if it holds anything but whitespace.
fn not_a_field(raw: &[u8], start: usize, end: usize) -> Result<(), MimeProblem> {
    let Some(first) = raw[start..end]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
    else {
        return Ok(());
    };
    let from = start + first;
    let line_start = raw[..from]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line_end = raw[from..end]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(end, |i| from + i);
    let text = String::from_utf8_lossy(&raw[line_start..line_end]);
    Err(MimeProblem::NotAHeaderField {
        line: raw[..line_start].iter().filter(|&&b| b == b'\n').count() + 1,
        text: text.trim_end().chars().take(80).collect(),
    })
}

/// Stores the value of a field that RFC 5322 allows once, refusing a second one.
fn once<T>(slot: &mut Option<T>, header: &Header<'_>, value: T) -> Result<(), MimeProblem> {
    if slot.is_some() {
        return Err(MimeProblem::RepeatedHeader {
            field: header.name.as_str().to_owned(),
        });
    }
    *slot = Some(value);
    Ok(())
}

/// The field's value as written, unfolded (RFC 5322 §2.2.3) and trimmed.
fn raw_value(raw: &[u8], header: &Header<'_>) -> String {
    let value = &raw[header.offset_start as usize..header.offset_end as usize];
    String::from_utf8_lossy(value)
        .replace(['\r', '\n'], "")
        .trim()
        .to_owned()
}

/// The mailboxes of an address field; a group (`undisclosed-recipients:;`) adds its members,
/// an empty one none.
fn mailboxes(raw: &[u8], header: &Header<'_>) -> Result<Vec<MimeMailbox>, MimeProblem> {
    let field = header.name.as_str();
    let address = match &header.value {
        HeaderValue::Address(address) => address,
        HeaderValue::Empty if raw_value(raw, header).is_empty() => return Ok(Vec::new()),
        _ => {
            return Err(MimeProblem::UnreadableAddresses {
                field: field.to_owned(),
                value: raw_value(raw, header),
            });
        }
    };
    address
        .iter()
        .map(|addr| {
            let name = addr
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty());
            let Some(address) = addr.address.as_deref().map(str::trim) else {
                return Err(MimeProblem::NotAnAddress {
                    field: field.to_owned(),
                    entry: name.unwrap_or_default().to_owned(),
                });
            };
            EmailAddress::parse_utf8(address).map_err(|reason| MimeProblem::InvalidAddress {
                field: field.to_owned(),
                address: address.to_owned(),
                reason,
            })?;
            Ok(MimeMailbox {
                name: name.map(str::to_owned),
                address: address.to_owned(),
            })
        })
        .collect()
}

/// Folds `field` before runs of spaces so lines stay within 78 characters where it can
/// (RFC 5322 §2.2.3), never inside the first `keep` bytes (the name and colon). Unfolding gives
/// back the same field.
fn folded(field: &str, keep: usize) -> String {
    const WIDTH: usize = 78;
    if field.len() <= WIDTH {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let is_space = |b: u8| b == b' ' || b == b'\t';
    let last_text = bytes.iter().rposition(|&b| !is_space(b)).unwrap_or(0);
    // Where a run of spaces starts, with text after it: a fold there leaves no line of spaces.
    let breaks = (keep + 1..=last_text).filter(|&i| is_space(bytes[i]) && !is_space(bytes[i - 1]));
    let mut out = String::with_capacity(field.len() + field.len() / WIDTH * 2);
    let mut start = 0;
    let mut candidate = None;
    for at in breaks.chain([field.len()]) {
        if at - start > WIDTH
            && let Some(fold) = candidate.filter(|&c| c > start)
        {
            out.push_str(&field[start..fold]);
            out.push_str("\r\n");
            start = fold;
        }
        candidate = Some(at);
    }
    out.push_str(&field[start..]);
    out
}

/// The message's main text/plain part (see [`with_signature`]).
fn main_text_part<'m>(message: &'m Message<'m>) -> Option<&'m MessagePart<'m>> {
    let mut part = message.part(0)?;
    loop {
        if is_attachment(part) {
            return None;
        }
        let children = match &part.body {
            PartType::Multipart(children) => children.as_slice(),
            _ => &[],
        };
        if is_plain_text(part) {
            return Some(part);
        } else if is_type(part, "multipart", "alternative") {
            return children
                .iter()
                .filter_map(|&id| message.part(id))
                .find(|child| !is_attachment(child) && is_plain_text(child));
        } else if is_type(part, "multipart", "mixed") || is_type(part, "multipart", "related") {
            part = message.part(*children.first()?)?;
        } else {
            return None;
        }
    }
}

fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
}

/// text/plain, or no Content-Type at all (RFC 2045 §5.2), read as text by mail-parser.
fn is_plain_text(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Text(_))
        && (part.content_type().is_none() || is_type(part, "text", "plain"))
}

fn is_type(part: &MessagePart<'_>, main: &str, sub: &str) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(main)
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case(sub))
    })
}

/// A part's Content-Transfer-Encoding (RFC 2045 §6.1; none is 7bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferEncoding {
    SevenBit,
    EightBit,
    Binary,
    QuotedPrintable,
    Base64,
}

impl TransferEncoding {
    fn of(part: &MessagePart<'_>) -> Result<Self, SignatureNotAdded> {
        let Some(encoding) = part.content_transfer_encoding() else {
            return Ok(TransferEncoding::SevenBit);
        };
        Ok(match encoding.trim().to_ascii_lowercase().as_str() {
            "" | "7bit" => TransferEncoding::SevenBit,
            "8bit" => TransferEncoding::EightBit,
            "binary" => TransferEncoding::Binary,
            "quoted-printable" => TransferEncoding::QuotedPrintable,
            "base64" => TransferEncoding::Base64,
            _ => {
                return Err(SignatureNotAdded::UnknownEncoding {
                    encoding: encoding.trim().to_owned(),
                });
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            TransferEncoding::SevenBit => "7bit",
            TransferEncoding::EightBit => "8bit",
            TransferEncoding::Binary => "binary",
            TransferEncoding::QuotedPrintable => "quoted-printable",
            TransferEncoding::Base64 => "base64",
        }
    }
}

/// Base64 as bodies are found: padding optional, stray trailing bits tolerated.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The text appended to the body: the separator and the signature, with CRLF line endings.
/// For `format=flowed` (RFC 3676) the signature's lines lose their trailing spaces (they would
/// join the next line) and are space-stuffed (§4.4).
fn signature_block(signature: &str, flowed: bool) -> String {
    let lines = signature
        .trim_end()
        .split("\r\n")
        .flat_map(|l| l.split(['\r', '\n']))
        .map(|line| {
            if !flowed {
                return line.to_owned();
            }
            let line = line.trim_end_matches(' ');
            if line.starts_with([' ', '>']) || line.starts_with("From ") {
                format!(" {line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>();
    format!("\r\n\r\n-- \r\n{}", lines.join("\r\n"))
}

/// A signature in ASCII fits any charset that extends ASCII; anything else needs utf-8.
fn check_charset(charset: Option<&str>, text: &str) -> Result<(), SignatureNotAdded> {
    let normal = charset.map(|c| c.trim().to_ascii_lowercase().replace(['-', '_'], ""));
    let ascii_compatible = !normal.as_deref().is_some_and(|c| {
        c.starts_with("utf16") || c.starts_with("utf32") || c.starts_with("ucs") || c == "utf7"
    });
    let fits = ascii_compatible && (text.is_ascii() || normal.as_deref() == Some("utf8"));
    if fits {
        return Ok(());
    }
    Err(SignatureNotAdded::Charset {
        charset: charset.map_or("us-ascii (none declared)".to_owned(), |c| {
            c.trim().to_owned()
        }),
    })
}

/// mail-parser ends a part wherever `--boundary` appears, so the addition must not hold one.
fn check_boundaries(message: &Message<'_>, addition: &[u8]) -> Result<(), SignatureNotAdded> {
    let collides = message.parts.iter().any(|part| {
        part.content_type()
            .and_then(|ct| ct.attribute("boundary"))
            .is_some_and(|boundary| {
                let delimiter = format!("--{boundary}");
                addition
                    .windows(delimiter.len())
                    .any(|w| w == delimiter.as_bytes())
            })
    });
    if collides {
        Err(SignatureNotAdded::BoundaryInSignature)
    } else {
        Ok(())
    }
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Trims a quoted-printable body so its decoded text loses its trailing whitespace: literal
/// whitespace and line breaks, soft line breaks (`=` at a line's end) and encoded `=20`, `=09`,
/// `=0D`, `=0A`.
fn trim_end_quoted_printable(body: &[u8]) -> &[u8] {
    let mut body = trim_end(body);
    loop {
        if let Some(rest) = body.strip_suffix(b"=") {
            body = trim_end(rest);
        } else if body.len() >= 3
            && body[body.len() - 3] == b'='
            && [b"20", b"09", b"0D", b"0A"]
                .iter()
                .any(|hex| body[body.len() - 2..].eq_ignore_ascii_case(*hex))
        {
            body = trim_end(&body[..body.len() - 3]);
        } else {
            return body;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Message<'_> {
        MessageParser::default().parse(raw).expect("parses")
    }

    fn text_of(raw: &[u8]) -> String {
        let message = parse(raw);
        let part = main_text_part(&message).expect("a text part");
        match &part.body {
            PartType::Text(text) => text.to_string(),
            other => panic!("not text: {other:?}"),
        }
    }

    fn lines_at_most(bytes: &[u8], width: usize) -> bool {
        bytes
            .split(|&b| b == b'\n')
            .all(|line| line.strip_suffix(b"\r").unwrap_or(line).len() <= width)
    }

    const PLAIN: &[u8] = b"From: Alerts <alerts@example.com>\r\n\
        To: ops@example.net\r\n\
        Subject: Disk full\r\n\
        \r\n\
        The disk is full.\r\n\
        \r\n";

    #[test]
    fn a_plain_text_message_is_signed_after_the_separator() {
        let signed = with_signature(PLAIN, "Ops team\nCall 555  \n").expect("signed");
        let expected = b"From: Alerts <alerts@example.com>\r\n\
            To: ops@example.net\r\n\
            Subject: Disk full\r\n\
            \r\n\
            The disk is full.\r\n\
            \r\n\
            -- \r\n\
            Ops team\r\n\
            Call 555\r\n";
        assert_eq!(
            String::from_utf8_lossy(&signed),
            String::from_utf8_lossy(expected)
        );
        // The same text the REST API's signature gives.
        let body = "The disk is full.\r\n\r\n";
        assert_eq!(
            text_of(&signed),
            format!(
                "{}\r\n",
                crate::message::with_signature(body, Some("Ops team\r\nCall 555"))
            )
        );
        assert_eq!(with_signature(PLAIN, " \n").expect("unchanged"), PLAIN);
    }

    #[test]
    fn in_a_multipart_the_line_break_before_a_boundary_stays_the_boundarys() {
        let raw = b"From: a@example.com\r\n\
            Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
            \r\n\
            --b1\r\n\
            Content-Type: text/plain; charset=us-ascii\r\n\
            \r\n\
            Hello\r\n\
            --b1\r\n\
            Content-Type: text/html\r\n\
            \r\n\
            <p>Hello</p>\r\n\
            --b1--\r\n";
        let message = parse(raw);
        let text = &message.parts[1];
        assert_eq!(
            &raw[text.offset_body as usize..text.offset_end as usize],
            b"Hello"
        );
        assert_eq!(&raw[text.offset_end as usize..][..6], b"\r\n--b1");
        assert_eq!(message.parts[0].offset_end as usize, raw.len());
        let signed = with_signature(raw, "Ops").expect("signed");
        let expected = b"From: a@example.com\r\n\
            Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
            \r\n\
            --b1\r\n\
            Content-Type: text/plain; charset=us-ascii\r\n\
            \r\n\
            Hello\r\n\
            \r\n\
            -- \r\n\
            Ops\r\n\
            --b1\r\n\
            Content-Type: text/html\r\n\
            \r\n\
            <p>Hello</p>\r\n\
            --b1--\r\n";
        assert_eq!(
            String::from_utf8_lossy(&signed),
            String::from_utf8_lossy(expected)
        );
    }

    const ALTERNATIVE_QP: &str = "From: a@example.com\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative; boundary=\"----=_Part_1\"\r\n\
        \r\n\
        This is a multi-part message in MIME format.\r\n\
        ------=_Part_1\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\
        \r\n\
        Gr=C3=BC=C3=9Fe aus K=C3=B6ln. This line is long enough to need a soft line=\r\n\
        break.=20\r\n\
        =\r\n\
        ------=_Part_1\r\n\
        Content-Type: text/html; charset=utf-8\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\
        \r\n\
        <p>Gr=C3=BC=C3=9Fe</p>\r\n\
        ------=_Part_1--\r\n";

    #[test]
    fn a_quoted_printable_text_part_gets_the_encoded_signature_and_html_is_untouched() {
        let raw = ALTERNATIVE_QP.as_bytes();
        let signature = "Das Ops-Team — Köln, Hauptstraße 1, 50667, with a line that is \
                         far longer than seventy-six columns";
        let signed = with_signature(raw, signature).expect("signed");
        let before = parse(raw);
        let after = parse(&signed);
        assert_eq!(
            text_of(&signed),
            format!(
                "Grüße aus Köln. This line is long enough to need a soft linebreak.\
                 \r\n\r\n-- \r\n{signature}\r\n"
            )
        );
        // Everything from the text part's end on is the same bytes: the HTML part too.
        let (old_end, new_end) = (before.parts[1].offset_end, after.parts[1].offset_end);
        assert_eq!(&signed[new_end as usize..], &raw[old_end as usize..]);
        assert_eq!(
            &signed[..after.parts[1].offset_body as usize],
            &raw[..before.parts[1].offset_body as usize]
        );
        let html = &after.parts[2];
        assert_eq!(
            &signed[html.offset_header as usize..html.offset_end as usize],
            &raw[before.parts[2].offset_header as usize..before.parts[2].offset_end as usize]
        );
        let body = &signed[after.parts[1].offset_body as usize..new_end as usize];
        assert!(lines_at_most(body, 76), "{}", String::from_utf8_lossy(body));
        assert!(
            String::from_utf8_lossy(body)
                .contains("\r\n\r\n--=20\r\nDas Ops-Team =E2=80=94 K=C3=B6ln"),
            "{}",
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn the_first_text_of_a_mixed_message_is_signed_and_the_attachment_is_untouched() {
        let attachment = BASE64.encode((0u8..=255).cycle().take(300).collect::<Vec<_>>());
        let raw = format!(
            "From: a@example.com\r\n\
             Content-Type: multipart/mixed; boundary=\"mix\"\r\n\
             \r\n\
             --mix\r\n\
             Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
             \r\n\
             --alt\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\
             \r\n\
             Bonjour, voilà.\r\n\
             --alt\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             \r\n\
             <p>Bonjour</p>\r\n\
             --alt--\r\n\
             \r\n\
             --mix\r\n\
             Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"data.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             \r\n\
             {}\r\n{}\r\n\
             --mix--\r\n",
            &attachment[..76],
            &attachment[76..]
        );
        let raw = raw.as_bytes();
        let signed = with_signature(raw, "L'équipe").expect("signed");
        assert_eq!(text_of(&signed), "Bonjour, voilà.\r\n\r\n-- \r\nL'équipe");
        let before = parse(raw);
        let after = parse(&signed);
        let (old, new) = (&before.parts[4], &after.parts[4]);
        assert_eq!(
            &signed[new.offset_header as usize..],
            &raw[old.offset_header as usize..]
        );
        assert_eq!(
            new.contents(),
            (0u8..=255).cycle().take(300).collect::<Vec<_>>()
        );
        // The HTML alternative and everything after the text are the same bytes.
        let (old_end, new_end) = (before.parts[2].offset_end, after.parts[2].offset_end);
        assert_eq!(&signed[new_end as usize..], &raw[old_end as usize..]);
    }

    #[test]
    fn a_base64_text_root_is_decoded_signed_and_reencoded_in_76_columns() {
        let text = "Le disque est plein. ".repeat(8) + "\r\n";
        let encoded = BASE64.encode(&text);
        let head = "From: a@example.com\r\n\
                    Content-Type: text/plain; charset=\"UTF-8\"\r\n\
                    Content-Transfer-Encoding: base64\r\n\
                    \r\n";
        let raw = format!("{head}{}\r\n{}\r\n", &encoded[..60], &encoded[60..]);
        let signed = with_signature(raw.as_bytes(), "L'équipe Ops").expect("signed");
        assert!(signed.starts_with(head.as_bytes()));
        assert_eq!(
            text_of(&signed),
            format!("{}\r\n\r\n-- \r\nL'équipe Ops\r\n", text.trim_end())
        );
        let body = &signed[head.len()..];
        assert!(lines_at_most(body, 76));
        assert!(body.ends_with(b"\r\n"));
        assert!(
            body.split(|&b| b == b'\n').any(|l| l.len() == 77),
            "full lines are 76 + CR"
        );
    }

    #[test]
    fn non_ascii_needs_a_utf8_charset_and_an_8bit_capable_encoding() {
        let message =
            |headers: &str| format!("From: a@example.com\r\n{headers}\r\nHello\r\n").into_bytes();
        let ascii_7bit = message("Content-Type: text/plain; charset=us-ascii\r\n");
        assert_eq!(
            with_signature(&ascii_7bit, "Grüße"),
            Err(SignatureNotAdded::Charset {
                charset: "us-ascii".to_owned()
            })
        );
        let undeclared = message("");
        assert!(matches!(
            with_signature(&undeclared, "Grüße"),
            Err(SignatureNotAdded::Charset { .. })
        ));
        // ASCII fits either.
        assert!(with_signature(&ascii_7bit, "Ops").is_ok());
        let utf8_7bit = message("Content-Type: text/plain; charset=utf-8\r\n");
        assert_eq!(
            with_signature(&utf8_7bit, "Grüße"),
            Err(SignatureNotAdded::SevenBit)
        );
        let utf8_8bit = message(
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n",
        );
        let signed = with_signature(&utf8_8bit, "Grüße").expect("signed");
        assert_eq!(
            String::from_utf8(signed).expect("utf-8"),
            "From: a@example.com\r\n\
             Content-Type: text/plain; charset=UTF-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\
             \r\n\
             Hello\r\n\r\n-- \r\nGrüße\r\n"
        );
        let utf16 = message(
            "Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n",
        );
        assert!(matches!(
            with_signature(&utf16, "Ops"),
            Err(SignatureNotAdded::Charset { .. })
        ));
        let uuencoded = message("Content-Transfer-Encoding: x-uuencode\r\n");
        assert_eq!(
            with_signature(&uuencoded, "Ops"),
            Err(SignatureNotAdded::UnknownEncoding {
                encoding: "x-uuencode".to_owned()
            })
        );
    }

    #[test]
    fn a_message_without_a_text_body_is_left_unsigned() {
        let html_only = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>\r\n";
        assert_eq!(
            with_signature(html_only, "Ops"),
            Err(SignatureNotAdded::NoTextPart)
        );
        let attachment_first = b"From: a@example.com\r\n\
            Content-Type: multipart/mixed; boundary=m\r\n\
            \r\n\
            --m\r\n\
            Content-Type: text/plain\r\n\
            Content-Disposition: attachment; filename=notes.txt\r\n\
            \r\n\
            notes\r\n\
            --m\r\n\
            Content-Type: text/plain\r\n\
            \r\n\
            body\r\n\
            --m--\r\n";
        assert_eq!(
            with_signature(attachment_first, "Ops"),
            Err(SignatureNotAdded::NoTextPart)
        );
        let html_alternative = b"From: a@example.com\r\n\
            Content-Type: multipart/alternative; boundary=a\r\n\
            \r\n\
            --a\r\n\
            Content-Type: text/html\r\n\
            \r\n\
            <p>Hi</p>\r\n\
            --a--\r\n";
        assert_eq!(
            with_signature(html_alternative, "Ops"),
            Err(SignatureNotAdded::NoTextPart)
        );
        assert_eq!(
            with_signature(b"no headers here", "Ops"),
            Err(SignatureNotAdded::Unreadable(
                MimeProblem::NotAHeaderField {
                    line: 1,
                    text: "no headers here".to_owned()
                }
            ))
        );
    }

    #[test]
    fn a_signature_holding_a_boundary_or_a_flowed_body_is_handled() {
        let raw = b"From: a@example.com\r\n\
            Content-Type: multipart/mixed; boundary=m\r\n\
            \r\n\
            --m\r\n\
            Content-Type: text/plain; format=flowed\r\n\
            \r\n\
            Hi\r\n\
            --m--\r\n";
        assert_eq!(
            with_signature(raw, "a\n--m--\nb"),
            Err(SignatureNotAdded::BoundaryInSignature)
        );
        let signed = with_signature(raw, "Ops  \nFrom here\n> quoted").expect("signed");
        assert!(
            String::from_utf8_lossy(&signed)
                .contains("\r\n\r\nHi\r\n\r\n-- \r\nOps\r\n From here\r\n > quoted\r\n--m--"),
            "{}",
            String::from_utf8_lossy(&signed)
        );
    }

    #[test]
    fn without_bcc_removes_folded_and_last_bcc_fields_only() {
        let folded = b"From: a@example.com\r\n\
            Bcc: audit@example.com,\r\n\
            \t\"Legal\" <legal@example.com>\r\n\
            To: ops@example.net\r\n\
            \r\n\
            Bcc: this line is body\r\n";
        assert_eq!(
            String::from_utf8_lossy(&without_bcc(folded)),
            "From: a@example.com\r\nTo: ops@example.net\r\n\r\nBcc: this line is body\r\n"
        );
        let last = b"From: a@example.com\r\nBCC: x@example.com\r\n\r\nbody";
        assert_eq!(without_bcc(last), b"From: a@example.com\r\n\r\nbody");
        let twice = b"Bcc: x@example.com\r\nFrom: a@example.com\r\nbcc: y@example.com\r\n\r\n";
        assert_eq!(without_bcc(twice), b"From: a@example.com\r\n\r\n");
        assert_eq!(without_bcc(PLAIN), PLAIN);
    }

    #[test]
    fn with_header_adds_a_field_at_the_top_and_refuses_line_breaks() {
        let added = with_header(PLAIN, "Bcc", "山田太郎@株式.会社").expect("added");
        assert!(added.starts_with("Bcc: 山田太郎@株式.会社\r\nFrom: Alerts".as_bytes()));
        assert_eq!(&added[added.len() - PLAIN.len()..], PLAIN);
        for value in ["x\r\nBcc: evil@example.com", "x\nTo: y", "x\r"] {
            assert_eq!(
                with_header(PLAIN, "X-Note", value),
                Err(MimeProblem::LineBreakInHeader {
                    name: "X-Note".to_owned()
                })
            );
        }
        for name in ["", "X Note", "X-Note:", "Bcc\r\nTo"] {
            assert!(matches!(
                with_header(PLAIN, name, "v"),
                Err(MimeProblem::BadHeaderName { .. })
            ));
        }
        // A long list folds at its spaces and reads back as the same mailboxes.
        let many: Vec<String> = (0..12).map(|i| format!("user{i}@example.com")).collect();
        let added = with_header(PLAIN, "Bcc", &many.join(", ")).expect("added");
        let head = &added[..added.len() - PLAIN.len()];
        assert!(head.windows(3).any(|w| w == b"\r\n "), "folded");
        assert!(lines_at_most(head, 78));
        let read = read_headers(&added).expect("reads");
        let addresses: Vec<_> = read.bcc.into_iter().map(|m| m.address).collect();
        assert_eq!(addresses, many);
    }

    #[test]
    fn read_headers_takes_internationalised_and_encoded_headers() {
        let raw = "From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>\r\n\
                   To: 山田太郎 <山田太郎@株式.会社>, undisclosed-recipients:;\r\n\
                   Cc: Team: ops@example.net, \"Smith, J\" <j@example.net>;\r\n\
                   Bcc: audit@example.com\r\n\
                   Subject: =?utf-8?b?5bGx55Sw44GV44KT?= and =?ISO-2022-JP?B?GyRCJEgkYhsoQg==?=\r\n\
                   Message-ID: <abc.123@example.com>\r\n\
                   Date: Mon, 6 Jan 2025 10:00:00 +0000\r\n\
                   X-Outmail-Dedupe-Key:  order-42\r\n\
                   X-OUTMAIL-PRIORITY: high\r\n  urgent\r\n\
                   \r\n\
                   Body\r\n";
        let read = read_headers(raw.as_bytes()).expect("reads");
        let mailbox = |name: Option<&str>, address: &str| MimeMailbox {
            name: name.map(str::to_owned),
            address: address.to_owned(),
        };
        assert_eq!(
            read,
            Submitted {
                from: vec![mailbox(Some("Jörg Müller"), "joerg@example.com")],
                sender: None,
                to: vec![mailbox(Some("山田太郎"), "山田太郎@株式.会社")],
                cc: vec![
                    mailbox(None, "ops@example.net"),
                    mailbox(Some("Smith, J"), "j@example.net")
                ],
                bcc: vec![mailbox(None, "audit@example.com")],
                subject: Some("山田さん and とも".to_owned()),
                message_id: Some("abc.123@example.com".to_owned()),
                has_date: true,
                dedupe_key: Some("order-42".to_owned()),
                priority: Some("high  urgent".to_owned()),
                header_bytes: raw.len() - "Body\r\n".len(),
            }
        );
        let minimal = read_headers(b"From: a@example.com\r\nTo: undisclosed-recipients:;\r\n\r\n")
            .expect("reads");
        assert!(minimal.to.is_empty() && minimal.subject.is_none() && !minimal.has_date);
    }

    #[test]
    fn read_headers_refuses_what_it_cannot_act_on() {
        let problem = |raw: &[u8]| read_headers(raw).unwrap_err();
        assert_eq!(
            problem(b"To: b@example.com\r\nSubject: x\r\n\r\nbody"),
            MimeProblem::MissingFrom
        );
        assert_eq!(
            problem(b"From: a@example.com\r\nSubject: x\r\n"),
            MimeProblem::NoBodySeparator
        );
        assert_eq!(
            problem(b"From: a@example.com\r\nSubject: x"),
            MimeProblem::NoBodySeparator
        );
        assert_eq!(problem(b""), MimeProblem::NoHeaderSection);
        assert_eq!(problem(b"\r\nbody\r\n"), MimeProblem::NoHeaderSection);
        assert_eq!(
            problem(b"From: a@example.com\r\nHello there\r\nTo: b@example.com\r\n\r\n"),
            MimeProblem::NotAHeaderField {
                line: 2,
                text: "Hello there".to_owned()
            }
        );
        assert_eq!(
            problem(b"From: a@example.com\r\nHello there\r\n"),
            MimeProblem::NotAHeaderField {
                line: 2,
                text: "Hello there".to_owned()
            }
        );
        assert_eq!(
            problem(b"From: a@example.com\r\nSubject: a\0b\r\n\r\n"),
            MimeProblem::NulInHeader {
                field: "Subject".to_owned()
            }
        );
        assert_eq!(
            problem(b"From: a@example.com\r\nSubject: caf\xe9\r\n\r\n"),
            MimeProblem::HeaderNotUtf8 {
                field: "Subject".to_owned()
            }
        );
        assert_eq!(
            problem(b"From: a@example.com, b@example.com\r\n\r\n"),
            MimeProblem::SeveralFromWithoutSender { count: 2 }
        );
        let with_sender =
            read_headers(b"From: a@example.com, b@example.com\r\nSender: a@example.com\r\n\r\n")
                .expect("reads");
        assert_eq!(with_sender.sender.expect("sender").address, "a@example.com");
        assert_eq!(
            problem(b"From: undisclosed:;\r\n\r\n"),
            MimeProblem::NoFromMailbox
        );
        assert_eq!(
            problem(b"From: a@example.com\r\nFrom: b@example.com\r\n\r\n"),
            MimeProblem::RepeatedHeader {
                field: "From".to_owned()
            }
        );
        assert_eq!(
            problem(b"From: a@example.com\r\nTo: bob\r\n\r\n"),
            MimeProblem::NotAnAddress {
                field: "To".to_owned(),
                entry: "bob".to_owned()
            }
        );
        assert!(matches!(
            problem(b"From: a@example.com\r\nCc: a@b.c d@e.f\r\n\r\n"),
            MimeProblem::InvalidAddress { field, .. } if field == "Cc"
        ));
        assert_eq!(
            problem(b"From: a@example.com\r\nTo: <>\r\n\r\n"),
            MimeProblem::UnreadableAddresses {
                field: "To".to_owned(),
                value: "<>".to_owned()
            }
        );
        // Every problem reads as a sentence.
        assert_eq!(
            MimeProblem::NotAnAddress {
                field: "To".to_owned(),
                entry: "bob".to_owned()
            }
            .to_string(),
            "the To header has an entry without an address: \"bob\""
        );
    }
}

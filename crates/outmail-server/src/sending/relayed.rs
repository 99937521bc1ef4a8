//! A message a product submitted over SMTP to the relay: its own MIME message, taken through
//! the same rules as `POST /messages` (tenant, routing by envelope sender, the master switch,
//! From rules, signature, send frequency, outbox) and kept in its shape.

use outmail_mail::Letter;
use outmail_mail::mime::{self, MimeMailbox, Submitted};
use outmail_store::NewMessage;
use outmail_types::delivery::{Channel, MessageSource, SendAccepted};
use outmail_types::profile::TransportKind;
use outmail_types::text::DisplayName;
use outmail_types::{EmailAddress, FieldError, FieldErrors, Mailbox};
use sha2::Digest as _;

use super::compose::{accepted, encode};
use super::{Refusal, Sending, recipient_key};

/// What the relay received: the envelope and the message bytes (dot-unstuffed, CRLF lines).
#[derive(Debug, Clone)]
pub struct RelayedMessage {
    /// The tenant of the token that authenticated the session, if it is bound to one.
    pub tenant: Option<String>,
    /// `MAIL FROM`; `None` for the null sender `<>`.
    pub envelope_from: Option<EmailAddress>,
    /// `RCPT TO`, in order, without duplicates.
    pub recipients: Vec<EmailAddress>,
    pub raw: Vec<u8>,
    pub source: MessageSource,
    /// The trace line the relay adds (RFC 5321 §4.4), without its date: `from … by … with …`.
    pub received: String,
}

/// Field paths of refusals the relay turns into SMTP replies of their own.
pub mod fields {
    /// The header section cannot be read, or a header is malformed.
    pub const MESSAGE: &str = "message";
    /// The From header names an address the profile may not send as.
    pub const FROM: &str = "from";
    /// A recipient in the headers that the envelope does not name (Graph and EWS would send
    /// to it anyway).
    pub const HEADER_RECIPIENT: &str = "to";
}

impl Sending {
    /// Accepts a relayed message into the outbox, or says why not. A product that lost our
    /// 250 and submits the same message again (same Message-ID, or the same bytes when it has
    /// none, to the same recipients) within the profile's send frequency is answered as if
    /// accepted, and nothing is sent twice: the send-frequency claims, keyed by the message's
    /// identity, suppress it.
    pub async fn accept_relayed(&self, message: RelayedMessage) -> Result<SendAccepted, Refusal> {
        let headers = mime::read_headers(&message.raw).map_err(|problem| {
            invalid(fields::MESSAGE, "unreadable_message", problem.to_string())
        })?;
        let from = header_from(&headers)?;
        // Routing rules match the envelope sender; with the null sender, the From header.
        let sender = message
            .envelope_from
            .clone()
            .unwrap_or_else(|| from.address().clone());
        let resolved = self
            .resolve(message.tenant.as_deref(), Some(&sender))
            .await?;
        let spec = &resolved.spec;
        let allowed = spec.sender.address.address();
        if !same_address(from.address(), allowed) && !spec.sender.template_from_overrides {
            return Err(invalid(
                fields::FROM,
                "from_not_allowed",
                format!(
                    "this profile sends as {allowed}; From {} is not allowed (let templates \
                     override From in the profile's sender settings, or send as {allowed})",
                    from.address()
                ),
            ));
        }
        let (to, cc, bcc) = split_recipients(&headers, &message.recipients);
        if matches!(
            spec.transport.kind(),
            TransportKind::Graph | TransportKind::Ews
        ) && let Some(stray) = header_only_recipient(&headers, &message.recipients)
        {
            return Err(invalid(
                fields::HEADER_RECIPIENT,
                "not_in_envelope",
                format!(
                    "{stray} is in the To or Cc header but not a recipient of this submission; \
                     Microsoft Graph and EWS send a MIME message to every address in its headers"
                ),
            ));
        }
        let message_id = headers
            .message_id
            .clone()
            .unwrap_or_else(|| Letter::new_message_id(from.address()));
        // A submission server completes what the product left out (RFC 6409 §8): the date
        // and a Message-ID; and every SMTP server adds its trace line on top.
        let now = rfc5322_date(self.clock().now_ms());
        let mut raw = mime::without_bcc(&message.raw);
        if headers.message_id.is_none() {
            raw = add_header(&raw, "Message-ID", &format!("<{message_id}>"))?;
        }
        if !headers.has_date {
            raw = add_header(&raw, "Date", &now)?;
        }
        raw = add_header(&raw, "Received", &format!("{}; {now}", message.received))?;
        if let Some(signature) = spec.signature.as_ref().map(|s| s.as_str()) {
            match mime::with_signature(&raw, signature) {
                Ok(signed) => raw = signed,
                // The message goes out as the product built it rather than broken.
                Err(why) => tracing::warn!(%message_id, %why, "signature not added"),
            }
        }
        // Send-frequency identity: the product's alert key, else the message itself.
        let dedupe_key = match (&headers.dedupe_key, &headers.message_id) {
            (Some(key), _) => format!("key:{key}"),
            (None, Some(id)) => format!("message-id:{id}"),
            (None, None) => format!(
                "content:{:x}",
                sha2::Sha256::digest(mime::without_bcc(&message.raw))
            ),
        };
        let letter = Letter {
            from,
            reply_to: None,
            to,
            cc,
            bcc,
            subject: headers.subject.clone().unwrap_or_default(),
            text: None,
            html: None,
            headers: Vec::new(),
            attachments: Vec::new(),
            message_id,
            mime: Some(raw),
        };
        let row = NewMessage {
            tenant_id: message.tenant.clone(),
            profile_id: resolved.profile_id.clone(),
            document: encode(&letter)?,
            idempotency_key: None,
            recipients: letter.recipients().map(recipient_key).collect(),
            dedupe_key,
            window_ms: i64::from(spec.send_frequency.seconds()) * 1000,
            channel: Channel::Smtp.as_str().to_owned(),
            source: Some(
                serde_json::to_string(&message.source).map_err(|e| Refusal::Fault(e.into()))?,
            ),
        };
        Ok(accepted(self.enqueue(&row).await?))
    }
}

/// A date as RFC 5322 writes it: `Tue, 08 Dec 2026 10:42:07 +0000`.
fn rfc5322_date(now_ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".to_owned())
}

fn invalid(field: &str, code: &'static str, message: String) -> Refusal {
    let mut errors = FieldErrors::new();
    errors.add(field, FieldError::new(code, message));
    Refusal::Invalid(errors)
}

fn add_header(raw: &[u8], name: &str, value: &str) -> Result<Vec<u8>, Refusal> {
    mime::with_header(raw, name, value)
        .map_err(|problem| invalid(fields::MESSAGE, "unreadable_message", problem.to_string()))
}

/// The one From mailbox, in outmail's type.
fn header_from(headers: &Submitted) -> Result<Mailbox, Refusal> {
    let [from] = headers.from.as_slice() else {
        return Err(invalid(
            fields::FROM,
            "one_from",
            format!(
                "the From header must name exactly one mailbox (it names {})",
                headers.from.len()
            ),
        ));
    };
    mailbox(from).map_err(|why| invalid(fields::FROM, "invalid_from", why))
}

fn mailbox(mailbox: &MimeMailbox) -> Result<Mailbox, String> {
    let address = EmailAddress::parse_utf8(&mailbox.address).map_err(|e| {
        format!(
            "{} is not an address outmail can send to: {e}",
            mailbox.address
        )
    })?;
    // A name that is not a valid display name (too long, control characters) is dropped: the
    // name is shown in the delivery log only; the header itself goes as the product wrote it.
    let name = mailbox
        .name
        .as_deref()
        .and_then(|name| DisplayName::parse(name).ok());
    Ok(Mailbox::new(name, address))
}

fn same_address(a: &EmailAddress, b: &EmailAddress) -> bool {
    recipient_key(&Mailbox::new(None, a.clone())) == recipient_key(&Mailbox::new(None, b.clone()))
}

/// To and Cc as the headers name them (those the envelope also names), and every other
/// envelope recipient as Bcc: the envelope decides who receives the message.
fn split_recipients(
    headers: &Submitted,
    envelope: &[EmailAddress],
) -> (Vec<Mailbox>, Vec<Mailbox>, Vec<Mailbox>) {
    let mut remaining: Vec<&EmailAddress> = envelope.iter().collect();
    let mut take = |list: &[MimeMailbox]| -> Vec<Mailbox> {
        let mut taken = Vec::new();
        for named in list {
            let Ok(named) = mailbox(named) else { continue };
            if let Some(at) = remaining
                .iter()
                .position(|address| same_address(address, named.address()))
            {
                remaining.remove(at);
                taken.push(named);
            }
        }
        taken
    };
    let to = take(&headers.to);
    let cc = take(&headers.cc);
    let bcc = remaining
        .into_iter()
        .map(|address| Mailbox::new(None, address.clone()))
        .collect();
    (to, cc, bcc)
}

/// An address in To or Cc that is not an envelope recipient.
fn header_only_recipient(headers: &Submitted, envelope: &[EmailAddress]) -> Option<String> {
    headers
        .to
        .iter()
        .chain(&headers.cc)
        .find(|named| match EmailAddress::parse_utf8(&named.address) {
            Ok(address) => !envelope.iter().any(|e| same_address(e, &address)),
            Err(_) => true,
        })
        .map(|named| named.address.clone())
}

//! Building the message: outmail's parsed addresses into lettre's, the signature, the headers
//! (`X-` only, never a line break), a stable Message-ID, and the SMTP envelope.

use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox as LettreMailbox, MultiPart, SinglePart};
use outmail_types::diagnosis::Stage;
use outmail_types::{EmailAddress, Mailbox};

use serde::{Deserialize, Serialize};

use crate::error::{MailError, Reason};
use crate::smtp::Outgoing;

/// A message to send, in outmail's types. Every address was parsed by `outmail-types`. It is
/// also what the outbox stores (as JSON), so every attempt sends the same message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Letter {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Extra `X-` headers.
    pub headers: Vec<(String, String)>,
    /// Files sent along (a support request's system information).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Without angle brackets: `uuid@domain`.
    pub message_id: String,
    /// The message exactly as a product built it, when it came in over the SMTP relay: sent as
    /// these bytes (over SMTP), as MIME (Graph, EWS). Then the fields above describe it (From,
    /// To and Cc from its headers, Bcc the envelope recipients it does not name, the subject)
    /// for the envelope, the delivery log and the profile's rules; the bytes have no Bcc header
    /// and already carry the signature.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "mime_base64",
        with = "base64_optional"
    )]
    pub mime: Option<Vec<u8>>,
}

/// A file sent with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    /// A MIME type, `text/plain; charset=utf-8`.
    pub content_type: String,
    /// In JSON as base64 (`content_base64`).
    #[serde(rename = "content_base64", with = "base64_bytes")]
    pub content: Vec<u8>,
}

/// Bytes as a base64 string in JSON.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        BASE64.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Optional bytes as an optional base64 string in JSON.
mod base64_optional {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => super::base64_bytes::serialize(bytes, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::base64_bytes")] Vec<u8>);
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(bytes)| bytes))
    }
}

impl Letter {
    /// A fresh Message-ID on the sender's domain.
    pub fn new_message_id(from: &EmailAddress) -> String {
        format!("{}@{}", uuid::Uuid::new_v4().simple(), from.ascii_domain())
    }

    /// Every recipient, in order (for the SMTP envelope and for APIs that take lists).
    pub fn recipients(&self) -> impl Iterator<Item = &Mailbox> {
        self.to.iter().chain(&self.cc).chain(&self.bcc)
    }

    /// Checks the extra headers under the same rule the SMTP message uses (`X-` names, no
    /// line breaks), for transports that send them as fields of their own (EWS, Graph).
    pub fn check_headers(&self) -> Result<(), MailError> {
        for (name, value) in &self.headers {
            header(name, value)?;
        }
        Ok(())
    }

    /// The envelope: the From address as the sender, every recipient.
    fn envelope(&self) -> Result<Envelope, MailError> {
        let recipients = self
            .recipients()
            .map(|m| address(m.address()))
            .collect::<Result<Vec<_>, _>>()?;
        Envelope::new(Some(address(self.from.address())?), recipients)
            .map_err(|e| invalid(format!("the envelope is invalid: {e}")))
    }

    /// The RFC 5322 message and its envelope (Bcc is in the envelope only).
    pub fn to_smtp(&self) -> Result<Outgoing, MailError> {
        if let Some(mime) = &self.mime {
            return Ok(Outgoing {
                envelope: self.envelope()?,
                formatted: mime.clone(),
            });
        }
        let mut builder = lettre::Message::builder()
            .from(lettre_mailbox(&self.from)?)
            .subject(self.subject.clone())
            .message_id(Some(format!("<{}>", self.message_id)))
            .date_now()
            .user_agent(concat!("outmail/", env!("CARGO_PKG_VERSION")).to_owned());
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(lettre_mailbox(reply_to)?);
        }
        for to in &self.to {
            builder = builder.to(lettre_mailbox(to)?);
        }
        for cc in &self.cc {
            builder = builder.cc(lettre_mailbox(cc)?);
        }
        for (name, value) in &self.headers {
            builder = builder.raw_header(header(name, value)?);
        }
        let envelope = self.envelope()?;
        builder = builder.envelope(envelope.clone());
        let text = self.text.clone().unwrap_or_default();
        let built = match (&self.html, self.attachments.is_empty()) {
            (Some(html), true) => {
                builder.multipart(MultiPart::alternative_plain_html(text, html.clone()))
            }
            (None, true) => builder.singlepart(plain(text)),
            (html, false) => {
                let mut mixed = match html {
                    Some(html) => MultiPart::mixed()
                        .multipart(MultiPart::alternative_plain_html(text, html.clone())),
                    None => MultiPart::mixed().singlepart(plain(text)),
                };
                for attachment in &self.attachments {
                    let content_type = ContentType::parse(&attachment.content_type)
                        .map_err(|e| invalid(format!("attachment type: {e}")))?;
                    mixed = mixed.singlepart(
                        lettre::message::Attachment::new(attachment.filename.clone())
                            .body(attachment.content.clone(), content_type),
                    );
                }
                builder.multipart(mixed)
            }
        };
        let message = built.map_err(|e| invalid(format!("the message cannot be built: {e}")))?;
        Ok(Outgoing {
            envelope,
            formatted: message.formatted(),
        })
    }
}

fn plain(text: String) -> SinglePart {
    SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(text)
}

/// Appends the profile's signature after the standard `-- ` separator (RFC 3676 §4.3).
pub fn with_signature(text: &str, signature: Option<&str>) -> String {
    match signature {
        Some(signature) if !signature.trim().is_empty() => {
            format!("{}\r\n\r\n-- \r\n{}", text.trim_end(), signature.trim_end())
        }
        _ => text.to_owned(),
    }
}

fn invalid(detail: String) -> MailError {
    MailError::new(Reason::InvalidMessage, Stage::Prepare, detail)
}

fn address(email: &EmailAddress) -> Result<Address, MailError> {
    Address::new(email.local_part(), email.ascii_domain())
        .map_err(|e| invalid(format!("{} cannot be used: {e}", email.to_smtp())))
}

fn lettre_mailbox(mailbox: &Mailbox) -> Result<LettreMailbox, MailError> {
    Ok(LettreMailbox::new(
        mailbox.name().map(|n| n.to_string()),
        address(mailbox.address())?,
    ))
}

/// An `X-` header. Names and values with line breaks are refused (header injection), as are
/// names that are not `X-…` tokens.
fn header(name: &str, value: &str) -> Result<HeaderValue, MailError> {
    let is_token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !is_token || !name.to_ascii_lowercase().starts_with("x-") {
        return Err(invalid(format!(
            "header {name:?} must be an X- header name"
        )));
    }
    if value.contains(['\r', '\n']) {
        return Err(invalid(format!(
            "header {name} must not contain a line break"
        )));
    }
    let name = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|e| invalid(format!("header {name:?}: {e}")))?;
    Ok(HeaderValue::new(name, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(to: &str) -> Letter {
        Letter {
            from: Mailbox::parse_utf8("\"Alerts\" <alerts@example.com>").expect("from"),
            reply_to: None,
            to: vec![Mailbox::parse_utf8(to).expect("to")],
            cc: vec![],
            bcc: vec![Mailbox::parse_utf8("audit@example.com").expect("bcc")],
            subject: "Hello".to_owned(),
            text: Some("Body".to_owned()),
            html: None,
            headers: vec![("X-Outmail-Test".to_owned(), "yes".to_owned())],
            mime: None,
            attachments: Vec::new(),
            message_id: "abc@example.com".to_owned(),
        }
    }

    #[test]
    fn bcc_is_in_the_envelope_but_not_the_headers() {
        let out = letter("ops@example.net").to_smtp().expect("builds");
        let text = String::from_utf8(out.formatted).expect("utf8");
        assert!(!text.contains("audit@"), "{text}");
        assert_eq!(out.envelope.to().len(), 2);
        assert!(text.contains("Message-ID: <abc@example.com>"), "{text}");
        assert!(text.contains("X-Outmail-Test: yes"), "{text}");
        assert!(text.contains("From: Alerts <alerts@example.com>"), "{text}");
    }

    #[test]
    fn an_internationalised_recipient_needs_smtputf8_in_the_envelope() {
        let out = letter("山田太郎@株式.会社").to_smtp().expect("builds");
        assert!(
            out.envelope
                .to()
                .iter()
                .any(|a| !AsRef::<str>::as_ref(a).is_ascii())
        );
    }

    #[test]
    fn a_header_with_a_line_break_or_a_non_x_name_is_refused() {
        let mut bad = letter("ops@example.net");
        bad.headers = vec![("X-A".to_owned(), "1\r\nBcc: evil@example.com".to_owned())];
        assert_eq!(bad.to_smtp().unwrap_err().reason, Reason::InvalidMessage);
        bad.headers = vec![("Subject".to_owned(), "again".to_owned())];
        assert_eq!(bad.to_smtp().unwrap_err().reason, Reason::InvalidMessage);
    }

    #[test]
    fn the_signature_follows_the_standard_separator() {
        assert_eq!(with_signature("Hi\n", Some("Ops")), "Hi\r\n\r\n-- \r\nOps");
        assert_eq!(with_signature("Hi", None), "Hi");
    }

    #[test]
    fn attachments_follow_the_text_in_a_mixed_message() {
        let mut with_file = letter("ops@example.net");
        with_file.attachments.push(Attachment {
            filename: "system-info.txt".into(),
            content_type: "text/plain; charset=utf-8".into(),
            content: b"outmail 0.1.0\n".to_vec(),
        });
        let text = String::from_utf8(with_file.to_smtp().unwrap().formatted).unwrap();
        assert!(text.contains("Content-Type: multipart/mixed"), "{text}");
        assert_eq!(text.matches("multipart/").count(), 1, "no nesting: {text}");
        assert!(text.contains("filename=\"system-info.txt\""), "{text}");
        assert!(text.contains("outmail 0.1.0"), "{text}");
    }
}

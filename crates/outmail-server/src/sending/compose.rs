//! What a profile's rules make of a message: From (a template's own where the profile allows
//! it, the acting user where it sends as them), Reply-To, the signature, the `X-` headers; and
//! accepting it (`POST /messages`).

use std::collections::BTreeMap;

use outmail_mail::Letter;
use outmail_store::{Enqueued, MessageRow, NewMessage};
use outmail_types::delivery::{Channel, MessageSource, MessageStatus, SendAccepted};
use outmail_types::email::Charset;
use outmail_types::text::HeaderText;
use outmail_types::{FieldError, FieldErrors, Mailbox, ProfileSpec};
use serde::Deserialize;

use super::{Refusal, Sending, recipient_key};

/// A message as the product sends it (`POST /messages`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The tenant whose profile sends; missing means the global default profile.
    #[serde(default)]
    pub tenant: Option<String>,
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default)]
    pub bcc: Vec<String>,
    pub subject: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    /// A template's own From; used when the profile lets templates override it.
    #[serde(default)]
    pub from_override: Option<String>,
    /// The user the product acts for: the From where the profile sends as the acting user,
    /// else the Reply-To.
    #[serde(default)]
    pub on_behalf_of: Option<String>,
    /// What makes two messages the same alert for the send frequency; default: the subject.
    #[serde(default)]
    pub dedupe_key: Option<String>,
    /// Extra `X-` headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Sending {
    /// Accepts a message for delivery: resolves its profile, composes it under the profile's
    /// rules and queues it (or finds the earlier one with the same idempotency key).
    pub async fn accept(
        &self,
        request: &SendRequest,
        idempotency_key: Option<String>,
        source: &MessageSource,
    ) -> Result<SendAccepted, Refusal> {
        // The sender routing rules match: a template's From, else the acting user.
        let sender = request
            .from_override
            .as_deref()
            .or(request.on_behalf_of.as_deref())
            .and_then(|text| Mailbox::parse(text, Charset::Utf8).ok());
        let resolved = self
            .resolve(
                request.tenant.as_deref(),
                sender.as_ref().map(Mailbox::address),
            )
            .await?;
        let letter = compose(request, &resolved.spec)?;
        let message = NewMessage {
            tenant_id: request.tenant.clone(),
            profile_id: resolved.profile_id.clone(),
            document: encode(&letter)?,
            idempotency_key,
            recipients: letter.recipients().map(recipient_key).collect(),
            dedupe_key: request
                .dedupe_key
                .clone()
                .unwrap_or_else(|| format!("subject:{}", letter.subject)),
            window_ms: i64::from(resolved.spec.send_frequency.seconds()) * 1000,
            channel: source.channel.as_str().to_owned(),
            source: Some(serde_json::to_string(source).map_err(|e| Refusal::Fault(e.into()))?),
        };
        Ok(accepted(self.enqueue(&message).await?))
    }

    /// The stored message `id` again as a new one (a new Message-ID, the same profile, never
    /// suppressed: an admin asked for it).
    pub async fn resend(&self, id: &str) -> Result<SendAccepted, Refusal> {
        let row = match self.store.get_message(id).await {
            Ok(row) => row,
            Err(outmail_store::StoreError::NotFound) => return Err(Refusal::NotFound("message")),
            Err(other) => return Err(other.into()),
        };
        let mut letter: Letter = super::decode("message", &row.id, &row.document)?;
        // A relayed message goes again exactly as the product built it, its own Message-ID
        // included: outmail does not rewrite the product's MIME.
        if letter.mime.is_none() {
            letter.message_id = Letter::new_message_id(letter.from.address());
        }
        let message = NewMessage {
            tenant_id: row.tenant_id.clone(),
            profile_id: row.profile_id.clone(),
            document: encode(&letter)?,
            idempotency_key: None,
            recipients: Vec::new(),
            dedupe_key: String::new(),
            window_ms: 0,
            // An admin asked for it in the delivery log.
            channel: Channel::Api.as_str().to_owned(),
            source: None,
        };
        let queued = match self.enqueue(&message).await? {
            Enqueued::New { row, .. } | Enqueued::Replayed(row) => row,
        };
        Ok(SendAccepted {
            status: status_of(&queued),
            id: queued.id,
            suppressed: Vec::new(),
            profile_id: queued.profile_id,
        })
    }
}

/// What the product is told of a message the outbox took: the new row with the recipients the
/// send frequency left out, or the earlier message an idempotency key found.
pub(super) fn accepted(enqueued: Enqueued) -> SendAccepted {
    match enqueued {
        Enqueued::New { row, suppressed } => SendAccepted {
            status: status_of(&row),
            id: row.id,
            suppressed,
            profile_id: row.profile_id,
        },
        Enqueued::Replayed(row) => SendAccepted {
            suppressed: suppressed_recipients(&row).unwrap_or_default(),
            status: status_of(&row),
            id: row.id,
            profile_id: row.profile_id,
        },
    }
}

/// The stored status; the store writes only the names [`MessageStatus`] knows (a test holds
/// them together), so anything else would be a row from a newer version: shown failed.
pub fn status_of(row: &MessageRow) -> MessageStatus {
    MessageStatus::parse(&row.status).unwrap_or(MessageStatus::Failed)
}

/// The recipients the send frequency left out of a stored message (see [`recipient_key`]).
pub fn suppressed_recipients(row: &MessageRow) -> Result<Vec<String>, serde_json::Error> {
    serde_json::from_str(&row.suppressed_recipients)
}

pub(super) fn encode(letter: &Letter) -> Result<String, Refusal> {
    serde_json::to_string(letter).map_err(|e| Refusal::Fault(e.into()))
}

/// The letter as the profile's rules make it: From (a template's own where the profile allows
/// it, the acting user where it sends as them), Reply-To, the signature, the headers.
pub fn compose(request: &SendRequest, spec: &ProfileSpec) -> Result<Letter, Refusal> {
    let charset = Charset::from_utf8_headers(spec.utf8_headers);
    let mut errors = FieldErrors::new();
    let mut mailboxes = |field: &str, list: &[String]| -> Vec<Mailbox> {
        list.iter()
            .enumerate()
            .filter_map(|(n, text)| match Mailbox::parse(text, charset) {
                Ok(m) => Some(m),
                Err(e) => {
                    errors.add(format!("{field}.{n}"), e);
                    None
                }
            })
            .collect()
    };
    let to = mailboxes("to", &request.to);
    let cc = mailboxes("cc", &request.cc);
    let bcc = mailboxes("bcc", &request.bcc);
    let mut one = |field: &str, text: &Option<String>| -> Option<Mailbox> {
        let text = text.as_deref()?;
        match Mailbox::parse(text, charset) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.add(field, e);
                None
            }
        }
    };
    let from_override = one("from_override", &request.from_override);
    let acting = one("on_behalf_of", &request.on_behalf_of);
    if request.to.is_empty() {
        errors.add(
            "to",
            FieldError::new("required", "name at least one recipient"),
        );
    }
    let subject = match HeaderText::parse(&request.subject) {
        Ok(s) => s.as_str().to_owned(),
        Err(e) => {
            errors.add("subject", e);
            String::new()
        }
    };
    if request.text.is_none() && request.html.is_none() {
        errors.add(
            "text",
            FieldError::new("required", "give a text or an HTML body"),
        );
    }
    for (name, value) in &request.headers {
        let x_name = name.len() > 2
            && name[..2].eq_ignore_ascii_case("x-")
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !x_name {
            errors.add(
                format!("headers.{name}"),
                FieldError::new("not_x_header", "only X- header names are allowed"),
            );
        } else if value.contains(['\r', '\n']) {
            errors.add(
                format!("headers.{name}"),
                FieldError::new("line_break", "a header value cannot contain a line break"),
            );
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors));
    }
    let profile_from = spec.sender.from_mailbox();
    let (from, reply_to) = match (&acting, spec.sender.send_as_acting_user) {
        (Some(user), true) => (user.clone(), spec.sender.reply_to.clone()),
        (Some(user), false) => (
            chosen_from(from_override, spec, profile_from),
            Some(user.clone()),
        ),
        (None, _) => (
            chosen_from(from_override, spec, profile_from),
            spec.sender.reply_to.clone(),
        ),
    };
    let signature = spec.signature.as_ref().map(|s| s.as_str());
    Ok(Letter {
        message_id: Letter::new_message_id(from.address()),
        from,
        reply_to,
        to,
        cc,
        bcc,
        subject,
        text: request
            .text
            .as_deref()
            .map(|text| outmail_mail::message::with_signature(text, signature)),
        html: request.html.clone(),
        headers: request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        mime: None,
        attachments: Vec::new(),
    })
}

fn chosen_from(template: Option<Mailbox>, spec: &ProfileSpec, profile: Mailbox) -> Mailbox {
    match template {
        Some(from) if spec.sender.template_from_overrides => from,
        _ => profile,
    }
}

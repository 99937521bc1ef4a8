//! Support requests: a user's request for help, sent to the support address through the same
//! profile and outbox as any message, with a system-information file when the global settings
//! ask for it. The file names the version, the platform and the sending profile; never a secret.

use outmail_mail::{Attachment, Letter};
use outmail_store::{Enqueued, NewMessage};
use outmail_types::delivery::Channel;
use outmail_types::email::Charset;
use outmail_types::text::HeaderText;
use outmail_types::{FieldError, FieldErrors, Mailbox, ProfileSpec};
use serde::{Deserialize, Serialize};

use super::compose::encode;
use super::{Refusal, Sending, recipient_key};

/// A user's request for help (`POST /support-requests`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportRequest {
    /// The user's tenant, if any.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The user asking, who gets the answer (Reply-To).
    pub from: String,
    pub subject: String,
    pub message: String,
}

/// The answer of `POST /support-requests`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SupportAccepted {
    /// The queued message (see `GET /messages/{id}`).
    pub id: String,
    /// Where it goes.
    pub to: String,
    /// Whether the system-information file is attached.
    pub system_info_attached: bool,
}

impl Sending {
    /// Queues a support request for the support address: the tenant's own where the global
    /// settings allow it, else the global one, through the profile any message of that tenant
    /// would use.
    pub async fn support_request(
        &self,
        request: &SupportRequest,
    ) -> Result<SupportAccepted, Refusal> {
        let (global, _) = self.global_settings().await?;
        let tenant = self.tenant(request.tenant.as_deref()).await?;
        let support = match &tenant {
            Some(tenant) => tenant.effective_support_address(&global),
            None => global.support_address.as_ref(),
        }
        .cloned()
        .ok_or(Refusal::NoSupportAddress)?;
        let resolved = self.resolve(request.tenant.as_deref(), None).await?;
        let spec = &resolved.spec;
        let user = check(request, spec)?;
        let target = self
            .store
            .get_profile(&resolved.profile_id)
            .await
            .map(|row| row.target)
            .unwrap_or_default();
        let attachments = if global.attach_system_info {
            vec![Attachment {
                filename: "system-info.txt".to_owned(),
                content_type: "text/plain; charset=utf-8".to_owned(),
                content: system_info(request, spec, &target).into_bytes(),
            }]
        } else {
            Vec::new()
        };
        let from = spec.sender.from_mailbox();
        let letter = Letter {
            message_id: Letter::new_message_id(from.address()),
            from,
            reply_to: Some(user),
            to: vec![support.clone()],
            cc: Vec::new(),
            bcc: Vec::new(),
            subject: format!("Support request: {}", request.subject.trim()),
            text: Some(request.message.clone()),
            html: None,
            headers: vec![("X-Outmail-Support-Request".to_owned(), "1".to_owned())],
            attachments,
            mime: None,
        };
        let system_info_attached = !letter.attachments.is_empty();
        let message = NewMessage {
            tenant_id: request.tenant.clone(),
            profile_id: resolved.profile_id,
            document: encode(&letter)?,
            idempotency_key: None,
            recipients: vec![recipient_key(&support)],
            dedupe_key: String::new(),
            // A user's request is never suppressed as a repeated alert.
            window_ms: 0,
            channel: Channel::Api.as_str().to_owned(),
            source: None,
        };
        let id = match self.enqueue(&message).await? {
            Enqueued::New { row, .. } | Enqueued::Replayed(row) => row.id,
        };
        Ok(SupportAccepted {
            id,
            to: support.to_string(),
            system_info_attached,
        })
    }
}

/// The user's address (under the profile's address rules), subject and message.
fn check(request: &SupportRequest, spec: &ProfileSpec) -> Result<Mailbox, Refusal> {
    let mut errors = FieldErrors::new();
    let user = Mailbox::parse(&request.from, Charset::from_utf8_headers(spec.utf8_headers))
        .map_err(|e| errors.add("from", e))
        .ok();
    if let Err(e) = HeaderText::parse(&request.subject) {
        errors.add("subject", e);
    }
    if request.message.trim().is_empty() {
        errors.add(
            "message",
            FieldError::new("required", "describe the problem"),
        );
    }
    match user {
        Some(user) if errors.is_empty() => Ok(user),
        _ => Err(Refusal::Invalid(errors)),
    }
}

/// What support needs to know about this installation; settings by name, never a secret.
fn system_info(request: &SupportRequest, spec: &ProfileSpec, target: &str) -> String {
    format!(
        "outmail {version}\n\
         platform: {os} {arch}\n\
         tenant: {tenant}\n\
         profile: {name} ({transport}, {target})\n\
         UTF-8 headers: {utf8}\n",
        version = env!("CARGO_PKG_VERSION"),
        os = std::env::consts::OS,
        arch = std::env::consts::ARCH,
        tenant = request.tenant.as_deref().unwrap_or("none"),
        name = spec.name,
        transport = spec.transport.kind(),
        utf8 = if spec.utf8_headers { "on" } else { "off" },
    )
}

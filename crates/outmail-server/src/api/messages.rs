//! The sending API: `POST /messages` resolves the profile (the tenant's own, else the global
//! default; nothing while sending is switched off), applies the profile's From rules and
//! signature, and writes the message to the durable outbox in one transaction with its
//! send-frequency claims; workers deliver it. `GET /messages` is the delivery log.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use outmail_mail::Letter;
use outmail_store::{Enqueued, MessageQuery, MessageRow, NewMessage};
use outmail_types::delivery::{MessageStatus, MessageView, SendAccepted};
use outmail_types::email::Charset;
use outmail_types::settings::{RoutingRule, Tenant, TenantProfile, route_for};
use outmail_types::text::HeaderText;
use outmail_types::{EmailAddress, FieldErrors, Mailbox, ProfileSpec};
use serde::Deserialize;

use super::documents::decode;
use super::error::{ApiFailure, ApiResult, not_found_as};
use super::extract::ApiPath;
use super::json::ApiJson;
use super::references;
use crate::state::AppState;

/// `POST /messages`
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

/// `GET /messages` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogParams {
    /// `queued`, `sent`, `failed` or `suppressed`.
    pub status: Option<String>,
    pub tenant: Option<String>,
    /// Only messages created before this (unix ms), to page back.
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// `POST /messages`
#[utoipa::path(post, path = "/messages", tag = "messages", request_body = SendRequest, params(("Idempotency-Key" = Option<String>, Header, description = "a retried request with the same key returns the first message instead of sending again")), responses((status = 202, description = "queued (or suppressed)", body = SendAccepted), (status = 404, description = "no such tenant", body = outmail_types::error::ApiError), (status = 409, description = "sending is switched off, or no profile applies", body = outmail_types::error::ApiError), (status = 422, description = "invalid fields, each named", body = outmail_types::error::ApiError)))]
pub async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SendRequest>,
) -> ApiResult<Response> {
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiFailure::invalid_field(
                        "Idempotency-Key",
                        "invalid",
                        "use up to 200 visible ASCII characters",
                    )
                })
        })
        .transpose()?;
    // The sender routing rules match: a template's From, else the acting user.
    let sender = request
        .from_override
        .as_deref()
        .or(request.on_behalf_of.as_deref())
        .and_then(|text| Mailbox::parse(text, Charset::Utf8).ok());
    let (profile_id, spec) = resolve(
        &state,
        request.tenant.as_deref(),
        sender.as_ref().map(Mailbox::address),
    )
    .await?;
    let letter = compose(&request, &spec)?;
    let recipients: Vec<String> = letter
        .to
        .iter()
        .chain(&letter.cc)
        .chain(&letter.bcc)
        .map(|m| m.address().to_string().to_lowercase())
        .collect();
    let message = NewMessage {
        tenant_id: request.tenant.clone(),
        profile_id: profile_id.clone(),
        document: serde_json::to_string(&letter)
            .map_err(|e| ApiFailure::internal(anyhow::Error::from(e)))?,
        idempotency_key,
        recipients,
        dedupe_key: request
            .dedupe_key
            .clone()
            .unwrap_or_else(|| format!("subject:{}", letter.subject)),
        window_ms: i64::from(spec.send_frequency.seconds()) * 1000,
    };
    let answer = match state.store.enqueue_message(&message).await? {
        Enqueued::New { row, suppressed } => {
            if row.status == outmail_store::QUEUED {
                state.mail.wake_workers();
            } else {
                tracing::info!(message = %row.id, "suppressed by the send frequency");
            }
            SendAccepted {
                status: status_of(&row),
                id: row.id,
                suppressed,
                profile_id,
            }
        }
        Enqueued::Replayed(row) => SendAccepted {
            suppressed: suppressed_list(&row),
            status: status_of(&row),
            id: row.id,
            profile_id: row.profile_id,
        },
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// The profile for the message, refusing while sending is off: the tenant's own profile, else
/// the first routing rule matching the sender, else the global default.
pub(super) async fn resolve(
    state: &AppState,
    tenant: Option<&str>,
    sender: Option<&EmailAddress>,
) -> ApiResult<(String, ProfileSpec)> {
    let (global, _) = references::global_settings(state).await?;
    if !global.sending_enabled {
        return Err(ApiFailure::conflict(
            "sending_enabled",
            "sending_disabled",
            "sending is switched off in the global settings; nothing was stored",
        ));
    }
    let own = match load_tenant(state, tenant).await? {
        Some(Tenant {
            profile: TenantProfile::Own(id),
            ..
        }) => Some(id),
        _ => None,
    };
    let routed = match (&own, sender) {
        (None, Some(sender)) => {
            let mut rules = Vec::new();
            for row in state.store.list_routing_rules().await? {
                rules.push(decode::<RoutingRule>(
                    "routing rule",
                    &row.id,
                    &row.document,
                )?);
            }
            route_for(&rules, sender).map(|rule| rule.profile_id.clone())
        }
        _ => None,
    };
    let profile_id = own.or(routed).or(global.default_profile_id.clone());
    let Some(profile_id) = profile_id else {
        return Err(ApiFailure::conflict(
            "tenant",
            "no_profile",
            "no profile applies: set the global default profile or the tenant's own",
        ));
    };
    let row = state
        .store
        .get_profile(profile_id.as_str())
        .await
        .map_err(|e| not_found_as("profile", e))?;
    let spec: ProfileSpec = decode("profile", &row.id, &row.document)?;
    Ok((row.id, spec))
}

/// The tenant named `slug`, if any; 404 when there is no such tenant.
pub(super) async fn load_tenant(state: &AppState, slug: Option<&str>) -> ApiResult<Option<Tenant>> {
    let Some(slug) = slug else { return Ok(None) };
    let row = state
        .store
        .get_tenant(slug)
        .await
        .map_err(|e| not_found_as("tenant", e))?;
    Ok(Some(decode("tenant", &row.id, &row.document)?))
}

/// The letter as the profile's rules make it: From (a template's own where the profile allows
/// it, the acting user where it sends as them), Reply-To, the signature, the headers.
fn compose(request: &SendRequest, spec: &ProfileSpec) -> ApiResult<Letter> {
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
            outmail_types::FieldError::new("required", "name at least one recipient"),
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
            outmail_types::FieldError::new("required", "give a text or an HTML body"),
        );
    }
    for (name, value) in &request.headers {
        let x_name = name.len() > 2
            && name[..2].eq_ignore_ascii_case("x-")
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !x_name {
            errors.add(
                format!("headers.{name}"),
                outmail_types::FieldError::new("not_x_header", "only X- header names are allowed"),
            );
        } else if value.contains(['\r', '\n']) {
            errors.add(
                format!("headers.{name}"),
                outmail_types::FieldError::new(
                    "line_break",
                    "a header value cannot contain a line break",
                ),
            );
        }
    }
    if !errors.is_empty() {
        return Err(ApiFailure::invalid(errors));
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
        attachments: Vec::new(),
    })
}

fn chosen_from(template: Option<Mailbox>, spec: &ProfileSpec, profile: Mailbox) -> Mailbox {
    match template {
        Some(from) if spec.sender.template_from_overrides => from,
        _ => profile,
    }
}

/// `GET /messages`
#[utoipa::path(get, path = "/messages", tag = "messages", params(LogParams), responses((status = 200, description = "the delivery log, newest first", body = Vec<MessageView>)))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<LogParams>,
) -> ApiResult<Json<Vec<MessageView>>> {
    let status = params
        .status
        .map(|name| {
            MessageStatus::parse(&name).ok_or_else(|| {
                ApiFailure::invalid_field(
                    "status",
                    "invalid",
                    "use queued, sent, failed or suppressed",
                )
            })
        })
        .transpose()?;
    let rows = state
        .store
        .list_messages(&MessageQuery {
            status: status.map(|s| s.as_str().to_owned()),
            tenant_id: params.tenant,
            before: params.before,
            limit: params.limit.unwrap_or(100),
        })
        .await?;
    Ok(Json(rows.iter().map(view).collect()))
}

/// `GET /messages/{id}`
#[utoipa::path(get, path = "/messages/{id}", tag = "messages", params(("id" = String, Path, description = "the message ID")), responses((status = 200, description = "one message", body = MessageView), (status = 404, description = "no such message", body = outmail_types::error::ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MessageView>> {
    let row = state
        .store
        .get_message(&id)
        .await
        .map_err(|e| not_found_as("message", e))?;
    Ok(Json(view(&row)))
}

/// `POST /messages/{id}/resend`: the same message again as a new one (a new Message-ID, the
/// same profile, not suppressed: an admin asked for it).
#[utoipa::path(post, path = "/messages/{id}/resend", tag = "messages", params(("id" = String, Path, description = "the message ID")), responses((status = 202, description = "queued again as a new message", body = SendAccepted), (status = 404, description = "no such message", body = outmail_types::error::ApiError)))]
pub async fn resend(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let row = state
        .store
        .get_message(&id)
        .await
        .map_err(|e| not_found_as("message", e))?;
    let mut letter: Letter = decode("message", &row.id, &row.document)?;
    letter.message_id = Letter::new_message_id(letter.from.address());
    let message = NewMessage {
        tenant_id: row.tenant_id.clone(),
        profile_id: row.profile_id.clone(),
        document: serde_json::to_string(&letter)
            .map_err(|e| ApiFailure::internal(anyhow::Error::from(e)))?,
        idempotency_key: None,
        recipients: Vec::new(),
        dedupe_key: String::new(),
        window_ms: 0,
    };
    let queued = match state.store.enqueue_message(&message).await? {
        Enqueued::New { row, .. } | Enqueued::Replayed(row) => row,
    };
    state.mail.wake_workers();
    let answer = SendAccepted {
        status: status_of(&queued),
        id: queued.id,
        suppressed: Vec::new(),
        profile_id: queued.profile_id,
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// The stored status; the store writes only the names [`MessageStatus`] knows (a test below
/// holds them together), so anything else would be a row from a newer version: shown failed.
fn status_of(row: &MessageRow) -> MessageStatus {
    MessageStatus::parse(&row.status).unwrap_or(MessageStatus::Failed)
}

fn suppressed_list(row: &MessageRow) -> Vec<String> {
    serde_json::from_str(&row.suppressed_recipients).unwrap_or_default()
}

fn view(row: &MessageRow) -> MessageView {
    let letter: Option<Letter> = serde_json::from_str(&row.document).ok();
    MessageView {
        id: row.id.clone(),
        tenant: row.tenant_id.clone(),
        profile_id: row.profile_id.clone(),
        status: status_of(row),
        attempts: row.attempts,
        subject: letter
            .as_ref()
            .map(|l| l.subject.clone())
            .unwrap_or_default(),
        to: letter
            .map(|l| l.to.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        server_used: row.server_used.clone(),
        last_error: row.last_error.clone(),
        suppressed_recipients: suppressed_list(row),
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_writes_the_statuses_the_api_names() {
        for (stored, status) in [
            (outmail_store::QUEUED, MessageStatus::Queued),
            (outmail_store::SENT, MessageStatus::Sent),
            (outmail_store::FAILED, MessageStatus::Failed),
            (outmail_store::SUPPRESSED, MessageStatus::Suppressed),
        ] {
            assert_eq!(MessageStatus::parse(stored), Some(status));
        }
    }
}

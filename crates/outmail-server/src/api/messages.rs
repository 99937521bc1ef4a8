//! The sending API: `POST /messages` hands the message to the sending service (which resolves
//! the profile, applies its rules and queues it); `GET /messages` is the delivery log.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use outmail_store::{MessageQuery, MessageRow};
use outmail_types::Mailbox;
use outmail_types::delivery::{Channel, MessageSource, MessageStatus, MessageView, SendAccepted};
use outmail_types::settings::ListQuery;
use serde::Deserialize;

use super::error::{ApiFailure, ApiResult, not_found_as};
use super::extract::ApiPath;
use super::json::ApiJson;
use crate::auth::Principal;
use crate::sending::{SendRequest, status_of, suppressed_recipients};
use crate::state::AppState;

/// `GET /messages` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogParams {
    /// `queued`, `sent`, `failed` or `suppressed`.
    pub status: Option<String>,
    pub tenant: Option<String>,
    /// `api` or `smtp`: only messages that came in by this door.
    pub channel: Option<String>,
    /// Only messages created before this (unix ms), to page back.
    pub before: Option<i64>,
    /// How many messages, newest first: default 100, at most 200; a larger limit is cut to 200.
    pub limit: Option<i64>,
}

/// The delivery log's largest read is the API's one page limit, and the store's backstop is
/// the same number (`outmail-store` does not depend on `outmail-types`, so it holds it again).
const LOG_LIMIT: i64 = ListQuery::MAX_PER_PAGE as i64;
const _: () = assert!(outmail_store::MAX_PER_PAGE == ListQuery::MAX_PER_PAGE);

/// `POST /messages`
#[utoipa::path(post, path = "/messages", tag = "messages", request_body = SendRequest, params(("Idempotency-Key" = Option<String>, Header, description = "a retried request with the same key returns the first message instead of sending again")), responses((status = 202, description = "queued (or suppressed)", body = SendAccepted), (status = 404, description = "no such tenant", body = outmail_types::error::ApiError), (status = 409, description = "sending is switched off, or no profile applies", body = outmail_types::error::ApiError), (status = 422, description = "invalid fields, each named", body = outmail_types::error::ApiError)))]
pub async fn send(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    ApiJson(mut request): ApiJson<SendRequest>,
) -> ApiResult<Response> {
    // A token bound to a tenant sends that tenant's mail and no other's.
    if let Principal::Token {
        tenant: Some(bound),
        ..
    } = &principal
    {
        match &request.tenant {
            Some(named) if named != bound => {
                return Err(ApiFailure::client(
                    StatusCode::FORBIDDEN,
                    "token_tenant",
                    format!(
                        "this token is bound to the tenant {bound}; it cannot send for {named}"
                    ),
                ));
            }
            _ => request.tenant = Some(bound.clone()),
        }
    }
    let source = MessageSource {
        channel: Channel::Api,
        token: match &principal {
            Principal::Token { name, .. } => Some(name.clone()),
            Principal::Person { .. } => None,
        },
        client: None,
    };
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
    let accepted = state
        .sending
        .accept(&request, idempotency_key, &source)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
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
    let channel = params
        .channel
        .map(|name| {
            Channel::parse(&name)
                .ok_or_else(|| ApiFailure::invalid_field("channel", "invalid", "use api or smtp"))
        })
        .transpose()?;
    let rows = state
        .store
        .list_messages(&MessageQuery {
            status: status.map(|s| s.as_str().to_owned()),
            tenant_id: params.tenant,
            channel: channel.map(|c| c.as_str().to_owned()),
            before: params.before,
            limit: params.limit.unwrap_or(100).clamp(1, LOG_LIMIT),
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
    let accepted = state.sending.resend(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// What the delivery log shows of a stored letter. Reading only these fields leaves a relayed
/// message's MIME (up to the relay's size limit) undecoded.
#[derive(Deserialize)]
struct LoggedLetter {
    subject: String,
    to: Vec<Mailbox>,
}

pub(crate) fn view(row: &MessageRow) -> MessageView {
    let letter: Option<LoggedLetter> = serde_json::from_str(&row.document).ok();
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
        suppressed_recipients: suppressed_recipients(row).unwrap_or_else(|error| {
            tracing::error!(message = %row.id, %error, "a stored suppressed-recipient list cannot be read");
            Vec::new()
        }),
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        source: source_of(row),
    }
}

/// The stored source; rows from before sources were kept came in by the API.
fn source_of(row: &MessageRow) -> MessageSource {
    let channel = Channel::parse(&row.channel).unwrap_or_default();
    match row
        .source
        .as_deref()
        .map(serde_json::from_str::<MessageSource>)
    {
        Some(Ok(source)) => MessageSource { channel, ..source },
        Some(Err(error)) => {
            tracing::error!(message = %row.id, %error, "a stored message source cannot be read");
            MessageSource {
                channel,
                ..MessageSource::default()
            }
        }
        None => MessageSource {
            channel,
            ..MessageSource::default()
        },
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

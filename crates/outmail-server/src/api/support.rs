//! `POST /support-requests`: a user's request for help, handed to the sending service, which
//! queues it for the support address with a system-information file when the settings ask.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::ApiResult;
use super::json::ApiJson;
use crate::sending::{SupportAccepted, SupportRequest};
use crate::state::AppState;

/// `POST /support-requests`
#[utoipa::path(post, path = "/support-requests", tag = "messages", request_body = SupportRequest, responses((status = 202, description = "queued for the support address", body = SupportAccepted), (status = 404, description = "no such tenant", body = outmail_types::error::ApiError), (status = 409, description = "sending is off, no profile applies, or no support address is set", body = outmail_types::error::ApiError), (status = 422, description = "invalid fields, each named", body = outmail_types::error::ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SupportRequest>,
) -> ApiResult<Response> {
    let accepted = state.sending.support_request(&request).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

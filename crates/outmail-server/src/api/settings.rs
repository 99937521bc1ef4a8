//! `/api/v1/settings`: the global switch, default profile and support address.

use axum::{extract::State, http::StatusCode, response::Response};
use outmail_types::error::ApiError;
use outmail_types::settings::{GlobalSettingsDraft, GlobalSettingsView};

use super::{
    documents::encode,
    error::{ApiFailure, ApiResult},
    etag::IfMatch,
    json::ApiJson,
    references,
    respond::with_etag,
};
use crate::auth::{AuditNote, audit::fields_changed};
use crate::state::AppState;

/// `GET /settings`
#[utoipa::path(get, path = "/settings", tag = "settings", responses((status = 200, description = "the global settings (version 0 until first saved)", body = GlobalSettingsView, headers(("ETag" = String)))))]
pub async fn get(State(state): State<AppState>) -> ApiResult<Response> {
    let (settings, version) = references::global_settings(&state).await?;
    let view = GlobalSettingsView {
        version,
        settings: settings.to_draft(),
    };
    Ok(with_etag(StatusCode::OK, version, view))
}

/// `PUT /settings` with `If-Match` (`"0"` for the first save).
#[utoipa::path(put, path = "/settings", tag = "settings", params(("If-Match" = String, Header, description = "the ETag of the version you edit, e.g. \"3\"")), request_body = GlobalSettingsDraft, responses((status = 200, description = "saved", body = GlobalSettingsView, headers(("ETag" = String))), (status = 412, description = "If-Match is stale; the current ETag is in the answer", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError), (status = 428, description = "If-Match is missing", body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    IfMatch(expected): IfMatch,
    ApiJson(draft): ApiJson<GlobalSettingsDraft>,
) -> ApiResult<Response> {
    let settings = draft.validate().map_err(ApiFailure::invalid)?;
    let (before, _) = references::global_settings(&state).await?;
    if let Some(id) = &settings.default_profile_id {
        references::ensure_profile_exists(&state, "default_profile_id", id).await?;
    }
    let row = state
        .store
        .put_global(
            expected,
            &encode(&settings)?,
            &references::named_by_global(&settings),
        )
        .await?;
    let view = GlobalSettingsView {
        version: row.version,
        settings: settings.to_draft(),
    };
    let fields = fields_changed(&before.to_draft(), &view.settings);
    Ok(AuditNote::new("settings.update")
        .target("settings")
        .fields(fields)
        .attach(with_etag(StatusCode::OK, row.version, view)))
}

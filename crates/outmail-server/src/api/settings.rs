//! `/api/v1/settings`: the global switch, default profile and support address.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use outmail_types::settings::GlobalSettingsDraft;
use serde::{Deserialize, Serialize};

use super::{
    documents::encode,
    error::{ApiFailure, ApiResult},
    etag,
    json::ApiJson,
    profiles::with_etag,
    references,
};
use crate::state::AppState;

/// The global settings and the version to send back in `If-Match` (0 until first saved).
#[derive(Serialize, Deserialize, Debug)]
pub struct GlobalSettingsView {
    pub version: i64,
    pub settings: GlobalSettingsDraft,
}

/// `GET /settings`
pub async fn get(State(state): State<AppState>) -> ApiResult<Response> {
    let (settings, version) = references::global_settings(&state).await?;
    let view = GlobalSettingsView {
        version,
        settings: settings.to_draft(),
    };
    Ok(with_etag(StatusCode::OK, version, view))
}

/// `PUT /settings` with `If-Match` (`"0"` for the first save).
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(draft): ApiJson<GlobalSettingsDraft>,
) -> ApiResult<Response> {
    let expected = etag::required_version(&headers)?;
    let settings = draft.validate().map_err(ApiFailure::invalid)?;
    if let Some(id) = &settings.default_profile_id {
        references::ensure_profile_exists(&state, "default_profile_id", id).await?;
    }
    let row = state.store.put_global(expected, &encode(&settings)?).await?;
    let view = GlobalSettingsView {
        version: row.version,
        settings: settings.to_draft(),
    };
    Ok(with_etag(StatusCode::OK, row.version, view))
}

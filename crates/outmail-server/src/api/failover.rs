//! The sticky failover of a profile, for the UI's banner: whether it sends through its
//! alternate, since when and why, the history, and the reset.

use axum::Json;
use axum::extract::State;
use outmail_store::{FailoverEvent, FailoverRow};
use outmail_types::delivery::{ActiveFailover, FailoverEntry, FailoverView};

use super::error::ApiResult;
use super::extract::ApiPath;
use super::profiles;
use crate::state::AppState;

/// How many history entries are shown.
const HISTORY: i64 = 50;

/// `GET /failovers`
#[utoipa::path(get, path = "/failovers", tag = "profiles", responses((status = 200, description = "every profile sending through its alternate now, oldest first", body = Vec<ActiveFailover>)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<ActiveFailover>>> {
    let rows = state.store.active_failovers().await?;
    Ok(Json(
        rows.into_iter()
            .map(|f| ActiveFailover {
                profile_id: f.profile_id,
                alternate_profile_id: f.alternate_id,
                since: f.since,
                reason: f.reason,
            })
            .collect(),
    ))
}

/// `GET /profiles/{id}/failover`
#[utoipa::path(get, path = "/profiles/{id}/failover", tag = "profiles", params(("id" = String, Path, description = "the resource ID")), responses((status = 200, description = "the failover state and history", body = FailoverView), (status = 404, description = "no such resource", body = outmail_types::error::ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<FailoverView>> {
    let profile = profiles::load(&state, &id).await?;
    view(&state, &profile.row.id).await.map(Json)
}

/// `POST /profiles/{id}/failover/reset`: sends through the profile itself again.
#[utoipa::path(post, path = "/profiles/{id}/failover/reset", tag = "profiles", params(("id" = String, Path, description = "the resource ID")), responses((status = 200, description = "reset (also when it was not failed over)", body = FailoverView), (status = 404, description = "no such resource", body = outmail_types::error::ApiError)))]
pub async fn reset(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<FailoverView>> {
    let profile = profiles::load(&state, &id).await?;
    state
        .store
        .reset_failover(&profile.row.id, "reset by an admin")
        .await?;
    view(&state, &profile.row.id).await.map(Json)
}

async fn view(state: &AppState, id: &str) -> ApiResult<FailoverView> {
    let current: Option<FailoverRow> = state.store.failover(id).await?;
    let history: Vec<FailoverEvent> = state.store.failover_events(id, HISTORY).await?;
    Ok(FailoverView {
        active: current.is_some(),
        alternate_profile_id: current.as_ref().map(|f| f.alternate_id.clone()),
        since: current.as_ref().map(|f| f.since),
        reason: current.map(|f| f.reason),
        history: history
            .into_iter()
            .map(|e| FailoverEntry {
                kind: e.kind,
                alternate_profile_id: e.alternate_id,
                reason: e.reason,
                at: e.at,
            })
            .collect(),
    })
}

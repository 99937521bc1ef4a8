//! `GET /relay`: the SMTP relay as the Relay page shows it.

use axum::Json;
use axum::extract::State;
use outmail_store::MessageQuery;
use outmail_types::delivery::Channel;
use outmail_types::relay::RelayView;

use super::error::ApiResult;
use super::messages::view;
use crate::state::AppState;

/// How many of the last SMTP submissions the page lists.
const RECENT: i64 = 20;

/// `GET /relay`
#[utoipa::path(get, path = "/relay", tag = "relay", responses((status = 200, description = "whether the SMTP relay is on, its listeners and certificate, and the last submissions", body = RelayView)))]
pub async fn get(State(state): State<AppState>) -> ApiResult<Json<RelayView>> {
    let status = state.relay_status();
    let (certificate, certificate_problem) = match &status.tls {
        Some(tls) => {
            let (view, problem) = tls.view();
            (Some(view), problem)
        }
        None => (None, None),
    };
    let recent = state
        .store
        .list_messages(&MessageQuery {
            channel: Some(Channel::Smtp.as_str().to_owned()),
            limit: RECENT,
            ..MessageQuery::default()
        })
        .await?;
    Ok(Json(RelayView {
        enabled: !status.listeners.is_empty(),
        listeners: status.listeners.clone(),
        certificate,
        certificate_problem,
        max_message_bytes: status.max_message_bytes,
        unauthenticated_networks: status.unauthenticated_networks.clone(),
        recent: recent.iter().map(view).collect(),
    }))
}

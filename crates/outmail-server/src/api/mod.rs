//! The REST API under `/api/v1`: the product, scripts and the UI are all its clients.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};
use serde::Serialize;

use crate::state::AppState;

pub mod documents;
pub mod error;
pub mod etag;
pub mod json;
pub mod profiles;
pub mod references;
pub mod routing;
pub mod settings;
pub mod tenants;
pub mod transfer;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/profiles", get(profiles::list).post(profiles::create))
        .route(
            "/profiles/{id}",
            get(profiles::get).put(profiles::update).delete(profiles::delete),
        )
        .route("/profiles/{id}/duplicate", post(profiles::duplicate))
        .route("/settings", get(settings::get).put(settings::update))
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/tenants/{id}",
            get(tenants::get).put(tenants::update).delete(tenants::delete),
        )
        .route("/tenants/{id}/effective", get(tenants::effective))
        .route("/routing-rules", get(routing::list).post(routing::create))
        .route(
            "/routing-rules/{id}",
            get(routing::get).put(routing::update).delete(routing::delete),
        )
        .route("/export", get(transfer::export))
        .route("/import", post(transfer::import))
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(json::BODY_LIMIT_BYTES))
}

/// The answer of `GET /api/v1/health`.
#[derive(Serialize, Debug)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub database: &'static str,
}

/// Ready only when the database answers: a load balancer should not send work to an instance
/// that cannot read its settings.
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (status, word) = match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let health = Health {
        status: word,
        version: env!("CARGO_PKG_VERSION"),
        database: state.store.backend_name(),
    };
    (status, Json(health))
}

/// API clients get JSON for a wrong path, not the UI's HTML page.
async fn unknown_route() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "code": "not_found",
            "message": "no such API route; see /api/v1/openapi.json",
            "fields": {},
        })),
    )
}

//! The REST API under `/api/v1`: the product, scripts and the UI are all its clients.

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde::Serialize;

use crate::state::AppState;

pub mod error;
pub mod etag;
pub mod json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .fallback(unknown_route)
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

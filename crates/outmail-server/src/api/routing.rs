//! `/api/v1/routing-rules`: mail from a sender address or domain goes through a given profile.

use axum::{Json, extract::State, http::StatusCode, response::Response};
use outmail_store::{RoutingRuleRow, RoutingRuleWrite};
use outmail_types::error::ApiError;
use outmail_types::settings::{RoutingRule, RoutingRuleDraft};
use serde::{Deserialize, Serialize};

use super::{
    documents::{decode, encode, rfc3339},
    error::{ApiFailure, ApiResult, not_found_as},
    etag::IfMatch,
    extract::ApiPath,
    json::ApiJson,
    references,
    respond::{created, with_etag},
};
use crate::state::AppState;

/// A routing rule as the API returns it.
#[derive(Serialize, Deserialize, Debug, utoipa::ToSchema)]
pub struct RoutingRuleView {
    pub id: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub rule: RoutingRuleDraft,
}

fn view(row: &RoutingRuleRow) -> ApiResult<RoutingRuleView> {
    let rule: RoutingRule = decode("routing rule", &row.id, &row.document)?;
    Ok(RoutingRuleView {
        id: row.id.clone(),
        version: row.version,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        rule: rule.to_draft(),
    })
}

async fn validate(state: &AppState, draft: &RoutingRuleDraft) -> ApiResult<RoutingRuleWrite> {
    let rule = draft.validate().map_err(ApiFailure::invalid)?;
    references::ensure_profile_exists(state, "profile_id", &rule.profile_id).await?;
    Ok(RoutingRuleWrite {
        priority: i64::from(rule.priority),
        document: encode(&rule)?,
        refers_to: vec![rule.profile_id.to_string()],
    })
}

/// `GET /routing-rules`, lowest priority first (the order they are tried in).
#[utoipa::path(get, path = "/routing-rules", tag = "routing", responses((status = 200, description = "every rule, in the order they are tried", body = Vec<RoutingRuleView>)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<RoutingRuleView>>> {
    let rows = state.store.list_routing_rules().await?;
    Ok(Json(rows.iter().map(view).collect::<ApiResult<_>>()?))
}

/// `GET /routing-rules/{id}`
#[utoipa::path(get, path = "/routing-rules/{id}", tag = "routing", params(("id" = String, Path, description = "the resource ID")), responses((status = 200, description = "the rule", body = RoutingRuleView, headers(("ETag" = String))), (status = 404, description = "no such resource", body = ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let row = state
        .store
        .get_routing_rule(&id)
        .await
        .map_err(|error| not_found_as("routing rule", error))?;
    Ok(with_etag(StatusCode::OK, row.version, view(&row)?))
}

/// `POST /routing-rules`
#[utoipa::path(post, path = "/routing-rules", tag = "routing", request_body = RoutingRuleDraft, responses((status = 201, description = "created", body = RoutingRuleView, headers(("ETag" = String), ("Location" = String))), (status = 422, description = "invalid fields, each named by its path", body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(draft): ApiJson<RoutingRuleDraft>,
) -> ApiResult<Response> {
    let write = validate(&state, &draft).await?;
    let row = state.store.create_routing_rule(&write).await?;
    let location = format!("/api/v1/routing-rules/{}", row.id);
    Ok(created(&location, row.version, view(&row)?))
}

/// `PUT /routing-rules/{id}` with `If-Match`.
#[utoipa::path(put, path = "/routing-rules/{id}", tag = "routing", params(("id" = String, Path, description = "the resource ID"), ("If-Match" = String, Header, description = "the ETag of the version you edit, e.g. \"3\"")), request_body = RoutingRuleDraft, responses((status = 200, description = "saved", body = RoutingRuleView, headers(("ETag" = String))), (status = 404, description = "no such resource", body = ApiError), (status = 412, description = "If-Match is stale; the current ETag is in the answer", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError), (status = 428, description = "If-Match is missing", body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
    ApiJson(draft): ApiJson<RoutingRuleDraft>,
) -> ApiResult<Response> {
    let write = validate(&state, &draft).await?;
    let row = state
        .store
        .update_routing_rule(&id, expected, &write)
        .await
        .map_err(|error| not_found_as("routing rule", error))?;
    Ok(with_etag(StatusCode::OK, row.version, view(&row)?))
}

/// `DELETE /routing-rules/{id}` with `If-Match`.
#[utoipa::path(delete, path = "/routing-rules/{id}", tag = "routing", params(("id" = String, Path, description = "the resource ID"), ("If-Match" = String, Header, description = "the ETag of the version you edit, e.g. \"3\"")), responses((status = 204, description = "deleted"), (status = 404, description = "no such resource", body = ApiError), (status = 412, description = "If-Match is stale; the current ETag is in the answer", body = ApiError), (status = 428, description = "If-Match is missing", body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_routing_rule(&id, expected)
        .await
        .map_err(|error| not_found_as("routing rule", error))?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/tenants`: customers of the product, each sending through the global profile or its
//! own, and the effective configuration that results.

use axum::{Json, extract::State, http::StatusCode, response::Response};
use outmail_store::{TenantRow, TenantWrite};
use outmail_types::error::ApiError;
use outmail_types::settings::{
    EffectiveConfiguration, Tenant, TenantDraft, TenantProfile, TenantView,
};

use super::{
    documents::{decode, encode, rfc3339},
    error::{ApiFailure, ApiResult, not_found_as},
    etag::IfMatch,
    extract::ApiPath,
    json::ApiJson,
    references,
    respond::{created, with_etag},
};
use crate::auth::{AuditNote, audit::fields_changed};
use crate::state::AppState;

fn view(row: &TenantRow) -> ApiResult<TenantView> {
    let tenant: Tenant = decode("tenant", &row.id, &row.document)?;
    Ok(TenantView {
        version: row.version,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        tenant: tenant.to_draft(),
    })
}

async fn validate(state: &AppState, draft: &TenantDraft) -> ApiResult<(Tenant, TenantWrite)> {
    let tenant = draft.validate().map_err(ApiFailure::invalid)?;
    if let TenantProfile::Own(id) = &tenant.profile {
        references::ensure_profile_exists(state, "profile.profile_id", id).await?;
    }
    let write = TenantWrite {
        name: tenant.name.to_string(),
        document: encode(&tenant)?,
        refers_to: references::named_by_tenant(&tenant),
    };
    Ok((tenant, write))
}

/// `GET /tenants`
#[utoipa::path(get, path = "/tenants", tag = "tenants", responses((status = 200, description = "every tenant", body = Vec<TenantView>)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<TenantView>>> {
    let rows = state.store.list_tenants().await?;
    Ok(Json(rows.iter().map(view).collect::<ApiResult<_>>()?))
}

/// `GET /tenants/{id}`
#[utoipa::path(get, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path, description = "the resource ID")), responses((status = 200, description = "the tenant", body = TenantView, headers(("ETag" = String))), (status = 404, description = "no such resource", body = ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let row = state
        .store
        .get_tenant(&id)
        .await
        .map_err(|error| not_found_as("tenant", error))?;
    Ok(with_etag(StatusCode::OK, row.version, view(&row)?))
}

/// `POST /tenants`
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = TenantDraft, responses((status = 201, description = "created", body = TenantView, headers(("ETag" = String), ("Location" = String))), (status = 409, description = "a name or ID is taken, or the resource is in use", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> ApiResult<Response> {
    let (tenant, write) = validate(&state, &draft).await?;
    let row = state
        .store
        .create_tenant(tenant.id.as_str(), &write)
        .await
        .map_err(|error| match error {
            outmail_store::StoreError::Conflict { .. } => ApiFailure::conflict(
                "id",
                "duplicate_id",
                format!("a tenant with ID {} already exists", tenant.id),
            ),
            other => other.into(),
        })?;
    let location = format!("/api/v1/tenants/{}", row.id);
    Ok(created(&location, row.version, view(&row)?))
}

/// `PUT /tenants/{id}` with `If-Match`. The ID is the URL's; a different one in the body is
/// refused rather than silently renaming the tenant.
#[utoipa::path(put, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path, description = "the resource ID"), ("If-Match" = String, Header, description = "the ETag of the version you edit, e.g. \"3\"")), request_body = TenantDraft, responses((status = 200, description = "saved", body = TenantView, headers(("ETag" = String))), (status = 404, description = "no such resource", body = ApiError), (status = 412, description = "If-Match is stale; the current ETag is in the answer", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError), (status = 428, description = "If-Match is missing", body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
    ApiJson(draft): ApiJson<TenantDraft>,
) -> ApiResult<Response> {
    let (tenant, write) = validate(&state, &draft).await?;
    if tenant.id.as_str() != id {
        return Err(ApiFailure::invalid_field(
            "id",
            "immutable",
            "a tenant's ID cannot change; create a new tenant instead",
        ));
    }
    let before = state
        .store
        .get_tenant(&id)
        .await
        .map_err(|error| not_found_as("tenant", error))?;
    let row = state
        .store
        .update_tenant(&id, expected, &write)
        .await
        .map_err(|error| not_found_as("tenant", error))?;
    let after = view(&row)?;
    let fields = fields_changed(&view(&before)?.tenant, &after.tenant);
    Ok(AuditNote::new("tenant.update")
        .target(format!("tenants/{id}"))
        .fields(fields)
        .attach(with_etag(StatusCode::OK, row.version, after)))
}

/// `DELETE /tenants/{id}` with `If-Match`.
#[utoipa::path(delete, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path, description = "the resource ID"), ("If-Match" = String, Header, description = "the ETag of the version you edit, e.g. \"3\"")), responses((status = 204, description = "deleted"), (status = 404, description = "no such resource", body = ApiError), (status = 412, description = "If-Match is stale; the current ETag is in the answer", body = ApiError), (status = 428, description = "If-Match is missing", body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_tenant(&id, expected)
        .await
        .map_err(|error| not_found_as("tenant", error))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /tenants/{id}/effective`
#[utoipa::path(get, path = "/tenants/{id}/effective", tag = "tenants", params(("id" = String, Path, description = "the resource ID")), responses((status = 200, description = "the profile and support address this tenant uses now, and why", body = EffectiveConfiguration), (status = 404, description = "no such resource", body = ApiError)))]
pub async fn effective(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EffectiveConfiguration>> {
    Ok(Json(state.sending.effective_configuration(&id).await?))
}

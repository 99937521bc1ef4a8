//! `/api/v1/profiles`: named mail-server profiles, their secrets (write-only) and versions.

use std::collections::BTreeSet;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use outmail_store::{Plaintext, ProfileQuery, ProfileRow, ProfileWrite, SecretChange, SecretWrite};
use outmail_types::error::ApiError;
use outmail_types::secret::SecretInput;
use outmail_types::{
    error::FieldErrors,
    profile::{
        ProfileDraft, ProfileId, ProfileSpec, ProfileSummary, ProfileView, SecretAction,
        SecretPlan, StoredProfile, TransportKind, plan_secrets,
    },
    secret::SecretSlot,
    settings::{ListParams, Page},
    text::ProfileName,
};
use serde::Deserialize;

use super::{
    documents::{decode, encode, rfc3339},
    error::{ApiFailure, ApiResult, not_found_as},
    etag::IfMatch,
    extract::{ApiPath, ApiQuery},
    json::ApiJson,
    references,
    respond::{created, with_etag},
};
use crate::auth::{AuditNote, audit::fields_changed};
use crate::state::AppState;

/// A stored profile, decoded.
pub struct LoadedProfile {
    pub row: ProfileRow,
    pub spec: ProfileSpec,
    pub stored_secrets: BTreeSet<SecretSlot>,
}

impl LoadedProfile {
    fn view(&self) -> ApiResult<ProfileView> {
        Ok(ProfileView::new(
            parse_id(&self.row.id)?,
            self.row.version,
            rfc3339(self.row.created_at),
            rfc3339(self.row.updated_at),
            &self.spec,
            &self.stored_secrets,
        ))
    }
}

/// Reads a profile and which secret slots hold a value. Unknown id → 404.
pub async fn load(state: &AppState, id: &str) -> ApiResult<LoadedProfile> {
    let row = state
        .store
        .get_profile(id)
        .await
        .map_err(|error| not_found_as("profile", error))?;
    let spec: ProfileSpec = decode("profile", &row.id, &row.document)?;
    let stored_secrets = state
        .store
        .profile_secrets(&row.id)
        .await?
        .into_iter()
        .filter_map(|status| SecretSlot::from_path(&status.slot))
        .collect();
    Ok(LoadedProfile {
        row,
        spec,
        stored_secrets,
    })
}

fn parse_id(id: &str) -> ApiResult<ProfileId> {
    ProfileId::parse(id).map_err(|error| {
        ApiFailure::internal(anyhow::anyhow!(
            "stored profile id {id:?} is invalid: {error}"
        ))
    })
}

pub fn write_of(spec: &ProfileSpec) -> ApiResult<ProfileWrite> {
    Ok(ProfileWrite {
        name: spec.name.to_string(),
        name_key: spec.name.name_key(),
        transport: spec.transport.kind().as_str().to_string(),
        target: spec.target(),
        document: encode(spec)?,
        refers_to: references::named_by_profile(spec),
    })
}

pub(super) fn seal_input(spec: &ProfileSpec, slot: SecretSlot, value: &str) -> SecretWrite {
    SecretWrite {
        slot: slot.path().to_string(),
        plaintext: Plaintext::from(value.to_string()),
        destination: spec.destination(slot),
    }
}

/// The draft's own rules, then what needs the clock: a certificate that has expired or is not
/// valid yet cannot authenticate, so it is refused now rather than at the first send.
pub(super) fn validate(draft: &ProfileDraft, now_ms: i64) -> ApiResult<ProfileSpec> {
    let spec = draft.validate().map_err(ApiFailure::invalid)?;
    let now = now_ms / 1000;
    // No warning window here: certificates expiring soon are warned about by the test send.
    let problems = spec.certificate_problems(now, 0);
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(ApiFailure::invalid(problems))
    }
}

/// `GET /profiles?name=&transport=&page=&per_page=`
#[utoipa::path(get, path = "/profiles", tag = "profiles", params(ListParams), responses((status = 200, description = "one page of profiles", body = Page<ProfileSummary>), (status = 422, description = "invalid fields, each named by its path", body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Page<ProfileSummary>>> {
    let query = params.parse().map_err(ApiFailure::invalid)?;
    let page = state
        .store
        .list_profiles(&ProfileQuery {
            name_contains: query.name.as_ref().map(|name| name.as_str().to_string()),
            transport: query.transport.map(|kind| kind.as_str().to_string()),
            page: query.page,
            per_page: query.per_page,
        })
        .await?;
    let items = page
        .items
        .iter()
        .map(summary)
        .collect::<ApiResult<Vec<_>>>()?;
    let total = u64::try_from(page.total).unwrap_or_default();
    Ok(Json(Page::new(items, total, &query)))
}

/// A list entry from the row's columns: decoding (and so re-validating) 50 documents per page
/// was the largest cost of the list. Rows written before the `target` column are decoded.
fn summary(row: &ProfileRow) -> ApiResult<ProfileSummary> {
    let transport = TransportKind::parse(&row.transport);
    match transport {
        Some(transport) if !row.target.is_empty() => Ok(ProfileSummary {
            id: parse_id(&row.id)?,
            name: row.name.clone(),
            transport,
            target: row.target.clone(),
            version: row.version,
        }),
        _ => {
            let spec: ProfileSpec = decode("profile", &row.id, &row.document)?;
            Ok(ProfileSummary::new(parse_id(&row.id)?, row.version, &spec))
        }
    }
}

/// `GET /profiles/{id}`
#[utoipa::path(get, path = "/profiles/{id}", tag = "profiles", params(("id" = String, Path, description = "the resource ID")), responses((status = 200, description = "the profile; secrets only as set or not set", body = ProfileView, headers(("ETag" = String))), (status = 404, description = "no such resource", body = ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let profile = load(&state, &id).await?;
    Ok(with_etag(
        StatusCode::OK,
        profile.row.version,
        profile.view()?,
    ))
}

/// `POST /profiles`
#[utoipa::path(post, path = "/profiles", tag = "profiles", request_body = ProfileDraft<SecretInput>, responses((status = 201, description = "created", body = ProfileView, headers(("ETag" = String), ("Location" = String))), (status = 409, description = "a name or ID is taken, or the resource is in use", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(draft): ApiJson<ProfileDraft>,
) -> ApiResult<Response> {
    let spec = validate(&draft, state.now_ms())?;
    references::check_alternate(&state, None, &spec).await?;
    let plan = plan_secrets(None, &spec, &draft.secret_inputs()).map_err(ApiFailure::invalid)?;
    let secrets = plan
        .actions
        .iter()
        .filter_map(|(slot, action)| match action {
            SecretAction::Seal(value) => Some(seal_input(&spec, *slot, value.expose())),
            SecretAction::Keep | SecretAction::Clear => None,
        })
        .collect();
    insert(&state, &spec, secrets).await
}

/// Stores a new profile with its sealed secrets and answers 201 with its view.
async fn insert(
    state: &AppState,
    spec: &ProfileSpec,
    secrets: Vec<SecretWrite>,
) -> ApiResult<Response> {
    let row = state
        .store
        .create_profile(&write_of(spec)?, secrets)
        .await
        .map_err(name_taken)?;
    let profile = load(state, &row.id).await?;
    let location = format!("/api/v1/profiles/{}", row.id);
    let response = created(&location, profile.row.version, profile.view()?);
    Ok(AuditNote::new("profile.create")
        .target(format!("profiles/{}", row.id))
        .attach(response))
}

/// A name clash is the `name` field's problem, said in words.
fn name_taken(error: outmail_store::StoreError) -> ApiFailure {
    match error {
        outmail_store::StoreError::Conflict { field: "name" } => ApiFailure::conflict(
            "name",
            "duplicate_name",
            "another profile already has this name (names are compared without case)",
        ),
        other => other.into(),
    }
}

/// `PUT /profiles/{id}` with `If-Match`.
#[utoipa::path(put, path = "/profiles/{id}", tag = "profiles", params(("id" = String, Path, description = "the resource ID"), ("If-Match" = String, Header, description = "the ETag of the version you edit, e.g. \"3\"")), request_body = ProfileDraft<SecretInput>, responses((status = 200, description = "saved", body = ProfileView, headers(("ETag" = String))), (status = 404, description = "no such resource", body = ApiError), (status = 409, description = "a name or ID is taken, or the resource is in use", body = ApiError), (status = 412, description = "If-Match is stale; the current ETag is in the answer", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError), (status = 428, description = "If-Match is missing", body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
    ApiJson(draft): ApiJson<ProfileDraft>,
) -> ApiResult<Response> {
    let spec = validate(&draft, state.now_ms())?;
    let current = load(&state, &id).await?;
    if current.row.version != expected {
        return Err(ApiFailure::Stale {
            current_version: current.row.version,
        });
    }
    references::check_alternate(&state, Some(&id), &spec).await?;
    let stored = StoredProfile {
        spec: &current.spec,
        secrets: &current.stored_secrets,
    };
    let plan =
        plan_secrets(Some(stored), &spec, &draft.secret_inputs()).map_err(ApiFailure::invalid)?;
    state
        .store
        .update_profile(
            &id,
            expected,
            &write_of(&spec)?,
            secret_changes(&spec, &plan),
        )
        .await
        .map_err(name_taken)?;
    // A changed profile is tried again as it now is.
    state
        .store
        .reset_failover(&id, "the profile was changed")
        .await?;
    let profile = load(&state, &id).await?;
    let after = profile.view()?;
    // Which fields changed, by name: the views differ where settings or secret states
    // changed, and a secret entered again shows even when it was set before.
    let mut fields = fields_changed(&current.view()?.profile, &after.profile);
    for (slot, action) in &plan.actions {
        if !matches!(action, SecretAction::Keep) && !fields.iter().any(|f| f == slot.path()) {
            fields.push(slot.path().to_string());
        }
    }
    let response = with_etag(StatusCode::OK, profile.row.version, after);
    Ok(AuditNote::new("profile.update")
        .target(format!("profiles/{id}"))
        .fields(fields)
        .attach(response))
}

/// The store's instructions for a plan. A kept secret carries the destination it must still
/// match, so a concurrent change of destination cannot slip a secret to another server.
fn secret_changes(spec: &ProfileSpec, plan: &SecretPlan) -> Vec<SecretChange> {
    plan.actions
        .iter()
        .map(|(slot, action)| match action {
            SecretAction::Seal(value) => SecretChange::Set(seal_input(spec, *slot, value.expose())),
            SecretAction::Keep => SecretChange::Keep {
                slot: slot.path().to_string(),
                destination: spec.destination(*slot),
            },
            SecretAction::Clear => SecretChange::Clear {
                slot: slot.path().to_string(),
            },
        })
        .collect()
}

/// `DELETE /profiles/{id}` with `If-Match`; refused while anything refers to the profile.
#[utoipa::path(delete, path = "/profiles/{id}", tag = "profiles", params(("id" = String, Path, description = "the resource ID"), ("If-Match" = String, Header, description = "the ETag of the version you edit, e.g. \"3\"")), responses((status = 204, description = "deleted"), (status = 404, description = "no such resource", body = ApiError), (status = 409, description = "a name or ID is taken, or the resource is in use", body = ApiError), (status = 412, description = "If-Match is stale; the current ETag is in the answer", body = ApiError), (status = 428, description = "If-Match is missing", body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    IfMatch(expected): IfMatch,
) -> ApiResult<Response> {
    let current = load(&state, &id).await?;
    if current.row.version != expected {
        return Err(ApiFailure::Stale {
            current_version: current.row.version,
        });
    }
    // The check runs inside the delete's transaction, under the settings lock: nothing can
    // start naming the profile between the check and the delete.
    state
        .store
        .delete_profile(&id, expected, |documents| {
            references::users_of(&id, documents)
        })
        .await?;
    Ok(AuditNote::new("profile.delete")
        .target(format!("profiles/{id}"))
        .attach(StatusCode::NO_CONTENT.into_response()))
}

/// The body of `POST /profiles/{id}/duplicate`.
#[derive(Deserialize, Debug, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRequest {
    /// The copy's name; by default "Copy of …", numbered until free.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /profiles/{id}/duplicate`: the same settings and secrets under a new name.
#[utoipa::path(post, path = "/profiles/{id}/duplicate", tag = "profiles", params(("id" = String, Path, description = "the resource ID")), request_body = DuplicateRequest, responses((status = 201, description = "the copy, with the same secrets", body = ProfileView, headers(("ETag" = String), ("Location" = String))), (status = 404, description = "no such resource", body = ApiError), (status = 409, description = "a name or ID is taken, or the resource is in use", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError)))]
pub async fn duplicate(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<DuplicateRequest>,
) -> ApiResult<Response> {
    let source = load(&state, &id).await?;
    let mut spec = source.spec.clone();
    spec.name = match &request.name {
        Some(name) => ProfileName::parse(name)
            .map_err(|error| ApiFailure::invalid(FieldErrors::single("name", error)))?,
        None => free_copy_name(&state, &source.spec.name).await?,
    };
    // Secrets are copied as they are: the copy's destinations are the source's.
    let opened =
        crate::sending::secrets::open(&state.store, &id, source.stored_secrets.iter().copied())
            .await?;
    let secrets = opened
        .iter()
        .map(|(slot, value)| seal_input(&spec, slot, value.expose()))
        .collect();
    insert(&state, &spec, secrets).await
}

async fn free_copy_name(state: &AppState, original: &ProfileName) -> ApiResult<ProfileName> {
    let taken: BTreeSet<String> = state
        .store
        .all_profiles()
        .await?
        .into_iter()
        .map(|row| row.name_key)
        .collect();
    for number in 1..=1000 {
        let candidate = if number == 1 {
            format!("Copy of {original}")
        } else {
            format!("Copy of {original} ({number})")
        };
        if let Ok(name) = ProfileName::parse(&candidate)
            && !taken.contains(&name.name_key())
        {
            return Ok(name);
        }
    }
    Err(ApiFailure::invalid_field(
        "name",
        "required",
        "no free copy name: give the copy a name",
    ))
}

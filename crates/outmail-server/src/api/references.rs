//! Links between settings: default profile, tenant profiles, routing rules and alternates. The
//! store keeps documents, so these rules live here, in one place.

use axum::http::StatusCode;
use outmail_types::{
    profile::{ProfileId, ProfileSpec},
    settings::{GlobalSettings, RoutingRule, Tenant, TenantProfile},
};

use super::{
    documents::decode,
    error::{ApiFailure, ApiResult},
};
use crate::state::AppState;

/// Alternates form chains (A fails over to B, B to C); this bounds the walk.
const MAX_ALTERNATE_CHAIN: usize = 64;

/// 422 on `path` unless `id` names a stored profile.
pub async fn ensure_profile_exists(state: &AppState, path: &str, id: &ProfileId) -> ApiResult<()> {
    match state.store.get_profile(id.as_str()).await {
        Ok(_) => Ok(()),
        Err(outmail_store::StoreError::NotFound) => Err(ApiFailure::invalid_field(
            path,
            "unknown_profile",
            format!("no profile with ID {id}"),
        )),
        Err(other) => Err(other.into()),
    }
}

/// The alternate must exist, differ from the profile itself, and not lead back to it.
pub async fn check_alternate(
    state: &AppState,
    own_id: Option<&str>,
    spec: &ProfileSpec,
) -> ApiResult<()> {
    const PATH: &str = "alternate_profile_id";
    let Some(alternate) = &spec.alternate_profile_id else {
        return Ok(());
    };
    if own_id == Some(alternate.as_str()) {
        return Err(ApiFailure::invalid_field(
            PATH,
            "self_reference",
            "a profile cannot be its own alternate",
        ));
    }
    ensure_profile_exists(state, PATH, alternate).await?;
    let Some(own_id) = own_id else {
        // A new profile has no ID yet, so nothing can point back at it.
        return Ok(());
    };
    let mut next = Some(alternate.clone());
    for _ in 0..MAX_ALTERNATE_CHAIN {
        let Some(id) = next else { return Ok(()) };
        if id.as_str() == own_id {
            return Err(ApiFailure::invalid_field(
                PATH,
                "alternate_cycle",
                "this alternate fails over, directly or through others, back to this profile",
            ));
        }
        next = match state.store.get_profile(id.as_str()).await {
            Ok(row) => {
                decode::<ProfileSpec>("profile", &row.id, &row.document)?.alternate_profile_id
            }
            Err(outmail_store::StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        };
    }
    Ok(())
}

/// The global settings as stored, or the defaults of a fresh installation, with their version.
pub async fn global_settings(state: &AppState) -> ApiResult<(GlobalSettings, i64)> {
    Ok(state.sending.global_settings().await?)
}

/// 409 listing what still refers to the profile, so the admin knows what to change first.
pub async fn ensure_unreferenced(state: &AppState, id: &str) -> ApiResult<()> {
    let mut users = Vec::new();
    let (global, _) = global_settings(state).await?;
    if global
        .default_profile_id
        .as_ref()
        .is_some_and(|d| d.as_str() == id)
    {
        users.push("the global settings (default profile)".to_string());
    }
    for row in state.store.list_tenants().await? {
        let tenant: Tenant = decode("tenant", &row.id, &row.document)?;
        if matches!(&tenant.profile, TenantProfile::Own(own) if own.as_str() == id) {
            users.push(format!("tenant {}", tenant.id));
        }
    }
    for row in state.store.list_routing_rules().await? {
        let rule: RoutingRule = decode("routing rule", &row.id, &row.document)?;
        if rule.profile_id.as_str() == id {
            users.push(format!("routing rule {}", row.id));
        }
    }
    for row in state.store.all_profiles().await? {
        let spec: ProfileSpec = decode("profile", &row.id, &row.document)?;
        if spec
            .alternate_profile_id
            .as_ref()
            .is_some_and(|a| a.as_str() == id)
        {
            users.push(format!("profile \"{}\" (as its alternate)", spec.name));
        }
    }
    if users.is_empty() {
        return Ok(());
    }
    Err(ApiFailure::client(
        StatusCode::CONFLICT,
        "in_use",
        format!("the profile is still used by {}", users.join(", ")),
    ))
}

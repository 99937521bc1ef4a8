//! Links between settings: default profile, tenant profiles, routing rules and alternates. The
//! store keeps documents, so these rules live here, in one place.

use outmail_store::SettingsDocuments;
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

/// 422 on `path` unless `id` names a stored profile. This answers with the field to fix; the
/// guarantee is the store's own check of `refers_to` inside the write's transaction, which
/// catches a profile deleted between this read and the write.
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

/// The profiles a tenant's document names (its own profile), for the store to check.
pub fn named_by_tenant(tenant: &Tenant) -> Vec<String> {
    match &tenant.profile {
        TenantProfile::Own(id) => vec![id.to_string()],
        TenantProfile::UseGlobal => Vec::new(),
    }
}

/// The profiles the global settings name (the default profile), for the store to check.
pub fn named_by_global(settings: &GlobalSettings) -> Vec<String> {
    settings
        .default_profile_id
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The profiles a profile names (its alternate), for the store to check.
pub fn named_by_profile(spec: &ProfileSpec) -> Vec<String> {
    spec.alternate_profile_id
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// What still names profile `id`, in words, so the admin knows what to change first; the store
/// runs this inside the delete's transaction.
pub fn users_of(id: &str, documents: &SettingsDocuments) -> Result<Vec<String>, String> {
    fn read<T: serde::de::DeserializeOwned>(
        kind: &str,
        stored_id: &str,
        document: &str,
    ) -> Result<T, String> {
        serde_json::from_str(document)
            .map_err(|error| format!("the stored {kind} {stored_id} cannot be read: {error}"))
    }
    let mut users = Vec::new();
    if let Some(document) = &documents.global {
        let global: GlobalSettings = read("global settings", "", document)?;
        if named_by_global(&global).iter().any(|named| named == id) {
            users.push("the global settings (default profile)".to_string());
        }
    }
    for stored in &documents.tenants {
        let tenant: Tenant = read("tenant", &stored.id, &stored.document)?;
        if named_by_tenant(&tenant).iter().any(|named| named == id) {
            users.push(format!("tenant {}", tenant.id));
        }
    }
    for stored in &documents.routing_rules {
        let rule: RoutingRule = read("routing rule", &stored.id, &stored.document)?;
        if rule.profile_id.as_str() == id {
            users.push(format!("routing rule {}", stored.id));
        }
    }
    for stored in &documents.profiles {
        let spec: ProfileSpec = read("profile", &stored.id, &stored.document)?;
        if named_by_profile(&spec).iter().any(|named| named == id) {
            users.push(format!("profile \"{}\" (as its alternate)", spec.name));
        }
    }
    Ok(users)
}

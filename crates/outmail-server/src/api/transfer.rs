//! `/api/v1/export` and `/api/v1/import`: the whole configuration as one JSON document, secrets
//! left out (they are sealed to this installation and must be entered again after an import).

use std::collections::BTreeMap;

use axum::{Json, extract::State, http::StatusCode};
use outmail_types::{
    profile::ProfileId,
    secret::SecretSlot,
    settings::{ExportDocument, ExportedProfile, RoutingRule, Tenant, TenantProfile},
};
use serde::{Deserialize, Serialize};

use super::{
    documents::{decode, encode},
    error::{ApiFailure, ApiResult},
    json::ApiJson,
    profiles::write_of,
    references,
};
use crate::state::AppState;

/// `GET /export`
pub async fn export(State(state): State<AppState>) -> ApiResult<Json<ExportDocument>> {
    let (global, _) = references::global_settings(&state).await?;
    let mut profiles = Vec::new();
    for row in state.store.all_profiles().await? {
        profiles.push(ExportedProfile {
            id: profile_id(&row.id)?,
            profile: decode("profile", &row.id, &row.document)?,
        });
    }
    let tenants = state
        .store
        .list_tenants()
        .await?
        .iter()
        .map(|row| decode::<Tenant>("tenant", &row.id, &row.document))
        .collect::<ApiResult<_>>()?;
    let routing_rules = state
        .store
        .list_routing_rules()
        .await?
        .iter()
        .map(|row| decode::<RoutingRule>("routing rule", &row.id, &row.document))
        .collect::<ApiResult<_>>()?;
    Ok(Json(ExportDocument::new(global, profiles, tenants, routing_rules)))
}

fn profile_id(id: &str) -> ApiResult<ProfileId> {
    ProfileId::parse(id).map_err(|error| ApiFailure::internal(anyhow::anyhow!("profile id {id:?}: {error}")))
}

/// What an import created.
#[derive(Serialize, Deserialize, Debug)]
pub struct ImportReport {
    pub profiles: usize,
    pub tenants: usize,
    pub routing_rules: usize,
    /// Profile IDs in the document → the IDs they were given here.
    pub profile_ids: BTreeMap<String, String>,
    /// Secrets each imported profile still needs before it can send (by new profile ID).
    pub secrets_to_enter: BTreeMap<String, Vec<SecretSlot>>,
}

/// `POST /import`: adds the document's profiles, tenants and routing rules, and replaces the
/// global settings. Everything is checked before anything is written: names or tenant IDs that
/// already exist here are a 409 naming each of them.
pub async fn import(
    State(state): State<AppState>,
    ApiJson(document): ApiJson<ExportDocument>,
) -> ApiResult<(StatusCode, Json<ImportReport>)> {
    let errors = document.check_references();
    if !errors.is_empty() {
        return Err(ApiFailure::invalid(errors));
    }
    ensure_no_clashes(&state, &document).await?;

    // Profiles first, without alternates (they may point at profiles not created yet)...
    let mut new_ids: BTreeMap<String, ProfileId> = BTreeMap::new();
    let mut created = Vec::new();
    for exported in &document.profiles {
        let mut spec = exported.profile.clone();
        spec.alternate_profile_id = None;
        let row = state.store.create_profile(&write_of(&spec)?, Vec::new()).await?;
        new_ids.insert(exported.id.to_string(), profile_id(&row.id)?);
        created.push((row, exported.profile.clone()));
    }
    let remap = |id: &ProfileId| new_ids.get(id.as_str()).cloned().unwrap_or_else(|| id.clone());
    // ...then the alternates, now that every ID is known.
    let mut secrets_to_enter = BTreeMap::new();
    for (row, mut spec) in created {
        let needed: Vec<SecretSlot> = spec
            .secret_requirements()
            .into_iter()
            .filter(|requirement| requirement.required)
            .map(|requirement| requirement.slot)
            .collect();
        if !needed.is_empty() {
            secrets_to_enter.insert(row.id.clone(), needed);
        }
        if let Some(alternate) = spec.alternate_profile_id.take() {
            spec.alternate_profile_id = Some(remap(&alternate));
            state
                .store
                .update_profile(&row.id, row.version, &write_of(&spec)?, Vec::new())
                .await?;
        }
    }
    for tenant in &document.tenants {
        let mut tenant = tenant.clone();
        if let TenantProfile::Own(id) = &tenant.profile {
            tenant.profile = TenantProfile::Own(remap(id));
        }
        let write = outmail_store::TenantWrite {
            name: tenant.name.to_string(),
            document: encode(&tenant)?,
        };
        state.store.create_tenant(tenant.id.as_str(), &write).await?;
    }
    for rule in &document.routing_rules {
        let mut rule = rule.clone();
        rule.profile_id = remap(&rule.profile_id);
        let write = outmail_store::RoutingRuleWrite {
            priority: i64::from(rule.priority),
            document: encode(&rule)?,
        };
        state.store.create_routing_rule(&write).await?;
    }
    let mut global = document.global.clone();
    global.default_profile_id = global.default_profile_id.as_ref().map(remap);
    let (_, global_version) = references::global_settings(&state).await?;
    state.store.put_global(global_version, &encode(&global)?).await?;

    Ok((
        StatusCode::OK,
        Json(ImportReport {
            profiles: document.profiles.len(),
            tenants: document.tenants.len(),
            routing_rules: document.routing_rules.len(),
            profile_ids: new_ids
                .into_iter()
                .map(|(old, new)| (old, new.to_string()))
                .collect(),
            secrets_to_enter,
        }),
    ))
}

async fn ensure_no_clashes(state: &AppState, document: &ExportDocument) -> ApiResult<()> {
    let existing_names: BTreeMap<String, String> = state
        .store
        .all_profiles()
        .await?
        .into_iter()
        .map(|row| (row.name_key, row.name))
        .collect();
    let existing_tenants: Vec<String> = state
        .store
        .list_tenants()
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect();
    let mut errors = outmail_types::error::FieldErrors::new();
    for (index, exported) in document.profiles.iter().enumerate() {
        if let Some(name) = existing_names.get(&exported.profile.name.name_key()) {
            errors.add(
                format!("profiles.{index}.profile.name"),
                outmail_types::error::FieldError::new(
                    "duplicate_name",
                    format!("a profile named \"{name}\" already exists here"),
                ),
            );
        }
    }
    for (index, tenant) in document.tenants.iter().enumerate() {
        if existing_tenants.iter().any(|id| id == tenant.id.as_str()) {
            errors.add(
                format!("tenants.{index}.id"),
                outmail_types::error::FieldError::new(
                    "duplicate_id",
                    format!("a tenant with ID {} already exists here", tenant.id),
                ),
            );
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiFailure::Client {
        status: StatusCode::CONFLICT,
        error: outmail_types::error::ApiError {
            code: "conflict".to_string(),
            message: "some of the imported settings already exist here; nothing was imported"
                .to_string(),
            fields: errors,
        },
    })
}

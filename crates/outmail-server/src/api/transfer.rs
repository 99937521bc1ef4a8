//! `/api/v1/export` and `/api/v1/import`: the whole configuration as one JSON document, secrets
//! left out (they are sealed to this installation and must be entered again after an import).

use std::collections::BTreeMap;

use axum::{Json, extract::State, http::StatusCode};
use outmail_types::error::ApiError;
use outmail_types::{
    error::{FieldError, FieldErrors},
    profile::{ProfileDraft, ProfileId},
    secret::{Omitted, SecretSlot},
    settings::{
        ExportDocument, ExportVersion, ExportedProfile, GlobalSettingsDraft, RoutingRule,
        RoutingRuleDraft, Tenant, TenantDraft, TenantProfile,
    },
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
#[utoipa::path(get, path = "/export", tag = "transfer", responses((status = 200, description = "the whole configuration, without secrets", body = ExportDocument)))]
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
    Ok(Json(ExportDocument::new(
        global,
        profiles,
        tenants,
        routing_rules,
    )))
}

fn profile_id(id: &str) -> ApiResult<ProfileId> {
    ProfileId::parse(id)
        .map_err(|error| ApiFailure::internal(anyhow::anyhow!("profile id {id:?}: {error}")))
}

/// What an import created.
#[derive(Serialize, Deserialize, Debug, utoipa::ToSchema)]
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
/// global settings. Everything is checked before anything is written (names or tenant IDs that
/// already exist here are a 409 naming each of them), and everything is written in one
/// transaction: an import happens whole or not at all.
#[utoipa::path(post, path = "/import", tag = "transfer", request_body = ImportDocument, responses((status = 200, description = "what was created, and the secrets still to enter", body = ImportReport), (status = 409, description = "a name or ID is taken, or the resource is in use", body = ApiError), (status = 422, description = "invalid fields, each named by its path", body = ApiError)))]
pub async fn import(
    State(state): State<AppState>,
    ApiJson(draft): ApiJson<ImportDocument>,
) -> ApiResult<(StatusCode, Json<ImportReport>)> {
    let document = draft.validate().map_err(ApiFailure::invalid)?;
    let mut errors = document.check_references();
    errors.merge(alternate_cycles(&document));
    if !errors.is_empty() {
        return Err(ApiFailure::invalid(errors));
    }
    ensure_no_clashes(&state, &document).await?;

    // Every profile gets its ID here first, so that each reference (alternates, tenants,
    // rules, the default profile) is remapped before anything is written, and the whole
    // import is one transaction.
    let new_ids: BTreeMap<String, ProfileId> = document
        .profiles
        .iter()
        .map(|exported| {
            Ok((
                exported.id.to_string(),
                profile_id(&uuid::Uuid::new_v4().to_string())?,
            ))
        })
        .collect::<ApiResult<_>>()?;
    let remap = |id: &ProfileId| {
        new_ids
            .get(id.as_str())
            .cloned()
            .unwrap_or_else(|| id.clone())
    };
    let mut batch = outmail_store::ImportBatch::default();
    let mut secrets_to_enter = BTreeMap::new();
    for exported in &document.profiles {
        let mut spec = exported.profile.clone();
        spec.alternate_profile_id = spec.alternate_profile_id.as_ref().map(remap);
        let id = remap(&exported.id).to_string();
        let needed: Vec<SecretSlot> = spec
            .secret_requirements()
            .into_iter()
            .filter(|requirement| requirement.required)
            .map(|requirement| requirement.slot)
            .collect();
        if !needed.is_empty() {
            secrets_to_enter.insert(id.clone(), needed);
        }
        batch.profiles.push((id, write_of(&spec)?));
    }
    for tenant in &document.tenants {
        let mut tenant = tenant.clone();
        if let TenantProfile::Own(id) = &tenant.profile {
            tenant.profile = TenantProfile::Own(remap(id));
        }
        let write = outmail_store::TenantWrite {
            name: tenant.name.to_string(),
            document: encode(&tenant)?,
            refers_to: references::named_by_tenant(&tenant),
        };
        batch.tenants.push((tenant.id.to_string(), write));
    }
    for rule in &document.routing_rules {
        let mut rule = rule.clone();
        rule.profile_id = remap(&rule.profile_id);
        batch.routing_rules.push(outmail_store::RoutingRuleWrite {
            priority: i64::from(rule.priority),
            document: encode(&rule)?,
            refers_to: vec![rule.profile_id.to_string()],
        });
    }
    let mut global = document.global.clone();
    global.default_profile_id = global.default_profile_id.as_ref().map(remap);
    let (_, global_version) = references::global_settings(&state).await?;
    batch.global = encode(&global)?;
    batch.global_version = global_version;
    batch.global_refers_to = references::named_by_global(&global);
    state.store.import(&batch).await?;

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

/// The body of `POST /import`: the export format, read as drafts so that every invalid field is
/// reported under its full path (`profiles.0.profile.sender.address`), all at once.
#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportDocument {
    pub version: ExportVersion,
    pub global: GlobalSettingsDraft,
    #[serde(default)]
    pub profiles: Vec<ImportedProfile>,
    #[serde(default)]
    pub tenants: Vec<TenantDraft>,
    #[serde(default)]
    pub routing_rules: Vec<RoutingRuleDraft>,
}

/// A profile in an import: secrets are never part of the format.
#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedProfile {
    pub id: String,
    pub profile: ProfileDraft<Omitted>,
}

impl ImportDocument {
    fn validate(&self) -> Result<ExportDocument, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut keep = Collector(&mut errors);
        let global = keep.ok("global".to_string(), self.global.validate());
        let profiles: Vec<Option<ExportedProfile>> = self
            .profiles
            .iter()
            .enumerate()
            .map(|(index, imported)| {
                let id = keep.ok(
                    format!("profiles.{index}"),
                    ProfileId::parse(&imported.id)
                        .map_err(|error| FieldErrors::single("id", error)),
                );
                let profile = keep.ok(
                    format!("profiles.{index}.profile"),
                    imported.profile.validate(),
                );
                Some(ExportedProfile {
                    id: id?,
                    profile: profile?,
                })
            })
            .collect();
        let tenants: Vec<Option<Tenant>> = self
            .tenants
            .iter()
            .enumerate()
            .map(|(index, tenant)| keep.ok(format!("tenants.{index}"), tenant.validate()))
            .collect();
        let routing_rules: Vec<Option<RoutingRule>> = self
            .routing_rules
            .iter()
            .enumerate()
            .map(|(index, rule)| keep.ok(format!("routing_rules.{index}"), rule.validate()))
            .collect();
        match global {
            Some(global) if errors.is_empty() => Ok(ExportDocument::new(
                global,
                profiles.into_iter().flatten().collect(),
                tenants.into_iter().flatten().collect(),
                routing_rules.into_iter().flatten().collect(),
            )),
            _ => Err(errors),
        }
    }
}

/// Gathers the errors of many validations under their prefixes, keeping what passed.
struct Collector<'a>(&'a mut FieldErrors);

impl Collector<'_> {
    fn ok<T>(&mut self, prefix: String, result: Result<T, FieldErrors>) -> Option<T> {
        result
            .map_err(|found| self.0.extend_prefixed(&prefix, found))
            .ok()
    }
}

/// Alternates inside the document must not lead back to where they start: the same rule as
/// `POST` and `PUT` apply one profile at a time.
fn alternate_cycles(document: &ExportDocument) -> FieldErrors {
    let alternates: BTreeMap<&str, &str> = document
        .profiles
        .iter()
        .filter_map(|p| {
            Some((
                p.id.as_str(),
                p.profile.alternate_profile_id.as_ref()?.as_str(),
            ))
        })
        .collect();
    let mut errors = FieldErrors::new();
    for (index, profile) in document.profiles.iter().enumerate() {
        let start = profile.id.as_str();
        let path = format!("profiles.{index}.profile.alternate_profile_id");
        if alternates.get(start) == Some(&start) {
            errors.add(
                path,
                FieldError::new("self_reference", "a profile cannot be its own alternate"),
            );
            continue;
        }
        let mut next = alternates.get(start).copied();
        for _ in 0..=alternates.len() {
            let Some(id) = next else { break };
            if id == start {
                errors.add(
                    path,
                    FieldError::new(
                        "alternate_cycle",
                        "this alternate fails over, directly or through others, back to this profile",
                    ),
                );
                break;
            }
            next = alternates.get(id).copied();
        }
    }
    errors
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
    let mut errors = FieldErrors::new();
    for (index, exported) in document.profiles.iter().enumerate() {
        if let Some(name) = existing_names.get(&exported.profile.name.name_key()) {
            errors.add(
                format!("profiles.{index}.profile.name"),
                FieldError::new(
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
                FieldError::new(
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

//! The import/export document: the whole configuration without secrets, and its checks.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, FieldErrors};
use crate::profile::{InvalidProfile, ProfileId, ProfileSpec};

use super::global::GlobalSettings;
use super::routing::RoutingRule;
use super::tenant::{Tenant, TenantProfile};

/// The export format version; only 1 exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct ExportVersion;

impl TryFrom<u32> for ExportVersion {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, String> {
        if v == 1 {
            Ok(ExportVersion)
        } else {
            Err(format!(
                "unsupported export version {v}; this build reads version 1"
            ))
        }
    }
}

impl From<ExportVersion> for u32 {
    fn from(_: ExportVersion) -> u32 {
        1
    }
}

/// A profile in an export: its ID (tenants and rules refer to it) and its spec, which never
/// contains secrets (they must be entered again after an import).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedProfile {
    pub id: ProfileId,
    pub profile: ProfileSpec,
}

/// `{version: 1, global, profiles, tenants, routing_rules}`: the whole configuration without
/// secrets. Deserialising validates every part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportDocument {
    pub version: ExportVersion,
    pub global: GlobalSettings,
    #[serde(default)]
    pub profiles: Vec<ExportedProfile>,
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    #[serde(default)]
    pub routing_rules: Vec<RoutingRule>,
}

impl ExportDocument {
    pub fn new(
        global: GlobalSettings,
        profiles: Vec<ExportedProfile>,
        tenants: Vec<Tenant>,
        routing_rules: Vec<RoutingRule>,
    ) -> Self {
        Self {
            version: ExportVersion,
            global,
            profiles,
            tenants,
            routing_rules,
        }
    }

    /// Consistency across parts: unique profile IDs and names, unique tenant IDs, and every
    /// reference (default profile, alternates, tenants, rules) pointing at a profile in the
    /// document. Paths use indexes: `profiles.2.profile.name`, `tenants.0.profile.profile_id`.
    pub fn check_references(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        let mut ids = BTreeSet::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for (i, p) in self.profiles.iter().enumerate() {
            if !ids.insert(&p.id) {
                errors.add(
                    format!("profiles.{i}.id"),
                    FieldError::new("duplicate_id", format!("profile ID {} appears twice", p.id)),
                );
            }
            if names.insert(p.profile.name.name_key(), i).is_some() {
                errors.add(
                    format!("profiles.{i}.profile.name"),
                    InvalidProfile::DuplicateName(p.profile.name.to_string()),
                );
            }
        }
        let unknown = |id: &ProfileId| {
            FieldError::new(
                "unknown_profile",
                format!("no profile with ID {id} in this document"),
            )
        };
        if let Some(id) = &self.global.default_profile_id
            && !ids.contains(id)
        {
            errors.add("global.default_profile_id", unknown(id));
        }
        for (i, p) in self.profiles.iter().enumerate() {
            if let Some(id) = &p.profile.alternate_profile_id
                && !ids.contains(id)
            {
                errors.add(
                    format!("profiles.{i}.profile.alternate_profile_id"),
                    unknown(id),
                );
            }
        }
        let mut tenant_ids = BTreeSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            if !tenant_ids.insert(&t.id) {
                errors.add(
                    format!("tenants.{i}.id"),
                    FieldError::new("duplicate_id", format!("tenant ID {} appears twice", t.id)),
                );
            }
            if let TenantProfile::Own(id) = &t.profile
                && !ids.contains(id)
            {
                errors.add(format!("tenants.{i}.profile.profile_id"), unknown(id));
            }
        }
        for (i, r) in self.routing_rules.iter().enumerate() {
            if !ids.contains(&r.profile_id) {
                errors.add(
                    format!("routing_rules.{i}.profile_id"),
                    unknown(&r.profile_id),
                );
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ProfileDraft, examples};
    use crate::settings::tests::{rule, tenant};
    use serde_json::json;

    fn export() -> ExportDocument {
        let profile = serde_json::from_str::<ProfileDraft>(examples::SMTP_BASIC)
            .unwrap()
            .validate()
            .unwrap();
        let backup = ProfileSpec {
            name: crate::text::ProfileName::parse("Backup relay").unwrap(),
            alternate_profile_id: None,
            ..profile.clone()
        };
        ExportDocument::new(
            GlobalSettings {
                default_profile_id: Some(ProfileId::parse("main").unwrap()),
                ..GlobalSettings::default()
            },
            vec![
                ExportedProfile {
                    id: ProfileId::parse("main").unwrap(),
                    profile,
                },
                ExportedProfile {
                    id: ProfileId::parse("backup-relay").unwrap(),
                    profile: backup,
                },
            ],
            vec![
                tenant(json!({"id": "acme", "name": "ACME", "profile": {"kind": "own", "profile_id": "backup-relay"}}))
                    .unwrap(),
            ],
            vec![rule(json!({
                "match": {"kind": "sender_address", "address": "ops@example.com"},
                "profile_id": "main", "priority": 0
            }))],
        )
    }

    #[test]
    fn an_export_has_no_secrets_and_imports_back_equal() {
        let doc = export();
        let text = serde_json::to_string_pretty(&doc).unwrap();
        assert!(text.starts_with("{\n  \"version\": 1,"), "{text}");
        assert!(!text.contains("correct horse"));
        assert!(!text.contains("password"));
        let back: ExportDocument = serde_json::from_str(&text).unwrap();
        assert_eq!(back, doc);
        assert!(back.check_references().is_empty());
    }

    #[test]
    fn an_export_of_another_version_is_refused() {
        let mut v = serde_json::to_value(export()).unwrap();
        v["version"] = json!(2);
        let err = serde_json::from_value::<ExportDocument>(v).unwrap_err();
        assert!(
            err.to_string().contains("unsupported export version 2"),
            "{err}"
        );
    }

    #[test]
    fn dangling_references_and_duplicates_in_an_export_are_reported() {
        let mut doc = export();
        doc.profiles[1].id = ProfileId::parse("main").unwrap();
        doc.profiles[1].profile.name = crate::text::ProfileName::parse("OFFICE relay").unwrap();
        doc.tenants.push(doc.tenants[0].clone());
        let e = doc.check_references();
        assert!(e.has("profiles.1.id", "duplicate_id"));
        assert!(e.has("profiles.1.profile.name", "duplicate_name"));
        assert!(e.has("profiles.0.profile.alternate_profile_id", "unknown_profile"));
        assert!(e.has("tenants.0.profile.profile_id", "unknown_profile"));
        assert!(e.has("tenants.1.id", "duplicate_id"));
    }
}

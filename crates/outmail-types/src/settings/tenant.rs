//! Tenants: their slug, draft, view and validated form, and their effective configuration.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::email::Mailbox;
use crate::error::FieldErrors;
use crate::profile::ProfileId;
use crate::text::{TenantName, codepoint, is_line_break};

use super::global::GlobalSettings;
use super::{optional, required};

/// Why a tenant slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTenantSlug {
    #[error("enter a tenant ID")]
    Empty,
    #[error("a tenant ID uses only lowercase letters a-z, digits and \"-\" ({0} is not allowed)")]
    InvalidCharacter(String),
    #[error("a tenant ID cannot start or end with \"-\"")]
    HyphenAtEdge,
    #[error("a tenant ID must be at most 63 characters")]
    TooLong,
}

error_codes!(InvalidTenantSlug {
    Me::Empty => "empty",
    Me::InvalidCharacter(_) => "invalid_character",
    Me::HyphenAtEdge => "hyphen_at_edge",
    Me::TooLong => "too_long",
});

/// A tenant's ID as it appears in URLs: `[a-z0-9-]{1,63}`, no leading or trailing `-`.
/// Uppercase is refused rather than folded, so an ID is never silently changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(s: &str) -> Result<Self, InvalidTenantSlug> {
        if s.is_empty() {
            return Err(InvalidTenantSlug::Empty);
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            let shown = if c.is_control() || is_line_break(c) {
                codepoint(c)
            } else {
                format!("\"{c}\"")
            };
            return Err(InvalidTenantSlug::InvalidCharacter(shown));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(InvalidTenantSlug::HyphenAtEdge);
        }
        if s.len() > 63 {
            return Err(InvalidTenantSlug::TooLong);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_conversions!(TenantSlug, InvalidTenantSlug);

/// Which profile a tenant's mail goes through, tagged by `"kind"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TenantProfileDraft {
    UseGlobal,
    Own {
        #[serde(default)]
        profile_id: String,
    },
}

/// A tenant as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantDraft {
    /// The tenant ID used in URLs: lowercase letters a-z, digits and `-`, 1–63 characters, no
    /// `-` at either end.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "acme"))]
    pub id: String,
    /// The display name: 1–100 characters, one line.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "ACME Corp"))]
    pub name: String,
    pub profile: TenantProfileDraft,
    /// Only used while the global settings allow tenant support addresses.
    #[serde(default)]
    pub support_address: Option<String>,
}

/// A tenant as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantView {
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub tenant: TenantDraft,
}

/// Where a setting of the effective configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Tenant,
    Global,
    None,
}

/// What a tenant's mail would go through right now, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EffectiveConfiguration {
    pub tenant: String,
    pub sending_enabled: bool,
    pub profile: Option<crate::ProfileSummary>,
    pub profile_source: Source,
    pub support_address: Option<String>,
    pub support_address_source: Source,
    /// One sentence for people.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantProfile {
    UseGlobal,
    Own(ProfileId),
}

/// A valid tenant. Serialised in the draft shape; deserialising re-validates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TenantDraft", into = "TenantDraft")]
pub struct Tenant {
    pub id: TenantSlug,
    pub name: TenantName,
    pub profile: TenantProfile,
    pub support_address: Option<Mailbox>,
}

impl TenantDraft {
    pub fn validate(&self) -> Result<Tenant, FieldErrors> {
        let mut errors = FieldErrors::new();
        let id = required(&mut errors, "id", &self.id, TenantSlug::parse);
        let name = required(&mut errors, "name", &self.name, TenantName::parse);
        let profile = match &self.profile {
            TenantProfileDraft::UseGlobal => Some(TenantProfile::UseGlobal),
            TenantProfileDraft::Own { profile_id } => required(
                &mut errors,
                "profile.profile_id",
                profile_id,
                ProfileId::parse,
            )
            .map(TenantProfile::Own),
        };
        let support_address = optional(
            &mut errors,
            "support_address",
            &self.support_address,
            Mailbox::parse_utf8,
        );
        match (id, name, profile, support_address) {
            (Some(id), Some(name), Some(profile), Some(support_address)) if errors.is_empty() => {
                Ok(Tenant {
                    id,
                    name,
                    profile,
                    support_address,
                })
            }
            _ => Err(errors),
        }
    }
}

impl Tenant {
    pub fn to_draft(&self) -> TenantDraft {
        TenantDraft {
            id: self.id.to_string(),
            name: self.name.to_string(),
            profile: match &self.profile {
                TenantProfile::UseGlobal => TenantProfileDraft::UseGlobal,
                TenantProfile::Own(id) => TenantProfileDraft::Own {
                    profile_id: id.to_string(),
                },
            },
            support_address: self.support_address.as_ref().map(|m| m.to_string()),
        }
    }

    /// The profile this tenant's mail uses: its own, or the global default. `None` means
    /// nothing can be sent for it (also when the global switch is off).
    pub fn effective_profile_id<'a>(&'a self, global: &'a GlobalSettings) -> Option<&'a ProfileId> {
        if !global.sending_enabled {
            return None;
        }
        match &self.profile {
            TenantProfile::Own(id) => Some(id),
            TenantProfile::UseGlobal => global.default_profile_id.as_ref(),
        }
    }

    /// Where this tenant's support requests go: its own address when tenants may have one,
    /// else the global address.
    pub fn effective_support_address<'a>(
        &'a self,
        global: &'a GlobalSettings,
    ) -> Option<&'a Mailbox> {
        match &self.support_address {
            Some(own) if global.tenant_support_allowed => Some(own),
            _ => global.support_address.as_ref(),
        }
    }
}

impl TryFrom<TenantDraft> for Tenant {
    type Error = FieldErrors;
    fn try_from(d: TenantDraft) -> Result<Self, FieldErrors> {
        d.validate()
    }
}

impl From<Tenant> for TenantDraft {
    fn from(t: Tenant) -> Self {
        t.to_draft()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::settings::tests::tenant;
    use serde_json::json;

    #[test]
    fn a_tenant_slug_is_lowercase_letters_digits_and_hyphens() {
        assert!(TenantSlug::parse("acme-42").is_ok());
        let code = |s: &str| TenantSlug::parse(s).unwrap_err().code();
        assert_eq!(code(""), "empty");
        assert_eq!(code("Acme"), "invalid_character");
        assert_eq!(code("acme_corp"), "invalid_character");
        assert_eq!(code("acme\n"), "invalid_character");
        assert_eq!(code("-acme"), "hyphen_at_edge");
        assert_eq!(code("acme-"), "hyphen_at_edge");
        assert_eq!(code(&"a".repeat(64)), "too_long");
        assert!(TenantSlug::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn a_tenant_uses_the_global_profile_or_its_own() {
        let mut g = GlobalSettings {
            default_profile_id: Some(ProfileId::parse("global").unwrap()),
            ..GlobalSettings::default()
        };
        let shared =
            tenant(json!({"id": "acme", "name": "ACME", "profile": {"kind": "use_global"}}))
                .unwrap();
        let own = tenant(json!({
            "id": "globex", "name": "Globex",
            "profile": {"kind": "own", "profile_id": "globex-relay"}
        }))
        .unwrap();
        assert_eq!(shared.effective_profile_id(&g).unwrap().as_str(), "global");
        assert_eq!(
            own.effective_profile_id(&g).unwrap().as_str(),
            "globex-relay"
        );
        g.sending_enabled = false;
        assert!(
            own.effective_profile_id(&g).is_none(),
            "the master switch wins"
        );
    }

    #[test]
    fn a_tenant_support_address_applies_only_when_allowed() {
        let mut g = GlobalSettings {
            support_address: Some(Mailbox::parse_ascii("help@vendor.example").unwrap()),
            ..GlobalSettings::default()
        };
        let t = tenant(json!({
            "id": "acme", "name": "ACME", "profile": {"kind": "use_global"},
            "support_address": "it@acme.example"
        }))
        .unwrap();
        assert_eq!(
            t.effective_support_address(&g).unwrap().to_string(),
            "help@vendor.example"
        );
        g.tenant_support_allowed = true;
        assert_eq!(
            t.effective_support_address(&g).unwrap().to_string(),
            "it@acme.example"
        );
    }

    #[test]
    fn an_invalid_tenant_reports_every_field() {
        let e = tenant(json!({
            "id": "ACME", "name": "", "profile": {"kind": "own", "profile_id": ""},
            "support_address": "x"
        }))
        .unwrap_err();
        assert!(e.has("id", "invalid_character"));
        assert!(e.has("name", "required"));
        assert!(e.has("profile.profile_id", "required"));
        assert!(e.has("support_address", "missing_at"));
        let e = tenant(json!({"id": "a", "name": "A\r\nB", "profile": {"kind": "use_global"}}))
            .unwrap_err();
        assert!(e.has("name", "control_character"));
    }
}

//! The global settings: the master switch, the default profile and the support address.

use serde::{Deserialize, Serialize};

use crate::email::Mailbox;
use crate::error::FieldErrors;
use crate::profile::ProfileId;

use super::optional;

/// The global settings as a client sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GlobalSettingsDraft {
    /// The master switch: off means nothing is sent, tenant profiles included. Required (as are
    /// the other switches): a missing switch read as `false` would turn sending off silently.
    pub sending_enabled: bool,
    /// The profile tenants that use the global profile send through; none means nothing is
    /// sent for them yet.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "main"))]
    pub default_profile_id: Option<String>,
    /// Where support requests go (`"Name" <addr>` accepted).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "Support <support@example.com>"))]
    pub support_address: Option<String>,
    /// Whether tenants may set their own support address.
    pub tenant_support_allowed: bool,
    /// Whether support requests carry system information.
    pub attach_system_info: bool,
}

/// Valid global settings. Serialised in the draft shape; deserialising re-validates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "GlobalSettingsDraft", into = "GlobalSettingsDraft")]
pub struct GlobalSettings {
    pub sending_enabled: bool,
    pub default_profile_id: Option<ProfileId>,
    pub support_address: Option<Mailbox>,
    pub tenant_support_allowed: bool,
    pub attach_system_info: bool,
}

/// The global settings as the API answers them, with the version to send back in `If-Match`
/// (0 until first saved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GlobalSettingsView {
    pub version: i64,
    pub settings: GlobalSettingsDraft,
}

impl Default for GlobalSettings {
    /// A fresh installation: switched on, but with no default profile nothing is sent yet.
    fn default() -> Self {
        Self {
            sending_enabled: true,
            default_profile_id: None,
            support_address: None,
            tenant_support_allowed: false,
            attach_system_info: true,
        }
    }
}

impl GlobalSettingsDraft {
    pub fn validate(&self) -> Result<GlobalSettings, FieldErrors> {
        let mut errors = FieldErrors::new();
        let default_profile_id = optional(
            &mut errors,
            "default_profile_id",
            &self.default_profile_id,
            ProfileId::parse,
        );
        // No profile context here, so UTF-8 addresses are allowed; the profile that sends the
        // support mail decides whether it can.
        let support_address = optional(
            &mut errors,
            "support_address",
            &self.support_address,
            Mailbox::parse_utf8,
        );
        match (default_profile_id, support_address) {
            (Some(default_profile_id), Some(support_address)) if errors.is_empty() => {
                Ok(GlobalSettings {
                    sending_enabled: self.sending_enabled,
                    default_profile_id,
                    support_address,
                    tenant_support_allowed: self.tenant_support_allowed,
                    attach_system_info: self.attach_system_info,
                })
            }
            _ => Err(errors),
        }
    }
}

impl GlobalSettings {
    pub fn to_draft(&self) -> GlobalSettingsDraft {
        GlobalSettingsDraft {
            sending_enabled: self.sending_enabled,
            default_profile_id: self.default_profile_id.as_ref().map(|p| p.to_string()),
            support_address: self.support_address.as_ref().map(|m| m.to_string()),
            tenant_support_allowed: self.tenant_support_allowed,
            attach_system_info: self.attach_system_info,
        }
    }
}

impl TryFrom<GlobalSettingsDraft> for GlobalSettings {
    type Error = FieldErrors;
    fn try_from(d: GlobalSettingsDraft) -> Result<Self, FieldErrors> {
        d.validate()
    }
}

impl From<GlobalSettings> for GlobalSettingsDraft {
    fn from(g: GlobalSettings) -> Self {
        g.to_draft()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn global(v: serde_json::Value) -> Result<GlobalSettings, FieldErrors> {
        serde_json::from_value::<GlobalSettingsDraft>(v)
            .unwrap()
            .validate()
    }

    #[test]
    fn global_settings_validate_their_references_and_address() {
        let g = global(json!({
            "sending_enabled": true,
            "default_profile_id": "relay",
            "support_address": "Support <support@example.com>",
            "tenant_support_allowed": true,
            "attach_system_info": false
        }))
        .unwrap();
        assert_eq!(g.default_profile_id.unwrap().as_str(), "relay");
        assert_eq!(
            g.support_address.unwrap().to_string(),
            "\"Support\" <support@example.com>"
        );
        let e = global(json!({
            "sending_enabled": true,
            "tenant_support_allowed": false,
            "attach_system_info": true,
            "default_profile_id": "a b",
            "support_address": "nope"
        }))
        .unwrap_err();
        assert!(e.has("default_profile_id", "invalid_format"));
        assert!(e.has("support_address", "missing_at"));
    }

    #[test]
    fn a_missing_switch_is_refused_rather_than_read_as_off() {
        let missing: Result<GlobalSettingsDraft, _> =
            serde_json::from_value(json!({"default_profile_id": "relay"}));
        let message = missing.unwrap_err().to_string();
        assert!(message.contains("sending_enabled"), "{message}");
    }

    #[test]
    fn global_settings_serialise_in_the_draft_shape_and_read_back() {
        let g = GlobalSettings {
            default_profile_id: Some(ProfileId::parse("relay").unwrap()),
            ..GlobalSettings::default()
        };
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(
            v,
            json!({
                "sending_enabled": true,
                "default_profile_id": "relay",
                "support_address": null,
                "tenant_support_allowed": false,
                "attach_system_info": true
            })
        );
        assert_eq!(serde_json::from_value::<GlobalSettings>(v).unwrap(), g);
    }
}

//! What a tenant's mail goes through now, and why: the profile and support address the
//! sending rules pick for it (routing rules aside, which depend on each message's sender).

use outmail_store::StoreError;
use outmail_types::profile::{ProfileSpec, ProfileSummary};
use outmail_types::settings::{EffectiveConfiguration, Source, TenantProfile};

use super::{Refusal, Sending, decode};

impl Sending {
    /// The effective configuration of tenant `slug`; [`Refusal::NotFound`] when there is none.
    pub async fn effective_configuration(
        &self,
        slug: &str,
    ) -> Result<EffectiveConfiguration, Refusal> {
        let tenant = self
            .tenant(Some(slug))
            .await?
            .ok_or(Refusal::NotFound("tenant"))?;
        let (global, _) = self.global_settings().await?;
        let (profile_source, reason) = match (&tenant.profile, global.sending_enabled) {
            (_, false) => (
                Source::None,
                "sending is switched off in the global settings, so nothing is sent for any tenant"
                    .to_string(),
            ),
            (TenantProfile::Own(_), true) => {
                (Source::Tenant, "the tenant has its own profile".to_string())
            }
            (TenantProfile::UseGlobal, true) if global.default_profile_id.is_some() => (
                Source::Global,
                "the tenant uses the global default profile".to_string(),
            ),
            (TenantProfile::UseGlobal, true) => (
                Source::None,
                "the tenant uses the global profile, but no default profile is set".to_string(),
            ),
        };
        let profile = match tenant.effective_profile_id(&global) {
            Some(profile_id) => match self.store.get_profile(profile_id.as_str()).await {
                Ok(row) => {
                    let spec: ProfileSpec = decode("profile", &row.id, &row.document)?;
                    Some(ProfileSummary::new(profile_id.clone(), row.version, &spec))
                }
                Err(StoreError::NotFound) => None,
                Err(other) => return Err(other.into()),
            },
            None => None,
        };
        let support_address = tenant.effective_support_address(&global);
        let support_address_source = match (&tenant.support_address, support_address) {
            (_, None) => Source::None,
            (Some(_), Some(_)) if global.tenant_support_allowed => Source::Tenant,
            _ => Source::Global,
        };
        Ok(EffectiveConfiguration {
            tenant: tenant.id.to_string(),
            sending_enabled: global.sending_enabled,
            profile,
            profile_source,
            support_address: support_address.map(ToString::to_string),
            support_address_source,
            reason,
        })
    }
}

//! Which profile sends a message: the tenant's own profile, else the first routing rule that
//! matches the sender, else the global default; nothing at all while sending is switched off.

use outmail_store::StoreError;
use outmail_types::settings::{GlobalSettings, RoutingRule, Tenant, TenantProfile, route_for};
use outmail_types::{EmailAddress, ProfileSpec};

use super::{Refusal, Sending, decode};

/// The profile a message goes through.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub profile_id: String,
    pub spec: ProfileSpec,
}

impl Sending {
    /// The global settings as stored, or the defaults of a fresh installation, with their
    /// version.
    pub async fn global_settings(&self) -> Result<(GlobalSettings, i64), Refusal> {
        let row = self.store.get_global().await?;
        let settings = match &row.document {
            Some(document) => decode("global settings", "", document)?,
            None => GlobalSettings::default(),
        };
        Ok((settings, row.version))
    }

    /// The tenant named `slug`, if a slug is given; [`Refusal::NotFound`] when there is none.
    pub async fn tenant(&self, slug: Option<&str>) -> Result<Option<Tenant>, Refusal> {
        let Some(slug) = slug else { return Ok(None) };
        let row = match self.store.get_tenant(slug).await {
            Ok(row) => row,
            Err(StoreError::NotFound) => return Err(Refusal::NotFound("tenant")),
            Err(other) => return Err(other.into()),
        };
        Ok(Some(decode("tenant", &row.id, &row.document)?))
    }

    /// The profile for a message of `tenant` from `sender` (a template's From, else the acting
    /// user), refusing while sending is off.
    pub async fn resolve(
        &self,
        tenant: Option<&str>,
        sender: Option<&EmailAddress>,
    ) -> Result<Resolved, Refusal> {
        let (global, _) = self.global_settings().await?;
        if !global.sending_enabled {
            return Err(Refusal::SendingDisabled);
        }
        let own = match self.tenant(tenant).await? {
            Some(Tenant {
                profile: TenantProfile::Own(id),
                ..
            }) => Some(id),
            _ => None,
        };
        let routed = match (&own, sender) {
            (None, Some(sender)) => {
                let mut rules = Vec::new();
                for row in self.store.list_routing_rules().await? {
                    rules.push(decode::<RoutingRule>(
                        "routing rule",
                        &row.id,
                        &row.document,
                    )?);
                }
                route_for(&rules, sender).map(|rule| rule.profile_id.clone())
            }
            _ => None,
        };
        let Some(profile_id) = own.or(routed).or(global.default_profile_id.clone()) else {
            return Err(Refusal::NoProfile);
        };
        let row = match self.store.get_profile(profile_id.as_str()).await {
            Ok(row) => row,
            Err(StoreError::NotFound) => return Err(Refusal::NotFound("profile")),
            Err(other) => return Err(other.into()),
        };
        Ok(Resolved {
            spec: decode("profile", &row.id, &row.document)?,
            profile_id: row.id,
        })
    }
}

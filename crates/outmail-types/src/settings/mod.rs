//! Everything around profiles: global settings, tenants, routing rules, list queries and pages,
//! and the import/export document.

mod global;
mod list;
mod routing;
mod tenant;
mod transfer;

pub use global::{GlobalSettings, GlobalSettingsDraft, GlobalSettingsView};
pub use list::{ListParams, ListQuery, Page};
pub use routing::{RouteMatch, RouteMatchDraft, RoutingRule, RoutingRuleDraft, route_for};
pub use tenant::{
    EffectiveConfiguration, InvalidTenantSlug, Source, Tenant, TenantDraft, TenantProfile,
    TenantProfileDraft, TenantSlug, TenantView,
};
pub use transfer::{ExportDocument, ExportVersion, ExportedProfile};

// The field helpers every draft's validation shares, written once in `profile::validate`.
use crate::profile::validate::{optional, required};

#[cfg(test)]
mod tests;

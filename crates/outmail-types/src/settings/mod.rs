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

use crate::error::{FieldError, FieldErrors};
use crate::profile::InvalidProfile;

fn is_blank(s: &str) -> bool {
    s.chars().all(|c| c == ' ')
}

fn required<T, E: Into<FieldError>>(
    errors: &mut FieldErrors,
    path: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    if is_blank(value) {
        errors.add(path, InvalidProfile::Required);
        return None;
    }
    parse(value).map_err(|e| errors.add(path, e)).ok()
}

fn optional<T, E: Into<FieldError>>(
    errors: &mut FieldErrors,
    path: &str,
    value: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    match value.as_deref() {
        None => Some(None),
        Some(v) if is_blank(v) => Some(None),
        Some(v) => parse(v).map(Some).map_err(|e| errors.add(path, e)).ok(),
    }
}

#[cfg(test)]
mod tests;

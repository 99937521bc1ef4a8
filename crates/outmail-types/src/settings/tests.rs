//! Fixtures shared by the topic tests: a tenant and a routing rule read from JSON.

use crate::error::FieldErrors;

use super::{RoutingRule, Tenant, TenantDraft};

pub(super) fn tenant(v: serde_json::Value) -> Result<Tenant, FieldErrors> {
    serde_json::from_value::<TenantDraft>(v).unwrap().validate()
}

pub(super) fn rule(v: serde_json::Value) -> RoutingRule {
    serde_json::from_value(v).unwrap()
}

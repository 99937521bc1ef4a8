//! Everything around profiles: global settings, tenants, routing rules, list queries and pages,
//! and the import/export document.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::email::{EmailAddress, Mailbox};
use crate::error::{FieldError, FieldErrors};
use crate::host::Host;
use crate::profile::{InvalidProfile, ProfileId, ProfileSpec, TransportKind};
use crate::text::{HeaderText, TenantName, codepoint, is_line_break};

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

// ---------------------------------------------------------------------------------------------
// Global settings

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

// ---------------------------------------------------------------------------------------------
// Tenants

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
#[serde(try_from = "String", into = "String")]
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

// ---------------------------------------------------------------------------------------------
// Routing rules

/// What a routing rule matches, tagged by `"kind"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RouteMatchDraft {
    /// Exactly this sender (domain compared in punycode, case-insensitively).
    SenderAddress {
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(example = "ceo@example.com"))]
        address: String,
    },
    /// Any sender in this domain (not its subdomains).
    SenderDomain {
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(example = "example.com"))]
        domain: String,
    },
}

/// A routing rule as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoutingRuleDraft {
    #[serde(rename = "match")]
    pub matcher: RouteMatchDraft,
    /// The profile matching mail is sent through.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "vip-relay"))]
    pub profile_id: String,
    /// Lower values are tried first; on a tie an address rule beats a domain rule, then the
    /// earlier rule wins.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = 10))]
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    /// Exactly this sender (domain compared in punycode, case-insensitively).
    SenderAddress(EmailAddress),
    /// Any sender in this domain (not its subdomains).
    SenderDomain(Host),
}

impl RouteMatch {
    pub fn matches(&self, sender: &EmailAddress) -> bool {
        match self {
            RouteMatch::SenderAddress(a) => a == sender,
            RouteMatch::SenderDomain(d) => sender.has_domain(d),
        }
    }
}

/// Sends mail from matching senders through a given profile. Serialised in the draft shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RoutingRuleDraft", into = "RoutingRuleDraft")]
pub struct RoutingRule {
    pub matcher: RouteMatch,
    pub profile_id: ProfileId,
    /// Lower values are tried first.
    pub priority: i32,
}

impl RoutingRuleDraft {
    pub fn validate(&self) -> Result<RoutingRule, FieldErrors> {
        let mut errors = FieldErrors::new();
        let matcher = match &self.matcher {
            RouteMatchDraft::SenderAddress { address } => required(
                &mut errors,
                "match.address",
                address,
                EmailAddress::parse_utf8,
            )
            .map(RouteMatch::SenderAddress),
            RouteMatchDraft::SenderDomain { domain } => {
                required(&mut errors, "match.domain", domain, |s| {
                    let host = Host::parse(s)?;
                    if host.ip().is_some() {
                        return Err(FieldError::new(
                            "ip_domain",
                            "enter a domain name, not an IP address",
                        ));
                    }
                    Ok::<_, FieldError>(host)
                })
                .map(RouteMatch::SenderDomain)
            }
        };
        let profile_id = required(
            &mut errors,
            "profile_id",
            &self.profile_id,
            ProfileId::parse,
        );
        match (matcher, profile_id) {
            (Some(matcher), Some(profile_id)) if errors.is_empty() => Ok(RoutingRule {
                matcher,
                profile_id,
                priority: self.priority,
            }),
            _ => Err(errors),
        }
    }
}

impl RoutingRule {
    pub fn to_draft(&self) -> RoutingRuleDraft {
        RoutingRuleDraft {
            matcher: match &self.matcher {
                RouteMatch::SenderAddress(a) => RouteMatchDraft::SenderAddress {
                    address: a.to_string(),
                },
                RouteMatch::SenderDomain(d) => RouteMatchDraft::SenderDomain {
                    domain: d.to_string(),
                },
            },
            profile_id: self.profile_id.to_string(),
            priority: self.priority,
        }
    }
}

impl TryFrom<RoutingRuleDraft> for RoutingRule {
    type Error = FieldErrors;
    fn try_from(d: RoutingRuleDraft) -> Result<Self, FieldErrors> {
        d.validate()
    }
}

impl From<RoutingRule> for RoutingRuleDraft {
    fn from(r: RoutingRule) -> Self {
        r.to_draft()
    }
}

/// The rule that applies to `sender`: the lowest priority value among matching rules; on a
/// tie an exact address beats a domain, then the earlier rule wins.
pub fn route_for<'a>(rules: &'a [RoutingRule], sender: &EmailAddress) -> Option<&'a RoutingRule> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.matcher.matches(sender))
        .min_by_key(|(i, r)| {
            let domain = matches!(r.matcher, RouteMatch::SenderDomain(_));
            (r.priority, domain, *i)
        })
        .map(|(_, r)| r)
}

// ---------------------------------------------------------------------------------------------
// Lists

/// The raw `?name=&transport=&page=&per_page=` of a profile list, as strings so that a bad value
/// becomes a field error rather than a generic 400.
///
/// As OpenAPI query parameters (`IntoParams`) they are documented with the types they must
/// parse as; a value that does not is a 422 with a field error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListParams {
    /// Keep profiles whose name contains this text (case-insensitive).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 998, example = "relay"))]
    pub name: Option<String>,
    /// Keep profiles with this transport.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<TransportKind>))]
    pub transport: Option<String>,
    /// 1-based page number; default 1.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        param(value_type = Option<u32>, minimum = 1, default = 1)
    )]
    pub page: Option<String>,
    /// Items per page, 1–200; default 50.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        param(value_type = Option<u32>, minimum = 1, maximum = 200, default = 50)
    )]
    pub per_page: Option<String>,
}

/// A valid list query: `name` is a case-insensitive substring filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub name: Option<HeaderText>,
    pub transport: Option<TransportKind>,
    /// 1-based.
    pub page: u32,
    /// 1–200.
    pub per_page: u32,
}

impl ListQuery {
    pub const DEFAULT_PER_PAGE: u32 = 50;
    pub const MAX_PER_PAGE: u32 = 200;

    /// How many items to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }

    /// The query string (without `?`) for the browser client.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("name={}", percent_encode(name.as_str())));
        }
        if let Some(t) = self.transport {
            parts.push(format!("transport={t}"));
        }
        parts.push(format!("page={}", self.page));
        parts.push(format!("per_page={}", self.per_page));
        parts.join("&")
    }

    /// Whether a profile passes the `name` and `transport` filters.
    pub fn matches(&self, spec: &ProfileSpec) -> bool {
        let name_ok = self.name.as_ref().is_none_or(|n| {
            spec.name
                .as_str()
                .to_lowercase()
                .contains(&n.as_str().to_lowercase())
        });
        let transport_ok = self.transport.is_none_or(|t| t == spec.transport.kind());
        name_ok && transport_ok
    }
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            name: None,
            transport: None,
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse_count(value: &str, min: u32, max: u32) -> Result<u32, FieldError> {
    let message = format!("must be a whole number from {min} to {max}");
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| FieldError::new("not_a_number", message.clone()))?;
    u32::try_from(n)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or(FieldError::new("out_of_range", message))
}

impl ListParams {
    pub fn parse(&self) -> Result<ListQuery, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = optional(&mut errors, "name", &self.name, HeaderText::parse);
        let transport = optional(&mut errors, "transport", &self.transport, |s| {
            TransportKind::parse(s).ok_or(FieldError::new(
                "invalid_choice",
                "choose smtp, local, ews or graph",
            ))
        });
        let page = optional(&mut errors, "page", &self.page, |s| {
            parse_count(s, 1, u32::MAX / ListQuery::MAX_PER_PAGE)
        });
        let per_page = optional(&mut errors, "per_page", &self.per_page, |s| {
            parse_count(s, 1, ListQuery::MAX_PER_PAGE)
        });
        match (name, transport, page, per_page) {
            (Some(name), Some(transport), Some(page), Some(per_page)) if errors.is_empty() => {
                Ok(ListQuery {
                    name,
                    transport,
                    page: page.unwrap_or(1),
                    per_page: per_page.unwrap_or(ListQuery::DEFAULT_PER_PAGE),
                })
            }
            _ => Err(errors),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items over all pages.
    pub total: u64,
    /// 1-based.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 1))]
    pub page: u32,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 200, example = 50))]
    pub per_page: u32,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: u64, query: &ListQuery) -> Self {
        Self {
            items,
            total,
            page: query.page,
            per_page: query.per_page,
        }
    }

    /// The number of pages (at least 1, so an empty list still has a page to show).
    pub fn page_count(&self) -> u64 {
        self.total.div_ceil(u64::from(self.per_page.max(1))).max(1)
    }
}

// ---------------------------------------------------------------------------------------------
// Import / export

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
    use crate::error::ErrorCode;
    use crate::profile::{ProfileDraft, examples};
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

    fn tenant(v: serde_json::Value) -> Result<Tenant, FieldErrors> {
        serde_json::from_value::<TenantDraft>(v).unwrap().validate()
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

    fn rule(v: serde_json::Value) -> RoutingRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn routing_rules_match_an_address_or_a_domain() {
        let by_domain = rule(json!({
            "match": {"kind": "sender_domain", "domain": "Example.COM"},
            "profile_id": "relay", "priority": 10
        }));
        let by_address = rule(json!({
            "match": {"kind": "sender_address", "address": "ceo@example.com"},
            "profile_id": "vip", "priority": 10
        }));
        let sender = EmailAddress::parse_ascii("ceo@EXAMPLE.com").unwrap();
        assert!(by_domain.matcher.matches(&sender));
        assert!(by_address.matcher.matches(&sender));
        let other = EmailAddress::parse_ascii("ceo@sub.example.com").unwrap();
        assert!(!by_domain.matcher.matches(&other));
        let rules = [by_domain.clone(), by_address.clone()];
        assert_eq!(route_for(&rules, &sender), Some(&by_address));
        let first = RoutingRule {
            priority: 1,
            ..by_domain
        };
        let rules = [by_address, first.clone()];
        assert_eq!(route_for(&rules, &sender), Some(&first));
        assert_eq!(route_for(&rules, &other), None);
    }

    #[test]
    fn a_routing_rule_serialises_in_its_draft_shape() {
        let v = json!({
            "match": {"kind": "sender_domain", "domain": "xn--bcher-kva.example"},
            "profile_id": "relay",
            "priority": -5
        });
        let r: RoutingRule = serde_json::from_value(json!({
            "match": {"kind": "sender_domain", "domain": "bücher.example"},
            "profile_id": "relay", "priority": -5
        }))
        .unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
    }

    #[test]
    fn an_invalid_routing_rule_reports_its_paths() {
        let d: RoutingRuleDraft = serde_json::from_value(json!({
            "match": {"kind": "sender_domain", "domain": "10.0.0.1"},
            "profile_id": ""
        }))
        .unwrap();
        let e = d.validate().unwrap_err();
        assert!(e.has("match.domain", "ip_domain"));
        assert!(e.has("profile_id", "required"));
    }

    fn params(v: serde_json::Value) -> ListParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn list_params_default_to_page_1_of_50() {
        let q = params(json!({})).parse().unwrap();
        assert_eq!(q, ListQuery::default());
        assert_eq!(q.offset(), 0);
        assert_eq!(q.to_query_string(), "page=1&per_page=50");
    }

    #[test]
    fn list_params_are_checked_field_by_field() {
        let q =
            params(json!({"name": "Relay 1", "transport": "SMTP", "page": "3", "per_page": "200"}))
                .parse()
                .unwrap();
        assert_eq!(q.transport, Some(TransportKind::Smtp));
        assert_eq!(q.offset(), 400);
        assert_eq!(
            q.to_query_string(),
            "name=Relay%201&transport=smtp&page=3&per_page=200"
        );
        let e = params(json!({"transport": "fax", "page": "0", "per_page": "201"}))
            .parse()
            .unwrap_err();
        assert!(e.has("transport", "invalid_choice"));
        assert!(e.has("page", "out_of_range"));
        assert!(e.has("per_page", "out_of_range"));
        let e = params(json!({"per_page": "ten", "name": "a\nb"}))
            .parse()
            .unwrap_err();
        assert!(e.has("per_page", "not_a_number"));
        assert!(e.has("name", "control_character"));
    }

    #[test]
    fn a_list_query_filters_by_name_and_transport() {
        let spec = serde_json::from_str::<ProfileDraft>(examples::SMTP_BASIC)
            .unwrap()
            .validate()
            .unwrap();
        let q = |v| params(v).parse().unwrap();
        assert!(q(json!({"name": "office"})).matches(&spec));
        assert!(q(json!({"transport": "smtp"})).matches(&spec));
        assert!(!q(json!({"transport": "graph"})).matches(&spec));
        assert!(!q(json!({"name": "graph"})).matches(&spec));
    }

    #[test]
    fn a_page_counts_its_pages() {
        let q = ListQuery {
            per_page: 50,
            ..ListQuery::default()
        };
        assert_eq!(Page::<u8>::new(vec![], 0, &q).page_count(), 1);
        assert_eq!(Page::<u8>::new(vec![], 50, &q).page_count(), 1);
        assert_eq!(Page::<u8>::new(vec![], 51, &q).page_count(), 2);
        assert_eq!(
            serde_json::to_value(Page::new(vec![1, 2], 2, &q)).unwrap(),
            json!({"items": [1, 2], "total": 2, "page": 1, "per_page": 50})
        );
    }

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

//! Routing rules: which profile mail from a given sender address or domain goes through.

use serde::{Deserialize, Serialize};

use crate::email::EmailAddress;
use crate::error::{FieldError, FieldErrors};
use crate::host::Host;
use crate::profile::ProfileId;

use super::required;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::rule;
    use serde_json::json;

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
}

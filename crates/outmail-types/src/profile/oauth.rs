//! OAuth provider presets: authority hosts, token/authorize URLs and default scopes per
//! transport, flow and cloud.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::guid::Guid;
use crate::scope::Scopes;
use crate::url::HttpsUrl;

/// Which provider an OAuth configuration follows. Presets derive URLs and prefill scopes;
/// `custom` takes everything as entered (also what tests use for a loopback fake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OAuthPreset {
    Microsoft365,
    Google,
    Custom,
}

/// The Microsoft Entra ID sign-in host (national clouds have their own). Microsoft only:
/// `public` (login.microsoftonline.com), `us_gov` (login.microsoftonline.us: GCC High and DoD),
/// `china` (login.chinacloudapi.cn, operated by 21Vianet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Authority {
    /// login.microsoftonline.com
    #[default]
    Public,
    /// login.microsoftonline.us (US Government: GCC High and DoD)
    UsGov,
    /// login.chinacloudapi.cn (operated by 21Vianet)
    China,
}

impl Authority {
    pub fn host(self) -> &'static str {
        match self {
            Authority::Public => "login.microsoftonline.com",
            Authority::UsGov => "login.microsoftonline.us",
            Authority::China => "login.chinacloudapi.cn",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Authority::Public => "public",
            Authority::UsGov => "us_gov",
            Authority::China => "china",
        }
    }

    /// The cloud whose resource hosts (Exchange Online) tokens from this authority are for.
    pub fn cloud(self) -> Cloud {
        match self {
            Authority::Public => Cloud::Global,
            Authority::UsGov => Cloud::UsGov,
            Authority::China => Cloud::China,
        }
    }
}

/// A Microsoft cloud, for picking resource hosts in default scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cloud {
    Global,
    UsGov,
    UsGovDod,
    China,
}

impl Cloud {
    /// The sign-in host whose tokens this cloud's services accept (validation refuses a Graph
    /// endpoint paired with another cloud's authority).
    pub fn authority(self) -> Authority {
        match self {
            Cloud::Global => Authority::Public,
            Cloud::UsGov | Cloud::UsGovDod => Authority::UsGov,
            Cloud::China => Authority::China,
        }
    }

    /// The Exchange Online resource (SMTP, EWS). The national-cloud hosts follow Microsoft's
    /// national-cloud endpoint tables; scopes stay editable in case a tenant differs.
    pub fn outlook_resource(self) -> &'static str {
        match self {
            Cloud::Global => "https://outlook.office365.com",
            Cloud::UsGov => "https://outlook.office365.us",
            Cloud::UsGovDod => "https://webmail.apps.mil",
            Cloud::China => "https://partner.outlook.cn",
        }
    }

    /// The Microsoft Graph resource.
    pub fn graph_resource(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }
}

/// Which transport a profile uses, without its settings (lists, filters, scope defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TransportKind {
    Smtp,
    Local,
    Ews,
    Graph,
}

impl TransportKind {
    pub const ALL: [TransportKind; 4] = [
        TransportKind::Smtp,
        TransportKind::Local,
        TransportKind::Ews,
        TransportKind::Graph,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Smtp => "smtp",
            TransportKind::Local => "local",
            TransportKind::Ews => "ews",
            TransportKind::Graph => "graph",
        }
    }

    /// The name people know it by.
    pub fn label(self) -> &'static str {
        match self {
            TransportKind::Smtp => "SMTP",
            TransportKind::Local => "Local MTA",
            TransportKind::Ews => "EWS",
            TransportKind::Graph => "Microsoft Graph",
        }
    }

    pub fn parse(s: &str) -> Option<TransportKind> {
        TransportKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which OAuth grant a configuration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// App-only: the app authenticates as itself (secret or certificate).
    ClientCredentials,
    /// Delegated: an admin signs in once (PKCE), the refresh token is kept.
    AuthorizationCode,
}

const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
const GOOGLE_MAIL_SCOPE: &str = "https://mail.google.com/";

impl OAuthPreset {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthPreset::Microsoft365 => "microsoft365",
            OAuthPreset::Google => "google",
            OAuthPreset::Custom => "custom",
        }
    }

    /// The token endpoint a preset implies; `None` for `custom` (entered by hand). Microsoft
    /// needs the tenant: `https://{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(self, authority: Authority, tenant: Option<&Guid>) -> Option<HttpsUrl> {
        match self {
            OAuthPreset::Microsoft365 => tenant.and_then(|t| {
                HttpsUrl::parse(&format!(
                    "https://{}/{t}/oauth2/v2.0/token",
                    authority.host()
                ))
                .ok()
            }),
            OAuthPreset::Google => HttpsUrl::parse(GOOGLE_TOKEN_URL).ok(),
            OAuthPreset::Custom => None,
        }
    }

    /// The authorization endpoint a preset implies (for the consent popup).
    pub fn authorize_url(self, authority: Authority, tenant: Option<&Guid>) -> Option<HttpsUrl> {
        match self {
            OAuthPreset::Microsoft365 => tenant.and_then(|t| {
                HttpsUrl::parse(&format!(
                    "https://{}/{t}/oauth2/v2.0/authorize",
                    authority.host()
                ))
                .ok()
            }),
            OAuthPreset::Google => HttpsUrl::parse(GOOGLE_AUTHORIZE_URL).ok(),
            OAuthPreset::Custom => None,
        }
    }

    /// The scopes a preset prefills, or `None` where it has no opinion (custom, the local MTA)
    /// or the combination is unsupported (Google with EWS/Graph or client credentials).
    ///
    /// Delegated flows ask for `offline_access` to get a refresh token; app-only flows use the
    /// resource's `/.default`. `cloud` picks the national-cloud resource host (from the
    /// authority for SMTP/EWS, from the Graph endpoint for Graph).
    ///
    /// | transport | authorization code                                           | client credentials                     |
    /// |-----------|--------------------------------------------------------------|----------------------------------------|
    /// | smtp      | `https://outlook.office365.com/SMTP.Send offline_access`     | `https://outlook.office365.com/.default` |
    /// | ews       | `https://outlook.office365.com/EWS.AccessAsUser.All offline_access` | `https://outlook.office365.com/.default` |
    /// | graph     | `https://graph.microsoft.com/Mail.Send offline_access`       | `https://graph.microsoft.com/.default` |
    /// | smtp (Google) | `https://mail.google.com/`                               | unsupported                            |
    pub fn default_scopes(
        self,
        transport: TransportKind,
        flow: FlowKind,
        cloud: Cloud,
    ) -> Option<Scopes> {
        let text = match (self, transport, flow) {
            (OAuthPreset::Microsoft365, TransportKind::Smtp, FlowKind::AuthorizationCode) => {
                format!("{}/SMTP.Send offline_access", cloud.outlook_resource())
            }
            (OAuthPreset::Microsoft365, TransportKind::Ews, FlowKind::AuthorizationCode) => {
                format!(
                    "{}/EWS.AccessAsUser.All offline_access",
                    cloud.outlook_resource()
                )
            }
            (
                OAuthPreset::Microsoft365,
                TransportKind::Smtp | TransportKind::Ews,
                FlowKind::ClientCredentials,
            ) => format!("{}/.default", cloud.outlook_resource()),
            (OAuthPreset::Microsoft365, TransportKind::Graph, FlowKind::AuthorizationCode) => {
                format!("{}/Mail.Send offline_access", cloud.graph_resource())
            }
            (OAuthPreset::Microsoft365, TransportKind::Graph, FlowKind::ClientCredentials) => {
                format!("{}/.default", cloud.graph_resource())
            }
            (OAuthPreset::Google, TransportKind::Smtp, FlowKind::AuthorizationCode) => {
                GOOGLE_MAIL_SCOPE.to_owned()
            }
            _ => return None,
        };
        Scopes::parse(&text).ok()
    }
}

impl fmt::Display for OAuthPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(p: OAuthPreset, t: TransportKind, f: FlowKind, c: Cloud) -> String {
        p.default_scopes(t, f, c)
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn microsoft_default_scopes_follow_transport_and_flow() {
        use FlowKind::*;
        use TransportKind::*;
        let m = OAuthPreset::Microsoft365;
        assert_eq!(
            scopes(m, Smtp, AuthorizationCode, Cloud::Global),
            "https://outlook.office365.com/SMTP.Send offline_access"
        );
        assert_eq!(
            scopes(m, Smtp, ClientCredentials, Cloud::Global),
            "https://outlook.office365.com/.default"
        );
        assert_eq!(
            scopes(m, Ews, AuthorizationCode, Cloud::Global),
            "https://outlook.office365.com/EWS.AccessAsUser.All offline_access"
        );
        assert_eq!(
            scopes(m, Ews, ClientCredentials, Cloud::Global),
            "https://outlook.office365.com/.default"
        );
        assert_eq!(
            scopes(m, Graph, AuthorizationCode, Cloud::Global),
            "https://graph.microsoft.com/Mail.Send offline_access"
        );
        assert_eq!(
            scopes(m, Graph, ClientCredentials, Cloud::Global),
            "https://graph.microsoft.com/.default"
        );
    }

    #[test]
    fn national_clouds_use_their_graph_host() {
        let m = OAuthPreset::Microsoft365;
        let g = |c| scopes(m, TransportKind::Graph, FlowKind::ClientCredentials, c);
        assert_eq!(g(Cloud::UsGov), "https://graph.microsoft.us/.default");
        assert_eq!(
            g(Cloud::UsGovDod),
            "https://dod-graph.microsoft.us/.default"
        );
        assert_eq!(
            g(Cloud::China),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
    }

    #[test]
    fn google_prefills_only_the_mail_scope_for_delegated_smtp() {
        let g = OAuthPreset::Google;
        assert_eq!(
            scopes(
                g,
                TransportKind::Smtp,
                FlowKind::AuthorizationCode,
                Cloud::Global
            ),
            "https://mail.google.com/"
        );
        assert!(
            g.default_scopes(
                TransportKind::Smtp,
                FlowKind::ClientCredentials,
                Cloud::Global
            )
            .is_none()
        );
        assert!(
            g.default_scopes(
                TransportKind::Graph,
                FlowKind::AuthorizationCode,
                Cloud::Global
            )
            .is_none()
        );
        assert!(
            OAuthPreset::Custom
                .default_scopes(
                    TransportKind::Smtp,
                    FlowKind::AuthorizationCode,
                    Cloud::Global
                )
                .is_none()
        );
    }

    #[test]
    fn microsoft_urls_include_authority_and_tenant() {
        let tenant = Guid::parse("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        let m = OAuthPreset::Microsoft365;
        assert_eq!(
            m.token_url(Authority::Public, Some(&tenant))
                .unwrap()
                .as_str(),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
        );
        assert_eq!(
            m.authorize_url(Authority::China, Some(&tenant))
                .unwrap()
                .as_str(),
            "https://login.chinacloudapi.cn/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize"
        );
        assert!(m.token_url(Authority::UsGov, None).is_none());
        assert_eq!(
            OAuthPreset::Google
                .token_url(Authority::Public, None)
                .unwrap()
                .as_str(),
            "https://oauth2.googleapis.com/token"
        );
        assert!(
            OAuthPreset::Custom
                .token_url(Authority::Public, None)
                .is_none()
        );
    }

    #[test]
    fn transport_kinds_parse_case_insensitively() {
        assert_eq!(TransportKind::parse(" EWS "), Some(TransportKind::Ews));
        assert_eq!(TransportKind::parse("pigeon"), None);
    }
}

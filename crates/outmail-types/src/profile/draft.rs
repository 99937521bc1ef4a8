//! The profile *draft*: exactly what a client sends (plain strings, options, bools), before
//! validation. Generic over the secret field type so the same shape serves requests
//! ([`SecretInput`]), responses ([`SecretStatus`]) and stored documents ([`Omitted`]).
//!
//! [`SecretStatus`]: crate::secret::SecretStatus
//! [`Omitted`]: crate::secret::Omitted

use serde::{Deserialize, Serialize};

use crate::host::Security;
use crate::secret::{SecretField, SecretInput, SecretSlot};

use super::oauth::{Authority, FlowKind, OAuthPreset, TransportKind};

fn yes() -> bool {
    true
}

/// A whole profile as entered. `validate()` turns it into a [`super::ProfileSpec`].
///
/// Optional strings may be `null`, missing or `""` (all mean "not set"), so a form can send its
/// inputs as they are. See [`super::examples`] for one complete JSON document per transport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: SecretField")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(description = "A mail-server profile in its draft shape: the body of \
        `POST`/`PUT /api/v1/profiles`, and (with `{\"set\": bool}` secrets) the `profile` of a \
        GET. Optional strings may be `null`, missing or `\"\"` (all mean \"not set\"); \
        validation errors come back as a 422 keyed by field path.")
)]
pub struct ProfileDraft<S = SecretInput> {
    /// 1–100 characters, one line; unique among profiles (ignoring case and repeated spaces).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "Office relay"))]
    pub name: String,
    /// A free-text note shown in the admin UI; up to 1,000 characters.
    #[serde(default)]
    pub description: Option<String>,
    pub transport: TransportDraft<S>,
    pub sender: SenderDraft,
    #[serde(default)]
    pub signature: Option<String>,
    /// Seconds within which an identical alert to the same recipient is suppressed, 0–86400
    /// (0 = off); missing means the default (300).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 86400, example = 300)
    )]
    pub send_frequency: Option<i64>,
    /// The ID of the profile to fail over to.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "backup-relay"))]
    pub alternate_profile_id: Option<String>,
    #[serde(default)]
    pub proxy: Option<ProxyDraft<S>>,
    /// Allow UTF-8 in addresses and headers (SMTPUTF8); off means ASCII addresses only.
    #[serde(default)]
    pub utf8_headers: bool,
}

/// The transport, tagged by `"kind"`: `smtp`, `local`, `ews` or `graph`.
///
/// Its OpenAPI schema is written by hand (`crate::openapi`): the derived one would put the
/// variant's `deny_unknown_fields` object and the `kind` tag in an `allOf`, which rejects `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", bound = "S: SecretField")]
pub enum TransportDraft<S = SecretInput> {
    Smtp(SmtpDraft<S>),
    Local(LocalDraft),
    Ews(EwsDraft<S>),
    Graph(GraphDraft<S>),
}

impl<S> TransportDraft<S> {
    pub fn kind(&self) -> TransportKind {
        match self {
            TransportDraft::Smtp(_) => TransportKind::Smtp,
            TransportDraft::Local(_) => TransportKind::Local,
            TransportDraft::Ews(_) => TransportKind::Ews,
            TransportDraft::Graph(_) => TransportKind::Graph,
        }
    }
}

/// SMTP to a remote host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: SecretField")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SmtpDraft<S = SecretInput> {
    /// A DNS name (Unicode or punycode) or an IP address.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "smtp.example.com"))]
    pub host: String,
    /// 1–65535; missing means the default for `security` (25 / 587 / 465).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 65535, example = 587)
    )]
    pub port: Option<i64>,
    pub security: Security,
    /// A PEM CA certificate to trust for this server (an internal CA or a self-signed server
    /// certificate).
    #[serde(default)]
    pub ca_certificate: Option<String>,
    /// The name sent in EHLO; missing means the server picks (usually its host name).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "app.example.com"))]
    pub ehlo_name: Option<String>,
    pub auth: AuthDraft<S>,
}

/// The MTA on this machine (`sendmail -t`-style).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalDraft {
    /// An absolute path; missing means `/usr/sbin/sendmail`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "/usr/sbin/sendmail"))]
    pub sendmail_path: Option<String>,
}

/// Exchange Web Services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: SecretField")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EwsDraft<S = SecretInput> {
    /// The `https://` URL of `Exchange.asmx`.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://mail.corp.example.com/EWS/Exchange.asmx")
    )]
    pub url: String,
    pub auth: AuthDraft<S>,
    /// Missing means `Exchange2013_SP1`.
    #[serde(default)]
    pub server_version: Option<EwsVersion>,
}

/// Microsoft Graph `sendMail` (OAuth only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: SecretField")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GraphDraft<S = SecretInput> {
    pub endpoint: GraphEndpointDraft,
    pub oauth: OAuthDraft<S>,
    /// Graph's own default is to save a copy; so is ours.
    #[serde(default = "yes")]
    #[cfg_attr(feature = "openapi", schema(default = true))]
    pub save_to_sent_items: bool,
}

/// Which Graph service to call, tagged by `"kind"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GraphEndpointDraft {
    /// `https://graph.microsoft.com`
    Global,
    /// `https://graph.microsoft.us` (GCC High)
    UsGov,
    /// `https://dod-graph.microsoft.us`
    UsGovDod,
    /// `https://microsoftgraph.chinacloudapi.cn`
    China,
    /// Any HTTPS base URL (http on loopback): fakes and proxies.
    Custom {
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(example = "http://127.0.0.1:8025/graph"))]
        url: String,
    },
}

impl GraphEndpointDraft {
    /// The national cloud the endpoint belongs to (a custom URL counts as global), which picks
    /// the default scopes.
    pub fn cloud(&self) -> super::Cloud {
        use super::Cloud;
        match self {
            GraphEndpointDraft::Global | GraphEndpointDraft::Custom { .. } => Cloud::Global,
            GraphEndpointDraft::UsGov => Cloud::UsGov,
            GraphEndpointDraft::UsGovDod => Cloud::UsGovDod,
            GraphEndpointDraft::China => Cloud::China,
        }
    }
}

impl<S> ProfileDraft<S> {
    /// The OAuth settings, wherever the transport keeps them (SMTP or EWS `auth`, or Graph).
    pub fn oauth(&self) -> Option<&OAuthDraft<S>> {
        match &self.transport {
            TransportDraft::Graph(graph) => Some(&graph.oauth),
            TransportDraft::Smtp(SmtpDraft {
                auth: AuthDraft::Oauth2 { oauth, .. },
                ..
            })
            | TransportDraft::Ews(EwsDraft {
                auth: AuthDraft::Oauth2 { oauth, .. },
                ..
            }) => Some(oauth),
            _ => None,
        }
    }

    pub fn oauth_mut(&mut self) -> Option<&mut OAuthDraft<S>> {
        match &mut self.transport {
            TransportDraft::Graph(graph) => Some(&mut graph.oauth),
            TransportDraft::Smtp(SmtpDraft {
                auth: AuthDraft::Oauth2 { oauth, .. },
                ..
            })
            | TransportDraft::Ews(EwsDraft {
                auth: AuthDraft::Oauth2 { oauth, .. },
                ..
            }) => Some(oauth),
            _ => None,
        }
    }

    /// The scopes validation uses when none are entered (see
    /// [`OAuthPreset::default_scopes`]), for a form to prefill; `None` without OAuth or
    /// without defaults.
    pub fn default_scopes(&self) -> Option<String> {
        let oauth = self.oauth()?;
        let cloud = match &self.transport {
            TransportDraft::Graph(graph) => graph.endpoint.cloud(),
            _ => oauth.authority.unwrap_or_default().cloud(),
        };
        oauth
            .preset
            .default_scopes(self.transport.kind(), oauth.flow.kind(), cloud)
            .map(|scopes| scopes.to_string())
    }
}

/// The `RequestServerVersion` sent to EWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EwsVersion {
    #[serde(rename = "Exchange2010_SP2")]
    Exchange2010Sp2,
    #[serde(rename = "Exchange2013")]
    Exchange2013,
    #[default]
    #[serde(rename = "Exchange2013_SP1")]
    Exchange2013Sp1,
    #[serde(rename = "Exchange2016")]
    Exchange2016,
}

impl EwsVersion {
    pub const ALL: [EwsVersion; 4] = [
        EwsVersion::Exchange2010Sp2,
        EwsVersion::Exchange2013,
        EwsVersion::Exchange2013Sp1,
        EwsVersion::Exchange2016,
    ];

    /// The exact string EWS expects in `<t:RequestServerVersion Version="…"/>`.
    pub fn as_str(self) -> &'static str {
        match self {
            EwsVersion::Exchange2010Sp2 => "Exchange2010_SP2",
            EwsVersion::Exchange2013 => "Exchange2013",
            EwsVersion::Exchange2013Sp1 => "Exchange2013_SP1",
            EwsVersion::Exchange2016 => "Exchange2016",
        }
    }
}

/// How to authenticate to SMTP or EWS, tagged by `"kind"`. EWS refuses `none`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    bound = "S: SecretField"
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuthDraft<S = SecretInput> {
    None,
    Basic {
        #[serde(default)]
        username: String,
        #[serde(default, skip_serializing_if = "SecretField::is_omitted")]
        password: S,
        /// SMTP only: which SASL mechanism to use.
        #[serde(default)]
        mechanism: BasicMechanism,
    },
    Ntlm {
        #[serde(default)]
        username: String,
        #[serde(default)]
        domain: Option<String>,
        #[serde(default)]
        workstation: Option<String>,
        #[serde(default, skip_serializing_if = "SecretField::is_omitted")]
        password: S,
    },
    Oauth2 {
        /// The mailbox the token is for (XOAUTH2 `user=`, EWS anchor mailbox).
        #[serde(default)]
        username: String,
        oauth: OAuthDraft<S>,
    },
}

/// The SASL mechanism for SMTP basic authentication: `auto` uses PLAIN if offered, else LOGIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BasicMechanism {
    /// PLAIN if offered, else LOGIN.
    #[default]
    Auto,
    Plain,
    Login,
}

/// OAuth settings as entered. The secrets sit here (not inside `flow`) so that their paths are
/// `…oauth.client_secret`, `…oauth.private_key` and `…oauth.refresh_token` whatever the flow;
/// the ones the flow does not use are ignored (and cleared on save).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: SecretField")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthDraft<S = SecretInput> {
    pub preset: OAuthPreset,
    /// Microsoft only; missing means `public`.
    #[serde(default)]
    pub authority: Option<Authority>,
    /// Microsoft only: the directory (tenant) ID, a GUID.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "72f988bf-86f1-41af-91ab-2d7cd011db47")
    )]
    pub tenant_id: Option<String>,
    /// The application (client) ID: a GUID for Microsoft.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "0b8f3c9e-5d2a-4e7b-9a1c-3f6d8e2b1a4c")
    )]
    pub client_id: String,
    pub flow: FlowDraft,
    /// Required for `custom`; for presets it is derived (leave empty).
    #[serde(default)]
    pub token_url: Option<String>,
    /// Required for `custom` with `authorization_code`; derived for presets.
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// Space-separated; empty means the preset's defaults (required for `custom`).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://graph.microsoft.com/Mail.Send offline_access")
    )]
    pub scopes: Option<String>,
    #[serde(default, skip_serializing_if = "SecretField::is_omitted")]
    pub client_secret: S,
    /// When the client secret expires (`YYYY-MM-DD`, as the app registration shows it), so
    /// the test send can warn 30 days ahead.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "2027-03-31"))]
    pub secret_expires_on: Option<String>,
    #[serde(default, skip_serializing_if = "SecretField::is_omitted")]
    pub private_key: S,
    /// Never typed: only `{"set": true}` (keep) or `{"set": false}` (forget, forcing a new
    /// consent) make sense here.
    #[serde(default, skip_serializing_if = "SecretField::is_omitted")]
    pub refresh_token: S,
}

/// The OAuth grant, tagged by `"kind"`: `client_credentials` (app-only) or
/// `authorization_code` (delegated: an admin signs in once, the refresh token is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FlowDraft {
    ClientCredentials {
        credential: CredentialDraft,
    },
    AuthorizationCode {
        /// Where the provider sends the admin back after consent (registered with the app).
        #[serde(default)]
        #[cfg_attr(
            feature = "openapi",
            schema(example = "https://outmail.example.com/oauth/callback")
        )]
        redirect_url: String,
    },
}

impl FlowDraft {
    pub fn kind(&self) -> FlowKind {
        match self {
            FlowDraft::ClientCredentials { .. } => FlowKind::ClientCredentials,
            FlowDraft::AuthorizationCode { .. } => FlowKind::AuthorizationCode,
        }
    }
}

/// How the app proves itself in the client-credentials flow, tagged by `"kind"`. The secret or
/// private key itself is in [`OAuthDraft`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CredentialDraft {
    Secret,
    Certificate {
        /// The PEM certificate whose private key (`private_key`) signs the client assertion.
        #[serde(default)]
        certificate: String,
    },
}

/// The sender of system mail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SenderDraft {
    /// `a@b.c`, `Name <a@b.c>` or `"Name" <a@b.c>`.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "\"Example Alerts\" <alerts@example.com>")
    )]
    pub address: String,
    /// Overrides a name given in `address`; must not contradict it.
    #[serde(default)]
    pub display_name: Option<String>,
    /// A mailbox for replies (`Name <a@b.c>` accepted).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "helpdesk@example.com"))]
    pub reply_to: Option<String>,
    /// The "send as the acting user" option.
    #[serde(default)]
    pub send_as_acting_user: bool,
    /// The "a template's From overrides" option.
    #[serde(default)]
    pub template_from_overrides: bool,
}

/// An outbound proxy for SMTP and HTTP transports and token calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: SecretField")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProxyDraft<S = SecretInput> {
    pub kind: ProxyKind,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "proxy.example.com"))]
    pub host: String,
    /// 1–65535; required.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 65535, example = 1080)
    )]
    pub port: Option<i64>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "SecretField::is_omitted")]
    pub password: S,
}

/// HTTP CONNECT or SOCKS5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProxyKind {
    Http,
    Socks5,
}

impl ProxyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
        }
    }
}

/// Where the OAuth 2.0 settings of a profile sit, and with them every OAuth field path and
/// secret slot: the one table of them. SMTP and EWS keep the settings under
/// `transport.auth.oauth` (secrets in the `Auth…` slots), Microsoft Graph under
/// `transport.oauth` (the `Graph…` slots). The paths are where the fields sit in the draft JSON
/// and the keys validation reports errors under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthPlace {
    /// `transport.auth.oauth` (SMTP, EWS)
    Auth,
    /// `transport.oauth` (Graph)
    Graph,
}

/// A field of the OAuth settings ([`OAuthDraft`]); [`OAuthPlace::path`] gives its full path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthField {
    /// `preset`
    Preset,
    /// `authority`
    Authority,
    /// `tenant_id`
    TenantId,
    /// `client_id`
    ClientId,
    /// `flow`: the grant as a whole.
    Flow,
    /// `flow.credential.certificate`: the client-credentials certificate.
    Certificate,
    /// `flow.redirect_url`: the authorization-code redirect.
    RedirectUrl,
    /// `token_url`
    TokenUrl,
    /// `authorize_url`
    AuthorizeUrl,
    /// `scopes`
    Scopes,
    /// `client_secret` (a secret slot)
    ClientSecret,
    /// `secret_expires_on`
    SecretExpiresOn,
    /// `private_key` (a secret slot)
    PrivateKey,
    /// `refresh_token` (a secret slot)
    RefreshToken,
}

/// Writes each place's prefix and each field's leaf once, and joins them at compile time so
/// that every path is a `&'static str` (a `MailError` blames a field with one).
macro_rules! oauth_paths {
    (
        auth: $auth:literal,
        graph: $graph:literal,
        fields: [$($field:ident => $leaf:literal),* $(,)?] $(,)?
    ) => {
        impl OAuthField {
            /// Every field, in the draft's order.
            pub const ALL: &'static [OAuthField] = &[$(OAuthField::$field),*];

            /// The path below the OAuth settings, e.g. `flow.credential.certificate`.
            pub fn leaf(self) -> &'static str {
                match self {
                    $(OAuthField::$field => $leaf,)*
                }
            }
        }

        impl OAuthPlace {
            /// The path of the OAuth settings themselves: `transport.auth.oauth` or
            /// `transport.oauth`.
            pub fn prefix(self) -> &'static str {
                match self {
                    OAuthPlace::Auth => $auth,
                    OAuthPlace::Graph => $graph,
                }
            }

            /// The dotted path of `field` here, e.g. `transport.oauth.scopes`.
            pub fn path(self, field: OAuthField) -> &'static str {
                match (self, field) {
                    $(
                        (OAuthPlace::Auth, OAuthField::$field) => concat!($auth, ".", $leaf),
                        (OAuthPlace::Graph, OAuthField::$field) => concat!($graph, ".", $leaf),
                    )*
                }
            }
        }
    };
}

oauth_paths! {
    auth: "transport.auth.oauth",
    graph: "transport.oauth",
    fields: [
        Preset => "preset",
        Authority => "authority",
        TenantId => "tenant_id",
        ClientId => "client_id",
        Flow => "flow",
        Certificate => "flow.credential.certificate",
        RedirectUrl => "flow.redirect_url",
        TokenUrl => "token_url",
        AuthorizeUrl => "authorize_url",
        Scopes => "scopes",
        ClientSecret => "client_secret",
        SecretExpiresOn => "secret_expires_on",
        PrivateKey => "private_key",
        RefreshToken => "refresh_token",
    ],
}

impl OAuthPlace {
    pub const ALL: [OAuthPlace; 2] = [OAuthPlace::Auth, OAuthPlace::Graph];

    /// Where a transport of this kind keeps OAuth settings: Graph at `transport.oauth`, the
    /// others under `transport.auth.oauth` (the local MTA has none, and gets `Auth` too).
    pub fn for_transport(kind: TransportKind) -> OAuthPlace {
        match kind {
            TransportKind::Graph => OAuthPlace::Graph,
            TransportKind::Smtp | TransportKind::Ews | TransportKind::Local => OAuthPlace::Auth,
        }
    }

    /// The place and the OAuth settings of a profile that uses OAuth.
    pub fn of(spec: &super::ProfileSpec) -> Option<(OAuthPlace, &super::OAuthSettings)> {
        let oauth = spec.transport.oauth()?;
        Some((OAuthPlace::for_transport(spec.transport.kind()), oauth))
    }

    /// The place and the OAuth settings of a draft that uses OAuth.
    pub fn of_draft<S>(draft: &ProfileDraft<S>) -> Option<(OAuthPlace, &OAuthDraft<S>)> {
        let oauth = draft.oauth()?;
        Some((OAuthPlace::for_transport(draft.transport.kind()), oauth))
    }

    pub fn client_secret(self) -> SecretSlot {
        match self {
            OAuthPlace::Auth => SecretSlot::AuthClientSecret,
            OAuthPlace::Graph => SecretSlot::GraphClientSecret,
        }
    }

    pub fn private_key(self) -> SecretSlot {
        match self {
            OAuthPlace::Auth => SecretSlot::AuthPrivateKey,
            OAuthPlace::Graph => SecretSlot::GraphPrivateKey,
        }
    }

    pub fn refresh_token(self) -> SecretSlot {
        match self {
            OAuthPlace::Auth => SecretSlot::AuthRefreshToken,
            OAuthPlace::Graph => SecretSlot::GraphRefreshToken,
        }
    }
}

impl<S: SecretField> OAuthDraft<S> {
    fn secrets(&self, place: OAuthPlace) -> [(SecretSlot, &S); 3] {
        [
            (place.client_secret(), &self.client_secret),
            (place.private_key(), &self.private_key),
            (place.refresh_token(), &self.refresh_token),
        ]
    }
}

impl<S: SecretField> AuthDraft<S> {
    fn secrets(&self) -> Vec<(SecretSlot, &S)> {
        match self {
            AuthDraft::None => Vec::new(),
            AuthDraft::Basic { password, .. } | AuthDraft::Ntlm { password, .. } => {
                vec![(SecretSlot::AuthPassword, password)]
            }
            AuthDraft::Oauth2 { oauth, .. } => oauth.secrets(OAuthPlace::Auth).to_vec(),
        }
    }
}

impl<S: SecretField> ProfileDraft<S> {
    /// Every secret field present in this draft's shape, with its slot.
    pub fn secrets(&self) -> Vec<(SecretSlot, &S)> {
        let mut out = match &self.transport {
            TransportDraft::Smtp(smtp) => smtp.auth.secrets(),
            TransportDraft::Ews(ews) => ews.auth.secrets(),
            TransportDraft::Graph(graph) => graph.oauth.secrets(OAuthPlace::Graph).to_vec(),
            TransportDraft::Local(_) => Vec::new(),
        };
        if let Some(proxy) = &self.proxy {
            out.push((SecretSlot::ProxyPassword, &proxy.password));
        }
        out
    }
}

impl ProfileDraft<SecretInput> {
    /// The client's instruction for each secret slot of this draft (missing ones mean keep).
    /// Feed it to [`super::plan_secrets`].
    pub fn secret_inputs(&self) -> std::collections::BTreeMap<SecretSlot, SecretInput> {
        self.secrets()
            .into_iter()
            .map(|(slot, input)| (slot, input.clone()))
            .collect()
    }
}

//! The validated profile ([`ProfileSpec`]): typed, defaults resolved, URLs and scopes derived.
//! Only [`super::ProfileDraft::validate`] builds one; it is stored as a JSON document in the
//! draft's shape with the secrets left out.

use serde::{Deserialize, Serialize};

use crate::cert::CertificatePem;
use crate::date::Date;
use crate::email::{EmailAddress, Mailbox};
use crate::error::FieldErrors;
use crate::frequency::SendFrequency;
use crate::guid::Guid;
use crate::host::{Host, Port, Security};
use crate::scope::Scopes;
use crate::secret::{Omitted, SecretField, SecretInput, SecretSlot};
use crate::text::{Description, DisplayName, ProfileName, Signature, Username};
use crate::url::HttpsUrl;

use super::draft::*;
use super::oauth::{Authority, Cloud, FlowKind, OAuthPreset, TransportKind};
use super::values::{ClientId, ProfileId, SendmailPath};

/// A valid profile. Serialised as a [`ProfileDraft`] without secret fields (so the stored JSON is
/// the documented draft shape); deserialising re-validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProfileDraft<Omitted>", into = "ProfileDraft<Omitted>")]
pub struct ProfileSpec {
    pub name: ProfileName,
    pub description: Option<Description>,
    pub transport: Transport,
    pub sender: Sender,
    pub signature: Option<Signature>,
    pub send_frequency: SendFrequency,
    /// The profile to fail over to; existence and cycles are the server's to check.
    pub alternate_profile_id: Option<ProfileId>,
    pub proxy: Option<Proxy>,
    pub utf8_headers: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Smtp(SmtpTransport),
    Local(LocalTransport),
    Ews(EwsTransport),
    Graph(GraphTransport),
}

impl Transport {
    pub fn kind(&self) -> TransportKind {
        match self {
            Transport::Smtp(_) => TransportKind::Smtp,
            Transport::Local(_) => TransportKind::Local,
            Transport::Ews(_) => TransportKind::Ews,
            Transport::Graph(_) => TransportKind::Graph,
        }
    }

    /// The OAuth settings, wherever they sit.
    pub fn oauth(&self) -> Option<&OAuthSettings> {
        match self {
            Transport::Smtp(SmtpTransport {
                auth: Auth::OAuth2(o),
                ..
            })
            | Transport::Ews(EwsTransport {
                auth: Auth::OAuth2(o),
                ..
            }) => Some(&o.oauth),
            Transport::Graph(g) => Some(&g.oauth),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpTransport {
    pub host: Host,
    /// Resolved: the entered port, or the default for `security`.
    pub port: Port,
    pub security: Security,
    pub ca_certificate: Option<CertificatePem>,
    pub ehlo_name: Option<Host>,
    pub auth: Auth,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalTransport {
    pub sendmail_path: SendmailPath,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EwsTransport {
    pub url: HttpsUrl,
    /// Never [`Auth::None`].
    pub auth: Auth,
    pub server_version: EwsVersion,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphTransport {
    pub endpoint: GraphEndpoint,
    pub oauth: OAuthSettings,
    pub save_to_sent_items: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphEndpoint {
    Global,
    UsGov,
    UsGovDod,
    China,
    Custom(HttpsUrl),
}

impl GraphEndpoint {
    /// The base URL; `join("v1.0/users/…/sendMail")` onto it.
    pub fn base_url(&self) -> HttpsUrl {
        let fixed = match self {
            GraphEndpoint::Custom(url) => return url.clone(),
            GraphEndpoint::Global => "https://graph.microsoft.com",
            GraphEndpoint::UsGov => "https://graph.microsoft.us",
            GraphEndpoint::UsGovDod => "https://dod-graph.microsoft.us",
            GraphEndpoint::China => "https://microsoftgraph.chinacloudapi.cn",
        };
        HttpsUrl::parse(fixed).unwrap_or_else(|_| unreachable!("constant URL {fixed}"))
    }

    /// The cloud for default scopes; a custom endpoint (a fake) uses the global scopes.
    pub fn cloud(&self) -> Cloud {
        match self {
            GraphEndpoint::Global | GraphEndpoint::Custom(_) => Cloud::Global,
            GraphEndpoint::UsGov => Cloud::UsGov,
            GraphEndpoint::UsGovDod => Cloud::UsGovDod,
            GraphEndpoint::China => Cloud::China,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic(BasicAuth),
    Ntlm(NtlmAuth),
    /// Boxed: the OAuth settings are much larger than the other variants.
    OAuth2(Box<OAuth2Auth>),
}

impl Auth {
    /// `none`, `basic`, `ntlm` or `oauth2`.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Basic(_) => "basic",
            Auth::Ntlm(_) => "ntlm",
            Auth::OAuth2(_) => "oauth2",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: Username,
    pub mechanism: BasicMechanism,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtlmAuth {
    pub username: Username,
    /// NTLM domain and workstation follow the user-name rules.
    pub domain: Option<Username>,
    pub workstation: Option<Username>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Auth {
    /// The mailbox the token is for.
    pub username: EmailAddress,
    pub oauth: OAuthSettings,
}

/// Resolved OAuth settings: for presets the URLs and (when not entered) the scopes are derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    pub preset: OAuthPreset,
    /// `Some` exactly for Microsoft.
    pub authority: Option<Authority>,
    /// `Some` exactly for Microsoft.
    pub tenant_id: Option<Guid>,
    pub client_id: ClientId,
    pub flow: OAuthFlow,
    pub token_url: HttpsUrl,
    /// `Some` for the authorization-code flow.
    pub authorize_url: Option<HttpsUrl>,
    pub scopes: Scopes,
    /// Whether `scopes` were entered (kept on edit) or are the preset's defaults (which follow
    /// a change of flow or cloud).
    pub scopes_entered: bool,
    /// When the client secret expires, if the admin entered it.
    pub secret_expires_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthFlow {
    ClientCredentials(ClientCredential),
    AuthorizationCode { redirect_url: HttpsUrl },
}

impl OAuthFlow {
    pub fn kind(&self) -> FlowKind {
        match self {
            OAuthFlow::ClientCredentials(_) => FlowKind::ClientCredentials,
            OAuthFlow::AuthorizationCode { .. } => FlowKind::AuthorizationCode,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredential {
    Secret,
    /// The certificate whose private key signs the JWT client assertion.
    Certificate(CertificatePem),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// As entered, possibly with a name.
    pub address: Mailbox,
    pub display_name: Option<DisplayName>,
    pub reply_to: Option<Mailbox>,
    pub send_as_acting_user: bool,
    pub template_from_overrides: bool,
}

impl Sender {
    /// The From mailbox: the address with `display_name` (or the name typed with the address).
    pub fn from_mailbox(&self) -> Mailbox {
        match &self.display_name {
            Some(name) => self.address.with_name(Some(name.clone())),
            None => self.address.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub kind: ProxyKind,
    pub host: Host,
    pub port: Port,
    pub username: Option<Username>,
}

impl TryFrom<ProfileDraft<Omitted>> for ProfileSpec {
    type Error = FieldErrors;
    fn try_from(draft: ProfileDraft<Omitted>) -> Result<Self, FieldErrors> {
        draft.validate()
    }
}

impl From<ProfileSpec> for ProfileDraft<Omitted> {
    fn from(spec: ProfileSpec) -> Self {
        spec.to_draft_with(|_| Omitted)
    }
}

impl ProfileSpec {
    /// The draft to edit this profile: every secret `{"set": true}` (keep).
    pub fn to_draft(&self) -> ProfileDraft<SecretInput> {
        self.to_draft_with(|_| SecretInput::Keep)
    }

    /// The draft shape with each secret field filled by `secret(slot)`: `SecretStatus` for a
    /// response, `SecretInput` for a request, `Omitted` for storage.
    pub fn to_draft_with<S: SecretField>(
        &self,
        mut secret: impl FnMut(SecretSlot) -> S,
    ) -> ProfileDraft<S> {
        let transport = match &self.transport {
            Transport::Smtp(smtp) => TransportDraft::Smtp(SmtpDraft {
                host: smtp.host.to_string(),
                port: Some(smtp.port.get().into()),
                security: smtp.security,
                ca_certificate: smtp.ca_certificate.as_ref().map(|c| c.pem().to_owned()),
                ehlo_name: smtp.ehlo_name.as_ref().map(Host::to_string),
                auth: auth_draft(&smtp.auth, &mut secret),
            }),
            Transport::Local(local) => TransportDraft::Local(LocalDraft {
                sendmail_path: Some(local.sendmail_path.to_string()),
            }),
            Transport::Ews(ews) => TransportDraft::Ews(EwsDraft {
                url: ews.url.to_string(),
                auth: auth_draft(&ews.auth, &mut secret),
                server_version: Some(ews.server_version),
            }),
            Transport::Graph(graph) => TransportDraft::Graph(GraphDraft {
                endpoint: match &graph.endpoint {
                    GraphEndpoint::Global => GraphEndpointDraft::Global,
                    GraphEndpoint::UsGov => GraphEndpointDraft::UsGov,
                    GraphEndpoint::UsGovDod => GraphEndpointDraft::UsGovDod,
                    GraphEndpoint::China => GraphEndpointDraft::China,
                    GraphEndpoint::Custom(url) => GraphEndpointDraft::Custom {
                        url: url.to_string(),
                    },
                },
                oauth: oauth_draft(&graph.oauth, OAuthPlace::Graph, &mut secret),
                save_to_sent_items: graph.save_to_sent_items,
            }),
        };
        ProfileDraft {
            name: self.name.to_string(),
            description: self.description.as_ref().map(|d| d.to_string()),
            transport,
            sender: SenderDraft {
                address: self.sender.address.to_string(),
                display_name: self.sender.display_name.as_ref().map(|d| d.to_string()),
                reply_to: self.sender.reply_to.as_ref().map(|m| m.to_string()),
                send_as_acting_user: self.sender.send_as_acting_user,
                template_from_overrides: self.sender.template_from_overrides,
            },
            signature: self.signature.as_ref().map(|s| s.to_string()),
            send_frequency: Some(self.send_frequency.seconds().into()),
            alternate_profile_id: self.alternate_profile_id.as_ref().map(|p| p.to_string()),
            proxy: self.proxy.as_ref().map(|p| ProxyDraft {
                kind: p.kind,
                host: p.host.to_string(),
                port: Some(p.port.get().into()),
                username: p.username.as_ref().map(|u| u.to_string()),
                password: secret(SecretSlot::ProxyPassword),
            }),
            utf8_headers: self.utf8_headers,
        }
    }
}

impl ProfileSpec {
    /// Problems with the profile's certificates at `now` (unix seconds): `expired`,
    /// `not_yet_valid`, or `expires_soon` within `warn_within` seconds, under the certificate's
    /// field path. The server decides whether these block a save or only show as warnings.
    pub fn certificate_problems(&self, now: i64, warn_within: i64) -> FieldErrors {
        let mut errors = FieldErrors::new();
        let mut check = |path: &str, cert: &CertificatePem| {
            if let Err(e) = cert.check_validity(now, warn_within) {
                errors.add(path, e);
            }
        };
        if let Transport::Smtp(SmtpTransport {
            ca_certificate: Some(ca),
            ..
        }) = &self.transport
        {
            check("transport.ca_certificate", ca);
        }
        if let Some((place, o)) = OAuthPlace::of(self)
            && let OAuthFlow::ClientCredentials(ClientCredential::Certificate(cert)) = &o.flow
        {
            check(place.path(OAuthField::Certificate), cert);
        }
        errors
    }
}

fn auth_draft<S: SecretField>(
    auth: &Auth,
    secret: &mut impl FnMut(SecretSlot) -> S,
) -> AuthDraft<S> {
    match auth {
        Auth::None => AuthDraft::None,
        Auth::Basic(b) => AuthDraft::Basic {
            username: b.username.to_string(),
            password: secret(SecretSlot::AuthPassword),
            mechanism: b.mechanism,
        },
        Auth::Ntlm(n) => AuthDraft::Ntlm {
            username: n.username.to_string(),
            domain: n.domain.as_ref().map(|d| d.to_string()),
            workstation: n.workstation.as_ref().map(|w| w.to_string()),
            password: secret(SecretSlot::AuthPassword),
        },
        Auth::OAuth2(o) => AuthDraft::Oauth2 {
            username: o.username.to_string(),
            oauth: oauth_draft(&o.oauth, OAuthPlace::Auth, secret),
        },
    }
}

fn oauth_draft<S: SecretField>(
    oauth: &OAuthSettings,
    place: OAuthPlace,
    secret: &mut impl FnMut(SecretSlot) -> S,
) -> OAuthDraft<S> {
    let custom = oauth.preset == OAuthPreset::Custom;
    OAuthDraft {
        preset: oauth.preset,
        authority: oauth.authority,
        tenant_id: oauth.tenant_id.as_ref().map(Guid::to_string),
        client_id: oauth.client_id.to_string(),
        flow: match &oauth.flow {
            OAuthFlow::ClientCredentials(ClientCredential::Secret) => {
                FlowDraft::ClientCredentials {
                    credential: CredentialDraft::Secret,
                }
            }
            OAuthFlow::ClientCredentials(ClientCredential::Certificate(cert)) => {
                FlowDraft::ClientCredentials {
                    credential: CredentialDraft::Certificate {
                        certificate: cert.pem().to_owned(),
                    },
                }
            }
            OAuthFlow::AuthorizationCode { redirect_url } => FlowDraft::AuthorizationCode {
                redirect_url: redirect_url.to_string(),
            },
        },
        // Derived URLs are left out so that a later change of tenant or authority re-derives
        // them instead of contradicting them.
        token_url: custom.then(|| oauth.token_url.to_string()),
        authorize_url: if custom {
            oauth.authorize_url.as_ref().map(HttpsUrl::to_string)
        } else {
            None
        },
        scopes: oauth.scopes_entered.then(|| oauth.scopes.to_string()),
        client_secret: secret(place.client_secret()),
        secret_expires_on: oauth.secret_expires_on.map(|d| d.to_string()),
        private_key: secret(place.private_key()),
        refresh_token: secret(place.refresh_token()),
    }
}

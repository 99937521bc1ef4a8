//! Draft → spec: every field parsed, every cross-field rule checked, all errors collected under
//! their dotted paths. The cross-field rules are also public functions for the UI.

use crate::cert::{CertificatePem, InvalidKeyPair, PrivateKeyPem};
use crate::date::Date;
use crate::email::{Charset, EmailAddress, Mailbox};
use crate::error::{FieldError, FieldErrors};
use crate::frequency::SendFrequency;
use crate::guid::{Guid, InvalidGuid};
use crate::host::{Host, Port, Security};
use crate::scope::Scopes;
use crate::secret::{
    InvalidSecret, SecretField, SecretInput, SecretSlot, SecretString, max_secret_len,
};
use crate::text::{Description, DisplayName, ProfileName, Signature, Username};
use crate::url::HttpsUrl;

use super::draft::*;
use super::oauth::{Authority, Cloud, FlowKind, OAuthPreset, TransportKind};
use super::spec::*;
use super::values::{ClientId, ProfileId, SendmailPath};

/// Why a combination of fields was refused (the single fields have their own `Invalid…` enums).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProfile {
    #[error("this field is required")]
    Required,
    #[error("{0}")]
    NotApplicable(&'static str),
    #[error("{0}")]
    UnsupportedFlow(&'static str),
    #[error("{0}")]
    UnsupportedPreset(&'static str),
    #[error("EWS needs authentication: choose basic, ntlm or oauth2")]
    AuthRequired,
    #[error(
        "this URL is derived from the preset ({0}); leave it empty, or choose the custom preset to enter your own"
    )]
    DerivedFromPreset(String),
    #[error("the name here differs from the name in the sender address; keep only one")]
    ConflictingDisplayName,
    #[error("{0}")]
    SecurityPortMismatch(&'static str),
    #[error("{0}")]
    NotAGuid(&'static str),
    #[error("{0}")]
    CloudMismatch(&'static str),
    #[error("a name for this profile must be unique: \"{0}\" is already used")]
    DuplicateName(String),
}

error_codes!(InvalidProfile {
    Me::Required => "required",
    Me::NotApplicable(_) => "not_applicable",
    Me::UnsupportedFlow(_) => "unsupported_flow",
    Me::UnsupportedPreset(_) => "unsupported_preset",
    Me::AuthRequired => "auth_required",
    Me::DerivedFromPreset(_) => "derived_from_preset",
    Me::ConflictingDisplayName => "conflicting_display_name",
    Me::SecurityPortMismatch(_) => "security_port_mismatch",
    Me::NotAGuid(_) => "not_a_guid",
    Me::CloudMismatch(_) => "cloud_mismatch",
    Me::DuplicateName(_) => "duplicate_name",
});

/// Only spaces: an input left empty. Anything else (even "\n") goes to the parser, so control
/// characters are reported rather than treated as "not set".
/// An empty or all-spaces field counts as not filled in.
pub(crate) fn is_blank(s: &str) -> bool {
    s.chars().all(|c| c == ' ')
}

/// Parses a field that must be filled in, recording `required` or the parser's error under
/// `path`; `None` means "failed, error recorded". Shared by every draft's validation.
pub(crate) fn required<T, E: Into<FieldError>>(
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

/// Parses a field that may be left out or blank: `Some(None)` when not set, `Some(Some(v))`
/// when valid, `None` on error (recorded under `path`).
pub(crate) fn optional<T, E: Into<FieldError>>(
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

/// Collects errors while parsing; `None` means "failed, error recorded".
#[derive(Default)]
struct Ctx {
    errors: FieldErrors,
}

impl Ctx {
    fn add(&mut self, path: &str, err: impl Into<FieldError>) {
        self.errors.add(path, err);
    }

    fn check<T, E: Into<FieldError>>(&mut self, path: &str, r: Result<T, E>) -> Option<T> {
        r.map_err(|e| self.add(path, e)).ok()
    }

    fn required<T, E: Into<FieldError>>(
        &mut self,
        path: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        required(&mut self.errors, path, value, parse)
    }

    /// `Some(None)` when not set, `Some(Some(v))` when valid, `None` on error.
    fn optional<T, E: Into<FieldError>>(
        &mut self,
        path: &str,
        value: &Option<String>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        optional(&mut self.errors, path, value, parse)
    }

    /// Checks a secret field; returns the newly entered value, if any and valid.
    fn secret<S: SecretField>(
        &mut self,
        slot: SecretSlot,
        field: &S,
        required: bool,
    ) -> Option<SecretString> {
        let input = field.input()?;
        let label = slot.kind().label();
        match input {
            SecretInput::Replace(value) => {
                let err = if !slot.is_enterable() {
                    Some(InvalidSecret::NotEnterable(label))
                } else if value.is_empty() {
                    Some(InvalidSecret::Empty(label))
                } else if value.expose().contains('\0') {
                    Some(InvalidSecret::Nul(label))
                } else if value.expose().chars().count() > max_secret_len(slot.kind()) {
                    Some(InvalidSecret::TooLong {
                        label,
                        max: max_secret_len(slot.kind()),
                    })
                } else {
                    None
                };
                match err {
                    Some(e) => {
                        self.add(slot.path(), e);
                        None
                    }
                    None => Some(value.clone()),
                }
            }
            SecretInput::Clear if required => {
                self.add(slot.path(), InvalidSecret::Required(label));
                None
            }
            SecretInput::Clear | SecretInput::Keep => None,
        }
    }
}

impl<S: SecretField> ProfileDraft<S> {
    /// Validates the whole draft, reporting *every* problem under its dotted path.
    ///
    /// Secrets are checked as far as the draft alone allows (an entered value is not empty, a
    /// private key parses and matches the certificate, a required secret is not cleared);
    /// whether a kept secret exists and may be reused is [`super::plan_secrets`]' job.
    pub fn validate(&self) -> Result<ProfileSpec, FieldErrors> {
        let mut cx = Ctx::default();
        let charset = Charset::from_utf8_headers(self.utf8_headers);

        let name = cx.required("name", &self.name, ProfileName::parse);
        let description = cx.optional("description", &self.description, Description::parse);
        let transport = validate_transport(&mut cx, &self.transport, charset);
        let sender = validate_sender(&mut cx, &self.sender, charset);
        let signature = cx.optional("signature", &self.signature, Signature::parse);
        let send_frequency = match self.send_frequency {
            None => Some(SendFrequency::default()),
            Some(n) => cx.check("send_frequency", SendFrequency::from_seconds(n)),
        };
        let alternate_profile_id = cx.optional(
            "alternate_profile_id",
            &self.alternate_profile_id,
            ProfileId::parse,
        );
        let proxy = match &self.proxy {
            None => Some(None),
            Some(p) => {
                if matches!(self.transport, TransportDraft::Local(_)) {
                    cx.add(
                        "proxy",
                        InvalidProfile::NotApplicable(
                            "the local mail program is not reached through a proxy; remove the proxy",
                        ),
                    );
                }
                validate_proxy(&mut cx, p).map(Some)
            }
        };

        match (
            name,
            description,
            transport,
            sender,
            signature,
            send_frequency,
            alternate_profile_id,
            proxy,
        ) {
            (
                Some(name),
                Some(description),
                Some(transport),
                Some(sender),
                Some(signature),
                Some(send_frequency),
                Some(alternate_profile_id),
                Some(proxy),
            ) if cx.errors.is_empty() => Ok(ProfileSpec {
                name,
                description,
                transport,
                sender,
                signature,
                send_frequency,
                alternate_profile_id,
                proxy,
                utf8_headers: self.utf8_headers,
            }),
            _ => {
                // Every failed part records its error; this only guards against a rule that
                // forgets to, so an invalid draft can never come back as an empty error set.
                if cx.errors.is_empty() {
                    cx.add("", FieldError::new("invalid", "the profile is invalid"));
                }
                Err(cx.errors)
            }
        }
    }

    /// The errors of one field (or group: `transport` includes `transport.port`), for a form
    /// checking an input as it is typed. Validates the whole draft, so cross-field rules apply.
    pub fn errors_at(&self, path: &str) -> FieldErrors {
        match self.validate() {
            Ok(_) => FieldErrors::new(),
            Err(errors) => errors.filter_path(path),
        }
    }
}

fn validate_transport<S: SecretField>(
    cx: &mut Ctx,
    draft: &TransportDraft<S>,
    charset: Charset,
) -> Option<Transport> {
    match draft {
        TransportDraft::Smtp(d) => {
            let host = cx.required("transport.host", &d.host, Host::parse);
            let port = match d.port {
                None => Some(d.security.default_port()),
                Some(n) => cx.check("transport.port", Port::try_from(n)),
            };
            if let Some(port) = port {
                let _ = cx.check("transport.security", check_security_port(d.security, port));
            }
            let ca_certificate = cx.optional(
                "transport.ca_certificate",
                &d.ca_certificate,
                CertificatePem::parse,
            );
            if d.security == Security::None && matches!(ca_certificate, Some(Some(_))) {
                cx.add(
                    "transport.ca_certificate",
                    InvalidProfile::NotApplicable(
                        "a CA certificate is only used with starttls or tls; choose one, or remove the certificate",
                    ),
                );
            }
            let ehlo_name = cx.optional("transport.ehlo_name", &d.ehlo_name, Host::parse);
            let auth = validate_auth(cx, &d.auth, TransportKind::Smtp, charset);
            Some(Transport::Smtp(SmtpTransport {
                host: host?,
                port: port?,
                security: d.security,
                ca_certificate: ca_certificate?,
                ehlo_name: ehlo_name?,
                auth: auth?,
            }))
        }
        TransportDraft::Local(d) => {
            let sendmail_path = cx
                .optional(
                    "transport.sendmail_path",
                    &d.sendmail_path,
                    SendmailPath::parse,
                )?
                .unwrap_or_default();
            Some(Transport::Local(LocalTransport { sendmail_path }))
        }
        TransportDraft::Ews(d) => {
            let url = cx.required("transport.url", &d.url, HttpsUrl::parse);
            let auth = validate_auth(cx, &d.auth, TransportKind::Ews, charset);
            Some(Transport::Ews(EwsTransport {
                url: url?,
                auth: auth?,
                server_version: d.server_version.unwrap_or_default(),
            }))
        }
        TransportDraft::Graph(d) => {
            let endpoint = match &d.endpoint {
                GraphEndpointDraft::Global => Some(GraphEndpoint::Global),
                GraphEndpointDraft::UsGov => Some(GraphEndpoint::UsGov),
                GraphEndpointDraft::UsGovDod => Some(GraphEndpoint::UsGovDod),
                GraphEndpointDraft::China => Some(GraphEndpoint::China),
                GraphEndpointDraft::Custom { url } => cx
                    .required("transport.endpoint.url", url, HttpsUrl::parse)
                    .map(GraphEndpoint::Custom),
            };
            let cloud = endpoint.as_ref().map(GraphEndpoint::cloud);
            if let (Some(endpoint), OAuthPreset::Microsoft365) = (&endpoint, d.oauth.preset) {
                let authority = d.oauth.authority.unwrap_or_default();
                let _ = cx.check(
                    OAuthPlace::Graph.path(OAuthField::Authority),
                    check_graph_cloud(endpoint, authority),
                );
            }
            let oauth =
                validate_oauth(cx, &d.oauth, OAuthPlace::Graph, TransportKind::Graph, cloud);
            Some(Transport::Graph(GraphTransport {
                endpoint: endpoint?,
                oauth: oauth?,
                save_to_sent_items: d.save_to_sent_items,
            }))
        }
    }
}

fn validate_auth<S: SecretField>(
    cx: &mut Ctx,
    draft: &AuthDraft<S>,
    transport: TransportKind,
    charset: Charset,
) -> Option<Auth> {
    match draft {
        AuthDraft::None => {
            if transport == TransportKind::Ews {
                cx.add("transport.auth", InvalidProfile::AuthRequired);
                return None;
            }
            Some(Auth::None)
        }
        AuthDraft::Basic {
            username,
            password,
            mechanism,
        } => {
            let username = cx.required("transport.auth.username", username, Username::parse);
            cx.secret(SecretSlot::AuthPassword, password, true);
            Some(Auth::Basic(BasicAuth {
                username: username?,
                mechanism: *mechanism,
            }))
        }
        AuthDraft::Ntlm {
            username,
            domain,
            workstation,
            password,
        } => {
            let username = cx.required("transport.auth.username", username, Username::parse);
            let domain = cx.optional("transport.auth.domain", domain, Username::parse);
            let workstation =
                cx.optional("transport.auth.workstation", workstation, Username::parse);
            cx.secret(SecretSlot::AuthPassword, password, true);
            Some(Auth::Ntlm(NtlmAuth {
                username: username?,
                domain: domain?,
                workstation: workstation?,
            }))
        }
        AuthDraft::Oauth2 { username, oauth } => {
            let username = cx.required("transport.auth.username", username, |s| {
                EmailAddress::parse(s, charset)
            });
            let oauth = validate_oauth(cx, oauth, OAuthPlace::Auth, transport, None);
            Some(Auth::OAuth2(Box::new(OAuth2Auth {
                username: username?,
                oauth: oauth?,
            })))
        }
    }
}

fn validate_oauth<S: SecretField>(
    cx: &mut Ctx,
    d: &OAuthDraft<S>,
    place: OAuthPlace,
    transport: TransportKind,
    graph_cloud: Option<Cloud>,
) -> Option<OAuthSettings> {
    let p = |field: OAuthField| place.path(field);
    let microsoft = d.preset == OAuthPreset::Microsoft365;
    let flow_kind = d.flow.kind();

    let _ = cx.check(
        p(OAuthField::Preset),
        check_preset_transport(d.preset, transport),
    );
    let _ = cx.check(p(OAuthField::Flow), check_preset_flow(d.preset, flow_kind));

    let authority = if microsoft {
        Some(d.authority.unwrap_or_default())
    } else {
        if d.authority.is_some() {
            cx.add(
                p(OAuthField::Authority),
                InvalidProfile::NotApplicable("the authority applies to Microsoft 365 only"),
            );
        }
        None
    };
    let tenant_id = if microsoft {
        cx.required(
            p(OAuthField::TenantId),
            d.tenant_id.as_deref().unwrap_or(""),
            |s| parse_microsoft_guid(s, "the directory (tenant) ID is a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47 (find it in the Entra admin center); a domain name is not accepted"),
        )
    } else {
        if d.tenant_id.as_deref().is_some_and(|t| !is_blank(t)) {
            cx.add(
                p(OAuthField::TenantId),
                InvalidProfile::NotApplicable("the tenant ID applies to Microsoft 365 only"),
            );
        }
        None
    };
    let client_id = if microsoft {
        cx.required(p(OAuthField::ClientId), &d.client_id, |s| {
            parse_microsoft_guid(
                s,
                "the application (client) ID is a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47",
            )
            .map(|g| ClientId::parse(&g.to_string()).unwrap_or_else(|_| unreachable!()))
        })
    } else {
        cx.required(p(OAuthField::ClientId), &d.client_id, ClientId::parse)
    };

    let flow = match &d.flow {
        FlowDraft::ClientCredentials {
            credential: CredentialDraft::Secret,
        } => {
            cx.secret(place.client_secret(), &d.client_secret, true);
            Some(OAuthFlow::ClientCredentials(ClientCredential::Secret))
        }
        FlowDraft::ClientCredentials {
            credential: CredentialDraft::Certificate { certificate },
        } => {
            let cert_path = p(OAuthField::Certificate);
            let cert = cx.required(cert_path, certificate, CertificatePem::parse);
            if let Some(c) = &cert
                && !c.is_rsa()
            {
                cx.add(cert_path, InvalidKeyPair::CertificateNotRsa);
            }
            if let Some(value) = cx.secret(place.private_key(), &d.private_key, true) {
                match PrivateKeyPem::parse(value.expose()) {
                    Err(e) => cx.add(place.private_key().path(), e),
                    Ok(key) => {
                        if let Some(c) = cert.as_ref().filter(|c| c.is_rsa())
                            && !key.matches(c)
                        {
                            cx.add(place.private_key().path(), InvalidKeyPair::Mismatch);
                        }
                    }
                }
            }
            cert.map(|c| OAuthFlow::ClientCredentials(ClientCredential::Certificate(c)))
        }
        FlowDraft::AuthorizationCode { redirect_url } => {
            let url = cx.required(p(OAuthField::RedirectUrl), redirect_url, HttpsUrl::parse);
            cx.secret(
                place.client_secret(),
                &d.client_secret,
                d.preset == OAuthPreset::Google,
            );
            cx.secret(place.refresh_token(), &d.refresh_token, false);
            url.map(|redirect_url| OAuthFlow::AuthorizationCode { redirect_url })
        }
    };

    let derived_token = d
        .preset
        .token_url(authority.unwrap_or_default(), tenant_id.as_ref());
    let token_url = resolve_url(
        cx,
        p(OAuthField::TokenUrl),
        d.preset,
        d.token_url.as_deref(),
        derived_token,
        true,
    );
    let authorize_url = match flow_kind {
        FlowKind::AuthorizationCode => {
            let derived = d
                .preset
                .authorize_url(authority.unwrap_or_default(), tenant_id.as_ref());
            resolve_url(
                cx,
                p(OAuthField::AuthorizeUrl),
                d.preset,
                d.authorize_url.as_deref(),
                derived,
                true,
            )
            .map(Some)
        }
        // Not used by this flow: accepted (custom) or ignored (presets) so switching flows back
        // and forth in a form loses nothing.
        FlowKind::ClientCredentials => match d.preset {
            OAuthPreset::Custom => cx.optional(
                p(OAuthField::AuthorizeUrl),
                &d.authorize_url,
                HttpsUrl::parse,
            ),
            _ => Some(None),
        },
    };

    let cloud = graph_cloud.unwrap_or_else(|| authority.map_or(Cloud::Global, Authority::cloud));
    let scopes = match d.scopes.as_deref().filter(|s| !is_blank(s)) {
        Some(s) => cx
            .check(p(OAuthField::Scopes), Scopes::parse(s))
            .map(|s| (s, true)),
        None => match d.preset.default_scopes(transport, flow_kind, cloud) {
            Some(s) => Some((s, false)),
            None => {
                // Presets without defaults here are unsupported combinations, already reported.
                if d.preset == OAuthPreset::Custom {
                    cx.add(p(OAuthField::Scopes), InvalidProfile::Required);
                }
                None
            }
        },
    };

    let secret_expires_on = cx.optional(
        p(OAuthField::SecretExpiresOn),
        &d.secret_expires_on,
        Date::parse,
    );
    let (scopes, scopes_entered) = scopes?;
    Some(OAuthSettings {
        preset: d.preset,
        authority,
        tenant_id: if microsoft { Some(tenant_id?) } else { None },
        client_id: client_id?,
        flow: flow?,
        token_url: token_url?,
        authorize_url: authorize_url?,
        scopes,
        scopes_entered,
        secret_expires_on: secret_expires_on?,
    })
}

/// Custom presets need the URL; presets derive it and only accept an identical entry.
fn resolve_url(
    cx: &mut Ctx,
    path: &str,
    preset: OAuthPreset,
    entered: Option<&str>,
    derived: Option<HttpsUrl>,
    required: bool,
) -> Option<HttpsUrl> {
    let entered = entered.filter(|s| !is_blank(s));
    if preset == OAuthPreset::Custom {
        return match entered {
            Some(s) => cx.check(path, HttpsUrl::parse(s)),
            None if required => {
                cx.add(path, InvalidProfile::Required);
                None
            }
            None => None,
        };
    }
    // `derived` is None when the tenant is invalid, which is reported on the tenant already.
    let derived = derived?;
    if let Some(s) = entered {
        match HttpsUrl::parse(s) {
            Ok(url) if url == derived => {}
            _ => cx.add(path, InvalidProfile::DerivedFromPreset(derived.to_string())),
        }
    }
    Some(derived)
}

fn parse_microsoft_guid(s: &str, hint: &'static str) -> Result<Guid, FieldError> {
    Guid::parse(s).map_err(|e| match e {
        InvalidGuid::Format | InvalidGuid::NotHex(_) => InvalidProfile::NotAGuid(hint).into(),
        other => other.into(),
    })
}

fn validate_sender(cx: &mut Ctx, d: &SenderDraft, charset: Charset) -> Option<Sender> {
    let address = cx.required("sender.address", &d.address, |s| Mailbox::parse(s, charset));
    let display_name = cx.optional("sender.display_name", &d.display_name, DisplayName::parse);
    if let (Some(address), Some(Some(name))) = (&address, &display_name) {
        let _ = cx.check("sender.display_name", check_display_name(address, name));
    }
    let reply_to = cx.optional("sender.reply_to", &d.reply_to, |s| {
        Mailbox::parse(s, charset)
    });
    Some(Sender {
        address: address?,
        display_name: display_name?,
        reply_to: reply_to?,
        send_as_acting_user: d.send_as_acting_user,
        template_from_overrides: d.template_from_overrides,
    })
}

fn validate_proxy<S: SecretField>(cx: &mut Ctx, d: &ProxyDraft<S>) -> Option<Proxy> {
    let host = cx.required("proxy.host", &d.host, Host::parse);
    let port = match d.port {
        None => {
            cx.add("proxy.port", InvalidProfile::Required);
            None
        }
        Some(n) => cx.check("proxy.port", Port::try_from(n)),
    };
    let username = cx.optional("proxy.username", &d.username, Username::parse);
    let has_user = matches!(username, Some(Some(_)));
    let entered = cx.secret(SecretSlot::ProxyPassword, &d.password, has_user);
    if entered.is_some() && matches!(username, Some(None)) {
        cx.add(
            "proxy.password",
            InvalidProfile::NotApplicable("a proxy password needs a user name"),
        );
    }
    Some(Proxy {
        kind: d.kind,
        host: host?,
        port: port?,
        username: username?,
    })
}

/// Catches the classic mix-ups: STARTTLS (or nothing) on 465, implicit TLS on 587 or 25. Other
/// ports (test servers, relays on odd ports) are not judged.
pub fn check_security_port(security: Security, port: Port) -> Result<(), InvalidProfile> {
    let msg = match (port.get(), security) {
        (465, Security::None | Security::Starttls) => {
            "port 465 expects implicit TLS: choose tls, or use port 587 for starttls"
        }
        (587, Security::Tls) => {
            "port 587 expects STARTTLS: choose starttls, or use port 465 for tls"
        }
        (25, Security::Tls) => {
            "port 25 does not speak implicit TLS: choose starttls or none, or use port 465 for tls"
        }
        _ => return Ok(()),
    };
    Err(InvalidProfile::SecurityPortMismatch(msg))
}

/// Which presets work with which transport: Google only with SMTP (Gmail has no EWS or Graph).
pub fn check_preset_transport(
    preset: OAuthPreset,
    transport: TransportKind,
) -> Result<(), InvalidProfile> {
    match (preset, transport) {
        (OAuthPreset::Google, TransportKind::Ews | TransportKind::Graph) => {
            Err(InvalidProfile::UnsupportedPreset(
                "the Google preset works with SMTP only; choose Microsoft 365 or custom",
            ))
        }
        _ => Ok(()),
    }
}

/// Which flows a preset supports: Google has no client-credentials grant for Gmail.
pub fn check_preset_flow(preset: OAuthPreset, flow: FlowKind) -> Result<(), InvalidProfile> {
    match (preset, flow) {
        (OAuthPreset::Google, FlowKind::ClientCredentials) => Err(InvalidProfile::UnsupportedFlow(
            "Google does not support client credentials for mail: use the authorization code flow (sign in once)",
        )),
        _ => Ok(()),
    }
}

/// The Graph endpoint and the Microsoft authority must be of the same cloud.
pub fn check_graph_cloud(
    endpoint: &GraphEndpoint,
    authority: Authority,
) -> Result<(), InvalidProfile> {
    let expected = match endpoint {
        GraphEndpoint::Custom(_) => return Ok(()),
        GraphEndpoint::Global => Authority::Public,
        GraphEndpoint::UsGov | GraphEndpoint::UsGovDod => Authority::UsGov,
        GraphEndpoint::China => Authority::China,
    };
    if authority == expected {
        return Ok(());
    }
    Err(InvalidProfile::CloudMismatch(match expected {
        Authority::Public => "the global Graph endpoint needs the public authority",
        Authority::UsGov => "US Government Graph endpoints need the us_gov authority",
        Authority::China => "the China Graph endpoint needs the china authority",
    }))
}

/// A separate display name may restate, but not contradict, a name typed with the address.
pub fn check_display_name(
    address: &Mailbox,
    display_name: &DisplayName,
) -> Result<(), InvalidProfile> {
    match address.name() {
        Some(name) if name != display_name => Err(InvalidProfile::ConflictingDisplayName),
        _ => Ok(()),
    }
}

/// The port to use: the entered one, or the default for `security`.
pub fn effective_port(
    security: Security,
    port: Option<i64>,
) -> Result<Port, crate::host::InvalidPort> {
    match port {
        None => Ok(security.default_port()),
        Some(n) => Port::try_from(n),
    }
}

//! The editor's sections for servers reached with credentials: authentication (SMTP and EWS),
//! Exchange Web Services, Microsoft Graph, and OAuth 2.0 with its consent popup.

use leptos::prelude::*;
use leptos::task::spawn_local;
use outmail_types::profile::{
    AuthDraft, Authority, BasicMechanism, CredentialDraft, EwsDraft, EwsVersion, FlowDraft,
    FlowKind, GraphDraft, GraphEndpointDraft, OAuthDraft, OAuthField, OAuthPlace, OAuthPreset,
    TransportDraft, TransportKind,
};
use outmail_types::{CertificatePem, SecretInput, SecretSlot};
use serde::Deserialize;

use super::{CheckField, Draft, Form, SecretField, TextField, some_text};
use crate::api;

pub(super) fn new_oauth() -> OAuthDraft<SecretInput> {
    OAuthDraft {
        preset: OAuthPreset::Microsoft365,
        authority: None,
        tenant_id: None,
        client_id: String::new(),
        flow: FlowDraft::ClientCredentials {
            credential: CredentialDraft::Secret,
        },
        token_url: None,
        authorize_url: None,
        scopes: None,
        client_secret: SecretInput::Clear,
        secret_expires_on: None,
        private_key: SecretInput::Clear,
        // A consent already given stays while its destination does.
        refresh_token: SecretInput::Keep,
    }
}

pub(super) fn new_ews() -> TransportDraft<SecretInput> {
    TransportDraft::Ews(EwsDraft {
        url: String::new(),
        auth: AuthDraft::Basic {
            username: String::new(),
            password: SecretInput::Clear,
            mechanism: BasicMechanism::Auto,
        },
        server_version: None,
    })
}

pub(super) fn new_graph() -> TransportDraft<SecretInput> {
    TransportDraft::Graph(GraphDraft {
        endpoint: GraphEndpointDraft::Global,
        oauth: new_oauth(),
        save_to_sent_items: true,
    })
}

/// After a change that moves the default scopes (preset, flow, cloud, transport): the scopes
/// field follows while it still holds the old defaults (or nothing); scopes the admin typed
/// stay.
pub(super) fn prefill_scopes(draft: &mut Draft, old_default: Option<String>) {
    let new_default = draft.default_scopes();
    if let Some(oauth) = draft.oauth_mut()
        && (oauth.scopes.is_none() || oauth.scopes == old_default)
    {
        oauth.scopes = new_default;
    }
}

/// Applies `change` and keeps prefilled scopes in step with it.
fn edit_oauth(form: Form, change: impl FnOnce(&mut OAuthDraft<SecretInput>)) {
    form.edit(|d| {
        let old_default = d.default_scopes();
        if let Some(oauth) = d.oauth_mut() {
            change(oauth);
        }
        prefill_scopes(d, old_default);
    });
}

fn auth(d: &Draft) -> Option<&AuthDraft<SecretInput>> {
    match &d.transport {
        TransportDraft::Smtp(s) => Some(&s.auth),
        TransportDraft::Ews(e) => Some(&e.auth),
        _ => None,
    }
}

fn auth_mut(d: &mut Draft) -> Option<&mut AuthDraft<SecretInput>> {
    match &mut d.transport {
        TransportDraft::Smtp(s) => Some(&mut s.auth),
        TransportDraft::Ews(e) => Some(&mut e.auth),
        _ => None,
    }
}

fn ews(d: &Draft) -> Option<&EwsDraft<SecretInput>> {
    match &d.transport {
        TransportDraft::Ews(e) => Some(e),
        _ => None,
    }
}

fn graph(d: &Draft) -> Option<&GraphDraft<SecretInput>> {
    match &d.transport {
        TransportDraft::Graph(g) => Some(g),
        _ => None,
    }
}

#[component]
pub(super) fn EwsSection(form: Form, kind: Memo<TransportKind>) -> AnyView {
    view! {
        <Show when=move || kind.get() == TransportKind::Ews>
            <fieldset>
                <legend>"Exchange Web Services"</legend>
                <TextField form path="transport.url" label="EWS URL" required=true
                    placeholder="https://mail.example.com/EWS/Exchange.asmx"
                    get=|d| ews(d).map(|e| e.url.clone()).unwrap_or_default()
                    set=|d, v| if let TransportDraft::Ews(e) = &mut d.transport { e.url = v.trim().to_owned() }
                    hint="The https:// address of Exchange.asmx." />
                <div class="field">
                    <label for="f-transport-server_version">"Exchange version"</label>
                    <select
                        id="f-transport-server_version"
                        prop:value=move || form.draft.with(|d| ews(d).map(|e| e.server_version.unwrap_or_default().as_str()).unwrap_or_default())
                        on:change=move |e| {
                            let chosen = EwsVersion::ALL.into_iter().find(|v| v.as_str() == event_target_value(&e));
                            form.edit(|d| if let TransportDraft::Ews(e) = &mut d.transport { e.server_version = chosen });
                        }
                    >
                        {EwsVersion::ALL.into_iter().map(|v| view! { <option value=v.as_str()>{v.as_str()}</option> }).collect_view()}
                    </select>
                </div>
            </fieldset>
        </Show>
    }
    .into_any()
}

#[component]
pub(super) fn GraphSection(form: Form, kind: Memo<TransportKind>) -> AnyView {
    let endpoint = Memo::new(move |_| {
        form.draft.with(|d| match graph(d).map(|g| &g.endpoint) {
            Some(GraphEndpointDraft::Global) | None => "global",
            Some(GraphEndpointDraft::UsGov) => "us_gov",
            Some(GraphEndpointDraft::UsGovDod) => "us_gov_dod",
            Some(GraphEndpointDraft::China) => "china",
            Some(GraphEndpointDraft::Custom { .. }) => "custom",
        })
    });
    view! {
        <Show when=move || kind.get() == TransportKind::Graph>
            <fieldset>
                <legend>"Microsoft Graph"</legend>
                <div class="field">
                    <label for="f-transport-endpoint">"Cloud"</label>
                    <select
                        id="f-transport-endpoint"
                        prop:value=move || endpoint.get()
                        on:change=move |e| {
                            let chosen = match event_target_value(&e).as_str() {
                                "us_gov" => GraphEndpointDraft::UsGov,
                                "us_gov_dod" => GraphEndpointDraft::UsGovDod,
                                "china" => GraphEndpointDraft::China,
                                "custom" => GraphEndpointDraft::Custom { url: String::new() },
                                _ => GraphEndpointDraft::Global,
                            };
                            form.edit(|d| {
                                let old_default = d.default_scopes();
                                // A national cloud only takes tokens from its own sign-in host.
                                if let Some(o) = d.oauth_mut()
                                    && o.preset == OAuthPreset::Microsoft365
                                    && !matches!(chosen, GraphEndpointDraft::Custom { .. })
                                {
                                    o.authority = Some(chosen.cloud().authority());
                                }
                                if let TransportDraft::Graph(g) = &mut d.transport { g.endpoint = chosen }
                                prefill_scopes(d, old_default);
                            });
                        }
                    >
                        <option value="global">"Global (graph.microsoft.com)"</option>
                        <option value="us_gov">"US Government L4 (graph.microsoft.us)"</option>
                        <option value="us_gov_dod">"US Government L5, DoD (dod-graph.microsoft.us)"</option>
                        <option value="china">"China, 21Vianet (microsoftgraph.chinacloudapi.cn)"</option>
                        <option value="custom">"Another address"</option>
                    </select>
                </div>
                <Show when=move || endpoint.get() == "custom">
                    <TextField form path="transport.endpoint.url" label="Graph address" required=true
                        placeholder="https://graph.example.com"
                        get=|d| match graph(d).map(|g| &g.endpoint) { Some(GraphEndpointDraft::Custom { url }) => url.clone(), _ => String::new() }
                        set=|d, v| if let TransportDraft::Graph(GraphDraft { endpoint: GraphEndpointDraft::Custom { url }, .. }) = &mut d.transport { *url = v.trim().to_owned() } />
                </Show>
                <CheckField form id="f-save-to-sent" label="Keep a copy in Sent Items"
                    get=|d| graph(d).is_some_and(|g| g.save_to_sent_items)
                    set=|d, v| if let TransportDraft::Graph(g) = &mut d.transport { g.save_to_sent_items = v } />
            </fieldset>
        </Show>
    }
    .into_any()
}

/// How SMTP and EWS sign in: none (SMTP only), a password, NTLM, or OAuth 2.0.
#[component]
pub(super) fn AuthSection(form: Form, kind: Memo<TransportKind>) -> AnyView {
    let auth_kind = Memo::new(move |_| {
        form.draft.with(|d| match auth(d) {
            Some(AuthDraft::None) => "none",
            Some(AuthDraft::Basic { .. }) => "basic",
            Some(AuthDraft::Ntlm { .. }) => "ntlm",
            Some(AuthDraft::Oauth2 { .. }) => "oauth2",
            None => "",
        })
    });
    view! {
        <Show when=move || matches!(kind.get(), TransportKind::Smtp | TransportKind::Ews)>
            <fieldset>
                <legend>"Authentication"</legend>
                <div class="field">
                    <label for="f-transport-auth">"Sign in with"</label>
                    <select
                        id="f-transport-auth"
                        prop:value=move || auth_kind.get()
                        on:change=move |e| {
                            let chosen = event_target_value(&e);
                            form.edit(|d| {
                                if let Some(auth) = auth_mut(d) {
                                    *auth = match chosen.as_str() {
                                        "none" => AuthDraft::None,
                                        "ntlm" => AuthDraft::Ntlm { username: String::new(), domain: None, workstation: None, password: SecretInput::Clear },
                                        "oauth2" => AuthDraft::Oauth2 { username: String::new(), oauth: new_oauth() },
                                        _ => AuthDraft::Basic { username: String::new(), password: SecretInput::Clear, mechanism: BasicMechanism::Auto },
                                    };
                                }
                                prefill_scopes(d, None);
                            });
                        }
                    >
                        <option value="basic">"User name and password"</option>
                        <option value="ntlm">"NTLM (Windows domain)"</option>
                        <option value="oauth2">"OAuth 2.0"</option>
                        <Show when=move || kind.get() == TransportKind::Smtp>
                            <option value="none">"Nothing (anonymous relay)"</option>
                        </Show>
                    </select>
                </div>
                <Show when=move || auth_kind.get() != "none">
                    <TextField form path="transport.auth.username" label="User name" required=true
                        get=|d| match auth(d) {
                            Some(AuthDraft::Basic { username, .. } | AuthDraft::Ntlm { username, .. } | AuthDraft::Oauth2 { username, .. }) => username.clone(),
                            _ => String::new(),
                        }
                        set=|d, v| if let Some(AuthDraft::Basic { username, .. } | AuthDraft::Ntlm { username, .. } | AuthDraft::Oauth2 { username, .. }) = auth_mut(d) { *username = v.trim().to_owned() }
                        hint="For OAuth 2.0, the mailbox the token is for." />
                </Show>
                <Show when=move || matches!(auth_kind.get(), "basic" | "ntlm")>
                    <SecretField form secret=SecretSlot::AuthPassword label="Password"
                        get=|d| match auth(d) {
                            Some(AuthDraft::Basic { password, .. } | AuthDraft::Ntlm { password, .. }) => Some(password.clone()),
                            _ => None,
                        }
                        set=|d, v| if let Some(AuthDraft::Basic { password, .. } | AuthDraft::Ntlm { password, .. }) = auth_mut(d) { *password = v } />
                </Show>
                <Show when=move || auth_kind.get() == "ntlm">
                    <TextField form path="transport.auth.domain" label="Domain" placeholder="CORP"
                        get=|d| match auth(d) { Some(AuthDraft::Ntlm { domain, .. }) => domain.clone().unwrap_or_default(), _ => String::new() }
                        set=|d, v| if let Some(AuthDraft::Ntlm { domain, .. }) = auth_mut(d) { *domain = some_text(v) } />
                    <TextField form path="transport.auth.workstation" label="Workstation"
                        get=|d| match auth(d) { Some(AuthDraft::Ntlm { workstation, .. }) => workstation.clone().unwrap_or_default(), _ => String::new() }
                        set=|d, v| if let Some(AuthDraft::Ntlm { workstation, .. }) = auth_mut(d) { *workstation = some_text(v) } />
                </Show>
            </fieldset>
        </Show>
    }
    .into_any()
}

/// What `POST /profiles/{id}/oauth/consent` answers.
#[derive(Debug, Clone, Deserialize)]
struct ConsentStart {
    authorize_url: String,
    mailbox: String,
}

/// What the consent popup's last page posts back (`public/consent-done.js`).
#[derive(Debug, Clone, Deserialize)]
struct ConsentDone {
    ok: bool,
    message: String,
}

/// OAuth 2.0 for SMTP (XOAUTH2), EWS and Graph: provider, tenant, application, the grant and
/// its credential, scopes, and for the delegated grant the consent popup.
#[component]
pub(super) fn OAuthSection(form: Form, kind: Memo<TransportKind>) -> AnyView {
    let present = Memo::new(move |_| form.draft.with(|d| d.oauth().is_some()));
    let preset = Memo::new(move |_| {
        form.draft
            .with(|d| d.oauth().map_or(OAuthPreset::Microsoft365, |o| o.preset))
    });
    let flow = Memo::new(move |_| {
        form.draft.with(|d| {
            d.oauth()
                .map_or(FlowKind::ClientCredentials, |o| o.flow.kind())
        })
    });
    let credential = Memo::new(move |_| {
        form.draft.with(|d| match d.oauth().map(|o| &o.flow) {
            Some(FlowDraft::ClientCredentials {
                credential: CredentialDraft::Certificate { .. },
            }) => "certificate",
            _ => "secret",
        })
    });
    // Where the OAuth fields and their secrets sit for this transport.
    let place = move || OAuthPlace::for_transport(kind.get());
    view! {
        <Show when=move || present.get()>
            <fieldset>
                <legend>"OAuth 2.0"</legend>
                <div class="field">
                    <label for="f-oauth-preset">"Provider"</label>
                    <select id="f-oauth-preset"
                        prop:value=move || preset.get().as_str()
                        on:change=move |e| {
                            let chosen = match event_target_value(&e).as_str() {
                                "google" => OAuthPreset::Google,
                                "custom" => OAuthPreset::Custom,
                                _ => OAuthPreset::Microsoft365,
                            };
                            edit_oauth(form, |o| {
                                o.preset = chosen;
                                // The authority and tenant are Microsoft's: hidden for other
                                // providers, so they must not linger there.
                                if chosen != OAuthPreset::Microsoft365 {
                                    o.authority = None;
                                    o.tenant_id = None;
                                }
                            });
                        }>
                        <option value="microsoft365">"Microsoft 365 (Entra ID)"</option>
                        <option value="google">"Google"</option>
                        <option value="custom">"Another provider"</option>
                    </select>
                </div>
                <Show when=move || preset.get() == OAuthPreset::Microsoft365>
                    <div class="field">
                        <label for="f-oauth-authority">"Authority host"</label>
                        <select id="f-oauth-authority"
                            prop:value=move || form.draft.with(|d| d.oauth().and_then(|o| o.authority).unwrap_or_default().as_str())
                            on:change=move |e| {
                                let chosen = match event_target_value(&e).as_str() {
                                    "us_gov" => Authority::UsGov,
                                    "china" => Authority::China,
                                    _ => Authority::Public,
                                };
                                edit_oauth(form, |o| o.authority = Some(chosen));
                            }>
                            <option value="public">"login.microsoftonline.com (global)"</option>
                            <option value="us_gov">"login.microsoftonline.us (US Government)"</option>
                            <option value="china">"login.chinacloudapi.cn (China, 21Vianet)"</option>
                        </select>
                    </div>
                    {move || {
                        let path = place().path(OAuthField::TenantId);
                        view! {
                            <TextField form path label="Directory (tenant) ID" required=true
                                placeholder="00000000-0000-0000-0000-000000000000"
                                get=|d| d.oauth().and_then(|o| o.tenant_id.clone()).unwrap_or_default()
                                set=|d, v| if let Some(o) = d.oauth_mut() { o.tenant_id = some_text(v) } />
                        }
                    }}
                </Show>
                {move || {
                    let path = place().path(OAuthField::ClientId);
                    view! {
                        <TextField form path label="Application (client) ID" required=true
                            get=|d| d.oauth().map(|o| o.client_id.clone()).unwrap_or_default()
                            set=|d, v| if let Some(o) = d.oauth_mut() { o.client_id = v.trim().to_owned() } />
                    }
                }}
                <Show when=move || preset.get() == OAuthPreset::Custom>
                    {move || {
                        let path = place().path(OAuthField::TokenUrl);
                        view! {
                            <TextField form path label="Token URL" required=true placeholder="https://login.example.com/oauth2/token"
                                get=|d| d.oauth().and_then(|o| o.token_url.clone()).unwrap_or_default()
                                set=|d, v| if let Some(o) = d.oauth_mut() { o.token_url = some_text(v) } />
                        }
                    }}
                </Show>
                <div class="field">
                    <label for="f-oauth-flow">"Grant"</label>
                    <select id="f-oauth-flow"
                        prop:value=move || match flow.get() { FlowKind::ClientCredentials => "client_credentials", FlowKind::AuthorizationCode => "authorization_code" }
                        on:change=move |e| {
                            let origin = window().location().origin().unwrap_or_default();
                            let chosen = match event_target_value(&e).as_str() {
                                "authorization_code" => FlowDraft::AuthorizationCode { redirect_url: format!("{origin}/oauth/callback") },
                                _ => FlowDraft::ClientCredentials { credential: CredentialDraft::Secret },
                            };
                            edit_oauth(form, |o| o.flow = chosen);
                        }>
                        <option value="client_credentials">"Application permission (client credentials)"</option>
                        <option value="authorization_code">"Delegated: an admin signs in once (authorization code)"</option>
                    </select>
                </div>
                <Show when=move || flow.get() == FlowKind::ClientCredentials>
                    <div class="field">
                        <label for="f-oauth-credential">"The application proves itself with"</label>
                        <select id="f-oauth-credential"
                            prop:value=move || credential.get()
                            on:change=move |e| {
                                let chosen = match event_target_value(&e).as_str() {
                                    "certificate" => CredentialDraft::Certificate { certificate: String::new() },
                                    _ => CredentialDraft::Secret,
                                };
                                edit_oauth(form, |o| o.flow = FlowDraft::ClientCredentials { credential: chosen });
                            }>
                            <option value="secret">"A client secret"</option>
                            <option value="certificate">"A certificate"</option>
                        </select>
                    </div>
                    <Show when=move || credential.get() == "secret">
                        {move || view! {
                            <SecretField form secret=place().client_secret() label="Client secret"
                                get=|d| d.oauth().map(|o| o.client_secret.clone())
                                set=|d, v| if let Some(o) = d.oauth_mut() { o.client_secret = v } />
                            <TextField form path=place().path(OAuthField::SecretExpiresOn) label="Secret expires on" placeholder="2027-03-31"
                                get=|d| d.oauth().and_then(|o| o.secret_expires_on.clone()).unwrap_or_default()
                                set=|d, v| if let Some(o) = d.oauth_mut() { o.secret_expires_on = some_text(v) }
                                hint="As the app registration shows it: the test send warns 30 days ahead." />
                        }}
                    </Show>
                    <Show when=move || credential.get() == "certificate">
                        {move || view! { <CertificateField form path=place().path(OAuthField::Certificate) /> }}
                        {move || view! {
                            <SecretField form secret=place().private_key() label="Private key (PEM)" multiline=true
                                get=|d| d.oauth().map(|o| o.private_key.clone())
                                set=|d, v| if let Some(o) = d.oauth_mut() { o.private_key = v } />
                        }}
                    </Show>
                </Show>
                <Show when=move || flow.get() == FlowKind::AuthorizationCode>
                    <Show when=move || preset.get() == OAuthPreset::Custom>
                        {move || {
                            let path = place().path(OAuthField::AuthorizeUrl);
                            view! {
                                <TextField form path label="Authorization URL" required=true
                                    get=|d| d.oauth().and_then(|o| o.authorize_url.clone()).unwrap_or_default()
                                    set=|d, v| if let Some(o) = d.oauth_mut() { o.authorize_url = some_text(v) } />
                            }
                        }}
                    </Show>
                    {move || {
                        let path = place().path(OAuthField::RedirectUrl);
                        view! { <RedirectField form path /> }
                    }}
                    <Consent form place=place() />
                </Show>
                {move || {
                    let path = place().path(OAuthField::Scopes);
                    view! {
                        <TextField form path label="Scopes"
                            get=|d| d.oauth().and_then(|o| o.scopes.clone()).unwrap_or_default()
                            set=|d, v| if let Some(o) = d.oauth_mut() { o.scopes = some_text(v) }
                            hint="Space-separated; filled in for the provider and grant, and yours to change." />
                    }
                }}
            </fieldset>
        </Show>
    }
    .into_any()
}

/// The certificate for the client assertion: pasted or read from a file, shown with its subject
/// and expiry as soon as it parses.
#[component]
fn CertificateField(form: Form, path: &'static str) -> AnyView {
    let id = "f-oauth-certificate";
    let text = move || {
        form.draft.with(|d| match d.oauth().map(|o| &o.flow) {
            Some(FlowDraft::ClientCredentials {
                credential: CredentialDraft::Certificate { certificate },
            }) => certificate.clone(),
            _ => String::new(),
        })
    };
    let set = move |pem: String| {
        form.edit(|d| {
            if let Some(OAuthDraft {
                flow:
                    FlowDraft::ClientCredentials {
                        credential: CredentialDraft::Certificate { certificate },
                    },
                ..
            }) = d.oauth_mut()
            {
                *certificate = pem;
            }
        })
    };
    let summary = move || {
        let pem = text();
        (!pem.trim().is_empty()).then(|| match CertificatePem::parse(&pem) {
            Ok(cert) => format!(
                "Subject: {} · expires {}",
                cert.subject(),
                outmail_types::date::format_unix_ms(cert.not_after().saturating_mul(1000))
            ),
            Err(_) => String::new(),
        })
    };
    let message = Memo::new(move |_| form.message(path));
    let on_file = move |event: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            let file = event
                .target()
                .and_then(|t| t.dyn_into::<leptos::web_sys::HtmlInputElement>().ok())
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            if let Some(file) = file {
                spawn_local(async move {
                    if let Ok(text) = wasm_bindgen_futures::JsFuture::from(file.text()).await
                        && let Some(text) = text.as_string()
                    {
                        set(text);
                    }
                });
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };
    view! {
        <div class="field required" class:blamed=move || form.blamed.with(|b| b.as_ref().is_some_and(|(p, _)| p == path))>
            <label for=id>"Certificate (PEM)"<span class="required-mark" aria-hidden="true">" *"</span></label>
            <textarea id=id rows="4" spellcheck="false"
                placeholder="-----BEGIN CERTIFICATE-----"
                aria-invalid=move || message.get().is_some().to_string()
                aria-describedby="f-oauth-certificate-summary f-oauth-certificate-error"
                prop:value=text
                on:input=move |e| set(event_target_value(&e))
                on:blur=move |_| form.touched.update(|t| { t.insert(path); })
            ></textarea>
            <label class="file">
                "Or read it from a file: "
                <input type="file" accept=".pem,.crt,.cer" on:change=on_file />
            </label>
            <p class="hint" id="f-oauth-certificate-summary">{summary}</p>
            <p class="field-error" id="f-oauth-certificate-error">{move || message.get()}</p>
        </div>
    }
    .into_any()
}

/// The redirect URL to register with the application, with a copy button.
#[component]
fn RedirectField(form: Form, path: &'static str) -> AnyView {
    let copied = RwSignal::new(false);
    let value = move || {
        form.draft.with(|d| match d.oauth().map(|o| &o.flow) {
            Some(FlowDraft::AuthorizationCode { redirect_url }) => redirect_url.clone(),
            _ => String::new(),
        })
    };
    let copy = move |_| {
        let text = value();
        let clipboard = window().navigator().clipboard();
        spawn_local(async move {
            let written = wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&text)).await;
            copied.set(written.is_ok());
        });
    };
    view! {
        <div class="with-action">
            <TextField form path label="Redirect URL" required=true
                get=|d| match d.oauth().map(|o| &o.flow) { Some(FlowDraft::AuthorizationCode { redirect_url }) => redirect_url.clone(), _ => String::new() }
                set=|d, v| if let Some(OAuthDraft { flow: FlowDraft::AuthorizationCode { redirect_url }, .. }) = d.oauth_mut() { *redirect_url = v.trim().to_owned() }
                hint="Register this address with the application; it must be this server's /oauth/callback." />
            <button type="button" class="small" on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </div>
    }
    .into_any()
}

/// "Sign in and consent": for a saved profile, opens the provider's sign-in in a popup and
/// shows which mailbox it connected.
#[component]
fn Consent(form: Form, place: OAuthPlace) -> AnyView {
    let token_slot = place.refresh_token();
    let connected = move || {
        form.saved
            .with(|s| s.as_ref().is_some_and(|s| s.stored.contains(&token_slot)))
    };
    let status = RwSignal::new(None::<Result<String, String>>);
    let expected_mailbox = RwSignal::new(String::new());
    // The popup's last page posts its result here (same origin only).
    let listener = window_event_listener(leptos::ev::message, move |event| {
        if event.origin() != window().location().origin().unwrap_or_default() {
            return;
        }
        let Some(done) = event
            .data()
            .as_string()
            .and_then(|text| serde_json::from_str::<ConsentDone>(&text).ok())
        else {
            return;
        };
        if done.ok {
            status.set(Some(Ok(format!(
                "Connected: {}",
                expected_mailbox.get_untracked()
            ))));
            reload_saved(form);
        } else {
            status.set(Some(Err(done.message)));
        }
    });
    on_cleanup(move || listener.remove());
    let start = move |_| {
        let Some(id) = form
            .saved
            .with_untracked(|s| s.as_ref().map(|s| s.id.clone()))
        else {
            return;
        };
        // Opened now, within the click, so the browser allows it; pointed at the provider once
        // the server answers.
        let popup = window()
            .open_with_url_and_target_and_features(
                "about:blank",
                "outmail-consent",
                "popup,width=520,height=680",
            )
            .ok()
            .flatten();
        spawn_local(async move {
            match api::post::<_, ConsentStart>(
                &format!("/profiles/{id}/oauth/consent"),
                &api::Empty {},
            )
            .await
            {
                Ok(start) => {
                    expected_mailbox.set(start.mailbox.clone());
                    status.set(Some(Ok(format!("Signing in as {}…", start.mailbox))));
                    match popup {
                        Some(popup) => {
                            let _ = popup.location().set_href(&start.authorize_url);
                        }
                        None => status.set(Some(Err(
                            "The browser blocked the sign-in window: allow pop-ups for this site."
                                .to_owned(),
                        ))),
                    }
                }
                Err(problem) => {
                    if let Some(popup) = popup {
                        let _ = popup.close();
                    }
                    status.set(Some(Err(problem.error.message)));
                }
            }
        });
    };
    view! {
        <div class="field consent">
            <p class="secret-state">{move || if connected() { "Signed in: the refresh token is stored." } else { "Not signed in yet." }}</p>
            <button type="button" on:click=start disabled=move || form.saved.with(Option::is_none) || form.changed()>
                "Sign in and consent"
            </button>
            <p class="hint">
                {move || if form.saved.with(Option::is_none) || form.changed() { "Save the profile first: the sign-in is for its saved settings." } else { "Opens the provider's sign-in in a small window." }}
            </p>
            <p role="status" class=move || match status.get() { Some(Err(_)) => "field-error", _ => "hint" }>
                {move || status.get().map(|s| s.unwrap_or_else(|e| e))}
            </p>
        </div>
    }
    .into_any()
}

/// Loads the saved profile again (a consent stored a refresh token and raised the version).
fn reload_saved(form: Form) {
    let Some(id) = form
        .saved
        .with_untracked(|s| s.as_ref().map(|s| s.id.clone()))
    else {
        return;
    };
    spawn_local(async move {
        if let Ok(api::Tagged { body, etag }) =
            api::get_tagged::<outmail_types::ProfileView>(&format!("/profiles/{id}")).await
            && let Ok(saved) = super::Saved::from_view(body, etag)
        {
            form.draft.set(saved.draft.clone());
            form.saved.set(Some(saved));
        }
    });
}

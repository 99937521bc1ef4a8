//! The profile editor: a new profile (`/profiles/new`) or a saved one (`/profiles/{id}`).
//!
//! The form edits a [`ProfileDraft`] in place and validates it on every change with the same
//! `outmail-types` code the server runs, including the rule that a secret must be entered again
//! when the server it goes to changes. A field's message shows once the field was left (or after
//! a save attempt); the server's own field errors, and the field a test send blames, land on the
//! same fields. Saving sends the version it was loaded at; a newer version is shown, not
//! overwritten.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use outmail_types::diagnosis::{Direction, Outcome, StageResult, StageStatus, TestReport};
use outmail_types::profile::{
    AuthDraft, BasicMechanism, LocalDraft, ProxyDraft, ProxyKind, SenderDraft, SmtpDraft,
    StoredProfile, TransportDraft, TransportKind, secret_reuse_errors,
};
use outmail_types::settings::Page;
use outmail_types::{
    ApiError, FieldErrors, ProfileDraft, ProfileSpec, ProfileSummary, ProfileView, SecretInput,
    SecretSlot, Security,
};
use serde::Serialize;

use crate::api::{self, Problem, Tagged};

mod remote;
use crate::components::{
    Loading, Notice, ProblemNotice, ReadOnlyNotice, ShowNotice, can_change, dialog_keys,
};

type Draft = ProfileDraft<SecretInput>;

/// The saved profile the form started from: what "unchanged" means, which secrets are stored,
/// and the version a save must name.
#[derive(Debug, Clone, PartialEq)]
struct Saved {
    id: String,
    etag: String,
    draft: Draft,
    spec: Option<ProfileSpec>,
    stored: BTreeSet<SecretSlot>,
}

impl Saved {
    /// The saved profile as the form edits it; a profile the form cannot read is a problem to
    /// show, never a blank form whose save would overwrite it.
    fn from_view(view: ProfileView, etag: Option<String>) -> Result<Self, Problem> {
        let stored = view
            .secrets
            .iter()
            .filter(|s| s.set)
            .map(|s| s.slot)
            .collect();
        let draft = editable(serde_json::to_value(&view.profile).unwrap_or_default())?;
        Ok(Self {
            id: view.id.to_string(),
            etag: etag.unwrap_or_else(|| format!("\"{}\"", view.version)),
            spec: draft.validate().ok(),
            draft,
            stored,
        })
    }
}

/// A saved profile's document as a draft. `{"set": true}` reads back as "keep": the draft a GET
/// returns is a valid PUT body.
fn editable(profile: serde_json::Value) -> Result<Draft, Problem> {
    serde_json::from_value(profile).map_err(|error| Problem {
        status: 200,
        error: ApiError::new(
            "unreadable_profile",
            format!(
                "This profile cannot be edited here ({error}). Nothing was changed; reload the \
                 page, or update outmail if the profile was saved by a newer version."
            ),
        ),
    })
}

/// A new SMTP profile: STARTTLS on the submission port, signing in with a password.
fn new_draft() -> Draft {
    ProfileDraft {
        name: String::new(),
        description: None,
        transport: TransportDraft::Smtp(SmtpDraft {
            host: String::new(),
            port: None,
            security: Security::Starttls,
            ca_certificate: None,
            ehlo_name: None,
            auth: AuthDraft::Basic {
                username: String::new(),
                password: SecretInput::Clear,
                mechanism: BasicMechanism::Auto,
            },
        }),
        sender: SenderDraft::default(),
        signature: None,
        send_frequency: None,
        alternate_profile_id: None,
        proxy: None,
        utf8_headers: false,
    }
}

/// Every error of the draft as the server would see it: the fields, then the secrets that must
/// be entered again.
fn check(draft: &Draft, saved: Option<&Saved>) -> FieldErrors {
    match draft.validate() {
        Err(errors) => errors,
        Ok(spec) => {
            let old = saved.and_then(|s| {
                s.spec.as_ref().map(|spec| StoredProfile {
                    spec,
                    secrets: &s.stored,
                })
            });
            secret_reuse_errors(old, &spec, &draft.secret_inputs())
        }
    }
}

fn smtp(draft: &Draft) -> Option<&SmtpDraft<SecretInput>> {
    match &draft.transport {
        TransportDraft::Smtp(smtp) => Some(smtp),
        _ => None,
    }
}

fn smtp_mut(draft: &mut Draft) -> Option<&mut SmtpDraft<SecretInput>> {
    match &mut draft.transport {
        TransportDraft::Smtp(smtp) => Some(smtp),
        _ => None,
    }
}

fn some_text(text: String) -> Option<String> {
    Some(text).filter(|t| !t.trim().is_empty())
}

/// The form's shared state, handed to every field.
#[derive(Clone, Copy)]
struct Form {
    draft: RwSignal<Draft>,
    saved: RwSignal<Option<Saved>>,
    errors: Memo<FieldErrors>,
    /// Fields the admin has left at least once.
    touched: RwSignal<BTreeSet<&'static str>>,
    /// A save was attempted: every message shows.
    submitted: RwSignal<bool>,
    /// The server's field errors from the last save, until the next change.
    server_errors: RwSignal<FieldErrors>,
    /// The field a failed test send blames, and why.
    blamed: RwSignal<Option<(String, String)>>,
}

impl Form {
    fn new(saved: Option<Saved>) -> Self {
        let draft = RwSignal::new(saved.as_ref().map_or_else(new_draft, |s| s.draft.clone()));
        let saved = RwSignal::new(saved);
        let errors = Memo::new(move |_| draft.with(|d| saved.with(|s| check(d, s.as_ref()))));
        Self {
            draft,
            saved,
            errors,
            touched: RwSignal::new(BTreeSet::new()),
            submitted: RwSignal::new(false),
            server_errors: RwSignal::new(FieldErrors::new()),
            blamed: RwSignal::new(None),
        }
    }

    fn edit(self, change: impl FnOnce(&mut Draft)) {
        self.draft.update(change);
        self.server_errors.set(FieldErrors::new());
        self.blamed.set(None);
    }

    /// The message to show under `path`, if any.
    fn message(self, path: &'static str) -> Option<String> {
        let shown = self.submitted.get() || self.touched.with(|t| t.contains(path));
        // A secret to enter again is caused by another field's change: say so at once, or Save
        // would be off with no reason in sight.
        let local = self
            .errors
            .with(|e| e.get(path).first().cloned())
            .filter(|e| shown || e.code == "destination_changed")
            .map(|e| e.message);
        let server = self
            .server_errors
            .with(|e| e.get(path).first().map(|e| e.message.clone()));
        let blamed = self.blamed.with(|b| {
            b.as_ref()
                .filter(|(p, _)| p == path)
                .map(|(_, m)| m.clone())
        });
        local.or(server).or(blamed)
    }

    fn changed(self) -> bool {
        self.draft.with(|d| {
            self.saved.with(|s| {
                s.as_ref()
                    .map_or_else(|| *d != new_draft(), |s| s.draft != *d)
            })
        })
    }
}

fn field_id(path: &str) -> String {
    format!("f-{}", path.replace('.', "-"))
}

/// A labelled one-line text input bound to the draft through `get` and `set`.
#[component]
fn TextField(
    form: Form,
    path: &'static str,
    label: &'static str,
    get: fn(&Draft) -> String,
    set: fn(&mut Draft, String),
    #[prop(optional)] required: bool,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] input_type: Option<&'static str>,
) -> AnyView {
    let id = field_id(path);
    let (hint_id, error_id) = (format!("{id}-hint"), format!("{id}-error"));
    let described = format!("{hint_id} {error_id}");
    let message = Memo::new(move |_| form.message(path));
    view! {
        <div class="field" class:required=required class:blamed=move || form.blamed.with(|b| b.as_ref().is_some_and(|(p, _)| p == path))>
            <label for=id.clone()>{label}{required.then_some(view! { <span class="required-mark" aria-hidden="true">" *"</span> })}</label>
            <input
                id=id.clone()
                type=input_type.unwrap_or("text")
                autocomplete="off"
                spellcheck="false"
                placeholder=placeholder
                aria-required=required.to_string()
                aria-invalid=move || message.get().is_some().to_string()
                aria-describedby=described
                prop:value=move || form.draft.with(get)
                on:input=move |e| {
                    let text = event_target_value(&e);
                    form.edit(|d| set(d, text));
                }
                on:blur=move |_| form.touched.update(|t| { t.insert(path); })
            />
            <p class="hint" id=hint_id>{hint}</p>
            <p class="field-error" id=error_id>{move || message.get()}</p>
        </div>
    }
    .into_any()
}

/// A secret: shown only as set or not set, never prefilled. Replace opens an input; Clear
/// forgets it on save.
#[component]
fn SecretField(
    form: Form,
    secret: SecretSlot,
    label: &'static str,
    get: fn(&Draft) -> Option<SecretInput>,
    set: fn(&mut Draft, SecretInput),
    /// A PEM private key: a text area, so its lines survive.
    #[prop(optional)]
    multiline: bool,
) -> AnyView {
    let path = secret.path();
    let id = field_id(path);
    let (state_id, error_id) = (format!("{id}-state"), format!("{id}-error"));
    let described = format!("{state_id} {error_id}");
    // The text area's copies: each `Show` below owns its own.
    let (area_id, area_described) = (id.clone(), described.clone());
    let message = Memo::new(move |_| form.message(path));
    let stored = move || {
        form.saved
            .with(|s| s.as_ref().is_some_and(|s| s.stored.contains(&secret)))
    };
    let input = move || form.draft.with(get).unwrap_or_default();
    let replacing = move || matches!(input(), SecretInput::Replace(_));
    let state = move || match input() {
        SecretInput::Replace(_) => "New value entered",
        SecretInput::Clear if stored() => "Will be cleared on save",
        SecretInput::Keep if stored() => "Set",
        _ => "Not set",
    };
    view! {
        <div class="field secret required" class:blamed=move || form.blamed.with(|b| b.as_ref().is_some_and(|(p, _)| p == path))>
            <label for=id.clone()>{label}<span class="required-mark" aria-hidden="true">" *"</span></label>
            <div class="secret-row">
                <span class="secret-state" id=state_id>{state}</span>
                <Show when=move || !replacing()>
                    <button type="button" class="small" on:click=move |_| form.edit(|d| set(d, SecretInput::replace("")))>
                        {move || if stored() { "Replace" } else { "Enter" }}
                    </button>
                </Show>
                <Show when=move || stored() && !matches!(input(), SecretInput::Clear)>
                    <button type="button" class="small danger" on:click=move |_| form.edit(|d| set(d, SecretInput::Clear))>
                        "Clear"
                    </button>
                </Show>
                <Show when=move || stored() && !matches!(input(), SecretInput::Keep)>
                    <button type="button" class="small" on:click=move |_| form.edit(|d| set(d, SecretInput::Keep))>
                        "Keep the stored one"
                    </button>
                </Show>
            </div>
            <Show when=move || replacing() && !multiline>
                <input
                    id=id.clone()
                    type="password"
                    autocomplete="new-password"
                    aria-invalid=move || message.get().is_some().to_string()
                    aria-describedby=described.clone()
                    on:input=move |e| {
                        let text = event_target_value(&e);
                        form.edit(|d| set(d, SecretInput::replace(text)));
                    }
                    on:blur=move |_| form.touched.update(|t| { t.insert(path); })
                />
            </Show>
            <Show when=move || replacing() && multiline>
                <textarea
                    id=area_id.clone()
                    rows="4"
                    spellcheck="false"
                    autocomplete="off"
                    class="secret-text"
                    aria-invalid=move || message.get().is_some().to_string()
                    aria-describedby=area_described.clone()
                    on:input=move |e| {
                        let text = event_target_value(&e);
                        form.edit(|d| set(d, SecretInput::replace(text)));
                    }
                    on:blur=move |_| form.touched.update(|t| { t.insert(path); })
                ></textarea>
            </Show>
            <p class="field-error" id=error_id>{move || message.get()}</p>
        </div>
    }
    .into_any()
}

/// A labelled checkbox.
#[component]
fn CheckField(
    form: Form,
    id: &'static str,
    label: &'static str,
    get: fn(&Draft) -> bool,
    set: fn(&mut Draft, bool),
    #[prop(optional)] hint: &'static str,
) -> AnyView {
    view! {
        <div class="field check">
            <input
                id=id
                type="checkbox"
                prop:checked=move || form.draft.with(get)
                on:change=move |e| {
                    let on = event_target_checked(&e);
                    form.edit(|d| set(d, on));
                }
            />
            <label for=id>{label}</label>
            <p class="hint">{hint}</p>
        </div>
    }
    .into_any()
}

#[component]
pub fn NewProfile() -> AnyView {
    view! { <Editor id=None /> }.into_any()
}

#[component]
pub fn EditProfile() -> AnyView {
    let params = use_params_map();
    view! {
        {move || {
            let id = params.read().get("id").unwrap_or_default();
            view! { <Editor id=Some(id) /> }
        }}
    }
    .into_any()
}

#[component]
fn Editor(id: Option<String>) -> AnyView {
    let title = if id.is_some() {
        "Edit profile"
    } else {
        "New profile"
    };
    let loaded = LocalResource::new(move || {
        let id = id.clone();
        async move {
            let saved = match id {
                Some(id) => {
                    let Tagged { body, etag } =
                        api::get_tagged::<ProfileView>(&format!("/profiles/{id}")).await?;
                    Some(Saved::from_view(body, etag)?)
                }
                None => None,
            };
            let others = api::get::<Page<ProfileSummary>>("/profiles?per_page=200").await?;
            Ok::<_, Problem>((saved, others.items))
        }
    });
    view! {
        <Title text=title />
        <p class="breadcrumb"><a href="/">"Profiles"</a></p>
        <h1>{title}</h1>
        <ReadOnlyNotice />
        <Suspense fallback=|| view! { <Loading what="the profile" /> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok((saved, others)) => view! { <ProfileForm saved others /> }.into_any(),
                    Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// Puts `path` in the address bar without leaving the page: a profile just created stays in
/// the form it was created in (with its "Saved." notice), and a reload opens it by its ID.
fn show_address(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Ok(history) = window().history() {
        let _ =
            history.replace_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(path));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// What `POST /profiles/test` takes.
#[derive(Serialize)]
struct DraftTest<'a> {
    profile: &'a Draft,
    profile_id: Option<String>,
    to: String,
    dry_run: bool,
}

#[component]
fn ProfileForm(saved: Option<Saved>, others: Vec<ProfileSummary>) -> AnyView {
    let own_id = saved.as_ref().map(|s| s.id.clone());
    let form = Form::new(saved);
    let outcome: Notice = RwSignal::new(None);
    let conflict = RwSignal::new(None::<Saved>);
    let saving = RwSignal::new(false);
    let invalid = Memo::new(move |_| !form.errors.with(FieldErrors::is_empty));
    let changed = Memo::new(move |_| form.changed());
    let can = can_change();

    // Leaving the page with unsaved changes asks first.
    let guard = window_event_listener(leptos::ev::beforeunload, move |event| {
        if changed.get_untracked() {
            event.prevent_default();
            event.set_return_value("unsaved changes");
        }
    });
    on_cleanup(move || guard.remove());
    // Links inside the app ask too (see `UnsavedChanges`).
    if let Some(unsaved) = use_context::<crate::UnsavedChanges>() {
        Effect::new(move |_| unsaved.0.set(changed.get()));
        on_cleanup(move || unsaved.0.set(false));
    }

    let save = move |etag: Option<String>| {
        let draft = form.draft.get_untracked();
        let id = form
            .saved
            .with_untracked(|s| s.as_ref().map(|s| s.id.clone()));
        saving.set(true);
        spawn_local(async move {
            let answer = match (&id, etag) {
                (Some(id), Some(etag)) => {
                    api::put::<_, ProfileView>(&format!("/profiles/{id}"), &etag, &draft).await
                }
                _ => api::post_tagged::<_, ProfileView>("/profiles", &draft).await,
            };
            saving.set(false);
            match answer.and_then(|Tagged { body, etag }| Saved::from_view(body, etag)) {
                Ok(now) => {
                    let created = id.is_none();
                    let path = format!("/profiles/{}", now.id);
                    form.draft.set(now.draft.clone());
                    form.saved.set(Some(now));
                    form.server_errors.set(FieldErrors::new());
                    form.submitted.set(false);
                    conflict.set(None);
                    outcome.set(Some(Ok("Saved.".to_owned())));
                    if created {
                        show_address(&path);
                    }
                }
                Err(problem) if problem.status == 412 => {
                    if let Some(id) = id
                        && let Ok(Tagged { body, etag }) =
                            api::get_tagged::<ProfileView>(&format!("/profiles/{id}")).await
                        && let Ok(current) = Saved::from_view(body, etag)
                    {
                        conflict.set(Some(current));
                    }
                    outcome.set(Some(Err(problem)));
                }
                Err(problem) => {
                    form.server_errors.set(problem.error.fields.clone());
                    outcome.set(Some(Err(problem)));
                }
            }
        });
    };
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        form.submitted.set(true);
        if !invalid.get_untracked() {
            save(
                form.saved
                    .with_untracked(|s| s.as_ref().map(|s| s.etag.clone())),
            );
        }
    };
    let reapply = move |_| {
        if let Some(newer) = conflict.get_untracked() {
            let etag = newer.etag.clone();
            form.saved.set(Some(newer));
            save(Some(etag));
        }
    };
    let take_theirs = move |_| {
        if let Some(newer) = conflict.get_untracked() {
            form.draft.set(newer.draft.clone());
            form.saved.set(Some(newer));
            conflict.set(None);
            outcome.set(None);
        }
    };

    let alternates = others
        .into_iter()
        .filter(|p| Some(p.id.to_string()) != own_id)
        .map(|p| {
            let id = p.id.to_string();
            view! { <option value=id>{format!("{} ({})", p.name, p.target)}</option> }
        })
        .collect_view();
    let kind = Memo::new(move |_| form.draft.with(|d| d.transport.kind()));
    let proxy_kind = Memo::new(move |_| {
        form.draft
            .with(|d| d.proxy.as_ref().map_or("", |p| p.kind.as_str()))
    });

    view! {
        <form class="form editor" novalidate on:submit=on_submit>
            {view! {
            <fieldset>
                <legend>"Profile"</legend>
                <TextField form path="name" label="Name" required=true placeholder="Office relay"
                    get=|d| d.name.clone() set=|d, v| d.name = v
                    hint="Unique among profiles; shown in lists and logs." />
                <TextField form path="description" label="Description"
                    get=|d| d.description.clone().unwrap_or_default() set=|d, v| d.description = some_text(v) />
                <div class="field">
                    <label for="f-transport-kind">"Transport"</label>
                    <select
                        id="f-transport-kind"
                        prop:value=move || kind.get().as_str()
                        on:change=move |e| {
                            let chosen = TransportKind::parse(&event_target_value(&e));
                            form.edit(|d| {
                                d.transport = match chosen {
                                    Some(TransportKind::Local) => TransportDraft::Local(LocalDraft { sendmail_path: None }),
                                    Some(TransportKind::Ews) => remote::new_ews(),
                                    Some(TransportKind::Graph) => remote::new_graph(),
                                    _ => new_draft().transport,
                                };
                                remote::prefill_scopes(d, None);
                            });
                        }
                    >
                        <option value="smtp">"SMTP"</option>
                        <option value="ews">"Exchange Web Services (EWS)"</option>
                        <option value="graph">"Microsoft Graph"</option>
                        <option value="local">"Local MTA (sendmail)"</option>
                    </select>
                </div>
            </fieldset>
            }
                .into_any()}
            {view! {
            <Show when=move || kind.get() == TransportKind::Smtp>
                <fieldset>
                    <legend>"SMTP server"</legend>
                    <TextField form path="transport.host" label="Server" required=true placeholder="smtp.example.com"
                        get=|d| smtp(d).map(|s| s.host.clone()).unwrap_or_default()
                        set=|d, v| if let Some(s) = smtp_mut(d) { s.host = v.trim().to_owned() } />
                    <div class="field">
                        <label for="f-transport-security">"Security"</label>
                        <select
                            id="f-transport-security"
                            prop:value=move || form.draft.with(|d| smtp(d).map(|s| s.security.as_str()).unwrap_or_default())
                            on:change=move |e| {
                                let chosen = Security::ALL.into_iter().find(|s| s.as_str() == event_target_value(&e));
                                form.edit(|d| if let (Some(s), Some(security)) = (smtp_mut(d), chosen) { s.security = security });
                            }
                        >
                            <option value="starttls">"STARTTLS (required)"</option>
                            <option value="tls">"Implicit TLS"</option>
                            <option value="none">"None (plain text)"</option>
                        </select>
                        <p class="hint">"STARTTLS is never optional: a server that does not offer it is an error, never a plain-text fallback."</p>
                    </div>
                    <TextField form path="transport.port" label="Port" input_type="number"
                        get=|d| smtp(d).and_then(|s| s.port).map(|p| p.to_string()).unwrap_or_default()
                        set=|d, v| if let Some(s) = smtp_mut(d) { s.port = v.trim().parse().ok().or(if v.trim().is_empty() { None } else { Some(0) }) }
                        hint="Empty: 587 for STARTTLS, 465 for implicit TLS, 25 for none." />
                    <TextField form path="transport.ehlo_name" label="EHLO name" placeholder="app.example.com"
                        get=|d| smtp(d).and_then(|s| s.ehlo_name.clone()).unwrap_or_default()
                        set=|d, v| if let Some(s) = smtp_mut(d) { s.ehlo_name = some_text(v) }
                        hint="The name outmail gives in EHLO; empty: this machine's name." />
                </fieldset>
            </Show>
            }
                .into_any()}
            {view! { <remote::EwsSection form kind /> }.into_any()}
            {view! { <remote::GraphSection form kind /> }.into_any()}
            {view! { <remote::AuthSection form kind /> }.into_any()}
            {view! { <remote::OAuthSection form kind /> }.into_any()}
            {view! {
            <Show when=move || kind.get() == TransportKind::Local>
                <fieldset>
                    <legend>"Local MTA"</legend>
                    <TextField form path="transport.sendmail_path" label="sendmail program" placeholder="/usr/sbin/sendmail"
                        get=|d| match &d.transport { TransportDraft::Local(l) => l.sendmail_path.clone().unwrap_or_default(), _ => String::new() }
                        set=|d, v| if let TransportDraft::Local(l) = &mut d.transport { l.sendmail_path = some_text(v) }
                        hint="Postfix, Exim, OpenSMTPD and Sendmail all install one." />
                </fieldset>
            </Show>
            }
                .into_any()}
            {view! {
            <fieldset>
                <legend>"Sender"</legend>
                <TextField form path="sender.address" label="From address" required=true placeholder="\"Example Alerts\" <alerts@example.com>"
                    get=|d| d.sender.address.clone() set=|d, v| d.sender.address = v
                    hint="An address, or a name and an address: \"Name\" <alerts@example.com>." />
                <TextField form path="sender.display_name" label="Display name"
                    get=|d| d.sender.display_name.clone().unwrap_or_default() set=|d, v| d.sender.display_name = some_text(v) />
                <TextField form path="sender.reply_to" label="Reply-To" placeholder="helpdesk@example.com"
                    get=|d| d.sender.reply_to.clone().unwrap_or_default() set=|d, v| d.sender.reply_to = some_text(v) />
                <CheckField form id="f-send-as-user" label="Send as the acting user"
                    get=|d| d.sender.send_as_acting_user set=|d, v| d.sender.send_as_acting_user = v
                    hint="Where the server allows it, mail a user triggers is from them; otherwise they are the Reply-To." />
                <CheckField form id="f-template-from" label="A template's From overrides this sender"
                    get=|d| d.sender.template_from_overrides set=|d, v| d.sender.template_from_overrides = v />
            </fieldset>
            }
                .into_any()}
            {view! {
            <fieldset>
                <legend>"Message"</legend>
                <div class="field">
                    <label for="f-signature">"Signature"</label>
                    <textarea
                        id="f-signature"
                        rows="3"
                        aria-describedby="f-signature-error"
                        prop:value=move || form.draft.with(|d| d.signature.clone().unwrap_or_default())
                        on:input=move |e| {
                            let text = event_target_value(&e);
                            form.edit(|d| d.signature = some_text(text));
                        }
                    ></textarea>
                    <p class="field-error" id="f-signature-error">{move || form.message("signature")}</p>
                    <Show when=move || form.draft.with(|d| d.signature.is_some())>
                        <figure class="preview">
                            <figcaption>"Preview"</figcaption>
                            <pre>{move || form.draft.with(|d| format!("Your message…\n\n-- \n{}", d.signature.clone().unwrap_or_default()))}</pre>
                        </figure>
                    </Show>
                </div>
                <TextField form path="send_frequency" label="Send frequency (seconds)" input_type="number"
                    get=|d| d.send_frequency.map(|s| s.to_string()).unwrap_or_default()
                    set=|d, v| d.send_frequency = v.trim().parse().ok().or(if v.trim().is_empty() { None } else { Some(-1) })
                    hint="The same alert to the same recipient within this many seconds is sent once. 0 turns it off; empty: 300." />
                <CheckField form id="f-utf8" label="UTF-8 headers (SMTPUTF8)"
                    get=|d| d.utf8_headers set=|d, v| d.utf8_headers = v
                    hint="Allows addresses such as 山田太郎@株式.会社; the server must offer SMTPUTF8." />
            </fieldset>
            }
                .into_any()}
            {view! {
            <fieldset>
                <legend>"Delivery"</legend>
                <div class="field">
                    <label for="f-alternate">"Alternate server"</label>
                    <select
                        id="f-alternate"
                        aria-describedby="f-alternate-hint f-alternate-error"
                        prop:value=move || form.draft.with(|d| d.alternate_profile_id.clone().unwrap_or_default())
                        on:change=move |e| {
                            let id = event_target_value(&e);
                            form.edit(|d| d.alternate_profile_id = some_text(id));
                        }
                    >
                        <option value="">"None"</option>
                        {alternates}
                    </select>
                    <p class="hint" id="f-alternate-hint">"When this server cannot be reached, mail goes through the alternate until an admin resets it."</p>
                    <p class="field-error" id="f-alternate-error">{move || form.message("alternate_profile_id")}</p>
                </div>
                <div class="field">
                    <label for="f-proxy-kind">"Proxy"</label>
                    <select
                        id="f-proxy-kind"
                        prop:value=move || proxy_kind.get()
                        on:change=move |e| {
                            let chosen = event_target_value(&e);
                            form.edit(|d| {
                                d.proxy = match chosen.as_str() {
                                    "http" | "socks5" => {
                                        let kind = if chosen == "http" { ProxyKind::Http } else { ProxyKind::Socks5 };
                                        let mut proxy = d.proxy.take().unwrap_or(ProxyDraft { kind, host: String::new(), port: None, username: None, password: SecretInput::Clear });
                                        proxy.kind = kind;
                                        Some(proxy)
                                    }
                                    _ => None,
                                };
                            });
                        }
                    >
                        <option value="">"None: connect directly"</option>
                        <option value="http">"HTTP CONNECT"</option>
                        <option value="socks5">"SOCKS5"</option>
                    </select>
                </div>
                <Show when=move || !proxy_kind.get().is_empty()>
                    <TextField form path="proxy.host" label="Proxy host" required=true
                        get=|d| d.proxy.as_ref().map(|p| p.host.clone()).unwrap_or_default()
                        set=|d, v| if let Some(p) = &mut d.proxy { p.host = v.trim().to_owned() } />
                    <TextField form path="proxy.port" label="Proxy port" required=true input_type="number"
                        get=|d| d.proxy.as_ref().and_then(|p| p.port).map(|p| p.to_string()).unwrap_or_default()
                        set=|d, v| if let Some(p) = &mut d.proxy { p.port = v.trim().parse().ok() } />
                    <TextField form path="proxy.username" label="Proxy user name"
                        get=|d| d.proxy.as_ref().and_then(|p| p.username.clone()).unwrap_or_default()
                        set=|d, v| if let Some(p) = &mut d.proxy { p.username = some_text(v) } />
                    <Show when=move || form.draft.with(|d| d.proxy.as_ref().is_some_and(|p| p.username.is_some()))>
                        <SecretField form secret=SecretSlot::ProxyPassword label="Proxy password"
                            get=|d| d.proxy.as_ref().map(|p| p.password.clone())
                            set=|d, v| if let Some(p) = &mut d.proxy { p.password = v } />
                    </Show>
                </Show>
            </fieldset>
            }
                .into_any()}
            <div class="notices" aria-live="polite">
                <ShowNotice notice=outcome />
                <Show when=move || conflict.with(Option::is_some)>
                    <div class="notice warning" role="alert">
                        <p>{move || conflict.get().map(|c| format!("Someone saved this profile while you were editing (version {}).", c.etag.trim_matches('"'))).unwrap_or_default()}</p>
                        <button type="button" on:click=reapply>"Save mine over theirs"</button>
                        <button type="button" on:click=take_theirs>"Use theirs"</button>
                    </div>
                </Show>
            </div>
            <div class="form-actions">
                <button type="submit" class="primary" disabled=move || invalid.get() || !changed.get() || saving.get() || !can.get()>
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
                <TestSend form />
                <Show when=move || changed.get()>
                    <span class="hint">"Unsaved changes"</span>
                </Show>
            </div>
        </form>
    }
    .into_any()
}

/// The test send: the form as it is (saved or not) to one recipient, every stage with its
/// time, the redacted transcript, and on failure the blamed field marked in the form.
#[component]
fn TestSend(form: Form) -> AnyView {
    let open = RwSignal::new(false);
    let to = RwSignal::new(String::new());
    let dry_run = RwSignal::new(false);
    let running = RwSignal::new(false);
    let report = RwSignal::new(None::<Result<TestReport, Problem>>);
    let live = RwSignal::new(Vec::<StageResult>::new());
    let can = can_change();
    // The recipient starts as the signed-in admin's own address, the usual first test.
    let user = use_context::<crate::CurrentUser>();
    let open_dialog = move |_| {
        if to.with_untracked(|t| t.trim().is_empty())
            && let Some(email) =
                user.and_then(|u| u.0.with_untracked(|s| s.as_ref().map(|s| s.email.clone())))
        {
            to.set(email);
        }
        open.set(true);
    };
    let run = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        running.set(true);
        report.set(None);
        let draft = form.draft.get_untracked();
        let profile_id = form
            .saved
            .with_untracked(|s| s.as_ref().map(|s| s.id.clone()));
        let request = DraftTest {
            profile: &draft,
            profile_id,
            to: to.get_untracked(),
            dry_run: dry_run.get_untracked(),
        };
        let body = serde_json::to_value(&request).unwrap_or_default();
        live.set(Vec::new());
        spawn_local(async move {
            // Stages arrive as they finish (server-sent events), then the whole report.
            let mut finished = None;
            let streamed = api::post_events("/profiles/test", &body, |event, data| match event {
                "stage" => {
                    if let Ok(stage) = serde_json::from_str::<StageResult>(data) {
                        live.update(|stages| stages.push(stage));
                    }
                }
                "report" => finished = serde_json::from_str::<TestReport>(data).ok(),
                _ => {}
            })
            .await;
            let answer = streamed.and_then(|()| {
                finished.ok_or_else(|| Problem {
                    status: 200,
                    error: ApiError::new("no_report", "the test ended without a report"),
                })
            });
            running.set(false);
            match &answer {
                Ok(done) => {
                    if let Some(failure) = &done.failure
                        && let Some(field) = &failure.field
                    {
                        form.blamed.set(Some((
                            field.clone(),
                            format!("{} {}", failure.message, failure.remedy),
                        )));
                    }
                }
                Err(problem) => form.server_errors.set(problem.error.fields.clone()),
            }
            report.set(Some(answer));
        });
    };
    view! {
        <button type="button" disabled=move || !can.get() on:click=open_dialog>"Send a test"</button>
        <Show when=move || open.get()>
            <div class="backdrop">
                <div class="dialog wide" role="dialog" aria-modal="true" aria-labelledby="test-title"
                    on:keydown=move |e: leptos::ev::KeyboardEvent| dialog_keys(&e, open)>
                    <h2 id="test-title">"Send a test"</h2>
                    <form class="test-form" on:submit=run>
                        <div class="field">
                            <label for="test-to">"Recipient"</label>
                            <input id="test-to" type="text" inputmode="email" autocomplete="email" required
                                prop:value=move || to.get() on:input=move |e| to.set(event_target_value(&e)) />
                        </div>
                        <div class="field check">
                            <input id="test-dry-run" type="checkbox" prop:checked=move || dry_run.get()
                                on:change=move |e| dry_run.set(event_target_checked(&e)) />
                            <label for="test-dry-run">"Dry run: stop before the message is handed over"</label>
                        </div>
                        <div class="actions">
                            <button type="button" on:click=move |_| open.set(false)>"Close"</button>
                            <button type="submit" class="primary" disabled=move || running.get() || to.with(|t| t.trim().is_empty())>
                                {move || if running.get() { "Sending…" } else { "Send" }}
                            </button>
                        </div>
                    </form>
                    <TestProgress running live report />
                </div>
            </div>
        </Show>
    }
    .into_any()
}

/// The stages so far while a test runs, then its report.
#[component]
fn TestProgress(
    running: RwSignal<bool>,
    live: RwSignal<Vec<StageResult>>,
    report: RwSignal<Option<Result<TestReport, Problem>>>,
) -> AnyView {
    view! {
        <Show when=move || running.get()>
            <ol class="stages live" aria-label="Stages so far">
                {move || live.get().iter().map(stage_row).collect_view()}
                <li class="stage running">"…"</li>
            </ol>
        </Show>
        <div aria-live="polite">
            {move || report.get().map(|r| match r {
                Ok(report) => view! { <TestReportView report /> }.into_any(),
                Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
            })}
        </div>
    }
    .into_any()
}

/// One stage of a test send: its name, milliseconds and what happened.
fn stage_row(s: &StageResult) -> impl IntoView + use<> {
    let status = match s.status {
        StageStatus::Ok => "ok",
        StageStatus::Failed => "failed",
        StageStatus::Skipped => "skipped",
    };
    view! {
        <li class=format!("stage {status}")>
            <span class="stage-name">{s.stage.as_str()}</span>
            <span class="stage-ms">{format!("{} ms", s.ms)}</span>
            <span class="stage-detail">{s.detail.clone()}</span>
        </li>
    }
}

#[component]
fn TestReportView(report: TestReport) -> AnyView {
    let headline = match (&report.outcome, &report.failure) {
        (Outcome::Delivered, _) => format!("Delivered in {} ms.", report.total_ms),
        (Outcome::DryRunPassed, _) => format!(
            "Every stage passed in {} ms; nothing was sent.",
            report.total_ms
        ),
        (_, Some(failure)) => format!("Failed at {}: {}", failure.stage.as_str(), failure.message),
        (_, None) => "Failed.".to_owned(),
    };
    let remedy = report.failure.as_ref().map(|f| {
        let field = f
            .field
            .clone()
            .map(|p| format!(" (field: {p})"))
            .unwrap_or_default();
        format!("{}{field}", f.remedy)
    });
    let stages = report.stages.iter().map(stage_row).collect_view();
    let transcript = report
        .transcript
        .iter()
        .map(|line| {
            let prefix = match line.direction {
                Direction::Client => "C: ",
                Direction::Server => "S: ",
                Direction::Note => "   ",
            };
            format!("{prefix}{}", line.text)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let warnings = report
        .warnings
        .iter()
        .map(|w| view! { <li>{w.message.clone()}</li> })
        .collect_view();
    view! {
        <div class="test-report" data-outcome=report.outcome.as_str()>
            <p class="headline">{headline}</p>
            {remedy.map(|r| view! { <p class="remedy">{r}</p> })}
            <ul class="warnings">{warnings}</ul>
            <ol class="stages">{stages}</ol>
            <details>
                <summary>"Transcript (secrets redacted)"</summary>
                <pre class="transcript">{transcript}</pre>
            </details>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_profile_the_form_cannot_read_is_an_error_not_a_blank_draft() {
        let newer =
            serde_json::json!({"name": "From a newer version", "transport": {"kind": "jmap"}});
        let problem = editable(newer).unwrap_err();
        assert_eq!(problem.error.code, "unreadable_profile");
        let example: serde_json::Value =
            serde_json::from_str(outmail_types::profile::examples::SMTP_BASIC).unwrap();
        assert_eq!(editable(example).unwrap().name, "Office relay");
    }
}

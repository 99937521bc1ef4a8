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
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use outmail_types::profile::{
    AuthDraft, BasicMechanism, LocalDraft, SenderDraft, SmtpDraft, StoredProfile, TransportDraft,
    TransportKind, secret_reuse_errors,
};
use outmail_types::{
    ApiError, FieldErrors, ProfileDraft, ProfileSpec, ProfileSummary, ProfileView, SecretInput,
    SecretSlot, Security,
};

use crate::api::{self, Problem, Tagged};
use crate::components::{Loading, ProblemNotice, ReadOnlyNotice, can_change};

mod delivery;
mod remote;
mod save;
mod sender;
mod smtp;
mod test_send;

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
    let replacing = move || {
        matches!(
            form.draft.with(get).unwrap_or_default(),
            SecretInput::Replace(_)
        )
    };
    view! {
        <div class="field secret required" class:blamed=move || form.blamed.with(|b| b.as_ref().is_some_and(|(p, _)| p == path))>
            <label for=id.clone()>{label}<span class="required-mark" aria-hidden="true">" *"</span></label>
            <SecretState form secret state_id get set />
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

/// A secret's state (set, not set, new value, to be cleared) and the buttons that change it.
#[component]
fn SecretState(
    form: Form,
    secret: SecretSlot,
    state_id: String,
    get: fn(&Draft) -> Option<SecretInput>,
    set: fn(&mut Draft, SecretInput),
) -> AnyView {
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
            let others = api::all_profiles().await?;
            Ok::<_, Problem>((saved, others))
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

/// The form: one section per part of the profile, the save's notices, Save and the test send.
#[component]
fn ProfileForm(saved: Option<Saved>, others: Vec<ProfileSummary>) -> AnyView {
    let form = Form::new(saved);
    let save = save::use_save(form);
    let invalid = Memo::new(move |_| !form.errors.with(FieldErrors::is_empty));
    let changed = Memo::new(move |_| form.changed());
    let can = can_change();
    ask_before_leaving(changed);
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        save.submit();
    };
    let kind = Memo::new(move |_| form.draft.with(|d| d.transport.kind()));
    let saving = save.saving;

    view! {
        <form class="form editor" novalidate on:submit=on_submit>
            <ProfileSection form kind />
            <smtp::SmtpSection form kind />
            <remote::EwsSection form kind />
            <remote::GraphSection form kind />
            <remote::AuthSection form kind />
            <remote::OAuthSection form kind />
            <smtp::LocalSection form kind />
            <sender::SenderSection form />
            <sender::MessageSection form />
            <delivery::DeliverySection form others />
            <save::SaveNotices save />
            <div class="form-actions">
                <button type="submit" class="primary" disabled=move || invalid.get() || !changed.get() || saving.get() || !can.get()>
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
                <test_send::TestSend form />
                <Show when=move || changed.get()>
                    <span class="hint">"Unsaved changes"</span>
                </Show>
            </div>
        </form>
    }
    .into_any()
}

/// Leaving the page with unsaved changes asks first: closing or reloading the tab, and links
/// inside the app (see `UnsavedChanges`).
fn ask_before_leaving(changed: Memo<bool>) {
    let guard = window_event_listener(leptos::ev::beforeunload, move |event| {
        if changed.get_untracked() {
            event.prevent_default();
            event.set_return_value("unsaved changes");
        }
    });
    on_cleanup(move || guard.remove());
    if let Some(unsaved) = use_context::<crate::UnsavedChanges>() {
        Effect::new(move |_| unsaved.0.set(changed.get()));
        on_cleanup(move || unsaved.0.set(false));
    }
}

/// The profile's name and description, and the transport, which decides the sections below.
#[component]
fn ProfileSection(form: Form, kind: Memo<TransportKind>) -> AnyView {
    view! {
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

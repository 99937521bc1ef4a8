//! Global settings: the master switch, the default profile, the support address and its
//! options. Validated as typed with the same rules the server applies; saved with the version
//! it was loaded at, so a concurrent change is shown instead of overwritten.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use outmail_types::settings::{GlobalSettingsDraft, GlobalSettingsView};
use outmail_types::{FieldErrors, ProfileSummary};

use crate::api::{self, Problem, Tagged};
use crate::components::{Loading, Notice, ProblemNotice, ReadOnlyNotice, ShowNotice, can_change};

/// The form as loaded: the saved settings and their version.
#[derive(Debug, Clone, PartialEq)]
struct Saved {
    draft: GlobalSettingsDraft,
    etag: String,
}

#[component]
pub fn Settings() -> impl IntoView {
    let loaded = LocalResource::new(|| async {
        let settings = api::get_tagged::<GlobalSettingsView>("/settings").await?;
        let profiles = api::all_profiles().await?;
        Ok::<_, Problem>((settings, profiles))
    });
    view! {
        <Title text="Settings" />
        <h1>"Settings"</h1>
        <ReadOnlyNotice />
        <p class="lead">"Global switches that apply to every profile and tenant."</p>
        <Suspense fallback=|| view! { <Loading what="the settings" /> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok((Tagged { body, etag }, profiles)) => {
                        let saved = Saved {
                            draft: body.settings,
                            etag: etag.unwrap_or_default(),
                        };
                        view! { <SettingsForm saved profiles /> }.into_any()
                    }
                    Err(problem) => view! { <ProblemNotice problem /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The form's state, shared by its sections and its save.
#[derive(Clone, Copy)]
struct Form {
    saved: RwSignal<Saved>,
    draft: RwSignal<GlobalSettingsDraft>,
    /// A field was left, or a save attempted: the browser's own messages show.
    touched: RwSignal<bool>,
    /// The browser's own check, the same code as the server's.
    local_errors: Memo<FieldErrors>,
    /// What the server refused at the last save, until the field changes.
    server_errors: RwSignal<FieldErrors>,
    conflict: RwSignal<Option<Saved>>,
    outcome: Notice,
    saving: RwSignal<bool>,
}

impl Form {
    fn new(saved: Saved) -> Self {
        let saved = RwSignal::new(saved);
        let draft = RwSignal::new(saved.get_untracked().draft);
        Self {
            saved,
            draft,
            touched: RwSignal::new(false),
            local_errors: Memo::new(move |_| {
                draft.with(|f| f.validate().err().unwrap_or_default())
            }),
            server_errors: RwSignal::new(FieldErrors::new()),
            conflict: RwSignal::new(None),
            outcome: RwSignal::new(None),
            saving: RwSignal::new(false),
        }
    }

    fn edit(self, change: impl FnOnce(&mut GlobalSettingsDraft)) {
        self.draft.update(change);
        self.server_errors.set(FieldErrors::new());
        self.outcome.set(None);
    }

    /// The message for `path`: the browser's once a field was left, the server's at once.
    fn error_for(self, path: &'static str) -> Signal<Option<String>> {
        let Self {
            local_errors,
            server_errors,
            touched,
            ..
        } = self;
        Signal::derive(move || {
            let local = local_errors.with(|e| e.get(path).first().map(|e| e.message.clone()));
            let server = server_errors.with(|e| e.get(path).first().map(|e| e.message.clone()));
            let from_server = server.is_some();
            local.or(server).filter(|_| touched.get() || from_server)
        })
    }

    /// "Use theirs": the newer settings replace the form.
    fn take_theirs(self) {
        if let Some(newer) = self.conflict.get_untracked() {
            self.draft.set(newer.draft.clone());
            self.saved.set(newer);
            self.conflict.set(None);
            self.outcome.set(None);
        }
    }
}

/// Saves the form with `If-Match: etag`. A 412 (someone saved meanwhile) loads theirs to show
/// and keeps ours for a deliberate reapply; other refusals put their field errors on the fields.
fn save(form: Form, etag: String) {
    let draft = form.draft.get_untracked();
    form.saving.set(true);
    spawn_local(async move {
        let answer = api::put::<_, GlobalSettingsView>("/settings", &etag, &draft).await;
        form.saving.set(false);
        match answer {
            Ok(Tagged { body, etag }) => {
                form.saved.set(Saved {
                    draft: body.settings.clone(),
                    etag: etag.unwrap_or_default(),
                });
                form.draft.set(body.settings);
                form.server_errors.set(FieldErrors::new());
                form.conflict.set(None);
                form.outcome.set(Some(Ok("Saved.".to_owned())));
            }
            Err(problem) if problem.status == 412 => {
                // Someone saved meanwhile: show theirs, keep ours for a deliberate reapply.
                if let Ok(Tagged { body, etag }) =
                    api::get_tagged::<GlobalSettingsView>("/settings").await
                {
                    form.conflict.set(Some(Saved {
                        draft: body.settings,
                        etag: etag.unwrap_or_default(),
                    }));
                }
                form.outcome.set(Some(Err(problem)));
            }
            Err(problem) => {
                form.server_errors.set(problem.error.fields.clone());
                form.outcome.set(Some(Err(problem)));
            }
        }
    });
}

#[component]
fn SettingsForm(saved: Saved, profiles: Vec<ProfileSummary>) -> impl IntoView {
    let form = Form::new(saved);
    let Form {
        saved,
        draft,
        touched,
        local_errors,
        conflict,
        outcome,
        saving,
        ..
    } = form;
    let can = can_change();
    let changed = Memo::new(move |_| draft.with(|f| *f != saved.with(|s| s.draft.clone())));
    let invalid = Memo::new(move |_| !local_errors.with(FieldErrors::is_empty));

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        touched.set(true);
        if !invalid.get_untracked() {
            save(form, saved.get_untracked().etag);
        }
    };
    let reapply = move |_| {
        if let Some(newer) = conflict.get_untracked() {
            save(form, newer.etag);
        }
    };

    view! {
        <form class="form" novalidate on:submit=on_submit>
            <SendingSection form profiles />
            <SupportSection form />
            <div class="notices" aria-live="polite">
                <ShowNotice notice=outcome />
                <Show when=move || conflict.with(Option::is_some)>
                    <div class="notice warning" role="alert">
                        <p>
                            "Someone saved these settings while you were editing. Their version: "
                            {move || conflict.get().map(|c| describe(&c.draft)).unwrap_or_default()}
                        </p>
                        <button type="button" on:click=reapply>"Save mine over theirs"</button>
                        <button type="button" on:click=move |_| form.take_theirs()>"Use theirs"</button>
                    </div>
                </Show>
            </div>
            <div class="form-actions">
                <button
                    type="submit"
                    class="primary"
                    disabled=move || invalid.get() || !changed.get() || saving.get() || !can.get()
                >
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
                <Show when=move || changed.get()>
                    <span class="hint">"Unsaved changes"</span>
                </Show>
            </div>
        </form>
    }
}

/// Sending: the master switch and the default profile.
#[component]
fn SendingSection(form: Form, profiles: Vec<ProfileSummary>) -> impl IntoView {
    let draft = form.draft;
    let profile_error = form.error_for("default_profile_id");
    let profile_options = profiles
        .into_iter()
        .map(|p| {
            let id = p.id.to_string();
            view! { <option value=id>{format!("{} ({})", p.name, p.transport.label())}</option> }
        })
        .collect_view();
    view! {
        <fieldset>
            <legend>"Sending"</legend>
            <div class="field check">
                <input
                    id="sending-enabled"
                    type="checkbox"
                    prop:checked=move || draft.with(|f| f.sending_enabled)
                    on:change=move |e| {
                        let on = event_target_checked(&e);
                        form.edit(move |f| f.sending_enabled = on)
                    }
                />
                <label for="sending-enabled">"Send mail"</label>
                <p class="hint">
                    "The master switch. Off: nothing is sent, tenant profiles included, and the API answers 409."
                </p>
            </div>
            <div class="field">
                <label for="default-profile">"Default profile"</label>
                <select
                    id="default-profile"
                    aria-invalid=move || profile_error.get().is_some().to_string()
                    aria-describedby="default-profile-hint default-profile-error"
                    prop:value=move || draft.with(|f| f.default_profile_id.clone().unwrap_or_default())
                    on:change=move |e| {
                        let id = event_target_value(&e);
                        form.edit(move |f| f.default_profile_id = Some(id).filter(|i| !i.is_empty()))
                    }
                >
                    <option value="">"None: nothing is sent for tenants without their own"</option>
                    {profile_options}
                </select>
                <p class="hint" id="default-profile-hint">
                    "Tenants that use the global profile send through this one."
                </p>
                <p class="field-error" id="default-profile-error">{move || profile_error.get()}</p>
            </div>
        </fieldset>
    }
}

/// Support requests: where they go, whether tenants may choose their own address, and what is
/// attached.
#[component]
fn SupportSection(form: Form) -> impl IntoView {
    let draft = form.draft;
    let support_error = form.error_for("support_address");
    view! {
        <fieldset>
            <legend>"Support requests"</legend>
            <div class="field">
                <label for="support-address">"Support address"</label>
                <input
                    id="support-address"
                    type="text"
                    inputmode="email"
                    autocomplete="off"
                    placeholder="Support <support@example.com>"
                    aria-invalid=move || support_error.get().is_some().to_string()
                    aria-describedby="support-address-hint support-address-error"
                    prop:value=move || draft.with(|f| f.support_address.clone().unwrap_or_default())
                    on:input=move |e| {
                        let text = event_target_value(&e);
                        form.edit(move |f| f.support_address = Some(text).filter(|t| !t.trim().is_empty()))
                    }
                    on:blur=move |_| form.touched.set(true)
                />
                <p class="hint" id="support-address-hint">
                    "Where users' support requests go. A display name is allowed: "
                    <code>"\"Help desk\" <help@example.com>"</code>
                </p>
                <p class="field-error" id="support-address-error">{move || support_error.get()}</p>
            </div>
            <div class="field check">
                <input
                    id="tenant-support"
                    type="checkbox"
                    prop:checked=move || draft.with(|f| f.tenant_support_allowed)
                    on:change=move |e| {
                        let on = event_target_checked(&e);
                        form.edit(move |f| f.tenant_support_allowed = on)
                    }
                />
                <label for="tenant-support">"Tenants may set their own support address"</label>
            </div>
            <div class="field check">
                <input
                    id="attach-system-info"
                    type="checkbox"
                    prop:checked=move || draft.with(|f| f.attach_system_info)
                    on:change=move |e| {
                        let on = event_target_checked(&e);
                        form.edit(move |f| f.attach_system_info = on)
                    }
                />
                <label for="attach-system-info">"Attach system information"</label>
                <p class="hint">
                    "Version, platform and a profile summary, never a secret."
                </p>
            </div>
        </fieldset>
    }
}

/// The settings in one line, for the conflict notice.
fn describe(draft: &GlobalSettingsDraft) -> String {
    format!(
        "sending {}, default profile {}, support address {}.",
        if draft.sending_enabled { "on" } else { "off" },
        draft.default_profile_id.as_deref().unwrap_or("none"),
        draft.support_address.as_deref().unwrap_or("none"),
    )
}

//! Global settings: the master switch, the default profile, the support address and its
//! options. Validated as typed with the same rules the server applies; saved with the version
//! it was loaded at, so a concurrent change is shown instead of overwritten.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use outmail_types::settings::{GlobalSettingsDraft, GlobalSettingsView, Page};
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
        let profiles = api::get::<Page<ProfileSummary>>("/profiles?per_page=200").await?;
        Ok::<_, Problem>((settings, profiles.items))
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

#[component]
fn SettingsForm(saved: Saved, profiles: Vec<ProfileSummary>) -> impl IntoView {
    let saved = RwSignal::new(saved);
    let form = RwSignal::new(saved.get_untracked().draft);
    let touched = RwSignal::new(false);
    // The browser's own check, the same code as the server's.
    let local_errors = Memo::new(move |_| form.with(|f| f.validate().err().unwrap_or_default()));
    // What the server refused at the last save, until the field changes.
    let server_errors = RwSignal::new(FieldErrors::new());
    let conflict = RwSignal::new(None::<Saved>);
    let outcome: Notice = RwSignal::new(None);
    let saving = RwSignal::new(false);
    let can = can_change();

    let changed = Memo::new(move |_| form.with(|f| *f != saved.with(|s| s.draft.clone())));
    let error_for = move |path: &'static str| {
        Signal::derive(move || {
            let local = local_errors.with(|e| e.get(path).first().map(|e| e.message.clone()));
            let server = server_errors.with(|e| e.get(path).first().map(|e| e.message.clone()));
            let from_server = server.is_some();
            local.or(server).filter(|_| touched.get() || from_server)
        })
    };
    let support_error = error_for("support_address");
    let profile_error = error_for("default_profile_id");
    let invalid = Memo::new(move |_| !local_errors.with(FieldErrors::is_empty));

    let save = move |etag: String| {
        let draft = form.get_untracked();
        saving.set(true);
        spawn_local(async move {
            let answer = api::put::<_, GlobalSettingsView>("/settings", &etag, &draft).await;
            saving.set(false);
            match answer {
                Ok(Tagged { body, etag }) => {
                    saved.set(Saved {
                        draft: body.settings.clone(),
                        etag: etag.unwrap_or_default(),
                    });
                    form.set(body.settings);
                    server_errors.set(FieldErrors::new());
                    conflict.set(None);
                    outcome.set(Some(Ok("Saved.".to_owned())));
                }
                Err(problem) if problem.status == 412 => {
                    // Someone saved meanwhile: show theirs, keep ours for a deliberate reapply.
                    if let Ok(Tagged { body, etag }) =
                        api::get_tagged::<GlobalSettingsView>("/settings").await
                    {
                        conflict.set(Some(Saved {
                            draft: body.settings,
                            etag: etag.unwrap_or_default(),
                        }));
                    }
                    outcome.set(Some(Err(problem)));
                }
                Err(problem) => {
                    server_errors.set(problem.error.fields.clone());
                    outcome.set(Some(Err(problem)));
                }
            }
        });
    };
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        touched.set(true);
        if !invalid.get_untracked() {
            save(saved.get_untracked().etag);
        }
    };
    let reapply = move |_| {
        if let Some(newer) = conflict.get_untracked() {
            save(newer.etag);
        }
    };
    let take_theirs = move |_| {
        if let Some(newer) = conflict.get_untracked() {
            form.set(newer.draft.clone());
            saved.set(newer);
            conflict.set(None);
            outcome.set(None);
        }
    };
    let edit = move |change: Box<dyn FnOnce(&mut GlobalSettingsDraft)>| {
        form.update(|f| change(f));
        server_errors.set(FieldErrors::new());
        outcome.set(None);
    };

    let profile_options = profiles
        .into_iter()
        .map(|p| {
            let id = p.id.to_string();
            view! { <option value=id>{format!("{} ({})", p.name, p.transport.label())}</option> }
        })
        .collect_view();

    view! {
        <form class="form" novalidate on:submit=on_submit>
            <fieldset>
                <legend>"Sending"</legend>
                <div class="field check">
                    <input
                        id="sending-enabled"
                        type="checkbox"
                        prop:checked=move || form.with(|f| f.sending_enabled)
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            edit(Box::new(move |f| f.sending_enabled = on))
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
                        prop:value=move || form.with(|f| f.default_profile_id.clone().unwrap_or_default())
                        on:change=move |e| {
                            let id = event_target_value(&e);
                            edit(Box::new(move |f| f.default_profile_id = Some(id).filter(|i| !i.is_empty())))
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
                        prop:value=move || form.with(|f| f.support_address.clone().unwrap_or_default())
                        on:input=move |e| {
                            let text = event_target_value(&e);
                            edit(Box::new(move |f| f.support_address = Some(text).filter(|t| !t.trim().is_empty())))
                        }
                        on:blur=move |_| touched.set(true)
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
                        prop:checked=move || form.with(|f| f.tenant_support_allowed)
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            edit(Box::new(move |f| f.tenant_support_allowed = on))
                        }
                    />
                    <label for="tenant-support">"Tenants may set their own support address"</label>
                </div>
                <div class="field check">
                    <input
                        id="attach-system-info"
                        type="checkbox"
                        prop:checked=move || form.with(|f| f.attach_system_info)
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            edit(Box::new(move |f| f.attach_system_info = on))
                        }
                    />
                    <label for="attach-system-info">"Attach system information"</label>
                    <p class="hint">
                        "Version, platform and a profile summary, never a secret."
                    </p>
                </div>
            </fieldset>
            <div class="notices" aria-live="polite">
                <ShowNotice notice=outcome />
                <Show when=move || conflict.with(Option::is_some)>
                    <div class="notice warning" role="alert">
                        <p>
                            "Someone saved these settings while you were editing. Their version: "
                            {move || conflict.get().map(|c| describe(&c.draft)).unwrap_or_default()}
                        </p>
                        <button type="button" on:click=reapply>"Save mine over theirs"</button>
                        <button type="button" on:click=take_theirs>"Use theirs"</button>
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

/// The settings in one line, for the conflict notice.
fn describe(draft: &GlobalSettingsDraft) -> String {
    format!(
        "sending {}, default profile {}, support address {}.",
        if draft.sending_enabled { "on" } else { "off" },
        draft.default_profile_id.as_deref().unwrap_or("none"),
        draft.support_address.as_deref().unwrap_or("none"),
    )
}

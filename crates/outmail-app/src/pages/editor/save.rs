//! Saving the profile: PUT at the loaded version (or POST a new one), a newer version shown.

use leptos::prelude::*;
use leptos::task::spawn_local;
use outmail_types::{FieldErrors, ProfileView};

use super::{Form, Saved};
use crate::api::{self, Tagged};
use crate::components::{Notice, ShowNotice};

/// A save's state: its last outcome, the newer version someone else saved (a 412), and whether
/// one is under way.
#[derive(Clone, Copy)]
pub(super) struct Save {
    form: Form,
    pub(super) outcome: Notice,
    pub(super) conflict: RwSignal<Option<Saved>>,
    pub(super) saving: RwSignal<bool>,
}

/// The form's save: [`Save::submit`] for the Save button, the conflict's two answers in
/// [`SaveNotices`].
pub(super) fn use_save(form: Form) -> Save {
    Save {
        form,
        outcome: RwSignal::new(None),
        conflict: RwSignal::new(None),
        saving: RwSignal::new(false),
    }
}

impl Save {
    /// The Save button: every message shows from now on, and a valid draft is saved at the
    /// version it was loaded at.
    pub(super) fn submit(self) {
        let form = self.form;
        form.submitted.set(true);
        if form.errors.with_untracked(FieldErrors::is_empty) {
            self.save(
                form.saved
                    .with_untracked(|s| s.as_ref().map(|s| s.etag.clone())),
            );
        }
    }

    /// Sends the draft: a PUT with `If-Match: etag` for a saved profile, a POST for a new one.
    fn save(self, etag: Option<String>) {
        let Self {
            form,
            outcome,
            conflict,
            saving,
        } = self;
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
                Ok(now) => self.saved(now, id.is_none()),
                Err(problem) if problem.status == 412 => {
                    // Someone saved meanwhile: show theirs, keep ours for a deliberate reapply.
                    if let Some(id) = id
                        && let Some(current) = current(&id).await
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
    }

    /// The form after a save: the answer is what it now starts from.
    fn saved(self, now: Saved, created: bool) {
        let form = self.form;
        let path = format!("/profiles/{}", now.id);
        form.draft.set(now.draft.clone());
        form.saved.set(Some(now));
        form.server_errors.set(FieldErrors::new());
        form.submitted.set(false);
        self.conflict.set(None);
        self.outcome.set(Some(Ok("Saved.".to_owned())));
        if created {
            show_address(&path);
        }
    }

    /// "Save mine over theirs": the draft again, at the newer version.
    fn reapply(self) {
        if let Some(newer) = self.conflict.get_untracked() {
            let etag = newer.etag.clone();
            self.form.saved.set(Some(newer));
            self.save(Some(etag));
        }
    }

    /// "Use theirs": the newer version replaces the draft.
    fn take_theirs(self) {
        if let Some(newer) = self.conflict.get_untracked() {
            self.form.draft.set(newer.draft.clone());
            self.form.saved.set(Some(newer));
            self.conflict.set(None);
            self.outcome.set(None);
        }
    }
}

/// The profile as saved now, for the conflict notice; `None` if it cannot be loaded or read.
async fn current(id: &str) -> Option<Saved> {
    let Tagged { body, etag } = api::get_tagged::<ProfileView>(&format!("/profiles/{id}"))
        .await
        .ok()?;
    Saved::from_view(body, etag).ok()
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

/// The save's outcome, and a conflict with its two answers.
#[component]
pub(super) fn SaveNotices(save: Save) -> AnyView {
    let Save {
        outcome, conflict, ..
    } = save;
    view! {
        <div class="notices" aria-live="polite">
            <ShowNotice notice=outcome />
            <Show when=move || conflict.with(Option::is_some)>
                <div class="notice warning" role="alert">
                    <p>{move || conflict.get().map(|c| format!("Someone saved this profile while you were editing (version {}).", c.etag.trim_matches('"'))).unwrap_or_default()}</p>
                    <button type="button" on:click=move |_| save.reapply()>"Save mine over theirs"</button>
                    <button type="button" on:click=move |_| save.take_theirs()>"Use theirs"</button>
                </div>
            </Show>
        </div>
    }
    .into_any()
}

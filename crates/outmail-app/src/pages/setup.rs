//! The first start: the server prints `http://ADDR/setup#token=XYZ` while there is no admin.
//! This page takes that one-time token (prefilled from the address), the first admin's email
//! and password, creates the admin and signs them in.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use outmail_types::access::{SessionView, SetupRequest, password_problem};
use outmail_types::{FieldError, FieldErrors};

use crate::api::{self, Problem};
use crate::components::CredentialField;

/// The form as typed.
#[derive(Debug, Clone, Default, PartialEq)]
struct SetupForm {
    token: String,
    email: String,
    password: String,
    repeat: String,
}

/// Every problem with the form, keyed like the server's field errors (`token`, `email`,
/// `password`) plus `repeat` for the second password.
fn check(form: &SetupForm) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if form.token.trim().is_empty() {
        errors.add(
            "token",
            FieldError::new("required", "paste the setup token the server printed"),
        );
    }
    if form.email.trim().is_empty() {
        errors.add("email", FieldError::new("required", "enter your email"));
    }
    if let Some(problem) = password_problem(&form.password) {
        errors.add("password", FieldError::new("weak_password", problem));
    }
    if form.repeat != form.password {
        errors.add(
            "repeat",
            FieldError::new("mismatch", "the two passwords are not the same"),
        );
    }
    errors
}

/// The setup token in an address fragment such as `#token=XYZ` (other `&`-separated parts are
/// ignored).
pub(crate) fn token_from_hash(hash: &str) -> Option<String> {
    hash.trim_start_matches('#')
        .split('&')
        .find_map(|part| part.strip_prefix("token="))
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

#[component]
pub fn Setup() -> impl IntoView {
    let form = RwSignal::new(SetupForm::default());
    let errors = Memo::new(move |_| form.with(check));
    // Fields left at least once; after a submit attempt every message shows.
    let touched = RwSignal::new(BTreeSet::<&'static str>::new());
    let submitted = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let problem = RwSignal::new(None::<Problem>);

    // The fragment never reaches the server, so it is read here, once the page runs in the
    // browser (effects do not run during server rendering).
    Effect::new(move |_| {
        if let Some(token) = token_from_hash(&window().location().hash().unwrap_or_default()) {
            form.update(|f| f.token = token);
        }
    });

    let message = move |path: &'static str| {
        let shown = submitted.get() || touched.with(|t| t.contains(path));
        let local = errors
            .with(|e| e.get(path).first().map(|e| e.message.clone()))
            .filter(|_| shown);
        let server = problem.with(|p| {
            p.as_ref().and_then(|p| {
                // A wrong token is refused as a whole (403), not as a field; it still belongs
                // under the token field.
                if path == "token" && p.error.code == "invalid_setup_token" {
                    Some(p.error.message.clone())
                } else {
                    p.error.fields.get(path).first().map(|e| e.message.clone())
                }
            })
        });
        local.or(server)
    };
    let leave = move |path: &'static str| {
        touched.update(|t| {
            t.insert(path);
        });
    };

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        submitted.set(true);
        if !errors.with_untracked(FieldErrors::is_empty) {
            return;
        }
        let typed = form.get_untracked();
        let body = SetupRequest {
            token: typed.token.trim().into(),
            email: typed.email.trim().to_owned(),
            password: typed.password.into(),
        };
        saving.set(true);
        problem.set(None);
        spawn_local(async move {
            match api::post::<_, SessionView>("/setup", &body).await {
                // Signed in as the new admin: a full load of the start page.
                Ok(_) => {
                    let _ = window().location().assign("/");
                }
                Err(failed) => {
                    saving.set(false);
                    problem.set(Some(failed));
                }
            }
        });
    };

    view! {
        <Title text="Set up outmail" />
        <div class="auth-card">
            <h1>"Set up outmail"</h1>
            <p class="lead">
                "Create the first admin. The setup token is in the address the server printed when it started."
            </p>
            // `method="post"`: a form sent before the page is interactive must not put the
            // password in the address.
            <form class="auth-form" method="post" novalidate on:submit=on_submit>
                <CredentialField
                    id="setup-token"
                    label="Setup token"
                    input_type="text"
                    autocomplete="off"
                    value=Signal::derive(move || form.with(|f| f.token.clone()))
                    on_input=Callback::new(move |text| form.update(|f| f.token = text))
                    error=Signal::derive(move || message("token"))
                    on_leave=Callback::new(move |()| leave("token"))
                />
                <CredentialField
                    id="setup-email"
                    label="Email"
                    name="email"
                    input_type="email"
                    autocomplete="username"
                    value=Signal::derive(move || form.with(|f| f.email.clone()))
                    on_input=Callback::new(move |text| form.update(|f| f.email = text))
                    error=Signal::derive(move || message("email"))
                    on_leave=Callback::new(move |()| leave("email"))
                />
                <CredentialField
                    id="setup-password"
                    label="Password"
                    name="password"
                    input_type="password"
                    autocomplete="new-password"
                    value=Signal::derive(move || form.with(|f| f.password.clone()))
                    on_input=Callback::new(move |text| form.update(|f| f.password = text))
                    error=Signal::derive(move || message("password"))
                    on_leave=Callback::new(move |()| leave("password"))
                    hint=format!(
                        "At least {} characters; a few unrelated words are easy to remember.",
                        outmail_types::access::MIN_PASSWORD_CHARS,
                    )
                />
                <CredentialField
                    id="setup-repeat"
                    label="Repeat password"
                    input_type="password"
                    autocomplete="new-password"
                    value=Signal::derive(move || form.with(|f| f.repeat.clone()))
                    on_input=Callback::new(move |text| form.update(|f| f.repeat = text))
                    error=Signal::derive(move || message("repeat"))
                    on_leave=Callback::new(move |()| leave("repeat"))
                />
                <div class="notices" aria-live="polite">
                    {move || {
                        problem
                            .get()
                            .map(|p| {
                                // Someone already finished the setup: signing in is the way on.
                                let set_up = p.error.code == "already_set_up";
                                view! {
                                    <div class="notice error" role="alert" id="setup-problem">
                                        <p>{p.error.message}</p>
                                        <Show when=move || set_up>
                                            <p>
                                                <a href="/login">"Sign in"</a>
                                            </p>
                                        </Show>
                                    </div>
                                }
                            })
                    }}
                </div>
                <button type="submit" class="primary" disabled=move || saving.get()>
                    {move || if saving.get() { "Creating the admin…" } else { "Create admin" }}
                </button>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_fragment() {
        assert_eq!(token_from_hash("#token=abc123"), Some("abc123".to_owned()));
        assert_eq!(token_from_hash("#x=1&token=abc"), Some("abc".to_owned()));
        assert_eq!(token_from_hash("#token="), None);
        assert_eq!(token_from_hash(""), None);
    }

    #[test]
    fn the_passwords_must_be_long_and_the_same() {
        let mut form = SetupForm {
            token: "t".into(),
            email: "admin@example.com".into(),
            password: "short".into(),
            repeat: "other".into(),
        };
        let errors = check(&form);
        assert!(!errors.get("password").is_empty() && !errors.get("repeat").is_empty());
        form.password = "correct horse battery".into();
        form.repeat = form.password.clone();
        assert!(check(&form).is_empty());
    }
}

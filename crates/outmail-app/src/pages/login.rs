//! Signing in: email and password, then on to the page that sent the browser here (the server
//! redirects every page to `/login?next=<path>` when there is no session).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use outmail_types::access::{LoginRequest, SessionView};

use crate::api::{self, Problem};
use crate::components::CredentialField;

/// Where to go after signing in: `next` when it is a path on this server, else the start page.
/// `//host` leaves the site, and so does `/\host` (browsers read the backslash as a slash);
/// browsers also drop tabs and line breaks from an address, which could turn `/\t/host` into
/// `//host`, so a path with a control character is refused as well.
pub(crate) fn local_next(next: Option<&str>) -> String {
    let Some(next) = next else {
        return "/".to_owned();
    };
    let Some(rest) = next.strip_prefix('/') else {
        return "/".to_owned();
    };
    if rest.starts_with('/') || rest.starts_with('\\') || next.chars().any(char::is_control) {
        return "/".to_owned();
    }
    next.to_owned()
}

#[component]
pub fn Login() -> impl IntoView {
    let query = use_query_map();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // A sign-in was attempted: the "enter your …" messages show.
    let submitted = RwSignal::new(false);
    let signing_in = RwSignal::new(false);
    let problem = RwSignal::new(None::<Problem>);

    // The server's message for a field (422 when one is empty), if the last attempt named it.
    let server_error = move |path: &'static str| {
        problem.with(|p| {
            p.as_ref()
                .and_then(|p| p.error.fields.get(path).first().map(|e| e.message.clone()))
        })
    };
    let email_error = move || {
        if submitted.get() && email.with(|e| e.trim().is_empty()) {
            Some("enter your email".to_owned())
        } else {
            server_error("email")
        }
    };
    let password_error = move || {
        if submitted.get() && password.with(String::is_empty) {
            Some("enter your password".to_owned())
        } else {
            server_error("password")
        }
    };

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        submitted.set(true);
        if email.with_untracked(|e| e.trim().is_empty())
            || password.with_untracked(String::is_empty)
        {
            return;
        }
        let body = LoginRequest {
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked().into(),
        };
        let next = local_next(query.with_untracked(|q| q.get("next")).as_deref());
        signing_in.set(true);
        problem.set(None);
        spawn_local(async move {
            match api::post::<_, SessionView>("/session", &body).await {
                // A full page load: the header and every page start over with the new session.
                // The button stays off meanwhile, so a second click does not sign in twice.
                Ok(_) => {
                    let _ = window().location().assign(&next);
                }
                Err(failed) => {
                    signing_in.set(false);
                    problem.set(Some(failed));
                }
            }
        });
    };

    view! {
        <Title text="Sign in" />
        <div class="auth-card">
            <h1>"Sign in"</h1>
            // `method="post"`: a form sent before the page is interactive must not put the
            // password in the address (a GET would); the server just shows this page again.
            <form class="auth-form" method="post" novalidate on:submit=on_submit>
                <CredentialField
                    id="login-email"
                    label="Email"
                    name="email"
                    input_type="email"
                    autocomplete="username"
                    value=email
                    on_input=Callback::new(move |text| email.set(text))
                    error=Signal::derive(email_error)
                />
                <CredentialField
                    id="login-password"
                    label="Password"
                    name="password"
                    input_type="password"
                    autocomplete="current-password"
                    value=password
                    on_input=Callback::new(move |text| password.set(text))
                    error=Signal::derive(password_error)
                />
                // The server's answer: a wrong email or password (401), or too many failed
                // attempts (429), whose message says when to try again.
                <div class="notices" aria-live="polite">
                    {move || {
                        problem
                            .get()
                            .map(|p| {
                                view! {
                                    <p class="notice error" role="alert" id="login-problem">
                                        {p.error.message}
                                    </p>
                                }
                            })
                    }}
                </div>
                <button type="submit" class="primary" disabled=move || signing_in.get()>
                    {move || if signing_in.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::local_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_next(Some("/profiles/1?x=y")), "/profiles/1?x=y");
        assert_eq!(local_next(Some("/")), "/");
        for outside in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "profiles",
            "",
        ] {
            assert_eq!(local_next(Some(outside)), "/", "{outside:?}");
        }
        assert_eq!(local_next(None), "/");
    }
}

//! The outmail admin UI: the HTML shell, the layout with navigation, and the pages.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{A, Route, Router, Routes},
};
use outmail_types::access::SessionView;

mod api;
mod components;
mod pages;

/// The product name, shown in the title bar and the header.
pub const PRODUCT_NAME: &str = "outmail";

/// The content security policy of every response: scripts only from this site (plus the inline
/// hydration scripts of this one page, named by `nonce`), WebAssembly compiled from them, no
/// framing, no plug-ins, forms and fetches to this site only.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let inline = nonce
        .map(|nonce| format!(" 'nonce-{nonce}'"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{inline}; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The whole HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // Leptos' hydration bootstrap and its resource data are inline scripts carrying this
    // response's nonce: the policy allows exactly those.
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) && let Ok(policy) =
        http::HeaderValue::from_str(&content_security_policy(Some(&nonce.to_string())))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HashedStylesheet options=options.clone() id="outmail" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: layout, navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    // Effects run only in the browser, after hydration: the attribute tells people and tests that
    // the page is interactive, not just painted.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let unsaved = UnsavedChanges(RwSignal::new(false));
    provide_context(unsaved);
    let current_user = CurrentUser(RwSignal::new(None));
    provide_context(current_user);
    // Loaded once per page load, in the browser only (effects do not run on the server). A
    // plain signal rather than a resource read by the pages: a resource read inside a page's
    // `Suspense` would hold that page's content back, or show its loading state again, until
    // the session arrives. A failed request (no session) leaves it empty.
    Effect::new(move |_| {
        // The sign-in and setup pages have no session to show: asking would only add a refused
        // request, which the browser also reports as an error in its console.
        let path = window().location().pathname().unwrap_or_default();
        if path == "/login" || path == "/setup" {
            return;
        }
        spawn_local(async move {
            if let Ok(session) = api::get::<SessionView>("/session").await {
                current_user.0.set(Some(session));
            }
        });
    });

    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { PRODUCT_NAME.to_string() } else { format!("{page} · {PRODUCT_NAME}") }
        } />
        <Router>
            <div
                class="app"
                data-hydrated=move || hydrated.get().to_string()
                on:click=move |event| unsaved.confirm_link(event)
            >
                <Header />
                <main id="main" class="content">
                    <Routes fallback=pages::NotFound>
                        <Route path=StaticSegment("") view=pages::Profiles />
                        <Route
                            path=(StaticSegment("profiles"), StaticSegment("new"))
                            view=pages::NewProfile
                        />
                        <Route
                            path=(StaticSegment("profiles"), ParamSegment("id"))
                            view=pages::EditProfile
                        />
                        <Route path=StaticSegment("tenants") view=pages::Tenants />
                        <Route path=StaticSegment("delivery") view=pages::DeliveryLog />
                        <Route path=StaticSegment("settings") view=pages::Settings />
                        <Route path=StaticSegment("tokens") view=pages::Tokens />
                        <Route path=StaticSegment("relay") view=pages::Relay />
                        <Route path=StaticSegment("audit") view=pages::Audit />
                        <Route path=StaticSegment("login") view=pages::Login />
                        <Route path=StaticSegment("setup") view=pages::Setup />
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// Whether a form on the page has changes not yet saved. A page with a form sets it; following a
/// link then asks first. (Closing or reloading the tab is the form's own `beforeunload`.)
#[derive(Clone, Copy)]
pub struct UnsavedChanges(pub RwSignal<bool>);

impl UnsavedChanges {
    /// Runs before the router's own click handler (which sits on the window and skips a click
    /// whose default was prevented): a link followed with unsaved changes asks first.
    fn confirm_link(self, event: leptos::ev::MouseEvent) {
        use leptos::wasm_bindgen::JsCast;
        if !self.0.get_untracked() || event.default_prevented() {
            return;
        }
        let on_link = event
            .target()
            .and_then(|target| target.dyn_into::<leptos::web_sys::Element>().ok())
            .and_then(|element| element.closest("a[href]").ok().flatten())
            .is_some();
        if !on_link {
            return;
        }
        let leave = window()
            .confirm_with_message("Your changes are not saved. Leave this page?")
            .unwrap_or(true);
        if leave {
            self.0.set(false);
        } else {
            event.prevent_default();
        }
    }
}

/// The signed-in person, from `GET /api/v1/session`: `None` while it loads and when nobody is
/// signed in. Provided by [`App`]; see `components::can_change` for what a role may do.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub RwSignal<Option<SessionView>>);

/// Ends the session, then loads the sign-in page (a full load, so no page keeps showing data).
fn sign_out() {
    spawn_local(async move {
        // Off to the sign-in page even if the request failed: the server refuses a session it
        // no longer knows, and a network failure is better reported by the next page.
        let _ = api::delete_plain("/session").await;
        let _ = window().location().assign("/login");
    });
}

/// The top bar: product name, the main navigation (collapsible on narrow screens) and who is
/// signed in.
#[component]
fn Header() -> impl IntoView {
    let current_user = use_context::<CurrentUser>();
    let menu_open = RwSignal::new(false);
    let toggle_menu = move |_| menu_open.update(|open| *open = !*open);
    // Following a link on a phone should not leave the menu covering the page.
    let close_menu = move |_| menu_open.set(false);

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/">
                {PRODUCT_NAME}
            </a>
            <button
                type="button"
                class="menu-toggle"
                aria-controls="primary-nav"
                aria-expanded=move || menu_open.get().to_string()
                on:click=toggle_menu
            >
                "Menu"
            </button>
            <nav
                id="primary-nav"
                class="primary-nav"
                class:open=move || menu_open.get()
                aria-label="Main"
                on:click=close_menu
            >
                <A href="/" exact=true>
                    "Profiles"
                </A>
                <A href="/tenants">"Tenants"</A>
                <A href="/delivery">"Delivery log"</A>
                <A href="/settings">"Settings"</A>
                <A href="/tokens">"Tokens"</A>
                <A href="/relay">"Relay"</A>
                <A href="/audit">"Audit log"</A>
            </nav>
            // Always rendered, with a size that does not depend on its content, so nothing in
            // the bar moves when the session arrives. Empty when nobody is signed in.
            <div class="user-area">
                {move || {
                    current_user
                        .and_then(|user| user.0.get())
                        .map(|session| {
                            let who = format!("{} ({})", session.email, session.role);
                            let title = who.clone();
                            view! {
                                <span class="user-name" id="signed-in-as" title=title>
                                    {who}
                                </span>
                                <button type="button" class="small" on:click=move |_| sign_out()>
                                    "Sign out"
                                </button>
                            }
                        })
                }}
            </div>
        </header>
    }
}

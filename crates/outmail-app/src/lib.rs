//! The outmail admin UI: the HTML shell, the layout with navigation, and the pages.

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, StaticSegment,
    components::{A, Route, Router, Routes},
};

mod api;
mod components;
mod pages;

/// The product name, shown in the title bar and the header.
pub const PRODUCT_NAME: &str = "outmail";

/// The whole HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
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

/// The top bar: product name and the main navigation, collapsible on narrow screens.
#[component]
fn Header() -> impl IntoView {
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
            </nav>
        </header>
    }
}

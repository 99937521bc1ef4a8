//! The top-level pages reached from the navigation.

use leptos::prelude::*;
use leptos_meta::Title;

/// Mail-server profiles: the named SMTP, EWS and Graph configurations.
#[component]
pub fn Profiles() -> impl IntoView {
    view! {
        <Title text="Profiles" />
        <h1>"Profiles"</h1>
        <p class="lead">
            "Named mail-server profiles: SMTP, Exchange Web Services and Microsoft Graph, each with its sender, authentication and alternate server."
        </p>
    }
}

/// Tenants: which profile each customer sends through.
#[component]
pub fn Tenants() -> impl IntoView {
    view! {
        <Title text="Tenants" />
        <h1>"Tenants"</h1>
        <p class="lead">"Each tenant sends through the global profile or its own."</p>
    }
}

/// The delivery log: what was sent, suppressed or failed, and why.
#[component]
pub fn DeliveryLog() -> impl IntoView {
    view! {
        <Title text="Delivery log" />
        <h1>"Delivery log"</h1>
        <p class="lead">"Every message the product sent, with its attempts and the server used."</p>
    }
}

/// Global settings: the master switch, the default profile and the support address.
#[component]
pub fn Settings() -> impl IntoView {
    view! {
        <Title text="Settings" />
        <h1>"Settings"</h1>
        <p class="lead">"Global switches that apply to every profile and tenant."</p>
    }
}

/// Any path the router does not know. On the server it also sets the HTTP status.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found" />
        <h1>"Page not found"</h1>
        <p class="lead">
            <a href="/">"Back to the profiles"</a>
        </p>
    }
}

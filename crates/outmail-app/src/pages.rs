//! The top-level pages reached from the navigation, and the sign-in and first-setup pages.

use leptos::prelude::*;
use leptos_meta::Title;

mod audit;
mod delivery;
mod editor;
mod login;
mod profiles;
mod relay;
mod settings;
mod setup;
mod tenants;
mod tokens;

pub use audit::Audit;
pub use delivery::DeliveryLog;
pub use editor::{EditProfile, NewProfile};
pub use login::Login;
pub use profiles::Profiles;
pub use relay::Relay;
pub use settings::Settings;
pub use setup::Setup;
pub use tenants::Tenants;
pub use tokens::Tokens;

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

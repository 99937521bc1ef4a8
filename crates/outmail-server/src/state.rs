//! What every request handler can reach.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use outmail_store::Store;

/// Shared, cheaply cloned state of a running server.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

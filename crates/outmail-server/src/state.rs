//! What every request handler can reach.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

use outmail_store::Store;

use crate::auth::AccessState;
use crate::mail::MailRuntime;

/// Shared, cheaply cloned state of a running server.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub mail: Arc<MailRuntime>,
    pub access: Arc<AccessState>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

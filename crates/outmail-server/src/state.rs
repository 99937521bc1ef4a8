//! What every request handler can reach.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

use outmail_store::Store;

use crate::auth::AccessState;
use crate::mail::MailRuntime;
use crate::relay::RelayStatus;
use crate::sending::{Sending, TransportSender};

/// Shared, cheaply cloned state of a running server.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub mail: Arc<MailRuntime>,
    pub access: Arc<AccessState>,
    /// Everything about a message going out; handlers and the worker call it.
    pub sending: Sending,
    /// The SMTP relay's listeners and certificate (empty when it is off), set when it starts.
    pub relay: Arc<std::sync::RwLock<Arc<RelayStatus>>>,
}

impl AppState {
    /// A server's state, sending through the real transports.
    pub fn new(
        leptos_options: LeptosOptions,
        store: Store,
        mail: Arc<MailRuntime>,
        access: Arc<AccessState>,
    ) -> Self {
        let sender = Arc::new(TransportSender {
            mail: mail.clone(),
            store: store.clone(),
            egress: access.config.egress.clone(),
        });
        let sending = Sending {
            store: store.clone(),
            sender,
            mail: mail.clone(),
        };
        Self {
            leptos_options,
            store,
            mail,
            access,
            sending,
            relay: Arc::default(),
        }
    }

    /// What the relay shows of itself now.
    pub fn relay_status(&self) -> Arc<RelayStatus> {
        self.relay
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Now, in unix milliseconds, by the one clock the store writes with.
    pub fn now_ms(&self) -> i64 {
        self.store.clock().now_ms()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

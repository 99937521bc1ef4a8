//! What the server keeps for sending: OAuth access tokens per profile configuration (in
//! memory), rotated refresh tokens written back sealed, consents in progress, and the SMTP
//! connections the delivery worker keeps open between messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outmail_mail::{OAuthRuntime, PoolSlot, RefreshTokenSink, SmtpPool, TokenCache};
use outmail_store::Store;
use outmail_types::{ProfileSpec, SecretSlot, SecretString};

/// How long the admin has to finish signing in once the popup opened.
pub const CONSENT_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Consents in progress at once; the oldest are dropped beyond this (each is an unguessable
/// state value, so this only bounds memory).
const MAX_PENDING_CONSENTS: usize = 256;

/// Shared by every request of one server.
pub struct MailRuntime {
    pub tokens: Arc<TokenCache>,
    /// Open SMTP connections of the delivery worker, per profile version.
    pub smtp_pool: Arc<SmtpPool>,
    consents: Mutex<HashMap<String, PendingConsent>>,
    /// Wakes this process's delivery worker when a message is queued.
    new_mail: tokio::sync::Notify,
    /// How long the worker holds a claimed message.
    pub delivery_lease: Duration,
}

impl Default for MailRuntime {
    fn default() -> Self {
        Self::new(Duration::from_secs(
            crate::config::DEFAULT_DELIVERY_LEASE_SECONDS,
        ))
    }
}

/// A consent started for a profile: what the callback needs to finish it.
#[derive(Debug, Clone)]
pub struct PendingConsent {
    pub profile_id: String,
    /// The profile's version when the consent started; a profile edited meanwhile is not
    /// given a token consented for other settings.
    pub version: i64,
    pub verifier: SecretString,
    /// The mailbox the profile sends as, which must be the one that signs in.
    pub mailbox: String,
    started: Instant,
}

impl MailRuntime {
    pub fn new(delivery_lease: Duration) -> Self {
        Self {
            tokens: Arc::default(),
            smtp_pool: Arc::default(),
            consents: Mutex::default(),
            new_mail: tokio::sync::Notify::new(),
            delivery_lease,
        }
    }

    /// The OAuth runtime for sending through `profile_id` (a saved profile): tokens come from
    /// the shared cache and a rotated refresh token is sealed back into its slot, while that
    /// slot is still for the destination `spec` names.
    pub fn oauth_for(
        &self,
        store: &Store,
        profile_id: Option<&str>,
        spec: &ProfileSpec,
    ) -> OAuthRuntime {
        let sink = profile_id.map(|id| rotation_sink(store.clone(), id.to_owned(), spec.clone()));
        OAuthRuntime {
            cache: Some(self.tokens.clone()),
            sink,
            fresh: false,
        }
    }

    /// Where the delivery worker keeps connections to profile `profile_id` as saved at
    /// `version`: an edited profile starts afresh, and no connection outlives its settings.
    pub fn pool_for(&self, profile_id: &str, version: i64) -> PoolSlot {
        PoolSlot {
            pool: self.smtp_pool.clone(),
            key: format!("{profile_id}@{version}"),
        }
    }

    /// Tells the delivery worker that a message is waiting.
    pub fn wake_workers(&self) {
        self.new_mail.notify_one();
    }

    /// Resolves when [`MailRuntime::wake_workers`] was called.
    pub async fn workers_wanted(&self) {
        self.new_mail.notified().await;
    }

    /// Remembers a started consent under its `state`.
    pub fn begin_consent(
        &self,
        state: String,
        profile_id: String,
        version: i64,
        verifier: SecretString,
        mailbox: String,
    ) {
        let mut consents = self.lock();
        consents.retain(|_, c| c.started.elapsed() < CONSENT_LIFETIME);
        if consents.len() >= MAX_PENDING_CONSENTS
            && let Some(oldest) = consents
                .iter()
                .min_by_key(|(_, c)| c.started)
                .map(|(k, _)| k.clone())
        {
            consents.remove(&oldest);
        }
        consents.insert(
            state,
            PendingConsent {
                profile_id,
                version,
                verifier,
                mailbox,
                started: Instant::now(),
            },
        );
    }

    /// Takes the consent for `state` (once: a replayed callback finds nothing).
    pub fn take_consent(&self, state: &str) -> Option<PendingConsent> {
        self.lock()
            .remove(state)
            .filter(|c| c.started.elapsed() < CONSENT_LIFETIME)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingConsent>> {
        self.consents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn rotation_sink(store: Store, profile_id: String, spec: ProfileSpec) -> RefreshTokenSink {
    Arc::new(move |slot: SecretSlot, token: SecretString| {
        let store = store.clone();
        let profile_id = profile_id.clone();
        let destination = spec.destination(slot);
        Box::pin(async move {
            let plaintext = outmail_store::Plaintext::from(token.expose().to_owned());
            match store
                .replace_secret(&profile_id, slot.path(), &destination, &plaintext)
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => Err(format!(
                    "profile {profile_id} no longer holds {slot} for this destination"
                )),
                Err(error) => Err(error.to_string()),
            }
        })
    })
}

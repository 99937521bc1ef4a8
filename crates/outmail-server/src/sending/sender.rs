//! The seam every delivery goes through: a [`Sender`] takes a letter and a profile ready to send
//! and answers with the server's receipt or a [`MailError`]. [`TransportSender`] is the real one
//! (outmail-mail's transports with the shared OAuth tokens, egress policy and SMTP pool);
//! [`RecordingSender`] records what it was given and answers from a script, so the worker's
//! judgement can be tested without a peer.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use outmail_mail::{EgressPolicy, Letter, MailError, Receipt, Secrets, Timeouts, Trace, Transport};
use outmail_store::Store;
use outmail_types::ProfileSpec;

use crate::mail::MailRuntime;

/// A saved profile with its opened secrets, as one attempt sends through it.
#[derive(Debug, Clone)]
pub struct ReadyProfile {
    pub id: String,
    /// The saved version: connections kept open for one version are never reused for another.
    pub version: i64,
    pub spec: ProfileSpec,
    pub secrets: Secrets,
}

/// What [`Sender::send`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Receipt, MailError>> + Send + 'a>>;

/// Delivers one letter through one profile.
pub trait Sender: Send + Sync {
    fn send<'a>(&'a self, profile: &'a ReadyProfile, letter: &'a Letter) -> SendFuture<'a>;
}

/// The real transports.
pub struct TransportSender {
    pub mail: Arc<MailRuntime>,
    pub store: Store,
    pub egress: EgressPolicy,
}

impl Sender for TransportSender {
    fn send<'a>(&'a self, profile: &'a ReadyProfile, letter: &'a Letter) -> SendFuture<'a> {
        Box::pin(async move {
            let oauth = self
                .mail
                .oauth_for(&self.store, Some(&profile.id), &profile.spec);
            let transport = Transport::new(
                profile.spec.clone(),
                profile.secrets.clone(),
                Timeouts::default(),
            )
            .with_oauth(oauth)
            .with_egress(self.egress.clone())
            .with_clock(self.store.clock().clone())
            .with_pool(self.mail.pool_for(&profile.id, profile.version));
            let mut trace = Trace::new();
            let receipt = transport.send(&mut trace, letter, false).await?;
            // Not a dry run, so a receipt always comes back; an empty one says nothing more.
            Ok(receipt.unwrap_or(Receipt {
                reply: String::new(),
            }))
        })
    }
}

/// A sender for tests: records every letter with the profile it went through, and answers each
/// profile's sends from its script in order (accepted with `250 OK` once the script is empty).
#[derive(Debug, Default)]
pub struct RecordingSender {
    script: Mutex<HashMap<String, VecDeque<Result<Receipt, MailError>>>>,
    sent: Mutex<Vec<(String, Letter)>>,
}

impl RecordingSender {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The next send through `profile_id` answers `result`.
    pub fn answer(&self, profile_id: &str, result: Result<Receipt, MailError>) {
        lock(&self.script)
            .entry(profile_id.to_owned())
            .or_default()
            .push_back(result);
    }

    /// Every send so far: the profile's ID and the letter.
    pub fn sent(&self) -> Vec<(String, Letter)> {
        lock(&self.sent).clone()
    }
}

impl Sender for RecordingSender {
    fn send<'a>(&'a self, profile: &'a ReadyProfile, letter: &'a Letter) -> SendFuture<'a> {
        lock(&self.sent).push((profile.id.clone(), letter.clone()));
        let answer = lock(&self.script)
            .get_mut(&profile.id)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| {
                Ok(Receipt {
                    reply: "250 OK".to_owned(),
                })
            });
        Box::pin(async move { answer })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

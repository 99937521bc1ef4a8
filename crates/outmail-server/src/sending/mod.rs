//! "A message goes out", in one place: which profile sends it ([`Sending::resolve`]), what the
//! profile's rules make of it ([`compose`]), accepting it into the durable outbox
//! ([`Sending::enqueue`]), and one delivery attempt with its judgement ([`Sending::attempt`]).
//! It also answers which profile a tenant's mail goes through ([`Sending::effective_configuration`]).
//! The REST handlers, support requests and the delivery worker all call this; none of them
//! holds a rule of its own. Deliveries go through the [`Sender`] seam and "now" comes from the
//! store's injected clock, so the judgement is tested without peers or sleeps.

mod attempt;
mod compose;
mod effective;
mod relayed;
mod resolve;
pub mod secrets;
pub mod sender;
mod support;

use std::sync::Arc;

use outmail_store::{Enqueued, NewMessage, QUEUED, SharedClock, Store, StoreError};
use outmail_types::{FieldErrors, Mailbox};

pub use attempt::{MAX_ATTEMPTS, backoff};
pub use compose::{SendRequest, compose, status_of, suppressed_recipients};
pub use relayed::{RelayedMessage, fields as relay_fields};
pub use sender::{ReadyProfile, RecordingSender, Sender, TransportSender};
pub use support::{SupportAccepted, SupportRequest};

use crate::mail::MailRuntime;

/// The sending service of one server; cheap to clone.
#[derive(Clone)]
pub struct Sending {
    pub store: Store,
    pub sender: Arc<dyn Sender>,
    /// Wakes the delivery worker when a message is queued.
    pub mail: Arc<MailRuntime>,
}

/// Why a message was not accepted. Each is the client's to act on, except a fault.
#[derive(Debug)]
pub enum Refusal {
    /// The global master switch is off: nothing is sent, so nothing is stored.
    SendingDisabled,
    /// Neither the tenant, a routing rule nor the global settings name a profile.
    NoProfile,
    /// The tenant (or, for a resend, the message) does not exist.
    NotFound(&'static str),
    /// A support request with no support address set.
    NoSupportAddress,
    /// Fields of the request are invalid, each named.
    Invalid(FieldErrors),
    /// Our fault (the database, a stored document that cannot be read).
    Fault(anyhow::Error),
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Refusal::Fault(error.into())
    }
}

impl Sending {
    pub fn clock(&self) -> &SharedClock {
        self.store.clock()
    }

    /// Accepts a message into the outbox (with its send-frequency claims and idempotency key,
    /// in one transaction) and wakes the worker when there is something to send.
    pub async fn enqueue(&self, message: &NewMessage) -> Result<Enqueued, Refusal> {
        let enqueued = self.store.enqueue_message(message).await?;
        let row = match &enqueued {
            Enqueued::New { row, .. } | Enqueued::Replayed(row) => row,
        };
        if row.status == QUEUED {
            self.mail.wake_workers();
        } else {
            tracing::info!(message = %row.id, status = %row.status, "not queued for delivery");
        }
        Ok(enqueued)
    }
}

/// How a recipient is named in send-frequency claims and suppressed lists: the address alone,
/// lowercased. Enqueue and the worker must agree on it, or suppression would miss.
pub fn recipient_key(mailbox: &Mailbox) -> String {
    mailbox.address().to_string().to_lowercase()
}

/// Decodes a document the server stored itself; failing to read it back is a fault.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    kind: &str,
    id: &str,
    document: &str,
) -> Result<T, Refusal> {
    serde_json::from_str(document).map_err(|error| {
        Refusal::Fault(anyhow::anyhow!(
            "the stored {kind} {id} cannot be read: {error}"
        ))
    })
}

#[cfg(test)]
mod tests;

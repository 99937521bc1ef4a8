//! The worker's judgement through the [`Sender`] seam: a recording sender answers from a script,
//! a manual clock says when "now" is, and a SQLite store in a temporary folder keeps the
//! outbox. No peer, no sleep.

use std::sync::Arc;
use std::time::Duration;

use outmail_mail::{Letter, MailError, Reason, Receipt};
use outmail_store::{
    AttemptOutcome, Enqueued, Keyring, ManualClock, MessageRow, NewMessage, ProfileWrite, Store,
    StoreOptions,
};
use outmail_types::diagnosis::Stage;
use outmail_types::profile::ProfileDraft;
use outmail_types::{Charset, Mailbox};

use super::*;
use crate::mail::MailRuntime;

const START: i64 = 1_800_000_000_000;

struct Harness {
    _dir: tempfile::TempDir,
    sending: Sending,
    sender: Arc<RecordingSender>,
    clock: Arc<ManualClock>,
    primary: String,
    alternate: String,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::load(dir.path()).unwrap();
    let clock = ManualClock::starting_at(START);
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("outbox.db").display()
    );
    let store = Store::connect(&url, StoreOptions::new(keyring).clock(clock.clone()))
        .await
        .unwrap();
    let alternate = save_profile(&store, "Backup relay", "backup.example.com", None).await;
    let primary = save_profile(&store, "Main relay", "main.example.com", Some(&alternate)).await;
    let sender = RecordingSender::new();
    let sending = Sending {
        store,
        sender: sender.clone(),
        mail: Arc::new(MailRuntime::default()),
    };
    Harness {
        _dir: dir,
        sending,
        sender,
        clock,
        primary,
        alternate,
    }
}

async fn save_profile(store: &Store, name: &str, host: &str, alternate: Option<&str>) -> String {
    let draft = serde_json::json!({
        "name": name,
        "transport": {
            "kind": "smtp", "host": host, "port": 25, "security": "none",
            "auth": {"kind": "none"}
        },
        "sender": {"address": "alerts@example.com"},
        "alternate_profile_id": alternate,
    });
    let draft: ProfileDraft = serde_json::from_value(draft).unwrap();
    let spec = draft.validate().unwrap();
    let write = ProfileWrite {
        name: spec.name.to_string(),
        name_key: spec.name.name_key(),
        transport: spec.transport.kind().as_str().to_owned(),
        target: spec.target(),
        document: serde_json::to_string(&spec).unwrap(),
        refers_to: alternate.iter().map(|id| id.to_string()).collect(),
    };
    store.create_profile(&write, Vec::new()).await.unwrap().id
}

fn mailbox(text: &str) -> Mailbox {
    Mailbox::parse(text, Charset::Ascii).unwrap()
}

fn letter(to: &[&str]) -> Letter {
    let from = mailbox("alerts@example.com");
    Letter {
        message_id: Letter::new_message_id(from.address()),
        from,
        reply_to: None,
        to: to.iter().map(|t| mailbox(t)).collect(),
        cc: Vec::new(),
        bcc: Vec::new(),
        subject: "Disk almost full".to_owned(),
        text: Some("92 %".to_owned()),
        html: None,
        headers: Vec::new(),
        mime: None,
        attachments: Vec::new(),
    }
}

impl Harness {
    async fn queue(&self, to: &[&str], window_ms: i64) -> MessageRow {
        let letter = letter(to);
        let message = NewMessage {
            tenant_id: None,
            profile_id: self.primary.clone(),
            document: serde_json::to_string(&letter).unwrap(),
            idempotency_key: None,
            recipients: letter.recipients().map(recipient_key).collect(),
            dedupe_key: "disk".to_owned(),
            window_ms,
            channel: "api".to_owned(),
            source: None,
        };
        match self.sending.enqueue(&message).await.unwrap() {
            Enqueued::New { row, .. } | Enqueued::Replayed(row) => row,
        }
    }

    /// Claims the (one) due message, attempts it and records the outcome.
    async fn attempt_due(&self) -> AttemptOutcome {
        let mut claimed = self
            .sending
            .store
            .claim_due_messages("test-worker", 600_000, 16)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "exactly one message is due");
        let row = claimed.remove(0);
        let outcome = self.sending.attempt(&row).await;
        assert!(
            self.sending
                .store
                .finish_attempt(&row.id, "test-worker", &outcome)
                .await
                .unwrap()
        );
        outcome
    }

    fn sends_through(&self) -> Vec<String> {
        self.sender.sent().into_iter().map(|(id, _)| id).collect()
    }

    /// Whether the primary is on its alternate.
    async fn failed_over(&self) -> bool {
        let failover = self.sending.store.failover(&self.primary).await.unwrap();
        failover.is_some()
    }

    /// Whether no message is due now.
    async fn nothing_due(&self) -> bool {
        let claim = self.sending.store.claim_due_messages("w", 600_000, 16);
        claim.await.unwrap().is_empty()
    }

    fn now(&self) -> i64 {
        self.sending.clock().now_ms()
    }
}

fn smtp(reason: Reason, stage: Stage, code: u16) -> MailError {
    MailError::new(reason, stage, format!("{code} the server's words")).with_smtp_reply(code)
}

fn http(reason: Reason, status: u16) -> MailError {
    MailError::new(reason, Stage::Send, format!("{status} the service's words"))
        .with_http_status(status)
}

#[tokio::test]
async fn a_transient_fault_is_retried_with_a_doubling_delay_and_fails_after_eight_attempts() {
    let h = harness().await;
    let row = h.queue(&["ops@example.com"], 0).await;
    for attempt in 0..MAX_ATTEMPTS {
        h.sender.answer(
            &h.primary,
            Err(smtp(Reason::ServiceUnavailable, Stage::Rcpt, 451)),
        );
        let before = h.now();
        match h.attempt_due().await {
            AttemptOutcome::Retry { at, error, .. } if attempt + 1 < MAX_ATTEMPTS => {
                let full = (30_000_i64 << attempt).min(3_600_000);
                let delay = at - before;
                assert!(
                    delay <= full && delay >= full * 8 / 10,
                    "attempt {attempt}: retried after {delay} ms, wanted {full} ms less at most a fifth"
                );
                assert!(error.contains("451"), "{error}");
                h.clock
                    .advance(Duration::from_millis(u64::try_from(delay).unwrap()));
            }
            AttemptOutcome::Failed { error, .. } if attempt + 1 == MAX_ATTEMPTS => {
                assert!(error.contains("service_unavailable"), "{error}");
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
    let stored = h.sending.store.get_message(&row.id).await.unwrap();
    assert_eq!((stored.status.as_str(), stored.attempts), ("failed", 8));
    assert_eq!(h.sends_through().len(), 8);
}

#[tokio::test]
async fn nothing_is_claimed_before_its_retry_falls_due() {
    let h = harness().await;
    h.queue(&["ops@example.com"], 0).await;
    h.sender.answer(
        &h.primary,
        Err(smtp(Reason::ServiceUnavailable, Stage::Rcpt, 451)),
    );
    h.attempt_due().await;
    h.clock.advance(Duration::from_secs(23));
    assert!(h.nothing_due().await, "due at 24 s at the earliest");
    h.clock.advance(Duration::from_secs(7));
    assert_eq!(
        h.attempt_due().await,
        AttemptOutcome::Sent {
            server: "main.example.com:25 (none): 250 OK".to_owned()
        }
    );
}

#[tokio::test]
async fn the_servers_retry_after_is_honoured_when_longer_than_the_backoff() {
    let h = harness().await;
    // Graph's 429 with Retry-After, and EWS's ErrorServerBusy with its BackOffMilliseconds.
    let mut graph = http(Reason::Throttled, 429);
    graph.retry_after = Some(Duration::from_secs(2 * 3_600));
    let mut ews = http(Reason::Throttled, 500);
    ews.retry_after = Some(Duration::from_secs(300));
    for (error, wait_ms) in [(graph, 7_200_000), (ews, 300_000)] {
        h.queue(&["ops@example.com"], 0).await;
        h.sender.answer(&h.primary, Err(error));
        let before = h.now();
        match h.attempt_due().await {
            AttemptOutcome::Retry { at, .. } => assert_eq!(at - before, wait_ms),
            other => panic!("{other:?}"),
        }
        h.clock.advance(Duration::from_millis(wait_ms as u64));
        assert!(matches!(h.attempt_due().await, AttemptOutcome::Sent { .. }));
    }
}

#[tokio::test]
async fn a_permanent_refusal_fails_at_once_whatever_transport_said_it() {
    let h = harness().await;
    let refusals = [
        http(Reason::Rejected, 400),
        http(Reason::GraphUnauthorized, 401),
        // The app lacks Mail.Send: retrying for two hours cannot grant it.
        http(Reason::AccessDenied, 403),
        http(Reason::MailboxNotFound, 404),
        http(Reason::MessageTooLarge, 413),
        // EWS refusing the credentials.
        http(Reason::AuthFailed, 401),
        // An HTTP proxy refusing ours (tinyproxy says 401, the standard says 407).
        MailError::new(Reason::ProxyAuthFailed, Stage::Connect, "401").with_http_status(401),
        MailError::new(Reason::ProxyAuthFailed, Stage::Connect, "407").with_http_status(407),
        smtp(Reason::RecipientRejected, Stage::Rcpt, 550),
        smtp(Reason::AuthFailed, Stage::Auth, 535),
    ];
    for (n, refusal) in refusals.into_iter().enumerate() {
        let row = h.queue(&["ops@example.com"], 0).await;
        h.sender.answer(&h.primary, Err(refusal.clone()));
        match h.attempt_due().await {
            AttemptOutcome::Failed { error, .. } => {
                assert_eq!(error, refusal.to_string(), "{refusal:?}");
            }
            other => panic!("{refusal:?}: {other:?}"),
        }
        assert_eq!(
            h.sending.store.get_message(&row.id).await.unwrap().attempts,
            1
        );
        assert_eq!(h.sends_through().len(), n + 1, "sent once: {refusal:?}");
    }
    assert!(!h.failed_over().await);
}

#[tokio::test]
async fn an_outage_fails_over_and_the_same_attempt_goes_out_through_the_alternate() {
    let h = harness().await;
    let row = h.queue(&["ops@example.com"], 0).await;
    h.sender.answer(
        &h.primary,
        Err(MailError::new(
            Reason::ConnectionRefused,
            Stage::Connect,
            "refused",
        )),
    );
    h.sender.answer(
        &h.alternate,
        Ok(Receipt {
            reply: "250 2.0.0 queued as 7F3".to_owned(),
        }),
    );
    assert_eq!(
        h.attempt_due().await,
        AttemptOutcome::Sent {
            server: "backup.example.com:25 (none): 250 2.0.0 queued as 7F3".to_owned()
        }
    );
    assert_eq!(h.sends_through(), [h.primary.clone(), h.alternate.clone()]);
    let failover = h.sending.store.failover(&h.primary).await.unwrap().unwrap();
    assert_eq!(failover.alternate_id, h.alternate);
    let stored = h.sending.store.get_message(&row.id).await.unwrap();
    assert_eq!((stored.status.as_str(), stored.attempts), ("sent", 1));

    // It stays there: the next message goes straight to the alternate.
    h.queue(&["ops@example.com"], 0).await;
    assert!(matches!(h.attempt_due().await, AttemptOutcome::Sent { .. }));
    assert_eq!(h.sends_through().last(), Some(&h.alternate));
}

#[tokio::test]
async fn a_refusal_by_the_alternate_is_judged_as_the_alternates() {
    let h = harness().await;
    h.queue(&["ops@example.com"], 0).await;
    h.sender.answer(
        &h.primary,
        Err(MailError::new(Reason::Timeout, Stage::Connect, "no answer")),
    );
    h.sender.answer(
        &h.alternate,
        Err(smtp(Reason::RecipientRejected, Stage::Rcpt, 550)),
    );
    match h.attempt_due().await {
        AttemptOutcome::Failed { server, error } => {
            assert_eq!(server, "backup.example.com:25 (none)");
            assert!(error.starts_with("recipient_rejected"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // An outage of the alternate is not followed further, and is retried.
    h.queue(&["ops@example.com"], 0).await;
    h.sender.answer(
        &h.alternate,
        Err(MailError::new(
            Reason::ConnectionRefused,
            Stage::Connect,
            "refused",
        )),
    );
    assert!(matches!(
        h.attempt_due().await,
        AttemptOutcome::Retry { .. }
    ));
    assert_eq!(h.sends_through().len(), 3);
}

#[tokio::test]
async fn a_message_whose_final_dot_went_out_unanswered_is_never_sent_again() {
    let h = harness().await;
    let row = h.queue(&["ops@example.com"], 0).await;
    let dropped = MailError::new(
        Reason::ConnectionDropped,
        Stage::Data,
        "closed after the dot",
    )
    .after_final_dot();
    h.sender.answer(&h.primary, Err(dropped));
    match h.attempt_due().await {
        AttemptOutcome::Failed { error, .. } => assert!(error.starts_with("delivery unknown")),
        other => panic!("{other:?}"),
    }
    h.clock.advance(Duration::from_secs(86_400));
    assert!(h.nothing_due().await);
    assert_eq!(h.sends_through(), std::slice::from_ref(&h.primary));
    assert!(!h.failed_over().await);
    assert_eq!(
        h.sending.store.get_message(&row.id).await.unwrap().status,
        "failed"
    );
}

#[tokio::test]
async fn recipients_left_out_by_the_send_frequency_are_not_sent_to_however_they_are_written() {
    let h = harness().await;
    h.queue(&["ops@example.com"], 300_000).await;
    h.attempt_due().await;
    h.queue(&["\"Ops\" <OPS@Example.com>", "dev@example.com"], 300_000)
        .await;
    h.attempt_due().await;
    let (_, second) = h.sender.sent().pop().unwrap();
    let to: Vec<String> = second.to.iter().map(|m| m.address().to_string()).collect();
    assert_eq!(to, ["dev@example.com"]);
}

#[tokio::test]
async fn an_unreadable_suppressed_list_stops_the_message_instead_of_mailing_everyone() {
    let h = harness().await;
    h.queue(&["ops@example.com"], 0).await;
    let mut claimed = h
        .sending
        .store
        .claim_due_messages("w", 600_000, 16)
        .await
        .unwrap();
    let mut row = claimed.remove(0);
    row.suppressed_recipients = "[\"ops@example.com\"".to_owned();
    match h.sending.attempt(&row).await {
        AttemptOutcome::Failed { error, .. } => {
            assert!(
                error.contains("suppressed recipients cannot be read"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(h.sender.sent().is_empty());
}

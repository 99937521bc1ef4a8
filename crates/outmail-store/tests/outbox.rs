//! The outbox on both backends: accept, send-frequency claims (also under concurrency),
//! idempotency keys, leases that come back after a crash, retries and the delivery log.

mod support;

use std::time::Duration;

use outmail_store::{AttemptOutcome, Enqueued, MessageQuery, NewMessage, Store};
use support::Harness;

on_both_backends!(
    an_accepted_message_is_claimed_once_and_finished,
    the_same_alert_to_the_same_recipient_is_suppressed_within_the_window,
    concurrent_identical_alerts_let_exactly_one_through,
    an_idempotency_key_returns_the_first_message,
    an_expired_lease_lets_another_worker_take_over,
    a_retry_waits_for_its_time,
    the_delivery_log_filters_by_status_and_tenant,
    the_delivery_log_filters_by_channel_and_keeps_the_source,
    messages_committed_together_are_each_answered_as_if_alone,
);

fn message(recipients: &[&str], key: &str, window_ms: i64) -> NewMessage {
    NewMessage {
        tenant_id: None,
        profile_id: "relay".to_owned(),
        document: r#"{"subject":"disk full"}"#.to_owned(),
        idempotency_key: None,
        recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
        dedupe_key: key.to_owned(),
        window_ms,
        channel: "api".to_owned(),
        source: None,
    }
}

async fn accept(store: &Store, message: &NewMessage) -> (String, String, Vec<String>) {
    match store.enqueue_message(message).await.expect("enqueue") {
        Enqueued::New { row, suppressed } => (row.id, row.status, suppressed),
        Enqueued::Replayed(row) => panic!("unexpected replay of {}", row.id),
    }
}

async fn an_accepted_message_is_claimed_once_and_finished(h: &Harness) {
    let (id, status, _) = accept(&h.store, &message(&["a@example.net"], "k", 0)).await;
    assert_eq!(status, "queued");
    let claimed = h.store.claim_due_messages("w1", 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id);
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("w1"));
    assert!(
        h.store
            .claim_due_messages("w2", 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let sent = AttemptOutcome::Sent {
        server: "smtp.example.net:587".into(),
    };
    assert!(h.store.finish_attempt(&id, "w1", &sent).await.unwrap());
    let row = h.store.get_message(&id).await.unwrap();
    assert_eq!(row.status, "sent");
    assert_eq!(row.attempts, 1);
    assert_eq!(row.server_used.as_deref(), Some("smtp.example.net:587"));
    assert!(row.lease_owner.is_none());
}

async fn the_same_alert_to_the_same_recipient_is_suppressed_within_the_window(h: &Harness) {
    let window = 300;
    let (_, first, _) = accept(
        &h.store,
        &message(&["a@example.net", "b@example.net"], "disk", window),
    )
    .await;
    assert_eq!(first, "queued");
    // b already had this alert; c had not: only b is left out.
    let (_, second, suppressed) = accept(
        &h.store,
        &message(&["b@example.net", "c@example.net"], "disk", window),
    )
    .await;
    assert_eq!(second, "queued");
    assert_eq!(suppressed, ["b@example.net"]);
    // Everyone had it: the whole message is suppressed.
    let (id, third, _) = accept(&h.store, &message(&["a@example.net"], "disk", window)).await;
    assert_eq!(third, "suppressed");
    assert_eq!(
        h.store
            .get_message(&id)
            .await
            .unwrap()
            .suppressed_recipients,
        r#"["a@example.net"]"#
    );
    // Another alert is not suppressed; and after the window the same one goes again.
    assert_eq!(
        accept(&h.store, &message(&["a@example.net"], "cpu", window))
            .await
            .1,
        "queued"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        accept(&h.store, &message(&["a@example.net"], "disk", window))
            .await
            .1,
        "queued"
    );
}

async fn concurrent_identical_alerts_let_exactly_one_through(h: &Harness) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = h.store.clone();
            tokio::spawn(async move {
                accept(&store, &message(&["ops@example.net"], "disk", 60_000))
                    .await
                    .1
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "queued",
            "suppressed",
            "suppressed",
            "suppressed",
            "suppressed",
            "suppressed",
            "suppressed",
            "suppressed"
        ]
    );
}

async fn an_idempotency_key_returns_the_first_message(h: &Harness) {
    let mut first = message(&["a@example.net"], "k", 0);
    first.idempotency_key = Some("order-42".into());
    let (id, _, _) = accept(&h.store, &first).await;
    match h.store.enqueue_message(&first).await.unwrap() {
        Enqueued::Replayed(row) => assert_eq!(row.id, id),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert_eq!(
        h.scalar(
            "SELECT COUNT(*) FROM messages WHERE idempotency_key = $1",
            &["order-42"]
        )
        .await,
        1
    );
}

async fn an_expired_lease_lets_another_worker_take_over(h: &Harness) {
    let (id, _, _) = accept(&h.store, &message(&["a@example.net"], "k", 0)).await;
    assert_eq!(
        h.store
            .claim_due_messages("crashed", 100, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        h.store
            .claim_due_messages("w2", 100, 10)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let taken = h.store.claim_due_messages("w2", 60_000, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    let sent = AttemptOutcome::Sent { server: "s".into() };
    assert!(
        !h.store.finish_attempt(&id, "crashed", &sent).await.unwrap(),
        "the old lease is void"
    );
    assert!(h.store.finish_attempt(&id, "w2", &sent).await.unwrap());
}

async fn a_retry_waits_for_its_time(h: &Harness) {
    let (id, _, _) = accept(&h.store, &message(&["a@example.net"], "k", 0)).await;
    h.store.claim_due_messages("w", 60_000, 10).await.unwrap();
    let later = AttemptOutcome::Retry {
        at: outmail_now() + 300,
        server: "s".into(),
        error: "421 busy".into(),
    };
    assert!(h.store.finish_attempt(&id, "w", &later).await.unwrap());
    assert!(
        h.store
            .claim_due_messages("w", 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let again = h.store.claim_due_messages("w", 60_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("421 busy"));
}

async fn the_delivery_log_filters_by_status_and_tenant(h: &Harness) {
    let mut acme = message(&["a@example.net"], "k1", 0);
    acme.tenant_id = Some("acme".into());
    let (acme_id, _, _) = accept(&h.store, &acme).await;
    accept(&h.store, &message(&["b@example.net"], "k2", 0)).await;
    let (sent_id, _, _) = accept(&h.store, &message(&["c@example.net"], "k3", 0)).await;
    for row in h.store.claim_due_messages("w", 60_000, 10).await.unwrap() {
        if row.id == sent_id {
            let sent = AttemptOutcome::Sent { server: "s".into() };
            h.store.finish_attempt(&row.id, "w", &sent).await.unwrap();
        }
    }
    let all = h
        .store
        .list_messages(&MessageQuery {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let tenant = MessageQuery {
        tenant_id: Some("acme".into()),
        limit: 50,
        ..Default::default()
    };
    let rows = h.store.list_messages(&tenant).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [acme_id.as_str()]
    );
    let sent = MessageQuery {
        status: Some("sent".into()),
        limit: 50,
        ..Default::default()
    };
    let rows = h.store.list_messages(&sent).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [sent_id.as_str()]
    );
}

fn outmail_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

async fn the_delivery_log_filters_by_channel_and_keeps_the_source(h: &Harness) {
    let (api_id, _, _) = accept(&h.store, &message(&["a@example.net"], "k1", 0)).await;
    let mut relayed = message(&["b@example.net"], "k2", 0);
    relayed.channel = "smtp".to_owned();
    relayed.source = Some(r#"{"token":"billing","client":"127.0.0.1:5"}"#.to_owned());
    let (smtp_id, _, _) = accept(&h.store, &relayed).await;
    let by_channel = |channel: &str| MessageQuery {
        channel: Some(channel.to_owned()),
        limit: 50,
        ..Default::default()
    };
    let rows = h.store.list_messages(&by_channel("smtp")).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [smtp_id.as_str()]
    );
    assert_eq!(rows[0].source.as_deref(), relayed.source.as_deref());
    let rows = h.store.list_messages(&by_channel("api")).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [api_id.as_str()]
    );
    assert_eq!(rows[0].channel, "api");
    assert_eq!(rows[0].source, None);
}

/// Many messages at once share commits; each is still judged as if it were alone: one key used
/// by 20 of them is stored once and replayed to the other 19, and the 20 others are each new.
async fn messages_committed_together_are_each_answered_as_if_alone(h: &Harness) {
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = h.store.clone();
            tokio::spawn(async move {
                let mut m = message(&[&format!("r{n}@example.net")], &format!("k{n}"), 0);
                m.idempotency_key = Some(if n % 2 == 0 {
                    "same".to_owned()
                } else {
                    format!("own-{n}")
                });
                match store.enqueue_message(&m).await.expect("enqueue") {
                    Enqueued::New { row, .. } => ("new", row.id, n % 2 == 0),
                    Enqueued::Replayed(row) => ("replayed", row.id, n % 2 == 0),
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    let shared: Vec<_> = answers.iter().filter(|a| a.2).collect();
    assert_eq!(
        shared.iter().filter(|a| a.0 == "new").count(),
        1,
        "{answers:?}"
    );
    assert!(
        shared.iter().all(|a| a.1 == shared[0].1),
        "one message for the shared key"
    );
    let own: Vec<_> = answers.iter().filter(|a| !a.2).collect();
    assert!(own.iter().all(|a| a.0 == "new"), "{answers:?}");
    let stored = h
        .store
        .list_messages(&MessageQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 21);
}

//! Pooled SMTP connections against the aiosmtpd peer: messages share one authenticated TLS
//! connection, a connection the server closed is replaced without losing the message, and a
//! refused message or a dry run never leaves a connection behind.

use std::sync::Arc;
use std::time::Duration;

use outmail_mail::message::Letter;
use outmail_mail::transport::Transport;
use outmail_mail::{PoolSlot, SmtpPool, Trace};
use outmail_testkit::{Pki, ServerCert, SmtpPeer, arg, profile, quick_timeouts, smtp_draft};
use outmail_types::Mailbox;
use outmail_types::diagnosis::Stage;

fn letter(from: &Mailbox, to: &str, subject: &str) -> Letter {
    Letter {
        message_id: Letter::new_message_id(from.address()),
        from: from.clone(),
        reply_to: None,
        to: vec![Mailbox::parse_ascii(to).expect("to")],
        cc: vec![],
        bcc: vec![],
        subject: subject.to_owned(),
        text: Some("pooled".to_owned()),
        html: None,
        headers: vec![],
        mime: None,
        attachments: Vec::new(),
    }
}

/// A STARTTLS peer requiring AUTH PLAIN that closes connections idle for a second, and a
/// transport to it keeping its connections in `pool`.
fn pooled_peer(pki: &Pki, pool: &Arc<SmtpPool>) -> (SmtpPeer, Transport, Mailbox) {
    let (crt, key) = pki.files(ServerCert::Good);
    let peer = SmtpPeer::start(&[
        "--tls",
        "starttls",
        "--cert",
        arg(&crt),
        "--key",
        arg(&key),
        "--auth",
        "PLAIN",
        "--user",
        "relay",
        "--password",
        "s3cret",
        "--require-auth",
        "--idle-timeout",
        "1",
        "--reject-rcpt-domain",
        "refused.example",
    ]);
    let (transport, from) = pooled_transport(&peer, pki, pool, "profile@1");
    (peer, transport, from)
}

/// A transport signing in to `peer`, keeping its connections in `pool` under `key`.
fn pooled_transport(
    peer: &SmtpPeer,
    pki: &Pki,
    pool: &Arc<SmtpPool>,
    key: &str,
) -> (Transport, Mailbox) {
    let auth = r#"{"kind": "basic", "username": "relay", "password": {"value": "s3cret"}, "mechanism": "plain"}"#;
    let (spec, secrets) = profile(&smtp_draft(
        peer.port,
        "starttls",
        Some(&pki.ca_pem),
        auth,
        false,
    ));
    let from = spec.sender.from_mailbox();
    let transport = Transport::new(spec, secrets, quick_timeouts()).with_pool(PoolSlot {
        pool: pool.clone(),
        key: key.to_owned(),
    });
    (transport, from)
}

fn ran(trace: &Trace, stage: Stage) -> bool {
    trace.stages().iter().any(|s| s.stage == stage)
}

#[tokio::test]
async fn messages_share_one_authenticated_connection_until_the_server_closes_it() {
    let pki = Pki::new();
    let pool = Arc::new(SmtpPool::new());
    let (peer, transport, from) = pooled_peer(&pki, &pool);

    let mut traces = Vec::new();
    for n in 1..=3 {
        let mut trace = Trace::new();
        transport
            .send(
                &mut trace,
                &letter(&from, "ops@example.net", &format!("n{n}")),
                false,
            )
            .await
            .unwrap_or_else(|e| panic!("message {n}: {e:?}"));
        traces.push(trace);
    }
    assert_eq!(pool.idle_count(), 1);
    // Only the first message paid for TLS and AUTH; the others went straight to MAIL.
    assert!(ran(&traces[0], Stage::Tls) && ran(&traces[0], Stage::Auth));
    for trace in &traces[1..] {
        assert!(!ran(trace, Stage::Tls) && !ran(trace, Stage::Auth));
        assert!(ran(trace, Stage::Data));
    }

    // The peer closes the idle connection; the next message still arrives, over a new one.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let mut trace = Trace::new();
    transport
        .send(&mut trace, &letter(&from, "ops@example.net", "n4"), false)
        .await
        .expect("message 4 over a new connection");
    assert!(ran(&trace, Stage::Auth), "a new connection signs in again");

    let spooled = peer.messages();
    let seen: Vec<(String, u64, u64, bool)> = spooled
        .iter()
        .map(|m| {
            (
                m["data"]
                    .as_str()
                    .unwrap()
                    .lines()
                    .find(|l| l.starts_with("Subject:"))
                    .unwrap()
                    .to_owned(),
                m["client_port"].as_u64().unwrap(),
                m["connection_message"].as_u64().unwrap(),
                m["tls"].as_bool().unwrap() && m["auth_mechanism"] == "PLAIN",
            )
        })
        .collect();
    assert_eq!(seen.len(), 4, "{seen:?}");
    let first_port = seen[0].1;
    assert_eq!(
        seen.iter()
            .map(|s| (s.0.as_str(), s.1 == first_port, s.2, s.3))
            .collect::<Vec<_>>(),
        [
            ("Subject: n1", true, 1, true),
            ("Subject: n2", true, 2, true),
            ("Subject: n3", true, 3, true),
            ("Subject: n4", false, 1, true),
        ]
    );
}

#[tokio::test]
async fn a_refused_message_or_a_dry_run_leaves_no_connection_behind() {
    let pki = Pki::new();
    let pool = Arc::new(SmtpPool::new());
    let (peer, transport, from) = pooled_peer(&pki, &pool);

    transport
        .send(
            &mut Trace::new(),
            &letter(&from, "ops@example.net", "kept"),
            false,
        )
        .await
        .expect("first message");
    assert_eq!(pool.idle_count(), 1);

    // Refused on the reused connection: the error is the server's, and the connection goes.
    let error = transport
        .send(
            &mut Trace::new(),
            &letter(&from, "ops@refused.example", "no"),
            false,
        )
        .await
        .expect_err("the peer refuses the recipient");
    assert_eq!(
        (error.reason_code(), error.stage),
        ("relay_denied", Stage::Rcpt)
    );
    assert_eq!(pool.idle_count(), 0);

    // A dry run proves every stage on its own connection and keeps nothing.
    let mut trace = Trace::new();
    transport
        .send(&mut trace, &letter(&from, "ops@example.net", "dry"), true)
        .await
        .expect("dry run");
    assert!(ran(&trace, Stage::Auth));
    assert_eq!(pool.idle_count(), 0);
    assert_eq!(peer.messages().len(), 1);
}

#[tokio::test]
async fn connections_are_kept_per_key() {
    let pki = Pki::new();
    let pool = Arc::new(SmtpPool::new());
    let (peer, transport, from) = pooled_peer(&pki, &pool);
    transport
        .send(
            &mut Trace::new(),
            &letter(&from, "ops@example.net", "a"),
            false,
        )
        .await
        .expect("first");
    // The same server under another key (another profile, or this one after an edit) does
    // not get the parked connection.
    let (other, _) = pooled_transport(&peer, &pki, &pool, "profile@2");
    let mut trace = Trace::new();
    other
        .send(&mut trace, &letter(&from, "ops@example.net", "b"), false)
        .await
        .expect("second");
    assert!(ran(&trace, Stage::Auth));
    assert_eq!(pool.idle_count(), 2);
    let ports: Vec<u64> = peer
        .messages()
        .iter()
        .map(|m| m["client_port"].as_u64().unwrap())
        .collect();
    assert_ne!(ports[0], ports[1]);
}

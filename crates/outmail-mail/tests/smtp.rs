//! SMTP against real peers (aiosmtpd from Debian, tinyproxy, microsocks) and scripted fault
//! peers: every security mode and auth mechanism, and every SMTP remedy provoked once.

use outmail_mail::Trace;
use outmail_mail::message::Letter;
use outmail_mail::transport::Secrets;
use outmail_mail::transport::Transport;
use outmail_testkit::fault::{self, Script};
use outmail_testkit::{
    Pki, ServerCert, SmtpPeer, arg, profile, quick_timeouts, reason, run, smtp_draft,
};
use outmail_types::diagnosis::{Direction, Outcome, Stage, StageStatus, TestReport};
use outmail_types::{Mailbox, ProfileSpec};

const NO_AUTH: &str = r#"{"kind": "none"}"#;

fn basic(user: &str, password: &str, mechanism: &str) -> String {
    format!(
        r#"{{"kind": "basic", "username": "{user}", "password": {{"value": "{password}"}}, "mechanism": "{mechanism}"}}"#
    )
}

fn tls_peer(pki: &Pki, mode: &str, cert: ServerCert, extra: &[&str]) -> SmtpPeer {
    let (crt, key) = pki.files(cert);
    let mut args = vec!["--tls", mode, "--cert", arg(&crt), "--key", arg(&key)];
    args.extend_from_slice(extra);
    SmtpPeer::start(&args)
}

/// A TLS peer in `mode` that requires AUTH with `offered` mechanisms for `login`, and a profile
/// with `security` and the private CA that signs in to it with `mechanism`.
fn signing_in(
    pki: &Pki,
    mode: &str,
    security: &str,
    offered: &str,
    login: (&str, &str),
    mechanism: &str,
) -> (SmtpPeer, ProfileSpec, Secrets) {
    let (user, password) = login;
    let peer = tls_peer(
        pki,
        mode,
        ServerCert::Good,
        &[
            "--auth",
            offered,
            "--user",
            user,
            "--password",
            password,
            "--require-auth",
        ],
    );
    let auth = basic(user, password, mechanism);
    let (spec, secrets) = profile(&smtp_draft(
        peer.port,
        security,
        Some(&pki.ca_pem),
        &auth,
        false,
    ));
    (peer, spec, secrets)
}

fn stage_status(
    report: &outmail_types::diagnosis::TestReport,
    stage: Stage,
) -> Option<StageStatus> {
    report
        .stages
        .iter()
        .find(|s| s.stage == stage)
        .map(|s| s.status)
}

#[tokio::test]
async fn plain_smtp_without_auth_delivers_the_message_with_signature_and_headers() {
    let peer = SmtpPeer::start(&[]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    let stages: Vec<Stage> = report.stages.iter().map(|s| s.stage).collect();
    assert_eq!(
        stages,
        [
            Stage::Prepare,
            Stage::Resolve,
            Stage::Connect,
            Stage::Greeting,
            Stage::Ehlo,
            Stage::Mail,
            Stage::Rcpt,
            Stage::Data
        ]
    );
    let messages = peer.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["mail_from"], "sender@example.com");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["ops@example.net"]));
    let data = m["data"].as_str().expect("data");
    assert!(data.contains("Subject: outmail test: Peer test"), "{data}");
    assert!(data.contains("\r\n-- \r\nThe operations team"), "{data}");
    assert!(data.contains("X-Outmail-Test: 1"), "{data}");
    let id = report.message_id.as_deref().expect("message id");
    assert!(data.contains(&format!("Message-ID: <{id}>")), "{data}");
    assert!(
        data.contains("From: \"Outmail Test\" <sender@example.com>"),
        "{data}"
    );
}

#[tokio::test]
async fn a_dry_run_stops_before_data_and_delivers_nothing() {
    let peer = SmtpPeer::start(&[]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", true).await;
    assert_eq!(report.outcome, Outcome::DryRunPassed, "{report:#?}");
    assert_eq!(stage_status(&report, Stage::Rcpt), Some(StageStatus::Ok));
    assert_eq!(
        stage_status(&report, Stage::Data),
        Some(StageStatus::Skipped)
    );
    assert!(!report.transcript.iter().any(|l| l.text == "DATA"));
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn starttls_with_auth_plain_and_a_custom_ca_delivers_and_redacts_the_password() {
    let pki = Pki::new();
    let (peer, spec, secrets) = signing_in(
        &pki,
        "starttls",
        "starttls",
        "PLAIN,LOGIN",
        ("alice", "pl41n-s3cret"),
        "plain",
    );
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    let m = &peer.messages()[0];
    assert_eq!(m["tls"], true);
    assert_eq!(m["auth_mechanism"], "PLAIN");
    assert_eq!(m["auth_login"], "alice");
    let transcript = serde_json::to_string(&report.transcript).expect("json");
    assert!(!transcript.contains("pl41n-s3cret"));
    // base64 of "\0alice\0pl41n-s3cret" must not leak either.
    assert!(
        !transcript.contains("AGFsaWNlAHBsNDFuLXMzY3JldA"),
        "{transcript}"
    );
    assert!(
        transcript.contains("AUTH PLAIN [credentials redacted]"),
        "{transcript}"
    );
    // EHLO is sent again after STARTTLS.
    let ehlos = report
        .transcript
        .iter()
        .filter(|l| l.direction == Direction::Client && l.text.starts_with("EHLO"))
        .count();
    assert_eq!(ehlos, 2, "{transcript}");
}

#[tokio::test]
async fn starttls_with_auth_login_answers_both_challenges() {
    let pki = Pki::new();
    let (peer, spec, secrets) = signing_in(
        &pki,
        "starttls",
        "starttls",
        "LOGIN",
        ("bob@example.com", "l0gin-pw"),
        "auto",
    );
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    assert_eq!(peer.messages()[0]["auth_mechanism"], "LOGIN");
    let transcript = serde_json::to_string(&report.transcript).expect("json");
    assert!(
        !transcript.contains("l0gin-pw") && !transcript.contains("bDBnaW4tcHc"),
        "{transcript}"
    );
}

/// `AUTH NTLM` (MS-SMTPNTLM) with an NTLMv2 response, checked by the peer's own MS-NLMP
/// implementation; a wrong password is a 535 on the password field.
#[tokio::test]
async fn starttls_with_auth_ntlm_delivers_and_a_wrong_password_is_refused() {
    let pki = Pki::new();
    let ntlm_peer = || {
        tls_peer(
            &pki,
            "starttls",
            ServerCert::Good,
            &[
                "--auth",
                "NTLM",
                "--user",
                "svc-mailer",
                "--password",
                "Ntlm-pw-1",
                "--ntlm-domain",
                "CORP",
                "--require-auth",
            ],
        )
    };
    let draft = |port: u16, password: &str| {
        smtp_draft(
            port,
            "starttls",
            Some(&pki.ca_pem),
            &format!(
                r#"{{"kind": "ntlm", "username": "svc-mailer", "domain": "CORP", "password": {{"value": "{password}"}}}}"#
            ),
            false,
        )
    };
    let peer = ntlm_peer();
    let (spec, secrets) = profile(&draft(peer.port, "Ntlm-pw-1"));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    let message = &peer.messages()[0];
    assert_eq!(message["auth_mechanism"], "NTLM");
    assert_eq!(message["auth_login"], "CORP\\svc-mailer");
    let transcript = serde_json::to_string(&report.transcript).expect("json");
    assert!(!transcript.contains("Ntlm-pw-1"), "{transcript}");

    let peer = ntlm_peer();
    let (spec, secrets) = profile(&draft(peer.port, "wrong"));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!(
        failure.reason, "microsoft365_auth_unsuccessful",
        "{failure:#?}"
    );
    assert_eq!(failure.code, Some(535));
    assert_eq!(failure.field.as_deref(), Some("transport.auth.password"));
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_with_auth_plain_delivers() {
    let pki = Pki::new();
    let (peer, spec, secrets) = signing_in(
        &pki,
        "implicit",
        "tls",
        "PLAIN",
        ("carol", "tls-pw"),
        "auto",
    );
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    assert_eq!(
        report.stages[3].stage,
        Stage::Tls,
        "TLS comes before the greeting: {report:#?}"
    );
    assert_eq!(peer.messages()[0]["tls"], true);
}

#[tokio::test]
async fn an_internationalised_recipient_goes_through_a_peer_that_offers_smtputf8() {
    let peer = SmtpPeer::start(&["--smtputf8", "on"]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, true));
    let report = run(spec, secrets, "山田太郎@株式.会社", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    let m = &peer.messages()[0];
    let options = m["mail_options"].as_array().expect("options");
    assert!(options.iter().any(|o| o == "SMTPUTF8"), "{m}");
    let rcpt = m["rcpt_tos"][0].as_str().expect("rcpt");
    assert!(rcpt.starts_with("山田太郎@"), "{rcpt}");
}

#[tokio::test]
async fn an_internationalised_recipient_is_refused_clearly_when_smtputf8_is_not_offered() {
    let peer = SmtpPeer::start(&["--smtputf8", "off"]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, true));
    let report = run(spec, secrets, "山田太郎@株式.会社", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(failure.reason, "smtputf8_not_supported");
    assert_eq!(failure.stage, Stage::Mail);
    assert_eq!(failure.field.as_deref(), Some("utf8_headers"));
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn a_non_ascii_recipient_needs_utf8_headers_on_the_profile() {
    let peer = SmtpPeer::start(&[]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "山田太郎@株式.会社", false).await;
    assert_eq!(reason(&report), "utf8_headers_off", "{report:#?}");
}

// ---- Remedies, each provoked by a peer ----

#[tokio::test]
async fn implicit_tls_against_a_plain_port_is_the_wrong_port_for_the_security_mode() {
    let peer = SmtpPeer::start(&[]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "tls", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.stage),
        ("wrong_port_for_security", Stage::Tls),
        "{report:#?}"
    );
    assert_eq!(failure.field.as_deref(), Some("transport.security"));
    assert!(failure.remedy.contains("STARTTLS"), "{}", failure.remedy);
}

#[tokio::test]
async fn starttls_against_an_implicit_tls_port_is_the_wrong_port_for_the_security_mode() {
    let pki = Pki::new();
    let peer = tls_peer(&pki, "implicit", ServerCert::Good, &[]);
    let (spec, secrets) = profile(&smtp_draft(
        peer.port,
        "starttls",
        Some(&pki.ca_pem),
        NO_AUTH,
        false,
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.stage),
        ("wrong_port_for_security", Stage::Greeting),
        "{report:#?}"
    );
    assert!(
        failure.remedy.contains("implicit TLS"),
        "{}",
        failure.remedy
    );
}

#[tokio::test]
async fn a_self_signed_certificate_is_untrusted_and_points_at_the_custom_ca() {
    let pki = Pki::new();
    let peer = tls_peer(&pki, "implicit", ServerCert::SelfSigned, &[]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "tls", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.stage),
        ("certificate_untrusted", Stage::Tls),
        "{report:#?}"
    );
    assert_eq!(failure.field.as_deref(), Some("transport.ca_certificate"));
}

/// A self-signed server certificate pasted as the custom CA is trusted; one marked CA:TRUE
/// cannot be (TLS refuses a CA as a server certificate) and gets its own remedy.
#[tokio::test]
async fn a_self_signed_certificate_pasted_as_the_ca_works_unless_it_is_marked_as_a_ca() {
    let pki = Pki::new();
    for (which, expected) in [
        (ServerCert::SelfSigned, "none"),
        (ServerCert::SelfSignedCa, "certificate_is_ca"),
    ] {
        let peer = tls_peer(&pki, "implicit", which, &[]);
        let own = std::fs::read_to_string(pki.files(which).0).expect("certificate");
        let (spec, secrets) = profile(&smtp_draft(peer.port, "tls", Some(&own), NO_AUTH, false));
        let report = run(spec, secrets, "ops@example.net", false).await;
        assert_eq!(reason(&report), expected, "{report:#?}");
        if let Some(failure) = &report.failure {
            assert_eq!(failure.field.as_deref(), Some("transport.ca_certificate"));
            assert!(failure.remedy.contains("CA:FALSE"), "{}", failure.remedy);
        }
    }
}

#[tokio::test]
async fn an_expired_certificate_is_reported_as_expired_even_with_the_right_ca() {
    let pki = Pki::new();
    let peer = tls_peer(&pki, "starttls", ServerCert::Expired, &[]);
    let (spec, secrets) = profile(&smtp_draft(
        peer.port,
        "starttls",
        Some(&pki.ca_pem),
        NO_AUTH,
        false,
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(reason(&report), "certificate_expired", "{report:#?}");
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn a_certificate_for_another_host_is_reported_as_the_wrong_host() {
    let pki = Pki::new();
    let peer = tls_peer(&pki, "implicit", ServerCert::WrongHost, &[]);
    let (spec, secrets) = profile(&smtp_draft(
        peer.port,
        "tls",
        Some(&pki.ca_pem),
        NO_AUTH,
        false,
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(failure.reason, "certificate_wrong_host", "{report:#?}");
    assert_eq!(failure.field.as_deref(), Some("transport.host"));
}

#[tokio::test]
async fn starttls_required_but_not_offered_never_falls_back_to_plain_text() {
    let peer = SmtpPeer::start(&["--auth", "PLAIN", "--user", "u", "--password", "p"]);
    let (spec, secrets) = profile(&smtp_draft(
        peer.port,
        "starttls",
        None,
        &basic("u", "p", "auto"),
        false,
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(reason(&report), "starttls_not_offered", "{report:#?}");
    assert!(
        !report
            .transcript
            .iter()
            .any(|l| l.text.starts_with("AUTH") || l.text.starts_with("MAIL"))
    );
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn a_454_answer_to_starttls_is_reported_as_refused() {
    let peer = fault::start(Script::StartTls454).await;
    let (spec, secrets) = profile(&smtp_draft(peer.port, "starttls", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.code),
        ("starttls_refused", Some(454)),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_535_that_blames_the_password() {
    let peer = SmtpPeer::start(&[
        "--auth",
        "PLAIN,LOGIN",
        "--user",
        "alice",
        "--password",
        "right",
    ]);
    let (spec, secrets) = profile(&smtp_draft(
        peer.port,
        "none",
        None,
        &basic("alice", "wrong", "auto"),
        false,
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.code, failure.stage),
        ("auth_failed", Some(535), Stage::Auth),
        "{report:#?}"
    );
    assert_eq!(failure.field.as_deref(), Some("transport.auth.password"));
    assert!(failure.message.contains("5.7.8"), "{}", failure.message);
}

/// A test send with basic auth (`mechanism`) to a fault peer that answers AUTH with `reply`.
async fn auth_reply_report(reply: &'static str, mechanism: &str) -> TestReport {
    let peer = fault::start(Script::AuthReply(reply)).await;
    let auth = basic("a@contoso.com", "pw", mechanism);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, &auth, false));
    run(spec, secrets, "ops@example.net", false).await
}

#[tokio::test]
async fn microsoft_5_7_139_means_smtp_auth_is_disabled_for_the_tenant() {
    let report = auth_reply_report("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.", "login").await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        failure.reason, "microsoft365_smtp_auth_disabled",
        "{report:#?}"
    );
    assert!(failure.remedy.contains("Authenticated SMTP"));
}

#[tokio::test]
async fn microsoft_5_7_3_is_an_unsuccessful_sign_in() {
    let report = auth_reply_report(
        "535 5.7.3 Authentication unsuccessful [SN4PR0601CA0021.namprd06.prod.outlook.com]",
        "plain",
    )
    .await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        failure.reason, "microsoft365_auth_unsuccessful",
        "{report:#?}"
    );
    assert_eq!(failure.field.as_deref(), Some("transport.auth.password"));
}

#[tokio::test]
async fn relaying_denied_is_reported_at_rcpt() {
    let peer = SmtpPeer::start(&["--reject-rcpt-domain", "elsewhere.test"]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "someone@elsewhere.test", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.code, failure.stage),
        ("relay_denied", Some(550), Stage::Rcpt),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_message_over_the_servers_size_limit_is_refused_before_it_is_sent() {
    let peer = SmtpPeer::start(&["--max-size", "200"]);
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(failure.reason, "message_too_large", "{report:#?}");
    assert!(
        failure.message.contains("at most 200"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn a_552_after_rcpt_is_too_large() {
    let peer = fault::start(Script::RcptReply(
        "552 5.3.4 Message size exceeds fixed maximum message size",
    ))
    .await;
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(reason(&report), "message_too_large", "{report:#?}");
}

#[tokio::test]
async fn a_closed_port_is_connection_refused_and_blames_the_port() {
    let port = fault::closed_port();
    let (spec, secrets) = profile(&smtp_draft(port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.stage),
        ("connection_refused", Stage::Connect),
        "{report:#?}"
    );
    assert_eq!(failure.field.as_deref(), Some("transport.port"));
}

#[tokio::test]
async fn a_server_that_stops_answering_is_a_timeout_at_that_stage() {
    let peer = fault::start(Script::GreetThenHang).await;
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.stage),
        ("timeout", Stage::Ehlo),
        "{report:#?}"
    );
    assert_eq!(
        stage_status(&report, Stage::Ehlo),
        Some(StageStatus::Failed)
    );
}

#[tokio::test]
async fn a_silent_server_that_does_not_speak_tls_either_is_a_timeout_at_the_greeting() {
    let peer = fault::start(Script::Silent).await;
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.stage),
        ("timeout", Stage::Greeting),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_421_greeting_is_a_temporary_refusal() {
    let peer = fault::start(Script::Greeting421).await;
    let (spec, secrets) = profile(&smtp_draft(peer.port, "none", None, NO_AUTH, false));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.code),
        ("service_unavailable", Some(421)),
        "{report:#?}"
    );
}

async fn send_through(peer_port: u16, body_bytes: usize) -> outmail_mail::MailError {
    let (spec, secrets) = profile(&smtp_draft(peer_port, "none", None, NO_AUTH, false));
    let transport = Transport::new(spec.clone(), secrets, quick_timeouts());
    let from = spec.sender.from_mailbox();
    let letter = Letter {
        message_id: Letter::new_message_id(from.address()),
        from,
        reply_to: None,
        to: vec![Mailbox::parse_ascii("ops@example.net").expect("to")],
        cc: vec![],
        bcc: vec![],
        subject: "drop".to_owned(),
        text: Some(
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
                .repeat(body_bytes / 66 + 1),
        ),
        html: None,
        headers: vec![],
        mime: None,
        attachments: Vec::new(),
    };
    transport
        .send(&mut Trace::new(), &letter, false)
        .await
        .expect_err("the peer drops the connection")
}

#[tokio::test]
async fn a_drop_during_data_is_a_dropped_connection_and_safe_to_retry() {
    let peer = fault::start(Script::DropMidData).await;
    // Larger than the loopback socket buffers: the drop happens while we are still writing.
    // Small: the whole message is written before the drop, and the server's reset (it closed
    // with our final dot unread) says it cannot have taken it.
    for size in [32 << 20, 400] {
        let error = send_through(peer.port, size).await;
        assert_eq!(
            (error.reason_code(), error.stage),
            ("connection_dropped", Stage::Data)
        );
        assert!(!error.delivery_unknown, "{size}: {error:?}");
    }
}

#[tokio::test]
async fn a_drop_after_the_final_dot_leaves_the_delivery_unknown() {
    let peer = fault::start(Script::DropAfterDot).await;
    let error = send_through(peer.port, 400).await;
    assert_eq!(
        (error.reason_code(), error.stage),
        ("connection_dropped", Stage::Data)
    );
    assert!(error.delivery_unknown, "{error:?}");
}

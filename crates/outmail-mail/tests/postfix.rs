//! A real Postfix (a private instance per test): STARTTLS with SASL AUTH PLAIN and LOGIN, its
//! exact refusals (535 5.7.8, 554 relay access denied, 552 size), AUTH only after STARTTLS, and
//! local delivery through Postfix's own sendmail.

use std::os::unix::fs::PermissionsExt;

use outmail_testkit::{Pki, PostfixPeer, profile, run, smtp_draft};
use outmail_types::diagnosis::Outcome;

const USER: &str = "relay@example.test";
const PASSWORD: &str = "Postfix-pw-1";

fn auth(mechanism: &str, password: &str) -> String {
    format!(
        r#"{{"kind": "basic", "username": "{USER}", "password": {{"value": "{password}"}}, "mechanism": "{mechanism}"}}"#
    )
}

#[tokio::test]
async fn starttls_with_sasl_plain_and_login_delivers() {
    let pki = Pki::new();
    let postfix = PostfixPeer::start(&pki, USER, PASSWORD, &[]);
    for (n, mechanism) in ["plain", "login"].into_iter().enumerate() {
        let (spec, secrets) = profile(&smtp_draft(
            postfix.port,
            "starttls",
            Some(&pki.ca_pem),
            &auth(mechanism, PASSWORD),
            false,
        ));
        let report = run(spec, secrets, "ops@example.net", false).await;
        assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
        let delivered = postfix.delivered(n + 1);
        let message = &delivered[n];
        assert_eq!(message["auth_mechanism"], mechanism.to_uppercase());
        assert_eq!(message["auth_login"], USER);
        assert_eq!(message["tls"], true);
        assert_eq!(message["rcpt_tos"], serde_json::json!(["ops@example.net"]));
        assert!(
            message["data"]
                .as_str()
                .unwrap()
                .contains("X-Outmail-Test: 1")
        );
        let transcript = serde_json::to_string(&report.transcript).unwrap();
        assert!(!transcript.contains(PASSWORD), "{transcript}");
    }
}

#[tokio::test]
async fn postfix_refusals_become_causes() {
    let pki = Pki::new();
    let postfix = PostfixPeer::start(&pki, USER, PASSWORD, &["--max-size", "2000"]);
    let none = r#"{"kind": "none"}"#;
    let cases = [
        ("starttls", auth("auto", "wrong"), "auth_failed", Some(535)),
        ("starttls", none.to_owned(), "relay_denied", Some(554)),
        // Postfix offers AUTH only after STARTTLS.
        ("none", auth("plain", PASSWORD), "auth_not_offered", None),
    ];
    for (security, auth, expected, code) in cases {
        let ca = (security != "none").then_some(pki.ca_pem.as_str());
        let (spec, secrets) = profile(&smtp_draft(postfix.port, security, ca, &auth, false));
        let report = run(spec, secrets, "ops@example.net", false).await;
        let failure = report.failure.as_ref().expect("a failure");
        assert_eq!(failure.reason, expected, "{failure:#?}");
        assert_eq!(failure.code, code, "{failure:#?}");
    }
    // Over the advertised SIZE.
    let (mut spec, secrets) = profile(&smtp_draft(
        postfix.port,
        "starttls",
        Some(&pki.ca_pem),
        &auth("plain", PASSWORD),
        false,
    ));
    spec.signature = Some(outmail_types::Signature::parse(&"x".repeat(3000)).unwrap());
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!(failure.reason, "message_too_large", "{failure:#?}");
}

/// The `local` transport handing the message to Postfix's own sendmail (pointed at this
/// instance's configuration), which queues and delivers it.
#[tokio::test]
async fn local_delivery_through_postfix_sendmail() {
    let pki = Pki::new();
    let postfix = PostfixPeer::start(&pki, USER, PASSWORD, &[]);
    let wrapper = postfix.dir.path().join("sendmail-for-this-instance");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/sbin/sendmail -C '{}' \"$@\"\n",
            postfix.dir.path().join("conf").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (spec, secrets) = profile(&format!(
        r#"{{
          "name": "Local Postfix",
          "transport": {{"kind": "local", "sendmail_path": "{}"}},
          "sender": {{"address": "ops@example.com"}},
          "utf8_headers": false
        }}"#,
        wrapper.display()
    ));
    let report = run(spec, secrets, "rcpt@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    let delivered = postfix.delivered(1);
    assert_eq!(delivered[0]["mail_from"], "ops@example.com");
    assert_eq!(
        delivered[0]["rcpt_tos"],
        serde_json::json!(["rcpt@example.net"])
    );
}

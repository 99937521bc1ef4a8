//! SMTP through real proxies on loopback: tinyproxy (HTTP CONNECT, with and without basic auth)
//! and microsocks (SOCKS5, with and without a password), STARTTLS through the tunnel, and the
//! proxy's own refusals.

use outmail_testkit::fault;
use outmail_testkit::{
    Pki, ProxyPeer, ServerCert, SmtpPeer, arg, profile, reason, run, smtp_draft, with_proxy,
};
use outmail_types::diagnosis::{Outcome, Stage};

const NO_AUTH: &str = r#"{"kind": "none"}"#;

fn starttls_peer(pki: &Pki) -> SmtpPeer {
    let (crt, key) = pki.files(ServerCert::Good);
    SmtpPeer::start(&["--tls", "starttls", "--cert", arg(&crt), "--key", arg(&key)])
}

#[tokio::test]
async fn starttls_through_an_http_connect_proxy_with_basic_auth_delivers() {
    let pki = Pki::new();
    let peer = starttls_peer(&pki);
    let proxy = ProxyPeer::tinyproxy(Some(("relay", "pr0xy-pw")));
    let draft = smtp_draft(peer.port, "starttls", Some(&pki.ca_pem), NO_AUTH, false);
    let (spec, secrets) = profile(&with_proxy(
        &draft,
        "http",
        proxy.port,
        Some(("relay", "pr0xy-pw")),
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    let connect = report
        .stages
        .iter()
        .find(|s| s.stage == Stage::Connect)
        .expect("connect");
    assert!(
        connect.detail.contains("via http proxy"),
        "{}",
        connect.detail
    );
    assert_eq!(peer.messages()[0]["tls"], true);
    assert!(
        !serde_json::to_string(&report)
            .expect("json")
            .contains("pr0xy-pw")
    );
}

#[tokio::test]
async fn a_wrong_proxy_password_blames_the_proxy_password() {
    let peer = SmtpPeer::start(&[]);
    let proxy = ProxyPeer::tinyproxy(Some(("relay", "right")));
    let draft = smtp_draft(peer.port, "none", None, NO_AUTH, false);
    let (spec, secrets) = profile(&with_proxy(
        &draft,
        "http",
        proxy.port,
        Some(("relay", "wrong")),
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(failure.reason, "proxy_auth_failed", "{report:#?}");
    // tinyproxy says 401 to a CONNECT with bad credentials, where RFC 9110 says 407.
    assert!(matches!(failure.code, Some(401 | 407)), "{report:#?}");
    assert_eq!(failure.field.as_deref(), Some("proxy.password"));
}

#[tokio::test]
async fn plain_smtp_through_a_socks5_proxy_delivers() {
    let peer = SmtpPeer::start(&[]);
    let proxy = ProxyPeer::microsocks(None);
    let draft = smtp_draft(peer.port, "none", None, NO_AUTH, false);
    let (spec, secrets) = profile(&with_proxy(&draft, "socks5", proxy.port, None));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    assert_eq!(peer.messages().len(), 1);
}

#[tokio::test]
async fn starttls_through_a_socks5_proxy_with_a_password_delivers() {
    let pki = Pki::new();
    let peer = starttls_peer(&pki);
    let proxy = ProxyPeer::microsocks(Some(("sockuser", "s0cks-pw")));
    let draft = smtp_draft(peer.port, "starttls", Some(&pki.ca_pem), NO_AUTH, false);
    let (spec, secrets) = profile(&with_proxy(
        &draft,
        "socks5",
        proxy.port,
        Some(("sockuser", "s0cks-pw")),
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    assert_eq!(peer.messages()[0]["tls"], true);
}

#[tokio::test]
async fn a_socks5_proxy_refusing_the_password_is_a_proxy_auth_failure() {
    let peer = SmtpPeer::start(&[]);
    let proxy = ProxyPeer::microsocks(Some(("sockuser", "right")));
    let draft = smtp_draft(peer.port, "none", None, NO_AUTH, false);
    let (spec, secrets) = profile(&with_proxy(
        &draft,
        "socks5",
        proxy.port,
        Some(("sockuser", "wrong")),
    ));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(reason(&report), "proxy_auth_failed", "{report:#?}");
}

#[tokio::test]
async fn a_proxy_that_is_not_running_is_proxy_refused_and_blames_the_proxy() {
    let peer = SmtpPeer::start(&[]);
    let draft = smtp_draft(peer.port, "none", None, NO_AUTH, false);
    let (spec, secrets) = profile(&with_proxy(&draft, "socks5", fault::closed_port(), None));
    let report = run(spec, secrets, "ops@example.net", false).await;
    let failure = report.failure.as_ref().expect("fails");
    assert_eq!(
        (failure.reason.as_str(), failure.stage),
        ("proxy_refused", Stage::Connect),
        "{report:#?}"
    );
    assert_eq!(failure.field.as_deref(), Some("proxy.host"));
}

#[tokio::test]
async fn a_proxy_that_cannot_reach_the_server_says_so() {
    let proxy = ProxyPeer::microsocks(None);
    let draft = smtp_draft(fault::closed_port(), "none", None, NO_AUTH, false);
    let (spec, secrets) = profile(&with_proxy(&draft, "socks5", proxy.port, None));
    let report = run(spec, secrets, "ops@example.net", false).await;
    assert_eq!(reason(&report), "proxy_failed", "{report:#?}");
}

//! The egress policy against real peers: refused addresses are never connected to, an
//! allowlisted one is, and pinning the resolved address leaves TLS checking the host name.

use outmail_mail::EgressPolicy;
use outmail_testkit::{
    Pki, ProxyPeer, ServerCert, SmtpPeer, arg, profile, reason, run_within, smtp_draft, with_proxy,
};
use outmail_types::diagnosis::{Outcome, Stage};

const NO_AUTH: &str = r#"{"kind": "none"}"#;

fn starttls_peer(pki: &Pki, cert: ServerCert) -> SmtpPeer {
    let (crt, key) = pki.files(cert);
    SmtpPeer::start(&["--tls", "starttls", "--cert", arg(&crt), "--key", arg(&key)])
}

fn transcript(report: &outmail_types::diagnosis::TestReport) -> String {
    report
        .transcript
        .iter()
        .map(|line| line.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn loopback_off() -> EgressPolicy {
    EgressPolicy::new(false, vec![])
}

#[tokio::test]
async fn a_host_resolving_to_a_refused_address_is_not_connected_to() {
    let pki = Pki::new();
    let peer = starttls_peer(&pki, ServerCert::Good);
    let draft = smtp_draft(peer.port, "starttls", Some(&pki.ca_pem), NO_AUTH, false);
    let (spec, secrets) = profile(&draft);
    // `localhost` resolves (the resolve stage passes), then every address it has is refused.
    let report = run_within(spec, secrets, "ops@example.net", false, loopback_off()).await;
    assert_eq!(reason(&report), "egress_refused", "{report:#?}");
    let failure = report.failure.as_ref().unwrap();
    assert_eq!(failure.stage, Stage::Connect);
    assert_eq!(failure.field.as_deref(), Some("transport.host"));
    assert!(
        transcript(&report).contains("not connecting to 127.0.0.1"),
        "{report:#?}"
    );
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn an_allowlisted_address_is_reached_and_tls_still_checks_the_host_name() {
    let pki = Pki::new();
    let only_this = EgressPolicy::new(false, vec!["127.0.0.1/32".parse().unwrap()]);

    let peer = starttls_peer(&pki, ServerCert::Good);
    let draft = smtp_draft(peer.port, "starttls", Some(&pki.ca_pem), NO_AUTH, false);
    let (spec, secrets) = profile(&draft);
    let report = run_within(spec, secrets, "ops@example.net", false, only_this.clone()).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:#?}");
    assert_eq!(peer.messages().len(), 1);

    // The connection goes to the pinned address, but the certificate is still checked
    // against `localhost`, the name the admin typed.
    let wrong = starttls_peer(&pki, ServerCert::WrongHost);
    let draft = smtp_draft(wrong.port, "starttls", Some(&pki.ca_pem), NO_AUTH, false);
    let (spec, secrets) = profile(&draft);
    let report = run_within(spec, secrets, "ops@example.net", false, only_this).await;
    assert_eq!(reason(&report), "certificate_wrong_host", "{report:#?}");
    assert!(wrong.messages().is_empty());
}

#[tokio::test]
async fn metadata_and_private_addresses_are_refused_before_any_connection() {
    let everything = EgressPolicy::new(true, vec!["0.0.0.0/0".parse().unwrap()]);
    for (host, policy, why) in [
        ("169.254.169.254", everything.clone(), "link-local"),
        ("[fd00:ec2::254]", everything, "metadata"),
        ("10.0.0.25", EgressPolicy::default(), "egress allowlist"),
    ] {
        let draft = smtp_draft(25, "none", None, NO_AUTH, false)
            .replace("\"localhost\"", &format!("\"{host}\""));
        let (spec, secrets) = profile(&draft);
        let started = std::time::Instant::now();
        let report = run_within(spec, secrets, "ops@example.net", false, policy).await;
        assert_eq!(reason(&report), "egress_refused", "{host}: {report:#?}");
        assert!(
            report.failure.as_ref().unwrap().message.contains(why),
            "{report:#?}"
        );
        // Refused on the spot, not after a connection attempt timed out.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{host}"
        );
    }
}

#[tokio::test]
async fn a_proxy_is_no_way_around_the_policy() {
    let proxy = ProxyPeer::microsocks(None);
    let draft = smtp_draft(25, "none", None, NO_AUTH, false)
        .replace("\"localhost\"", "\"169.254.169.254\"");
    let (spec, secrets) = profile(&with_proxy(&draft, "socks5", proxy.port, None));
    let report = run_within(
        spec,
        secrets,
        "ops@example.net",
        false,
        EgressPolicy::default(),
    )
    .await;
    assert_eq!(reason(&report), "egress_refused", "{report:#?}");

    // The proxy's own address is judged too.
    let draft = smtp_draft(25, "none", None, NO_AUTH, false);
    let (spec, secrets) = profile(&with_proxy(&draft, "socks5", proxy.port, None));
    let report = run_within(spec, secrets, "ops@example.net", false, loopback_off()).await;
    assert_eq!(reason(&report), "egress_refused", "{report:#?}");
    assert_eq!(
        report.failure.as_ref().unwrap().field.as_deref(),
        Some("proxy.host")
    );
}

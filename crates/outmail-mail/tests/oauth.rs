//! OAuth 2.0 against the loopback token service (oauth2-mock-server behind Microsoft's request
//! checks and error shapes), with the token then used for SMTP XOAUTH2 against aiosmtpd:
//! client credentials with a secret and with a certificate, the consent (authorization code +
//! PKCE) and refresh with rotation, the token cache, and each AADSTS remedy.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use outmail_mail::http_client::{HttpConnection, HttpSettings, ShowBody};
use outmail_mail::oauth::{self, RefreshTokenSink, TokenCache};
use outmail_mail::tls::TlsSettings;
use outmail_mail::{Letter, OAuthRuntime, Trace, Transport};
use outmail_testkit::fixtures::{fixture, fixture_path};
use outmail_testkit::{
    CLIENT, CLIENT_SECRET as SECRET, ScriptPeer, SmtpPeer, TENANT, profile, quick_timeouts, reason,
    run, smtp_draft, stages, token_service, transcript,
};
use outmail_types::diagnosis::Stage;
use outmail_types::{Mailbox, SecretSlot, SecretString};

const MAILBOX: &str = "alerts@example.com";
const TOKEN: &str = "fixed-access-token-for-xoauth2";

fn token_url(peer: &ScriptPeer) -> String {
    peer.url(&format!("/{TENANT}/oauth2/v2.0/token"))
}

/// The `auth` JSON of an SMTP profile using OAuth 2.0 through the custom preset.
fn oauth_auth(token_url: &str, client_id: &str, flow: &str, secrets: &str, scopes: &str) -> String {
    format!(
        r#"{{
          "kind": "oauth2", "username": "{MAILBOX}",
          "oauth": {{
            "preset": "custom", "authority": null, "tenant_id": null,
            "client_id": "{client_id}", "flow": {flow},
            "token_url": "{token_url}", "authorize_url": "{authorize}",
            "scopes": "{scopes}", {secrets}
          }}
        }}"#,
        authorize = token_url.replace("/token", "/authorize"),
    )
}

fn secret_credential(secret: &str) -> (String, String) {
    (
        r#"{"kind": "client_credentials", "credential": {"kind": "secret"}}"#.to_owned(),
        format!(
            r#""client_secret": {{"value": "{secret}"}}, "private_key": {{"set": false}}, "refresh_token": {{"set": false}}"#
        ),
    )
}

fn certificate_credential() -> (String, String) {
    let cert = serde_json::to_string(&fixture("client_cert.pem")).unwrap();
    let key = serde_json::to_string(&fixture("client_key_pkcs8.pem")).unwrap();
    (
        format!(
            r#"{{"kind": "client_credentials", "credential": {{"kind": "certificate", "certificate": {cert}}}}}"#
        ),
        format!(
            r#""client_secret": {{"set": false}}, "private_key": {{"value": {key}}}, "refresh_token": {{"set": false}}"#
        ),
    )
}

const APP_SCOPE: &str = "https://outlook.office365.com/.default";

fn xoauth2_peer(token: &str) -> SmtpPeer {
    SmtpPeer::start(&[
        "--auth",
        "XOAUTH2",
        "--user",
        MAILBOX,
        "--token",
        token,
        "--require-auth",
    ])
}

fn oauth_peer(extra: &[&str]) -> ScriptPeer {
    token_service(MAILBOX, TOKEN, extra)
}

#[tokio::test]
async fn client_credentials_with_a_secret_send_through_xoauth2() {
    let tokens = oauth_peer(&[]);
    let smtp = xoauth2_peer(TOKEN);
    let (flow, secrets) = secret_credential(SECRET);
    let auth = oauth_auth(&token_url(&tokens), CLIENT, &flow, &secrets, APP_SCOPE);
    let (spec, secrets) = profile(&smtp_draft(smtp.port, "none", None, &auth, false));
    let report = run(spec, secrets, "rcpt@example.net", false).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(
        stages(&report)[..3],
        ["prepare:ok", "token:ok", "resolve:ok"],
        "the token comes before the connection"
    );
    let delivered = smtp.messages();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0]["xoauth2_sasl"],
        format!("user={MAILBOX}\u{1}auth=Bearer {TOKEN}\u{1}\u{1}")
    );
    let requests = tokens.records();
    assert_eq!(requests.len(), 1);
    let form = &requests[0]["body"];
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], CLIENT);
    assert_eq!(form["client_secret"], SECRET);
    assert_eq!(form["scope"], APP_SCOPE);
    let text = transcript(&report);
    assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
    assert!(!text.contains(TOKEN), "the token leaked:\n{text}");
}

#[tokio::test]
async fn client_credentials_with_a_certificate_sign_a_ps256_assertion() {
    let cert = fixture_path("client_cert.pem");
    let tokens = oauth_peer(&["--client-cert", &cert]);
    let smtp = xoauth2_peer(TOKEN);
    let (flow, secrets) = certificate_credential();
    let auth = oauth_auth(&token_url(&tokens), CLIENT, &flow, &secrets, APP_SCOPE);
    let (spec, secrets) = profile(&smtp_draft(smtp.port, "none", None, &auth, false));
    let report = run(spec, secrets, "rcpt@example.net", false).await;
    assert_eq!(reason(&report), "none", "{report:#?}");
    assert_eq!(smtp.messages().len(), 1);
    let form = &tokens.records()[0]["body"];
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(form.get("client_secret").is_none());
    let assertion = form["client_assertion"].as_str().expect("assertion");
    let header = assertion.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "PS256");
    assert!(header["x5t#S256"].is_string(), "{header}");
    assert!(!transcript(&report).contains(assertion));
}

/// Each token-endpoint refusal maps to its cause, field and remedy.
#[tokio::test]
async fn aadsts_errors_name_the_field_to_fix() {
    let tokens = oauth_peer(&["--client-cert", &fixture_path("expired_cert.pem")]);
    let url = token_url(&tokens);
    let other_tenant = tokens.url("/99999999-2222-3333-4444-555555555555/oauth2/v2.0/token");
    let (secret_flow, _) = secret_credential(SECRET);
    let (_, wrong_secret) = secret_credential("not-the-secret");
    let (_, right_secret) = secret_credential(SECRET);
    let (cert_flow, cert_secrets) = certificate_credential();
    let cases = [
        (
            oauth_auth(
                &url,
                "bbbbbbbb-0000-0000-0000-000000000000",
                &secret_flow,
                &right_secret,
                APP_SCOPE,
            ),
            "token_application_not_found",
            "transport.auth.oauth.client_id",
        ),
        (
            oauth_auth(&url, CLIENT, &secret_flow, &wrong_secret, APP_SCOPE),
            "token_invalid_secret",
            "transport.auth.oauth.client_secret",
        ),
        (
            oauth_auth(&url, CLIENT, &cert_flow, &cert_secrets, APP_SCOPE),
            "token_certificate_not_registered",
            "transport.auth.oauth.flow.credential.certificate",
        ),
        (
            oauth_auth(
                &other_tenant,
                CLIENT,
                &secret_flow,
                &right_secret,
                APP_SCOPE,
            ),
            "token_tenant_not_found",
            "transport.auth.oauth.tenant_id",
        ),
        (
            oauth_auth(
                &url,
                CLIENT,
                &secret_flow,
                &right_secret,
                "https://outlook.office365.com/SMTP.Send",
            ),
            "token_refused",
            "transport.auth.oauth.client_id",
        ),
    ];
    for (auth, expected, field) in cases {
        let (spec, secrets) = profile(&smtp_draft(9, "none", None, &auth, false));
        let report = run(spec, secrets, "rcpt@example.net", false).await;
        let failure = report.failure.as_ref().expect("a failure");
        assert_eq!(failure.reason, expected, "{failure:#?}");
        assert_eq!(failure.stage, Stage::Token);
        assert_eq!(failure.field.as_deref(), Some(field), "{failure:#?}");
        assert!(!failure.remedy.is_empty());
        assert!(failure.message.contains("AADSTS"), "{failure:#?}");
        assert!(
            !stages(&report).iter().any(|s| s.starts_with("connect")),
            "nothing is sent to the mail server without a token"
        );
    }
}

#[tokio::test]
async fn an_unreachable_token_endpoint_blames_the_token_url() {
    let closed = outmail_testkit::fault::closed_port();
    let url = format!("http://127.0.0.1:{closed}/{TENANT}/oauth2/v2.0/token");
    let (flow, secrets) = secret_credential(SECRET);
    let auth = oauth_auth(&url, CLIENT, &flow, &secrets, APP_SCOPE);
    let (spec, secrets) = profile(&smtp_draft(9, "none", None, &auth, false));
    let report = run(spec, secrets, "rcpt@example.net", false).await;
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!(failure.reason, "connection_refused");
    assert_eq!(failure.stage, Stage::Token);
    assert_eq!(
        failure.field.as_deref(),
        Some("transport.auth.oauth.token_url")
    );
}

/// A token endpoint on 127.0.0.1 that answers every request with `status_line` and the given
/// extra header lines: an identity service that is down or busy.
async fn token_endpoint_answering(status_line: &'static str, headers: &'static str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 8192];
            let _ = stream.read(&mut request).await;
            let answer = format!(
                "HTTP/1.1 {status_line}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    format!("http://127.0.0.1:{port}/{TENANT}/oauth2/v2.0/token")
}

/// A token service that is down (503) or throttling (429, with Retry-After) is a fault to wait
/// out at the token stage, with its status: not a token response that failed to parse, which
/// read as a permanent refusal and failed every message while the service was down.
#[tokio::test]
async fn a_token_endpoint_that_is_down_or_busy_is_a_transient_fault() {
    for (status_line, headers, expected, code) in [
        ("503 Service Unavailable", "", "server_error", 503),
        (
            "429 Too Many Requests",
            "Retry-After: 7\r\n",
            "throttled",
            429,
        ),
    ] {
        let url = token_endpoint_answering(status_line, headers).await;
        let (flow, secrets) = secret_credential(SECRET);
        let auth = oauth_auth(&url, CLIENT, &flow, &secrets, APP_SCOPE);
        let (spec, secrets) = profile(&smtp_draft(9, "none", None, &auth, false));
        let report = run(spec, secrets, "rcpt@example.net", false).await;
        let failure = report.failure.as_ref().expect("a failure");
        assert_eq!(failure.reason, expected, "{failure:#?}");
        assert_eq!(failure.stage, Stage::Token);
        assert_eq!(failure.code, Some(code));
        if code == 429 {
            assert!(failure.remedy.contains("7 seconds"), "{}", failure.remedy);
        }
    }
}

#[tokio::test]
async fn a_token_the_mail_server_refuses_is_reported_at_auth() {
    let tokens = oauth_peer(&[]);
    let smtp = xoauth2_peer("the-token-the-server-expects");
    let (flow, secrets) = secret_credential(SECRET);
    let auth = oauth_auth(&token_url(&tokens), CLIENT, &flow, &secrets, APP_SCOPE);
    let (spec, secrets) = profile(&smtp_draft(smtp.port, "none", None, &auth, false));
    let report = run(spec, secrets, "rcpt@example.net", false).await;
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!(failure.reason, "oauth_token_rejected", "{failure:#?}");
    assert_eq!(failure.stage, Stage::Auth);
    assert_eq!(
        failure.field.as_deref(),
        Some("transport.auth.oauth.scopes")
    );
    assert!(smtp.messages().is_empty());
}

fn http_settings() -> HttpSettings {
    HttpSettings {
        tls: TlsSettings::new(None).unwrap(),
        proxy: None,
        timeouts: quick_timeouts(),
        egress: Default::default(),
        clock: std::sync::Arc::new(outmail_clock::SystemClock),
    }
}

/// Signs in through the peer's authorize endpoint (it redirects at once with a code) and
/// redeems the code: the refresh token and the signed-in mailbox.
async fn consent(spec: &outmail_types::ProfileSpec) -> oauth::Consented {
    let settings = spec.transport.oauth().expect("oauth settings");
    let start = oauth::consent_start(settings, MAILBOX).expect("consent start");
    assert!(start.authorize_url.contains("code_challenge_method=S256"));
    assert!(start.authorize_url.contains("openid"));
    let url = outmail_types::HttpsUrl::parse(&start.authorize_url).unwrap();
    let mut trace = Trace::new();
    let mut connection = HttpConnection::open(&mut trace, &url, &http_settings())
        .await
        .unwrap();
    let request = http::Request::get(start.authorize_url.as_str())
        .body(Vec::new())
        .unwrap();
    let response = connection
        .send(&mut trace, Stage::Token, request, ShowBody::Always)
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "{:?}", trace.transcript());
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], start.state);
    oauth::consent_finish(
        settings,
        Some(&SecretString::from(SECRET)),
        &http_settings(),
        &query["code"],
        &start.verifier,
    )
    .await
    .expect("code redeemed")
}

fn delegated_auth(tokens: &ScriptPeer) -> String {
    let flow =
        r#"{"kind": "authorization_code", "redirect_url": "http://127.0.0.1:9/oauth/callback"}"#;
    let secrets = format!(
        r#""client_secret": {{"value": "{SECRET}"}}, "private_key": {{"set": false}}, "refresh_token": {{"set": false}}"#
    );
    oauth_auth(
        &token_url(tokens),
        CLIENT,
        flow,
        &secrets,
        "https://outlook.office365.com/SMTP.Send offline_access",
    )
}

fn letter(to: &str) -> Letter {
    let from = Mailbox::parse_ascii(MAILBOX).unwrap();
    Letter {
        message_id: Letter::new_message_id(from.address()),
        from,
        reply_to: None,
        to: vec![Mailbox::parse_ascii(to).unwrap()],
        cc: Vec::new(),
        bcc: Vec::new(),
        subject: "refresh".into(),
        text: Some("body".into()),
        html: None,
        headers: Vec::new(),
        mime: None,
        attachments: Vec::new(),
    }
}

/// Consent gives a refresh token for the signed-in mailbox; each refresh rotates it, the new
/// one reaches the sink, and the spent one is refused with "sign in again".
#[tokio::test]
async fn consent_then_refresh_keeps_the_rotated_refresh_token() {
    let tokens = oauth_peer(&[]);
    let smtp = xoauth2_peer(TOKEN);
    let (spec, mut secrets) = profile(&smtp_draft(
        smtp.port,
        "none",
        None,
        &delegated_auth(&tokens),
        false,
    ));
    let consented = consent(&spec).await;
    assert_eq!(consented.mailbox, MAILBOX);
    let first_refresh = consented.refresh_token;
    secrets.insert(SecretSlot::AuthRefreshToken, first_refresh.clone());

    let stored: Arc<Mutex<Vec<(SecretSlot, String)>>> = Arc::default();
    let sink: RefreshTokenSink = {
        let stored = stored.clone();
        Arc::new(move |slot, token: SecretString| {
            stored
                .lock()
                .unwrap()
                .push((slot, token.expose().to_owned()));
            Box::pin(async { Ok(()) })
        })
    };
    let runtime = OAuthRuntime {
        cache: None,
        sink: Some(sink),
        fresh: true,
    };
    let transport =
        Transport::new(spec.clone(), secrets.clone(), quick_timeouts()).with_oauth(runtime.clone());
    let mut trace = Trace::new();
    transport
        .send(&mut trace, &letter("one@example.net"), false)
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?}", trace.transcript()));
    let rotated = stored.lock().unwrap().clone();
    assert_eq!(rotated.len(), 1);
    assert_eq!(rotated[0].0, SecretSlot::AuthRefreshToken);
    assert_ne!(rotated[0].1, first_refresh.expose());

    // The spent refresh token is refused: the admin must sign in again.
    let mut trace = Trace::new();
    let error = transport
        .send(&mut trace, &letter("two@example.net"), false)
        .await
        .unwrap_err();
    assert_eq!(error.reason_code(), "consent_required", "{error}");

    // The rotated one works.
    secrets.insert(
        SecretSlot::AuthRefreshToken,
        SecretString::from(rotated[0].1.as_str()),
    );
    let transport = Transport::new(spec, secrets, quick_timeouts()).with_oauth(runtime);
    let mut trace = Trace::new();
    transport
        .send(&mut trace, &letter("three@example.net"), false)
        .await
        .unwrap();
    assert_eq!(smtp.messages().len(), 2);
    let grants: Vec<_> = tokens
        .records()
        .iter()
        .filter_map(|r| r["body"]["grant_type"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        grants,
        [
            "authorization_code",
            "refresh_token",
            "refresh_token",
            "refresh_token"
        ]
    );
}

#[tokio::test]
async fn a_delegated_profile_without_consent_asks_for_it() {
    let tokens = oauth_peer(&[]);
    let (spec, secrets) = profile(&smtp_draft(
        9,
        "none",
        None,
        &delegated_auth(&tokens),
        false,
    ));
    let report = run(spec, secrets, "rcpt@example.net", false).await;
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!(failure.reason, "consent_required");
    assert_eq!(
        failure.field.as_deref(),
        Some("transport.auth.oauth.refresh_token")
    );
    assert!(tokens.records().is_empty());
}

/// A cached token is reused until shortly before it expires; a fresh (test) send skips it.
#[tokio::test]
async fn tokens_are_cached_per_profile() {
    let tokens = oauth_peer(&[]);
    let smtp = xoauth2_peer(TOKEN);
    let (flow, secrets) = secret_credential(SECRET);
    let auth = oauth_auth(&token_url(&tokens), CLIENT, &flow, &secrets, APP_SCOPE);
    let (spec, secrets) = profile(&smtp_draft(smtp.port, "none", None, &auth, false));
    let cache = Arc::new(TokenCache::new());
    let cached = OAuthRuntime {
        cache: Some(cache.clone()),
        sink: None,
        fresh: false,
    };
    for n in 0..3 {
        let transport = Transport::new(spec.clone(), secrets.clone(), quick_timeouts())
            .with_oauth(cached.clone());
        let mut trace = Trace::new();
        transport
            .send(&mut trace, &letter(&format!("n{n}@example.net")), false)
            .await
            .unwrap();
    }
    assert_eq!(tokens.records().len(), 1, "one token for three sends");
    let fresh = OAuthRuntime {
        fresh: true,
        ..cached
    };
    let transport = Transport::new(spec, secrets, quick_timeouts()).with_oauth(fresh);
    transport
        .send(&mut Trace::new(), &letter("fresh@example.net"), false)
        .await
        .unwrap();
    assert_eq!(tokens.records().len(), 2);
    assert_eq!(smtp.messages().len(), 4);
}

/// A client secret whose entered expiry date is within 30 days (or past) is a warning on that
/// field; one further away is not.
#[test]
fn a_client_secret_near_its_expiry_is_a_warning() {
    let day = |date: &str| outmail_types::Date::parse(date).unwrap().unix_start();
    let (flow, _) = secret_credential(SECRET);
    let secrets = format!(
        r#""client_secret": {{"value": "{SECRET}"}}, "secret_expires_on": "2026-12-01", "private_key": {{"set": false}}, "refresh_token": {{"set": false}}"#
    );
    let auth = oauth_auth(
        "https://login.example.com/token",
        CLIENT,
        &flow,
        &secrets,
        APP_SCOPE,
    );
    let (spec, _) = profile(&smtp_draft(9, "none", None, &auth, false));
    let codes = |now: i64| -> Vec<(String, Option<String>)> {
        outmail_mail::doctor::warnings(&spec, now)
            .into_iter()
            .map(|w| (w.code, w.field))
            .collect()
    };
    let field = Some("transport.auth.oauth.secret_expires_on".to_owned());
    assert_eq!(
        codes(day("2026-11-22")),
        [("client_secret_expires_soon".to_owned(), field.clone())]
    );
    assert_eq!(
        codes(day("2026-12-02")),
        [("client_secret_expired".to_owned(), field)]
    );
    assert!(codes(day("2026-10-01")).is_empty());
}

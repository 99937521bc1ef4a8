//! Signing in for a delegated (authorization-code) profile through the API: the consent URL,
//! the provider's redirect to `/oauth/callback`, the mailbox check, the sealed refresh token,
//! and test sends that keep the rotated refresh token (the token peer spends each one once).

use axum::http::{Method, StatusCode};
use outmail_mail::http_client::{HttpConnection, HttpSettings, ShowBody};
use outmail_mail::tls::TlsSettings;
use outmail_mail::{Timeouts, Trace};
use outmail_types::HttpsUrl;
use outmail_types::diagnosis::Stage;
use serde_json::{Value, json};

use crate::mail_peers::{ScriptPeer, SmtpPeer};
use crate::on_both_backends;
use crate::support::{CANARIES, TestApp};

const TENANT: &str = "11111111-2222-3333-4444-555555555555";
const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const MAILBOX: &str = "alerts@example.com";
const TOKEN: &str = "access-token-from-the-consent-test";

fn token_peer(mailbox: &str) -> ScriptPeer {
    ScriptPeer::oauth(&[
        "--tenant",
        TENANT,
        "--client-id",
        CLIENT,
        "--client-secret",
        CANARIES[1],
        "--mailbox",
        mailbox,
        "--access-token",
        TOKEN,
    ])
}

fn delegated_draft(tokens: &ScriptPeer, smtp_port: u16) -> Value {
    let base = tokens.url(&format!("/{TENANT}/oauth2/v2.0"));
    json!({
        "name": "Delegated",
        "transport": {
            "kind": "smtp", "host": "127.0.0.1", "port": smtp_port, "security": "none",
            "auth": {
                "kind": "oauth2", "username": MAILBOX,
                "oauth": {
                    "preset": "custom", "client_id": CLIENT,
                    "flow": {"kind": "authorization_code", "redirect_url": "http://127.0.0.1:9/oauth/callback"},
                    "token_url": format!("{base}/token"), "authorize_url": format!("{base}/authorize"),
                    "scopes": "https://outlook.office365.com/SMTP.Send offline_access",
                    "client_secret": {"value": CANARIES[1]}
                }
            }
        },
        "sender": {"address": MAILBOX},
        "utf8_headers": false
    })
}

/// Opens the authorize URL as the popup would; the peer signs in at once and redirects with
/// a code. Returns the callback's query string.
async fn sign_in(authorize_url: &str) -> String {
    let url = HttpsUrl::parse(authorize_url).expect("authorize URL");
    let settings = HttpSettings {
        tls: TlsSettings::new(None).unwrap(),
        proxy: None,
        timeouts: Timeouts::default(),
        egress: Default::default(),
        clock: std::sync::Arc::new(outmail_clock::SystemClock),
    };
    let mut trace = Trace::new();
    let mut connection = HttpConnection::open(&mut trace, &url, &settings)
        .await
        .unwrap();
    let request = http::Request::get(authorize_url).body(Vec::new()).unwrap();
    let response = connection
        .send(&mut trace, Stage::Token, request, ShowBody::Always)
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:9/oauth/callback?"),
        "{location}"
    );
    location.split_once('?').unwrap().1.to_owned()
}

async fn consent(app: &TestApp, id: &str) -> (StatusCode, String) {
    let started = app
        .post(&format!("/api/v1/profiles/{id}/oauth/consent"), &json!({}))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert_eq!(started.json["mailbox"], MAILBOX);
    let query = sign_in(started.json["authorize_url"].as_str().unwrap()).await;
    let page = app
        .call(Method::GET, &format!("/oauth/callback?{query}"), None, &[])
        .await;
    (page.status, page.text)
}

async fn consent_stores_the_refresh_token_and_sends_keep_it_fresh(app: &TestApp) {
    let tokens = token_peer(MAILBOX);
    let smtp = SmtpPeer::start(&[
        "--auth",
        "XOAUTH2",
        "--user",
        MAILBOX,
        "--token",
        TOKEN,
        "--require-auth",
    ]);
    let created = app
        .create_profile(&delegated_draft(&tokens, smtp.port))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let before = app.get(&format!("/api/v1/profiles/{id}")).await.etag();

    // Without consent the test send says what to do.
    let answer = app
        .post(
            &format!("/api/v1/profiles/{id}/test"),
            &json!({"to": "ops@example.net"}),
        )
        .await;
    assert_eq!(
        answer.json["failure"]["reason"], "consent_required",
        "{}",
        answer.text
    );

    let (status, page) = consent(app, &id).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("alerts@example.com is connected"), "{page}");
    assert!(page.contains("data-ok=\"true\""));
    let profile = app.get(&format!("/api/v1/profiles/{id}")).await;
    assert_ne!(
        profile.etag(),
        before,
        "the consent is a change of the profile"
    );
    assert!(!profile.text.contains(TOKEN));

    // Each send refreshes (test sends skip the cache); the peer spends every refresh token
    // once, so the second one works only if the first stored the rotated token.
    for n in 0..2 {
        let answer = app
            .post(
                &format!("/api/v1/profiles/{id}/test"),
                &json!({"to": format!("n{n}@example.net")}),
            )
            .await;
        assert_eq!(answer.json["outcome"], "delivered", "{}", answer.text);
    }
    assert_eq!(smtp.messages().len(), 2);

    // The callback is single use.
    let replay = app
        .call(
            Method::GET,
            "/oauth/callback?code=x&state=replayed",
            None,
            &[],
        )
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.text.contains("expired or was already used"));
}

async fn signing_in_as_another_mailbox_is_refused(app: &TestApp) {
    let tokens = token_peer("someone.else@example.com");
    let created = app.create_profile(&delegated_draft(&tokens, 9)).await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let before = created.etag();
    let (status, page) = consent(app, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(
        page.contains("You signed in as someone.else@example.com"),
        "{page}"
    );
    let profile = app.get(&format!("/api/v1/profiles/{id}")).await;
    assert_eq!(profile.etag(), before, "nothing was stored");
}

async fn consent_needs_the_authorization_code_flow(app: &TestApp) {
    let created = app
        .create_profile(&crate::support::smtp_draft("Plain"))
        .await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let answer = app
        .post(&format!("/api/v1/profiles/{id}/oauth/consent"), &json!({}))
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
    let missing = app
        .post(
            "/api/v1/profiles/pr_00000000000000000000000000/oauth/consent",
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
}

on_both_backends!(
    consent_stores_the_refresh_token_and_sends_keep_it_fresh,
    signing_in_as_another_mailbox_is_refused,
    consent_needs_the_authorization_code_flow,
);

//! Access control through the router: signing in and its throttling, sessions and their
//! timeouts, the cross-site check, roles, API tokens and their scopes, the test-send limit, the
//! audit log, security headers, and every documented route walked as nobody and as a viewer.

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, Answer, CANARIES, Caller, TestApp, VIEWER_EMAIL, smtp_draft};
use outmail_server::auth;
use outmail_server::config::AccessConfig;

const PASSWORD: &str = "correct horse battery staple";

async fn send(
    app: &TestApp,
    caller: &Caller,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Answer {
    let raw = body.map(Value::to_string);
    let content_type = raw.as_ref().map(|_| "application/json");
    app.call_as(caller, method, path, raw.as_deref(), content_type, &[])
        .await
}

/// An account that signs in with [`PASSWORD`].
async fn account(app: &TestApp, email: &str, role: &str) {
    let hash = auth::password::hash(PASSWORD.into()).await.unwrap();
    app.store.create_admin(email, role, &hash).await.unwrap();
}

async fn login(app: &TestApp, email: &str, password: &str, headers: &[(&str, &str)]) -> Answer {
    let body = json!({"email": email, "password": password}).to_string();
    app.call_as(
        &Caller::Anonymous,
        Method::POST,
        "/api/v1/session",
        Some(&body),
        Some("application/json"),
        headers,
    )
    .await
}

fn session_cookie(answer: &Answer) -> String {
    let set_cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    let pair = set_cookie.split(';').next().unwrap();
    pair.to_owned()
}

async fn audit_actions(app: &TestApp) -> Vec<Value> {
    let answer = app.get("/api/v1/audit?per_page=200").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_wrong_passwords_are_throttled() {
    let app = TestApp::sqlite().await;
    account(&app, "ops@example.com", "admin").await;

    let wrong = login(&app, "ops@example.com", "not the password", &[]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    assert_eq!(wrong.json["code"], "invalid_credentials");
    assert!(!wrong.headers.contains_key(header::SET_COOKIE));
    // An unknown email gets the same answer: it does not reveal who has an account.
    let unknown = login(&app, "nobody@example.com", PASSWORD, &[]).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.json["message"], wrong.json["message"]);
    let empty = login(&app, "", "", &[]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!empty.field_codes("email").is_empty() && !empty.field_codes("password").is_empty());

    let right = login(&app, " OPS@example.com ", PASSWORD, &[]).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
    assert_eq!(right.json["email"], "ops@example.com");
    assert_eq!(right.json["role"], "admin");
    let set_cookie = right.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "plain http on loopback: {set_cookie}"
    );
    let behind_https = login(
        &app,
        "ops@example.com",
        PASSWORD,
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(
        behind_https.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Secure")
    );

    // The cookie works, and only its hash is stored.
    let cookie = session_cookie(&right);
    let me = app
        .call_as(
            &Caller::Anonymous,
            Method::GET,
            "/api/v1/session",
            None,
            None,
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["email"], "ops@example.com");
    let token = cookie.trim_start_matches("outmail_session=");
    assert!(app.store.session(token).await.unwrap().is_none());
    assert!(
        app.store
            .session(&auth::digest(token))
            .await
            .unwrap()
            .is_some()
    );

    // Five failures in a row lock the email for a while, even for the right password.
    for _ in 0..auth::MAX_LOGIN_FAILURES {
        let answer = login(&app, "ops@example.com", "guess", &[]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let locked = login(&app, "ops@example.com", PASSWORD, &[]).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    assert_eq!(locked.json["code"], "too_many_attempts");
    let retry: u64 = locked.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&retry), "{retry}");

    let actions: Vec<String> = audit_actions(&app)
        .await
        .iter()
        .map(|event| {
            format!(
                "{} {}",
                event["action"].as_str().unwrap(),
                event["actor"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        actions.contains(&"login ops@example.com".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"login.failed nobody@example.com".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"login.throttled ops@example.com".to_owned()),
        "{actions:?}"
    );
    app.finish().await;
}

/// The status of `GET /session` with this `Cookie` header.
async fn whoami(app: &TestApp, cookie: String) -> StatusCode {
    app.call_as(
        &Caller::Anonymous,
        Method::GET,
        "/api/v1/session",
        None,
        None,
        &[("cookie", &cookie)],
    )
    .await
    .status
}

#[tokio::test]
async fn signing_out_and_the_idle_and_absolute_timeouts_end_a_session() {
    let app = TestApp::sqlite().await;
    account(&app, "ops@example.com", "viewer").await;
    let cookie = session_cookie(&login(&app, "ops@example.com", PASSWORD, &[]).await);
    assert_eq!(whoami(&app, cookie.clone()).await, StatusCode::OK);
    let out = app
        .call_as(
            &Caller::Anonymous,
            Method::DELETE,
            "/api/v1/session",
            None,
            None,
            &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(whoami(&app, cookie).await, StatusCode::UNAUTHORIZED);

    // Idle: the last request was longer ago than the idle timeout (30 minutes).
    let idle = session_cookie(&login(&app, "ops@example.com", PASSWORD, &[]).await);
    let hash = auth::digest(idle.trim_start_matches("outmail_session="));
    let long_ago = app.state.now_ms() - 31 * 60 * 1000;
    app.store.touch_session(&hash, long_ago).await.unwrap();
    assert_eq!(whoami(&app, idle).await, StatusCode::UNAUTHORIZED);
    assert!(
        app.store.session(&hash).await.unwrap().is_none(),
        "an ended session is removed"
    );

    // Absolute: past its end, however active.
    let admin = app
        .store
        .admin_by_email("ops@example.com")
        .await
        .unwrap()
        .unwrap();
    let token = auth::random_token();
    app.store
        .create_session(&auth::digest(&token), &admin.id, app.state.now_ms() - 1)
        .await
        .unwrap();
    assert_eq!(
        whoami(&app, format!("outmail_session={token}")).await,
        StatusCode::UNAUTHORIZED
    );

    // A session that ended and is never presented again is removed at the next sign-in.
    let forgotten = auth::random_token();
    app.store
        .create_session(&auth::digest(&forgotten), &admin.id, app.state.now_ms() - 1)
        .await
        .unwrap();
    assert!(
        app.store
            .session(&auth::digest(&forgotten))
            .await
            .unwrap()
            .is_some()
    );
    let live = session_cookie(&login(&app, "ops@example.com", PASSWORD, &[]).await);
    assert!(
        app.store
            .session(&auth::digest(&forgotten))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(whoami(&app, live.clone()).await, StatusCode::OK);

    // A new password ends every session of the account.
    let hash = auth::password::hash("another long password".into())
        .await
        .unwrap();
    app.store
        .set_admin_password(&admin.id, &hash)
        .await
        .unwrap();
    assert_eq!(whoami(&app, live).await, StatusCode::UNAUTHORIZED);
    app.finish().await;
}

#[tokio::test]
async fn cross_site_writes_are_refused_and_change_nothing() {
    let app = TestApp::sqlite().await;
    let draft = smtp_draft("Forged");
    let body = draft.to_string();
    for (caller, headers) in [
        (Caller::Admin, vec![("origin", "http://evil.example")]),
        (Caller::Admin, vec![("sec-fetch-site", "cross-site")]),
        (Caller::Admin, vec![("sec-fetch-site", "same-site")]),
        (Caller::AdminCookieOnly, vec![]),
    ] {
        let answer = app
            .call_as(
                &caller,
                Method::POST,
                "/api/v1/profiles",
                Some(&body),
                Some("application/json"),
                &headers,
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{headers:?}: {}",
            answer.text
        );
        assert_eq!(answer.json["code"], "csrf");
    }
    assert_eq!(app.get("/api/v1/profiles").await.json["total"], 0);
    // Our own origin passes.
    let ours = app
        .call_as(
            &Caller::Admin,
            Method::POST,
            "/api/v1/profiles",
            Some(&body),
            Some("application/json"),
            &[("origin", "http://outmail.test"), ("host", "outmail.test")],
        )
        .await;
    assert_eq!(ours.status, StatusCode::CREATED, "{}", ours.text);
    app.finish().await;
}

#[tokio::test]
async fn a_viewer_reads_but_changes_nothing_and_sends_no_test() {
    let app = TestApp::sqlite().await;
    let created = app.create_profile(&smtp_draft("Main")).await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let viewer = Caller::Viewer;
    assert_eq!(
        send(&app, &viewer, Method::GET, "/api/v1/profiles", None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(
            &app,
            &viewer,
            Method::GET,
            &format!("/api/v1/profiles/{id}"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let me = send(&app, &viewer, Method::GET, "/api/v1/session", None).await;
    assert_eq!(
        me.json,
        json!({"email": VIEWER_EMAIL, "role": "viewer", "expires_at": me.json["expires_at"]})
    );
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/profiles".to_owned(),
            Some(smtp_draft("Other")),
        ),
        (Method::DELETE, format!("/api/v1/profiles/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/profiles/{id}/test"),
            Some(json!({"to": "ops@example.com", "dry_run": true})),
        ),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            Some(json!({"name": "x", "scopes": ["messages:send"]})),
        ),
        (
            Method::POST,
            "/api/v1/messages".to_owned(),
            Some(json!({"to": ["a@example.com"], "subject": "s", "text": "t"})),
        ),
    ] {
        let answer = send(&app, &viewer, method.clone(), &path, body.as_ref()).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            answer.text
        );
        assert_eq!(answer.json["code"], "forbidden");
    }
    assert_eq!(app.get("/api/v1/profiles").await.json["total"], 1);
    app.finish().await;
}

#[tokio::test]
async fn api_tokens_are_shown_once_reach_only_their_scopes_and_can_be_revoked() {
    let app = TestApp::sqlite().await;
    let bad = app
        .post(
            "/api/v1/tokens",
            &json!({"name": "bad\r\nname", "scopes": []}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!bad.field_codes("name").is_empty() && !bad.field_codes("scopes").is_empty());
    let unknown_scope = app
        .post("/api/v1/tokens", &json!({"name": "x", "scopes": ["admin"]}))
        .await;
    assert_eq!(
        unknown_scope.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown_scope.text
    );

    let created = app
        .post(
            "/api/v1/tokens",
            &json!({"name": "billing", "scopes": ["messages:send"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.headers[header::CACHE_CONTROL], "no-store");
    let token = created.json["token"].as_str().unwrap().to_owned();
    let id = created.json["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("om_") && token.len() > 40, "{token}");
    assert!(token.starts_with(created.json["prefix"].as_str().unwrap()));
    let listed = app.get("/api/v1/tokens").await;
    assert!(
        !listed.text.contains(&token),
        "a listed token never shows the token"
    );
    assert_eq!(listed.json[0]["created_by"], ADMIN_EMAIL);
    assert!(
        app.store.api_token_by_hash(&token).await.unwrap().is_none(),
        "stored hashed"
    );

    let caller = Caller::Token(token.clone());
    // Its scope: queueing a message (409 here only because no profile is set up, which is
    // past the access check).
    let message = json!({"to": ["ops@example.com"], "subject": "Invoice", "text": "Attached."});
    let queued = send(
        &app,
        &caller,
        Method::POST,
        "/api/v1/messages",
        Some(&message),
    )
    .await;
    assert!(
        queued.status != StatusCode::UNAUTHORIZED && queued.status != StatusCode::FORBIDDEN,
        "{}",
        queued.text
    );
    // Not its scope: reading the log, the settings, making tokens, sending tests.
    for (method, path) in [
        (Method::GET, "/api/v1/messages"),
        (Method::GET, "/api/v1/profiles"),
        (Method::GET, "/api/v1/session"),
        (Method::POST, "/api/v1/tokens"),
        (Method::GET, "/"),
    ] {
        let answer = send(&app, &caller, method.clone(), path, Some(&json!({}))).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            answer.text
        );
    }
    let reader = app
        .post(
            "/api/v1/tokens",
            &json!({"name": "dashboard", "scopes": ["messages:read"]}),
        )
        .await;
    let reader = Caller::Token(reader.json["token"].as_str().unwrap().to_owned());
    assert_eq!(
        send(&app, &reader, Method::GET, "/api/v1/messages", None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(
            &app,
            &reader,
            Method::POST,
            "/api/v1/messages",
            Some(&message)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Revoked: the token no longer works at all.
    let revoked = send(
        &app,
        &Caller::Admin,
        Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        None,
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    let after = send(
        &app,
        &caller,
        Method::POST,
        "/api/v1/messages",
        Some(&message),
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text);
    let again = send(
        &app,
        &Caller::Admin,
        Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    // A made-up token is nobody.
    let made_up = send(
        &app,
        &Caller::Token("om_madeup".into()),
        Method::POST,
        "/api/v1/messages",
        Some(&message),
    )
    .await;
    assert_eq!(made_up.status, StatusCode::UNAUTHORIZED);
    app.finish().await;
}

#[tokio::test]
async fn test_sends_beyond_the_limit_are_refused_with_retry_after() {
    let app = TestApp::sqlite_with(AccessConfig {
        test_sends_per_minute: 3,
        ..AccessConfig::default()
    })
    .await;
    let created = app.create_profile(&smtp_draft("Limited")).await;
    let id = created.json["id"].as_str().unwrap();
    let path = format!("/api/v1/profiles/{id}/test");
    // A dry run to a closed loopback port: quick, and still a test send.
    let draft_test = json!({"profile": {"name": "Draft", "transport": {"kind": "smtp", "host": "127.0.0.1", "port": 9, "security": "none", "auth": {"kind": "none"}}, "sender": {"address": "a@example.com"}}, "to": "ops@example.com", "dry_run": true});
    for _ in 0..3 {
        let answer = app.post("/api/v1/profiles/test", &draft_test).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    let refused = app
        .post(&path, &json!({"to": "ops@example.com", "dry_run": true}))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(refused.json["code"], "rate_limited");
    let retry: u64 = refused.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    let tests: Vec<Value> = audit_actions(&app)
        .await
        .into_iter()
        .filter(|event| event["action"] == "test_send")
        .collect();
    assert_eq!(tests.len(), 3, "{tests:?}");
    assert_eq!(tests[0]["actor"], ADMIN_EMAIL);
    assert!(
        tests[0]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("failed at connect"),
        "{tests:?}"
    );
    app.finish().await;
}

#[tokio::test]
async fn the_audit_log_names_changed_fields_and_never_values() {
    let app = TestApp::sqlite().await;
    let created = app.create_profile(&smtp_draft("Audited")).await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let mut changed = smtp_draft("Audited again");
    changed["transport"]["auth"]["password"] = json!({"value": CANARIES[2]});
    let updated = app
        .put(&format!("/api/v1/profiles/{id}"), &created.etag(), &changed)
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);

    let events = audit_actions(&app).await;
    let update = events
        .iter()
        .find(|event| event["action"] == "profile.update")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(update["actor"], ADMIN_EMAIL);
    assert_eq!(update["target"], format!("profiles/{id}"));
    assert_eq!(update["outcome"], "200");
    let fields: Vec<&str> = update["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"transport.auth.password"),
        "{fields:?}"
    );
    assert!(
        !fields
            .iter()
            .any(|f| f.starts_with("version") || f.starts_with("updated")),
        "{fields:?}"
    );
    assert!(
        events
            .iter()
            .any(|event| event["action"] == "profile.create"),
        "{events:?}"
    );

    // The global settings name their changed fields too.
    let settings = app.get("/api/v1/settings").await;
    let mut changed = settings.json["settings"].clone();
    changed["default_profile_id"] = json!(id);
    let saved = app
        .put("/api/v1/settings", &settings.etag(), &changed)
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let events = audit_actions(&app).await;
    let settings_event = events
        .iter()
        .find(|event| event["action"] == "settings.update")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(
        settings_event["fields"],
        json!(["default_profile_id"]),
        "{settings_event}"
    );

    // And so does a tenant.
    let tenant = json!({"id": "acme", "name": "ACME", "profile": {"kind": "use_global"}});
    let created_tenant = app.post("/api/v1/tenants", &tenant).await;
    assert_eq!(
        created_tenant.status,
        StatusCode::CREATED,
        "{}",
        created_tenant.text
    );
    let mut renamed = tenant.clone();
    renamed["name"] = json!("ACME Corp");
    let updated_tenant = app
        .put("/api/v1/tenants/acme", &created_tenant.etag(), &renamed)
        .await;
    assert_eq!(
        updated_tenant.status,
        StatusCode::OK,
        "{}",
        updated_tenant.text
    );
    let events = audit_actions(&app).await;
    let tenant_event = events
        .iter()
        .find(|event| event["action"] == "tenant.update")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(tenant_event["target"], "tenants/acme");
    assert_eq!(tenant_event["fields"], json!(["name"]), "{tenant_event}");

    let export = app.get("/api/v1/audit/export").await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("outmail-audit.json")
    );
    assert!(export.json.as_array().unwrap().len() >= 2);
    for canary in CANARIES {
        assert!(!export.text.contains(canary));
    }
    let viewer_reads = send(&app, &Caller::Viewer, Method::GET, "/api/v1/audit", None).await;
    assert_eq!(viewer_reads.status, StatusCode::OK);
    app.finish().await;
}

#[tokio::test]
async fn the_setup_token_creates_the_first_admin_once() {
    let app = TestApp::sqlite().await;
    // This app has accounts already: a right token still cannot make another.
    let token = app.state.access.issue_setup_token();
    let body =
        |token: &str| json!({"token": token, "email": "first@example.com", "password": PASSWORD});
    let wrong = app
        .call_as(
            &Caller::Anonymous,
            Method::POST,
            "/api/v1/setup",
            Some(&body("nope").to_string()),
            Some("application/json"),
            &[],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::CONFLICT, "{}", wrong.text);
    let right = app
        .call_as(
            &Caller::Anonymous,
            Method::POST,
            "/api/v1/setup",
            Some(&body(&token).to_string()),
            Some("application/json"),
            &[],
        )
        .await;
    assert_eq!(right.status, StatusCode::CONFLICT, "{}", right.text);
    assert_eq!(right.json["code"], "already_set_up");
    app.finish().await;

    let empty = TestApp::sqlite_without_accounts().await;
    let token = empty.state.access.issue_setup_token();
    let post = |body: Value| {
        let empty = &empty;
        async move {
            empty
                .call_as(
                    &Caller::Anonymous,
                    Method::POST,
                    "/api/v1/setup",
                    Some(&body.to_string()),
                    Some("application/json"),
                    &[],
                )
                .await
        }
    };
    let wrong = post(body("not-the-token")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.json["code"], "invalid_setup_token");
    let weak =
        post(json!({"token": token, "email": "first@example.com", "password": "short"})).await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!weak.field_codes("password").is_empty());
    let created = post(body(&token)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["role"], "admin");
    assert!(created.headers.contains_key(header::SET_COOKIE));
    let stored = empty
        .store
        .admin_by_email("first@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$"),
        "{}",
        stored.password_hash
    );
    assert!(!stored.password_hash.contains(PASSWORD));
    // The token is spent.
    let again =
        post(json!({"token": token, "email": "second@example.com", "password": PASSWORD})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    empty.finish().await;
}

#[tokio::test]
async fn responses_carry_the_security_headers() {
    let app = TestApp::sqlite().await;
    for path in ["/api/v1/health", "/api/v1/profiles", "/", "/login"] {
        let answer = app.get(path).await;
        let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{path}: {csp}"
        );
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"),
            "{path}: {csp}"
        );
        assert_eq!(
            answer.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{path}"
        );
        assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(
            answer.headers[header::REFERRER_POLICY],
            "same-origin",
            "{path}"
        );
    }
    // A page's inline scripts carry the nonce its policy names.
    let page = app.get("/").await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect(csp);
    assert!(
        page.text.contains(&format!("nonce=\"{nonce}\"")),
        "{}",
        page.text
    );
    app.finish().await;
}

/// A concrete path for a documented one.
fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-4000-8000-000000000000")
}

#[tokio::test]
async fn every_documented_route_needs_the_right_role() {
    let app = TestApp::sqlite().await;
    let document = app.get("/api/v1/openapi.json").await.json;
    let public = [("get", "/health"), ("post", "/session"), ("post", "/setup")];
    let viewer_may_change = [("delete", "/session")];
    let mut walked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_none() {
                continue;
            }
            walked += 1;
            let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = format!("/api/v1{}", concrete(path));
            let body = (method != "get").then(|| json!({}));
            let anonymous = send(
                &app,
                &Caller::Anonymous,
                http_method.clone(),
                &url,
                body.as_ref(),
            )
            .await;
            if public.contains(&(method, path.as_str())) {
                assert_ne!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path}"
                );
            } else {
                assert_eq!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path}: {}",
                    anonymous.text
                );
                assert_eq!(anonymous.json["code"], "unauthenticated", "{method} {path}");
            }
            if viewer_may_change.contains(&(method, path.as_str())) {
                // Signing out ends the viewer's session: checked last, below.
                continue;
            }
            let viewer = send(&app, &Caller::Viewer, http_method, &url, body.as_ref()).await;
            let reads = method == "get";
            if reads || public.contains(&(method, path.as_str())) {
                assert!(
                    viewer.status != StatusCode::FORBIDDEN
                        && viewer.status != StatusCode::UNAUTHORIZED,
                    "viewer {method} {path}: {}",
                    viewer.text
                );
            } else {
                assert_eq!(
                    viewer.status,
                    StatusCode::FORBIDDEN,
                    "viewer {method} {path}: {}",
                    viewer.text
                );
            }
        }
    }
    assert!(walked >= 41, "{walked}");

    // Every page: nobody is sent to sign in, a viewer sees it.
    for page in [
        "/",
        "/profiles/new",
        "/profiles/00000000-0000-4000-8000-000000000000",
        "/tenants",
        "/delivery",
        "/settings",
        "/tokens",
        "/audit",
    ] {
        let anonymous = send(&app, &Caller::Anonymous, Method::GET, page, None).await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "{page}");
        let location = anonymous.headers[header::LOCATION].to_str().unwrap();
        assert!(
            location.starts_with("/login?next=%2F"),
            "{page}: {location}"
        );
        let viewer = send(&app, &Caller::Viewer, Method::GET, page, None).await;
        assert_eq!(viewer.status, StatusCode::OK, "{page}");
    }
    let signed_out = send(
        &app,
        &Caller::Viewer,
        Method::DELETE,
        "/api/v1/session",
        None,
    )
    .await;
    assert_eq!(
        signed_out.status,
        StatusCode::NO_CONTENT,
        "{}",
        signed_out.text
    );
    app.finish().await;
}

/// Everything a test's log subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A token whose stored scopes cannot be read grants nothing (fail closed), and says why in the
/// log instead of looking like a token without scopes. A current-thread runtime keeps every log
/// line of the in-process request on this thread's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_token_whose_scopes_cannot_be_read_grants_nothing_and_is_logged() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::sqlite().await;
    let token = auth::random_token();
    let row = outmail_store::ApiTokenRow {
        id: "corrupt-token".to_owned(),
        name: "deploy".to_owned(),
        scopes: "[\"messages:send\"".to_owned(),
        prefix: token[..12].to_owned(),
        token_hash: auth::digest(&token),
        created_at: app.state.now_ms(),
        created_by: "cli".to_owned(),
        last_used_at: None,
        tenant_id: None,
    };
    app.store.create_api_token(&row).await.unwrap();
    let body = r#"{"to": ["ops@example.com"], "subject": "Disk", "text": "x"}"#;
    let answer = app
        .call_as(
            &Caller::Token(token),
            Method::POST,
            "/api/v1/messages",
            Some(body),
            Some("application/json"),
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    let written = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        written.contains("an API token's stored scopes cannot be read")
            && written.contains("corrupt-token"),
        "{written}"
    );
    app.finish().await;
}

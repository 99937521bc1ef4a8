//! The API test harness: a server router over a fresh store (SQLite file or a new PostgreSQL
//! database), driven in-process with `oneshot`, and a canary check on every response.

use std::sync::Mutex;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use outmail_server::{
    AppState,
    auth::{AccessState, digest, random_token},
    config::{AccessConfig, DatabaseUrl},
    router, site,
};
use outmail_store::{Keyring, Store, StoreOptions};
use outmail_types::access::Role;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tower::ServiceExt;

pub const POSTGRES_URL_ENV: &str = "OUTMAIL_TEST_POSTGRES_URL";
pub const SKIP_POSTGRES_ENV: &str = "OUTMAIL_SKIP_POSTGRES";

/// Secret values used by the tests. No response may ever contain one.
pub const CANARIES: [&str; 3] = [
    "canary-password-7f3a9c",
    "canary-client-secret-51be02",
    "canary-proxy-password-c0ffee",
];

/// One `#[tokio::test]` per backend for each `async fn(&TestApp)`, in modules `sqlite` and
/// `postgres`, so each half passes or fails on its own.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let app = $crate::support::TestApp::sqlite().await;
                    super::$test(&app).await;
                    app.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(app) = $crate::support::TestApp::postgres().await else { return };
                    super::$test(&app).await;
                    app.finish().await;
                }
            )*
        }
    };
}

/// An answer: status, headers and the JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Answer {
    pub fn etag(&self) -> String {
        self.headers
            .get(header::ETAG)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The error codes reported for one field path.
    pub fn field_codes(&self, path: &str) -> Vec<String> {
        self.json["fields"][path]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|error| error["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Who sends a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A browser signed in as an admin (session cookie, `Sec-Fetch-Site: same-origin`).
    Admin,
    /// A browser signed in as a viewer.
    Viewer,
    /// An admin's session cookie without the headers a browser adds (what a forged
    /// cross-site form or an old browser would send).
    AdminCookieOnly,
    /// A script without any credential.
    Anonymous,
    /// A product with an API token.
    Token(String),
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const VIEWER_EMAIL: &str = "viewer@example.com";

pub struct TestApp {
    router: Router,
    pub state: AppState,
    admin_cookie: String,
    viewer_cookie: String,
    pub store: Store,
    pub data_dir: tempfile::TempDir,
    pg_database: Option<(String, String)>,
    /// Every body this app answered, for the canary check at the end.
    bodies: Mutex<Vec<String>>,
}

impl TestApp {
    pub async fn sqlite() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::sqlite_in(data_dir.path());
        Self::open(data_dir, url.expose(), None).await
    }

    /// `None` only when the PostgreSQL half is skipped on purpose (`OUTMAIL_SKIP_POSTGRES=1`).
    pub async fn postgres() -> Option<Self> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_ENV) else {
            if std::env::var(SKIP_POSTGRES_ENV).as_deref() == Ok("1") {
                eprintln!("PostgreSQL half skipped: {SKIP_POSTGRES_ENV}=1");
                return None;
            }
            panic!(
                "{POSTGRES_URL_ENV} is not set. Run the tests through \
                 `bash scripts/with-postgres.sh cargo test`, or set {SKIP_POSTGRES_ENV}=1 to skip \
                 the PostgreSQL half knowingly."
            );
        };
        let name = format!("api_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&admin_url);
        let url = format!("{base}/{name}");
        let data_dir = tempfile::tempdir().expect("temp dir");
        Some(Self::open(data_dir, &url, Some((admin_url, name))).await)
    }

    /// An app on SQLite with these access settings.
    pub async fn sqlite_with(access: AccessConfig) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::sqlite_in(data_dir.path());
        Self::open_with(data_dir, url.expose(), None, access).await
    }

    /// An app on SQLite with no accounts at all, as on a first start.
    pub async fn sqlite_without_accounts() -> Self {
        let app = Self::sqlite().await;
        for email in [ADMIN_EMAIL, VIEWER_EMAIL] {
            let admin = app.store.admin_by_email(email).await.unwrap().unwrap();
            app.store.delete_admin(&admin.id).await.unwrap();
        }
        app
    }

    async fn open(data_dir: tempfile::TempDir, url: &str, pg: Option<(String, String)>) -> Self {
        // Tests send many test mails; the limit itself has its own test.
        let access = AccessConfig {
            test_sends_per_minute: 10_000,
            ..AccessConfig::default()
        };
        Self::open_with(data_dir, url, pg, access).await
    }

    async fn open_with(
        data_dir: tempfile::TempDir,
        url: &str,
        pg: Option<(String, String)>,
        access: AccessConfig,
    ) -> Self {
        let keyring = Keyring::load(data_dir.path()).expect("keyring");
        let store = Store::connect(url, StoreOptions::new(keyring))
            .await
            .expect("store");
        // Accounts with sessions made directly in the store: signing in with a password is
        // tested on its own, and hashing one per test would only slow the suite down.
        let admin_cookie = signed_in(&store, ADMIN_EMAIL, Role::Admin).await;
        let viewer_cookie = signed_in(&store, VIEWER_EMAIL, Role::Viewer).await;
        let state = AppState::new(
            site::leptos_options(
                std::path::Path::new("/nonexistent-site"),
                "127.0.0.1:0".parse().unwrap(),
            ),
            store.clone(),
            Default::default(),
            std::sync::Arc::new(AccessState::new(access)),
        );
        Self {
            router: router(state.clone()),
            state,
            admin_cookie,
            viewer_cookie,
            store,
            data_dir,
            pg_database: pg,
            bodies: Mutex::new(Vec::new()),
        }
    }

    /// Starts this app's delivery worker (the server starts one with `serve`); it stops when
    /// the returned handle is dropped.
    pub fn start_worker(&self) -> WorkerGuard {
        WorkerGuard(outmail_server::worker::spawn(self.state.clone()))
    }

    /// Sends a request with an optional JSON body and extra headers.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let raw = body.map(|json| json.to_string());
        let content_type = raw.as_ref().map(|_| "application/json");
        self.call_raw(method, path, raw.as_deref(), content_type, headers)
            .await
    }

    /// Sends exactly these bytes with this content type: for malformed input.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.call_as(&Caller::Admin, method, path, body, content_type, headers)
            .await
    }

    /// Sends a request as `caller`. A signed-in browser also says `Sec-Fetch-Site:
    /// same-origin`, unless the test gives `Origin` or `Sec-Fetch-Site` itself.
    pub async fn call_as(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        body: Option<&str>,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        let names_site = headers.iter().any(|(name, _)| {
            name.eq_ignore_ascii_case("origin") || name.eq_ignore_ascii_case("sec-fetch-site")
        });
        let cookie = match caller {
            Caller::Admin | Caller::AdminCookieOnly => Some(&self.admin_cookie),
            Caller::Viewer => Some(&self.viewer_cookie),
            Caller::Anonymous | Caller::Token(_) => None,
        };
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, format!("outmail_session={cookie}"));
            if !names_site && !matches!(caller, Caller::AdminCookieOnly) {
                request = request.header("sec-fetch-site", "same-origin");
            }
        }
        if let Caller::Token(token) = caller {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.bodies.lock().unwrap().push(text.clone());
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, etag: &str, body: &Value) -> Answer {
        self.call(Method::PUT, path, Some(body), &[("if-match", etag)])
            .await
    }

    pub async fn delete(&self, path: &str, etag: &str) -> Answer {
        self.call(Method::DELETE, path, None, &[("if-match", etag)])
            .await
    }

    /// Creates a profile and returns its answer, asserting 201.
    pub async fn create_profile(&self, draft: &Value) -> Answer {
        let answer = self.post("/api/v1/profiles", draft).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer
    }

    /// Checks the promise that no response carries a secret, then drops the database.
    pub async fn finish(self) {
        for body in self.bodies.lock().unwrap().iter() {
            for canary in CANARIES {
                assert!(
                    !body.contains(canary),
                    "a response carried a secret: {body}"
                );
            }
        }
        self.store.close().await;
        if let Some((admin_url, name)) = &self.pg_database {
            let mut admin = PgConnection::connect(admin_url).await.expect("connect");
            sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .expect("drop test database");
        }
    }
}

/// An account with a live session; returns the session cookie's value.
async fn signed_in(store: &Store, email: &str, role: Role) -> String {
    // "!" is no argon2 hash: this account cannot sign in with a password.
    let admin = store
        .create_admin(email, role.as_str(), "!")
        .await
        .expect("account");
    let token = random_token();
    store
        .create_session(&digest(&token), &admin.id, i64::MAX / 2)
        .await
        .expect("session");
    token
}

/// A valid SMTP profile draft with basic auth (secret: the first canary).
pub fn smtp_draft(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "transport": {
            "kind": "smtp",
            "host": "smtp.example.com",
            "port": 587,
            "security": "starttls",
            "auth": {
                "kind": "basic",
                "username": "alerts@example.com",
                "password": {"value": CANARIES[0]},
                "mechanism": "auto"
            }
        },
        "sender": {"address": "\"Example Alerts\" <alerts@example.com>"},
        "send_frequency": 300,
        "utf8_headers": false
    })
}

/// A valid Microsoft Graph profile draft with a client secret (the second canary).
pub fn graph_draft(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "transport": {
            "kind": "graph",
            "endpoint": {"kind": "global"},
            "oauth": {
                "preset": "microsoft365",
                "authority": "public",
                "tenant_id": "9188040d-6c67-4c5b-b112-36a304b66dad",
                "client_id": "00000003-0000-0000-c000-000000000046",
                "flow": {"kind": "client_credentials", "credential": {"kind": "secret"}},
                "client_secret": {"value": CANARIES[1]}
            },
            "save_to_sent_items": true
        },
        "sender": {"address": "reports@contoso.com"}
    })
}

/// Stops a test's delivery worker when dropped (a dropped `Worker` stops at once).
pub struct WorkerGuard(#[allow(dead_code)] outmail_server::worker::Worker);

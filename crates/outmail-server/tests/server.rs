//! The HTTP surface of a running server: health, JSON errors, server-rendered pages, shutdown.

use std::{net::SocketAddr, path::PathBuf};

use outmail_server::{
    Server,
    config::{Config, SettingsArgs},
};
use tokio::{sync::oneshot, task::JoinHandle};

/// A server on a free loopback port with its own data folder, stopped when dropped.
struct TestApp {
    address: SocketAddr,
    data_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<std::io::Result<()>>>,
    /// An admin's session cookie value.
    session: String,
}

impl TestApp {
    async fn spawn() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let settings = SettingsArgs {
            bind: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: Some(data_dir.path().join("data")),
            site_root: Some(PathBuf::from("/nonexistent-site")),
            ..SettingsArgs::default()
        };
        let config = Config::resolve(&settings).expect("config");
        // An admin with a session, made in the store before the server starts.
        let store = outmail_server::serve::open_store(&config)
            .await
            .expect("store");
        let admin = store
            .create_admin("admin@example.com", "admin", "!")
            .await
            .expect("admin");
        let session = outmail_server::auth::random_token();
        store
            .create_session(
                &outmail_server::auth::digest(&session),
                &admin.id,
                i64::MAX / 2,
            )
            .await
            .expect("session");
        store.close().await;
        let server = Server::build(&config).await.expect("server builds");
        assert_eq!(server.setup_url(), None, "an admin exists: no setup token");
        let address = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            address,
            data_dir,
            stop: Some(stop),
            running: Some(running),
            session,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A GET as the signed-in admin.
    async fn get(&self, path: &str) -> (u16, String, String) {
        http_get(&self.url(path), Some(&self.session)).await
    }

    async fn get_anonymous(&self, path: &str) -> (u16, String, String) {
        http_get(&self.url(path), None).await
    }

    async fn shut_down(mut self) -> std::io::Result<()> {
        self.stop.take().unwrap().send(()).unwrap();
        self.running.take().unwrap().await.expect("server task")
    }
}

/// A minimal HTTP/1.1 GET over a plain socket: status, content type and body.
/// (The content type is replaced by the `Location` header for a redirect.)
async fn http_get(url: &str, session: Option<&str>) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    let cookie = session
        .map(|token| format!("Cookie: outmail_session={token}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n{cookie}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let wanted = if (300..400).contains(&status) {
        "location"
    } else {
        "content-type"
    };
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case(wanted)
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, content_type, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

#[tokio::test]
async fn the_health_check_reports_status_version_and_database() {
    let app = TestApp::spawn().await;
    let (status, content_type, body) = app.get("/api/v1/health").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "database": "sqlite"})
    );
    app.shut_down().await.unwrap();
}

#[tokio::test]
async fn an_unknown_api_route_answers_json_404() {
    let app = TestApp::spawn().await;
    let (status, content_type, body) = app.get("/api/v1/no-such-thing").await;
    assert_eq!(status, 404);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "not_found");
    assert!(body["fields"].as_object().unwrap().is_empty());
    app.shut_down().await.unwrap();
}

#[tokio::test]
async fn the_home_page_is_rendered_on_the_server_with_its_navigation() {
    let app = TestApp::spawn().await;
    let (status, content_type, body) = app.get("/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("<title>Profiles · outmail</title>"), "{body}");
    for label in ["Profiles", "Tenants", "Delivery log", "Settings"] {
        assert!(
            body.contains(&format!(">{label}</a>")),
            "missing {label} in {body}"
        );
    }
    app.shut_down().await.unwrap();
}

#[tokio::test]
async fn without_a_session_pages_lead_to_sign_in_and_the_api_answers_401() {
    let app = TestApp::spawn().await;
    let (status, location, _) = app.get_anonymous("/delivery?status=failed").await;
    assert_eq!(status, 303);
    assert_eq!(location, "/login?next=%2Fdelivery%3Fstatus%3Dfailed");
    let (status, content_type, body) = app.get_anonymous("/login").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("<title>Sign in · outmail</title>"), "{body}");
    let (status, _, body) = app.get_anonymous("/api/v1/profiles").await;
    assert_eq!(status, 401);
    assert!(body.contains("\"unauthenticated\""), "{body}");
    app.shut_down().await.unwrap();
}

#[tokio::test]
async fn an_unknown_page_answers_404_with_the_layout() {
    let app = TestApp::spawn().await;
    let (status, _, body) = app.get("/no-such-page").await;
    assert_eq!(status, 404);
    assert!(body.contains("Page not found"), "{body}");
    app.shut_down().await.unwrap();
}

#[tokio::test]
async fn the_data_folder_is_created_private_on_first_start() {
    let app = TestApp::spawn().await;
    let data = app.data_dir.path().join("data");
    assert!(data.is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "mode {mode:o}");
    }
    app.shut_down().await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_cleanly_and_frees_the_port() {
    let app = TestApp::spawn().await;
    let address = app.address;
    assert_eq!(app.get("/api/v1/health").await.0, 200);
    app.shut_down().await.expect("graceful shutdown");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "nothing listens after shutdown"
    );
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_start_error() {
    let app = TestApp::spawn().await;
    let settings = SettingsArgs {
        bind: Some(app.address),
        data_dir: Some(app.data_dir.path().join("other")),
        ..SettingsArgs::default()
    };
    let config = Config::resolve(&settings).unwrap();
    let error = match Server::build(&config).await {
        Ok(_) => panic!("a second server on the same port must not start"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("cannot listen on"), "{error}");
    assert!(error.contains("--bind"), "{error}");
    app.shut_down().await.unwrap();
}

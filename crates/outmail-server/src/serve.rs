//! A running server: the data folder, the listener, the router and a graceful shutdown.

use std::{future::Future, net::SocketAddr, path::Path};

use anyhow::Context;
use axum::Router;
use outmail_store::{Keyring, Store, StoreOptions};
use tokio::net::TcpListener;
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::{api, auth, config::Config, site, state::AppState};

/// The whole HTTP surface: the REST API under `/api/v1`, then the UI and its files.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::router())
        // The redirect URL registered with the OAuth app: outside the API, it answers HTML.
        .route(
            "/oauth/callback",
            axum::routing::get(api::consent::callback),
        )
        .merge(site::router(&state))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        // Already-compressed files (the precompressed WASM) carry Content-Encoding and are skipped.
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Headers that every response carries: the content security policy (pages rendered by
/// Leptos set their own, with the nonce of their inline scripts), no framing, no MIME sniffing,
/// no referrer leaving the site.
async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(policy) = HeaderValue::from_str(&outmail_app::content_security_policy(None))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A server bound to its address, ready to run.
pub struct Server {
    listener: TcpListener,
    relay: Option<crate::relay::Relay>,
    router: Router,
    state: AppState,
    setup_token: Option<String>,
    drain_timeout: std::time::Duration,
}

impl Server {
    /// Prepares everything that can fail before the first request: the data folder and the port.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        prepare_data_dir(&config.data_dir)?;
        if !config.site_root.join(site::HASHED_DIR).is_dir() {
            tracing::warn!(
                site_root = %config.site_root.display(),
                "no built site found: the API works, pages will load without their scripts and styles \
                 (build with `cargo leptos build --release`, or set --site-root)"
            );
        }
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {} (--bind / OUTMAIL_BIND)", config.bind))?;
        let local_addr = listener.local_addr().context("reading the bound address")?;
        let store = open_store(config).await?;
        let relay = crate::relay::Relay::bind(&config.relay, store.clock().clone()).await?;
        let access = auth::AccessState::new(config.access.clone());
        // Nobody can sign in yet: a one-time token lets whoever started the server create the
        // first admin in the browser (or use `outmail admin create`).
        let setup_token = if store.admin_count().await? == 0 {
            Some(access.issue_setup_token())
        } else {
            None
        };
        let state = AppState::new(
            site::leptos_options(&config.site_root, local_addr),
            store,
            std::sync::Arc::new(crate::mail::MailRuntime::new(config.delivery_lease)),
            std::sync::Arc::new(access),
        );
        Ok(Self {
            listener,
            relay,
            router: router(state.clone()),
            state,
            setup_token,
            drain_timeout: config.drain_timeout,
        })
    }

    /// The address of the first-run setup page with its one-time token, while no admin exists.
    /// The token is in the fragment, which browsers never send to a server or a log.
    pub fn setup_url(&self) -> Option<String> {
        self.setup_token
            .as_ref()
            .map(|token| format!("http://{}/setup#token={token}", self.local_addr()))
    }

    /// The SMTP relay's addresses actually bound (STARTTLS listener first), if it is on.
    pub fn relay_addrs(&self) -> Vec<SocketAddr> {
        self.relay
            .as_ref()
            .map(crate::relay::Relay::local_addrs)
            .unwrap_or_default()
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and drains the
    /// delivery worker: it claims nothing more, gives back what it claimed but did not start,
    /// and records the sends in flight (up to the drain timeout).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_relay, relay_stopped) = tokio::sync::watch::channel(false);
        let relay = self
            .relay
            .map(|relay| relay.spawn(self.state.clone(), relay_stopped));
        let worker = std::sync::Arc::new(crate::worker::spawn(self.state));
        let stopping = worker.clone();
        let shutdown = async move {
            shutdown.await;
            // The worker stops claiming at once, while the HTTP requests in flight finish; the
            // relay stops taking connections.
            stopping.stop();
            let _ = stop_relay.send(true);
        };
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        if let Some(relay) = relay
            && !relay.finish(self.drain_timeout).await
        {
            tracing::warn!("SMTP relay sessions were still open at the drain timeout");
        }
        match std::sync::Arc::try_unwrap(worker) {
            Ok(worker) => {
                if worker.drain(self.drain_timeout).await {
                    tracing::info!("the delivery worker has drained");
                }
            }
            // The shutdown future still holds it: serving ended on an error, not a signal.
            Err(worker) => worker.stop(),
        }
        served
    }
}

/// Opens the database (migrating it) with the key that seals secrets.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    prepare_data_dir(&config.data_dir)?;
    let keyring = Keyring::load(&config.data_dir).context("loading the secret-sealing key")?;
    Store::connect(config.database_url.expose(), StoreOptions::new(keyring))
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url))
}

/// Creates the data folder on first run, readable by this user only: it will hold the database
/// and the key that seals secrets.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| {
        format!(
            "cannot create the data folder {} (--data-dir / OUTMAIL_DATA_DIR)",
            dir.display()
        )
    })
}

/// Completes on Ctrl-C or SIGTERM, the signals a terminal and a service manager send.
///
/// The SIGTERM handler is installed when this is called, not when the future is first polled:
/// a service manager may signal as soon as the URL line is printed.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::error!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match terminate {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = terminate => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}

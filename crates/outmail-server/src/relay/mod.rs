//! The SMTP front door: a submission listener for products that can only send SMTP. A product
//! authenticates with an API token as its password, submits its own MIME message, and gets a
//! `250` once the message is in the outbox; from there it goes out like any other message
//! (routing, From rules, signature, failover, the delivery log).
//!
//! - [`tls`]: the certificate, re-read on SIGHUP and when its files change;
//! - [`session`]: one client's SMTP session (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
//!   SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS, AUTH PLAIN/LOGIN and CHUNKING), commands parsed
//!   by `smtp-proto`;
//! - [`reply`]: every reply the relay sends, in one table.

mod reply;
mod session;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context as _;
use outmail_types::relay::{AuthOffer, RelayListener, RelaySecurity};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::config::RelayConfig;
use crate::state::AppState;

/// Sessions served at once; a client beyond this is told to come back (`421`).
const MAX_SESSIONS: usize = 256;

/// What the Relay page shows of the running relay.
#[derive(Default)]
pub struct RelayStatus {
    pub listeners: Vec<RelayListener>,
    pub tls: Option<Arc<tls::Certificates>>,
    pub max_message_bytes: u64,
    pub unauthenticated_networks: Vec<String>,
}

/// One bound listening socket and how it speaks.
struct Bound {
    listener: TcpListener,
    implicit_tls: bool,
}

/// The relay's listeners, bound but not yet serving.
pub struct Relay {
    bound: Vec<Bound>,
    config: Arc<RelayConfig>,
    tls: Option<Arc<tls::Certificates>>,
}

/// Which listener a session came in on, and what that allows.
#[derive(Debug, Clone, Copy)]
pub struct ListenerKind {
    pub local: SocketAddr,
    pub implicit_tls: bool,
}

impl ListenerKind {
    /// Bound to a loopback address: a client's token never leaves the machine.
    pub fn is_loopback(&self) -> bool {
        self.local.ip().is_loopback()
    }
}

impl Relay {
    /// Binds the configured listeners and loads the certificate; `None` when the relay is off.
    /// Everything that can fail at start fails here, before the server says it is ready.
    pub async fn bind(
        config: &RelayConfig,
        clock: outmail_store::SharedClock,
    ) -> anyhow::Result<Option<Self>> {
        if config.smtp_bind.is_none() && config.smtps_bind.is_none() {
            return Ok(None);
        }
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(Arc::new(
                tls::Certificates::load(cert.clone(), key.clone(), clock)
                    .context("loading the relay certificate (--smtp-tls-cert / --smtp-tls-key)")?,
            )),
            _ => None,
        };
        for net in &config.allow_unauthenticated {
            if !is_private(net) {
                tracing::warn!(
                    %net,
                    "--smtp-allow-unauthenticated lists a range that is not private: anyone there \
                     can send mail through outmail without a token"
                );
            }
        }
        let mut bound = Vec::new();
        for (address, implicit_tls, flag) in [
            (config.smtp_bind, false, "--smtp-bind / OUTMAIL_SMTP_BIND"),
            (config.smtps_bind, true, "--smtps-bind / OUTMAIL_SMTPS_BIND"),
        ] {
            let Some(address) = address else { continue };
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} ({flag})"))?;
            bound.push(Bound {
                listener,
                implicit_tls,
            });
        }
        let relay = Self {
            bound,
            config: Arc::new(config.clone()),
            tls,
        };
        for listener in relay.status().listeners {
            match listener.auth {
                AuthOffer::AfterTls => {
                    tracing::info!(address = %listener.address, security = listener.security.label(), "SMTP relay listening")
                }
                AuthOffer::LoopbackWithoutTls => tracing::warn!(
                    address = %listener.address,
                    "SMTP relay listening without a certificate: AUTH is offered in clear text \
                     because the listener is on loopback only"
                ),
                AuthOffer::Refused => tracing::warn!(
                    address = %listener.address,
                    "SMTP relay listening without a certificate: AUTH is refused, since a token \
                     would cross the network in clear text (give --smtp-tls-cert and \
                     --smtp-tls-key)"
                ),
            }
        }
        Ok(Some(relay))
    }

    /// The addresses actually bound (useful with port 0), first the STARTTLS one.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.bound
            .iter()
            .filter_map(|b| b.listener.local_addr().ok())
            .collect()
    }

    pub fn status(&self) -> RelayStatus {
        let listeners = self
            .bound
            .iter()
            .filter_map(|b| {
                let local = b.listener.local_addr().ok()?;
                let kind = ListenerKind {
                    local,
                    implicit_tls: b.implicit_tls,
                };
                Some(RelayListener {
                    address: local.to_string(),
                    security: match (b.implicit_tls, self.tls.is_some()) {
                        (true, _) => RelaySecurity::ImplicitTls,
                        (false, true) => RelaySecurity::Starttls,
                        (false, false) => RelaySecurity::None,
                    },
                    auth: auth_offer(self.tls.is_some(), kind),
                })
            })
            .collect();
        RelayStatus {
            listeners,
            tls: self.tls.clone(),
            max_message_bytes: self.config.max_message_bytes,
            unauthenticated_networks: self
                .config
                .allow_unauthenticated
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// Serves every listener until `stop` turns true; then stops accepting. Sessions in
    /// progress finish their current command: a message being received when the server stops
    /// is either committed (250) or not acknowledged at all.
    pub fn spawn(self, state: AppState, stop: watch::Receiver<bool>) -> Running {
        *state
            .relay
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(self.status());
        let sessions = Arc::new(Semaphore::new(MAX_SESSIONS));
        if let Some(tls) = &self.tls {
            tls::watch_for_changes(tls.clone(), stop.clone());
        }
        let listeners = self
            .bound
            .into_iter()
            .map(|bound| {
                let shared = session::Shared {
                    state: state.clone(),
                    config: self.config.clone(),
                    tls: self.tls.clone(),
                    stop: stop.clone(),
                };
                let sessions = sessions.clone();
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    let Ok(local) = bound.listener.local_addr() else {
                        return;
                    };
                    let kind = ListenerKind {
                        local,
                        implicit_tls: bound.implicit_tls,
                    };
                    loop {
                        let accepted = tokio::select! {
                            accepted = bound.listener.accept() => accepted,
                            _ = stop.wait_for(|stopped| *stopped) => break,
                        };
                        let (stream, peer) = match accepted {
                            Ok(accepted) => accepted,
                            Err(error) => {
                                // Out of file descriptors and the like: wait, do not spin.
                                tracing::warn!(%error, "the SMTP relay could not accept a connection");
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                                continue;
                            }
                        };
                        let permit = sessions.clone().try_acquire_owned().ok();
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            session::serve(shared, kind, stream, peer, permit).await;
                        });
                    }
                })
            })
            .collect();
        Running {
            listeners,
            sessions,
        }
    }
}

/// The relay serving: its listeners and the sessions it has open.
pub struct Running {
    listeners: Vec<tokio::task::JoinHandle<()>>,
    sessions: Arc<Semaphore>,
}

impl Running {
    /// After `stop`: waits for the listeners to close and for the open sessions to end (each
    /// is told `421` when it next waits for the client; one committing a message finishes and
    /// answers first), for up to `deadline`. Returns whether every session ended in time.
    pub async fn finish(self, deadline: std::time::Duration) -> bool {
        for listener in self.listeners {
            let _ = listener.await;
        }
        let all = u32::try_from(MAX_SESSIONS).unwrap_or(u32::MAX);
        tokio::time::timeout(deadline, self.sessions.acquire_many(all))
            .await
            .is_ok()
    }
}

/// Whether a listener offers AUTH: after TLS when there is a certificate (even on loopback:
/// with TLS available there is no reason to send a token in clear), in clear text only on a
/// loopback listener without one, else never.
pub fn auth_offer(has_certificate: bool, listener: ListenerKind) -> AuthOffer {
    match (has_certificate, listener.is_loopback()) {
        (true, _) => AuthOffer::AfterTls,
        (false, true) => AuthOffer::LoopbackWithoutTls,
        (false, false) => AuthOffer::Refused,
    }
}

/// Whether `net` lies inside loopback, RFC 1918, CGNAT, link-local or IPv6 unique-local space.
fn is_private(net: &ipnet::IpNet) -> bool {
    const PRIVATE: [&str; 9] = [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    ];
    PRIVATE
        .iter()
        .filter_map(|range| range.parse::<ipnet::IpNet>().ok())
        .any(|range| range.contains(net))
}

/// Whether `client` may submit without AUTH (`--smtp-allow-unauthenticated`).
pub fn may_submit_unauthenticated(config: &RelayConfig, client: IpAddr) -> bool {
    // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
    let client = match client {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    config
        .allow_unauthenticated
        .iter()
        .any(|net| net.contains(&client))
}

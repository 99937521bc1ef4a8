//! The relay's certificate: read from PEM files at start (a bad file stops the start), and
//! re-read on SIGHUP and when either file changes (checked every few seconds), so a renewed
//! certificate is used without a restart. A renewal that cannot be read keeps the certificate
//! in use and says why, on the Relay page and in the log.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use outmail_store::SharedClock;
use outmail_types::CertificatePem;
use outmail_types::relay::RelayCertificate;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How often the files are checked for a change.
const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The certificate in use and where it came from.
pub struct Certificates {
    cert_path: PathBuf,
    key_path: PathBuf,
    clock: SharedClock,
    current: RwLock<Loaded>,
}

struct Loaded {
    acceptor: TlsAcceptor,
    view: RelayCertificate,
    /// The files' modification times when read, to notice a change.
    stamps: (Option<SystemTime>, Option<SystemTime>),
    problem: Option<String>,
}

impl Certificates {
    pub fn load(cert_path: PathBuf, key_path: PathBuf, clock: SharedClock) -> anyhow::Result<Self> {
        let loaded = read(&cert_path, &key_path, clock.now_ms())?;
        Ok(Self {
            cert_path,
            key_path,
            clock,
            current: RwLock::new(loaded),
        })
    }

    /// The acceptor for the next handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.lock().acceptor.clone()
    }

    /// The certificate in use, and why a newer file was not taken, if so.
    pub fn view(&self) -> (RelayCertificate, Option<String>) {
        let loaded = self.lock();
        (loaded.view.clone(), loaded.problem.clone())
    }

    /// Reads the files again; on failure the old certificate stays and the problem is kept.
    pub fn reload(&self) {
        match read(&self.cert_path, &self.key_path, self.clock.now_ms()) {
            Ok(fresh) => {
                tracing::info!(subject = %fresh.view.subject, "relay certificate loaded");
                *self.write() = fresh;
            }
            Err(error) => {
                let problem = format!("{error:#}");
                tracing::error!(%problem, "the relay certificate could not be re-read; the previous one stays in use");
                let mut loaded = self.write();
                loaded.stamps = stamps(&self.cert_path, &self.key_path);
                loaded.problem = Some(problem);
            }
        }
    }

    fn changed(&self) -> bool {
        self.lock().stamps != stamps(&self.cert_path, &self.key_path)
    }

    fn lock(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Re-reads on SIGHUP and when a file changes, until `stop`.
pub fn watch_for_changes(certificates: Arc<Certificates>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut poll = tokio::time::interval(POLL_INTERVAL);
        loop {
            #[cfg(unix)]
            let hung_up = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hung_up = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = hung_up => certificates.reload(),
                _ = poll.tick() => {
                    if certificates.changed() {
                        certificates.reload();
                    }
                }
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
    });
}

fn stamps(cert: &PathBuf, key: &PathBuf) -> (Option<SystemTime>, Option<SystemTime>) {
    let modified = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (modified(cert), modified(key))
}

fn read(cert_path: &PathBuf, key_path: &PathBuf, now_ms: i64) -> anyhow::Result<Loaded> {
    let stamps = stamps(cert_path, key_path);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .with_context(|| format!("cannot read {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert_path.display()))?;
    let Some(leaf) = chain.first() else {
        anyhow::bail!("{} holds no certificate", cert_path.display());
    };
    let key = PrivateKeyDer::from_pem_file(key_path)
        .with_context(|| format!("{} is not a PEM private key", key_path.display()))?;
    let view = describe(leaf, now_ms)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // TLS 1.2 and 1.3 only (rustls has nothing older): never a downgrade below that.
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and the private key do not belong together")?;
    Ok(Loaded {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        view,
        stamps,
        problem: None,
    })
}

/// Subject, issuer, expiry and names of the leaf certificate.
fn describe(leaf: &CertificateDer<'_>, now_ms: i64) -> anyhow::Result<RelayCertificate> {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(leaf.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let parsed =
        CertificatePem::parse(&pem).map_err(|e| anyhow::anyhow!("the certificate: {e}"))?;
    let dns_names = webpki::EndEntityCert::try_from(leaf)
        .map(|cert| cert.valid_dns_names().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(RelayCertificate {
        subject: parsed.subject().to_owned(),
        issuer: parsed.issuer().to_owned(),
        not_after: parsed.not_after().saturating_mul(1000),
        dns_names,
        loaded_at: now_ms,
    })
}

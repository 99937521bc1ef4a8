//! TLS with rustls: the client configuration (Mozilla's roots plus the profile's own CA), the
//! handshake under a timeout, and rustls's errors turned into causes an admin can act on.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use outmail_types::diagnosis::Stage;
use outmail_types::{CertificatePem, Host};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use crate::error::{MailError, Reason};
use crate::net::BoxedStream;

/// The TLS settings of one destination.
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSettings")
    }
}

impl TlsSettings {
    /// Trusts Mozilla's roots and, when given, the profile's own CA.
    pub fn new(custom_ca: Option<&CertificatePem>) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = custom_ca {
            for der in CertificateDer::pem_slice_iter(ca.pem().as_bytes()) {
                let der = der.map_err(|e| format!("the custom CA is not valid PEM: {e}"))?;
                roots
                    .add(der)
                    .map_err(|e| format!("the custom CA cannot be used: {e}"))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Each send builds its own configuration, so a session could never be resumed; not
        // offering resumption also spares the server's session tickets after the TLS 1.3
        // handshake, which against Postfix cost 40 ms in about half of the test sends (its
        // ticket writes met our delayed ACK).
        config.resumption = rustls::client::Resumption::disabled();
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Runs the handshake for `host` over `stream`. On success returns the encrypted stream
    /// and a short description (`TLS 1.3, TLS13_AES_256_GCM_SHA384`).
    pub async fn handshake(
        &self,
        stream: BoxedStream,
        host: &Host,
        limit: Duration,
    ) -> Result<(BoxedStream, String), MailError> {
        let name = server_name(host)?;
        let connector = TlsConnector::from(self.config.clone());
        match timeout(limit, connector.connect(name, stream)).await {
            Err(_) => Err(MailError::new(
                Reason::Timeout,
                Stage::Tls,
                format!("the TLS handshake did not finish within {limit:?}"),
            )),
            Ok(Err(e)) => Err(classify(&e, host)),
            Ok(Ok(tls)) => {
                let (_, session) = tls.get_ref();
                let version = session
                    .protocol_version()
                    .and_then(|v| v.as_str())
                    .unwrap_or("TLS")
                    .replace('_', " ")
                    .replace("TLSv1 ", "TLS 1.")
                    .replace("TLSv1", "TLS 1.");
                let suite = session
                    .negotiated_cipher_suite()
                    .and_then(|s| s.suite().as_str())
                    .unwrap_or("unknown suite");
                Ok((
                    Box::new(tls),
                    format!("{version}, {suite}, certificate valid for {host}"),
                ))
            }
        }
    }
}

fn server_name(host: &Host) -> Result<ServerName<'static>, MailError> {
    let text = match host.ip() {
        Some(ip) => ip.to_string(),
        None => host.domain().unwrap_or_default().to_owned(),
    };
    ServerName::try_from(text.clone()).map_err(|_| {
        MailError::new(
            Reason::TlsFailed,
            Stage::Tls,
            format!("{text} cannot be used as a TLS server name"),
        )
    })
}

/// Maps a failed handshake to its cause.
fn classify(e: &io::Error, host: &Host) -> MailError {
    let tls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let (reason, detail) = match tls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => (
                Reason::CertificateUntrusted,
                format!(
                    "the certificate of {host} is not signed by a trusted authority ({cert:?})"
                ),
            ),
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => (
                Reason::CertificateExpired,
                format!("the certificate of {host} is outside its validity period ({cert:?})"),
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                (
                    Reason::CertificateWrongHost,
                    format!("the certificate is not valid for {host} ({cert:?})"),
                )
            }
            CertificateError::Other(other)
                if matches!(
                    other.0.downcast_ref::<webpki::Error>(),
                    Some(webpki::Error::CaUsedAsEndEntity)
                ) =>
            {
                (
                    Reason::CertificateIsCa,
                    format!(
                        "{host} presents a CA certificate (basic constraints CA:TRUE) as its own \
                         certificate"
                    ),
                )
            }
            other => (
                Reason::TlsFailed,
                format!("the certificate of {host} was refused: {other:?}"),
            ),
        },
        // Plain text where a TLS record should be: "220 …" read as a record header (what
        // OpenSSL reports as "wrong version number").
        Some(rustls::Error::InvalidMessage(m)) => (
            Reason::WrongPortForSecurity,
            format!("the server did not answer in TLS ({m:?}); the port speaks plain text"),
        ),
        Some(other) => (Reason::TlsFailed, format!("TLS handshake failed: {other}")),
        None if e.kind() == io::ErrorKind::UnexpectedEof => (
            Reason::ConnectionDropped,
            "the server closed the connection during the TLS handshake".to_owned(),
        ),
        None => (Reason::TlsFailed, format!("TLS handshake failed: {e}")),
    };
    MailError::new(reason, Stage::Tls, detail)
}

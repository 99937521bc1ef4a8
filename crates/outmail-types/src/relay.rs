//! The SMTP relay as the API shows it (`GET /api/v1/relay`): whether the listener is on, where,
//! with which certificate, what a product must enter to use it, and the last submissions.

use serde::{Deserialize, Serialize};

use crate::delivery::MessageView;

/// `GET /api/v1/relay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayView {
    /// Whether `outmail serve` was started with `--smtp-bind` (or `--smtps-bind`).
    pub enabled: bool,
    pub listeners: Vec<RelayListener>,
    /// The certificate the listeners present; none without `--smtp-tls-cert`.
    pub certificate: Option<RelayCertificate>,
    /// Why the configured certificate is not in use (unreadable, not matching its key), if so.
    pub certificate_problem: Option<String>,
    /// The largest message accepted (the `SIZE` extension), in bytes.
    pub max_message_bytes: u64,
    /// Networks allowed to submit without AUTH (`--smtp-allow-unauthenticated`).
    pub unauthenticated_networks: Vec<String>,
    /// The most recent messages submitted over SMTP, newest first.
    pub recent: Vec<MessageView>,
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayListener {
    /// `ADDR:PORT` as bound.
    #[cfg_attr(feature = "openapi", schema(example = "127.0.0.1:2525"))]
    pub address: String,
    pub security: RelaySecurity,
    /// Whether AUTH is offered to clients of this listener (see [`AuthOffer`]).
    pub auth: AuthOffer,
}

/// How a client secures its session with a listener: the choice a product's SMTP settings
/// page calls "Security" or "Encryption".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RelaySecurity {
    /// Plain TCP with the STARTTLS command (usually port 587 or 2525).
    Starttls,
    /// TLS from the first byte (usually port 465).
    ImplicitTls,
    /// Plain TCP only: no certificate is configured.
    None,
}

impl RelaySecurity {
    /// The word a product's settings page uses.
    pub fn label(self) -> &'static str {
        match self {
            RelaySecurity::Starttls => "STARTTLS",
            RelaySecurity::ImplicitTls => "SSL/TLS",
            RelaySecurity::None => "None",
        }
    }
}

/// Whether a listener offers AUTH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuthOffer {
    /// After TLS (STARTTLS or implicit).
    AfterTls,
    /// Without TLS, because the listener is on a loopback address: the token never leaves
    /// the machine.
    LoopbackWithoutTls,
    /// Never: there is no certificate and the listener is not on loopback, so a token would
    /// cross the network in clear text.
    Refused,
}

/// The relay's certificate, as read from `--smtp-tls-cert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayCertificate {
    pub subject: String,
    pub issuer: String,
    /// Unix milliseconds.
    pub not_after: i64,
    /// The DNS names it covers.
    pub dns_names: Vec<String>,
    /// When the file was last (re)read, Unix milliseconds.
    pub loaded_at: i64,
}

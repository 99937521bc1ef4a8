//! The one contract every transport keeps: [`Transport::send`] a [`Letter`], staged into a
//! [`Trace`], or fail with a [`MailError`]. Built from a saved (or draft) profile and its
//! opened secrets.

use std::collections::BTreeMap;

use outmail_types::diagnosis::Stage;
use outmail_types::profile::{Auth, SmtpTransport, Transport as SpecTransport};
use outmail_types::{Host, ProfileSpec, SecretSlot, SecretString};

use crate::error::{Blame, MailError, Reason};
use crate::message::Letter;
use crate::net::{ProxySettings, Timeouts};
use crate::smtp::{self, SmtpAuth, SmtpTarget};
use crate::tls::TlsSettings;
use crate::trace::Trace;

/// The opened secrets of one profile, by slot. Only ever filled from the profile's own stored
/// secrets (or the draft being tested), so a secret only goes where it was entered for.
#[derive(Debug, Clone, Default)]
pub struct Secrets(BTreeMap<SecretSlot, SecretString>);

impl Secrets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, slot: SecretSlot, value: SecretString) {
        self.0.insert(slot, value);
    }

    fn require(&self, slot: SecretSlot) -> Result<&SecretString, MailError> {
        self.0.get(&slot).ok_or_else(|| {
            MailError::new(
                Reason::SecretMissing { path: slot.path() },
                Stage::Prepare,
                format!("{} is not set", slot.path()),
            )
        })
    }
}

/// What a successful send returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The server's words on taking the message (an SMTP queue ID, an HTTP status).
    pub reply: String,
}

/// A profile ready to send: its transport, resolved against its secrets.
#[derive(Debug)]
pub struct Transport {
    spec: ProfileSpec,
    secrets: Secrets,
    timeouts: Timeouts,
}

impl Transport {
    pub fn new(spec: ProfileSpec, secrets: Secrets, timeouts: Timeouts) -> Self {
        Self {
            spec,
            secrets,
            timeouts,
        }
    }

    pub fn spec(&self) -> &ProfileSpec {
        &self.spec
    }

    /// Sends `letter`, recording each stage. With `dry_run` every stage up to delivery runs
    /// and nothing is delivered (`Ok(None)`).
    pub async fn send(
        &self,
        trace: &mut Trace,
        letter: &Letter,
        dry_run: bool,
    ) -> Result<Option<Receipt>, MailError> {
        trace.begin(Stage::Prepare);
        let utf8_needed = letter.from.needs_utf8() || letter.recipients().any(|m| m.needs_utf8());
        if utf8_needed && !self.spec.utf8_headers {
            return Err(MailError::new(
                Reason::Utf8HeadersOff,
                Stage::Prepare,
                "the message has a non-ASCII address and this profile's UTF-8 headers are off",
            ));
        }
        match &self.spec.transport {
            SpecTransport::Smtp(smtp) => {
                let outgoing = letter.to_smtp()?;
                let target = self.smtp_target(smtp)?;
                let auth = self.smtp_auth(&smtp.auth)?;
                trace.pass(format!(
                    "message {} for {} recipient(s)",
                    letter.message_id,
                    outgoing.envelope.to().len()
                ));
                let accepted = smtp::deliver(trace, &target, &auth, &outgoing, dry_run).await?;
                Ok(accepted.map(|a| Receipt { reply: a.reply }))
            }
            other => Err(MailError::new(
                Reason::InvalidMessage,
                Stage::Prepare,
                format!(
                    "the {} transport is not available in this build",
                    other.kind().as_str()
                ),
            )),
        }
    }

    fn proxy(&self) -> Result<Option<ProxySettings>, MailError> {
        let Some(proxy) = &self.spec.proxy else {
            return Ok(None);
        };
        let credentials = match &proxy.username {
            Some(user) => Some((
                user.to_string(),
                self.secrets.require(SecretSlot::ProxyPassword)?.clone(),
            )),
            None => None,
        };
        Ok(Some(ProxySettings {
            kind: proxy.kind,
            host: proxy.host.clone(),
            port: proxy.port,
            credentials,
        }))
    }

    fn smtp_target(&self, smtp: &SmtpTransport) -> Result<SmtpTarget, MailError> {
        let tls = TlsSettings::new(smtp.ca_certificate.as_ref())
            .map_err(|e| MailError::new(Reason::TlsFailed, Stage::Prepare, e))?;
        Ok(SmtpTarget {
            host: smtp.host.clone(),
            port: smtp.port,
            security: smtp.security,
            tls,
            ehlo_name: ehlo_name(smtp.ehlo_name.as_ref()),
            proxy: self.proxy()?,
            timeouts: self.timeouts,
        })
    }

    fn smtp_auth(&self, auth: &Auth) -> Result<SmtpAuth, MailError> {
        Ok(match auth {
            Auth::None => SmtpAuth::None,
            Auth::Basic(basic) => SmtpAuth::Basic {
                username: basic.username.to_string(),
                password: self.secrets.require(SecretSlot::AuthPassword)?.clone(),
                mechanism: basic.mechanism,
            },
            Auth::Ntlm(_) | Auth::OAuth2(_) => {
                return Err(MailError::new(
                    Reason::AuthMechanismUnavailable,
                    Stage::Prepare,
                    format!(
                        "{} authentication is not available in this build",
                        auth.kind()
                    ),
                ));
            }
        })
    }

    /// Where this profile's fields are, for pointing a failure at one.
    pub fn blame(&self) -> Blame {
        blame(&self.spec)
    }
}

/// The EHLO name: the configured one, else this machine's host name when it is a valid domain,
/// else `localhost` (RFC 5321 wants a domain or an address literal).
fn ehlo_name(configured: Option<&Host>) -> String {
    if let Some(host) = configured {
        return match host.ip() {
            Some(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
            Some(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            None => host.domain().unwrap_or("localhost").to_owned(),
        };
    }
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .and_then(|name| Host::parse(name.trim()).ok())
        .and_then(|host| host.domain().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
}

fn blame(spec: &ProfileSpec) -> Blame {
    match &spec.transport {
        SpecTransport::Smtp(smtp) => Blame {
            host_field: "transport.host",
            port_field: Some("transport.port"),
            ca_field: Some("transport.ca_certificate"),
            security: Some(smtp.security),
            port: Some(smtp.port.get()),
            secret_field: match smtp.auth {
                Auth::Basic(_) | Auth::Ntlm(_) => Some(SecretSlot::AuthPassword.path()),
                _ => None,
            },
            auth_kind_field: Some("transport.auth.kind"),
            oauth_prefix: matches!(smtp.auth, Auth::OAuth2(_)).then_some("transport.auth.oauth"),
        },
        SpecTransport::Ews(ews) => Blame {
            host_field: "transport.url",
            port_field: None,
            ca_field: None,
            security: None,
            port: None,
            secret_field: match ews.auth {
                Auth::Basic(_) | Auth::Ntlm(_) => Some(SecretSlot::AuthPassword.path()),
                _ => None,
            },
            auth_kind_field: Some("transport.auth.kind"),
            oauth_prefix: matches!(ews.auth, Auth::OAuth2(_)).then_some("transport.auth.oauth"),
        },
        SpecTransport::Graph(_) => Blame {
            host_field: "transport.endpoint",
            oauth_prefix: Some("transport.oauth"),
            ..Blame::default()
        },
        SpecTransport::Local(_) => Blame {
            host_field: "transport.sendmail_path",
            ..Blame::default()
        },
    }
}

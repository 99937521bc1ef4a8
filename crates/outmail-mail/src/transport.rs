//! The one contract every transport keeps: [`Transport::send`] a [`Letter`], staged into a
//! [`Trace`], or fail with a [`MailError`]. Built from a saved (or draft) profile and its
//! opened secrets.

use std::collections::BTreeMap;
use std::sync::Arc;

use outmail_types::diagnosis::Stage;
use outmail_types::profile::{
    Auth, NtlmAuth, OAuthFlow, OAuthPlace, OAuthSettings, SmtpTransport, Transport as SpecTransport,
};
use outmail_types::{Host, ProfileSpec, SecretSlot, SecretString};

use crate::egress::EgressPolicy;
use crate::error::{Blame, MailError, Reason};
use crate::ews::{self, EwsAuth, EwsTarget};
use crate::graph::{self, GraphTarget};
use crate::http_client::HttpSettings;
use crate::local;
use crate::message::Letter;
use crate::net::{ProxySettings, Timeouts};
use crate::ntlm::NtlmCredentials;
use crate::oauth::{self, RefreshTokenSink, TokenCache, TokenRequest, TokenSource};
use crate::smtp::{self, PoolSlot, SmtpAuth, SmtpTarget};
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

    /// Every opened secret with its slot.
    pub fn iter(&self) -> impl Iterator<Item = (SecretSlot, &SecretString)> {
        self.0.iter().map(|(slot, value)| (*slot, value))
    }

    fn get(&self, slot: SecretSlot) -> Option<SecretString> {
        self.0.get(&slot).cloned()
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

/// How OAuth tokens are kept for a transport: the shared cache, where rotated refresh tokens
/// are stored, and whether to skip the cache (a test send proves the credentials now).
#[derive(Clone, Default)]
pub struct OAuthRuntime {
    pub cache: Option<Arc<TokenCache>>,
    pub sink: Option<RefreshTokenSink>,
    pub fresh: bool,
}

impl std::fmt::Debug for OAuthRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRuntime")
            .field("cache", &self.cache.is_some())
            .field("sink", &self.sink.is_some())
            .field("fresh", &self.fresh)
            .finish()
    }
}

/// A profile ready to send: its transport, resolved against its secrets.
#[derive(Debug)]
pub struct Transport {
    spec: ProfileSpec,
    secrets: Secrets,
    timeouts: Timeouts,
    oauth: OAuthRuntime,
    pool: Option<PoolSlot>,
    egress: EgressPolicy,
    clock: outmail_clock::SharedClock,
}

impl Transport {
    pub fn new(spec: ProfileSpec, secrets: Secrets, timeouts: Timeouts) -> Self {
        Self {
            spec,
            secrets,
            timeouts,
            oauth: OAuthRuntime::default(),
            pool: None,
            egress: EgressPolicy::default(),
            clock: std::sync::Arc::new(outmail_clock::SystemClock),
        }
    }

    /// Reads "now" from `clock` (the system clock by default).
    pub fn with_clock(mut self, clock: outmail_clock::SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Connects only where `policy` allows (the default allows loopback and public addresses).
    pub fn with_egress(mut self, policy: EgressPolicy) -> Self {
        self.egress = policy;
        self
    }

    /// Uses `runtime` for OAuth tokens (without it, every send fetches a new token).
    pub fn with_oauth(mut self, runtime: OAuthRuntime) -> Self {
        self.oauth = runtime;
        self
    }

    /// Keeps SMTP connections open in `slot` between messages (a test send never does: it
    /// proves every stage).
    pub fn with_pool(mut self, slot: PoolSlot) -> Self {
        self.pool = Some(slot);
        self
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
        let prepared = format!(
            "message {} for {} recipient(s)",
            letter.message_id,
            letter.recipients().count()
        );
        let reply = match &self.spec.transport {
            SpecTransport::Smtp(smtp) => {
                let outgoing = letter.to_smtp()?;
                let target = self.smtp_target(smtp)?;
                trace.pass(prepared);
                let pool = self.pool.as_ref().filter(|_| !dry_run);
                let reused = match pool {
                    Some(slot) => {
                        slot.pool
                            .send_on_parked(slot, trace, &target, &outgoing)
                            .await?
                    }
                    None => None,
                };
                match reused {
                    Some(accepted) => Some(accepted.reply),
                    None => {
                        let auth = self.smtp_auth(trace, &smtp.auth).await?;
                        smtp::deliver(trace, &target, &auth, &outgoing, dry_run, pool)
                            .await?
                            .map(|accepted| accepted.reply)
                    }
                }
            }
            SpecTransport::Local(local) => {
                let outgoing = letter.to_smtp()?;
                trace.pass(prepared);
                local::send(
                    trace,
                    local.sendmail_path.as_str(),
                    &outgoing,
                    self.timeouts.data,
                    dry_run,
                )
                .await?
            }
            SpecTransport::Ews(ews) => {
                letter.check_headers()?;
                trace.pass(prepared);
                let auth = self.ews_auth(trace, &ews.auth).await?;
                let http = self.http_settings()?;
                let target = EwsTarget {
                    url: &ews.url,
                    version: ews.server_version,
                    http: &http,
                };
                ews::send(trace, &target, &auth, letter, dry_run).await?
            }
            SpecTransport::Graph(graph) => {
                letter.check_headers()?;
                graph::request_body(letter, graph.save_to_sent_items)?;
                trace.pass(prepared);
                let token = self.token(trace, &graph.oauth, OAuthPlace::Graph).await?;
                let http = self.http_settings()?;
                let mailbox = self.spec.sender.address.address().to_string();
                let base = graph.endpoint.base_url();
                let target = GraphTarget {
                    endpoint: &base,
                    mailbox: &mailbox,
                    save_to_sent_items: graph.save_to_sent_items,
                    http: &http,
                };
                graph::send(trace, &target, &token, letter, dry_run).await?
            }
        };
        Ok(reply.map(|reply| Receipt { reply }))
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

    /// HTTP calls (EWS, Graph, token endpoints) trust Mozilla's roots and go through the
    /// profile's proxy.
    pub fn http_settings(&self) -> Result<HttpSettings, MailError> {
        Ok(HttpSettings {
            tls: TlsSettings::new(None)
                .map_err(|e| MailError::new(Reason::TlsFailed, Stage::Prepare, e))?,
            proxy: self.proxy()?,
            timeouts: self.timeouts,
            egress: self.egress.clone(),
            clock: self.clock.clone(),
        })
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
            egress: self.egress.clone(),
            clock: self.clock.clone(),
        })
    }

    async fn smtp_auth(&self, trace: &mut Trace, auth: &Auth) -> Result<SmtpAuth, MailError> {
        Ok(match auth {
            Auth::None => SmtpAuth::None,
            Auth::Basic(basic) => SmtpAuth::Basic {
                username: basic.username.to_string(),
                password: self.secrets.require(SecretSlot::AuthPassword)?.clone(),
                mechanism: basic.mechanism,
            },
            Auth::Ntlm(ntlm) => SmtpAuth::Ntlm(self.ntlm_credentials(ntlm)?),
            Auth::OAuth2(oauth) => SmtpAuth::Xoauth2 {
                username: oauth.username.to_string(),
                access_token: self.token(trace, &oauth.oauth, OAuthPlace::Auth).await?,
            },
        })
    }

    async fn ews_auth(&self, trace: &mut Trace, auth: &Auth) -> Result<EwsAuth, MailError> {
        Ok(match auth {
            Auth::None => {
                return Err(MailError::new(
                    Reason::AuthRequired,
                    Stage::Prepare,
                    "EWS always needs authentication",
                ));
            }
            Auth::Basic(basic) => EwsAuth::Basic {
                username: basic.username.to_string(),
                password: self.secrets.require(SecretSlot::AuthPassword)?.clone(),
            },
            Auth::Ntlm(ntlm) => EwsAuth::Ntlm(self.ntlm_credentials(ntlm)?),
            Auth::OAuth2(oauth) => EwsAuth::Bearer {
                token: self.token(trace, &oauth.oauth, OAuthPlace::Auth).await?,
                mailbox: oauth.username.to_string(),
                // An app-only token acts for no one until it impersonates the mailbox.
                impersonate: matches!(oauth.oauth.flow, OAuthFlow::ClientCredentials(_)),
            },
        })
    }

    fn ntlm_credentials(&self, ntlm: &NtlmAuth) -> Result<NtlmCredentials, MailError> {
        Ok(NtlmCredentials {
            username: ntlm.username.to_string(),
            domain: ntlm
                .domain
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            workstation: ntlm
                .workstation
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            password: self.secrets.require(SecretSlot::AuthPassword)?.clone(),
        })
    }

    async fn token(
        &self,
        trace: &mut Trace,
        settings: &OAuthSettings,
        place: OAuthPlace,
    ) -> Result<SecretString, MailError> {
        let (client_secret, private_key, refresh_token) = (
            place.client_secret(),
            place.private_key(),
            place.refresh_token(),
        );
        let source = TokenSource {
            settings: settings.clone(),
            client_secret: self.secrets.get(client_secret),
            private_key: self.secrets.get(private_key),
            refresh_token: self.secrets.get(refresh_token),
            refresh_slot: refresh_token,
            client_secret_slot: client_secret,
            private_key_slot: private_key,
        };
        let http = self.http_settings()?;
        oauth::access_token(
            trace,
            TokenRequest {
                source: &source,
                http: &http,
                cache: self.oauth.cache.as_deref(),
                fresh: self.oauth.fresh,
                sink: self.oauth.sink.as_ref(),
            },
        )
        .await
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
    let oauth = OAuthPlace::of(spec).map(|(place, _)| place);
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
            oauth,
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
            oauth,
        },
        SpecTransport::Graph(_) => Blame {
            host_field: "transport.endpoint",
            oauth,
            ..Blame::default()
        },
        SpecTransport::Local(_) => Blame {
            host_field: "transport.sendmail_path",
            ..Blame::default()
        },
    }
}

//! The SMTP session, stage by stage: greeting, EHLO, STARTTLS (required, never opportunistic)
//! or implicit TLS, AUTH (PLAIN, LOGIN, XOAUTH2), MAIL, RCPT, DATA. lettre formats the commands,
//! parses the replies and answers the SASL challenges; this module owns the stream so it can
//! time each stage, upgrade to TLS itself and keep a redacted transcript.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Quit, Rcpt, Starttls};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use outmail_types::diagnosis::Stage;
use outmail_types::profile::BasicMechanism;
use outmail_types::{Host, Port, SecretString, Security};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::time::timeout;

use crate::egress::EgressPolicy;
use crate::error::{MailError, Reason};
use crate::net::{self, BoxedStream, ProxySettings, QuickAck, Timeouts};
use crate::ntlm::{self, NtlmCredentials};
use crate::tls::TlsSettings;
use crate::trace::Trace;

/// The longest reply line (RFC 5321 says 512; be lenient) and the longest whole reply.
const MAX_REPLY_LINE: usize = 2048;
const MAX_REPLY: usize = 64 * 1024;

/// Where and how to reach an SMTP server.
#[derive(Debug, Clone)]
pub struct SmtpTarget {
    pub host: Host,
    pub port: Port,
    pub security: Security,
    pub tls: TlsSettings,
    /// The name sent with EHLO.
    pub ehlo_name: String,
    pub proxy: Option<ProxySettings>,
    pub timeouts: Timeouts,
    pub egress: EgressPolicy,
    /// What the session stamps with "now" (an NTLM response).
    pub clock: outmail_clock::SharedClock,
}

/// The credentials for AUTH, already resolved (a token already fetched).
#[derive(Debug, Clone)]
pub enum SmtpAuth {
    None,
    Basic {
        username: String,
        password: SecretString,
        mechanism: BasicMechanism,
    },
    Xoauth2 {
        username: String,
        access_token: SecretString,
    },
    /// NTLMv2 over `AUTH NTLM` (MS-SMTPNTLM).
    Ntlm(NtlmCredentials),
}

/// What to deliver: the SMTP envelope and the formatted message.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub envelope: Envelope,
    pub formatted: Vec<u8>,
}

/// What the server said when it took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The final reply's text, which often holds the queue ID.
    pub reply: String,
}

/// Runs one SMTP session. With `dry_run` it stops after RCPT (nothing is delivered). With a
/// `pool`, the connection is kept open for the next message instead of closed (see
/// [`SmtpPool`]).
pub async fn deliver(
    trace: &mut Trace,
    target: &SmtpTarget,
    auth: &SmtpAuth,
    message: &Outgoing,
    dry_run: bool,
    pool: Option<&PoolSlot>,
) -> Result<Option<Accepted>, MailError> {
    let (stream, acks) = net::open(
        trace,
        &target.host,
        target.port,
        target.proxy.as_ref(),
        target.timeouts,
        &target.egress,
    )
    .await?;
    let opened = Instant::now();
    let mut session = match Session::start(trace, target, stream, acks).await {
        Ok(session) => session,
        Err(e) if e.reason == Reason::Timeout && e.stage == Stage::Greeting => {
            return Err(explain_silent_greeting(target, e).await);
        }
        Err(e) => return Err(e),
    };
    let result = session.run(auth, message, dry_run).await;
    // After a failure the connection may be half-way through a reply: just close it.
    if result.is_ok() {
        match pool.filter(|_| !dry_run) {
            Some(slot) => {
                slot.pool.park(&slot.key, session.park(), opened, 1).await;
            }
            None => session.quit().await,
        }
    }
    result
}

/// A server that accepts the connection and says nothing is most often an implicit-TLS port
/// waiting for our TLS hello. Check on a second connection: if a TLS handshake gets an answer,
/// say so; otherwise it is a plain timeout.
async fn explain_silent_greeting(target: &SmtpTarget, timed_out: MailError) -> MailError {
    if target.security == Security::Tls {
        return timed_out;
    }
    let mut scratch = Trace::new();
    let Ok((stream, _)) = net::open(
        &mut scratch,
        &target.host,
        target.port,
        target.proxy.as_ref(),
        target.timeouts,
        &target.egress,
    )
    .await
    else {
        return timed_out;
    };
    let answer = target
        .tls
        .handshake(stream, &target.host, target.timeouts.command)
        .await;
    let speaks_tls = match answer {
        Ok(_) => true,
        Err(e) => matches!(
            e.reason,
            Reason::CertificateUntrusted
                | Reason::CertificateExpired
                | Reason::CertificateWrongHost
                | Reason::TlsFailed
        ),
    };
    if !speaks_tls {
        return timed_out;
    }
    MailError::new(
        Reason::WrongPortForSecurity,
        Stage::Greeting,
        format!(
            "no greeting on port {} within {:?}, but the port answers a TLS handshake: it \
             expects implicit TLS",
            target.port, target.timeouts.command
        ),
    )
}

/// What EHLO told us.
#[derive(Debug, Default, Clone)]
struct Capabilities {
    starttls: bool,
    smtputf8: bool,
    eight_bit_mime: bool,
    auth: Vec<String>,
    size: Option<u64>,
}

impl Capabilities {
    fn from_reply(reply: &Response) -> Self {
        let mut caps = Capabilities::default();
        // The first line is the server's name; each later line is one extension.
        for line in reply.message().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => caps.starttls = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "AUTH" => caps.auth.extend(words.map(|w| w.to_ascii_uppercase())),
                "SIZE" => caps.size = words.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0),
                _ => {}
            }
        }
        caps
    }

    fn offers(&self, mechanism: &str) -> bool {
        self.auth.iter().any(|m| m == mechanism)
    }
}

struct Session<'a> {
    trace: &'a mut Trace,
    target: &'a SmtpTarget,
    io: BufReader<BoxedStream>,
    caps: Capabilities,
    encrypted: bool,
    acks: QuickAck,
    /// The last read ended in a reset: the server closed while data we sent was still unread
    /// (a clean close, after reading everything, is an end of file instead).
    reset_by_server: bool,
}

/// What stays of a session between two messages: the open (encrypted, authenticated)
/// connection and what its EHLO offered.
struct Connection {
    io: BufReader<BoxedStream>,
    caps: Capabilities,
    encrypted: bool,
    acks: QuickAck,
}

impl<'a> Session<'a> {
    /// Takes up a parked connection again, recording into `trace`.
    fn resume(trace: &'a mut Trace, target: &'a SmtpTarget, connection: Connection) -> Self {
        Session {
            trace,
            target,
            io: connection.io,
            caps: connection.caps,
            encrypted: connection.encrypted,
            acks: connection.acks,
            reset_by_server: false,
        }
    }

    /// Ends the session without QUIT, keeping the connection for the next message.
    fn park(self) -> Connection {
        Connection {
            io: self.io,
            caps: self.caps,
            encrypted: self.encrypted,
            acks: self.acks,
        }
    }

    /// TLS (implicit), greeting and EHLO; then STARTTLS and EHLO again when required.
    async fn start(
        trace: &'a mut Trace,
        target: &'a SmtpTarget,
        stream: BoxedStream,
        acks: QuickAck,
    ) -> Result<Session<'a>, MailError> {
        let mut stream = stream;
        let mut encrypted = false;
        if target.security == Security::Tls {
            trace.begin(Stage::Tls);
            let (tls, detail) = target
                .tls
                .handshake(stream, &target.host, target.timeouts.command)
                .await?;
            trace.note(&detail);
            trace.pass(detail);
            stream = tls;
            encrypted = true;
        }
        let mut session = Session {
            trace,
            target,
            io: BufReader::new(stream),
            caps: Capabilities::default(),
            encrypted,
            acks,
            reset_by_server: false,
        };
        session.greeting().await?;
        session.ehlo(Stage::Ehlo).await?;
        if target.security == Security::Starttls {
            session.starttls().await?;
        }
        Ok(session)
    }

    async fn greeting(&mut self) -> Result<(), MailError> {
        self.trace.begin(Stage::Greeting);
        let reply = self
            .read_reply(Stage::Greeting, self.target.timeouts.command)
            .await?;
        if reply.code != 220 {
            return Err(rejection(Stage::Greeting, &reply));
        }
        self.trace.pass(reply.first_line());
        Ok(())
    }

    async fn ehlo(&mut self, stage: Stage) -> Result<(), MailError> {
        if self.trace.current() != Some(stage) {
            self.trace.begin(stage);
        }
        let client_id = ClientId::Domain(self.target.ehlo_name.clone());
        let command = Ehlo::new(client_id).to_string();
        let reply = self.command(stage, &command, None).await?;
        if reply.code != 250 {
            return Err(rejection(stage, &reply));
        }
        let parsed = Response::from_str(&reply.raw).map_err(|e| {
            MailError::new(
                Reason::Protocol,
                stage,
                format!("unreadable EHLO reply: {e}"),
            )
        })?;
        self.caps = Capabilities::from_reply(&parsed);
        if stage == Stage::Ehlo {
            let mut offered = Vec::new();
            if self.caps.starttls {
                offered.push("STARTTLS".to_owned());
            }
            if !self.caps.auth.is_empty() {
                offered.push(format!("AUTH {}", self.caps.auth.join(" ")));
            }
            if self.caps.smtputf8 {
                offered.push("SMTPUTF8".to_owned());
            }
            if let Some(size) = self.caps.size {
                offered.push(format!("SIZE {size}"));
            }
            self.trace.pass(if offered.is_empty() {
                "no extensions offered".to_owned()
            } else {
                offered.join(", ")
            });
        }
        Ok(())
    }

    async fn starttls(&mut self) -> Result<(), MailError> {
        self.trace.begin(Stage::Tls);
        if !self.caps.starttls {
            return Err(MailError::new(
                Reason::StartTlsNotOffered,
                Stage::Tls,
                "the server's EHLO reply does not list STARTTLS",
            ));
        }
        let reply = self
            .command(Stage::Tls, &Starttls.to_string(), None)
            .await?;
        match reply.code {
            220 => {}
            454 => {
                return Err(
                    MailError::new(Reason::StartTlsRefused, Stage::Tls, reply.text())
                        .with_smtp_reply(454),
                );
            }
            _ => return Err(rejection(Stage::Tls, &reply)),
        }
        // Anything the server sent after its 220 would be read as if it came over TLS: a known
        // injection attack (CVE-2011-0411). Refuse instead.
        if !self.io.buffer().is_empty() {
            return Err(MailError::new(
                Reason::Protocol,
                Stage::Tls,
                "the server sent data after its STARTTLS reply, before the TLS handshake",
            ));
        }
        let placeholder: BoxedStream = Box::new(tokio::io::empty());
        let plain = std::mem::replace(&mut self.io, BufReader::new(placeholder)).into_inner();
        let (tls, detail) = self
            .target
            .tls
            .handshake(plain, &self.target.host, self.target.timeouts.command)
            .await?;
        self.io = BufReader::new(tls);
        self.encrypted = true;
        self.trace.note(&detail);
        // The capabilities before TLS are void (RFC 3207 §4.2): ask again.
        self.ehlo(Stage::Tls).await?;
        self.trace.pass(detail);
        Ok(())
    }

    async fn run(
        &mut self,
        auth: &SmtpAuth,
        message: &Outgoing,
        dry_run: bool,
    ) -> Result<Option<Accepted>, MailError> {
        self.authenticate(auth).await?;
        self.mail(message).await?;
        self.rcpt(&message.envelope).await?;
        if dry_run {
            self.trace.skip(
                Stage::Data,
                "dry run: stopped before DATA, nothing was delivered",
            );
            return Ok(None);
        }
        self.data(message).await.map(Some)
    }

    /// Sends one more message on an open connection: MAIL, RCPT, DATA.
    async fn transaction(&mut self, message: &Outgoing) -> Result<Accepted, MailError> {
        self.mail(message).await?;
        self.rcpt(&message.envelope).await?;
        self.data(message).await
    }

    /// `RSET`: proves a parked connection still works and starts a clean transaction.
    async fn reset(&mut self) -> Result<(), MailError> {
        let reply = self.command(Stage::Mail, "RSET\r\n", None).await?;
        if reply.code != 250 {
            return Err(rejection(Stage::Mail, &reply));
        }
        Ok(())
    }

    async fn authenticate(&mut self, auth: &SmtpAuth) -> Result<(), MailError> {
        let (mechanism, credentials) = match auth {
            SmtpAuth::None => return Ok(()),
            SmtpAuth::Basic {
                username,
                password,
                mechanism,
            } => {
                self.trace.begin(Stage::Auth);
                let chosen = match mechanism {
                    BasicMechanism::Plain => Mechanism::Plain,
                    BasicMechanism::Login => Mechanism::Login,
                    BasicMechanism::Auto if self.caps.offers("PLAIN") => Mechanism::Plain,
                    BasicMechanism::Auto if self.caps.offers("LOGIN") => Mechanism::Login,
                    BasicMechanism::Auto => Mechanism::Plain,
                };
                (
                    chosen,
                    Credentials::new(username.clone(), password.expose().to_owned()),
                )
            }
            SmtpAuth::Ntlm(credentials) => {
                self.trace.begin(Stage::Auth);
                return self.authenticate_ntlm(credentials).await;
            }
            SmtpAuth::Xoauth2 {
                username,
                access_token,
            } => {
                self.trace.begin(Stage::Auth);
                (
                    Mechanism::Xoauth2,
                    Credentials::new(username.clone(), access_token.expose().to_owned()),
                )
            }
        };
        let name = mechanism.to_string();
        self.require_mechanism(&name)?;
        let sasl_error = |e: lettre::transport::smtp::Error| {
            MailError::new(Reason::Protocol, Stage::Auth, format!("SASL {name}: {e}"))
        };
        let mut reply = if mechanism.supports_initial_response() {
            let initial = mechanism.response(&credentials, None).map_err(sasl_error)?;
            let line = format!("AUTH {name} {}\r\n", BASE64.encode(initial));
            self.command(Stage::Auth, &line, None).await?
        } else {
            self.command(Stage::Auth, &format!("AUTH {name}\r\n"), None)
                .await?
        };
        // LOGIN asks twice; XOAUTH2 answers a refused token with a 334 carrying a JSON error.
        let mut rounds = 0;
        while reply.code == 334 && rounds < 4 {
            rounds += 1;
            let challenge = BASE64
                .decode(reply.first_line().trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            if mechanism == Mechanism::Xoauth2 {
                self.trace
                    .note(&format!("the server's XOAUTH2 error: {challenge}"));
                let last = self.command(Stage::Auth, "\r\n", None).await?;
                return Err(MailError::new(
                    Reason::OAuthTokenRejected,
                    Stage::Auth,
                    format!("{}; the server said {challenge}", last.text()),
                )
                .with_smtp_reply(last.code));
            }
            let answer = mechanism
                .response(&credentials, Some(&challenge))
                .map_err(sasl_error)?;
            let line = format!("{}\r\n", BASE64.encode(answer));
            reply = self.command(Stage::Auth, &line, None).await?;
        }
        self.auth_result(&name, &reply, mechanism == Mechanism::Xoauth2)
    }

    /// Checks that the server offers AUTH, and the mechanism `name`.
    fn require_mechanism(&self, name: &str) -> Result<(), MailError> {
        if self.caps.auth.is_empty() {
            return Err(MailError::new(
                Reason::AuthNotOffered,
                Stage::Auth,
                if self.encrypted {
                    "the server does not offer AUTH".to_owned()
                } else {
                    "the server does not offer AUTH on this unencrypted connection".to_owned()
                },
            ));
        }
        if !self.caps.offers(name) {
            return Err(MailError::new(
                Reason::AuthMechanismUnavailable,
                Stage::Auth,
                format!(
                    "the server offers AUTH {}, not {name}",
                    self.caps.auth.join(" ")
                ),
            ));
        }
        Ok(())
    }

    /// The last reply of an AUTH exchange: 235 passes, anything else is sorted into a cause.
    fn auth_result(&mut self, name: &str, reply: &Reply, bearer: bool) -> Result<(), MailError> {
        if reply.code == 235 {
            self.trace.pass(format!("{name} accepted"));
            return Ok(());
        }
        let text = reply.text();
        let reason = if text.contains("5.7.139") {
            Reason::Microsoft365SmtpAuthDisabled
        } else if text.contains("5.7.3") && reply.code == 535 {
            Reason::Microsoft365AuthUnsuccessful
        } else if bearer && (500..600).contains(&reply.code) {
            Reason::OAuthTokenRejected
        } else if matches!(reply.code, 535 | 534 | 530 | 500..=504) {
            Reason::AuthFailed
        } else if (400..500).contains(&reply.code) {
            Reason::ServiceUnavailable
        } else {
            Reason::AuthFailed
        };
        Err(MailError::new(reason, Stage::Auth, text).with_smtp_reply(reply.code))
    }

    /// `AUTH NTLM` as MS-SMTPNTLM describes it: `334` invites the NEGOTIATE message, the next
    /// `334` carries the CHALLENGE, the AUTHENTICATE message answers it.
    async fn authenticate_ntlm(&mut self, credentials: &NtlmCredentials) -> Result<(), MailError> {
        self.require_mechanism("NTLM")?;
        let unexpected = |reply: &Reply| {
            MailError::new(
                Reason::AuthFailed,
                Stage::Auth,
                format!("the server answered AUTH NTLM with {}", reply.text()),
            )
            .with_smtp_reply(reply.code)
        };
        let reply = self.command(Stage::Auth, "AUTH NTLM\r\n", None).await?;
        if reply.code != 334 {
            return Err(unexpected(&reply));
        }
        let negotiate = format!("{}\r\n", BASE64.encode(ntlm::negotiate()));
        let reply = self
            .command(Stage::Auth, &negotiate, Some("[NTLM negotiate message]"))
            .await?;
        if reply.code != 334 {
            return Err(unexpected(&reply));
        }
        let challenge = BASE64
            .decode(reply.first_line().trim())
            .map_err(|_| {
                MailError::new(
                    Reason::Protocol,
                    Stage::Auth,
                    "the NTLM challenge is not base64",
                )
            })
            .and_then(|bytes| {
                ntlm::Challenge::parse(&bytes)
                    .map_err(|e| MailError::new(Reason::Protocol, Stage::Auth, e.to_string()))
            })?;
        let answer = ntlm::authenticate(
            &challenge,
            credentials,
            ntlm::random_client_challenge()?,
            ntlm::filetime(self.target.clock.as_ref()),
        );
        let line = format!("{}\r\n", BASE64.encode(answer));
        let reply = self.command(Stage::Auth, &line, None).await?;
        self.auth_result("NTLM", &reply, false)
    }

    async fn mail(&mut self, message: &Outgoing) -> Result<(), MailError> {
        self.trace.begin(Stage::Mail);
        let mut parameters = Vec::new();
        if has_non_ascii_address(&message.envelope) {
            if !self.caps.smtputf8 {
                return Err(MailError::new(
                    Reason::SmtpUtf8NotSupported,
                    Stage::Mail,
                    "the message has a non-ASCII address, and the server does not offer SMTPUTF8",
                ));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !message.formatted.is_ascii() {
            if !self.caps.eight_bit_mime && !self.caps.smtputf8 {
                return Err(MailError::new(
                    Reason::SmtpUtf8NotSupported,
                    Stage::Mail,
                    "the message has UTF-8 headers, and the server offers neither 8BITMIME nor \
                     SMTPUTF8",
                ));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        if let Some(limit) = self.caps.size {
            let size = message.formatted.len();
            if size as u64 > limit {
                return Err(MailError::new(
                    Reason::MessageTooLarge,
                    Stage::Mail,
                    format!("the message is {size} bytes; the server takes at most {limit}"),
                ));
            }
            parameters.push(MailParameter::Size(size));
        }
        let command = Mail::new(message.envelope.from().cloned(), parameters).to_string();
        let reply = self.command(Stage::Mail, &command, None).await?;
        if reply.code != 250 {
            return Err(rejection(Stage::Mail, &reply));
        }
        self.trace.pass(reply.first_line());
        Ok(())
    }

    async fn rcpt(&mut self, envelope: &Envelope) -> Result<(), MailError> {
        self.trace.begin(Stage::Rcpt);
        for recipient in envelope.to() {
            let command = Rcpt::new(recipient.clone(), Vec::new()).to_string();
            let reply = self.command(Stage::Rcpt, &command, None).await?;
            if !matches!(reply.code, 250 | 251) {
                return Err(rejection(Stage::Rcpt, &reply));
            }
        }
        self.trace
            .pass(format!("{} recipient(s) accepted", envelope.to().len()));
        Ok(())
    }

    async fn data(&mut self, message: &Outgoing) -> Result<Accepted, MailError> {
        self.trace.begin(Stage::Data);
        let reply = self.command(Stage::Data, &Data.to_string(), None).await?;
        if reply.code != 354 {
            return Err(rejection(Stage::Data, &reply));
        }
        let body = dot_stuff(&message.formatted);
        self.trace.note(&format!(
            "[message of {} bytes, not shown]",
            message.formatted.len()
        ));
        self.trace.client(".");
        let limit = self.target.timeouts.data;
        let write = async {
            let stream = self.io.get_mut();
            stream.write_all(&body).await?;
            stream.write_all(b"\r\n.\r\n").await?;
            stream.flush().await
        };
        match timeout(limit, write).await {
            Err(_) => {
                return Err(MailError::new(
                    Reason::Timeout,
                    Stage::Data,
                    "sending the message took too long",
                ));
            }
            Ok(Err(e)) => {
                return Err(MailError::new(
                    Reason::ConnectionDropped,
                    Stage::Data,
                    format!("the connection broke while sending the message: {e}"),
                ));
            }
            Ok(Ok(())) => {}
        }
        // From here on the server may have taken the message even if we never hear so; unless
        // it reset the connection, which it does only when it closed without reading all we
        // sent, final dot included.
        let reply = match self.read_reply(Stage::Data, limit).await {
            Ok(reply) => reply,
            Err(mut e) if self.reset_by_server => {
                e.detail = format!(
                    "{}; the server closed before reading the whole message, so it did not take it",
                    e.detail
                );
                return Err(e);
            }
            Err(e) => return Err(e.after_final_dot()),
        };
        if reply.code != 250 {
            return Err(rejection(Stage::Data, &reply));
        }
        self.trace.pass(reply.first_line());
        Ok(Accepted {
            reply: reply.text(),
        })
    }

    /// Says QUIT once the stages are over. It belongs to none of them: its answer changes
    /// nothing, so a slow or missing one is not charged to DATA (or any stage); the transcript
    /// still shows both lines.
    async fn quit(&mut self) {
        let quit = Quit.to_string();
        self.trace.client(&quit);
        let limit = self.target.timeouts.command;
        let io = &mut self.io;
        let answer = timeout(limit, async {
            io.get_mut().write_all(quit.as_bytes()).await?;
            io.get_mut().flush().await?;
            let mut line = Vec::new();
            io.read_until(b'\n', &mut line).await?;
            Ok::<_, std::io::Error>(line)
        })
        .await;
        if let Ok(Ok(line)) = answer {
            self.trace.server(&String::from_utf8_lossy(&line));
        }
    }

    /// Writes one command and reads the reply. The transcript shows the line as
    /// [`transcript_line`] redacts it (`label` names a redacted line that is not a credential).
    async fn command(
        &mut self,
        stage: Stage,
        line: &str,
        label: Option<&'static str>,
    ) -> Result<Reply, MailError> {
        self.trace.client(&transcript_line(stage, line, label));
        let limit = self.target.timeouts.command;
        let write = async {
            let stream = self.io.get_mut();
            stream.write_all(line.as_bytes()).await?;
            stream.flush().await
        };
        match timeout(limit, write).await {
            Err(_) => {
                return Err(MailError::new(
                    Reason::Timeout,
                    stage,
                    "the server stopped reading",
                ));
            }
            Ok(Err(e)) => {
                return Err(MailError::new(
                    Reason::ConnectionDropped,
                    stage,
                    format!("the connection broke: {e}"),
                ));
            }
            Ok(Ok(())) => {}
        }
        self.read_reply(stage, limit).await
    }

    /// Reads one (possibly multi-line) reply.
    async fn read_reply(&mut self, stage: Stage, limit: Duration) -> Result<Reply, MailError> {
        self.acks.now();
        self.reset_by_server = false;
        let reset = &mut self.reset_by_server;
        let read = async {
            let mut raw = String::new();
            let mut lines = Vec::new();
            loop {
                let mut line = Vec::new();
                let n = (&mut self.io)
                    .take(MAX_REPLY_LINE as u64)
                    .read_until(b'\n', &mut line)
                    .await
                    .map_err(|e| {
                        if e.kind() == std::io::ErrorKind::ConnectionReset {
                            *reset = true;
                        }
                        (Reason::ConnectionDropped, format!("read failed: {e}"))
                    })?;
                if n == 0 {
                    return Err((
                        Reason::ConnectionDropped,
                        "the server closed the connection".to_owned(),
                    ));
                }
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']).to_owned();
                self.trace.server(&text);
                let done = text.len() == 3 || text.as_bytes().get(3) == Some(&b' ');
                raw.push_str(&text);
                raw.push_str("\r\n");
                lines.push(text);
                if raw.len() > MAX_REPLY {
                    return Err((Reason::Protocol, "the reply is too long".to_owned()));
                }
                if done {
                    break;
                }
            }
            Ok((raw, lines))
        };
        let (raw, lines) = match timeout(limit, read).await {
            Err(_) => {
                return Err(MailError::new(
                    Reason::Timeout,
                    stage,
                    format!("no reply within {limit:?}"),
                ));
            }
            Ok(Err((reason, detail))) => return Err(MailError::new(reason, stage, detail)),
            Ok(Ok(read)) => read,
        };
        let code = lines
            .first()
            .and_then(|l| l.get(..3))
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (200..600).contains(c))
            .ok_or_else(|| {
                MailError::new(
                    Reason::Protocol,
                    stage,
                    format!(
                        "not an SMTP reply: {:?}",
                        lines.first().map(String::as_str).unwrap_or("")
                    ),
                )
            })?;
        Ok(Reply { code, raw, lines })
    }
}

/// What the transcript shows of a line we send at `stage`. The session redacts, not its callers,
/// so that no new caller can leak a credential: during AUTH only the bare `AUTH <mechanism>`
/// command and an empty line (cancelling an exchange) are shown as they are; an initial response
/// becomes `AUTH <mechanism> [credentials redacted]`, and every other line `label` or
/// `[credentials redacted]`.
fn transcript_line(stage: Stage, line: &str, label: Option<&'static str>) -> String {
    const REDACTED: &str = "[credentials redacted]";
    let text = line.trim_end_matches(['\r', '\n']);
    if stage != Stage::Auth || text.is_empty() {
        return text.to_owned();
    }
    let mut words = text.split(' ');
    match (words.next(), words.next(), words.next()) {
        (Some(verb), Some(_), None) if verb.eq_ignore_ascii_case("AUTH") => text.to_owned(),
        (Some(verb), Some(mechanism), Some(_)) if verb.eq_ignore_ascii_case("AUTH") => {
            format!("AUTH {mechanism} {REDACTED}")
        }
        _ => label.unwrap_or(REDACTED).to_owned(),
    }
}

/// One SMTP reply, as read.
struct Reply {
    code: u16,
    raw: String,
    lines: Vec<String>,
}

impl Reply {
    /// The first line without its code.
    fn first_line(&self) -> String {
        self.lines
            .first()
            .map(|l| l.get(4..).unwrap_or("").to_owned())
            .unwrap_or_default()
    }

    /// Every line, codes included, joined.
    fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// Maps a negative reply at `stage` to its cause.
fn rejection(stage: Stage, reply: &Reply) -> MailError {
    let text = reply.text();
    let lower = text.to_ascii_lowercase();
    let reason = match (stage, reply.code) {
        (_, 421) => Reason::ServiceUnavailable,
        (_, 552) | (_, 452) if lower.contains("size") || lower.contains("5.3.4") => {
            Reason::MessageTooLarge
        }
        (_, 552) => Reason::MessageTooLarge,
        (_, 530) => Reason::AuthRequired,
        (_, 553 | 555) if lower.contains("smtputf8") || lower.contains("utf8") => {
            Reason::SmtpUtf8NotSupported
        }
        (Stage::Rcpt, 550 | 551 | 554)
            if lower.contains("relay") || lower.contains("5.7.1") || lower.contains("5.7.54") =>
        {
            Reason::RelayDenied
        }
        (_, 400..=499) => Reason::ServiceUnavailable,
        (Stage::Mail, _) => Reason::SenderRejected,
        (Stage::Rcpt, _) => Reason::RecipientRejected,
        (Stage::Greeting | Stage::Ehlo, _) => Reason::ServiceUnavailable,
        _ => Reason::Rejected,
    };
    MailError::new(reason, stage, text).with_smtp_reply(reply.code)
}

/// Whether MAIL or RCPT carries a non-ASCII address (which needs SMTPUTF8).
fn has_non_ascii_address(envelope: &Envelope) -> bool {
    let non_ascii = |a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii();
    envelope.from().is_some_and(non_ascii) || envelope.to().iter().any(non_ascii)
}

/// RFC 5321 §4.5.2: a line that starts with "." gets another, and every line ends in CRLF.
fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 2);
    let mut at_line_start = true;
    let mut previous = 0u8;
    for &byte in message {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        at_line_start = byte == b'\n';
        previous = byte;
    }
    if out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// Open SMTP connections kept between messages, so a busy profile does not pay for TCP, TLS,
/// EHLO and AUTH on every message. Connections are keyed by the caller (the delivery worker
/// uses the profile and its version, so a changed profile never reuses an old connection).
///
/// A parked connection is used again only while it is young enough ([`IDLE_LIMIT`],
/// [`AGE_LIMIT`], [`MESSAGES_LIMIT`]), and only after a `RSET` proves it alive: a server that
/// closed it in the meantime costs one round trip, and the message goes over a new connection.
#[derive(Default)]
pub struct SmtpPool {
    idle: Mutex<HashMap<String, Vec<Parked>>>,
}

/// A connection waiting for its next message.
struct Parked {
    connection: Connection,
    opened: Instant,
    parked: Instant,
    /// Messages sent on it so far.
    messages: u32,
}

/// Which pool a transport's connections go to, under which key.
#[derive(Clone)]
pub struct PoolSlot {
    pub pool: Arc<SmtpPool>,
    pub key: String,
}

impl std::fmt::Debug for PoolSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolSlot").field("key", &self.key).finish()
    }
}

/// A parked connection idle longer is closed: servers drop idle clients after a while (RFC
/// 5321 suggests 5 minutes; some are quicker), and an idle socket holds a server slot.
pub const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// However busy, a connection is closed after this long or this many messages, so that a
/// server's per-connection limits and a renewed OAuth token take effect.
pub const AGE_LIMIT: Duration = Duration::from_secs(5 * 60);
pub const MESSAGES_LIMIT: u32 = 100;
/// At most this many idle connections per key (the worker's concurrency).
pub const IDLE_PER_KEY: usize = 8;

impl SmtpPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `message` on a parked connection of `slot`, if one is still alive. `Ok(None)`:
    /// there was none, open a new one. An error is the server's answer to this message on a
    /// working connection.
    pub async fn send_on_parked(
        &self,
        slot: &PoolSlot,
        trace: &mut Trace,
        target: &SmtpTarget,
        message: &Outgoing,
    ) -> Result<Option<Accepted>, MailError> {
        while let Some(parked) = self.take(&slot.key) {
            // The liveness check goes to a scratch trace: a dead connection is routine and no
            // part of this message's story.
            let mut scratch = Trace::new();
            let mut session = Session::resume(&mut scratch, target, parked.connection);
            if session.reset().await.is_err() {
                continue;
            }
            let connection = session.park();
            trace.note(&format!(
                "reusing the connection to {}:{} opened {} s ago (message {} on it)",
                target.host,
                target.port,
                parked.opened.elapsed().as_secs(),
                parked.messages + 1
            ));
            let mut session = Session::resume(trace, target, connection);
            let accepted = session.transaction(message).await?;
            self.park(
                &slot.key,
                session.park(),
                parked.opened,
                parked.messages + 1,
            )
            .await;
            return Ok(Some(accepted));
        }
        Ok(None)
    }

    /// Keeps `connection` for the next message, or closes it when it has served its time or
    /// the key has enough idle ones.
    async fn park(&self, key: &str, connection: Connection, opened: Instant, messages: u32) {
        if messages < MESSAGES_LIMIT && opened.elapsed() < AGE_LIMIT {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let parked = idle.entry(key.to_owned()).or_default();
            if parked.len() < IDLE_PER_KEY {
                parked.push(Parked {
                    connection,
                    opened,
                    parked: Instant::now(),
                    messages,
                });
                return;
            }
        }
        close(connection).await;
    }

    /// The most recently parked connection of `key` still young enough; older ones are
    /// closed in the background.
    fn take(&self, key: &str) -> Option<Parked> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let parked = idle.get_mut(key)?;
        while let Some(candidate) = parked.pop() {
            if candidate.parked.elapsed() < IDLE_LIMIT && candidate.opened.elapsed() < AGE_LIMIT {
                return Some(candidate);
            }
            tokio::spawn(close(candidate.connection));
        }
        None
    }

    /// Closes every connection idle for longer than [`IDLE_LIMIT`]; called when the caller has
    /// nothing to send.
    pub async fn sweep(&self) {
        let stale: Vec<Connection> = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let mut stale = Vec::new();
            for parked in idle.values_mut() {
                let (keep, old): (Vec<Parked>, Vec<Parked>) = std::mem::take(parked)
                    .into_iter()
                    .partition(|p| p.parked.elapsed() < IDLE_LIMIT);
                *parked = keep;
                stale.extend(old.into_iter().map(|p| p.connection));
            }
            idle.retain(|_, parked| !parked.is_empty());
            stale
        };
        for connection in stale {
            close(connection).await;
        }
    }

    /// How many connections are parked (for tests and metrics).
    pub fn idle_count(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.values().map(Vec::len).sum()
    }
}

/// Says QUIT and closes, without waiting long for the answer.
async fn close(connection: Connection) {
    let mut io = connection.io;
    let _ = timeout(Duration::from_secs(2), async {
        io.get_mut().write_all(Quit.to_string().as_bytes()).await?;
        io.get_mut().flush().await?;
        let mut line = Vec::new();
        io.read_until(b'\n', &mut line).await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_redacts_every_credential_line_itself() {
        let shown = |line: &str| transcript_line(Stage::Auth, line, None);
        assert_eq!(shown("AUTH LOGIN\r\n"), "AUTH LOGIN");
        assert_eq!(
            shown("AUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n"),
            "AUTH PLAIN [credentials redacted]"
        );
        assert_eq!(shown("aHVudGVyMg==\r\n"), "[credentials redacted]");
        assert_eq!(shown("\r\n"), "");
        assert_eq!(
            transcript_line(
                Stage::Auth,
                "TlRMTVNTUAAB\r\n",
                Some("[NTLM negotiate message]")
            ),
            "[NTLM negotiate message]"
        );
        assert_eq!(
            transcript_line(Stage::Mail, "MAIL FROM:<a@example.com>\r\n", None),
            "MAIL FROM:<a@example.com>"
        );
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_normalises_line_ends() {
        assert_eq!(
            dot_stuff(b".a\r\nb\n.\r\n..c"),
            b"..a\r\nb\r\n..\r\n...c".to_vec()
        );
        assert_eq!(dot_stuff(b"x\r\n"), b"x".to_vec());
    }

    #[test]
    fn capabilities_are_read_from_the_ehlo_lines_after_the_first() {
        let reply = Response::from_str(
            "250-mail.example.com\r\n250-STARTTLS\r\n250-AUTH PLAIN login XOAUTH2\r\n250-SIZE 1000\r\n250 SMTPUTF8\r\n",
        )
        .expect("reply");
        let caps = Capabilities::from_reply(&reply);
        assert!(caps.starttls && caps.smtputf8 && !caps.eight_bit_mime);
        assert_eq!(caps.auth, ["PLAIN", "LOGIN", "XOAUTH2"]);
        assert_eq!(caps.size, Some(1000));
    }
}

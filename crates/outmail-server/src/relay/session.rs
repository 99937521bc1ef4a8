//! One client's SMTP session. Commands are parsed by `smtp-proto`; the state machine, the
//! limits and the replies are ours. Replies to pipelined commands are collected and written
//! when the client has nothing more buffered (RFC 2920), so a client that pipelines 1,000
//! commands gets 1,000 replies in order without a write per command.
//!
//! End of data is only `<CRLF>.<CRLF>` (smtp-proto's `DataReceiver`), and a message with a bare
//! LF or a bare CR anywhere is refused with `550 5.6.11`, never normalised: `<LF>.<LF>` and
//! `<CR>.<CR>` can therefore never end a message here, nor turn the rest of it into commands
//! on a server further on (SMTP smuggling).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use outmail_types::EmailAddress;
use outmail_types::delivery::{Channel, MessageSource, MessageStatus};
use smtp_proto::Request;
use smtp_proto::request::receiver::{BdatReceiver, DataReceiver};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, timeout_at};

use super::reply::{self, Reply};
use super::{ListenerKind, auth_offer, may_submit_unauthenticated, tls::Certificates};
use crate::auth::{self, Principal};
use crate::config::RelayConfig;
use crate::sending::{Refusal, RelayedMessage, relay_fields};
use crate::state::AppState;

/// The longest command line, CRLF included. RFC 5321 §4.5.3.1.4 sets 512 octets, extensions may
/// raise it, and AUTH with an initial response needs more; 2,048 leaves room for those.
pub const MAX_COMMAND_LINE: usize = 2048;
/// Recipients of one message (RFC 5321 §4.5.3.1.8 requires at least 100).
pub const MAX_RECIPIENTS: usize = 1000;
/// Commands in one session: enough for many messages, bounded for a client stuck in a loop.
pub const MAX_COMMANDS: usize = 10_000;
/// Refused commands in one session before the relay hangs up.
pub const MAX_ERRORS: usize = 20;
/// The longest session, whatever it does.
pub const MAX_SESSION: Duration = Duration::from_secs(30 * 60);
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// What every session of a relay shares.
#[derive(Clone)]
pub struct Shared {
    pub state: AppState,
    pub config: Arc<RelayConfig>,
    pub tls: Option<Arc<Certificates>>,
    /// Turns true when the server stops: sessions finish the command at hand and close.
    pub stop: tokio::sync::watch::Receiver<bool>,
}

/// A byte stream the session can speak over: plain TCP, or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// Why a session ends.
enum End {
    /// QUIT, or a reply that closes (421).
    Closed,
    /// The client went away or the connection broke.
    Gone,
}

/// Serves one connection from accept to close.
pub async fn serve(
    shared: Shared,
    listener: ListenerKind,
    tcp: TcpStream,
    peer: SocketAddr,
    permit: Option<OwnedSemaphorePermit>,
) {
    let _ = tcp.set_nodelay(true);
    let deadline = Instant::now() + MAX_SESSION;
    let mut session = Session {
        idle: shared.config.idle_timeout,
        shared,
        listener,
        peer,
        stream: Box::new(tcp),
        input: Vec::with_capacity(READ_CHUNK),
        output: Vec::with_capacity(1024),
        deadline,
        tls_active: false,
        helo: None,
        principal: None,
        transaction: None,
        commands: 0,
        errors: 0,
    };
    if permit.is_none() {
        session.output_reply(&reply::BUSY);
        let _ = session.flush().await;
        return;
    }
    if listener.implicit_tls && !session.start_tls().await {
        return;
    }
    let greeting = reply::greeting(&session.shared.config.hostname);
    session.output_reply(&greeting);
    match session.run().await {
        End::Closed => {
            let _ = session.flush().await;
            let _ = session.stream.shutdown().await;
        }
        End::Gone => {}
    }
    drop(permit);
}

/// The message being built: MAIL given, recipients, and how its content comes.
struct Transaction {
    from: Option<EmailAddress>,
    smtputf8: bool,
    recipients: Vec<EmailAddress>,
    /// Set once a BDAT chunk came; the content so far.
    chunks: Option<Vec<u8>>,
    /// A BDAT chunk was over the size limit: the rest is read and dropped, then refused.
    oversized: bool,
}

struct Session {
    shared: Shared,
    listener: ListenerKind,
    peer: SocketAddr,
    stream: Box<dyn Stream>,
    /// Bytes read but not yet consumed.
    input: Vec<u8>,
    /// Replies not yet written.
    output: Vec<u8>,
    deadline: Instant,
    idle: Duration,
    tls_active: bool,
    helo: Option<String>,
    principal: Option<Principal>,
    transaction: Option<Transaction>,
    commands: usize,
    errors: usize,
}

/// What reading a line gave.
enum Line {
    Complete(Vec<u8>),
    TooLong,
}

impl Session {
    async fn run(&mut self) -> End {
        loop {
            let line = match self.read_line().await {
                Ok(line) => line,
                Err(end) => return end,
            };
            if *self.shared.stop.borrow() {
                self.output_reply(&reply::SHUTTING_DOWN);
                return End::Closed;
            }
            self.commands += 1;
            if self.commands > MAX_COMMANDS {
                self.output_reply(&reply::TOO_MANY_COMMANDS);
                return End::Closed;
            }
            let line = match line {
                Line::Complete(line) => line,
                Line::TooLong => {
                    if let Some(end) = self.refuse(&reply::LINE_TOO_LONG) {
                        return end;
                    }
                    continue;
                }
            };
            if let Some(end) = self.command(&line).await {
                return end;
            }
        }
    }

    /// Queues a refusal, counting it; ends the session after too many.
    fn refuse(&mut self, refusal: &Reply) -> Option<End> {
        self.output_reply(refusal);
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.output_reply(&reply::TOO_MANY_ERRORS);
            return Some(End::Closed);
        }
        None
    }

    async fn command(&mut self, line: &[u8]) -> Option<End> {
        let parsed = Request::parse(&mut line.iter()).map(Request::into_owned);
        let request = match parsed {
            Ok(request) => request,
            Err(error) => return self.refuse(&parse_error(&error)),
        };
        match request {
            Request::Ehlo { host } => {
                self.hello(host);
                let extensions = self.extensions();
                let client = self.helo.clone().unwrap_or_default();
                self.output_reply(&reply::ehlo(
                    &self.shared.config.hostname,
                    &client,
                    &extensions,
                ));
            }
            Request::Helo { host } | Request::Lhlo { host } => {
                self.hello(host);
                let text = format!(
                    "{} greets {}",
                    self.shared.config.hostname,
                    self.helo.clone().unwrap_or_default()
                );
                self.output_reply(&Reply::with(250, "", text));
            }
            Request::StartTls => return self.starttls().await,
            Request::Auth {
                mechanism,
                initial_response,
            } => return self.auth(mechanism, initial_response).await,
            Request::Mail { from } => return self.mail(from),
            Request::Rcpt { to } => return self.rcpt(to),
            Request::Data => return self.data().await,
            Request::Bdat {
                chunk_size,
                is_last,
            } => return self.bdat(chunk_size, is_last).await,
            Request::Rset => {
                self.transaction = None;
                self.output_reply(&reply::OK);
            }
            Request::Noop { .. } => self.output_reply(&reply::OK),
            Request::Vrfy { .. } => self.output_reply(&reply::VRFY),
            Request::Help { .. } => self.output_reply(&reply::HELP),
            Request::Quit => {
                self.output_reply(&reply::CLOSING);
                return Some(End::Closed);
            }
            Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => return self.refuse(&reply::NOT_IMPLEMENTED),
        }
        None
    }

    /// EHLO/HELO: a new start (RFC 5321 §4.1.4), any transaction is dropped.
    fn hello(&mut self, host: String) {
        self.helo = Some(
            host.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(255)
                .collect(),
        );
        self.transaction = None;
    }

    fn extensions(&self) -> Vec<String> {
        let mut extensions = vec![
            "PIPELINING".to_owned(),
            format!("SIZE {}", self.shared.config.max_message_bytes),
            "8BITMIME".to_owned(),
            "SMTPUTF8".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
            "CHUNKING".to_owned(),
        ];
        if self.shared.tls.is_some() && !self.tls_active {
            extensions.push("STARTTLS".to_owned());
        }
        if self.principal.is_none() && self.auth_allowed_now().is_ok() {
            extensions.push("AUTH PLAIN LOGIN".to_owned());
        }
        extensions.push("HELP".to_owned());
        extensions
    }

    /// Whether AUTH may be used at this point of the session, else the refusal.
    fn auth_allowed_now(&self) -> Result<(), Reply> {
        use outmail_types::relay::AuthOffer;
        match auth_offer(self.shared.tls.is_some(), self.listener) {
            AuthOffer::AfterTls if self.tls_active => Ok(()),
            AuthOffer::AfterTls => Err(reply::ENCRYPTION_REQUIRED),
            AuthOffer::LoopbackWithoutTls => Ok(()),
            AuthOffer::Refused => Err(reply::AUTH_NEVER_IN_CLEAR),
        }
    }

    async fn starttls(&mut self) -> Option<End> {
        if self.tls_active {
            return self.refuse(&reply::ALREADY_TLS);
        }
        if self.shared.tls.is_none() {
            return self.refuse(&reply::NO_TLS);
        }
        self.output_reply(&reply::READY_FOR_TLS);
        if self.flush().await.is_err() {
            return Some(End::Gone);
        }
        // Anything the client sent after STARTTLS and before the handshake was sent in clear
        // and could have been injected: it is dropped, never run as a command (CVE-2011-0411).
        self.input.clear();
        if !self.start_tls().await {
            return Some(End::Gone);
        }
        // RFC 3207 §4.2: the client starts over with EHLO; nothing learnt before TLS counts.
        self.helo = None;
        self.principal = None;
        self.transaction = None;
        None
    }

    /// The TLS handshake over the current stream; false when it failed (the session ends).
    async fn start_tls(&mut self) -> bool {
        let Some(tls) = self.shared.tls.clone() else {
            return false;
        };
        let plain = std::mem::replace(&mut self.stream, Box::new(tokio::io::duplex(1).0));
        let handshake = tls.acceptor().accept(plain);
        match timeout_at(self.next_deadline(), handshake).await {
            Ok(Ok(secured)) => {
                self.stream = Box::new(secured);
                self.tls_active = true;
                true
            }
            Ok(Err(error)) => {
                tracing::info!(client = %self.peer, %error, "SMTP relay: TLS handshake failed");
                false
            }
            Err(_) => false,
        }
    }

    async fn auth(&mut self, mechanism: u64, initial_response: String) -> Option<End> {
        if self.principal.is_some() {
            return self.refuse(&reply::ALREADY_AUTHENTICATED);
        }
        if self.helo.is_none() {
            return self.refuse(&reply::SAY_HELLO_FIRST);
        }
        if self.transaction.is_some() {
            return self.refuse(&reply::NESTED_MAIL);
        }
        if let Err(refusal) = self.auth_allowed_now() {
            return self.refuse(&refusal);
        }
        let throttle_key = format!("smtp:{}", self.peer.ip());
        if let Err(wait) = self.shared.state.access.login_allowed(&throttle_key) {
            self.audit("smtp.auth.throttled", "throttled").await;
            return self.refuse(&reply::throttled(wait.as_secs().max(1)));
        }
        let password = match mechanism {
            smtp_proto::AUTH_PLAIN => {
                let response = if initial_response.is_empty() {
                    self.output_reply(&reply::PLAIN_CONTINUE);
                    match self.challenge_answer().await {
                        Ok(Some(answer)) => answer,
                        Ok(None) => return self.refuse(&reply::AUTH_CANCELLED),
                        Err(end) => return Some(end),
                    }
                } else {
                    initial_response
                };
                match decode_base64(&response) {
                    // authzid NUL authcid NUL passwd (RFC 4616); the names are not used.
                    Some(plain) => plain.split(|&b| b == 0).nth(2).map(<[u8]>::to_vec),
                    None => return self.refuse(&reply::BAD_BASE64),
                }
            }
            smtp_proto::AUTH_LOGIN => {
                // The username is anything (the token's name is a good choice): it is not used.
                if initial_response.is_empty() {
                    self.output_reply(&reply::LOGIN_USERNAME);
                    match self.challenge_answer().await {
                        Ok(Some(_)) => {}
                        Ok(None) => return self.refuse(&reply::AUTH_CANCELLED),
                        Err(end) => return Some(end),
                    }
                }
                self.output_reply(&reply::LOGIN_PASSWORD);
                match self.challenge_answer().await {
                    Ok(Some(answer)) => match decode_base64(&answer) {
                        Some(password) => Some(password),
                        None => return self.refuse(&reply::BAD_BASE64),
                    },
                    Ok(None) => return self.refuse(&reply::AUTH_CANCELLED),
                    Err(end) => return Some(end),
                }
            }
            _ => return self.refuse(&reply::UNKNOWN_MECHANISM),
        };
        let token = password
            .and_then(|p| String::from_utf8(p).ok())
            .unwrap_or_default();
        let holder = match auth::token_holder(&self.shared.state, token.trim()).await {
            Ok(holder) => holder,
            Err(error) => {
                tracing::error!(%error, "SMTP relay: the token could not be checked");
                self.output_reply(&Reply::new(
                    454,
                    "4.7.0",
                    "Temporary authentication failure; try again later",
                ));
                return None;
            }
        };
        match holder {
            Some(Principal::Token { ref scopes, .. })
                if scopes.iter().any(|s| s.allows_smtp_submission()) =>
            {
                self.shared.state.access.login_succeeded(&throttle_key);
                self.principal = holder;
                self.output_reply(&reply::AUTH_OK);
                None
            }
            Some(Principal::Token { name, .. }) => {
                self.shared.state.access.login_failed(&throttle_key);
                self.audit_as(
                    &format!("token:{name}"),
                    "smtp.auth.failed",
                    "missing_scope",
                )
                .await;
                self.refuse(&reply::MISSING_SCOPE)
            }
            _ => {
                self.shared.state.access.login_failed(&throttle_key);
                self.audit("smtp.auth.failed", "wrong_token").await;
                self.refuse(&reply::WRONG_TOKEN)
            }
        }
    }

    /// Reads the client's answer to a 334 challenge; `None` when it cancelled with `*`.
    async fn challenge_answer(&mut self) -> Result<Option<String>, End> {
        match self.read_line().await? {
            Line::TooLong => Ok(None),
            Line::Complete(line) => {
                let text = String::from_utf8_lossy(&line).trim().to_owned();
                Ok((text != "*").then_some(text))
            }
        }
    }

    fn mail(&mut self, from: smtp_proto::MailFrom<String>) -> Option<End> {
        if self.helo.is_none() {
            return self.refuse(&reply::SAY_HELLO_FIRST);
        }
        if self.transaction.is_some() {
            return self.refuse(&reply::NESTED_MAIL);
        }
        if self.principal.is_none()
            && !may_submit_unauthenticated(&self.shared.config, self.peer.ip())
        {
            return self.refuse(&reply::AUTH_REQUIRED);
        }
        let limit = self.shared.config.max_message_bytes;
        if from.size as u64 > limit {
            return self.refuse(&reply::size_declared(limit));
        }
        let smtputf8 = from.flags & smtp_proto::MAIL_SMTPUTF8 != 0;
        let address = if from.address.is_empty() {
            None
        } else {
            match EmailAddress::parse_utf8(&from.address) {
                Ok(address) if address.needs_utf8() && !smtputf8 => {
                    return self.refuse(&reply::NEEDS_SMTPUTF8);
                }
                Ok(address) => Some(address),
                Err(_) => return self.refuse(&reply::BAD_SENDER),
            }
        };
        self.transaction = Some(Transaction {
            from: address,
            smtputf8,
            recipients: Vec::new(),
            chunks: None,
            oversized: false,
        });
        self.output_reply(&reply::SENDER_OK);
        None
    }

    fn rcpt(&mut self, to: smtp_proto::RcptTo<String>) -> Option<End> {
        let Some(transaction) = self.transaction.as_mut() else {
            return self.refuse(&reply::MAIL_FIRST);
        };
        let address = match EmailAddress::parse_utf8(&to.address) {
            Ok(address) if address.needs_utf8() && !transaction.smtputf8 => {
                return self.refuse(&reply::NEEDS_SMTPUTF8);
            }
            Ok(address) => address,
            Err(_) => return self.refuse(&reply::BAD_RECIPIENT),
        };
        if transaction.recipients.len() >= MAX_RECIPIENTS {
            // Not counted as an error: RFC 5321 §4.5.3.1.10 has the client send the rest later.
            self.output_reply(&reply::TOO_MANY_RECIPIENTS);
            return None;
        }
        let key = address.to_string().to_lowercase();
        if !transaction
            .recipients
            .iter()
            .any(|known| known.to_string().to_lowercase() == key)
        {
            transaction.recipients.push(address);
        }
        self.output_reply(&reply::RECIPIENT_OK);
        None
    }

    /// Whether DATA or BDAT may start: a transaction with recipients.
    fn content_may_start(&mut self) -> Result<(), Reply> {
        match &self.transaction {
            None if self.helo.is_none() => Err(reply::SAY_HELLO_FIRST),
            None => Err(reply::MAIL_FIRST),
            Some(t) if t.recipients.is_empty() => Err(reply::RCPT_FIRST),
            Some(_) => Ok(()),
        }
    }

    async fn data(&mut self) -> Option<End> {
        if let Err(refusal) = self.content_may_start() {
            // With PIPELINING the client sends DATA before it sees the RCPT replies; when all
            // of them failed, the answer is "no valid recipients".
            let refusal = if refusal == reply::RCPT_FIRST {
                reply::NO_VALID_RECIPIENTS
            } else {
                refusal
            };
            return self.refuse(&refusal);
        }
        if self
            .transaction
            .as_ref()
            .is_some_and(|t| t.chunks.is_some())
        {
            return self.refuse(&reply::BDAT_MIXED);
        }
        self.output_reply(&reply::START_DATA);
        let limit = usize::try_from(self.shared.config.max_message_bytes).unwrap_or(usize::MAX);
        let mut receiver = DataReceiver::new();
        let mut message = Vec::new();
        let mut oversized = false;
        loop {
            let mut bytes = self.input.iter();
            let done = receiver.ingest(&mut bytes, &mut message);
            let rest = bytes.as_slice().len();
            let consumed = self.input.len() - rest;
            self.input.drain(..consumed);
            if message.len() > limit {
                // Read to the end and drop it; keep a few bytes for the receiver's own use.
                oversized = true;
                let keep = message.len().min(8);
                message.drain(..message.len() - keep);
            }
            if done {
                break;
            }
            if let Err(end) = self.read_more().await {
                // A client that goes away mid-DATA has nothing queued.
                return Some(end);
            }
        }
        let transaction = self.transaction.take()?;
        if oversized {
            return self.refuse(&reply::TOO_BIG);
        }
        self.submit(transaction, message).await
    }

    async fn bdat(&mut self, chunk_size: usize, is_last: bool) -> Option<End> {
        let refusal = self.content_may_start().err();
        let limit = usize::try_from(self.shared.config.max_message_bytes).unwrap_or(usize::MAX);
        // The chunk is read whatever happens: its bytes are not commands.
        let mut receiver = BdatReceiver::new(chunk_size, is_last);
        let mut chunk = Vec::with_capacity(chunk_size.min(READ_CHUNK * 4));
        loop {
            let mut bytes = self.input.iter();
            let done = receiver.ingest(&mut bytes, &mut chunk);
            let rest = bytes.as_slice().len();
            let consumed = self.input.len() - rest;
            self.input.drain(..consumed);
            if chunk.len() > limit {
                chunk.clear();
                if let Some(t) = self.transaction.as_mut() {
                    t.oversized = true;
                }
            }
            if done {
                break;
            }
            if let Err(end) = self.read_more().await {
                return Some(end);
            }
        }
        if let Some(refusal) = refusal {
            return self.refuse(&refusal);
        }
        let Some(transaction) = self.transaction.as_mut() else {
            return self.refuse(&reply::MAIL_FIRST);
        };
        let content = transaction.chunks.get_or_insert_with(Vec::new);
        if !transaction.oversized {
            content.extend_from_slice(&chunk);
            if content.len() > limit {
                transaction.oversized = true;
                content.clear();
            }
        }
        if !is_last {
            self.output_reply(&reply::chunk_received(chunk_size));
            return None;
        }
        let mut transaction = self.transaction.take()?;
        if transaction.oversized {
            return self.refuse(&reply::TOO_BIG);
        }
        let message = transaction.chunks.take().unwrap_or_default();
        self.submit(transaction, message).await
    }

    /// The end of a message: refused, or committed to the outbox and only then `250`.
    async fn submit(&mut self, transaction: Transaction, message: Vec<u8>) -> Option<End> {
        if has_bare_line_end(&message) {
            return self.refuse(&reply::BARE_LINE_END);
        }
        let (tenant, token) = match &self.principal {
            Some(Principal::Token { name, tenant, .. }) => (tenant.clone(), Some(name.clone())),
            _ => (None, None),
        };
        // RFC 3848's protocol names: S for TLS, A for AUTH.
        let protocol = match (self.tls_active, self.principal.is_some()) {
            (true, true) => "ESMTPSA",
            (true, false) => "ESMTPS",
            (false, true) => "ESMTPA",
            (false, false) => "ESMTP",
        };
        let received = format!(
            "from {} ([{}]) by {} (outmail) with {protocol}",
            self.helo.as_deref().unwrap_or("unknown"),
            self.peer.ip(),
            self.shared.config.hostname
        );
        let relayed = RelayedMessage {
            received,
            tenant,
            envelope_from: transaction.from,
            recipients: transaction.recipients,
            raw: message,
            source: MessageSource {
                channel: Channel::Smtp,
                token,
                client: Some(self.peer.to_string()),
            },
        };
        let answer = match self.shared.state.sending.accept_relayed(relayed).await {
            Ok(accepted) if accepted.status == MessageStatus::Suppressed => {
                reply::duplicate(&accepted.id)
            }
            Ok(accepted) => reply::queued(&accepted.id),
            Err(refusal) => refusal_reply(refusal, &self.peer),
        };
        if answer.is_permanent() {
            return self.refuse(&answer);
        }
        self.output_reply(&answer);
        None
    }

    /// Reads one line (up to LF). A line over the limit is read to its end and dropped.
    async fn read_line(&mut self) -> Result<Line, End> {
        let mut too_long = false;
        loop {
            if let Some(at) = self.input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.input.drain(..=at).collect();
                if too_long || line.len() > MAX_COMMAND_LINE {
                    return Ok(Line::TooLong);
                }
                return Ok(Line::Complete(line));
            }
            if self.input.len() > MAX_COMMAND_LINE {
                too_long = true;
                self.input.clear();
            }
            self.read_more().await?;
        }
    }

    /// Writes the replies so far (the client is waiting for them), then reads more bytes,
    /// within the idle timeout and the session's deadline.
    async fn read_more(&mut self) -> Result<(), End> {
        if self.flush().await.is_err() {
            return Err(End::Gone);
        }
        let mut chunk = [0u8; READ_CHUNK];
        let deadline = self.next_deadline();
        let mut stop = self.shared.stop.clone();
        let read = tokio::select! {
            read = timeout_at(deadline, self.stream.read(&mut chunk)) => read,
            () = async {
                // Only "it happened" matters; the value's guard must not live across an await.
                let _ = stop.wait_for(|stopped| *stopped).await;
            } => {
                // The server is stopping: nothing half-received was acknowledged, so the
                // client keeps it and tries again later.
                self.output_reply(&reply::SHUTTING_DOWN);
                let _ = self.flush().await;
                return Err(End::Gone);
            }
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => Err(End::Gone),
            Ok(Ok(n)) => {
                self.input.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(_) => {
                let timeout = if Instant::now() >= self.deadline {
                    reply::SESSION_TOO_LONG
                } else {
                    reply::IDLE
                };
                self.output_reply(&timeout);
                let _ = self.flush().await;
                Err(End::Gone)
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        (Instant::now() + self.idle).min(self.deadline)
    }

    fn output_reply(&mut self, reply: &Reply) {
        reply.write_to(&mut self.output);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let deadline = self.next_deadline();
        let write = async {
            self.stream.write_all(&self.output).await?;
            self.stream.flush().await
        };
        match timeout_at(deadline, write).await {
            Ok(result) => {
                self.output.clear();
                result
            }
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "write timed out",
            )),
        }
    }

    async fn audit(&self, action: &str, outcome: &str) {
        self.audit_as(&format!("smtp:{}", self.peer.ip()), action, outcome)
            .await;
    }

    async fn audit_as(&self, actor: &str, action: &str, outcome: &str) {
        let event = outmail_store::AuditWrite {
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: format!("relay/{}", self.listener.local),
            fields: "[]".to_owned(),
            outcome: outcome.to_owned(),
        };
        if let Err(error) = self.shared.state.store.record_audit(&event).await {
            tracing::error!(%error, action, "could not write the audit log");
        }
    }
}

/// A refusal of the sending service as an SMTP reply.
fn refusal_reply(refusal: Refusal, peer: &SocketAddr) -> Reply {
    match refusal {
        Refusal::SendingDisabled => reply::SENDING_OFF,
        Refusal::NoProfile => reply::no_profile(
            "neither the token's tenant, a routing rule nor the global default names a profile",
        ),
        Refusal::NotFound("tenant") => {
            reply::not_authorised("The tenant this token is bound to no longer exists")
        }
        Refusal::NotFound(what) => {
            reply::no_profile(&format!("the {what} it names does not exist"))
        }
        Refusal::NoSupportAddress => reply::no_profile("no support address is set"),
        Refusal::Invalid(errors) => {
            let first = errors.iter().next();
            let (field, message) = first
                .map(|(field, errors)| {
                    let message = errors
                        .first()
                        .map(|e| e.message.clone())
                        .unwrap_or_default();
                    (field.to_owned(), message)
                })
                .unwrap_or_default();
            if field == relay_fields::FROM || field == relay_fields::HEADER_RECIPIENT {
                reply::not_authorised(&message)
            } else {
                reply::invalid_content(&message)
            }
        }
        Refusal::Fault(error) => {
            tracing::error!(client = %peer, error = %format!("{error:#}"), "SMTP relay: a message could not be stored");
            reply::STORAGE_FAULT
        }
    }
}

fn parse_error(error: &smtp_proto::Error) -> Reply {
    match error {
        smtp_proto::Error::UnknownCommand => reply::UNRECOGNISED,
        smtp_proto::Error::InvalidSenderAddress => reply::BAD_SENDER,
        smtp_proto::Error::InvalidRecipientAddress => reply::BAD_RECIPIENT,
        smtp_proto::Error::SyntaxError { syntax } => reply::syntax(&format!("use {syntax}")),
        smtp_proto::Error::InvalidParameter { param } => {
            reply::syntax(&format!("the {param} parameter is not valid"))
        }
        smtp_proto::Error::UnsupportedParameter { param } => Reply::with(
            555,
            "5.5.4",
            format!(
                "Unsupported parameter {}",
                param.chars().take(40).collect::<String>()
            ),
        ),
        smtp_proto::Error::ResponseTooLong => reply::LINE_TOO_LONG,
        smtp_proto::Error::NeedsMoreData { .. } | smtp_proto::Error::InvalidResponse { .. } => {
            reply::syntax("the command is incomplete")
        }
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text.trim()).ok()
}

/// A LF not after a CR, or a CR not before a LF.
fn has_bare_line_end(message: &[u8]) -> bool {
    message.iter().enumerate().any(|(at, &byte)| match byte {
        b'\n' => at == 0 || message[at - 1] != b'\r',
        b'\r' => message.get(at + 1) != Some(&b'\n'),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_line_ends_are_found_wherever_they_are() {
        assert!(!has_bare_line_end(b"Subject: a\r\n\r\nbody\r\n"));
        assert!(has_bare_line_end(
            b"Subject: a\r\n\r\nbody\n.\nMAIL FROM:<x@y>\r\n"
        ));
        assert!(has_bare_line_end(b"a\r.\r\n"));
        assert!(has_bare_line_end(b"\nstart"));
        assert!(has_bare_line_end(b"end\r"));
    }
}

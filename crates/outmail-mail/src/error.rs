//! Why a delivery failed ([`MailError`]): the cause ([`Reason`]), the stage, the server's words,
//! and — in one place — the kind, the field to blame and the remedy an admin is shown.

use std::fmt;
use std::time::Duration;

use outmail_types::Security;
use outmail_types::diagnosis::{Failure, FailureKind, Stage};
use outmail_types::profile::{OAuthField, OAuthPlace};

/// The cause of a failed delivery, as precise as the peer lets us be. Each has one remedy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    // Before the network.
    /// A secret the profile needs is not stored (`path` is its field).
    SecretMissing {
        path: &'static str,
    },
    /// An address in the message cannot be used (detail says which).
    InvalidMessage,
    /// The message needs SMTPUTF8 (a non-ASCII address) and the server does not offer it.
    SmtpUtf8NotSupported,
    /// A non-ASCII address while the profile's UTF-8 headers are off.
    Utf8HeadersOff,
    /// The local MTA's sendmail program is missing or not executable.
    LocalMtaMissing,

    // Reaching the server.
    DnsFailed,
    ConnectionRefused,
    Unreachable,
    Timeout,
    ProxyRefused,
    ProxyAuthFailed,
    /// The proxy answered, but could not reach the server (CONNECT 5xx, SOCKS failure).
    ProxyFailed,
    /// The egress policy refuses the address (of the proxy when `proxy`): link-local,
    /// metadata, or a private range not allowlisted.
    EgressRefused {
        proxy: bool,
    },

    // TLS.
    /// TLS spoken to a plain-text port, or plain text to a TLS port.
    WrongPortForSecurity,
    CertificateUntrusted,
    CertificateExpired,
    CertificateWrongHost,
    /// The server's own certificate is a CA certificate (`CA:TRUE`, as `openssl req -x509`
    /// makes by default), which TLS refuses as a server certificate.
    CertificateIsCa,
    TlsFailed,
    StartTlsNotOffered,
    StartTlsRefused,

    // Authentication.
    AuthNotOffered,
    /// AUTH is offered, but not with the mechanism this profile uses.
    AuthMechanismUnavailable,
    AuthFailed,
    /// 530: the server wants authentication before it takes mail.
    AuthRequired,
    /// Microsoft 365: `5.7.139` SMTP AUTH (client submission) disabled for the tenant or mailbox.
    Microsoft365SmtpAuthDisabled,
    /// Microsoft 365: `535 5.7.3 Authentication unsuccessful`.
    Microsoft365AuthUnsuccessful,
    /// The XOAUTH2 token was refused (the 334 JSON error).
    OAuthTokenRejected,
    /// AADSTS700016: no such application in the tenant.
    TokenApplicationNotFound,
    /// AADSTS7000215: wrong client secret.
    TokenInvalidSecret,
    /// AADSTS7000222: the client secret has expired.
    TokenSecretExpired,
    /// AADSTS700027: the certificate is not registered on the application.
    TokenCertificateNotRegistered,
    /// AADSTS90002: no such tenant.
    TokenTenantNotFound,
    /// The token endpoint refused for another reason (detail has its words).
    TokenRefused,
    /// Authorization-code flow without a refresh token: consent is needed.
    ConsentRequired,

    // The server's answer to the message.
    /// 550 5.7.1 relaying denied: the server does not accept mail for that domain from us.
    RelayDenied,
    /// 552: the message is larger than the server takes.
    MessageTooLarge,
    SenderRejected,
    RecipientRejected,
    /// 421 or 4xx: the server is busy or shutting down; try later.
    ServiceUnavailable,
    /// Any other rejection.
    Rejected,
    /// Graph 401.
    GraphUnauthorized,
    /// Graph 403 ErrorAccessDenied (or EWS ErrorAccessDenied): a permission is missing.
    AccessDenied,
    /// Graph 404 / EWS ErrorNonExistentMailbox: the sending mailbox does not exist.
    MailboxNotFound,
    /// Graph 429 / EWS ErrorServerBusy.
    Throttled,
    ServerError,

    // The conversation itself.
    ConnectionDropped,
    Protocol,
}

/// The number a peer answered with. An SMTP reply, an HTTP status and a program's exit status
/// are different things even when the digits agree: 403 over HTTP is a refusal for good, while
/// every SMTP 4yz reply is a transient one (RFC 5321 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyCode {
    Smtp(u16),
    Http(u16),
    /// The local sendmail program's exit status (`sysexits.h`).
    Exit(i32),
}

impl ReplyCode {
    /// The number as the test report shows it.
    pub fn number(self) -> Option<u16> {
        match self {
            ReplyCode::Smtp(code) | ReplyCode::Http(code) => Some(code),
            ReplyCode::Exit(status) => u16::try_from(status).ok(),
        }
    }

    /// Whether the code by itself says "try again later": SMTP 4yz; HTTP 408 Request Timeout,
    /// 425 Too Early, 429 Too Many Requests and every 5xx (RFC 9110, RFC 6585); `EX_TEMPFAIL`.
    /// Every other HTTP 4xx (400, 401, 403, 404, 407, 413, …) needs a change on our side.
    pub fn is_transient(self) -> bool {
        match self {
            ReplyCode::Smtp(code) => (400..500).contains(&code),
            ReplyCode::Http(status) => matches!(status, 408 | 425 | 429 | 500..=599),
            ReplyCode::Exit(status) => status == EX_TEMPFAIL,
        }
    }
}

/// `sysexits.h`: a temporary failure; the caller is invited to retry later.
const EX_TEMPFAIL: i32 = 75;

/// What waiting, or another server, can do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Only a change of settings, credentials or the message helps (unless the peer's reply
    /// code says it is temporary, see [`ReplyCode::is_transient`]).
    Permanent,
    /// The server answered that it cannot take the message now: try again later.
    Transient,
    /// The server could not be reached or kept: try again later, or at once through the
    /// profile's alternate.
    Outage,
}

impl Reason {
    /// The one table of what each cause means for a retry. It has no catch-all arm on purpose:
    /// a new reason does not compile until someone decides what it means.
    pub fn recovery(&self) -> Recovery {
        use Reason as R;
        match self {
            R::SecretMissing { .. }
            | R::InvalidMessage
            | R::SmtpUtf8NotSupported
            | R::Utf8HeadersOff
            | R::LocalMtaMissing
            | R::EgressRefused { .. }
            | R::ProxyAuthFailed
            | R::WrongPortForSecurity
            | R::CertificateUntrusted
            | R::CertificateExpired
            | R::CertificateWrongHost
            | R::CertificateIsCa
            | R::TlsFailed
            | R::StartTlsNotOffered
            | R::AuthNotOffered
            | R::AuthMechanismUnavailable
            | R::AuthFailed
            | R::AuthRequired
            | R::Microsoft365SmtpAuthDisabled
            | R::Microsoft365AuthUnsuccessful
            | R::OAuthTokenRejected
            | R::TokenApplicationNotFound
            | R::TokenInvalidSecret
            | R::TokenSecretExpired
            | R::TokenCertificateNotRegistered
            | R::TokenTenantNotFound
            | R::TokenRefused
            | R::ConsentRequired
            | R::RelayDenied
            | R::MessageTooLarge
            | R::SenderRejected
            | R::RecipientRejected
            | R::Rejected
            | R::GraphUnauthorized
            | R::AccessDenied
            | R::MailboxNotFound
            | R::Protocol => Recovery::Permanent,
            // 454 at STARTTLS: the server cannot start TLS now (often a certificate it lacks).
            R::StartTlsRefused | R::ServiceUnavailable | R::Throttled | R::ServerError => {
                Recovery::Transient
            }
            R::DnsFailed
            | R::ConnectionRefused
            | R::Unreachable
            | R::Timeout
            | R::ProxyRefused
            | R::ProxyFailed
            | R::ConnectionDropped => Recovery::Outage,
        }
    }
}

/// A failed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailError {
    pub reason: Reason,
    pub stage: Stage,
    /// The peer's reply code, when there was one.
    pub code: Option<ReplyCode>,
    /// What happened, with the server's own words (never a credential).
    pub detail: String,
    /// When the server said when to try again.
    pub retry_after: Option<Duration>,
    /// The whole message was sent and the reply never came: the server may have taken it, so
    /// sending it again elsewhere risks a duplicate.
    pub delivery_unknown: bool,
}

impl MailError {
    pub fn new(reason: Reason, stage: Stage, detail: impl Into<String>) -> Self {
        Self {
            reason,
            stage,
            code: None,
            detail: detail.into(),
            retry_after: None,
            delivery_unknown: false,
        }
    }

    /// Marks a fault that happened after the final dot (see [`MailError::delivery_unknown`]).
    pub fn after_final_dot(mut self) -> Self {
        self.delivery_unknown = true;
        self
    }

    pub fn with_smtp_reply(mut self, code: u16) -> Self {
        self.code = Some(ReplyCode::Smtp(code));
        self
    }

    pub fn with_http_status(mut self, status: u16) -> Self {
        self.code = Some(ReplyCode::Http(status));
        self
    }

    pub fn with_exit_status(mut self, status: i32) -> Self {
        self.code = Some(ReplyCode::Exit(status));
        self
    }

    pub fn kind(&self) -> FailureKind {
        use Reason as R;
        match self.reason {
            R::SecretMissing { .. }
            | R::InvalidMessage
            | R::SmtpUtf8NotSupported
            | R::Utf8HeadersOff
            | R::LocalMtaMissing
            | R::ConsentRequired => FailureKind::Configuration,
            R::DnsFailed | R::ConnectionRefused | R::Unreachable | R::EgressRefused { .. } => {
                FailureKind::Connect
            }
            R::Timeout => FailureKind::Timeout,
            R::ProxyRefused | R::ProxyAuthFailed | R::ProxyFailed => FailureKind::Proxy,
            R::WrongPortForSecurity
            | R::CertificateUntrusted
            | R::CertificateExpired
            | R::CertificateWrongHost
            | R::CertificateIsCa
            | R::TlsFailed
            | R::StartTlsNotOffered
            | R::StartTlsRefused => FailureKind::Tls,
            R::AuthNotOffered
            | R::AuthMechanismUnavailable
            | R::AuthFailed
            | R::AuthRequired
            | R::Microsoft365SmtpAuthDisabled
            | R::Microsoft365AuthUnsuccessful
            | R::OAuthTokenRejected
            | R::TokenApplicationNotFound
            | R::TokenInvalidSecret
            | R::TokenSecretExpired
            | R::TokenCertificateNotRegistered
            | R::TokenTenantNotFound
            | R::TokenRefused
            | R::GraphUnauthorized => FailureKind::Auth,
            R::RelayDenied
            | R::MessageTooLarge
            | R::SenderRejected
            | R::RecipientRejected
            | R::ServiceUnavailable
            | R::Rejected
            | R::AccessDenied
            | R::MailboxNotFound
            | R::Throttled
            | R::ServerError => FailureKind::Rejected,
            R::ConnectionDropped | R::Protocol => FailureKind::Protocol,
        }
    }

    /// Whether trying again later may succeed: the cause is transient or an outage, or the
    /// peer's reply code says so (an SMTP 4yz is temporary whatever the words).
    pub fn is_transient(&self) -> bool {
        self.reason.recovery() != Recovery::Permanent
            || self.code.is_some_and(ReplyCode::is_transient)
    }

    /// Whether the server could not be reached or kept, before it took the message: what moves
    /// a profile to its alternate. Refusals, bad credentials and certificate problems are the
    /// server answering; they are not outages, and an alternate would not fix them.
    pub fn is_outage(&self) -> bool {
        if self.delivery_unknown {
            return false;
        }
        match self.reason.recovery() {
            Recovery::Outage => true,
            // 421 before any mail command: the service is closing or not available.
            Recovery::Transient => {
                self.reason == Reason::ServiceUnavailable
                    && matches!(self.stage, Stage::Greeting | Stage::Ehlo)
            }
            Recovery::Permanent => false,
        }
    }

    /// The stable identifier of the reason (`wrong_port_for_security`).
    pub fn reason_code(&self) -> &'static str {
        use Reason as R;
        match self.reason {
            R::SecretMissing { .. } => "secret_missing",
            R::InvalidMessage => "invalid_message",
            R::SmtpUtf8NotSupported => "smtputf8_not_supported",
            R::Utf8HeadersOff => "utf8_headers_off",
            R::LocalMtaMissing => "local_mta_missing",
            R::DnsFailed => "dns_failed",
            R::ConnectionRefused => "connection_refused",
            R::Unreachable => "unreachable",
            R::Timeout => "timeout",
            R::ProxyRefused => "proxy_refused",
            R::EgressRefused { .. } => "egress_refused",
            R::ProxyAuthFailed => "proxy_auth_failed",
            R::ProxyFailed => "proxy_failed",
            R::WrongPortForSecurity => "wrong_port_for_security",
            R::CertificateUntrusted => "certificate_untrusted",
            R::CertificateExpired => "certificate_expired",
            R::CertificateWrongHost => "certificate_wrong_host",
            R::CertificateIsCa => "certificate_is_ca",
            R::TlsFailed => "tls_failed",
            R::StartTlsNotOffered => "starttls_not_offered",
            R::StartTlsRefused => "starttls_refused",
            R::AuthNotOffered => "auth_not_offered",
            R::AuthMechanismUnavailable => "auth_mechanism_unavailable",
            R::AuthFailed => "auth_failed",
            R::AuthRequired => "auth_required",
            R::Microsoft365SmtpAuthDisabled => "microsoft365_smtp_auth_disabled",
            R::Microsoft365AuthUnsuccessful => "microsoft365_auth_unsuccessful",
            R::OAuthTokenRejected => "oauth_token_rejected",
            R::TokenApplicationNotFound => "token_application_not_found",
            R::TokenInvalidSecret => "token_invalid_secret",
            R::TokenSecretExpired => "token_secret_expired",
            R::TokenCertificateNotRegistered => "token_certificate_not_registered",
            R::TokenTenantNotFound => "token_tenant_not_found",
            R::TokenRefused => "token_refused",
            R::ConsentRequired => "consent_required",
            R::RelayDenied => "relay_denied",
            R::MessageTooLarge => "message_too_large",
            R::SenderRejected => "sender_rejected",
            R::RecipientRejected => "recipient_rejected",
            R::ServiceUnavailable => "service_unavailable",
            R::Rejected => "rejected",
            R::GraphUnauthorized => "unauthorized",
            R::AccessDenied => "access_denied",
            R::MailboxNotFound => "mailbox_not_found",
            R::Throttled => "throttled",
            R::ServerError => "server_error",
            R::ConnectionDropped => "connection_dropped",
            R::Protocol => "protocol",
        }
    }

    /// The wire form shown to the admin, with the field and remedy for this profile.
    pub fn to_failure(&self, blame: &Blame) -> Failure {
        let (field, remedy) = self.field_and_remedy(blame);
        Failure {
            kind: self.kind(),
            stage: self.stage,
            reason: self.reason_code().to_owned(),
            code: self.code.and_then(ReplyCode::number),
            field: field.map(str::to_owned),
            message: self.detail.clone(),
            remedy,
        }
    }

    fn field_and_remedy(&self, b: &Blame) -> (Option<&'static str>, String) {
        use Reason as R;
        let oauth = |field: OAuthField| b.oauth_field(field);
        // Network faults while fetching a token are the token endpoint's, not the server's.
        let host = if self.stage == Stage::Token {
            oauth(OAuthField::TokenUrl)
        } else {
            Some(b.host_field)
        };
        match &self.reason {
            R::SecretMissing { path } => (
                Some(path),
                "Enter this secret and save the profile, then test again.".to_owned(),
            ),
            R::InvalidMessage => (
                Some("sender.address"),
                "Check the sender and recipient addresses.".to_owned(),
            ),
            R::SmtpUtf8NotSupported => (
                Some("utf8_headers"),
                "This server does not offer SMTPUTF8, so it cannot take internationalised \
                 addresses. Use an ASCII address, or a server that supports SMTPUTF8."
                    .to_owned(),
            ),
            R::Utf8HeadersOff => (
                Some("utf8_headers"),
                "Turn on UTF-8 headers for this profile to send to or from a non-ASCII address."
                    .to_owned(),
            ),
            R::LocalMtaMissing => (
                Some("transport.sendmail_path"),
                "This machine has no mail server program at that path. Install an MTA \
                 (Postfix, Exim, OpenSMTPD) or enter the path of its sendmail program."
                    .to_owned(),
            ),
            R::DnsFailed => (
                host,
                "The host name does not resolve. Check it for typos, and that this machine's \
                 DNS can see it."
                    .to_owned(),
            ),
            R::ConnectionRefused => (
                if self.stage == Stage::Token {
                    host
                } else {
                    b.port_field.or(host)
                },
                format!(
                    "Nothing accepts connections on that port. Check the host and port{}.",
                    b.security
                        .map(|s| format!(
                            " (the usual port for {} is {})",
                            security_words(s),
                            s.default_port()
                        ))
                        .unwrap_or_default()
                ),
            ),
            R::Unreachable => (
                host,
                "The server cannot be reached from this machine: check the host, the network \
                 route and any firewall in between."
                    .to_owned(),
            ),
            R::Timeout => (
                host,
                format!(
                    "The server did not answer in time during {}. Check the host and port, and \
                     whether a firewall drops the traffic.",
                    self.stage
                ),
            ),
            R::ProxyRefused => (
                Some("proxy.host"),
                "The proxy refused the connection or is not running: check the proxy host and \
                 port."
                    .to_owned(),
            ),
            R::EgressRefused { proxy } => (
                if *proxy { Some("proxy.host") } else { host },
                "outmail does not connect to this address. Link-local and cloud-metadata \
                 addresses are always refused; a private address is allowed when the server's \
                 egress allowlist (--egress-allow) includes its range."
                    .to_owned(),
            ),
            R::ProxyAuthFailed => (
                Some("proxy.password"),
                "The proxy refused the user name or password.".to_owned(),
            ),
            R::ProxyFailed => (
                host,
                "The proxy could not reach the server: check the host and port, and that the \
                 proxy allows connections to it."
                    .to_owned(),
            ),
            R::WrongPortForSecurity => (
                Some("transport.security"),
                match (b.security, b.port) {
                    (Some(Security::Tls), Some(port)) => format!(
                        "Port {port} speaks plain SMTP, not implicit TLS. Choose STARTTLS \
                         (usually port 587), or port 465 for implicit TLS."
                    ),
                    (Some(_), Some(port)) => format!(
                        "Port {port} expects TLS from the first byte (implicit TLS). Choose TLS \
                         for this port, or use port 587 with STARTTLS."
                    ),
                    _ => "The security mode does not match what the port speaks.".to_owned(),
                },
            ),
            R::CertificateUntrusted => (
                b.ca_field.or(host),
                "The server's certificate is not signed by a trusted authority. If it uses a \
                 private CA, paste that CA certificate into the custom CA field."
                    .to_owned(),
            ),
            R::CertificateExpired => (
                host,
                "The server's certificate has expired (or is not valid yet). The server's \
                 administrator must renew it; check this machine's clock too."
                    .to_owned(),
            ),
            R::CertificateWrongHost => (
                host,
                "The certificate is for another host name. Use the host name the certificate \
                 names (not an IP address or alias)."
                    .to_owned(),
            ),
            R::CertificateIsCa => (
                b.ca_field.or(host),
                "The server's certificate is marked as a CA (CA:TRUE), so it cannot be trusted as \
                 a server certificate, even when pasted as the custom CA. Have the server use a \
                 certificate without CA:TRUE (openssl req -x509 ... -addext \
                 basicConstraints=critical,CA:FALSE), or one signed by a separate CA whose \
                 certificate you paste here."
                    .to_owned(),
            ),
            R::TlsFailed => (
                Some("transport.security"),
                "The TLS handshake failed; the detail says why.".to_owned(),
            ),
            R::StartTlsNotOffered => (
                Some("transport.security"),
                "The server does not offer STARTTLS on this port, and outmail never sends \
                 without the TLS you asked for. Use port 465 with TLS, or ask the server's \
                 administrator to enable STARTTLS."
                    .to_owned(),
            ),
            R::StartTlsRefused => (
                Some("transport.security"),
                "The server offered STARTTLS but refused to start it (454: often a missing \
                 certificate on the server). Try again later or ask the server's administrator."
                    .to_owned(),
            ),
            R::AuthNotOffered => (
                Some("transport.auth.kind"),
                "The server offers no authentication here. Many servers offer AUTH only after \
                 STARTTLS or on port 587; or choose no authentication if it relays for this \
                 machine."
                    .to_owned(),
            ),
            R::AuthMechanismUnavailable => (
                Some("transport.auth.kind"),
                "The server does not offer the authentication mechanism this profile uses; the \
                 detail lists what it offers."
                    .to_owned(),
            ),
            R::AuthFailed => (
                b.secret_field,
                "The server refused the user name or password. Re-enter them; some servers \
                 want the full email address as the user name."
                    .to_owned(),
            ),
            R::AuthRequired => (
                Some("transport.auth.kind"),
                "The server only takes mail from authenticated clients. Choose an \
                 authentication method and enter the credentials."
                    .to_owned(),
            ),
            R::Microsoft365SmtpAuthDisabled => (
                Some("transport.auth.kind"),
                "SMTP AUTH (authenticated client submission) is disabled for this tenant or \
                 mailbox. Turn on \"Authenticated SMTP\" for the mailbox in the Microsoft 365 \
                 admin center, or send through Microsoft Graph instead."
                    .to_owned(),
            ),
            R::Microsoft365AuthUnsuccessful => (
                b.secret_field,
                "Microsoft 365 refused the sign-in (5.7.3). Check the password, that \
                 \"Authenticated SMTP\" is on for the mailbox, and that security defaults do \
                 not block basic authentication; OAuth 2.0 is the lasting fix."
                    .to_owned(),
            ),
            R::OAuthTokenRejected => (
                oauth(OAuthField::Scopes),
                "The server refused the access token. Check that the scopes include the one \
                 this service needs, that the app is allowed to use the mailbox, and that the \
                 user name is the mailbox the token is for."
                    .to_owned(),
            ),
            R::TokenApplicationNotFound => (
                oauth(OAuthField::ClientId),
                "No application with this client ID exists in that tenant. Check the client \
                 ID, the tenant ID and the authority (cloud), and that the app is registered."
                    .to_owned(),
            ),
            R::TokenInvalidSecret => (
                oauth(OAuthField::ClientSecret),
                "The client secret is wrong. Enter the secret's value (not its ID) from the \
                 app registration."
                    .to_owned(),
            ),
            R::TokenSecretExpired => (
                oauth(OAuthField::ClientSecret),
                "The client secret has expired. Create a new secret in the app registration \
                 and enter it here."
                    .to_owned(),
            ),
            R::TokenCertificateNotRegistered => (
                oauth(OAuthField::Certificate),
                "The certificate that signed the client assertion is not registered on the \
                 application. Upload this certificate to the app registration, or pick the \
                 one that is."
                    .to_owned(),
            ),
            R::TokenTenantNotFound => (
                oauth(OAuthField::TenantId),
                "No tenant with this ID exists in that cloud. Check the tenant ID and the \
                 authority."
                    .to_owned(),
            ),
            R::TokenRefused => (
                oauth(OAuthField::ClientId),
                "The token endpoint refused the request; its words are in the detail.".to_owned(),
            ),
            R::ConsentRequired => (
                oauth(OAuthField::RefreshToken),
                "Sign in and consent for this profile first: there is no refresh token yet."
                    .to_owned(),
            ),
            R::RelayDenied => (
                b.auth_kind_field,
                "The server does not relay mail for this recipient from this client. \
                 Authenticate, or ask the server's administrator to allow relaying from \
                 this machine."
                    .to_owned(),
            ),
            R::MessageTooLarge => (
                None,
                "The message is larger than the server accepts. Send a smaller message, or ask \
                 for a higher size limit."
                    .to_owned(),
            ),
            R::SenderRejected => (
                Some("sender.address"),
                "The server refused the sender address. Use an address this account may send \
                 as."
                .to_owned(),
            ),
            R::RecipientRejected => (
                None,
                "The server refused the recipient. Check the address.".to_owned(),
            ),
            R::ServiceUnavailable => (
                None,
                "The server is busy or closing the connection (a temporary error). Try again \
                 in a few minutes."
                    .to_owned(),
            ),
            R::Rejected => (
                None,
                "The server refused the message; its words are in the detail.".to_owned(),
            ),
            R::GraphUnauthorized => (
                oauth(OAuthField::Scopes),
                "Microsoft Graph refused the access token. Check the scopes (the app needs a \
                 Graph token) and the authority for this cloud."
                    .to_owned(),
            ),
            R::AccessDenied => (
                oauth(OAuthField::ClientId),
                "The application lacks the permission to send as this mailbox. Grant the \
                 Mail.Send application permission with admin consent (or limit it with an \
                 application access policy that includes this mailbox)."
                    .to_owned(),
            ),
            R::MailboxNotFound => (
                Some("sender.address"),
                "The sending mailbox does not exist or has no Exchange Online licence. Check \
                 the sender address."
                    .to_owned(),
            ),
            R::Throttled => (
                None,
                match self.retry_after {
                    Some(after) => format!(
                        "The service is throttling requests; try again in {} seconds.",
                        after.as_secs().max(1)
                    ),
                    None => "The service is throttling requests; try again later.".to_owned(),
                },
            ),
            R::ServerError => (
                None,
                "The service had an internal error (5xx). Try again later.".to_owned(),
            ),
            R::ConnectionDropped => (
                None,
                "The server closed the connection unexpectedly. Try again; if it persists, \
                 check the server's logs."
                    .to_owned(),
            ),
            R::Protocol => (
                host,
                "The server's answer was not what the protocol expects. Check that the host \
                 and port are a mail server."
                    .to_owned(),
            ),
        }
    }
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {}: {}",
            self.reason_code(),
            self.stage,
            self.detail
        )
    }
}

impl std::error::Error for MailError {}

fn security_words(security: Security) -> &'static str {
    match security {
        Security::None => "plain SMTP",
        Security::Starttls => "STARTTLS",
        Security::Tls => "implicit TLS",
    }
}

/// Where the fields of this profile are, so a failure can point at the right one.
#[derive(Debug, Clone, Default)]
pub struct Blame {
    pub host_field: &'static str,
    pub port_field: Option<&'static str>,
    pub ca_field: Option<&'static str>,
    pub security: Option<Security>,
    pub port: Option<u16>,
    /// The password or secret the auth step used.
    pub secret_field: Option<&'static str>,
    pub auth_kind_field: Option<&'static str>,
    /// Where the OAuth settings are, if the profile uses OAuth.
    pub oauth: Option<OAuthPlace>,
}

impl Blame {
    fn oauth_field(&self, field: OAuthField) -> Option<&'static str> {
        self.oauth.map(|place| place.path(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(reason: Reason, status: u16) -> MailError {
        MailError::new(reason, Stage::Send, "").with_http_status(status)
    }

    #[test]
    fn http_client_errors_are_permanent_whatever_their_number() {
        for error in [
            http(Reason::Rejected, 400),
            http(Reason::RecipientRejected, 400),
            http(Reason::GraphUnauthorized, 401),
            http(Reason::OAuthTokenRejected, 401),
            http(Reason::AuthFailed, 401),
            http(Reason::AccessDenied, 403),
            http(Reason::MailboxNotFound, 404),
            http(Reason::MessageTooLarge, 413),
            MailError::new(Reason::ProxyAuthFailed, Stage::Connect, "").with_http_status(401),
            MailError::new(Reason::ProxyAuthFailed, Stage::Connect, "").with_http_status(407),
        ] {
            assert!(!error.is_transient(), "{error:?}");
            assert!(!error.is_outage(), "{error:?}");
        }
    }

    #[test]
    fn http_timeouts_throttling_and_server_errors_are_transient() {
        for status in [408, 425, 429, 500, 502, 503, 504] {
            assert!(http(Reason::Rejected, status).is_transient(), "{status}");
        }
        assert!(http(Reason::Throttled, 429).is_transient());
        assert!(http(Reason::ServerError, 503).is_transient());
    }

    #[test]
    fn every_smtp_4yz_reply_is_transient_and_5yz_is_not() {
        let smtp = |reason, code| MailError::new(reason, Stage::Rcpt, "").with_smtp_reply(code);
        assert!(smtp(Reason::MessageTooLarge, 452).is_transient());
        assert!(smtp(Reason::ServiceUnavailable, 451).is_transient());
        assert!(smtp(Reason::Rejected, 450).is_transient());
        assert!(!smtp(Reason::RecipientRejected, 550).is_transient());
        assert!(!smtp(Reason::AuthFailed, 535).is_transient());
    }

    #[test]
    fn sendmail_exit_statuses_are_not_read_as_smtp_replies() {
        let exit =
            |status| MailError::new(Reason::Rejected, Stage::Send, "").with_exit_status(status);
        assert!(exit(75).is_transient());
        assert!(!exit(78).is_transient());
        assert_eq!(exit(78).code.and_then(ReplyCode::number), Some(78));
    }

    #[test]
    fn outages_fail_over_and_are_retried_but_not_after_the_final_dot() {
        for reason in [
            Reason::DnsFailed,
            Reason::ConnectionRefused,
            Reason::Unreachable,
            Reason::Timeout,
            Reason::ProxyRefused,
            Reason::ProxyFailed,
            Reason::ConnectionDropped,
        ] {
            let error = MailError::new(reason.clone(), Stage::Connect, "");
            assert!(error.is_outage() && error.is_transient(), "{reason:?}");
            assert!(!error.after_final_dot().is_outage(), "{reason:?}");
        }
        let busy =
            |stage| MailError::new(Reason::ServiceUnavailable, stage, "").with_smtp_reply(421);
        assert!(busy(Stage::Greeting).is_outage());
        assert!(!busy(Stage::Rcpt).is_outage());
        assert!(busy(Stage::Rcpt).is_transient());
    }
}

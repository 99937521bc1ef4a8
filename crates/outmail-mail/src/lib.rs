//! Mail leaves here. One contract for every transport ([`Transport::send`]), typed failures with
//! the field to blame and the remedy ([`MailError`]), and the staged test send
//! ([`doctor::test_send`]) that the settings page shows.
//!
//! - [`net`]: resolve, connect, HTTP CONNECT and SOCKS5 proxies.
//! - [`tls`]: rustls, custom CAs, certificate errors by cause.
//! - [`smtp`]: the SMTP session, stage by stage.
//! - [`ews`], [`graph`]: Exchange Web Services and Microsoft Graph over [`http_client`].
//! - [`local`]: the local MTA's sendmail program.
//! - [`oauth`]: OAuth 2.0 tokens, cached per profile; [`ntlm`]: NTLMv2 messages.
//! - [`message`]: the RFC 5322 message and envelope.
//! - [`mime`]: reading and editing a MIME message a product submitted to the SMTP relay.
//! - [`trace`]: stages with timings and the redacted transcript.

pub mod doctor;
pub mod egress;
pub mod error;
pub mod ews;
pub mod graph;
pub mod http_client;
pub mod local;
pub mod message;
pub mod mime;
pub mod net;
pub mod ntlm;
pub mod oauth;
pub mod smtp;
pub mod tls;
pub mod trace;
pub mod transport;

pub use egress::EgressPolicy;
pub use error::{Blame, MailError, Reason};
pub use message::{Attachment, Letter};
pub use net::Timeouts;
pub use oauth::{RefreshTokenSink, TokenCache};
pub use smtp::{PoolSlot, SmtpPool};
pub use trace::Trace;
pub use transport::{OAuthRuntime, Receipt, Secrets, Transport};

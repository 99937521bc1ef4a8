//! The outmail settings model: newtypes parsed at the boundary, the profile model, field errors
//! and API types. WASM-safe (no I/O, no clock, no randomness): the UI and the server validate
//! with these same functions.
//!
//! - [`error`]: [`FieldError`], [`FieldErrors`], [`ApiError`] (the wire error body), [`ErrorCode`].
//! - Values: [`host`] (Host, Port, Security), [`email`] (EmailAddress, Mailbox), [`text`]
//!   (HeaderText, DisplayName, ProfileName, Signature…), [`url`] (HttpsUrl), [`guid`],
//!   [`scope`], [`frequency`], [`cert`] (CertificatePem, PrivateKeyPem), [`secret`].
//! - [`profile`]: drafts, validation, specs, secret slots and plans, views, JSON examples.
//! - [`settings`]: global settings, tenants, routing rules, list queries, export documents.
//! - [`diagnosis`]: the test send request and its staged report.
//! - [`delivery`]: the delivery log and the failover state.
//! - [`relay`]: the SMTP relay listener, as the Relay page shows it.
//! - `openapi` (feature `openapi`, server only): the utoipa schemas of every API body.
//!
//! Every parser takes "now" as a parameter where it needs one: `SystemTime::now()` panics on
//! `wasm32-unknown-unknown`.

#[macro_use]
mod macros;

pub mod access;
pub mod cert;
pub mod date;
pub mod delivery;
pub mod diagnosis;
pub mod email;
pub mod error;
pub mod frequency;
pub mod guid;
pub mod host;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod profile;
pub mod relay;
pub mod scope;
pub mod secret;
pub mod settings;
pub mod text;
pub mod url;

pub use cert::{CertificatePem, PrivateKeyPem, check_key_pair};
pub use date::Date;
pub use email::{Charset, EmailAddress, Mailbox};
pub use error::{ApiError, ErrorCode, FieldError, FieldErrors};
pub use frequency::SendFrequency;
pub use guid::Guid;
pub use host::{Host, Port, Security};
pub use profile::{
    ProfileDraft, ProfileId, ProfileSpec, ProfileSummary, ProfileView, plan_secrets,
    secret_reuse_errors,
};
pub use scope::{Scope, Scopes};
pub use secret::{SecretInput, SecretSlot, SecretStatus, SecretString};
pub use text::{Description, DisplayName, HeaderText, ProfileName, Signature, Username};
pub use url::HttpsUrl;

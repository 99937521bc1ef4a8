//! The mail-server profile: the draft a client sends, its validation into a spec, secret
//! handling (slots, destinations, keep/seal/clear) and the API views.
//!
//! Flow on the server: deserialise a [`ProfileDraft`] → [`ProfileDraft::validate`] →
//! [`plan_secrets`] with the stored profile and [`ProfileDraft::secret_inputs`] → store the
//! [`ProfileSpec`] (serialises without secrets) and apply the [`SecretPlan`].

mod draft;
pub mod examples;
mod oauth;
mod secrets;
mod spec;
pub(crate) mod validate;
mod values;
mod view;

pub use draft::{
    AuthDraft, BasicMechanism, CredentialDraft, EwsDraft, EwsVersion, FlowDraft, GraphDraft,
    GraphEndpointDraft, LocalDraft, OAuthDraft, OAuthField, OAuthPlace, ProfileDraft, ProxyDraft,
    ProxyKind, SenderDraft, SmtpDraft, TransportDraft,
};
pub use oauth::{Authority, Cloud, FlowKind, OAuthPreset, TransportKind};
pub use secrets::{
    SecretAction, SecretPlan, SecretRequirement, StoredProfile, plan_secrets, secret_reuse_errors,
};
pub use spec::{
    Auth, BasicAuth, ClientCredential, EwsTransport, GraphEndpoint, GraphTransport, LocalTransport,
    NtlmAuth, OAuth2Auth, OAuthFlow, OAuthSettings, ProfileSpec, Proxy, Sender, SmtpTransport,
    Transport,
};
pub use validate::{
    InvalidProfile, check_display_name, check_graph_cloud, check_preset_flow,
    check_preset_transport, check_security_port, effective_port,
};
pub use values::{
    ClientId, InvalidClientId, InvalidProfileId, InvalidSendmailPath, ProfileId, SendmailPath,
};
pub use view::{ProfileSummary, ProfileView, SecretState};

#[cfg(test)]
mod oauth_place_tests;
#[cfg(test)]
mod tests;

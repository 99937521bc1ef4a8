//! Write-only secrets: the redacting [`SecretString`], what a client sends ([`SecretInput`]),
//! what a response shows ([`SecretStatus`]), and the list of secret slots ([`SecretSlot`]).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{FieldError, SerdeEnvelope};

/// A secret value in memory. `Debug` prints `[redacted]`; there is no `Display`, so it cannot
/// end up in a log line by accident; the memory is wiped when it is dropped. It does serialise
/// (the UI must send a new password), so only put it in request types and in the one answer that
/// shows a new API token.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for sealing or for the wire to the mail server.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// What a client sends for a secret field.
///
/// | JSON                 | meaning                                                        |
/// |----------------------|----------------------------------------------------------------|
/// | `{"set": true}`      | keep the stored value (what a GET returns, so GET→PUT works)   |
/// | `{"set": false}`     | clear it                                                       |
/// | `{"value": "…"}`     | replace it (an empty value is an error: use `set: false`)      |
///
/// A missing field means `Keep`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SecretInput {
    #[default]
    Keep,
    Clear,
    Replace(SecretString),
}

impl SecretInput {
    pub fn replace(value: impl Into<String>) -> Self {
        SecretInput::Replace(SecretString::new(value))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretInputRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<SecretString>,
}

impl Serialize for SecretInput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let repr = match self {
            SecretInput::Keep => SecretInputRepr {
                set: Some(true),
                value: None,
            },
            SecretInput::Clear => SecretInputRepr {
                set: Some(false),
                value: None,
            },
            SecretInput::Replace(v) => SecretInputRepr {
                set: None,
                value: Some(v.clone()),
            },
        };
        repr.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SecretInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = SecretInputRepr::deserialize(deserializer)?;
        match (repr.set, repr.value) {
            (Some(true), None) => Ok(SecretInput::Keep),
            (Some(false), None) => Ok(SecretInput::Clear),
            // An empty value is accepted here and reported by validation, with its field path.
            (None, Some(v)) => Ok(SecretInput::Replace(v)),
            (Some(_), Some(_)) => Err(SerdeEnvelope::new(FieldError::new(
                "invalid",
                "a secret is either {\"set\": true|false} or {\"value\": \"…\"}, not both",
            ))
            .into_error()),
            (None, None) => Err(SerdeEnvelope::new(FieldError::new(
                "invalid",
                "a secret needs {\"set\": true|false} or {\"value\": \"…\"}",
            ))
            .into_error()),
        }
    }
}

/// What a response shows for a secret: whether one is stored, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretStatus {
    pub set: bool,
}

impl From<SecretStatus> for SecretInput {
    /// A status read back from a GET, sent again unchanged: keep what is set, clear what is not.
    fn from(status: SecretStatus) -> Self {
        if status.set {
            SecretInput::Keep
        } else {
            SecretInput::Clear
        }
    }
}

/// The secret field type of a profile draft. Three shapes share one draft definition:
/// [`SecretInput`] (requests), [`SecretStatus`] (responses) and [`Omitted`] (stored and exported
/// documents, which never contain secrets).
pub trait SecretField:
    Clone + Default + fmt::Debug + PartialEq + Serialize + DeserializeOwned
{
    /// Whether the field is left out when serialising.
    fn is_omitted(&self) -> bool {
        false
    }

    /// The client's instruction, for request drafts.
    fn input(&self) -> Option<&SecretInput> {
        None
    }
}

impl SecretField for SecretInput {
    fn input(&self) -> Option<&SecretInput> {
        Some(self)
    }
}

impl SecretField for SecretStatus {}

/// The secret field of a stored or exported profile: absent. Deserialising one that is present
/// fails, so a document carrying a secret is refused instead of silently dropping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Omitted;

impl Serialize for Omitted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

/// The code of a secret sent where none belongs (a stored or exported profile).
pub const SECRET_NOT_ALLOWED: &str = "secret_not_allowed";

impl<'de> Deserialize<'de> for Omitted {
    fn deserialize<D: Deserializer<'de>>(_deserializer: D) -> Result<Self, D::Error> {
        Err(SerdeEnvelope::new(FieldError::new(
            SECRET_NOT_ALLOWED,
            "secrets are not part of a stored or exported profile; remove the secret fields",
        ))
        .into_error())
    }
}

impl SecretField for Omitted {
    fn is_omitted(&self) -> bool {
        true
    }
}

/// What kind of secret a slot holds (for messages and for the UI's input type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    Password,
    ClientSecret,
    PrivateKey,
    RefreshToken,
}

impl SecretKind {
    /// Lowercase words for messages: "password", "client secret".
    pub fn label(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::ClientSecret => "client secret",
            SecretKind::PrivateKey => "private key",
            SecretKind::RefreshToken => "refresh token",
        }
    }
}

/// Every place a profile can hold a secret, named by its dotted field path (which is also where
/// the field sits in the draft JSON, and the key errors are reported under).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SecretSlot {
    /// SMTP/EWS basic or NTLM password.
    #[serde(rename = "transport.auth.password")]
    AuthPassword,
    #[serde(rename = "transport.auth.oauth.client_secret")]
    AuthClientSecret,
    #[serde(rename = "transport.auth.oauth.private_key")]
    AuthPrivateKey,
    #[serde(rename = "transport.auth.oauth.refresh_token")]
    AuthRefreshToken,
    #[serde(rename = "transport.oauth.client_secret")]
    GraphClientSecret,
    #[serde(rename = "transport.oauth.private_key")]
    GraphPrivateKey,
    #[serde(rename = "transport.oauth.refresh_token")]
    GraphRefreshToken,
    #[serde(rename = "proxy.password")]
    ProxyPassword,
}

impl SecretSlot {
    pub const ALL: [SecretSlot; 8] = [
        SecretSlot::AuthPassword,
        SecretSlot::AuthClientSecret,
        SecretSlot::AuthPrivateKey,
        SecretSlot::AuthRefreshToken,
        SecretSlot::GraphClientSecret,
        SecretSlot::GraphPrivateKey,
        SecretSlot::GraphRefreshToken,
        SecretSlot::ProxyPassword,
    ];

    /// The dotted field path, e.g. `transport.auth.oauth.client_secret`. The OAuth slots'
    /// paths come from the one table of OAuth places ([`OAuthPlace`]); the serde names above
    /// must be literals, and a test holds them equal to these.
    pub fn path(self) -> &'static str {
        use crate::profile::{OAuthField, OAuthPlace};
        match self {
            SecretSlot::AuthPassword => "transport.auth.password",
            SecretSlot::AuthClientSecret => OAuthPlace::Auth.path(OAuthField::ClientSecret),
            SecretSlot::AuthPrivateKey => OAuthPlace::Auth.path(OAuthField::PrivateKey),
            SecretSlot::AuthRefreshToken => OAuthPlace::Auth.path(OAuthField::RefreshToken),
            SecretSlot::GraphClientSecret => OAuthPlace::Graph.path(OAuthField::ClientSecret),
            SecretSlot::GraphPrivateKey => OAuthPlace::Graph.path(OAuthField::PrivateKey),
            SecretSlot::GraphRefreshToken => OAuthPlace::Graph.path(OAuthField::RefreshToken),
            SecretSlot::ProxyPassword => "proxy.password",
        }
    }

    pub fn from_path(path: &str) -> Option<SecretSlot> {
        SecretSlot::ALL.into_iter().find(|s| s.path() == path)
    }

    pub fn kind(self) -> SecretKind {
        match self {
            SecretSlot::AuthPassword | SecretSlot::ProxyPassword => SecretKind::Password,
            SecretSlot::AuthClientSecret | SecretSlot::GraphClientSecret => {
                SecretKind::ClientSecret
            }
            SecretSlot::AuthPrivateKey | SecretSlot::GraphPrivateKey => SecretKind::PrivateKey,
            SecretSlot::AuthRefreshToken | SecretSlot::GraphRefreshToken => {
                SecretKind::RefreshToken
            }
        }
    }

    /// Whether an admin can type this secret. A refresh token only ever comes from the consent
    /// (authorization code) flow, which the server stores itself.
    pub fn is_enterable(self) -> bool {
        self.kind() != SecretKind::RefreshToken
    }
}

impl fmt::Display for SecretSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// Why a secret input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSecret {
    #[error("the new value is empty: to remove the {0}, send {{\"set\": false}}")]
    Empty(&'static str),
    #[error("enter the {0}")]
    Required(&'static str),
    #[error("the {0} cannot be typed in: it is obtained by signing in (consent)")]
    NotEnterable(&'static str),
    #[error(
        "the stored {0} was entered for a different destination (server, security, authentication, user, token URL, tenant or client ID changed): enter it again"
    )]
    DestinationChanged(&'static str),
    #[error("the {0} cannot contain a NUL character")]
    Nul(&'static str),
    #[error("the {label} must be at most {max} characters")]
    TooLong { label: &'static str, max: usize },
}

error_codes!(InvalidSecret {
    Me::Empty(_) => "empty",
    Me::Required(_) => "required",
    Me::NotEnterable(_) => "not_enterable",
    Me::DestinationChanged(_) => "destination_changed",
    Me::Nul(_) => "control_character",
    Me::TooLong { .. } => "too_long",
});

/// Length limit for a typed secret value; private keys are PEM text and larger.
pub(crate) fn max_secret_len(kind: SecretKind) -> usize {
    match kind {
        SecretKind::PrivateKey => 64 * 1024,
        _ => 4096,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn secret_input_json_forms_map_to_keep_clear_and_replace() {
        let parse = |s: &str| serde_json::from_str::<SecretInput>(s);
        assert_eq!(parse(r#"{"set": true}"#).unwrap(), SecretInput::Keep);
        assert_eq!(parse(r#"{"set": false}"#).unwrap(), SecretInput::Clear);
        assert_eq!(
            parse(r#"{"value": "hunter2"}"#).unwrap(),
            SecretInput::replace("hunter2")
        );
        assert!(parse(r#"{"set": true, "value": "x"}"#).is_err());
        assert!(parse(r#"{}"#).is_err());
        assert!(parse(r#"{"secret": "x"}"#).is_err());
        assert!(parse(r#""plain string""#).is_err());
    }

    #[test]
    fn an_empty_value_deserialises_so_validation_can_name_its_path() {
        let input: SecretInput = serde_json::from_str(r#"{"value": ""}"#).unwrap();
        assert_eq!(input, SecretInput::replace(""));
    }

    #[test]
    fn secret_input_serialises_to_the_same_forms() {
        let json = |i: &SecretInput| serde_json::to_string(i).unwrap();
        assert_eq!(json(&SecretInput::Keep), r#"{"set":true}"#);
        assert_eq!(json(&SecretInput::Clear), r#"{"set":false}"#);
        assert_eq!(json(&SecretInput::replace("pw")), r#"{"value":"pw"}"#);
    }

    #[test]
    fn a_status_from_a_get_reads_back_as_keep_or_clear() {
        let status = SecretStatus { set: true };
        let text = serde_json::to_string(&status).unwrap();
        assert_eq!(text, r#"{"set":true}"#);
        assert_eq!(
            serde_json::from_str::<SecretInput>(&text).unwrap(),
            SecretInput::Keep
        );
        assert_eq!(
            SecretInput::from(SecretStatus { set: false }),
            SecretInput::Clear
        );
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let input = SecretInput::replace("hunter2");
        assert_eq!(format!("{input:?}"), "Replace([redacted])");
        assert!(!format!("{:?}", SecretString::new("hunter2")).contains("hunter2"));
    }

    #[test]
    fn an_omitted_secret_is_refused_when_present() {
        assert!(serde_json::from_str::<Omitted>(r#"{"set": true}"#).is_err());
    }

    #[test]
    fn every_slot_has_a_unique_path_that_maps_back() {
        for slot in SecretSlot::ALL {
            assert_eq!(SecretSlot::from_path(slot.path()), Some(slot));
            assert_eq!(
                serde_json::to_string(&slot).unwrap(),
                format!("\"{}\"", slot.path())
            );
        }
        assert_eq!(SecretSlot::from_path("transport.host"), None);
    }

    #[test]
    fn only_refresh_tokens_cannot_be_typed() {
        let typed: Vec<_> = SecretSlot::ALL
            .into_iter()
            .filter(|s| !s.is_enterable())
            .collect();
        assert_eq!(
            typed,
            [SecretSlot::AuthRefreshToken, SecretSlot::GraphRefreshToken]
        );
    }

    #[test]
    fn secret_errors_have_stable_codes() {
        assert_eq!(InvalidSecret::Empty("password").code(), "empty");
        assert!(
            InvalidSecret::Empty("password")
                .to_string()
                .contains("{\"set\": false}")
        );
        assert_eq!(
            InvalidSecret::DestinationChanged("password").code(),
            "destination_changed"
        );
    }
}

//! Who may do what: admin accounts and their roles, the signed-in session, API tokens and their
//! scopes, and the audit log, as the API shows them to the server and the UI alike.

use crate::secret::SecretString;
use serde::{Deserialize, Serialize};

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything; changes nothing and sends no test mail.
    Viewer,
    /// Everything.
    Admin,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Viewer, Role::Admin];

    /// The name in the API, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }

    /// Whether this role may change settings and send test mail.
    pub fn can_change(self) -> bool {
        self == Role::Admin
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shortest password an admin account accepts. Length is what makes a password hard to
/// guess; no other composition rule is imposed.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest: argon2 hashes any length, but a megabyte "password" is only a way to burn CPU.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why a new password is not accepted, or `None` when it is.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Some(format!(
            "use at least {MIN_PASSWORD_CHARS} characters (this one has {chars})"
        ))
    } else if chars > MAX_PASSWORD_CHARS {
        Some(format!("use at most {MAX_PASSWORD_CHARS} characters"))
    } else {
        None
    }
}

/// The body of `POST /api/v1/session`: signing in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[cfg_attr(feature = "openapi", schema(example = "admin@example.com"))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    pub password: SecretString,
}

/// The body of `POST /api/v1/setup`: the first admin, with the one-time setup token the
/// server printed when it started without any admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    pub token: SecretString,
    #[cfg_attr(feature = "openapi", schema(example = "admin@example.com"))]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Password))]
    pub password: SecretString,
}

/// The signed-in person, as `GET /api/v1/session` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    #[cfg_attr(feature = "openapi", schema(example = "admin@example.com"))]
    pub email: String,
    pub role: Role,
    /// When the session ends at the latest (Unix milliseconds); it ends sooner when idle.
    pub expires_at: i64,
}

/// What an API token may do. A token carries only the scopes it was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TokenScope {
    /// Queue messages (`POST /messages`) and support requests.
    #[serde(rename = "messages:send")]
    MessagesSend,
    /// Read the delivery log (`GET /messages`, `GET /messages/{id}`).
    #[serde(rename = "messages:read")]
    MessagesRead,
    /// Submit mail over SMTP to outmail's relay listener (the token is the AUTH password).
    #[serde(rename = "smtp:submit")]
    SmtpSubmit,
}

impl TokenScope {
    pub const ALL: [TokenScope; 3] = [
        TokenScope::MessagesSend,
        TokenScope::MessagesRead,
        TokenScope::SmtpSubmit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::MessagesSend => "messages:send",
            TokenScope::MessagesRead => "messages:read",
            TokenScope::SmtpSubmit => "smtp:submit",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }

    /// Whether a token with this scope may submit mail over SMTP: `messages:send` already
    /// allows queueing mail, so it covers the relay too.
    pub fn allows_smtp_submission(self) -> bool {
        matches!(self, TokenScope::SmtpSubmit | TokenScope::MessagesSend)
    }

    /// What the scope allows, for people.
    pub fn describe(self) -> &'static str {
        match self {
            TokenScope::MessagesSend => "queue messages and support requests",
            TokenScope::MessagesRead => "read the delivery log",
            TokenScope::SmtpSubmit => "submit mail over SMTP to the relay",
        }
    }
}

/// The body of `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// What the token is for, e.g. the product that uses it.
    #[cfg_attr(feature = "openapi", schema(example = "billing service"))]
    pub name: String,
    pub scopes: Vec<TokenScope>,
    /// The tenant the token is bound to: everything sent with it is that tenant's, and a
    /// request naming another tenant is refused. Missing: the token may name any tenant.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The longest token name.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;

impl NewApiToken {
    /// Field errors keyed by path (`name`, `scopes`); empty when the request is valid.
    pub fn validate(&self) -> crate::FieldErrors {
        let mut errors = crate::FieldErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.add(
                "name",
                crate::FieldError::new("required", "give the token a name"),
            );
        } else if name.chars().count() > MAX_TOKEN_NAME_CHARS {
            errors.add(
                "name",
                crate::FieldError::new(
                    "too_long",
                    format!("use at most {MAX_TOKEN_NAME_CHARS} characters"),
                ),
            );
        } else if name.chars().any(char::is_control) {
            errors.add(
                "name",
                crate::FieldError::new(
                    "control_character",
                    "line breaks and control characters are not allowed",
                ),
            );
        }
        if self.scopes.is_empty() {
            errors.add(
                "scopes",
                crate::FieldError::new("required", "choose at least one scope"),
            );
        }
        errors
    }
}

/// An API token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<TokenScope>,
    /// The first characters of the token, to tell tokens apart; not enough to use one.
    #[cfg_attr(feature = "openapi", schema(example = "om_3kF9"))]
    pub prefix: String,
    pub created_at: i64,
    pub created_by: String,
    pub last_used_at: Option<i64>,
    /// The tenant the token is bound to, if any.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The answer of `POST /api/v1/tokens`: the only time the token is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub view: ApiTokenView,
    /// Send it as `Authorization: Bearer <token>`. It is stored only as a hash: copy it now.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub token: SecretString,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: String,
    /// Unix milliseconds.
    pub at: i64,
    /// Who: an admin's email, `token:<name>`, `cli`, or the email tried at a failed sign-in.
    pub actor: String,
    /// What, e.g. `profile.update`, `test_send`, `login.failed`.
    #[cfg_attr(feature = "openapi", schema(example = "profile.update"))]
    pub action: String,
    /// Which resource, e.g. `profiles/0b6f…`; empty when none.
    pub target: String,
    /// The names of the fields that changed, never their values.
    pub fields: Vec<String>,
    /// The HTTP status of the request, or the outcome of a test send.
    pub outcome: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_requests_never_reach_debug_output() {
        let login: LoginRequest =
            serde_json::from_str(r#"{"email":"ops@example.com","password":"hunter2-canary"}"#)
                .unwrap();
        let setup = SetupRequest {
            token: "setup-canary".into(),
            email: "ops@example.com".into(),
            password: "hunter2-canary".into(),
        };
        let created = CreatedApiToken {
            view: ApiTokenView {
                id: "t1".into(),
                name: "deploy".into(),
                prefix: "om_abcd".into(),
                scopes: Vec::new(),
                created_at: 0,
                created_by: "cli".into(),
                last_used_at: None,
                tenant: None,
            },
            token: "om_token-canary".into(),
        };
        for debug in [
            format!("{login:?}"),
            format!("{setup:?}"),
            format!("{created:?}"),
        ] {
            assert!(!debug.contains("canary"), "{debug}");
        }
        // The wire form is unchanged: the secret is a plain string.
        let wire = serde_json::to_value(&created).unwrap();
        assert_eq!(wire["token"], "om_token-canary");
        assert_eq!(login.password.expose(), "hunter2-canary");
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        for scope in TokenScope::ALL {
            assert_eq!(TokenScope::parse(scope.as_str()), Some(scope));
            assert_eq!(
                serde_json::to_value(scope).unwrap(),
                serde_json::json!(scope.as_str())
            );
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(TokenScope::parse("messages:*"), None);
    }

    #[test]
    fn passwords_are_judged_by_length() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("correct horse").is_none());
        assert!(password_problem(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_some());
    }

    #[test]
    fn a_token_needs_a_name_and_a_scope() {
        let empty = NewApiToken {
            name: " ".into(),
            scopes: vec![],
            tenant: None,
        };
        let errors = empty.validate();
        assert!(!errors.get("name").is_empty() && !errors.get("scopes").is_empty());
        let control = NewApiToken {
            name: "a\r\nb".into(),
            scopes: vec![TokenScope::MessagesSend],
            tenant: None,
        };
        assert!(!control.validate().get("name").is_empty());
        let fine = NewApiToken {
            name: "billing".into(),
            scopes: vec![TokenScope::MessagesSend],
            tenant: None,
        };
        assert!(fine.validate().is_empty());
    }
}

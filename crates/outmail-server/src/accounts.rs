//! Admin accounts as the setup page, the API and the command line create them: the email as
//! stored, the password rules and the argon2id hash, in one place, so that `outmail admin
//! create` and the setup page cannot accept different things.

use outmail_types::access::password_problem;
use outmail_types::{FieldError, FieldErrors, SecretString};

use crate::auth;

/// Why an account was not made.
#[derive(Debug)]
pub enum AccountRefusal {
    /// The email or the password break the rules, each named.
    Invalid(FieldErrors),
    /// Hashing failed (no randomness, a worker thread gone).
    Fault(anyhow::Error),
}

impl AccountRefusal {
    /// One line, a clause per field, for the command line.
    pub fn describe(&self) -> String {
        match self {
            AccountRefusal::Invalid(fields) => fields
                .iter()
                .flat_map(|(field, errors)| {
                    errors
                        .iter()
                        .map(move |e| format!("{field}: {}", e.message))
                })
                .collect::<Vec<_>>()
                .join("; "),
            AccountRefusal::Fault(error) => format!("{error:#}"),
        }
    }
}

/// The normalised email and the password's hash for a new account (or a new password), once
/// both pass the rules.
pub async fn new_account(
    email: &str,
    password: SecretString,
) -> Result<(String, String), AccountRefusal> {
    let email = auth::normalize_email(email);
    let mut errors = FieldErrors::default();
    if outmail_types::EmailAddress::parse_utf8(&email).is_err() {
        errors.add(
            "email",
            FieldError::new("invalid", "enter an email address"),
        );
    }
    if let Some(problem) = password_problem(password.expose()) {
        errors.add("password", FieldError::new("weak", problem));
    }
    if !errors.is_empty() {
        return Err(AccountRefusal::Invalid(errors));
    }
    let hash = auth::password::hash(password)
        .await
        .map_err(AccountRefusal::Fault)?;
    Ok((email, hash))
}

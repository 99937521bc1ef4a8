//! Small values only profiles use: profile IDs, OAuth client IDs and the sendmail path.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::{codepoint, is_line_break};

/// Why a profile ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProfileId {
    #[error("enter a profile ID")]
    Empty,
    #[error("a profile ID is 1-64 characters of letters, digits, \"-\" and \"_\"")]
    Format,
}

error_codes!(InvalidProfileId {
    Me::Empty => "empty",
    Me::Format => "invalid_format",
});

/// The ID of a stored profile, as the server assigns it (UUID, ULID, slug…): 1–64 characters
/// of ASCII letters, digits, `-` and `_`, so it is safe in URLs and logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct ProfileId(String);

impl ProfileId {
    pub fn parse(s: &str) -> Result<Self, InvalidProfileId> {
        let t = s.trim();
        if t.is_empty() && !s.contains(|c: char| c.is_control()) {
            return Err(InvalidProfileId::Empty);
        }
        if t.len() > 64
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || t.len() != s.len()
        {
            return Err(InvalidProfileId::Format);
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProfileId({})", self.0)
    }
}

string_conversions!(ProfileId, InvalidProfileId);

/// Why an OAuth client ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidClientId {
    #[error("enter the client (application) ID")]
    Empty,
    #[error("a client ID is visible ASCII without spaces ({0} is not allowed)")]
    InvalidCharacter(String),
    #[error("a client ID must be at most 256 characters")]
    TooLong,
}

error_codes!(InvalidClientId {
    Me::Empty => "empty",
    Me::InvalidCharacter(_) => "invalid_character",
    Me::TooLong => "too_long",
});

/// An OAuth client ID: visible ASCII, no spaces, at most 256 characters. Microsoft's are GUIDs
/// (checked by profile validation, which stores them canonical lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, InvalidClientId> {
        if let Some(c) = s.chars().find(|&c| c.is_control() || is_line_break(c)) {
            return Err(InvalidClientId::InvalidCharacter(codepoint(c)));
        }
        let s = s.trim();
        if s.is_empty() {
            return Err(InvalidClientId::Empty);
        }
        if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(InvalidClientId::InvalidCharacter(format!("\"{c}\"")));
        }
        if s.len() > 256 {
            return Err(InvalidClientId::TooLong);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_conversions!(ClientId, InvalidClientId);

/// Why a sendmail path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSendmailPath {
    #[error("enter the path of the sendmail program")]
    Empty,
    #[error("enter an absolute path starting with /")]
    NotAbsolute,
    // The path is executed directly, never through a shell; spaces would suggest arguments.
    #[error(
        "the path cannot contain spaces, quotes or control characters; arguments are not supported"
    )]
    InvalidCharacter,
    #[error("the path cannot contain \"..\"")]
    ParentSegment,
    #[error("the path must be at most 1024 characters")]
    TooLong,
}

error_codes!(InvalidSendmailPath {
    Me::Empty => "empty",
    Me::NotAbsolute => "not_absolute",
    Me::InvalidCharacter => "invalid_character",
    Me::ParentSegment => "parent_segment",
    Me::TooLong => "too_long",
});

/// The absolute path of the local MTA's sendmail-compatible program.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct SendmailPath(String);

impl SendmailPath {
    pub const DEFAULT: &'static str = "/usr/sbin/sendmail";

    pub fn parse(s: &str) -> Result<Self, InvalidSendmailPath> {
        if s.chars()
            .any(|c| c.is_control() || is_line_break(c) || c == '"' || c == '\'')
        {
            return Err(InvalidSendmailPath::InvalidCharacter);
        }
        let s = s.trim();
        if s.is_empty() {
            return Err(InvalidSendmailPath::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(InvalidSendmailPath::InvalidCharacter);
        }
        if !s.starts_with('/') {
            return Err(InvalidSendmailPath::NotAbsolute);
        }
        if s.split('/').any(|seg| seg == "..") {
            return Err(InvalidSendmailPath::ParentSegment);
        }
        if s.len() > 1024 {
            return Err(InvalidSendmailPath::TooLong);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SendmailPath {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl fmt::Display for SendmailPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_conversions!(SendmailPath, InvalidSendmailPath);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn profile_ids_are_url_safe_tokens() {
        assert!(ProfileId::parse("0190f5c2-7a4e-7b1a-9c3d-2f1e0a9b8c7d").is_ok());
        assert!(ProfileId::parse("relay_1").is_ok());
        assert_eq!(ProfileId::parse("").unwrap_err().code(), "empty");
        assert_eq!(
            ProfileId::parse("a/b").unwrap_err().code(),
            "invalid_format"
        );
        assert_eq!(
            ProfileId::parse("a b").unwrap_err().code(),
            "invalid_format"
        );
        assert_eq!(
            ProfileId::parse("id\n").unwrap_err().code(),
            "invalid_format"
        );
        assert_eq!(
            ProfileId::parse(&"x".repeat(65)).unwrap_err().code(),
            "invalid_format"
        );
    }

    #[test]
    fn a_client_id_is_visible_ascii_without_spaces() {
        assert!(ClientId::parse("123-abc.apps.googleusercontent.com").is_ok());
        assert_eq!(ClientId::parse(" ").unwrap_err().code(), "empty");
        assert_eq!(
            ClientId::parse("a b").unwrap_err().code(),
            "invalid_character"
        );
        assert_eq!(
            ClientId::parse("ä").unwrap_err().code(),
            "invalid_character"
        );
        assert_eq!(
            ClientId::parse("a\tb").unwrap_err().code(),
            "invalid_character"
        );
    }

    #[test]
    fn the_sendmail_path_must_be_absolute_without_arguments() {
        assert_eq!(SendmailPath::default().as_str(), "/usr/sbin/sendmail");
        assert!(SendmailPath::parse("/usr/lib/sendmail").is_ok());
        let code = |s: &str| SendmailPath::parse(s).unwrap_err().code();
        assert_eq!(code("sendmail"), "not_absolute");
        assert_eq!(code("/usr/sbin/sendmail -t"), "invalid_character");
        assert_eq!(code("/usr/sbin/send\nmail"), "invalid_character");
        assert_eq!(code("/usr/../bin/sh"), "parent_segment");
        assert_eq!(code(""), "empty");
    }
}

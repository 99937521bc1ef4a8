//! OAuth 2.0 scopes (RFC 6749 §3.3): one [`Scope`] token, and the space-separated [`Scopes`] list.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::codepoint;

const MAX_SCOPE_LEN: usize = 512;
const MAX_SCOPES: usize = 50;

/// Why a scope (or scope list) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidScope {
    #[error("enter at least one scope")]
    Empty,
    #[error("separate scopes with spaces; {0} is not allowed in a scope")]
    ControlCharacter(String),
    #[error("\"{0}\" is not allowed in a scope (only visible ASCII without \" and \\)")]
    InvalidCharacter(String),
    #[error("a scope must be at most {MAX_SCOPE_LEN} characters")]
    TooLong,
    #[error("at most {MAX_SCOPES} scopes")]
    TooMany,
}

error_codes!(InvalidScope {
    Me::Empty => "empty",
    Me::ControlCharacter(_) => "control_character",
    Me::InvalidCharacter(_) => "invalid_character",
    Me::TooLong => "too_long",
    Me::TooMany => "too_many",
});

/// One scope token: `%x21 / %x23-5B / %x5D-7E`, i.e. visible ASCII without `"` and `\`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct Scope(String);

impl Scope {
    pub fn parse(s: &str) -> Result<Self, InvalidScope> {
        if s.is_empty() {
            return Err(InvalidScope::Empty);
        }
        for c in s.chars() {
            if c.is_control() {
                return Err(InvalidScope::ControlCharacter(codepoint(c)));
            }
            if !(c.is_ascii_graphic() && c != '"' && c != '\\') {
                return Err(InvalidScope::InvalidCharacter(c.to_string()));
            }
        }
        if s.len() > MAX_SCOPE_LEN {
            return Err(InvalidScope::TooLong);
        }
        Ok(Scope(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_conversions!(Scope, InvalidScope);

/// A non-empty list of scopes, duplicates removed (first occurrence kept), serialised as the
/// space-separated string OAuth sends (`"https://outlook.office365.com/SMTP.Send offline_access"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Splits on runs of spaces. Tabs and line breaks are refused rather than treated as
    /// separators: the value is sent verbatim in a form body and should look like what was typed.
    pub fn parse(s: &str) -> Result<Self, InvalidScope> {
        let mut scopes: Vec<Scope> = Vec::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            let scope = Scope::parse(token)?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Self::from_scopes(scopes)
    }

    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Result<Self, InvalidScope> {
        let mut out: Vec<Scope> = Vec::new();
        for s in scopes {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        if out.is_empty() {
            return Err(InvalidScope::Empty);
        }
        if out.len() > MAX_SCOPES {
            return Err(InvalidScope::TooMany);
        }
        Ok(Scopes(out))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false (a `Scopes` has at least one scope); here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

string_conversions!(Scopes, InvalidScope);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    #[test]
    fn scopes_are_split_on_spaces_and_deduplicated() {
        let s = Scopes::parse(
            "  https://outlook.office365.com/SMTP.Send   offline_access offline_access ",
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.to_string(),
            "https://outlook.office365.com/SMTP.Send offline_access"
        );
        assert!(s.contains("offline_access"));
    }

    #[test]
    fn an_empty_scope_list_is_rejected() {
        assert_eq!(Scopes::parse("").unwrap_err().code(), "empty");
        assert_eq!(Scopes::parse("    ").unwrap_err().code(), "empty");
    }

    #[test]
    fn quotes_backslashes_and_non_ascii_are_rejected() {
        assert_eq!(
            Scopes::parse("a\"b").unwrap_err().code(),
            "invalid_character"
        );
        assert_eq!(
            Scopes::parse("a\\b").unwrap_err().code(),
            "invalid_character"
        );
        assert_eq!(
            Scopes::parse("mail.sënd").unwrap_err().code(),
            "invalid_character"
        );
    }

    #[test]
    fn tabs_and_newlines_are_not_separators() {
        assert_eq!(
            Scopes::parse("a\tb").unwrap_err().code(),
            "control_character"
        );
        assert_eq!(
            Scopes::parse("a\nb").unwrap_err().code(),
            "control_character"
        );
    }

    #[test]
    fn too_many_or_too_long_scopes_are_rejected() {
        let many: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
        assert_eq!(
            Scopes::parse(&many.join(" ")).unwrap_err().code(),
            "too_many"
        );
        assert_eq!(
            Scope::parse(&"x".repeat(513)).unwrap_err().code(),
            "too_long"
        );
    }

    #[test]
    fn scopes_are_a_json_string() {
        let s: Scopes = serde_json::from_str(r#""openid   email""#).unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""openid email""#);
    }

    proptest! {
        #[test]
        fn scopes_round_trip(tokens in prop::collection::vec("[!#-\\[\\]-~]{1,20}", 1..8)) {
            let s = Scopes::parse(&tokens.join(" ")).unwrap();
            prop_assert_eq!(Scopes::parse(&s.to_string()).unwrap(), s.clone());
            let json = serde_json::to_string(&s).unwrap();
            prop_assert_eq!(serde_json::from_str::<Scopes>(&json).unwrap(), s);
        }
    }
}

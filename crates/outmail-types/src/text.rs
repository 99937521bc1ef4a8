//! Human-entered text that must not break a mail header or a form: names, subjects, signatures.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidText {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (this has {len})")]
    TooLong { max: usize, len: usize },
    // A line break in a header value would start a new header: the classic header injection.
    #[error("must be a single line: remove the line break")]
    LineBreak,
    #[error("must not contain the control character {0}")]
    ControlCharacter(String),
}

error_codes!(InvalidText {
    Me::Empty => "empty",
    Me::TooLong { .. } => "too_long",
    Me::LineBreak => "control_character",
    Me::ControlCharacter(_) => "control_character",
});

/// `U+0007` style, so the message names an invisible character precisely.
pub(crate) fn codepoint(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// Characters that end a line somewhere: CR and LF, and the Unicode line ends (NEL, LS, PS)
/// that some mail clients and terminals also break on.
pub(crate) fn is_line_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{0085}' | '\u{2028}' | '\u{2029}')
}

/// Rejects anything that does not belong on one header line: line breaks and every other
/// control character (C0, DEL, C1).
pub(crate) fn check_single_line(s: &str) -> Result<(), InvalidText> {
    for c in s.chars() {
        if is_line_break(c) {
            return Err(InvalidText::LineBreak);
        }
        if c.is_control() {
            return Err(InvalidText::ControlCharacter(codepoint(c)));
        }
    }
    Ok(())
}

/// Like [`check_single_line`] but lets CR, LF and TAB through (bodies, descriptions).
pub(crate) fn check_multi_line(s: &str) -> Result<(), InvalidText> {
    match s
        .chars()
        .find(|&c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Some(c) => Err(InvalidText::ControlCharacter(codepoint(c))),
        None => Ok(()),
    }
}

fn check_length(s: &str, max: usize) -> Result<(), InvalidText> {
    if s.is_empty() {
        return Err(InvalidText::Empty);
    }
    let len = s.chars().count();
    if len > max {
        return Err(InvalidText::TooLong { max, len });
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident, max = $max:expr, $check:path, trim = $trim:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "crate::error::Coded<String>", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            pub fn parse(s: &str) -> Result<Self, InvalidText> {
                $check(s)?;
                let s = if $trim { s.trim() } else { s };
                if s.trim().is_empty() {
                    return Err(InvalidText::Empty);
                }
                check_length(s, $max)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        string_conversions!($name, InvalidText);
    };
}

text_newtype!(
    /// One line of text that ends up in a mail header (a subject, a phrase): no CR, LF or other
    /// control character, at most 998 characters (the RFC 5322 line limit), trimmed.
    HeaderText,
    max = 998,
    check_single_line,
    trim = true
);

text_newtype!(
    /// The name part of `"Name" <addr>`: a [`HeaderText`] of at most 200 characters.
    DisplayName,
    max = 200,
    check_single_line,
    trim = true
);

text_newtype!(
    /// A user name for SMTP/HTTP authentication: one line, at most 256 characters, trimmed.
    /// (PLAIN separates fields with NUL, so a control character would corrupt the exchange.)
    Username,
    max = 256,
    check_single_line,
    trim = true
);

text_newtype!(
    /// A free-text note on a profile, shown only in the admin UI: multi-line, at most 1,000
    /// characters, trimmed.
    Description,
    max = 1000,
    check_multi_line,
    trim = true
);

text_newtype!(
    /// The signature appended to every system mail: multi-line (CR, LF, TAB allowed), at most
    /// 10,000 characters. Not trimmed: the conventional `"-- \n"` separator has a meaningful
    /// trailing space.
    Signature,
    max = 10_000,
    check_multi_line,
    trim = false
);

text_newtype!(
    /// The name of a mail-server profile: trimmed, 1–100 characters, one line.
    ProfileName,
    max = 100,
    check_single_line,
    trim = true
);

text_newtype!(
    /// The display name of a tenant: trimmed, 1–100 characters, one line.
    TenantName,
    max = 100,
    check_single_line,
    trim = true
);

impl ProfileName {
    /// The form names are compared in for uniqueness: lowercase, inner whitespace collapsed, so
    /// "Office Relay" and "office  relay" cannot both exist.
    pub fn name_key(&self) -> String {
        self.0
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, FieldError};
    use proptest::prelude::*;

    #[test]
    fn header_text_is_trimmed() {
        assert_eq!(HeaderText::parse("  Alert  ").unwrap().as_str(), "Alert");
    }

    #[test]
    fn header_text_rejects_a_line_feed_with_a_clear_message() {
        let err = HeaderText::parse("Subject\nBcc: victim@example.com").unwrap_err();
        assert_eq!(err.code(), "control_character");
        assert!(err.to_string().contains("single line"));
    }

    #[test]
    fn header_text_rejects_a_trailing_newline_instead_of_trimming_it() {
        assert_eq!(HeaderText::parse("Alert\n"), Err(InvalidText::LineBreak));
        assert_eq!(HeaderText::parse("Alert\r"), Err(InvalidText::LineBreak));
    }

    #[test]
    fn header_text_rejects_unicode_line_separators() {
        for s in ["a\u{0085}b", "a\u{2028}b", "a\u{2029}b"] {
            assert_eq!(HeaderText::parse(s), Err(InvalidText::LineBreak), "{s:?}");
        }
    }

    #[test]
    fn header_text_names_the_control_character_it_found() {
        let err = HeaderText::parse("bell\u{7}").unwrap_err();
        assert_eq!(err, InvalidText::ControlCharacter("U+0007".into()));
        assert!(err.to_string().contains("U+0007"));
    }

    #[test]
    fn header_text_of_only_spaces_is_empty() {
        assert_eq!(HeaderText::parse("   "), Err(InvalidText::Empty));
    }

    #[test]
    fn header_text_accepts_non_ascii() {
        assert!(HeaderText::parse("Störung im Rechenzentrum 🔥").is_ok());
    }

    #[test]
    fn header_text_longer_than_998_characters_is_rejected() {
        assert!(HeaderText::parse(&"é".repeat(998)).is_ok());
        let err = HeaderText::parse(&"é".repeat(999)).unwrap_err();
        assert_eq!(err.code(), "too_long");
    }

    #[test]
    fn a_display_name_of_201_characters_is_too_long() {
        assert!(DisplayName::parse(&"a".repeat(200)).is_ok());
        assert_eq!(
            DisplayName::parse(&"a".repeat(201)),
            Err(InvalidText::TooLong { max: 200, len: 201 })
        );
    }

    #[test]
    fn a_profile_name_is_trimmed_and_limited_to_100_characters() {
        assert_eq!(ProfileName::parse(" Relay ").unwrap().as_str(), "Relay");
        assert!(ProfileName::parse(&"x".repeat(100)).is_ok());
        assert_eq!(
            ProfileName::parse(&"x".repeat(101)).unwrap_err().code(),
            "too_long"
        );
        assert_eq!(ProfileName::parse("").unwrap_err().code(), "empty");
    }

    #[test]
    fn profile_names_differing_in_case_and_spacing_share_a_key() {
        let a = ProfileName::parse("Office Relay").unwrap();
        let b = ProfileName::parse("office   RELAY").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.name_key(), b.name_key());
        assert_eq!(
            ProfileName::parse("ÄRGER").unwrap().name_key(),
            "ärger".to_owned()
        );
    }

    #[test]
    fn a_signature_may_span_lines_and_keeps_its_separator_space() {
        let sig = Signature::parse("-- \r\nThe ops team\n\tCall us").unwrap();
        assert_eq!(sig.as_str(), "-- \r\nThe ops team\n\tCall us");
    }

    #[test]
    fn a_signature_rejects_nul_and_escape() {
        assert_eq!(
            Signature::parse("a\0b").unwrap_err(),
            InvalidText::ControlCharacter("U+0000".into())
        );
        assert_eq!(
            Signature::parse("\u{1b}[31mred").unwrap_err().code(),
            "control_character"
        );
    }

    #[test]
    fn a_signature_of_ten_thousand_characters_is_the_limit() {
        assert!(Signature::parse(&"s".repeat(10_000)).is_ok());
        assert!(Signature::parse(&"s".repeat(10_001)).is_err());
    }

    #[test]
    fn a_username_rejects_nul_because_plain_uses_it_as_separator() {
        assert!(Username::parse("alice\0admin").is_err());
        assert_eq!(Username::parse(" alice ").unwrap().as_str(), "alice");
    }

    #[test]
    fn a_description_may_span_lines() {
        assert!(Description::parse("line one\nline two").is_ok());
        assert!(Description::parse(&"d".repeat(1001)).is_err());
    }

    #[test]
    fn text_types_deserialise_through_the_parser() {
        let ok: HeaderText = serde_json::from_str(r#""Hello""#).unwrap();
        assert_eq!(ok.as_str(), "Hello");
        assert!(serde_json::from_str::<HeaderText>(r#""a\nb""#).is_err());
    }

    #[test]
    fn an_invalid_text_becomes_a_field_error() {
        let fe = FieldError::from(InvalidText::Empty);
        assert_eq!(fe.code, "empty");
    }

    proptest! {
        #[test]
        fn header_text_with_any_control_character_is_rejected(
            prefix in "[a-zA-Z ]{0,10}",
            c in prop::char::any().prop_filter("control", |c| c.is_control() || is_line_break(*c)),
            suffix in "[a-zA-Z ]{0,10}",
        ) {
            let s = format!("{prefix}{c}{suffix}");
            prop_assert!(HeaderText::parse(&s).is_err());
            prop_assert!(DisplayName::parse(&s).is_err());
            prop_assert!(ProfileName::parse(&s).is_err());
            prop_assert!(Username::parse(&s).is_err());
        }

        #[test]
        fn profile_name_round_trips_through_display_and_serde(s in "\\PC{1,100}") {
            if let Ok(name) = ProfileName::parse(&s) {
                prop_assert_eq!(ProfileName::parse(name.as_str()).unwrap(), name.clone());
                let json = serde_json::to_string(&name).unwrap();
                prop_assert_eq!(serde_json::from_str::<ProfileName>(&json).unwrap(), name);
            }
        }

        #[test]
        fn header_text_round_trips(s in "\\PC{1,200}") {
            if let Ok(text) = HeaderText::parse(&s) {
                prop_assert_eq!(HeaderText::parse(text.as_str()).unwrap(), text);
            }
        }
    }
}

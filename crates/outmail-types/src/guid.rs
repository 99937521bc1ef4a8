//! GUIDs as Microsoft Entra uses them for tenant and application (client) IDs.
//!
//! Hand-written rather than `uuid`: parsing 8-4-4-4-12 hex is a few lines, and the UI bundle
//! does not need the rest of `uuid`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::{codepoint, is_line_break};

/// Why a GUID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGuid {
    #[error("enter an ID like 00000000-0000-0000-0000-000000000000")]
    Empty,
    #[error("an ID cannot contain line breaks or control characters ({0})")]
    ControlCharacter(String),
    #[error(
        "an ID has the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (8-4-4-4-12 hex digits with hyphens)"
    )]
    Format,
    #[error("\"{0}\" is not a hex digit (0-9, a-f)")]
    NotHex(String),
    #[error("the all-zero ID is a placeholder, not a real ID")]
    Nil,
}

error_codes!(InvalidGuid {
    Me::Empty => "empty",
    Me::ControlCharacter(_) => "control_character",
    Me::Format => "invalid_format",
    Me::NotHex(_) => "not_hex",
    Me::Nil => "nil",
});

/// A GUID, stored as 16 bytes and shown canonical lowercase hyphenated. Input is
/// case-insensitive, braces (`{…}`, as Windows tools print them) optional.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct Guid([u8; 16]);

impl Guid {
    pub fn parse(input: &str) -> Result<Self, InvalidGuid> {
        if let Some(c) = input.chars().find(|&c| c.is_control() || is_line_break(c)) {
            return Err(InvalidGuid::ControlCharacter(codepoint(c)));
        }
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidGuid::Empty);
        }
        let s = match (s.strip_prefix('{'), s.ends_with('}')) {
            (Some(inner), true) => &inner[..inner.len() - 1],
            (None, false) => s,
            _ => return Err(InvalidGuid::Format),
        };
        let groups: Vec<&str> = s.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.chars().count()).collect();
        if lengths != [8, 4, 4, 4, 12] {
            return Err(InvalidGuid::Format);
        }
        let mut bytes = [0u8; 16];
        let digits: Vec<char> = groups.concat().chars().collect();
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        if bytes == [0; 16] {
            return Err(InvalidGuid::Nil);
        }
        Ok(Guid(bytes))
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Guid(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

fn hex_value(c: char) -> Result<u8, InvalidGuid> {
    c.to_digit(16)
        .map(|d| d as u8)
        .ok_or_else(|| InvalidGuid::NotHex(c.to_string()))
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

string_conversions!(Guid, InvalidGuid);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    const ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn a_guid_is_parsed_case_insensitively_and_shown_lowercase() {
        let g = Guid::parse("72F988BF-86F1-41AF-91AB-2D7CD011DB47").unwrap();
        assert_eq!(g.to_string(), ID);
    }

    #[test]
    fn braces_are_optional() {
        assert_eq!(
            Guid::parse(&format!("{{{ID}}}")).unwrap(),
            Guid::parse(ID).unwrap()
        );
        assert_eq!(
            Guid::parse(&format!("{{{ID}")).unwrap_err().code(),
            "invalid_format"
        );
    }

    #[test]
    fn the_wrong_grouping_is_rejected() {
        for s in [
            "72f988bf86f141af91ab2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf-86f1-41af-91ab-2d7cd011db477",
            "72f988b-f86f1-41af-91ab-2d7cd011db47",
            "contoso.onmicrosoft.com",
        ] {
            assert_eq!(Guid::parse(s).unwrap_err().code(), "invalid_format", "{s}");
        }
    }

    #[test]
    fn a_non_hex_digit_is_named() {
        let err = Guid::parse("72f988bf-86f1-41af-91ab-2d7cd011db4g").unwrap_err();
        assert_eq!(err, InvalidGuid::NotHex("g".into()));
        assert_eq!(
            Guid::parse("72f988bf-86f1-41af-91ab-2d7cd011db4é")
                .unwrap_err()
                .code(),
            "not_hex"
        );
    }

    #[test]
    fn the_nil_guid_and_empty_input_are_rejected() {
        assert_eq!(
            Guid::parse("00000000-0000-0000-0000-000000000000"),
            Err(InvalidGuid::Nil)
        );
        assert_eq!(Guid::parse("  "), Err(InvalidGuid::Empty));
        assert_eq!(
            Guid::parse(&format!("{ID}\n")).unwrap_err().code(),
            "control_character"
        );
    }

    proptest! {
        #[test]
        fn a_guid_round_trips(bytes in any::<[u8; 16]>().prop_filter("nil", |b| *b != [0; 16])) {
            let g = Guid::from_bytes(bytes);
            prop_assert_eq!(Guid::parse(&g.to_string()).unwrap(), g);
            prop_assert_eq!(Guid::parse(&g.to_string().to_uppercase()).unwrap(), g);
            let json = serde_json::to_string(&g).unwrap();
            prop_assert_eq!(serde_json::from_str::<Guid>(&json).unwrap(), g);
        }
    }
}

//! How often the same alert may go to the same recipient: the duplicate-suppression window.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a send frequency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSendFrequency {
    #[error("enter a number of seconds")]
    Empty,
    #[error("enter a whole number of seconds")]
    NotANumber,
    #[error("must be between 0 and 86400 seconds (one day)")]
    OutOfRange,
}

error_codes!(InvalidSendFrequency {
    Me::Empty => "empty",
    Me::NotANumber => "not_a_number",
    Me::OutOfRange => "out_of_range",
});

/// Seconds within which an identical alert to the same recipient is suppressed, 0 ..= 86400.
/// 0 turns suppression off; the default is 300 (five minutes). A JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<i64>", into = "u32")]
pub struct SendFrequency(u32);

impl SendFrequency {
    pub const MAX_SECONDS: u32 = 86_400;
    pub const DEFAULT: SendFrequency = SendFrequency(300);
    pub const OFF: SendFrequency = SendFrequency(0);

    pub fn from_seconds(seconds: i64) -> Result<Self, InvalidSendFrequency> {
        u32::try_from(seconds)
            .ok()
            .filter(|s| *s <= Self::MAX_SECONDS)
            .map(SendFrequency)
            .ok_or(InvalidSendFrequency::OutOfRange)
    }

    pub fn parse(s: &str) -> Result<Self, InvalidSendFrequency> {
        let s = s.trim();
        if s.is_empty() {
            return Err(InvalidSendFrequency::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidSendFrequency::NotANumber);
        }
        let n: i64 = s.parse().map_err(|_| InvalidSendFrequency::OutOfRange)?;
        Self::from_seconds(n)
    }

    pub fn seconds(self) -> u32 {
        self.0
    }

    /// Whether duplicate suppression is on.
    pub fn is_enabled(self) -> bool {
        self.0 > 0
    }
}

impl Default for SendFrequency {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<i64> for SendFrequency {
    type Error = InvalidSendFrequency;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        Self::from_seconds(n)
    }
}

coded_try_from!(SendFrequency, i64);

impl From<SendFrequency> for u32 {
    fn from(f: SendFrequency) -> u32 {
        f.0
    }
}

impl fmt::Display for SendFrequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for SendFrequency {
    type Err = InvalidSendFrequency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    #[test]
    fn the_default_is_five_minutes() {
        assert_eq!(SendFrequency::default().seconds(), 300);
    }

    #[test]
    fn zero_turns_suppression_off() {
        let f = SendFrequency::parse("0").unwrap();
        assert!(!f.is_enabled());
    }

    #[test]
    fn a_day_is_the_longest_window() {
        assert!(SendFrequency::from_seconds(86_400).is_ok());
        assert_eq!(
            SendFrequency::from_seconds(86_401).unwrap_err().code(),
            "out_of_range"
        );
        assert_eq!(
            SendFrequency::from_seconds(-1).unwrap_err().code(),
            "out_of_range"
        );
        assert_eq!(
            SendFrequency::parse("5m").unwrap_err().code(),
            "not_a_number"
        );
    }

    #[test]
    fn a_send_frequency_is_a_json_number() {
        assert_eq!(
            serde_json::from_str::<SendFrequency>("60")
                .unwrap()
                .seconds(),
            60
        );
        assert!(serde_json::from_str::<SendFrequency>("-5").is_err());
        assert!(serde_json::from_str::<SendFrequency>("100000").is_err());
    }

    proptest! {
        #[test]
        fn a_send_frequency_round_trips(n in 0u32..=86_400) {
            let f = SendFrequency::from_seconds(n.into()).unwrap();
            prop_assert_eq!(SendFrequency::parse(&f.to_string()).unwrap(), f);
            let json = serde_json::to_string(&f).unwrap();
            prop_assert_eq!(serde_json::from_str::<SendFrequency>(&json).unwrap(), f);
        }
    }
}

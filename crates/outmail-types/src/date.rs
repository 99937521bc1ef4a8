//! Calendar dates as admins type them from a provider's portal (`2027-03-31`): when a client
//! secret expires. No time zone or clock here; the server compares with its own clock.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDate {
    #[error("enter the date as YYYY-MM-DD, for example 2027-03-31")]
    Format,
    #[error("there is no such day")]
    NoSuchDay,
    #[error("the year must be between 2000 and 2199")]
    OutOfRange,
}

error_codes!(InvalidDate {
    Me::Format => "format",
    Me::NoSuchDay => "no_such_day",
    Me::OutOfRange => "out_of_range",
});

/// A day of the Gregorian calendar, `YYYY-MM-DD` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "crate::error::Coded<String>", into = "String")]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    pub fn parse(input: &str) -> Result<Self, InvalidDate> {
        let text = input.trim();
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !shaped {
            return Err(InvalidDate::Format);
        }
        let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
        let (year, month, day) = (number(0..4), number(5..7), number(8..10));
        if !(2000..=2199).contains(&year) {
            return Err(InvalidDate::OutOfRange);
        }
        let year = i32::try_from(year).map_err(|_| InvalidDate::OutOfRange)?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(InvalidDate::NoSuchDay);
        }
        Ok(Self { year, month, day })
    }

    /// Unix seconds at 00:00 UTC of this day.
    pub fn unix_start(self) -> i64 {
        // Days from 1970-01-01 to this date (Howard Hinnant's days_from_civil).
        let (y, m, d) = (
            i64::from(self.year) - i64::from(self.month <= 2),
            i64::from(self.month),
            i64::from(self.day),
        );
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let day_of_year = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        (era * 146_097 + day_of_era - 719_468) * 86_400
    }
}

/// A Unix time in milliseconds as `YYYY-MM-DD HH:MM:SS UTC`: the same text on the server and in
/// the browser, so a server-rendered time never changes on hydration.
pub fn format_unix_ms(unix_ms: i64) -> String {
    let seconds = unix_ms.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days, the inverse of `unix_start`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl TryFrom<String> for Date {
    type Error = InvalidDate;
    fn try_from(value: String) -> Result<Self, InvalidDate> {
        Date::parse(&value)
    }
}

coded_try_from!(Date, String);

impl From<Date> for String {
    fn from(date: Date) -> String {
        date.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_milliseconds_format_as_utc_and_agree_with_dates() {
        assert_eq!(format_unix_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_unix_ms(1_795_374_303_999), "2026-11-22 19:05:03 UTC");
        assert_eq!(format_unix_ms(951_782_400_000), "2000-02-29 00:00:00 UTC");
        for text in ["2000-03-01", "2024-02-29", "2099-12-31", "2199-01-01"] {
            let date = Date::parse(text).unwrap();
            assert_eq!(
                format_unix_ms(date.unix_start() * 1000),
                format!("{text} 00:00:00 UTC")
            );
        }
    }

    #[test]
    fn dates_parse_and_count_from_the_unix_epoch() {
        assert_eq!(Date::parse("2000-01-01").unwrap().unix_start(), 946_684_800);
        assert_eq!(
            Date::parse("2026-11-22").unwrap().unix_start(),
            1_795_305_600
        );
        assert_eq!(Date::parse("2028-02-29").unwrap().to_string(), "2028-02-29");
        assert_eq!(Date::parse("2027-02-29"), Err(InvalidDate::NoSuchDay));
        assert_eq!(Date::parse("2027-13-01"), Err(InvalidDate::NoSuchDay));
        assert_eq!(Date::parse("31.03.2027"), Err(InvalidDate::Format));
        assert_eq!(Date::parse("1999-12-31"), Err(InvalidDate::OutOfRange));
    }
}

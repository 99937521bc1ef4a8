//! Boilerplate shared by the string newtypes: `FromStr`, `TryFrom`, and `String` conversions.

/// Implements `FromStr`, `TryFrom<&str>`, `TryFrom<String>` and `From<T> for String` for a type
/// with `fn parse(&str) -> Result<Self, $err>` and a `Display` that parses back to the same value
/// (that is what makes `#[serde(try_from = "String", into = "String")]` validate on the way in).
macro_rules! string_conversions {
    ($ty:ty, $err:ty) => {
        impl ::core::str::FromStr for $ty {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::parse(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $err;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                <$ty>::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                <$ty>::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.to_string()
            }
        }
    };
}

/// Implements [`crate::error::ErrorCode`] from a `match` of variants to codes.
macro_rules! error_codes {
    ($ty:ty { $($pat:pat => $code:literal),+ $(,)? }) => {
        impl $crate::error::ErrorCode for $ty {
            fn code(&self) -> &'static str {
                #[allow(unused_imports)]
                use $ty as Me;
                match self {
                    $($pat => $code),+
                }
            }
        }
    };
}

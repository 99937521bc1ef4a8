//! Boilerplate shared by the newtypes: `FromStr`, `TryFrom`, `String` conversions, and the
//! conversion serde uses so that a parser's code reaches the API.

/// Implements `FromStr`, `TryFrom<&str>`, `TryFrom<String>`, `TryFrom<Coded<String>>` and
/// `From<T> for String` for a type with `fn parse(&str) -> Result<Self, $err>` and a `Display`
/// that parses back to the same value (that is what makes
/// `#[serde(try_from = "crate::error::Coded<String>", into = "String")]` validate on the way in).
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

        coded_try_from!($ty, String);
    };
}

/// Implements `TryFrom<Coded<$src>>` for a type with `TryFrom<$src>` whose error has an
/// [`crate::error::ErrorCode`], for `#[serde(try_from = "crate::error::Coded<$src>")]`: the
/// error reaches serde as a [`crate::error::SerdeEnvelope`], so the API answers with its code.
macro_rules! coded_try_from {
    ($ty:ty, $src:ty) => {
        impl TryFrom<$crate::error::Coded<$src>> for $ty {
            type Error = $crate::error::SerdeEnvelope;
            fn try_from(raw: $crate::error::Coded<$src>) -> Result<Self, Self::Error> {
                <$ty as TryFrom<$src>>::try_from(raw.0).map_err($crate::error::SerdeEnvelope::new)
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

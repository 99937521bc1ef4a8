//! Field errors and the wire error body: how a validation failure travels from a parser to the UI.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A validation error with a stable machine code.
///
/// Every `Invalid…` enum in this crate implements it, so any of them turns into a [`FieldError`]
/// with `FieldError::from(err)` and the UI can branch on `code` without parsing English.
pub trait ErrorCode: fmt::Display {
    /// A stable snake_case identifier, e.g. `too_long` or `not_https`.
    fn code(&self) -> &'static str;
}

/// One problem with one field: a stable `code` for programs and a `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// A stable snake_case identifier, e.g. `too_long` or `not_https`.
    #[cfg_attr(feature = "openapi", schema(example = "out_of_range"))]
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(example = "must be 1-65535"))]
    pub message: String,
}

impl FieldError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl<E: ErrorCode> From<E> for FieldError {
    fn from(err: E) -> Self {
        Self::new(err.code(), err.to_string())
    }
}

/// A [`FieldError`] carried through serde, which keeps only the text of an error.
///
/// `serde::de::Error::custom` takes only `Display`, serde_json keeps nothing but that text, and
/// serde_path_to_error gives the same error back. A value that refuses its input (a newtype's
/// parser, a secret's shape) therefore puts its code in the text, as this envelope:
///
/// ```text
/// [<code>] <message>        e.g.  [out_of_range] the port must be between 1 and 65535
/// ```
///
/// `<code>` is the [`ErrorCode`] (snake_case: `a-z`, `0-9`, `_`) and `<message>` the text a
/// person reads. The envelope is written only by this type's `Display` and read only by
/// [`SerdeEnvelope::parse`], which the server calls on the text of a serde error (without
/// serde_json's " at line L column C"). No message of serde or serde_json begins with `[`, so an
/// envelope is never confused with one of theirs.
///
/// Newtypes reach it through [`Coded`]; a hand-written `Deserialize` calls
/// [`SerdeEnvelope::into_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerdeEnvelope(FieldError);

impl SerdeEnvelope {
    pub fn new(error: impl Into<FieldError>) -> Self {
        let error = error.into();
        debug_assert!(
            is_code(&error.code),
            "not a snake_case code: {:?}",
            error.code
        );
        Self(error)
    }

    /// The field error inside the text of a serde error, or `None` when the text is not an
    /// envelope (one of serde's own messages, or a value that gave no code).
    pub fn parse(text: &str) -> Option<FieldError> {
        let (code, message) = text.strip_prefix('[')?.split_once("] ")?;
        is_code(code).then(|| FieldError::new(code, message))
    }

    /// The serde error carrying this envelope, for a hand-written `Deserialize`.
    pub fn into_error<E: serde::de::Error>(self) -> E {
        E::custom(self)
    }
}

impl fmt::Display for SerdeEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.0.code, self.0.message)
    }
}

fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// What a newtype is deserialised from, so that its parser's code survives serde:
/// `#[serde(try_from = "crate::error::Coded<String>", into = "String")]`.
///
/// It reads exactly as `T` does (same JSON, same "invalid type" errors), and the newtype's
/// `TryFrom<Coded<T>>` (written by `coded_try_from!`, which `string_conversions!` includes)
/// fails with a [`SerdeEnvelope`]. Plain `try_from = "String"` would hand serde the error's
/// `Display` alone, and the code would be lost.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Coded<T>(pub T);

/// Errors keyed by dotted field path (`transport.port`, `sender.address`, `proxy.host`).
///
/// On the wire this is a plain JSON object `{path: [{code, message}]}`; a `BTreeMap` keeps the
/// order stable so responses and snapshots do not churn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "Errors keyed by dotted field path (`transport.port`, `sender.address`, \
            `profiles.2.profile.name`); an empty path is the whole body.",
        example = json!({"transport.port": [{"code": "out_of_range", "message": "must be 1-65535"}]})
    )
)]
pub struct FieldErrors(BTreeMap<String, Vec<FieldError>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding exactly one error.
    pub fn single(path: impl Into<String>, err: impl Into<FieldError>) -> Self {
        let mut errors = Self::new();
        errors.add(path, err);
        errors
    }

    /// Records `err` for `path`; the same error twice for one path is kept once.
    pub fn add(&mut self, path: impl Into<String>, err: impl Into<FieldError>) {
        let err = err.into();
        let list = self.0.entry(path.into()).or_default();
        if !list.contains(&err) {
            list.push(err);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of individual errors over all paths.
    pub fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    /// The errors for one path, empty when it has none.
    pub fn get(&self, path: &str) -> &[FieldError] {
        self.0.get(path).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether `path` has an error with this code.
    pub fn has(&self, path: &str, code: &str) -> bool {
        self.get(path).iter().any(|e| e.code == code)
    }

    /// The paths that have errors, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[FieldError])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Moves all of `other` in, under `prefix` (`"proxy"` + `"host"` = `"proxy.host"`; an empty
    /// `prefix` or an empty inner path keeps the other part alone).
    pub fn extend_prefixed(&mut self, prefix: &str, other: FieldErrors) {
        for (path, errors) in other.0 {
            let full = join_path(prefix, &path);
            for err in errors {
                self.add(full.clone(), err);
            }
        }
    }

    /// Moves all of `other` in with its paths unchanged.
    pub fn merge(&mut self, other: FieldErrors) {
        self.extend_prefixed("", other);
    }

    /// `Ok(value)` when there are no errors, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Keeps only the errors of `path` and of the fields below it (`transport` keeps
    /// `transport.port`): what a form shows next to one input or one group.
    pub fn filter_path(&self, path: &str) -> FieldErrors {
        FieldErrors(
            self.0
                .iter()
                .filter(|(k, _)| is_same_or_below(k, path))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (path, errors) in &self.0 {
            for err in errors {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                write!(f, "{path}: {}", err.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

impl IntoIterator for FieldErrors {
    type Item = (String, Vec<FieldError>);
    type IntoIter = std::collections::btree_map::IntoIter<String, Vec<FieldError>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

pub(crate) fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

fn is_same_or_below(candidate: &str, path: &str) -> bool {
    candidate == path
        || (candidate.starts_with(path) && candidate.as_bytes().get(path.len()) == Some(&b'.'))
}

/// The JSON body of every 4xx/5xx response: `{code, message, fields}`.
///
/// The server builds it, the UI deserialises it to put `fields` next to the inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    /// A stable snake_case identifier: `validation_failed` when `fields` has errors.
    #[cfg_attr(feature = "openapi", schema(example = "validation_failed"))]
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(example = "1 field is invalid"))]
    pub message: String,
    #[serde(default)]
    pub fields: FieldErrors,
}

impl ApiError {
    /// The code of an [`ApiError`] carrying field errors.
    pub const VALIDATION_FAILED: &'static str = "validation_failed";

    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            fields: FieldErrors::new(),
        }
    }

    /// A 422-style body: `validation_failed` with the field errors attached.
    pub fn validation(fields: FieldErrors) -> Self {
        let count = fields.paths().count();
        let message = if count == 1 {
            "1 field is invalid".to_owned()
        } else {
            format!("{count} fields are invalid")
        };
        Self {
            code: Self::VALIDATION_FAILED.to_owned(),
            message,
            fields,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if !self.fields.is_empty() {
            write!(f, ": {}", self.fields)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<FieldErrors> for ApiError {
    fn from(fields: FieldErrors) -> Self {
        Self::validation(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum InvalidThing {
        #[error("must be shorter")]
        TooLong,
    }

    impl ErrorCode for InvalidThing {
        fn code(&self) -> &'static str {
            "too_long"
        }
    }

    #[test]
    fn an_invalid_enum_turns_into_a_field_error_with_code_and_message() {
        let err = FieldError::from(InvalidThing::TooLong);
        assert_eq!(err, FieldError::new("too_long", "must be shorter"));
    }

    #[test]
    fn an_envelope_reads_back_as_the_field_error_it_carries() {
        let error = FieldError::new("out_of_range", "the port must be between 1 and 65535");
        let text = SerdeEnvelope::new(error.clone()).to_string();
        assert_eq!(text, "[out_of_range] the port must be between 1 and 65535");
        assert_eq!(SerdeEnvelope::parse(&text), Some(error));
    }

    #[test]
    fn an_envelope_keeps_brackets_and_an_empty_message_in_the_message() {
        for message in ["", "[x] inside", "a ] b", "ends with ]"] {
            let error = FieldError::new("invalid", message);
            let text = SerdeEnvelope::new(error.clone()).to_string();
            assert_eq!(SerdeEnvelope::parse(&text), Some(error), "{text}");
        }
    }

    #[test]
    fn text_that_is_not_an_envelope_has_no_field_error() {
        for text in [
            "unknown field `prot`, expected `port`",
            "invalid type: string \"25\", expected u16",
            "unsupported export version 2; this build reads version 1",
            "[] no code",
            "[Not Snake] message",
            "[out_of_range]no space",
            " [out_of_range] leading space",
            "",
        ] {
            assert_eq!(SerdeEnvelope::parse(text), None, "{text}");
        }
    }

    #[test]
    fn a_coded_newtype_error_survives_serde_json_with_its_code() {
        #[derive(Debug, Deserialize)]
        #[serde(try_from = "Coded<String>")]
        struct Shouty;
        impl TryFrom<Coded<String>> for Shouty {
            type Error = SerdeEnvelope;
            fn try_from(raw: Coded<String>) -> Result<Self, SerdeEnvelope> {
                if raw.0 == raw.0.to_uppercase() {
                    Ok(Shouty)
                } else {
                    Err(SerdeEnvelope::new(InvalidThing::TooLong))
                }
            }
        }
        assert!(serde_json::from_str::<Shouty>(r#""LOUD""#).is_ok());
        let err = serde_json::from_str::<Shouty>(r#""quiet""#).unwrap_err();
        let text = err.to_string();
        let text = text
            .strip_suffix(&format!(" at line {} column {}", err.line(), err.column()))
            .unwrap_or(&text);
        assert_eq!(
            SerdeEnvelope::parse(text),
            Some(FieldError::new("too_long", "must be shorter"))
        );
        // The wrong JSON type is serde's own error, as it is for a plain `String`.
        let err = serde_json::from_str::<Shouty>("42").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid type: integer `42`, expected a string")
        );
    }

    #[test]
    fn field_errors_serialise_as_an_object_of_paths() {
        let mut errors = FieldErrors::new();
        errors.add("transport.port", FieldError::new("out_of_range", "too big"));
        errors.add("sender.address", InvalidThing::TooLong);
        let json = serde_json::to_value(&errors).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "sender.address": [{"code": "too_long", "message": "must be shorter"}],
                "transport.port": [{"code": "out_of_range", "message": "too big"}],
            })
        );
        let back: FieldErrors = serde_json::from_value(json).unwrap();
        assert_eq!(back, errors);
    }

    #[test]
    fn the_same_error_twice_on_one_path_is_kept_once() {
        let mut errors = FieldErrors::new();
        errors.add("name", InvalidThing::TooLong);
        errors.add("name", InvalidThing::TooLong);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn extend_prefixed_puts_the_prefix_before_every_path() {
        let mut inner = FieldErrors::new();
        inner.add("host", InvalidThing::TooLong);
        inner.add("", FieldError::new("required", "needed"));
        let mut outer = FieldErrors::new();
        outer.extend_prefixed("proxy", inner);
        assert!(outer.has("proxy.host", "too_long"));
        assert!(outer.has("proxy", "required"));
        assert_eq!(outer.paths().collect::<Vec<_>>(), ["proxy", "proxy.host"]);
    }

    #[test]
    fn get_of_a_path_without_errors_is_empty() {
        assert!(FieldErrors::new().get("nothing").is_empty());
    }

    #[test]
    fn filter_path_keeps_the_path_and_its_children_only() {
        let mut errors = FieldErrors::new();
        errors.add("transport", InvalidThing::TooLong);
        errors.add("transport.port", InvalidThing::TooLong);
        errors.add("transportation", InvalidThing::TooLong);
        let kept = errors.filter_path("transport");
        assert_eq!(
            kept.paths().collect::<Vec<_>>(),
            ["transport", "transport.port"]
        );
    }

    #[test]
    fn an_api_error_without_fields_deserialises_with_empty_fields() {
        let err: ApiError =
            serde_json::from_str(r#"{"code":"not_found","message":"No such profile"}"#).unwrap();
        assert_eq!(err, ApiError::new("not_found", "No such profile"));
    }

    #[test]
    fn a_validation_api_error_has_the_documented_shape() {
        let err = ApiError::validation(FieldErrors::single(
            "transport.port",
            FieldError::new("out_of_range", "must be 1-65535"),
        ));
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({
                "code": "validation_failed",
                "message": "1 field is invalid",
                "fields": {"transport.port": [{"code": "out_of_range", "message": "must be 1-65535"}]},
            })
        );
    }
}

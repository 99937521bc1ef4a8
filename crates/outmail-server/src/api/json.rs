//! The JSON body extractor: every way a body can be wrong becomes a 4xx naming the field.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use outmail_types::{
    error::{FieldError, FieldErrors, SerdeEnvelope},
    secret::{SECRET_NOT_ALLOWED, SecretSlot},
};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::error::ApiFailure;

/// The largest request body the API reads. Settings documents are a few KiB; PEM files ~4 KiB.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Like `axum::Json`, but its rejections are our JSON errors with the field path.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiFailure::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiFailure::client(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        format!("the body is larger than {} KiB", BODY_LIMIT_BYTES / 1024),
                    )
                } else {
                    ApiFailure::client(rejection.status(), "unreadable_body", rejection.body_text())
                }
            })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Deserialises `bytes`, naming the path of the first offending field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiFailure> {
    // Syntax first, on its own: a type error must not hide trailing garbage, and the body's
    // tree is needed below to place errors that serde reports without their full path.
    let tree: serde_json::Value = serde_json::from_slice(bytes).map_err(malformed)?;
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *deserializer).map_err(|error| {
        let path = dotted(error.path());
        let error = error.into_inner();
        let text = text_of(&error);
        match Mistake::of(&error, &text) {
            Mistake::Malformed => malformed(error),
            mistake => {
                let path = mistake.locate(&path, &tree);
                let message = mistake.explain(&text, &path);
                ApiFailure::invalid(FieldErrors::single(
                    path,
                    FieldError::new(mistake.code(), message),
                ))
            }
        }
    })?;
    deserializer.end().map_err(malformed)?;
    Ok(value)
}

fn malformed(error: serde_json::Error) -> ApiFailure {
    ApiFailure::client(
        StatusCode::BAD_REQUEST,
        "malformed_json",
        format!("the body is not valid JSON: {error}"),
    )
}

/// `profiles[0].profile` → `profiles.0.profile`, the form every field error uses.
fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The error's text without serde_json's " at line L column C", which means nothing to someone
/// filling a form. The suffix is cut by the error's own line and column, which serde_json
/// appends only when the line is known (errors raised inside a buffered object have none).
fn text_of(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if error.line() == 0 {
        return text;
    }
    let position = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&position) {
        Some(bare) => bare.to_string(),
        None => text,
    }
}

/// What was wrong with the body, classified once ([`Mistake::of`]): the status, code, path and
/// message of the answer are all decided from this, never from serde's text.
#[derive(Debug, PartialEq)]
enum Mistake<'t> {
    /// Not JSON at all: bad syntax, an early end, trailing characters, nesting too deep
    /// (serde_json's `Category::Syntax`, `Eof` or `Io`). A 400 for the whole body.
    Malformed,
    /// A value refused its input with its own code (a newtype's parser, a secret's shape),
    /// carried through serde in outmail-types' [`SerdeEnvelope`].
    Coded(FieldError),
    /// A member the type needs is absent.
    MissingField(&'t str),
    /// A member the type does not have (`deny_unknown_fields`).
    UnknownField(&'t str),
    /// A string that names none of an enum's variants (also an internal tag such as `kind`).
    UnknownVariant(&'t str),
    /// A JSON value of another type; `unexpected` is serde's description of it (`string "25"`).
    InvalidType {
        unexpected: &'t str,
        expected: &'t str,
    },
    /// The right JSON type but not a value of the type (`70000` for a `u16`).
    InvalidValue { expected: &'t str },
    /// Anything else serde refused with no code of its own: a wrong length, a duplicate
    /// member, a value's own message without an envelope.
    Other,
}

impl<'t> Mistake<'t> {
    /// `text` is the error's text without its position ([`text_of`]).
    fn of(error: &serde_json::Error, text: &'t str) -> Self {
        match error.classify() {
            Category::Syntax | Category::Eof | Category::Io => Mistake::Malformed,
            Category::Data => match SerdeEnvelope::parse(text) {
                Some(coded) => Mistake::Coded(coded),
                None => serde_words(text),
            },
        }
    }

    /// A stable code for the kind of mistake.
    fn code(&self) -> &str {
        match self {
            Mistake::Malformed => "malformed_json",
            Mistake::Coded(error) => &error.code,
            Mistake::MissingField(_) => "required",
            Mistake::UnknownField(_) => "unknown_field",
            Mistake::UnknownVariant(_) => "unknown_value",
            Mistake::InvalidType { .. } => "invalid_type",
            Mistake::InvalidValue { .. } | Mistake::Other => "invalid",
        }
    }

    /// The full path of the offending member, from the path serde reported.
    ///
    /// Inside internally tagged enums (`{"kind": "smtp", ...}`) serde buffers the object and
    /// reports errors at the enum's own path, so the member is found in the body's tree: the
    /// unknown key, the unknown variant's string, the value of the wrong type, or the secret.
    fn locate(&self, path: &str, tree: &serde_json::Value) -> String {
        let at = node_at(tree, path);
        let object = at.filter(|node| node.is_object());
        let found = match self {
            Mistake::MissingField(field) => Some(join(path, field)),
            Mistake::UnknownField(field) => {
                if path == *field || path.ends_with(&format!(".{field}")) {
                    Some(path.to_string())
                } else {
                    at.and_then(|node| find_key(node, path, field))
                        .or_else(|| Some(join(path, field)))
                }
            }
            Mistake::UnknownVariant(variant) => {
                let target = serde_json::Value::String(variant.to_string());
                at.and_then(|node| find_value(node, path, &|value| *value == target))
            }
            Mistake::InvalidType { unexpected, .. } => object
                .and_then(|node| find_value(node, path, &|value| describes(unexpected, value))),
            // A coded error reported at an object came from a member serde could not name.
            // A secret in a stored or exported profile (an import) names the first secret; the
            // other coded value read from an object is a secret with both `set` and `value`.
            Mistake::Coded(error) if error.code == SECRET_NOT_ALLOWED => at.and_then(|node| {
                secret_keys()
                    .into_iter()
                    .find_map(|key| find_key(node, path, key))
            }),
            Mistake::Coded(_) => at.and_then(|node| {
                find_object(node, path, &|map| {
                    map.contains_key("set") && map.contains_key("value")
                })
            }),
            Mistake::InvalidValue { .. } | Mistake::Other | Mistake::Malformed => None,
        };
        found.unwrap_or_else(|| path.to_string())
    }

    /// The message a person reads. serde quotes the offending value ("invalid type: string
    /// \"x\"") and that value may be a secret typed into the wrong shape, so values are never
    /// repeated.
    fn explain(&self, text: &str, path: &str) -> String {
        if SecretSlot::from_path(path).is_some() {
            return "a secret is sent as {\"value\": \"…\"} to replace it, {\"set\": true} to keep \
                    it or {\"set\": false} to clear it"
                .to_string();
        }
        match self {
            Mistake::InvalidType { expected, .. } => format!("wrong type: expected {expected}"),
            Mistake::InvalidValue { expected } => format!("wrong value: expected {expected}"),
            Mistake::Coded(error) => error.message.clone(),
            _ => text.to_string(),
        }
    }
}

/// serde's own kinds of mistake, read from its words: the one place that reads them.
///
/// serde_json files every one of these under `Category::Data` and keeps nothing but the text:
/// serde's `de::Error::missing_field`, `unknown_field` and `unknown_variant` (and serde_json's
/// `invalid_type` and `invalid_value`) only format a message and pass it to `custom`, so the
/// error has no kind, field or variant to ask for. The prefixes are those fixed formats
/// ("missing field \`…\`", "unknown field \`…\`, expected …", "invalid type: …, expected …"),
/// not words of ours; the tests below pin each one, so a serde that changed them fails there.
fn serde_words(text: &str) -> Mistake<'_> {
    /// `name` out of "name`, expected …" or "name`, there are no fields" or "name`".
    fn name(rest: &str) -> &str {
        rest.split_once("`, ")
            .map_or(rest.strip_suffix('`').unwrap_or(rest), |(name, _)| name)
    }
    /// `(unexpected, expected)` out of "…, expected …".
    fn expectation(rest: &str) -> (&str, &str) {
        rest.rsplit_once(", expected ")
            .unwrap_or((rest, "another value"))
    }
    if let Some(rest) = text.strip_prefix("missing field `") {
        Mistake::MissingField(name(rest))
    } else if let Some(rest) = text.strip_prefix("unknown field `") {
        Mistake::UnknownField(name(rest))
    } else if let Some(rest) = text.strip_prefix("unknown variant `") {
        Mistake::UnknownVariant(name(rest))
    } else if let Some(rest) = text.strip_prefix("invalid type: ") {
        let (unexpected, expected) = expectation(rest);
        Mistake::InvalidType {
            unexpected,
            expected,
        }
    } else if let Some(rest) = text.strip_prefix("invalid value: ") {
        Mistake::InvalidValue {
            expected: expectation(rest).1,
        }
    } else {
        Mistake::Other
    }
}

/// The member names secrets are kept under (`password`, `client_secret`, …), in slot order.
fn secret_keys() -> Vec<&'static str> {
    let mut keys = Vec::new();
    for slot in SecretSlot::ALL {
        let key = slot.path().rsplit('.').next().unwrap_or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// The path of the first object below `node` (itself included) that `matches`.
fn find_object(
    node: &serde_json::Value,
    path: &str,
    matches: &dyn Fn(&serde_json::Map<String, serde_json::Value>) -> bool,
) -> Option<String> {
    match node {
        serde_json::Value::Object(map) if matches(map) => Some(path.to_string()),
        serde_json::Value::Object(map) => map
            .iter()
            .find_map(|(name, child)| find_object(child, &join(path, name), matches)),
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(index, child)| {
            find_object(child, &join(path, &index.to_string()), matches)
        }),
        _ => None,
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn node_at<'a>(tree: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if path.is_empty() {
        return Some(tree);
    }
    path.split('.').try_fold(tree, |node, segment| match node {
        serde_json::Value::Object(map) => map.get(segment),
        serde_json::Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    })
}

/// The path of the first member named `key` below `node` (depth first, in document order).
fn find_key(node: &serde_json::Value, path: &str, key: &str) -> Option<String> {
    let serde_json::Value::Object(map) = node else {
        return None;
    };
    if map.contains_key(key) {
        return Some(join(path, key));
    }
    map.iter()
        .find_map(|(name, child)| find_key(child, &join(path, name), key))
}

/// The path of the first leaf below `node` that `matches`.
fn find_value(
    node: &serde_json::Value,
    path: &str,
    matches: &dyn Fn(&serde_json::Value) -> bool,
) -> Option<String> {
    match node {
        serde_json::Value::Object(map) => map.iter().find_map(|(name, child)| {
            if !child.is_object() && matches(child) {
                Some(join(path, name))
            } else {
                find_value(child, &join(path, name), matches)
            }
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, child)| find_value(child, &join(path, &index.to_string()), matches)),
        _ => None,
    }
}

/// Whether serde's description of an unexpected value (`string "25"`, `floating point `25.5``,
/// `integer `-1``, `boolean `true``, `sequence`, `null`) is this JSON value.
fn describes(described: &str, value: &serde_json::Value) -> bool {
    let inner = described.split(['"', '`']).nth(1);
    match value {
        serde_json::Value::String(text) => {
            described.starts_with("string") && inner == Some(text.as_str())
        }
        serde_json::Value::Number(number) => {
            (described.starts_with("integer") || described.starts_with("floating point"))
                && inner.is_some_and(|n| n.parse::<f64>().ok() == number.as_f64())
        }
        serde_json::Value::Bool(flag) => {
            described.starts_with("boolean") && inner == Some(if *flag { "true" } else { "false" })
        }
        serde_json::Value::Array(_) => described.starts_with("sequence"),
        serde_json::Value::Null => described.starts_with("null"),
        serde_json::Value::Object(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        port: u16,
        #[serde(default)]
        mode: Option<Mode>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Starttls,
    }

    /// The status, path and code of the one field error `body` gets when read as a `T`.
    fn first_error<T: DeserializeOwned + std::fmt::Debug>(
        body: &str,
    ) -> (StatusCode, String, String) {
        match parse::<T>(body.as_bytes()).unwrap_err() {
            ApiFailure::Client { status, error } => {
                let (path, errors) = error.fields.iter().next().expect("one field");
                (status, path.to_string(), errors[0].code.clone())
            }
            other => panic!("{other:?}"),
        }
    }

    fn field_error(body: &str) -> (String, String) {
        let (status, path, code) = first_error::<Outer>(body);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        (path, code)
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let found = field_error(r#"{"name":"a","inner":{"port":"25"}}"#);
        assert_eq!(found, ("inner.port".into(), "invalid_type".into()));
    }

    #[test]
    fn a_missing_field_names_the_field_itself() {
        let found = field_error(r#"{"name":"a","inner":{}}"#);
        assert_eq!(found, ("inner.port".into(), "required".into()));
        let found = field_error(r#"{"inner":{"port":25}}"#);
        assert_eq!(found, ("name".into(), "required".into()));
    }

    #[test]
    fn an_unknown_field_is_named() {
        let found = field_error(r#"{"name":"a","inner":{"port":25,"prot":1}}"#);
        assert_eq!(found, ("inner.prot".into(), "unknown_field".into()));
    }

    #[test]
    fn an_unknown_enum_value_is_named() {
        let found = field_error(r#"{"name":"a","inner":{"port":25,"mode":"opportunistic"}}"#);
        assert_eq!(found, ("inner.mode".into(), "unknown_value".into()));
    }

    #[test]
    fn an_out_of_range_number_is_named() {
        let found = field_error(r#"{"name":"a","inner":{"port":70000}}"#);
        assert_eq!(found, ("inner.port".into(), "invalid".into()));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_not_repeated_back() {
        let error = match parse::<Outer>(br#"{"name":"a","inner":{"port":"hunter2"}}"#).unwrap_err()
        {
            ApiFailure::Client { error, .. } => error,
            other => panic!("{other:?}"),
        };
        let message = &error.fields.get("inner.port")[0].message;
        assert!(!message.contains("hunter2"), "{message}");
        assert_eq!(message, "wrong type: expected u16");
    }

    #[derive(Deserialize, Debug)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Tagged {
        Smtp { port: u16, mode: Option<Mode> },
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Holder {
        transport: Tagged,
    }

    fn tagged_error(body: &str) -> (String, String) {
        let (_, path, code) = first_error::<Holder>(body);
        (path, code)
    }

    #[test]
    fn errors_inside_a_tagged_object_name_the_member() {
        let wrong_type = tagged_error(r#"{"transport":{"kind":"smtp","port":"25"}}"#);
        assert_eq!(wrong_type, ("transport.port".into(), "invalid_type".into()));
        let unknown = tagged_error(r#"{"transport":{"kind":"smtp","port":25,"prot":1}}"#);
        assert_eq!(unknown, ("transport.prot".into(), "unknown_field".into()));
        let variant = tagged_error(r#"{"transport":{"kind":"smtp","port":25,"mode":"sometimes"}}"#);
        assert_eq!(variant, ("transport.mode".into(), "unknown_value".into()));
        let kind = tagged_error(r#"{"transport":{"kind":"pigeon"}}"#);
        assert_eq!(kind, ("transport.kind".into(), "unknown_value".into()));
    }

    /// The classification of the error serde_json gives for `body` read as a `T`.
    fn classified<T: DeserializeOwned + std::fmt::Debug>(body: &str, expected: Mistake<'_>) {
        let error = serde_json::from_str::<T>(body).unwrap_err();
        let text = text_of(&error);
        assert_eq!(Mistake::of(&error, &text), expected, "{body}: {error}");
    }

    #[test]
    fn broken_syntax_an_early_end_trailing_characters_and_deep_nesting_are_malformed() {
        classified::<Outer>("nope", Mistake::Malformed);
        classified::<Outer>(r#"{"name":"#, Mistake::Malformed);
        classified::<Outer>("", Mistake::Malformed);
        classified::<Outer>(r#"{"name":"a","inner":{"port":25}} x"#, Mistake::Malformed);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        classified::<serde_json::Value>(&deep, Mistake::Malformed);
    }

    #[test]
    fn a_missing_member_is_classified_with_its_name() {
        classified::<Outer>(r#"{"inner":{"port":25}}"#, Mistake::MissingField("name"));
    }

    #[test]
    fn an_unknown_member_is_classified_with_its_name() {
        classified::<Inner>(r#"{"port":25,"prot":1}"#, Mistake::UnknownField("prot"));
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Nothing {}
        classified::<Nothing>(r#"{"x":1}"#, Mistake::UnknownField("x"));
    }

    #[test]
    fn an_unknown_variant_is_classified_with_its_name() {
        classified::<Mode>(
            r#""opportunistic""#,
            Mistake::UnknownVariant("opportunistic"),
        );
        classified::<Tagged>(r#"{"kind":"pigeon"}"#, Mistake::UnknownVariant("pigeon"));
    }

    #[test]
    fn a_value_of_another_type_is_classified_with_what_was_expected() {
        classified::<Inner>(
            r#"{"port":"25"}"#,
            Mistake::InvalidType {
                unexpected: "string \"25\"",
                expected: "u16",
            },
        );
        // A string that itself says ", expected " does not cut the description short.
        classified::<u16>(
            r#""a, expected b""#,
            Mistake::InvalidType {
                unexpected: "string \"a, expected b\"",
                expected: "u16",
            },
        );
    }

    #[test]
    fn a_value_out_of_range_is_classified_as_an_invalid_value() {
        classified::<Inner>(
            r#"{"port":70000}"#,
            Mistake::InvalidValue { expected: "u16" },
        );
    }

    #[test]
    fn a_newtype_refusal_is_classified_with_the_newtype_code() {
        let error = |code, message: &str| Mistake::Coded(FieldError::new(code, message));
        let port = outmail_types::Port::try_from(0_i64).unwrap_err();
        classified::<outmail_types::Port>("0", error("out_of_range", &port.to_string()));
        let host = outmail_types::Host::parse("exa mple.com").unwrap_err();
        classified::<outmail_types::Host>(
            r#""exa mple.com""#,
            error("whitespace", &host.to_string()),
        );
    }

    #[test]
    fn a_secret_of_the_wrong_shape_or_where_none_may_be_is_classified_with_its_code() {
        let Mistake::Coded(both) =
            mistake_of::<outmail_types::SecretInput>(r#"{"set":true,"value":"hunter2"}"#)
        else {
            panic!("not coded")
        };
        assert_eq!(both.code, "invalid");
        assert!(!both.message.contains("hunter2"), "{}", both.message);
        let Mistake::Coded(neither) = mistake_of::<outmail_types::SecretInput>("{}") else {
            panic!("not coded")
        };
        assert_eq!(neither.code, "invalid");
        let Mistake::Coded(omitted) =
            mistake_of::<outmail_types::secret::Omitted>(r#"{"value":"hunter2"}"#)
        else {
            panic!("not coded")
        };
        assert_eq!(omitted.code, SECRET_NOT_ALLOWED);
    }

    /// The classification, owned (for the codes that carry their own text).
    fn mistake_of<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> Mistake<'static> {
        let error = serde_json::from_str::<T>(body).unwrap_err();
        match Mistake::of(&error, &text_of(&error)) {
            Mistake::Coded(coded) => Mistake::Coded(coded),
            _ => Mistake::Other,
        }
    }

    #[test]
    fn anything_else_without_a_code_is_classified_as_other() {
        classified::<(u8, u8)>("[1]", Mistake::Other);
        classified::<Inner>(r#"{"port":25,"port":26}"#, Mistake::Other);
        #[derive(Debug)]
        struct Refuses;
        impl<'de> Deserialize<'de> for Refuses {
            fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                Err(serde::de::Error::custom("no code here"))
            }
        }
        classified::<Refuses>("1", Mistake::Other);
    }

    #[test]
    fn the_position_is_cut_from_the_text_and_nothing_else() {
        let error = serde_json::from_str::<Inner>("{\n  \"port\": \"25\"}").unwrap_err();
        assert_eq!(error.line(), 2);
        assert_eq!(text_of(&error), "invalid type: string \"25\", expected u16");
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Typed {
        relay: Relay,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Relay {
        host: outmail_types::Host,
        port: outmail_types::Port,
    }

    #[test]
    fn a_newtype_refusal_answers_its_own_code_at_its_path() {
        let (status, path, code) =
            first_error::<Typed>(r#"{"relay":{"host":"smtp.example.com","port":0}}"#);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            (path.as_str(), code.as_str()),
            ("relay.port", "out_of_range")
        );
        let (_, path, code) =
            first_error::<Typed>(r#"{"relay":{"host":"exa mple.com","port":25}}"#);
        assert_eq!((path.as_str(), code.as_str()), ("relay.host", "whitespace"));
        // The wrong JSON type for a newtype is still serde's own mistake.
        let (_, path, code) = first_error::<Typed>(r#"{"relay":{"host":1,"port":25}}"#);
        assert_eq!(
            (path.as_str(), code.as_str()),
            ("relay.host", "invalid_type")
        );
    }

    #[test]
    fn a_newtype_refusal_keeps_its_message_without_the_envelope() {
        let error = match parse::<Typed>(br#"{"relay":{"host":"smtp.example.com","port":0}}"#)
            .unwrap_err()
        {
            ApiFailure::Client { error, .. } => error,
            other => panic!("{other:?}"),
        };
        let expected = outmail_types::Port::try_from(0_i64)
            .unwrap_err()
            .to_string();
        assert_eq!(error.fields.get("relay.port")[0].message, expected);
    }

    #[derive(Deserialize, Debug)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    #[allow(dead_code)]
    enum WithSecret {
        Basic {
            username: String,
            password: outmail_types::SecretInput,
        },
    }

    #[derive(Deserialize, Debug)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Stored {
        Basic {
            username: String,
            #[serde(default)]
            password: Option<outmail_types::secret::Omitted>,
        },
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Auth<T> {
        auth: T,
    }

    #[test]
    fn a_secret_with_both_set_and_value_inside_a_tagged_object_is_named() {
        let (_, path, code) = first_error::<Auth<WithSecret>>(
            r#"{"auth":{"kind":"basic","username":"u","password":{"set":true,"value":"x"}}}"#,
        );
        assert_eq!((path.as_str(), code.as_str()), ("auth.password", "invalid"));
    }

    #[test]
    fn a_secret_where_none_may_be_inside_a_tagged_object_is_named() {
        let (_, path, code) = first_error::<Auth<Stored>>(
            r#"{"auth":{"kind":"basic","username":"u","password":{"value":"x"}}}"#,
        );
        assert_eq!(
            (path.as_str(), code.as_str()),
            ("auth.password", "secret_not_allowed")
        );
    }

    #[test]
    fn trailing_garbage_after_a_valid_body_is_400() {
        match parse::<Outer>(br#"{"name":"a","inner":{"port":25}} x"#).unwrap_err() {
            ApiFailure::Client { status, .. } => assert_eq!(status, StatusCode::BAD_REQUEST),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn broken_json_is_400() {
        for body in [r#"{"name":"#, "", "nope"] {
            match parse::<Outer>(body.as_bytes()).unwrap_err() {
                ApiFailure::Client { status, error } => {
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
                    assert_eq!(error.code, "malformed_json");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

//! The JSON body extractor: every way a body can be wrong becomes a 4xx naming the field.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use outmail_types::{
    error::{FieldError, FieldErrors},
    secret::SecretSlot,
};
use serde::de::DeserializeOwned;

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
    let malformed = |error: serde_json::Error| {
        ApiFailure::client(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {error}"),
        )
    };
    // Syntax first, on its own: a type error must not hide trailing garbage, and the body's
    // tree is needed below to place errors that serde reports without their full path.
    let tree: serde_json::Value = serde_json::from_slice(bytes).map_err(malformed)?;
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *deserializer).map_err(|error| {
        let path = dotted(error.path());
        let message = strip_position(&error.into_inner().to_string());
        let (code, path) = locate(&message, &path, &tree);
        ApiFailure::invalid(FieldErrors::single(
            path.clone(),
            FieldError::new(code, explain(&message, &path)),
        ))
    })?;
    deserializer.end().map_err(malformed)?;
    Ok(value)
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

/// serde_json appends " at line L column C", which means nothing to someone filling a form.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// The message a person reads. serde quotes the offending value ("invalid type: string \"x\"")
/// and that value may be a secret typed into the wrong shape, so values are never repeated.
fn explain(message: &str, path: &str) -> String {
    if SecretSlot::from_path(path).is_some() {
        return "a secret is sent as {\"value\": \"…\"} to replace it, {\"set\": true} to keep it \
                or {\"set\": false} to clear it"
            .to_string();
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let expected = rest
                .rsplit_once(", expected ")
                .map(|(_, e)| e)
                .unwrap_or("another value");
            return format!(
                "wrong {}: expected {expected}",
                prefix.trim_start_matches("invalid ").trim_end_matches(": ")
            );
        }
    }
    message.to_string()
}

/// A stable code for the kind of mistake, and the full path of the field.
///
/// Inside internally tagged enums (`{"kind": "smtp", ...}`) serde buffers the object and reports
/// errors at the enum's own path, so the offending member is found in the body's tree: the
/// unknown key, the unknown variant's string, or the value of the wrong type.
fn locate(message: &str, path: &str, tree: &serde_json::Value) -> (&'static str, String) {
    let quoted = message.split('`').nth(1).unwrap_or_default();
    let at = node_at(tree, path);
    if message.starts_with("missing field") {
        ("required", join(path, quoted))
    } else if message.starts_with("unknown field") {
        let found = if path.ends_with(quoted) {
            Some(path.to_string())
        } else {
            at.and_then(|node| find_key(node, path, quoted))
        };
        ("unknown_field", found.unwrap_or_else(|| join(path, quoted)))
    } else if message.starts_with("unknown variant") {
        let target = serde_json::Value::String(quoted.to_string());
        let found = at.and_then(|node| find_value(node, path, &|value| *value == target));
        ("unknown_value", found.unwrap_or_else(|| path.to_string()))
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        let found = at.filter(|node| node.is_object()).and_then(|node| {
            let described = rest.split(", expected").next().unwrap_or_default();
            find_value(node, path, &|value| describes(described, value))
        });
        ("invalid_type", found.unwrap_or_else(|| path.to_string()))
    } else if message.starts_with("secrets are not part") {
        // A stored or exported profile (an import) never carries secrets: name the first one.
        let found = at.and_then(|node| {
            ["password", "client_secret", "private_key", "refresh_token"]
                .iter()
                .find_map(|key| find_key(node, path, key))
        });
        (
            "secret_not_allowed",
            found.unwrap_or_else(|| path.to_string()),
        )
    } else if message.starts_with("a secret is") {
        // SecretInput's own refusal (both `set` and `value`): the object that has both.
        let found = at.and_then(|node| {
            find_object(node, path, &|map| {
                map.contains_key("set") && map.contains_key("value")
            })
        });
        ("invalid", found.unwrap_or_else(|| path.to_string()))
    } else {
        ("invalid", path.to_string())
    }
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

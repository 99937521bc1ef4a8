//! The JSON body extractor: every way a body can be wrong becomes a 4xx naming the field.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
};
use outmail_types::error::{FieldError, FieldErrors};
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
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
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
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiFailure::client(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
            );
        }
        let message = strip_position(&inner.to_string());
        let (code, path) = classify(&message, &path);
        ApiFailure::invalid(FieldErrors::single(path, FieldError::new(code, message)))
    })
}

/// serde_json appends " at line L column C", which means nothing to someone filling a form.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// A stable code for the kind of mistake, and the full path: for a missing field serde reports
/// the enclosing object, so the field's own name is appended (an unknown one is already in it).
fn classify(message: &str, path: &str) -> (&'static str, String) {
    let join = |field: &str| {
        if path.is_empty() || path == "." {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    let quoted = |message: &str| message.split('`').nth(1).map(str::to_string);
    let path_or_body = || if path == "." { String::new() } else { path.to_string() };
    if message.starts_with("missing field") {
        ("required", quoted(message).map(|f| join(&f)).unwrap_or_else(path_or_body))
    } else if message.starts_with("unknown field") {
        ("unknown_field", path_or_body())
    } else if message.starts_with("unknown variant") {
        ("unknown_value", path_or_body())
    } else if message.starts_with("invalid type") {
        ("invalid_type", path_or_body())
    } else {
        ("invalid", path_or_body())
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

    fn field_error(body: &str) -> (String, String) {
        match parse::<Outer>(body.as_bytes()).unwrap_err() {
            ApiFailure::Client { status, error } => {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
                let (path, errors) = error.fields.iter().next().expect("one field");
                (path.to_string(), errors[0].code.clone())
            }
            other => panic!("{other:?}"),
        }
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

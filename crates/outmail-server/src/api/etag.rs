//! Versions as ETags, and the If-Match rule every update and delete follows.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};

use super::error::{ApiFailure, ApiResult};

/// The ETag of a version: a strong validator, the version number quoted.
pub fn format(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version the client says it edits: missing → 428, unreadable → 400.
/// A weak `W/"N"` is accepted: some proxies weaken ETags on the way back.
pub fn required_version(headers: &HeaderMap) -> ApiResult<i64> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or_else(ApiFailure::if_match_required)?;
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    text.strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|number| number.parse::<i64>().ok())
        .ok_or_else(|| {
            ApiFailure::client(
                axum::http::StatusCode::BAD_REQUEST,
                "bad_if_match",
                "If-Match must be one ETag as returned by GET, like \"3\"",
            )
        })
}

/// The version named by `If-Match`, read before the body: a request that cannot succeed
/// whatever its body (428, 400) is told so first.
pub struct IfMatch(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required_version(&parts.headers).map(IfMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(if_match: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = if_match {
            headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_quoted_version_is_read() {
        assert_eq!(required_version(&headers(Some("\"7\""))).unwrap(), 7);
        assert_eq!(required_version(&headers(Some("W/\"7\""))).unwrap(), 7);
    }

    #[test]
    fn a_missing_if_match_is_428() {
        let failure = required_version(&headers(None)).unwrap_err();
        assert!(matches!(failure, ApiFailure::Client { status, .. } if status.as_u16() == 428));
    }

    #[test]
    fn a_garbled_if_match_is_400() {
        for value in ["7", "\"seven\"", "*", "\"1\", \"2\""] {
            let failure = required_version(&headers(Some(value))).unwrap_err();
            assert!(
                matches!(failure, ApiFailure::Client { status, .. } if status.as_u16() == 400),
                "{value}"
            );
        }
    }
}

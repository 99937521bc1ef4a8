//! Successful answers that carry the resource's version, and its address when just created.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::etag;

/// A response carrying the resource's ETag.
pub fn with_etag(status: StatusCode, version: i64, body: impl serde::Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag::format(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// 201 with the ETag and the new resource's `Location`.
pub fn created(location: &str, version: i64, body: impl serde::Serialize) -> Response {
    let mut response = with_etag(StatusCode::CREATED, version, body);
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

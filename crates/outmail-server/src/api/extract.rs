//! Path and query extractors whose rejections are JSON errors like every other 4xx.

use axum::{
    extract::{FromRequestParts, Path, Query},
    http::{StatusCode, request::Parts},
};
use outmail_types::error::{FieldError, FieldErrors};
use serde::de::DeserializeOwned;

use super::error::ApiFailure;

/// Like `axum::extract::Path`.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| {
                ApiFailure::client(rejection.status(), "bad_path", rejection.body_text())
            })
    }
}

/// Like `axum::extract::Query`; a rejection names the parameter when serde does.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| {
                let message = rejection.body_text();
                let mut fields = FieldErrors::new();
                if let Some(name) = message.split('`').nth(1) {
                    fields.add(name, FieldError::new("bad_query", message.clone()));
                }
                ApiFailure::Client {
                    status: StatusCode::BAD_REQUEST,
                    error: outmail_types::error::ApiError {
                        code: "bad_query".to_string(),
                        message,
                        fields,
                    },
                }
            })
    }
}

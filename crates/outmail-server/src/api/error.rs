//! The API's one error type: a person's mistake is answered 4xx with detail and the field named;
//! a fault is an opaque 500 and a log line.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use outmail_types::error::{ApiError, FieldError, FieldErrors};

/// Everything a handler can fail with.
#[derive(Debug)]
pub enum ApiFailure {
    /// The client's request is wrong; the body says how.
    Client { status: StatusCode, error: ApiError },
    /// The resource changed since the client read it: 412 with the current ETag.
    Stale { current_version: i64 },
    /// Too many requests: 429 with `Retry-After` in whole seconds.
    TooMany {
        code: &'static str,
        message: String,
        retry_after: std::time::Duration,
    },
    /// Our fault: logged with its cause, answered without it.
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiFailure>;

impl ApiFailure {
    pub fn client(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            error: ApiError::new(code, message),
        }
    }

    /// 422 with every invalid field.
    pub fn invalid(fields: FieldErrors) -> Self {
        Self::Client {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: ApiError::validation(fields),
        }
    }

    /// 422 for one field.
    pub fn invalid_field(path: &str, code: &str, message: impl Into<String>) -> Self {
        Self::invalid(FieldErrors::single(path, FieldError::new(code, message)))
    }

    pub fn not_found(what: &str) -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    /// 409 naming the field whose value collides with another resource.
    pub fn conflict(path: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Client {
            status: StatusCode::CONFLICT,
            error: ApiError {
                code: "conflict".to_string(),
                message: message.clone(),
                fields: FieldErrors::single(path, FieldError::new(code, message)),
            },
        }
    }

    pub fn if_match_required() -> Self {
        Self::client(
            StatusCode::PRECONDITION_REQUIRED,
            "if_match_required",
            "send the ETag of the version you edit in an If-Match header",
        )
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        match self {
            Self::Client { status, error } => (status, Json(error)).into_response(),
            Self::Stale { current_version } => {
                let mut response = (
                    StatusCode::PRECONDITION_FAILED,
                    Json(ApiError::new(
                        "version_mismatch",
                        format!(
                            "this was changed since you read it (now version {current_version}); \
                             reload, reapply your change and save again"
                        ),
                    )),
                )
                    .into_response();
                if let Ok(etag) = HeaderValue::from_str(&super::etag::format(current_version)) {
                    response.headers_mut().insert(header::ETAG, etag);
                }
                response
            }
            Self::TooMany {
                code,
                message,
                retry_after,
            } => {
                // Rounded up: a client that waits exactly this long is let in.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(ApiError::new(
                        code,
                        format!("{message}; try again in {seconds} s"),
                    )),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
                response
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(ApiError::new(
                        "internal",
                        "the server failed to handle this request; the details are in its log",
                    )),
                )
                    .into_response()
            }
        }
    }
}

/// Store outcomes a client can act on keep their meaning; the rest are faults.
impl From<outmail_store::StoreError> for ApiFailure {
    fn from(error: outmail_store::StoreError) -> Self {
        use outmail_store::StoreError;
        match error {
            StoreError::NotFound => Self::not_found("record"),
            StoreError::VersionMismatch { current } => Self::Stale {
                current_version: current,
            },
            StoreError::Conflict { field } => Self::conflict(
                field,
                "taken",
                format!("another record already uses this {field}"),
            ),
            StoreError::MissingReference { referenced } => Self::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_reference",
                format!("the {referenced} referred to does not exist"),
            ),
            StoreError::InUse { users } => Self::client(
                StatusCode::CONFLICT,
                "in_use",
                format!("the profile is still used by {}", users.join(", ")),
            ),
            StoreError::SecretDestinationChanged { slot } => Self::invalid_field(
                &slot,
                "destination_changed",
                "the stored secret was entered for another server or account: enter it again",
            ),
            other => Self::internal(other),
        }
    }
}

/// `StoreError::NotFound` named after what was looked for.
pub fn not_found_as(what: &str, error: outmail_store::StoreError) -> ApiFailure {
    match error {
        outmail_store::StoreError::NotFound => ApiFailure::not_found(what),
        other => other.into(),
    }
}

/// An account the rules refused names its fields; a failed hash is a fault.
impl From<crate::accounts::AccountRefusal> for ApiFailure {
    fn from(refusal: crate::accounts::AccountRefusal) -> Self {
        match refusal {
            crate::accounts::AccountRefusal::Invalid(fields) => Self::invalid(fields),
            crate::accounts::AccountRefusal::Fault(error) => Self::internal(error),
        }
    }
}

/// The sending service's refusals, in the API's words.
impl From<crate::sending::Refusal> for ApiFailure {
    fn from(refusal: crate::sending::Refusal) -> Self {
        use crate::sending::Refusal;
        match refusal {
            Refusal::SendingDisabled => Self::conflict(
                "sending_enabled",
                "sending_disabled",
                "sending is switched off in the global settings; nothing was stored",
            ),
            Refusal::NoProfile => Self::conflict(
                "tenant",
                "no_profile",
                "no profile applies: set the global default profile or the tenant's own",
            ),
            Refusal::NotFound(what) => Self::not_found(what),
            Refusal::NoSupportAddress => Self::conflict(
                "support_address",
                "no_support_address",
                "no support address is set in the global settings",
            ),
            Refusal::Invalid(fields) => Self::invalid(fields),
            Refusal::Fault(error) => Self::internal(error),
        }
    }
}

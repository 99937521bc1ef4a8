//! Stored JSON documents to domain types and back, and store timestamps to RFC 3339.

use serde::{Serialize, de::DeserializeOwned};

use super::error::{ApiFailure, ApiResult};

/// A document the server wrote itself; failing to read it back is a fault, not a client error.
pub fn decode<T: DeserializeOwned>(kind: &str, id: &str, document: &str) -> ApiResult<T> {
    serde_json::from_str(document).map_err(|error| {
        ApiFailure::internal(anyhow::anyhow!(
            "the stored {kind} {id} cannot be read: {error}"
        ))
    })
}

pub fn encode<T: Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(ApiFailure::internal)
}

/// Unix milliseconds (the store's clock) as RFC 3339 UTC, e.g. `2026-11-22T12:00:00.123Z`.
pub fn rfc3339(unix_ms: i64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_milliseconds_become_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_348_800_123), "2026-11-22T12:00:00.123Z");
    }
}

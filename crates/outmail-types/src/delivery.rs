//! The delivery log and the failover state as the API shows them: one definition for the
//! server that writes them and the UI that reads them.

use serde::{Deserialize, Serialize};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its first or next attempt.
    Queued,
    /// A server took it.
    Sent,
    /// Refused for good, out of attempts, or possibly delivered (never sent twice).
    Failed,
    /// Every recipient had the same alert within the profile's send frequency.
    Suppressed,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 4] = [
        MessageStatus::Queued,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Suppressed,
    ];

    /// The name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Suppressed => "suppressed",
        }
    }

    /// The status named `name`, as [`MessageStatus::as_str`] writes it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// A word for people.
    pub fn label(self) -> &'static str {
        match self {
            MessageStatus::Queued => "Queued",
            MessageStatus::Sent => "Sent",
            MessageStatus::Failed => "Failed",
            MessageStatus::Suppressed => "Suppressed",
        }
    }
}

impl std::fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer of `POST /messages` and `POST /messages/{id}/resend`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendAccepted {
    pub id: String,
    /// `queued`, or `suppressed` when every recipient had this alert within the window.
    pub status: MessageStatus,
    /// Recipients left out by the profile's send frequency.
    pub suppressed: Vec<String>,
    /// The profile that will send it.
    pub profile_id: String,
}

/// One message in the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    pub id: String,
    pub tenant: Option<String>,
    pub profile_id: String,
    pub status: MessageStatus,
    pub attempts: i64,
    pub subject: String,
    pub to: Vec<String>,
    pub server_used: Option<String>,
    pub last_error: Option<String>,
    pub suppressed_recipients: Vec<String>,
    /// Unix milliseconds.
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// How the message reached outmail.
    #[serde(default)]
    pub source: MessageSource,
}

/// How a message reached outmail: which door, which token, from where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageSource {
    pub channel: Channel,
    /// The name of the API token that sent it; none for a signed-in admin, an unauthenticated
    /// relay client (from an allowed network) or a message queued before sources were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The client's address and port, for mail submitted over SMTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// The door a message came in by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `POST /messages`, a resend or a support request.
    #[default]
    Api,
    /// The SMTP relay listener.
    Smtp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Smtp => "smtp",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Channel::Api, Channel::Smtp]
            .into_iter()
            .find(|c| c.as_str() == name)
    }

    /// A word for people.
    pub fn label(self) -> &'static str {
        match self {
            Channel::Api => "API",
            Channel::Smtp => "SMTP",
        }
    }
}

/// `GET /profiles/{id}/failover`: whether the profile sends through its alternate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailoverView {
    /// Whether the profile sends through its alternate now.
    pub active: bool,
    pub alternate_profile_id: Option<String>,
    /// Unix milliseconds.
    pub since: Option<i64>,
    /// The failure that moved it.
    pub reason: Option<String>,
    /// Failovers and resets, newest first.
    pub history: Vec<FailoverEntry>,
}

/// `GET /failovers`: one profile sending through its alternate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveFailover {
    pub profile_id: String,
    pub alternate_profile_id: String,
    /// Unix milliseconds.
    pub since: i64,
    /// The failure that moved it.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailoverEntry {
    /// `failed_over` or `reset`.
    pub kind: String,
    pub alternate_profile_id: Option<String>,
    pub reason: String,
    /// Unix milliseconds.
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_name() {
        for status in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        assert_eq!(MessageStatus::parse("Sent"), None);
    }
}

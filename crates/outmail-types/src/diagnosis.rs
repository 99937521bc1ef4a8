//! The test send on the wire: what the admin asks for ([`TestSendRequest`]) and what comes back
//! ([`TestReport`]: stages with timings, a redacted transcript, the failure with the field to
//! blame and the remedy, warnings). The server fills these; the UI draws them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `POST /api/v1/profiles/{id}/test` (and the draft variant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestSendRequest {
    /// The recipient of the test message.
    #[cfg_attr(feature = "openapi", schema(example = "admin@example.com"))]
    pub to: String,
    /// Stop before DATA (SMTP) or before the send request (EWS, Graph): nothing is delivered.
    #[serde(default)]
    pub dry_run: bool,
}

/// One step of a delivery, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Stage {
    /// Build and check the message (addresses, headers) before any network call.
    Prepare,
    /// Look up the server's addresses (skipped behind a proxy, which resolves the name).
    Resolve,
    /// Open the TCP connection (through the proxy when one is set).
    Connect,
    /// The TLS handshake: at once for implicit TLS, after STARTTLS otherwise.
    Tls,
    /// The server's 220 greeting.
    Greeting,
    Ehlo,
    /// SMTP AUTH.
    Auth,
    /// Fetching an OAuth 2.0 access token.
    Token,
    Mail,
    Rcpt,
    Data,
    /// The HTTP request that sends the message (EWS `CreateItem`, Graph `sendMail`), or the
    /// local MTA's sendmail command.
    Send,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Prepare => "prepare",
            Stage::Resolve => "resolve",
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "ehlo",
            Stage::Auth => "auth",
            Stage::Token => "token",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
            Stage::Send => "send",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StageStatus {
    Ok,
    Failed,
    /// Not run: a dry run stops before delivering.
    Skipped,
}

/// One finished stage. Streamed as an SSE `stage` event as soon as it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageResult {
    pub stage: Stage,
    pub status: StageStatus,
    /// Wall time of the stage in milliseconds.
    pub ms: u64,
    /// What happened, in a few words (`"127.0.0.1:587"`, `"TLS 1.3, CN=mail.example.com"`).
    pub detail: String,
}

/// Who wrote a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Direction {
    /// Sent by outmail (`C:`).
    Client,
    /// Received from the server (`S:`).
    Server,
    /// A note from outmail (`*`), such as "TLS established".
    Note,
}

/// One line of the conversation. Credentials and tokens are replaced before the line is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TranscriptLine {
    pub direction: Direction,
    pub text: String,
}

/// What kind of fault stopped the delivery: decides whether a retry or a failover can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FailureKind {
    /// The settings cannot work as they are (a missing secret, an address the server cannot take).
    Configuration,
    /// DNS or TCP: the server could not be reached.
    Connect,
    Tls,
    /// Credentials or tokens were refused.
    Auth,
    /// The server answered with an error code (`code`).
    Rejected,
    Timeout,
    /// The peer broke the protocol or the connection dropped.
    Protocol,
    Proxy,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Configuration => "configuration",
            FailureKind::Connect => "connect",
            FailureKind::Tls => "tls",
            FailureKind::Auth => "auth",
            FailureKind::Rejected => "rejected",
            FailureKind::Timeout => "timeout",
            FailureKind::Protocol => "protocol",
            FailureKind::Proxy => "proxy",
        }
    }
}

/// Why the test send failed, where, which setting to look at and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Failure {
    pub kind: FailureKind,
    pub stage: Stage,
    /// A stable identifier of the cause (`certificate_expired`, `auth_failed`…), for programs.
    #[cfg_attr(feature = "openapi", schema(example = "wrong_port_for_security"))]
    pub reason: String,
    /// The server's reply code, for `rejected` (and SMTP auth failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// The profile field to blame, as a path in the profile document (`transport.port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What went wrong, with the server's own words where there are some.
    pub message: String,
    /// What to change.
    pub remedy: String,
}

/// Not a failure, but something to change soon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    /// `ews_exchange_online_retired`, `basic_auth_microsoft_365`, `credential_expires_soon`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// The server accepted the message.
    Delivered,
    /// Every stage up to delivery passed; nothing was sent.
    DryRunPassed,
    Failed,
}

impl Outcome {
    /// The wire name (`dry_run_passed`), also what the page's `data-outcome` attribute says.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::DryRunPassed => "dry_run_passed",
            Outcome::Failed => "failed",
        }
    }
}

/// The whole result of a test send. Also the final SSE `report` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestReport {
    pub outcome: Outcome,
    pub stages: Vec<StageResult>,
    pub transcript: Vec<TranscriptLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    pub warnings: Vec<Warning>,
    /// The Message-ID of the test message, when one was built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub total_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcomes_name_is_its_wire_name() {
        for outcome in [Outcome::Delivered, Outcome::DryRunPassed, Outcome::Failed] {
            let wire = serde_json::to_value(outcome).unwrap();
            assert_eq!(wire, outcome.as_str());
        }
    }
}

//! What the API returns for profiles: the full view for editing and the summary for lists.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::secret::{SecretSlot, SecretStatus};

use super::draft::ProfileDraft;
use super::oauth::TransportKind;
use super::spec::*;
use super::values::ProfileId;

/// One secret the profile uses, and whether a value is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretState {
    pub slot: SecretSlot,
    /// Whether saving without it is an error (never for a refresh token, which comes from
    /// consent after saving).
    pub required: bool,
    /// Whether a value is stored.
    pub set: bool,
}

/// A profile as `GET /api/v1/profiles/{id}` returns it.
///
/// `profile` has the draft shape with `{"set": bool}` in every secret field, so a client can
/// edit it and send it back as the PUT body unchanged: `{"set": true}` means keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileView {
    pub id: ProfileId,
    /// Increments on every update; the ETag, and what `If-Match` must carry.
    #[cfg_attr(feature = "openapi", schema(example = 3))]
    pub version: i64,
    /// RFC 3339 timestamp.
    #[cfg_attr(
        feature = "openapi",
        schema(format = DateTime, example = "2025-01-31T09:30:00Z")
    )]
    pub created_at: String,
    /// RFC 3339 timestamp.
    #[cfg_attr(
        feature = "openapi",
        schema(format = DateTime, example = "2025-02-01T17:05:12Z")
    )]
    pub updated_at: String,
    pub profile: ProfileDraft<SecretStatus>,
    /// The secrets the profile uses (a subset of the fields in `profile`), for banners such
    /// as "sign in to finish setup" when a refresh token is missing.
    pub secrets: Vec<SecretState>,
}

impl ProfileView {
    pub fn new(
        id: ProfileId,
        version: i64,
        created_at: impl Into<String>,
        updated_at: impl Into<String>,
        spec: &ProfileSpec,
        stored: &BTreeSet<SecretSlot>,
    ) -> Self {
        let set = |slot: SecretSlot| SecretStatus {
            set: stored.contains(&slot),
        };
        Self {
            id,
            version,
            created_at: created_at.into(),
            updated_at: updated_at.into(),
            profile: spec.to_draft_with(set),
            secrets: spec
                .secret_requirements()
                .into_iter()
                .map(|r| SecretState {
                    slot: r.slot,
                    required: r.required,
                    set: stored.contains(&r.slot),
                })
                .collect(),
        }
    }
}

/// A profile in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileSummary {
    pub id: ProfileId,
    #[cfg_attr(feature = "openapi", schema(example = "Office relay"))]
    pub name: String,
    pub transport: TransportKind,
    /// Where it sends: `smtp.example.com:587 (starttls)`, the EWS URL, the Graph base URL or the
    /// sendmail path.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "smtp.example.com:587 (starttls)")
    )]
    pub target: String,
    /// The profile's current version (its ETag).
    #[cfg_attr(feature = "openapi", schema(example = 3))]
    pub version: i64,
}

impl ProfileSummary {
    pub fn new(id: ProfileId, version: i64, spec: &ProfileSpec) -> Self {
        Self {
            id,
            name: spec.name.to_string(),
            transport: spec.transport.kind(),
            target: spec.target(),
            version,
        }
    }
}

impl ProfileSpec {
    /// A one-line description of where this profile sends.
    pub fn target(&self) -> String {
        match &self.transport {
            Transport::Smtp(s) => format!("{}:{} ({})", s.host.url_host(), s.port, s.security),
            Transport::Local(l) => l.sendmail_path.to_string(),
            Transport::Ews(e) => e.url.to_string(),
            Transport::Graph(g) => g.endpoint.base_url().to_string(),
        }
    }
}

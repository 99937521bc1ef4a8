//! The records the store reads and writes: rows as stored, and the inputs that write them.
//!
//! Documents are opaque JSON text; the server maps its domain types to and from them. Timestamps
//! are unix milliseconds (UTC) in an `i64`: the same native integer on both backends, sortable,
//! and free of string-format drift between SQLite and PostgreSQL.

use secrecy::SecretString;

/// The largest page [`ProfileQuery`] returns; bigger requests are cut to it.
pub const MAX_PER_PAGE: u32 = 500;

/// A mail-server profile as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProfileRow {
    pub id: String,
    pub name: String,
    /// The lowercase form of `name`; unique, so names differing only in case collide.
    pub name_key: String,
    pub transport: String,
    /// A one-line summary of where the profile sends, for lists that should not decode every
    /// document; empty for rows written before the column existed.
    pub target: String,
    pub document: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields a profile create or update writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileWrite {
    pub name: String,
    /// Must be the lowercase form of `name` (the list filter matches against it).
    pub name_key: String,
    pub transport: String,
    /// See [`ProfileRow::target`].
    pub target: String,
    pub document: String,
}

/// A secret given with a new profile.
#[derive(Debug)]
pub struct SecretWrite {
    pub slot: String,
    pub plaintext: SecretString,
    /// The fingerprint of the destination the secret was entered for.
    pub destination: String,
}

/// What an update does to one secret slot. Slots an update does not mention are left as they are.
#[derive(Debug)]
pub enum SecretChange {
    /// Store a new secret (replacing any in the slot).
    Set(SecretWrite),
    /// Remove the slot's secret, if any.
    Clear { slot: String },
    /// Keep the stored secret, which must have been entered for `destination`; otherwise the update
    /// fails with `StoreError::SecretDestinationChanged`. An empty slot stays empty.
    Keep { slot: String, destination: String },
}

/// Which secret slots a profile has filled, and for which destination; never the secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecretStatus {
    pub slot: String,
    pub destination: String,
}

/// Filter and page for listing profiles. Pages count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileQuery {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// Exact transport, e.g. `"smtp"`.
    pub transport: Option<String>,
    pub page: u32,
    pub per_page: u32,
}

impl Default for ProfileQuery {
    fn default() -> Self {
        Self {
            name_contains: None,
            transport: None,
            page: 1,
            per_page: 50,
        }
    }
}

impl ProfileQuery {
    /// `(limit, offset)` with page 0 read as 1 and `per_page` held to `1..=MAX_PER_PAGE`.
    pub(crate) fn limit_offset(&self) -> (i64, i64) {
        let per_page = i64::from(self.per_page.clamp(1, MAX_PER_PAGE));
        let page = i64::from(self.page.max(1));
        (per_page, (page - 1) * per_page)
    }
}

/// One page of results and the number of all matching records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// The global settings: absent until first written, then a single versioned document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalRow {
    /// `None` means "never saved: use the defaults" (and `version` is 0).
    pub document: Option<String>,
    pub version: i64,
    pub updated_at: Option<i64>,
}

/// A tenant, keyed by its slug.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub document: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields a tenant create or update writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantWrite {
    pub name: String,
    pub document: String,
}

/// A routing rule; lists put lower priorities first.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoutingRuleRow {
    pub id: String,
    pub priority: i64,
    pub document: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields a routing rule create or update writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRuleWrite {
    pub priority: i64,
    pub document: String,
}

/// What [`crate::Store::rotate_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub new_version: u32,
    pub resealed: u64,
}

//! The records the store reads and writes: rows as stored, and the inputs that write them.
//!
//! Documents are opaque JSON text; the server maps its domain types to and from them. Timestamps
//! are unix milliseconds (UTC) in an `i64`: the same native integer on both backends, sortable,
//! and free of string-format drift between SQLite and PostgreSQL.

use crate::Plaintext;

/// The most records one list call returns (a [`ProfileQuery`] page, a delivery log read): the
/// API's page limit, see `outmail_types::settings::ListQuery::MAX_PER_PAGE`. The caller enforces
/// that limit (the server refuses or cuts a larger request before it asks); the store, which does
/// not depend on `outmail-types`, holds the same number only so that no call can read an
/// unbounded list. A larger value here would be a second, different limit.
pub const MAX_PER_PAGE: u32 = 200;

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
    /// The profiles the document names (its alternate): each must exist when it is written.
    pub refers_to: Vec<String>,
}

/// A secret given with a new profile.
#[derive(Debug)]
pub struct SecretWrite {
    pub slot: String,
    pub plaintext: Plaintext,
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
pub struct StoredSecret {
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

/// `limit` held to `1..=MAX_PER_PAGE`, for list calls that take a bare limit.
pub(crate) fn list_limit(limit: i64) -> i64 {
    limit.clamp(1, i64::from(MAX_PER_PAGE))
}

/// One page of results and the number of all matching records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPage<T> {
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
    /// The profiles the document names: each must exist when it is written.
    pub refers_to: Vec<String>,
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
    /// The profiles the document names: each must exist when it is written.
    pub refers_to: Vec<String>,
}

/// What [`crate::Store::rotate_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub new_version: u32,
    pub resealed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_page_is_held_to_one_through_the_api_page_limit() {
        let page = |page, per_page| {
            ProfileQuery {
                page,
                per_page,
                ..ProfileQuery::default()
            }
            .limit_offset()
        };
        assert_eq!(page(3, 50), (50, 100));
        assert_eq!(page(0, 0), (1, 0));
        assert_eq!(page(2, MAX_PER_PAGE), (200, 200));
        assert_eq!(page(2, MAX_PER_PAGE + 1), (200, 200));
        assert_eq!(page(1, u32::MAX), (200, 0));
    }

    #[test]
    fn a_delivery_log_read_is_held_to_one_through_the_api_page_limit() {
        assert_eq!(list_limit(100), 100);
        assert_eq!(list_limit(0), 1);
        assert_eq!(list_limit(-5), 1);
        assert_eq!(list_limit(500), 200);
        assert_eq!(list_limit(i64::MAX), 200);
    }
}

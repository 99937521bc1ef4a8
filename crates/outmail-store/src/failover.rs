//! Sticky failover state, shared by every replica: which profiles send through their
//! alternate, since when and why, and the history of failovers and resets.

use crate::{Store, StoreError, in_write_tx, new_id, with_pool};

/// Adds a history entry inside the transaction `$tx` (a macro: the statement is compiled once
/// per backend, as `in_write_tx!` binds a different transaction type for each).
macro_rules! record_event {
    ($tx:ident, $profile:expr, $kind:expr, $alternate:expr, $reason:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO failover_events (id, profile_id, kind, alternate_id, reason, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new_id())
        .bind($profile)
        .bind($kind)
        .bind($alternate)
        .bind($reason)
        .bind($at)
        .execute(&mut *$tx)
        .await?
    };
}

/// A profile that sends through its alternate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FailoverRow {
    pub profile_id: String,
    pub alternate_id: String,
    pub since: i64,
    pub reason: String,
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FailoverEvent {
    pub id: String,
    pub profile_id: String,
    /// `failed_over` or `reset`.
    pub kind: String,
    pub alternate_id: Option<String>,
    pub reason: String,
    pub at: i64,
}

impl Store {
    pub async fn failover(&self, profile_id: &str) -> Result<Option<FailoverRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, FailoverRow>(
                "SELECT profile_id, alternate_id, since, reason FROM failovers \
                 WHERE profile_id = $1",
            )
            .bind(profile_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Every profile sending through its alternate now, oldest failover first.
    pub async fn active_failovers(&self) -> Result<Vec<FailoverRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, FailoverRow>(
                "SELECT profile_id, alternate_id, since, reason FROM failovers \
                 ORDER BY since, profile_id",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Moves `profile_id` to `alternate_id`; returns whether this call did it (another worker
    /// or replica may have been first; the history gets one entry either way).
    pub async fn fail_over(
        &self,
        profile_id: &str,
        alternate_id: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let moved = in_write_tx!(self, tx => {
            let inserted = sqlx::query(
                "INSERT INTO failovers (profile_id, alternate_id, since, reason) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (profile_id) DO NOTHING",
            )
            .bind(profile_id)
            .bind(alternate_id)
            .bind(now)
            .bind(reason)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                record_event!(tx, profile_id, "failed_over", Some(alternate_id), reason, now);
            }
            inserted == 1
        });
        Ok(moved)
    }

    /// Sends `profile_id` through itself again; returns whether it was failed over.
    pub async fn reset_failover(&self, profile_id: &str, reason: &str) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let reset = in_write_tx!(self, tx => {
            let deleted = sqlx::query("DELETE FROM failovers WHERE profile_id = $1")
                .bind(profile_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 1 {
                record_event!(tx, profile_id, "reset", None::<&str>, reason, now);
            }
            deleted == 1
        });
        Ok(reset)
    }

    /// The latest `limit` failovers and resets of `profile_id`, newest first.
    pub async fn failover_events(
        &self,
        profile_id: &str,
        limit: i64,
    ) -> Result<Vec<FailoverEvent>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, FailoverEvent>(
                "SELECT id, profile_id, kind, alternate_id, reason, at FROM failover_events \
                 WHERE profile_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
            )
            .bind(profile_id)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }
}

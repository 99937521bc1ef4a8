//! Routing rules: CRUD with optimistic versions, listed by priority.

use crate::records::{RoutingRuleRow, RoutingRuleWrite};
use crate::{
    Store, StoreError, ensure_profiles_exist, in_settings_tx, in_write_tx, missing_or_stale,
    new_id, with_pool,
};

macro_rules! rule_columns {
    () => {
        "id, priority, document, version, created_at, updated_at"
    };
}

/// Inserts routing rule `$id` (version 1) inside the transaction `$tx` and evaluates to its
/// row. Shared by a create and an import.
macro_rules! insert_rule {
    ($tx:ident, $id:expr, $rule:expr, $now:expr) => {
        sqlx::query_as::<_, $crate::records::RoutingRuleRow>(
            "INSERT INTO routing_rules (id, priority, document, version, created_at, \
             updated_at) VALUES ($1, $2, $3, 1, $4, $4) \
             RETURNING id, priority, document, version, created_at, updated_at",
        )
        .bind($id)
        .bind($rule.priority)
        .bind(&$rule.document)
        .bind($now)
        .fetch_one(&mut *$tx)
        .await?
    };
}
pub(crate) use insert_rule;

impl Store {
    /// Every routing rule, lowest priority first (ties by id, so the order is stable).
    pub async fn list_routing_rules(&self) -> Result<Vec<RoutingRuleRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, RoutingRuleRow>(concat!(
                "SELECT ",
                rule_columns!(),
                " FROM routing_rules ORDER BY priority, id"
            ))
            .fetch_all(pool)
            .await?)
        })
    }

    pub async fn get_routing_rule(&self, id: &str) -> Result<RoutingRuleRow, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, RoutingRuleRow>(concat!(
                "SELECT ",
                rule_columns!(),
                " FROM routing_rules WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)
        })
    }

    /// Creates a routing rule (version 1) under a fresh id.
    pub async fn create_routing_rule(
        &self,
        rule: &RoutingRuleWrite,
    ) -> Result<RoutingRuleRow, StoreError> {
        let id = new_id();
        let now = self.now_ms();
        let row = in_settings_tx!(self, tx => {
            ensure_profiles_exist!(tx, &rule.refers_to);
            insert_rule!(tx, &id, rule, now)
        });
        Ok(row)
    }

    pub async fn update_routing_rule(
        &self,
        id: &str,
        expected_version: i64,
        rule: &RoutingRuleWrite,
    ) -> Result<RoutingRuleRow, StoreError> {
        let now = self.now_ms();
        let row = in_settings_tx!(self, tx => {
            ensure_profiles_exist!(tx, &rule.refers_to);
            let updated = sqlx::query_as::<_, RoutingRuleRow>(concat!(
                "UPDATE routing_rules SET priority = $3, document = $4, version = version + 1, \
                 updated_at = $5 WHERE id = $1 AND version = $2 RETURNING ",
                rule_columns!()
            ))
            .bind(id)
            .bind(expected_version)
            .bind(rule.priority)
            .bind(&rule.document)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = updated else {
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM routing_rules WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(missing_or_stale(current));
            };
            row
        });
        Ok(row)
    }

    pub async fn delete_routing_rule(
        &self,
        id: &str,
        expected_version: i64,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            let deleted = sqlx::query("DELETE FROM routing_rules WHERE id = $1 AND version = $2")
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM routing_rules WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(missing_or_stale(current));
            }
        });
        Ok(())
    }
}

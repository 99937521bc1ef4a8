//! Tenants, keyed by slug: CRUD with optimistic versions.

use crate::records::{TenantRow, TenantWrite};
use crate::{
    Store, StoreError, ensure_profiles_exist, in_settings_tx, in_write_tx, missing_or_stale,
    with_pool,
};

macro_rules! tenant_columns {
    () => {
        "id, name, document, version, created_at, updated_at"
    };
}

/// Inserts tenant `$id` (version 1) inside the transaction `$tx` and evaluates to its row; a
/// taken slug is `Conflict { field: "id" }`. Shared by a create and an import.
macro_rules! insert_tenant {
    ($tx:ident, $id:expr, $tenant:expr, $now:expr) => {
        sqlx::query_as::<_, $crate::records::TenantRow>(
            "INSERT INTO tenants (id, name, document, version, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $4) \
             RETURNING id, name, document, version, created_at, updated_at",
        )
        .bind($id)
        .bind(&$tenant.name)
        .bind(&$tenant.document)
        .bind($now)
        .fetch_one(&mut *$tx)
        .await
        .map_err($crate::error::constraint("id", "tenant"))?
    };
}
pub(crate) use insert_tenant;

impl Store {
    /// Every tenant, ordered by slug.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, TenantRow>(concat!(
                "SELECT ",
                tenant_columns!(),
                " FROM tenants ORDER BY id"
            ))
            .fetch_all(pool)
            .await?)
        })
    }

    pub async fn get_tenant(&self, id: &str) -> Result<TenantRow, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, TenantRow>(concat!(
                "SELECT ",
                tenant_columns!(),
                " FROM tenants WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)
        })
    }

    /// Creates a tenant (version 1) under the slug `id`; a taken slug is
    /// `Conflict { field: "id" }`.
    pub async fn create_tenant(
        &self,
        id: &str,
        tenant: &TenantWrite,
    ) -> Result<TenantRow, StoreError> {
        let now = self.now_ms();
        let row = in_settings_tx!(self, tx => {
            ensure_profiles_exist!(tx, &tenant.refers_to);
            insert_tenant!(tx, id, tenant, now)
        });
        Ok(row)
    }

    pub async fn update_tenant(
        &self,
        id: &str,
        expected_version: i64,
        tenant: &TenantWrite,
    ) -> Result<TenantRow, StoreError> {
        let now = self.now_ms();
        let row = in_settings_tx!(self, tx => {
            ensure_profiles_exist!(tx, &tenant.refers_to);
            let updated = sqlx::query_as::<_, TenantRow>(concat!(
                "UPDATE tenants SET name = $3, document = $4, version = version + 1, \
                 updated_at = $5 WHERE id = $1 AND version = $2 RETURNING ",
                tenant_columns!()
            ))
            .bind(id)
            .bind(expected_version)
            .bind(&tenant.name)
            .bind(&tenant.document)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = updated else {
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM tenants WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(missing_or_stale(current));
            };
            row
        });
        Ok(row)
    }

    pub async fn delete_tenant(&self, id: &str, expected_version: i64) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            let deleted = sqlx::query("DELETE FROM tenants WHERE id = $1 AND version = $2")
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM tenants WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(missing_or_stale(current));
            }
        });
        Ok(())
    }
}

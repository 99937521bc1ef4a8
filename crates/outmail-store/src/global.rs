//! The global settings: one optional versioned document.

use crate::records::GlobalRow;
use crate::{Store, StoreError, in_write_tx, with_pool};

impl Store {
    /// The global settings; `document: None, version: 0` until they are first saved.
    pub async fn get_global(&self) -> Result<GlobalRow, StoreError> {
        let row: Option<(String, i64, i64)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT document, version, updated_at FROM global_settings WHERE id = 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(match row {
            Some((document, version, updated_at)) => GlobalRow {
                document: Some(document),
                version,
                updated_at: Some(updated_at),
            },
            None => GlobalRow {
                document: None,
                version: 0,
                updated_at: None,
            },
        })
    }

    /// Saves the global settings if `expected_version` is current (0 for "never saved").
    pub async fn put_global(
        &self,
        expected_version: i64,
        document: &str,
    ) -> Result<GlobalRow, StoreError> {
        let now = self.now_ms();
        let written: Option<(String, i64, i64)> = in_write_tx!(self, tx => {
            if expected_version == 0 {
                // DO NOTHING rather than a unique violation: on PostgreSQL a failed statement
                // would poison the transaction before the current version could be read.
                sqlx::query_as(
                    "INSERT INTO global_settings (id, document, version, updated_at) \
                     VALUES (1, $1, 1, $2) ON CONFLICT (id) DO NOTHING \
                     RETURNING document, version, updated_at",
                )
                .bind(document)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
            } else {
                sqlx::query_as(
                    "UPDATE global_settings SET document = $1, version = version + 1, \
                     updated_at = $2 WHERE id = 1 AND version = $3 \
                     RETURNING document, version, updated_at",
                )
                .bind(document)
                .bind(now)
                .bind(expected_version)
                .fetch_optional(&mut *tx)
                .await?
            }
        });
        match written {
            Some((document, version, updated_at)) => Ok(GlobalRow {
                document: Some(document),
                version,
                updated_at: Some(updated_at),
            }),
            None => Err(StoreError::VersionMismatch {
                current: self.get_global().await?.version,
            }),
        }
    }
}

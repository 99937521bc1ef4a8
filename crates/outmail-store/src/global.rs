//! The global settings: one optional versioned document.

use crate::records::GlobalRow;
use crate::{Store, StoreError, ensure_profiles_exist, in_settings_tx, with_pool};

/// Writes the global settings inside the transaction `$tx` if `$expected` is the current
/// version (0: never saved), evaluating to the new `(document, version, updated_at)` or `None`
/// when the version moved on. Shared by a save and an import.
macro_rules! write_global {
    ($tx:ident, $expected:expr, $document:expr, $now:expr) => {
        if $expected == 0 {
            // DO NOTHING rather than a unique violation: on PostgreSQL a failed statement
            // would poison the transaction before the current version could be read.
            sqlx::query_as::<_, (String, i64, i64)>(
                "INSERT INTO global_settings (id, document, version, updated_at) \
                 VALUES (1, $1, 1, $2) ON CONFLICT (id) DO NOTHING \
                 RETURNING document, version, updated_at",
            )
            .bind($document)
            .bind($now)
            .fetch_optional(&mut *$tx)
            .await?
        } else {
            sqlx::query_as::<_, (String, i64, i64)>(
                "UPDATE global_settings SET document = $1, version = version + 1, \
                 updated_at = $2 WHERE id = 1 AND version = $3 \
                 RETURNING document, version, updated_at",
            )
            .bind($document)
            .bind($now)
            .bind($expected)
            .fetch_optional(&mut *$tx)
            .await?
        }
    };
}
pub(crate) use write_global;

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

    /// Saves the global settings if `expected_version` is current (0 for "never saved");
    /// `refers_to` lists the profiles the document names (the default profile), each of which
    /// must exist.
    pub async fn put_global(
        &self,
        expected_version: i64,
        document: &str,
        refers_to: &[String],
    ) -> Result<GlobalRow, StoreError> {
        let now = self.now_ms();
        let written: Option<(String, i64, i64)> = in_settings_tx!(self, tx => {
            ensure_profiles_exist!(tx, refers_to);
            write_global!(tx, expected_version, document, now)
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

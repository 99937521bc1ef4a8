//! Profiles and their sealed secrets: CRUD with optimistic versions, secret status, opening, and
//! key rotation.

use crate::error::constraint;
use crate::records::{
    ProfileQuery, ProfileRow, ProfileWrite, Rotation, RowPage, SecretChange, SecretWrite,
    StoredSecret,
};
use crate::seal::{SealError, SecretContext, sealed_key_version};
use crate::{
    Plaintext, Store, StoreError, ensure_profiles_exist, in_settings_tx, in_write_tx,
    missing_or_stale, new_id, with_pool,
};

/// The profile columns in `ProfileRow` order, as a literal so `concat!` can build whole queries.
macro_rules! profile_columns {
    () => {
        "id, name, name_key, transport, target, document, version, created_at, updated_at"
    };
}

/// Inserts profile `$id` (version 1) inside the transaction `$tx` and evaluates to its row; a
/// taken name is `Conflict { field: "name" }`. Shared by a create and an import.
macro_rules! insert_profile {
    ($tx:ident, $id:expr, $profile:expr, $now:expr) => {
        sqlx::query_as::<_, $crate::records::ProfileRow>(
            "INSERT INTO profiles (id, name, name_key, transport, target, document, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING \
             id, name, name_key, transport, target, document, version, created_at, updated_at",
        )
        .bind($id)
        .bind(&$profile.name)
        .bind(&$profile.name_key)
        .bind(&$profile.transport)
        .bind(&$profile.target)
        .bind(&$profile.document)
        .bind($now)
        .fetch_one(&mut *$tx)
        .await
        .map_err($crate::error::constraint("name", "profile"))?
    };
}
pub(crate) use insert_profile;

/// The filter shared by the count and the page query: `$1` a LIKE pattern, `$2` a transport.
macro_rules! profile_filter {
    () => {
        r" WHERE ($1 IS NULL OR name_key LIKE $1 ESCAPE '\') AND ($2 IS NULL OR transport = $2)"
    };
}

/// A secret change with its secret already sealed, so nothing slow or fallible-by-crypto runs
/// inside the transaction.
enum PreparedChange {
    Set {
        slot: String,
        sealed: Vec<u8>,
        destination: String,
    },
    Clear {
        slot: String,
    },
    Keep {
        slot: String,
        destination: String,
    },
}

/// A LIKE pattern matching `needle` anywhere, with LIKE's own wildcards taken literally.
fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Every settings document that can name a profile, as a delete's reference check reads them.
#[derive(Debug, Clone, Default)]
pub struct SettingsDocuments {
    /// `None` until the global settings are first saved.
    pub global: Option<String>,
    pub tenants: Vec<StoredDocument>,
    pub routing_rules: Vec<StoredDocument>,
    /// Every other profile (an alternate names a profile).
    pub profiles: Vec<StoredDocument>,
}

/// One stored document and its record's ID.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredDocument {
    pub id: String,
    pub document: String,
}

impl Store {
    /// Profiles matching the query, ordered by name, one page of them, plus how many match.
    pub async fn list_profiles(
        &self,
        query: &ProfileQuery,
    ) -> Result<RowPage<ProfileRow>, StoreError> {
        let pattern = query.name_contains.as_deref().map(contains_pattern);
        let (limit, offset) = query.limit_offset();
        with_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar(concat!(
                "SELECT COUNT(*) FROM profiles",
                profile_filter!()
            ))
            .bind(&pattern)
            .bind(&query.transport)
            .fetch_one(pool)
            .await?;
            let items = sqlx::query_as::<_, ProfileRow>(concat!(
                "SELECT ",
                profile_columns!(),
                " FROM profiles",
                profile_filter!(),
                " ORDER BY name_key, id LIMIT $3 OFFSET $4"
            ))
            .bind(&pattern)
            .bind(&query.transport)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            Ok(RowPage { items, total })
        })
    }

    /// Every profile, ordered by name (for export).
    pub async fn all_profiles(&self) -> Result<Vec<ProfileRow>, StoreError> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as::<_, ProfileRow>(concat!(
                "SELECT ",
                profile_columns!(),
                " FROM profiles ORDER BY name_key, id"
            ))
            .fetch_all(pool)
            .await?)
        })
    }

    pub async fn get_profile(&self, id: &str) -> Result<ProfileRow, StoreError> {
        with_pool!(self, pool => {
            sqlx::query_as::<_, ProfileRow>(concat!(
                "SELECT ",
                profile_columns!(),
                " FROM profiles WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound)
        })
    }

    /// Creates a profile (version 1) with its secrets, in one transaction.
    pub async fn create_profile(
        &self,
        profile: &ProfileWrite,
        secrets: Vec<SecretWrite>,
    ) -> Result<ProfileRow, StoreError> {
        let id = new_id();
        let now = self.now_ms();
        let keys = self.inner.keys.read().await;
        let sealed = secrets
            .into_iter()
            .map(|secret| {
                let context = SecretContext {
                    profile_id: &id,
                    slot: &secret.slot,
                    destination: &secret.destination,
                };
                let blob = keys.seal(&context, &secret.plaintext)?;
                Ok((secret.slot, blob, secret.destination))
            })
            .collect::<Result<Vec<_>, SealError>>()?;

        let row = in_settings_tx!(self, tx => {
            ensure_profiles_exist!(tx, &profile.refers_to);
            let row = insert_profile!(tx, &id, profile, now);
            for (slot, blob, destination) in &sealed {
                sqlx::query(
                    "INSERT INTO profile_secrets (profile_id, slot, sealed, destination) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&id)
                .bind(slot)
                .bind(blob)
                .bind(destination)
                .execute(&mut *tx)
                .await
                .map_err(constraint("secret slot", "profile"))?;
            }
            row
        });
        drop(keys);
        Ok(row)
    }

    /// Replaces a profile's fields and applies `secret_changes`, if `expected_version` is still
    /// the current one; the version goes up by one.
    pub async fn update_profile(
        &self,
        id: &str,
        expected_version: i64,
        profile: &ProfileWrite,
        secret_changes: Vec<SecretChange>,
    ) -> Result<ProfileRow, StoreError> {
        let now = self.now_ms();
        let keys = self.inner.keys.read().await;
        let changes = secret_changes
            .into_iter()
            .map(|change| {
                Ok(match change {
                    SecretChange::Set(secret) => {
                        let context = SecretContext {
                            profile_id: id,
                            slot: &secret.slot,
                            destination: &secret.destination,
                        };
                        let sealed = keys.seal(&context, &secret.plaintext)?;
                        PreparedChange::Set {
                            slot: secret.slot,
                            sealed,
                            destination: secret.destination,
                        }
                    }
                    SecretChange::Clear { slot } => PreparedChange::Clear { slot },
                    SecretChange::Keep { slot, destination } => {
                        PreparedChange::Keep { slot, destination }
                    }
                })
            })
            .collect::<Result<Vec<_>, SealError>>()?;

        let row = in_settings_tx!(self, tx => {
            ensure_profiles_exist!(tx, &profile.refers_to);
            // The version check and the write are one statement, so two writers holding the same
            // version cannot both match: the second finds the bumped version and no row.
            let updated = sqlx::query_as::<_, ProfileRow>(concat!(
                "UPDATE profiles SET name = $3, name_key = $4, transport = $5, target = $6, \
                 document = $7, version = version + 1, updated_at = $8 \
                 WHERE id = $1 AND version = $2 RETURNING ",
                profile_columns!()
            ))
            .bind(id)
            .bind(expected_version)
            .bind(&profile.name)
            .bind(&profile.name_key)
            .bind(&profile.transport)
            .bind(&profile.target)
            .bind(&profile.document)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(constraint("name", "profile"))?;
            let Some(row) = updated else {
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM profiles WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(missing_or_stale(current));
            };
            for change in &changes {
                match change {
                    PreparedChange::Set {
                        slot,
                        sealed,
                        destination,
                    } => {
                        sqlx::query(
                            "INSERT INTO profile_secrets (profile_id, slot, sealed, destination) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (profile_id, slot) DO UPDATE \
                             SET sealed = excluded.sealed, destination = excluded.destination",
                        )
                        .bind(id)
                        .bind(slot)
                        .bind(sealed)
                        .bind(destination)
                        .execute(&mut *tx)
                        .await?;
                    }
                    PreparedChange::Clear { slot } => {
                        sqlx::query(
                            "DELETE FROM profile_secrets WHERE profile_id = $1 AND slot = $2",
                        )
                        .bind(id)
                        .bind(slot)
                        .execute(&mut *tx)
                        .await?;
                    }
                    PreparedChange::Keep { slot, destination } => {
                        let stored: Option<String> = sqlx::query_scalar(
                            "SELECT destination FROM profile_secrets \
                             WHERE profile_id = $1 AND slot = $2",
                        )
                        .bind(id)
                        .bind(slot)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if stored.is_some_and(|stored| stored != *destination) {
                            return Err(StoreError::SecretDestinationChanged { slot: slot.clone() });
                        }
                    }
                }
            }
            row
        });
        drop(keys);
        Ok(row)
    }

    /// Replaces the secret in `slot` with `plaintext`, only while the stored one was entered
    /// for `destination`; returns whether it did. For a provider's rotated refresh token: the
    /// profile's version stays (nothing an admin edits changed), and a slot cleared or
    /// re-entered for another destination meanwhile is left alone.
    pub async fn replace_secret(
        &self,
        id: &str,
        slot: &str,
        destination: &str,
        plaintext: &Plaintext,
    ) -> Result<bool, StoreError> {
        let context = SecretContext {
            profile_id: id,
            slot,
            destination,
        };
        let sealed = self.inner.keys.read().await.seal(&context, plaintext)?;
        let updated = in_write_tx!(self, tx => {
            sqlx::query(
                "UPDATE profile_secrets SET sealed = $3 \
                 WHERE profile_id = $1 AND slot = $2 AND destination = $4",
            )
            .bind(id)
            .bind(slot)
            .bind(&sealed)
            .bind(destination)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Deletes a profile and (by cascade) its secrets, if `expected_version` is current and
    /// `users_of` finds nothing that still names it. `users_of` reads every settings document
    /// inside the same transaction, under the settings lock, so no reference can be added
    /// between the check and the delete; what it lists comes back as `InUse`.
    pub async fn delete_profile(
        &self,
        id: &str,
        expected_version: i64,
        users_of: impl FnOnce(&SettingsDocuments) -> Result<Vec<String>, String>,
    ) -> Result<(), StoreError> {
        in_settings_tx!(self, tx => {
            let global: Option<String> =
                sqlx::query_scalar("SELECT document FROM global_settings WHERE id = 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let documents = SettingsDocuments {
                global,
                tenants: sqlx::query_as("SELECT id, document FROM tenants ORDER BY id")
                    .fetch_all(&mut *tx)
                    .await?,
                routing_rules: sqlx::query_as(
                    "SELECT id, document FROM routing_rules ORDER BY priority, id",
                )
                .fetch_all(&mut *tx)
                .await?,
                profiles: sqlx::query_as("SELECT id, document FROM profiles WHERE id <> $1 ORDER BY id")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?,
            };
            let users = users_of(&documents).map_err(StoreError::Unreadable)?;
            if !users.is_empty() {
                return Err(StoreError::InUse { users });
            }
            let deleted = sqlx::query("DELETE FROM profiles WHERE id = $1 AND version = $2")
                .bind(id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM profiles WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(missing_or_stale(current));
            }
        });
        Ok(())
    }

    /// Which slots of a profile hold a secret, and for which destination; never the secret.
    pub async fn profile_secrets(&self, id: &str) -> Result<Vec<StoredSecret>, StoreError> {
        with_pool!(self, pool => {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT version FROM profiles WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            Ok(sqlx::query_as::<_, StoredSecret>(
                "SELECT slot, destination FROM profile_secrets WHERE profile_id = $1 ORDER BY slot",
            )
            .bind(id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Decrypts one secret; `None` when the profile has nothing in that slot.
    pub async fn open_secret(&self, id: &str, slot: &str) -> Result<Option<Plaintext>, StoreError> {
        let stored: Option<(Vec<u8>, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT sealed, destination FROM profile_secrets \
                 WHERE profile_id = $1 AND slot = $2",
            )
            .bind(id)
            .bind(slot)
            .fetch_optional(pool)
            .await?
        });
        let Some((sealed, destination)) = stored else {
            return Ok(None);
        };
        let context = SecretContext {
            profile_id: id,
            slot,
            destination: &destination,
        };
        let opened = self.inner.keys.read().await.open(&context, &sealed);
        match opened {
            // `outmail rotate-key` in another process may have added a key since this one
            // started: read the key file again before giving up.
            Err(SealError::UnknownKeyVersion(_)) => {
                let mut keys = self.inner.keys.write().await;
                keys.reload()?;
                Ok(Some(keys.open(&context, &sealed)?))
            }
            other => Ok(Some(other?)),
        }
    }

    /// Adds a new key version and re-seals every stored secret with it in one transaction.
    ///
    /// The new key is written to the key file before the transaction starts, so a crash at any
    /// point leaves every secret sealed with a key the file holds; older keys stay in the file
    /// and may be removed once no secret names them.
    pub async fn rotate_key(&self) -> Result<Rotation, StoreError> {
        let mut keys = self.inner.keys.write().await;
        let new_version = keys.add_key()?;
        let resealed = in_write_tx!(self, tx => {
            let stored: Vec<(String, String, String, Vec<u8>)> = sqlx::query_as(
                "SELECT profile_id, slot, destination, sealed FROM profile_secrets",
            )
            .fetch_all(&mut *tx)
            .await?;
            let mut resealed = 0u64;
            for (profile_id, slot, destination, sealed) in stored {
                if sealed_key_version(&sealed) == Some(new_version) {
                    continue;
                }
                let context = SecretContext {
                    profile_id: &profile_id,
                    slot: &slot,
                    destination: &destination,
                };
                let plaintext = keys.open(&context, &sealed)?;
                let fresh = keys.seal(&context, &plaintext)?;
                // Compare-and-set on the old blob: a secret another process replaced meanwhile is
                // left as that process wrote it rather than overwritten with the stale value.
                let done = sqlx::query(
                    "UPDATE profile_secrets SET sealed = $1 \
                     WHERE profile_id = $2 AND slot = $3 AND sealed = $4",
                )
                .bind(&fresh)
                .bind(&profile_id)
                .bind(&slot)
                .bind(&sealed)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                resealed += done;
            }
            resealed
        });
        Ok(Rotation {
            new_version,
            resealed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn a_name_filter_takes_like_wildcards_literally() {
        assert_eq!(contains_pattern("Relay"), "%relay%");
        assert_eq!(contains_pattern("50%_off\\"), r"%50\%\_off\\%");
    }
}
